"""Motif sites from FIMO hits: overlapping hits of one motif in one gene are one site.

FIMO reports a palindromic or self-overlapping matrix on both strands and at shifted offsets
(about half of NRF1's hits overlap another NRF1 hit); counting each of them would count one
binding site several times. Hits of the same motif in the same gene whose intervals overlap are
merged into clusters (single linkage along the promoter) and each cluster keeps its
best-scoring hit: the *site*. Every grammar statistic counts sites, never raw hits.
"""

from __future__ import annotations

import numpy as np


def collapse_overlapping(
    gene: np.ndarray, motif: np.ndarray, start: np.ndarray, end: np.ndarray, score: np.ndarray
) -> np.ndarray:
    """``(H,)`` bool mask of the hits kept as sites (one per overlapping same-motif cluster).

    Parameters are ``(H,)`` arrays: gene row, motif index, forward-strand ``[start, end)`` and
    the FIMO score. Ties in score keep the leftmost hit.
    """
    h = len(gene)
    if h == 0:
        return np.zeros(0, dtype=bool)
    gene = np.asarray(gene, dtype=np.int64)
    motif = np.asarray(motif, dtype=np.int64)
    start = np.asarray(start, dtype=np.int64)
    end = np.asarray(end, dtype=np.int64)
    order = np.lexsort((start, motif, gene))
    g, m, s, e = gene[order], motif[order], start[order], end[order]
    group_change = np.ones(h, dtype=bool)
    group_change[1:] = (g[1:] != g[:-1]) | (m[1:] != m[:-1])
    group = np.cumsum(group_change) - 1
    # running maximum of ends within each (gene, motif) group; groups are offset so they never mix
    span = int(max(e.max(), 1)) + 1
    run_end = np.maximum.accumulate(group * span + e)
    new_cluster = np.ones(h, dtype=bool)
    new_cluster[1:] = group_change[1:] | (group[1:] * span + s[1:] >= run_end[:-1])
    cluster = np.cumsum(new_cluster) - 1
    sc = np.asarray(score, dtype=np.float64)[order]
    best = np.lexsort((np.arange(h), -sc, cluster))  # by cluster, best score first, then leftmost
    first = np.ones(h, dtype=bool)
    first[1:] = cluster[best][1:] != cluster[best][:-1]
    keep = np.zeros(h, dtype=bool)
    keep[order[best[first]]] = True
    return keep


def nearby_pairs(gene: np.ndarray, start: np.ndarray, max_distance: int, group: np.ndarray | None = None):
    """Pairs of hits close together, for hits already sorted by (group, gene, start).

    Yields ``(i, j)`` int arrays with ``j = i + k`` for ``k = 1, 2, ...``: the pairs in the same
    gene (and ``group``) whose starts are at most ``max_distance`` apart. Stops once no pair is
    left, so the cost grows with the number of hits, not with hits-per-gene squared, and there
    is no loop over genes.
    """
    h = gene.size
    idx = np.arange(h)
    k = 1
    while idx.size:
        j = idx + k
        ok = j < h
        idx, j = idx[ok], j[ok]
        ok = (gene[j] == gene[idx]) & (start[j] - start[idx] <= max_distance)
        if group is not None:
            ok &= group[j] == group[idx]
        idx, j = idx[ok], j[ok]
        yield idx, j
        k += 1
