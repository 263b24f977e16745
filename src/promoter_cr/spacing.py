"""Distance constraints between cooperating motifs: preferred spacings and helical phasing.

For a pair ``(a, b)`` every hit of ``a`` is paired with every hit of ``b`` in the same gene
(a merge on the gene row; no loop over genes). The **spacing** is ``start_b - start_a``
(signed, bp, forward-strand starts) and the **orientation** the strands of ``a`` then ``b``
(``'++', '+-', '-+', '--'``). Pairs with ``|spacing| > max_spacing`` are dropped, and so are
**overlapping hits** (``-width_b < spacing < width_a``): they are the same site read by two
matrices (or, for ``a == b``, a palindrome matched on both strands or a self-overlapping
repeat), not two cooperating sites. For ``a == b`` each unordered pair of distinct hits
counts once, with ``spacing >= 0``.

*Null.* ``spacing_shuffles`` permutations that move every hit of ``a`` and ``b`` to a
uniformly random start in its own gene (strand and width kept; seeded; vectorised over
shuffles in chunks). Per spacing and orientation: ``expected`` = mean null count,
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

from .stats import bh_qvalues

log = logging.getLogger(__name__)

ORIENTATIONS = ["++", "+-", "-+", "--"]
SPACING_COLUMNS = [
    "motif_a", "motif_b", "motif_a_name", "motif_b_name", "orientation", "spacing", "observed",
    "expected", "null_lo", "null_hi", "p_value", "q_value",
]
PERIODS = np.round(np.arange(10.0, 11.0001, 0.1), 1)


def pair_indices(gene_a: np.ndarray, gene_b: np.ndarray, same: bool) -> tuple[np.ndarray, np.ndarray]:
    """All ``(i, j)`` with ``gene_a[i] == gene_b[j]`` (int64 arrays); ``i < j`` when ``same``."""
    a = pd.DataFrame({"g": np.asarray(gene_a, np.int64), "i": np.arange(len(gene_a))})
    b = pd.DataFrame({"g": np.asarray(gene_b, np.int64), "j": np.arange(len(gene_b))})
    m = a.merge(b, on="g", how="inner")
    i, j = m["i"].to_numpy(np.int64), m["j"].to_numpy(np.int64)
    if same:
        keep = i < j
        i, j = i[keep], j[keep]
    return i, j


def _spacing_counts(
    sa: np.ndarray, sb: np.ndarray, orient: np.ndarray, wa: int, wb: int, max_spacing: int, same: bool
) -> np.ndarray:
    """Counts ``(..., 4, 2 max_spacing + 1)`` of spacings ``sb - sa`` per orientation.

    ``sa``/``sb`` are ``(..., P)`` starts of the paired hits, ``orient`` ``(P,)`` codes 0-3.
    For ``same`` pairs the spacing is taken as ``|sb - sa|`` with the orientation of the
    earlier hit first.
    """
    sp = sb - sa
    orient = np.broadcast_to(orient, sp.shape)
    if same:
        # swap so that the earlier hit is "a": orientation bits swap too
        neg = sp < 0
        sp = np.abs(sp)
        o_sw = ((orient & 1) << 1) | (orient >> 1)
        orient = np.where(neg, o_sw, orient)
        wb = wa
    keep = (np.abs(sp) <= max_spacing) & ~((sp > -wb) & (sp < wa))
    width = 2 * max_spacing + 1
    lead = sp.shape[:-1]
    n_lead = int(np.prod(lead)) if lead else 1
    row = np.broadcast_to(np.arange(n_lead).reshape(lead + (1,)) if lead else np.zeros(1, np.int64), sp.shape)
    key = (row * 4 + orient) * width + (sp + max_spacing)
    counts = np.bincount(key[keep].ravel(), minlength=n_lead * 4 * width)
    return counts.reshape(lead + (4, width)).astype(np.int32)


def pair_spacing(
    hits_a: dict[str, np.ndarray],
    hits_b: dict[str, np.ndarray],
    wa: int,
    wb: int,
    length: int,
    max_spacing: int = 50,
    shuffles: int = 200,
    seed: int = 0,
    same: bool = False,
    chunk: int = 25,
) -> tuple[np.ndarray, np.ndarray]:
    """Observed and null spacing histograms of one motif pair.

    ``hits_a``/``hits_b`` hold ``gene`` (int), ``start`` (int) and ``minus`` (bool) arrays.
    Returns ``observed (4, 2 max_spacing + 1)`` int32 and ``null (shuffles, 4, 2 max_spacing + 1)``
    int32 (orientation order :data:`ORIENTATIONS`, spacing ``-max_spacing..max_spacing``).
    """
    i, j = pair_indices(hits_a["gene"], hits_b["gene"], same)
    sa = np.asarray(hits_a["start"], np.int64)
    sb = np.asarray(hits_b["start"], np.int64)
    orient = (2 * np.asarray(hits_a["minus"], np.int64)[i] + np.asarray(hits_b["minus"], np.int64)[j]) if i.size else np.zeros(0, np.int64)
    width = 2 * max_spacing + 1
    observed = _spacing_counts(sa[i], sb[j], orient, wa, wb, max_spacing, same) if i.size else np.zeros((4, width), np.int32)
    null = np.zeros((shuffles, 4, width), np.int32)
    if i.size == 0:
        return observed, null
    rng = np.random.default_rng(seed)
    hi_a, hi_b = max(length - wa, 0) + 1, max(length - wb, 0) + 1
    for s0 in range(0, shuffles, chunk):
        s1 = min(shuffles, s0 + chunk)
        na = rng.integers(0, hi_a, size=(s1 - s0, sa.size))
        nb = na if same else rng.integers(0, hi_b, size=(s1 - s0, sb.size))
        null[s0:s1] = _spacing_counts(na[:, i], nb[:, j], orient, wa, wb, max_spacing, same)
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
    return pd.DataFrame({
        "orientation": np.repeat(ORIENTATIONS, width),
        "spacing": np.tile(np.arange(-max_spacing, max_spacing + 1), 4),
        "observed": observed.ravel(), "expected": expected.ravel(),
        "null_lo": lo.ravel(), "null_hi": hi.ravel(), "p_value": p.ravel(),
    })


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
    denom = np.maximum((r ** 2).sum(axis=-1, keepdims=True) * max(dd.size, 1), 1e-12)
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
        return {"n_pairs": n_pairs, "best_period": np.nan, "power": np.nan, "null_mean_power": np.nan, "p_value": np.nan}
    p_obs, per = periodicity_stat(h_obs, exp, d_min)
    p_null, _ = periodicity_stat(h_null, exp, d_min)
    p = (1 + int((p_null >= p_obs).sum())) / (len(p_null) + 1)
    return {"n_pairs": n_pairs, "best_period": float(per), "power": float(p_obs),
            "null_mean_power": float(p_null.mean()), "p_value": p}


def spacing_analysis(
    pairs: list[tuple[str, str]],
    hits: dict[str, dict[str, np.ndarray]],
    widths: dict[str, int],
    names: dict[str, str],
    length: int,
    max_spacing: int = 50,
    shuffles: int = 200,
    seed: int = 0,
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
        obs, null = pair_spacing(ha, hb, widths[a], widths[b], length, max_spacing, shuffles, seed=seed + k, same=same)
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
    periodicity = pd.DataFrame(per_rows, columns=["motif_a", "motif_b", "motif_a_name", "motif_b_name", "n_pairs", "best_period", "power", "null_mean_power", "p_value"])
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
