"""Distance constraints between cooperating motifs: preferred spacings and helical phasing.

For a pair ``(a, b)`` every hit of ``a`` is paired with every hit of ``b`` in the same gene
that lies within ``max_spacing`` (a sweep over hits sorted by gene and start; no loop over
genes and no all-pairs product, so motifs with many hits per gene stay cheap). The **spacing** is ``start_b - start_a``
(signed, bp, forward-strand starts) and the **orientation** the strands of ``a`` then ``b``
(``'++', '+-', '-+', '--'``). Pairs with ``|spacing| > max_spacing`` are dropped, and so are
**overlapping hits** (``-width_b < spacing < width_a``): they are the same site read by two
matrices (or, for ``a == b``, a palindrome matched on both strands or a self-overlapping
repeat), not two cooperating sites. For ``a == b`` each unordered pair of distinct hits
counts once, with ``spacing >= 0``.

*Null.* ``spacing_shuffles`` permutations that move every hit of ``a`` and ``b`` to a
uniformly random start in its own gene (strand and width kept; seeded; the shuffles are
swept together in chunks, each shuffle a separate group). Per spacing and orientation: ``expected`` = mean null count,
``null_lo``/``null_hi`` = 5 % / 95 % of the null counts, and ``p_value`` = the Poisson upper
tail of the observed count with mean ``expected`` (floored at ``0.5 / spacing_shuffles``).
An empirical p-value from a few hundred shuffles cannot fall below ``1 / (S + 1)`` and so
could never survive BH across thousands of spacings; the count at one spacing is a sum of
many rare, nearly independent pairings, which is what the Poisson law describes. q-values:
BH over every spacing x orientation x pair tested.

*Helical periodicity.* For each pair (orientations pooled, distance ``|spacing|`` from the
smallest non-overlapping distance to ``max_spacing``) the residual histogram
``observed - expected`` is projected on periods 10.0-11.0 bp (0.1 bp steps); the statistic
is the largest normalised Fourier power ``|sum r_d e^{-2 pi i d / P}|^2 / sum r_d^2``. Its
null distribution is the same statistic on every shuffle's residual histogram; empirical
p = ``(1 + #null >= observed) / (S + 1)``; BH across pairs.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from promoter_cr.motifs.stats import bh_qvalues, nearby_pairs

log = logging.getLogger(__name__)

ORIENTATIONS = ["++", "+-", "-+", "--"]
SPACING_COLUMNS = [
    "motif_a",
    "motif_b",
    "motif_a_name",
    "motif_b_name",
    "orientation",
    "spacing",
    "observed",
    "expected",
    "null_lo",
    "null_hi",
    "p_value",
    "q_value",
]
PERIODS = np.round(np.arange(10.0, 11.0001, 0.1), 1)


def sweep_spacing_counts(
    gene: np.ndarray,
    start: np.ndarray,
    minus: np.ndarray,
    is_b: np.ndarray,
    wa: int,
    wb: int,
    max_spacing: int,
    same: bool,
    n_groups: int = 1,
    group: np.ndarray | None = None,
) -> np.ndarray:
    """Spacing counts ``(n_groups, 4, 2 max_spacing + 1)`` int32 of the hit pairs within reach.

    Hits (of ``a`` and ``b`` together, ``is_b`` marking ``b``; for ``same`` every hit is both)
    are sorted by (group, gene, start) and each is paired with the next ``k`` hits for
    ``k = 1, 2, ...`` while any pair is still at most ``max_spacing`` apart: the cost grows
    with the hits, not with the product of hits per gene. ``group`` (e.g. the shuffle index)
    keeps independent replicates apart. Overlapping pairs (``-wb < spacing < wa``) are
    dropped; for ``same`` the earlier hit is ``a`` (spacing >= 0).
    """
    width = 2 * max_spacing + 1
    out = np.zeros(n_groups * 4 * width, dtype=np.int64)
    if gene.size == 0:
        return out.reshape(n_groups, 4, width).astype(np.int32)
    grp = np.zeros(gene.size, np.int64) if group is None else np.asarray(group, np.int64)
    order = np.lexsort((start, gene, grp))
    g, s, mi, b, gr = gene[order], start[order], minus[order].astype(np.int64), is_b[order], grp[order]
    for idx, j in nearby_pairs(g, s, max_spacing, group=gr):
        if same:
            sp = s[j] - s[idx]
            orient = 2 * mi[idx] + mi[j]
            use = np.ones(idx.size, bool)
        else:
            ab = ~b[idx] & b[j]  # a first, then b: spacing >= 0
            ba = b[idx] & ~b[j]  # b first, then a: spacing <= 0
            use = ab | ba
            sp = np.where(ab, s[j] - s[idx], s[idx] - s[j])
            orient = np.where(ab, 2 * mi[idx] + mi[j], 2 * mi[j] + mi[idx])
        keep = use & ~((sp > -wb) & (sp < wa))
        key = (gr[idx[keep]] * 4 + orient[keep]) * width + sp[keep] + max_spacing
        out += np.bincount(key, minlength=out.size)
    return out.reshape(n_groups, 4, width).astype(np.int32)


def pair_spacing(
    hits_a: dict[str, np.ndarray],
    hits_b: dict[str, np.ndarray],
    wa: int,
    wb: int,
    length: int,
    *,
    max_spacing: int,
    shuffles: int,
    seed: int,
    same: bool = False,
    chunk_hits: int = 4_000_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Observed and null spacing histograms of one motif pair.

    ``hits_a``/``hits_b`` hold ``gene`` (int), ``start`` (int) and ``minus`` (bool) arrays
    (for ``same`` only ``hits_a`` is used). Returns ``observed (4, 2 max_spacing + 1)`` and
    ``null (shuffles, 4, 2 max_spacing + 1)`` int32 counts (orientation order
    :data:`ORIENTATIONS`, spacing ``-max_spacing..max_spacing``). Each shuffle moves every
    hit to a uniform random start in ``[0, length - width]`` of its own gene; shuffles are
    swept together in chunks of about ``chunk_hits`` hits.
    """
    if same:
        gene = np.asarray(hits_a["gene"], np.int64)
        start = np.asarray(hits_a["start"], np.int64)
        minus = np.asarray(hits_a["minus"], bool)
        is_b = np.zeros(gene.size, bool)
        hi = np.full(gene.size, max(length - wa, 0) + 1)
    else:
        gene = np.concatenate([np.asarray(hits_a["gene"], np.int64), np.asarray(hits_b["gene"], np.int64)])
        start = np.concatenate([np.asarray(hits_a["start"], np.int64), np.asarray(hits_b["start"], np.int64)])
        minus = np.concatenate([np.asarray(hits_a["minus"], bool), np.asarray(hits_b["minus"], bool)])
        is_b = np.concatenate([np.zeros(len(hits_a["gene"]), bool), np.ones(len(hits_b["gene"]), bool)])
        hi = np.where(is_b, max(length - wb, 0) + 1, max(length - wa, 0) + 1)
    observed = sweep_spacing_counts(gene, start, minus, is_b, wa, wb, max_spacing, same)[0]
    width = 2 * max_spacing + 1
    null = np.zeros((shuffles, 4, width), np.int32)
    if gene.size == 0 or shuffles == 0:
        return observed, null
    rng = np.random.default_rng(seed)
    per = max(1, chunk_hits // gene.size)
    for s0 in range(0, shuffles, per):
        s1 = min(shuffles, s0 + per)
        n = s1 - s0
        new_start = np.floor(rng.random((n, gene.size)) * hi[None, :]).astype(np.int64)
        grp = np.repeat(np.arange(n), gene.size)
        null[s0:s1] = sweep_spacing_counts(
            np.tile(gene, n),
            new_start.ravel(),
            np.tile(minus, n),
            np.tile(is_b, n),
            wa,
            wb,
            max_spacing,
            same,
            n_groups=n,
            group=grp,
        )
    return observed, null


def spacing_rows(observed: np.ndarray, null: np.ndarray, max_spacing: int) -> pd.DataFrame:
    """Per orientation x spacing: observed, expected, null_lo, null_hi, p_value (Poisson)."""
    from scipy.stats import poisson

    s = null.shape[0]
    width = 2 * max_spacing + 1
    expected = null.mean(axis=0) if s else np.zeros((4, width))
    lo = np.percentile(null, 5, axis=0) if s else np.zeros((4, width))
    hi = np.percentile(null, 95, axis=0) if s else np.zeros((4, width))
    mu = np.maximum(expected, 0.5 / max(s, 1))
    p = poisson.sf(observed - 1, mu)
    return pd.DataFrame(
        {
            "orientation": np.repeat(ORIENTATIONS, width),
            "spacing": np.tile(np.arange(-max_spacing, max_spacing + 1), 4),
            "observed": observed.ravel(),
            "expected": expected.ravel(),
            "null_lo": lo.ravel(),
            "null_hi": hi.ravel(),
            "p_value": p.ravel(),
        }
    )


def periodicity_stat(hist: np.ndarray, expected: np.ndarray, d_min: int) -> tuple[np.ndarray, np.ndarray]:
    """Largest normalised Fourier power over :data:`PERIODS` of ``hist - expected``.

    ``hist`` is ``(..., D)`` counts by distance ``0..D-1`` (orientations pooled), ``expected``
    ``(D,)``. Returns ``(power, best_period)`` with the leading shape of ``hist``.
    """
    d = np.arange(hist.shape[-1])
    use = d >= d_min
    r = (hist - expected)[..., use].astype(np.float64)
    dd = d[use].astype(np.float64)
    basis = np.exp(-2j * np.pi * dd[None, :] / PERIODS[:, None])  # (P, D')
    amp = r @ basis.T  # (..., P)
    denom = np.maximum((r**2).sum(axis=-1, keepdims=True) * max(dd.size, 1), 1e-12)
    power = np.abs(amp) ** 2 / denom
    k = power.argmax(axis=-1)
    return power.max(axis=-1), PERIODS[k]


def distance_histogram(counts: np.ndarray, max_spacing: int) -> np.ndarray:
    """Fold ``(..., 4, 2m + 1)`` signed counts into ``(..., m + 1)`` counts by ``|spacing|``."""
    pooled = counts.sum(axis=-2)
    m = max_spacing
    out = pooled[..., m:].copy()
    out[..., 1:] += pooled[..., :m][..., ::-1]
    return out


def periodicity_row(observed: np.ndarray, null: np.ndarray, max_spacing: int, d_min: int) -> dict:
    """Helical-periodicity test of one pair: power, best period, null mean, empirical p."""
    h_obs = distance_histogram(observed, max_spacing)
    h_null = distance_histogram(null, max_spacing)
    exp = h_null.mean(axis=0) if len(h_null) else np.zeros_like(h_obs, dtype=float)
    n_pairs = int(h_obs[d_min:].sum())
    if n_pairs == 0 or len(h_null) == 0:
        return {
            "n_pairs": n_pairs,
            "best_period": np.nan,
            "power": np.nan,
            "null_mean_power": np.nan,
            "p_value": np.nan,
        }
    p_obs, per = periodicity_stat(h_obs, exp, d_min)
    p_null, _ = periodicity_stat(h_null, exp, d_min)
    p = (1 + int((p_null >= p_obs).sum())) / (len(p_null) + 1)
    return {
        "n_pairs": n_pairs,
        "best_period": float(per),
        "power": float(p_obs),
        "null_mean_power": float(p_null.mean()),
        "p_value": p,
    }


def spacing_analysis(
    pairs: list[tuple[str, str]],
    hits: dict[str, dict[str, np.ndarray]],
    widths: dict[str, int],
    names: dict[str, str],
    length: int,
    *,
    max_spacing: int,
    shuffles: int,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Spacing and periodicity tables for motif ``pairs``.

    ``hits[motif_id]`` holds ``gene``, ``start``, ``minus`` arrays of that motif's hits.
    Returns ``(spacing, periodicity)`` DataFrames (:data:`SPACING_COLUMNS`; periodicity:
    motif_a, motif_b, names, n_pairs, best_period, power, null_mean_power, p_value, q_value).
    """
    sp_frames, per_rows = [], []
    for k, (a, b) in enumerate(pairs):
        empty = {"gene": np.zeros(0, np.int64), "start": np.zeros(0, np.int64), "minus": np.zeros(0, bool)}
        ha, hb = hits.get(a, empty), hits.get(b, empty)
        same = a == b
        obs, null = pair_spacing(
            ha, hb, widths[a], widths[b], length, max_spacing=max_spacing, shuffles=shuffles, seed=seed + k, same=same
        )
        rows = spacing_rows(obs, null, max_spacing)
        if same:
            rows = rows[rows["spacing"] >= 0]
        rows.insert(0, "motif_b_name", names[b])
        rows.insert(0, "motif_a_name", names[a])
        rows.insert(0, "motif_b", b)
        rows.insert(0, "motif_a", a)
        sp_frames.append(rows)
        d_min = widths[a] if same else min(widths[a], widths[b])
        per = periodicity_row(obs, null, max_spacing, d_min)
        per_rows.append({"motif_a": a, "motif_b": b, "motif_a_name": names[a], "motif_b_name": names[b], **per})
    if sp_frames:
        spacing = pd.concat(sp_frames, ignore_index=True)
        # untestable rows (nothing observed, nothing expected) stay in the table with p = 1
        spacing["q_value"] = bh_qvalues(spacing["p_value"].to_numpy())
    else:
        spacing = pd.DataFrame(columns=SPACING_COLUMNS)
    periodicity = pd.DataFrame(
        per_rows,
        columns=[
            "motif_a",
            "motif_b",
            "motif_a_name",
            "motif_b_name",
            "n_pairs",
            "best_period",
            "power",
            "null_mean_power",
            "p_value",
        ],
    )
    periodicity["q_value"] = bh_qvalues(periodicity["p_value"].to_numpy(dtype=float)) if len(periodicity) else []
    return spacing[SPACING_COLUMNS], periodicity


def preferred_spacings(spacing: pd.DataFrame, fdr: float) -> pd.DataFrame:
    """Per pair and orientation, the significant spacing with the smallest q (ties: largest observed)."""
    sig = spacing[(spacing["q_value"] < fdr) & (spacing["observed"] > spacing["expected"])]
    if sig.empty:
        return sig.assign(fold=[])
    sig = sig.assign(fold=sig["observed"] / np.maximum(sig["expected"], 1e-9))
    sig = sig.sort_values(["q_value", "observed"], ascending=[True, False], kind="stable")
    return sig.groupby(["motif_a", "motif_b", "orientation"], sort=False).head(1).reset_index(drop=True)
