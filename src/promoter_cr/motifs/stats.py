"""Small statistics helpers shared by the grammar modules."""

from __future__ import annotations

import numpy as np


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values of ``(n,)`` p-values; NaN entries (untested) stay NaN.

    The number of tests is the number of finite p-values; the adjustment itself is scipy's
    ``stats.false_discovery_control(method="bh")``, which refuses NaN, hence this wrapper.
    """
    from scipy.stats import false_discovery_control

    p = np.asarray(p, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = false_discovery_control(np.clip(p[ok], 0.0, 1.0), method="bh")
    return q


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
