"""Null windows of motif hits: the same gene, nearby, and matched for composition.

A hit's contribution (the weighted features summed under it) is compared with the contribution
of ``n_null`` *null windows* of the same width that keep what is not under test:

* the **gene** (its expression level, its cluster, the model's gene-wide bias),
* the **position** (within ``max_shift`` bp of the hit: CR tracks carry positional trends, e.g.
  promoter-proximal regions that are broadly positive),
* the **local composition** (the same number of G/C and of CpG as the hit, as far as the
  neighbourhood allows: CR tracks also follow GC and CpG, so a GC-rich motif must not look
  active just for being GC-rich).

Among the non-overlapping windows within ``max_shift`` bp, the ``n_null`` closest in composition
(``|dGC| + 2 |dCpG|``, ties broken at random with the seed) are taken; their mean contribution,
*bias-corrected* for the composition difference that matching could not remove, is the hit's
``null_contribution`` (:func:`matched_null_contributions`).

*Bias correction* (Abadie and Imbens' bias-corrected matching). A motif's sites are selected
for their composition (a GC-rich matrix matches the most GC-rich windows), so their nearby
matches are on average a little less extreme (measured: about -0.3 G/C per 10 bp window for
sites with >= 8 G/C). On a track that follows G/C that residual alone gives a significant
"activity". The remaining difference is removed with the slopes of the track on composition:
``null += b_gc (GC_hit - GC_null) + b_cpg (CpG_hit - CpG_null)``, with ``b`` the within-gene
least-squares slopes of the per-base track on "base is G/C" and "base is the C of a CpG"
(:func:`composition_slopes`, estimated on every base of the batch of genes, so one motif's sites
are a negligible part of it).

Everything is vectorised over hits (one ``(H, 2 max_shift + 1)`` distance matrix per chunk of
hits), so the cost grows with the number of hits, not with the promoter length.
"""

from __future__ import annotations

import numpy as np

from promoter_cr.chunks import iter_chunks

#: weight of a CpG-count difference against a GC-count difference in the composition distance
CPG_WEIGHT = 2.0
#: hits per chunk of the vectorised search
CHUNK_HITS = 20_000


def composition_cumsums(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(B, L + 1)`` int32 cumulative G/C counts and CpG counts (a CpG counted at its C) of ``(B, L)`` codes."""
    codes = np.asarray(codes)
    gc = (codes == 1) | (codes == 2)
    cpg = np.zeros(codes.shape, dtype=bool)
    cpg[:, :-1] = (codes[:, :-1] == 1) & (codes[:, 1:] == 2)
    b, length = codes.shape
    gc_cs = np.zeros((b, length + 1), dtype=np.int32)
    cpg_cs = np.zeros((b, length + 1), dtype=np.int32)
    np.cumsum(gc, axis=1, out=gc_cs[:, 1:])
    np.cumsum(cpg, axis=1, out=cpg_cs[:, 1:])
    return gc_cs, cpg_cs


def matched_null_starts(
    gc_cs: np.ndarray,
    cpg_cs: np.ndarray,
    gene: np.ndarray,
    start: np.ndarray,
    width: np.ndarray,
    *,
    max_shift: int,
    n_null: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Starts ``(H, n_null)`` int64 of each hit's composition-matched null windows.

    Parameters
    ----------
    gc_cs, cpg_cs
        ``(B, L + 1)`` cumulative counts of the genes (:func:`composition_cumsums`).
    gene, start, width
        ``(H,)`` int: row in ``gc_cs`` of each hit's gene, its forward-strand start and width.

    Candidates are the starts within ``max_shift`` bp whose window does not overlap the hit and
    lies inside the promoter; a hit with fewer than ``n_null`` candidates repeats the best ones;
    one without any candidate (a window barely longer than the motif) gets uniform starts.
    """
    gene = np.asarray(gene, dtype=np.int64)
    start = np.asarray(start, dtype=np.int64)
    width = np.asarray(width, dtype=np.int64)
    length = gc_cs.shape[1] - 1
    offsets = np.arange(-max_shift, max_shift + 1, dtype=np.int64)
    out = np.empty((gene.size, n_null), dtype=np.int64)
    for sl in iter_chunks(gene.size, CHUNK_HITS):
        g, s, w = gene[sl], start[sl], width[sl]
        cand = s[:, None] + offsets[None, :]  # (h, C)
        hi = (length - w)[:, None]
        valid = (cand >= 0) & (cand <= hi) & (np.abs(offsets)[None, :] >= w[:, None])
        cc = np.clip(cand, 0, np.maximum(hi, 0))
        gc_hit = gc_cs[g, s + w] - gc_cs[g, s]
        cpg_hit = cpg_cs[g, np.minimum(s + w - 1, length)] - cpg_cs[g, s]  # CpGs fully inside the hit
        gc_c = gc_cs[g[:, None], cc + w[:, None]] - gc_cs[g[:, None], cc]
        cpg_c = cpg_cs[g[:, None], np.minimum(cc + w[:, None] - 1, length)] - cpg_cs[g[:, None], cc]
        dist = np.abs(gc_c - gc_hit[:, None]) + CPG_WEIGHT * np.abs(cpg_c - cpg_hit[:, None])
        dist = dist + rng.random(dist.shape) * 0.5  # random tie-breaks below one count
        dist[~valid] = np.inf
        k = min(n_null, dist.shape[1])
        best = np.argpartition(dist, k - 1, axis=1)[:, :k] if k < dist.shape[1] else np.argsort(dist, axis=1)[:, :k]
        chosen = np.take_along_axis(cc, best, axis=1)
        ok = np.isfinite(np.take_along_axis(dist, best, axis=1))
        n_ok = ok.sum(1)
        # fewer valid candidates than n_null: repeat the valid ones; none at all: uniform starts
        for r in np.flatnonzero(n_ok < k):
            good = chosen[r, ok[r]]
            if good.size:
                chosen[r] = good[np.arange(k) % good.size]
            else:
                chosen[r] = np.floor(rng.random(k) * (max(length - w[r], 0) + 1)).astype(np.int64)
        if k < n_null:
            chosen = chosen[:, np.arange(n_null) % k]
        out[sl] = chosen
    return out


def null_window_means(cs: np.ndarray, gene: np.ndarray, starts: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Mean track sum over each hit's null windows: ``cs`` ``(B, L + 1)`` float64 cumulative track,
    ``starts`` ``(H, K)`` -> ``(H,)`` float64."""
    g = np.asarray(gene, dtype=np.int64)[:, None]
    ends = starts + np.asarray(width, dtype=np.int64)[:, None]
    return (cs[g, ends] - cs[g, starts]).mean(axis=1)


def composition_slopes(track: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``(2,)`` float64 within-gene least-squares slopes of ``(B, L)`` per-base track values on
    "base is G/C" and "base is the C of a CpG" (``(B, L)`` codes); zeros when either indicator
    does not vary (e.g. an all-AT batch)."""
    codes = np.asarray(codes)
    y = np.asarray(track, dtype=np.float64)
    gc = ((codes == 1) | (codes == 2)).astype(np.float64)
    cpg = np.zeros(codes.shape, dtype=np.float64)
    cpg[:, :-1] = (codes[:, :-1] == 1) & (codes[:, 1:] == 2)
    x = np.stack([gc, cpg], axis=-1)
    x = x - x.mean(axis=1, keepdims=True)  # within gene: each gene's own level is not composition
    y = y - y.mean(axis=1, keepdims=True)
    xtx = np.einsum("blk,blj->kj", x, x)
    xty = np.einsum("blk,bl->k", x, y)
    if np.linalg.matrix_rank(xtx) < 2:
        return np.zeros(2)
    return np.linalg.solve(xtx, xty)


def window_counts(
    cs: np.ndarray, gene: np.ndarray, starts: np.ndarray, width: np.ndarray, *, cpg: bool = False
) -> np.ndarray:
    """Counts in windows from a ``(B, L + 1)`` cumulative count: ``starts`` ``(H, ...)`` ->
    ``(H, ...)``; ``cpg`` counts only CpGs whose G is inside the window too."""
    g = np.asarray(gene, dtype=np.int64).reshape((-1,) + (1,) * (np.ndim(starts) - 1))
    w = np.asarray(width, dtype=np.int64).reshape(g.shape)
    end = starts + w - 1 if cpg else starts + w
    return cs[g, np.minimum(end, cs.shape[1] - 1)] - cs[g, starts]


def matched_null_contributions(
    codes: np.ndarray,
    track: np.ndarray,
    gene: np.ndarray,
    start: np.ndarray,
    width: np.ndarray,
    *,
    max_shift: int,
    n_null: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``(H,)`` float64 bias-corrected null contribution of each hit (see the module docstring).

    ``codes`` ``(B, L)`` uint8 and ``track`` ``(B, L)`` float weighted features of a batch of
    genes; ``gene``, ``start``, ``width`` ``(H,)`` the hits (gene: row in the batch).
    """
    gc_cs, cpg_cs = composition_cumsums(codes)
    starts = matched_null_starts(gc_cs, cpg_cs, gene, start, width, max_shift=max_shift, n_null=n_null, rng=rng)
    t = np.asarray(track, dtype=np.float64)
    cs = np.zeros((t.shape[0], t.shape[1] + 1))
    np.cumsum(t, axis=1, out=cs[:, 1:])
    null = null_window_means(cs, gene, starts, width)
    b_gc, b_cpg = composition_slopes(t, codes)
    start = np.asarray(start, dtype=np.int64)
    d_gc = window_counts(gc_cs, gene, start, width) - window_counts(gc_cs, gene, starts, width).mean(axis=1)
    d_cpg = window_counts(cpg_cs, gene, start, width, cpg=True) - window_counts(
        cpg_cs, gene, starts, width, cpg=True
    ).mean(axis=1)
    return null + b_gc * d_gc + b_cpg * d_cpg
