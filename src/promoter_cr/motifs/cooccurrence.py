"""Motif co-occurrence network and its communities.

*Nodes: one representative per motif family.* JASPAR holds many near-identical matrices
(SP/KLF, ETS, AP-1, ...); they match the same sites and would "co-occur" trivially. Motifs
are ordered (conditional activity calls in any cluster by smallest q, then marginal calls,
then the rest by smallest activity p; motifs with hits in fewer than
``cooccurrence_min_genes`` genes dropped) and collapsed greedily: a motif whose Tomtom p
against an already chosen representative is below ``grammar.tomtom_threshold`` (Tomtom run
against the whole motif set as background, JASPAR CORE vertebrates added
when the set has fewer than 50 matrices) becomes a *member* of that family. At most
``cooccurrence_max_motifs`` (default 100) representatives form the network; this keeps the
test count tractable with 879 motifs and makes nodes interpretable.

*Co-occurrence, two modes.*

* ``cooccurrence_max_distance = d`` (default 100 bp): the count is the number of
  **non-overlapping hit pairs whose starts are at most d apart**, found by a sweep over hits
  sorted by gene and start (no loop over genes). Expected count:
  ``E_ab = (sum_g n_ag n_bg) * f_a^T K f_b`` (:func:`expected_close_pairs`) - hits placed
  independently, each motif keeping its own promoter-wide position profile ``f``; one
  sparse product for the same-gene pair counts. One-sided Poisson test; ``odds_ratio`` holds
  the rate ratio ``observed / expected``.
* ``cooccurrence_max_distance = null``: the unit is the whole promoter; ``P`` is the sparse
  ``(genes, M)`` presence matrix, ``C = P^T P`` the genes with both (one sparse product),
  one-sided hypergeometric test against the margins, Haldane-corrected odds ratio.

We default to 100 bp because cooperating factors act within about a nucleosome's length, and
promoter-wide co-occurrence in 10.5 kb windows mostly mirrors GC content and gene classes.
BH over the tested pairs (pairs observed fewer than ``cooccurrence_min_genes`` times are
not tested). An edge is *significant* when ``q < fdr`` and ``observed > expected``.

*Communities.* Louvain (networkx ``louvain_communities``, seeded) on the significant edges,
weight ``log(observed / expected)``. Representatives without a significant edge get
community ``-1``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from promoter_cr.motifs.stats import bh_qvalues, nearby_pairs

log = logging.getLogger(__name__)

COOC_COLUMNS = [
    "motif_a",
    "motif_b",
    "motif_a_name",
    "motif_b_name",
    "n_a",
    "n_b",
    "observed",
    "expected",
    "odds_ratio",
    "p_value",
    "q_value",
    "significant",
]


def motif_priority(activity: pd.DataFrame) -> list[str]:
    """Motif ids ordered for the network: conditional calls (any cluster, by min q), then
    marginal calls, then the rest by smallest activity p-value; untested motifs dropped."""
    if activity.empty:
        return []
    a = activity.copy()
    a["called"] = a["effect"].isin(["activating", "repressive"])
    marg = a["marginal_effect"] if "marginal_effect" in a.columns else a["effect"]
    a["marginal"] = marg.isin(["activating", "repressive"])
    agg = a.groupby("motif_id", sort=False).agg(
        called=("called", "max"), marginal=("marginal", "max"), min_q=("q_value", "min"), min_p=("p_value", "min")
    )
    agg = agg[np.isfinite(agg["min_p"].to_numpy(dtype=float))]
    agg = agg.sort_values(["called", "marginal", "min_q", "min_p"], ascending=[False, False, True, True], kind="stable")
    return list(agg.index)


def select_representatives(
    priority: Sequence[str], similar: np.ndarray, max_motifs: int
) -> tuple[list[int], dict[int, int]]:
    """Greedy Tomtom-family collapse.

    ``priority`` is in order; ``similar`` ``(P, P)`` bool over the same order. A motif joins
    the network unless it is similar to an already chosen representative, in which case it is
    recorded as a member of that representative's family. Returns (chosen positions,
    ``{member position: representative position}``), at most ``max_motifs`` chosen.
    """
    chosen: list[int] = []
    member_of: dict[int, int] = {}
    for i in range(len(priority)):
        reps = [c for c in chosen if similar[i, c]]
        if reps:
            member_of[i] = reps[0]
            continue
        if len(chosen) < max_motifs:
            chosen.append(i)
    return chosen, member_of


def presence_matrix(unit: np.ndarray, motif: np.ndarray, n_units: int, n_motifs: int, binary: bool = True):
    """Sparse ``(n_units, n_motifs)`` int32 CSR matrix: 0/1 presence (or hit counts)."""
    from scipy import sparse

    key = np.asarray(unit, np.int64) * n_motifs + np.asarray(motif, np.int64)
    if binary:
        key = np.unique(key)
        data = np.ones(key.size, dtype=np.int32)
    else:
        key, data = np.unique(key, return_counts=True)
        data = data.astype(np.int32)
    rows, cols = key // n_motifs, key % n_motifs
    return sparse.csr_matrix((data, (rows, cols)), shape=(n_units, n_motifs))


def close_pairs(
    gene: np.ndarray, start: np.ndarray, end: np.ndarray, motif: np.ndarray, n_motifs: int, max_distance: int
) -> np.ndarray:
    """``(M, M)`` int64 counts of non-overlapping hit pairs with starts at most ``max_distance`` apart.

    A sweep over hits sorted by (gene, start) pairs each hit with the next ``k`` hits for
    ``k = 1, 2, ...`` while any pair is still within the distance (vectorised per ``k``; no
    loop over genes). Overlapping hits (``start_j < end_i``) are the same site, not a pair.
    The matrix is symmetric with a zero diagonal.
    """
    order = np.lexsort((start, gene))
    g, s, e, m = gene[order], start[order], end[order], motif[order]
    counts = np.zeros(n_motifs * n_motifs, dtype=np.int64)
    for idx, j in nearby_pairs(g, s, max_distance):
        pair = (s[j] >= e[idx]) & (m[j] != m[idx])
        counts += np.bincount(m[idx[pair]] * n_motifs + m[j[pair]], minlength=n_motifs * n_motifs)
    c = counts.reshape(n_motifs, n_motifs)
    return c + c.T


def _distance_kernel(n_bins: int, bin_size: int, wa: int, wb: int, max_distance: int) -> np.ndarray:
    """``(n_bins, n_bins)`` fraction of start pairs (a in bin i, b in bin j) that form a close,
    non-overlapping pair: ``-max_distance <= s_b - s_a <= -wb`` or ``wa <= s_b - s_a <= max_distance``."""
    t = np.arange(-(bin_size - 1), bin_size)
    weight = (bin_size - np.abs(t)).astype(np.float64) / bin_size**2
    offs = np.arange(-(n_bins - 1), n_bins)
    delta = offs[:, None] * bin_size + t[None, :]
    ok = (np.abs(delta) <= max_distance) & ((delta >= wa) | (delta <= -wb))
    val = (ok * weight[None, :]).sum(axis=1)  # by bin offset j - i
    ii, jj = np.meshgrid(np.arange(n_bins), np.arange(n_bins), indexing="ij")
    return val[(jj - ii) + n_bins - 1]


def expected_close_pairs(
    gene: np.ndarray,
    start: np.ndarray,
    motif: np.ndarray,
    widths: np.ndarray,
    n_genes: int,
    length: int,
    max_distance: int,
    position_bin: int = 10,
) -> np.ndarray:
    """``(M, M)`` expected close-pair counts if hits were independent given each motif's
    promoter-wide position profile and its per-gene hit counts.

    ``E_ab = (sum_g n_ag n_bg) * f_a^T K_ab f_b``: ``n`` the ``(genes, M)`` hit counts (one
    sparse product), ``f`` the position histograms of the hit starts (``position_bin`` bp bins) and
    ``K_ab`` the fraction of position pairs of two bins that are close and non-overlapping.
    Keeping each motif's own positional preference (e.g. TSS-proximal) in the null means an
    edge reports co-localisation beyond what the two motifs' positions imply.
    """
    m = widths.size
    cnt = presence_matrix(gene, motif, n_genes, m, binary=False)
    same_gene = (cnt.T @ cnt).toarray().astype(np.float64)
    n_bins = length // position_bin + 1
    f = np.zeros((n_bins, m))
    np.add.at(f, (np.asarray(start, np.int64) // position_bin, motif), 1.0)
    f /= np.maximum(f.sum(axis=0, keepdims=True), 1.0)
    prob = np.zeros((m, m))
    for wa in np.unique(widths):
        ia = np.flatnonzero(widths == wa)
        for wb in np.unique(widths):
            ib = np.flatnonzero(widths == wb)
            k = _distance_kernel(n_bins, position_bin, int(wa), int(wb), max_distance)
            prob[np.ix_(ia, ib)] = f[:, ia].T @ k @ f[:, ib]
    exp = same_gene * prob
    np.fill_diagonal(exp, 0.0)
    return exp


def cooccurrence_test(
    observed: np.ndarray,
    expected: np.ndarray,
    margins: np.ndarray,
    motif_ids: Sequence[str],
    motif_names: Sequence[str],
    n_units: int | None = None,
    *,
    min_count: int,
    fdr: float,
) -> pd.DataFrame:
    """Test every motif pair of ``(M, M)`` observed vs expected counts.

    With ``n_units`` (gene-level presence): one-sided hypergeometric test of the genes with
    both motifs given the margins (genes with each motif), Haldane-corrected odds ratio.
    Without (close pairs): one-sided Poisson test of the close-pair count with mean
    ``expected``; ``odds_ratio`` is then the rate ratio ``observed / expected``. Pairs with
    ``observed < min_count`` are not tested. BH over the tested pairs.
    """
    from scipy.stats import hypergeom, poisson

    m = len(motif_ids)
    if m < 2:
        return pd.DataFrame(columns=COOC_COLUMNS)
    ia, ib = np.triu_indices(m, k=1)
    obs = np.asarray(observed)[ia, ib].astype(np.int64)
    exp = np.asarray(expected, dtype=np.float64)[ia, ib]
    na, nb = np.asarray(margins)[ia], np.asarray(margins)[ib]
    tested = obs >= min_count
    p = np.full(obs.shape, np.nan)
    if n_units is not None:
        p[tested] = hypergeom.sf(obs[tested] - 1, n_units, na[tested], nb[tested])
        b_, c_, d_ = na - obs, nb - obs, n_units - na - nb + obs
        ratio = ((obs + 0.5) * (d_ + 0.5)) / ((b_ + 0.5) * (c_ + 0.5))
    else:
        p[tested] = poisson.sf(obs[tested] - 1, np.maximum(exp[tested], 1e-12))
        ratio = obs / np.maximum(exp, 1e-12)
    q = bh_qvalues(p)
    ids = np.asarray(motif_ids, dtype=object)
    names = np.asarray(motif_names, dtype=object)
    table = pd.DataFrame(
        {
            "motif_a": ids[ia],
            "motif_b": ids[ib],
            "motif_a_name": names[ia],
            "motif_b_name": names[ib],
            "n_a": na,
            "n_b": nb,
            "observed": obs,
            "expected": exp,
            "odds_ratio": ratio,
            "p_value": p,
            "q_value": q,
        }
    )
    table["significant"] = (np.nan_to_num(q, nan=1.0) < fdr) & (obs > exp)
    return table.sort_values(
        ["significant", "odds_ratio", "q_value"], ascending=[False, False, True], na_position="last", kind="stable"
    ).reset_index(drop=True)


MIN_TOMTOM_TARGETS = 50


def tomtom_background(motifs: Sequence) -> list:
    """Targets for Tomtom: ``motifs``, plus JASPAR 2024 CORE vertebrates when fewer than
    :data:`MIN_TOMTOM_TARGETS` (Tomtom's null comes from the target columns, and MEME's tomtom
    warns below 50 targets). Falls back to ``motifs`` alone if JASPAR cannot be loaded."""
    motifs = list(motifs)
    if len(motifs) >= MIN_TOMTOM_TARGETS:
        return motifs
    try:
        from promoter_cr.motifs.database import default_collection

        have = {m.motif_id for m in motifs}
        return motifs + [m for m in default_collection() if m.motif_id not in have]
    except Exception as exc:  # pragma: no cover - pyjaspar ships its databases
        log.warning("Tomtom background limited to %d motifs (JASPAR unavailable: %s)", len(motifs), exc)
        return motifs


def tomtom_against(
    queries: Sequence, columns: Sequence, background: Sequence, keys: Sequence[int] = (0,)
) -> list[np.ndarray]:
    """Tomtom of ``queries`` against the background motif set, kept at the ``columns`` motifs.

    Tomtom's background is built from its targets, so the targets are the whole motif set
    (:func:`tomtom_background` of ``background``, with any of ``columns`` added when absent).
    Returns, for each index in ``keys`` of memelite's output (0 p-values, 2 offsets,
    4 strands), a ``(Q, C)`` array.
    """
    import warnings

    import memelite

    targets = tomtom_background(background)
    pos = {t.motif_id: i for i, t in enumerate(targets)}
    for mo in columns:
        if mo.motif_id not in pos:
            pos[mo.motif_id] = len(targets)
            targets.append(mo)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = memelite.tomtom([q.pwm for q in queries], [t.pwm for t in targets])
    cols = np.array([pos[mo.motif_id] for mo in columns])
    return [np.asarray(res[k])[:, cols] for k in keys]


def tomtom_similarity(motifs_sel: Sequence, motifs_all: Sequence, threshold: float) -> np.ndarray:
    """``(M, M)`` bool: Tomtom p < ``threshold`` between motifs (either direction; diagonal True).

    Every motif is compared with the whole motif set (``motifs_all``) as Tomtom's background.
    """
    if len(motifs_sel) == 0:
        return np.zeros((0, 0), bool)
    (pp,) = tomtom_against(motifs_sel, motifs_sel, motifs_all)
    sim = (pp < threshold) | (pp.T < threshold)
    np.fill_diagonal(sim, True)
    return sim


def communities(
    cooc: pd.DataFrame,
    motif_ids: Sequence[str],
    motif_names: Sequence[str],
    *,
    seed: int,
    members: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Louvain communities on significant edges: motif_id, motif_name, community, degree,
    family_members (``;``-joined ids merged into each representative, if given).

    Motifs without a significant edge get community ``-1``; communities are numbered by
    decreasing size from 0.
    """
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(motif_ids)
    sig = cooc[cooc["significant"]] if len(cooc) else cooc
    for a, b, o, e in zip(
        sig.get("motif_a", []), sig.get("motif_b", []), sig.get("observed", []), sig.get("expected", [])
    ):
        g.add_edge(a, b, weight=float(np.log(max(o, 1e-9) / max(e, 1e-9))))
    comm = {mid: -1 for mid in motif_ids}
    connected = g.subgraph([n for n in g.nodes if g.degree(n) > 0])
    if connected.number_of_edges() > 0:
        parts = nx.community.louvain_communities(connected, weight="weight", seed=seed)
        parts = sorted(parts, key=lambda s: (-len(s), sorted(s)[0]))
        for i, part in enumerate(parts):
            for mid in part:
                comm[mid] = i
    return pd.DataFrame(
        {
            "motif_id": list(motif_ids),
            "motif_name": list(motif_names),
            "community": [comm[m] for m in motif_ids],
            "degree": [int(g.degree(m)) for m in motif_ids],
            "family_members": list(members) if members is not None else [""] * len(motif_ids),
        }
    )
