"""Background DNA of the simulators: a strand-symmetric first-order Markov chain with a chosen
GC fraction and CpG observed/expected ratio (see :func:`markov_chain`), sampled zone by zone
(e.g. a CpG-island-like stretch around the TSS); for the ``hard`` preset, one chain per gene with
its own drawn composition (:func:`gene_backgrounds`) and the per-gene composition it realises
(:func:`gene_composition`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from promoter_cr.errors import ConfigError

_BASE_A, _BASE_C, _BASE_G, _BASE_T = 0, 1, 2, 3


def markov_chain(gc: float, cpg_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Strand-symmetric first-order Markov chain with GC fraction ``gc`` and CpG o/e ``cpg_ratio``.

    Returns
    -------
    pi
        ``(4,)`` float64 stationary composition (ACGT).
    trans
        ``(4, 4)`` float64 transitions ``P(next = y | current = x)``; rows sum to 1 and
        ``pi @ trans == pi``.

    Raises :class:`ConfigError` when no such chain exists (a CpG excess too large for ``gc``).
    """
    pi = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    dinuc = np.outer(pi, pi)
    d = (1.0 - cpg_ratio) * pi[_BASE_C] * pi[_BASE_G]
    dinuc[_BASE_C, _BASE_G] -= d
    dinuc[_BASE_T, _BASE_A] -= d
    dinuc[_BASE_C, _BASE_A] += d
    dinuc[_BASE_T, _BASE_G] += d
    if (dinuc < 0).any():
        raise ConfigError(
            f"invalid config: dataset.simulate: no Markov chain has GC "
            f"fraction {gc} and CpG observed/expected {cpg_ratio}"
        )
    return pi, dinuc / pi[:, None]


def composition(codes: np.ndarray) -> dict[str, float]:
    """GC fraction and CpG observed/expected ratio of ``(N, L)`` or ``(L,)`` uint8 codes (N bases ignored).

    CpG o/e = (CpG count / dinucleotide count) / (C fraction * G fraction).
    """
    codes = np.atleast_2d(np.asarray(codes))
    valid = codes < 4
    n = valid.sum()
    c = (codes == _BASE_C).sum() / n
    g = (codes == _BASE_G).sum() / n
    pairs = valid[:, :-1] & valid[:, 1:]
    cg = ((codes[:, :-1] == _BASE_C) & (codes[:, 1:] == _BASE_G)).sum() / max(int(pairs.sum()), 1)
    return {"gc": float(c + g), "cpg_ratio": float(cg / (c * g)) if c * g > 0 else float("nan")}


def sample_chain(
    n: int, zones: np.ndarray, chains: Sequence[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator
) -> np.ndarray:
    """Sample ``(n, L)`` uint8 codes; position ``j`` uses chain ``zones[j]`` (``(L,)`` int)."""
    L = len(zones)
    cum_pi = [np.cumsum(p) for p, _ in chains]
    cum_t = [np.cumsum(t, axis=1) for _, t in chains]
    u = rng.random((n, L))
    out = np.empty((n, L), dtype=np.uint8)
    out[:, 0] = (u[:, :1] > cum_pi[zones[0]][None, :]).sum(1)
    for j in range(1, L):
        cum = cum_t[zones[j]][out[:, j - 1]]  # (n, 4)
        out[:, j] = (u[:, j : j + 1] > cum).sum(1)
    np.minimum(out, 3, out=out)  # guard against cum[-1] rounding below 1
    return out


def resample_positions(
    codes: np.ndarray, mask: np.ndarray, zones: np.ndarray, chains, rng: np.random.Generator
) -> None:
    """Redraw ``codes[mask]`` in place from the chain, left to right, conditioned on the left neighbour.

    ``codes`` ``(N, L)`` uint8, ``mask`` ``(N, L)`` bool.
    """
    cum_pi = [np.cumsum(p) for p, _ in chains]
    cum_t = [np.cumsum(t, axis=1) for _, t in chains]
    for j in np.flatnonzero(mask.any(axis=0)):
        rows = np.flatnonzero(mask[:, j])
        u = rng.random(len(rows))[:, None]
        if j == 0:
            cum = np.broadcast_to(cum_pi[zones[0]], (len(rows), 4))
        else:
            cum = cum_t[zones[j]][codes[rows, j - 1]]
        codes[rows, j] = np.minimum((u > cum).sum(1), 3)


def min_cpg_ratio(gc: float) -> float:
    """Smallest CpG o/e a :func:`~promoter_cr.data.sources.simulate.background.markov_chain` with GC
    fraction ``gc`` allows: ``1 - ((1 - gc) / gc)^2`` above GC 0.5 (TpA cannot go negative), else 0."""
    return max(0.0, 1.0 - ((1.0 - gc) / gc) ** 2)


def draw_composition(
    n: int, gc: Sequence[float], cpg_ratio: Sequence[float], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene background GC fraction ``U(gc)`` and CpG o/e
    ``U(max(cpg_ratio[0], min_cpg_ratio(gc_i)), cpg_ratio[1])``: two ``(n,)`` float64."""
    g = rng.uniform(float(gc[0]), float(gc[1]), n)
    lo = np.maximum(float(cpg_ratio[0]), [min_cpg_ratio(x) + 1e-9 for x in g])
    r = lo + rng.random(n) * np.maximum(float(cpg_ratio[1]) - lo, 0.0)
    return g, r


def sample_gene_chains(pi: np.ndarray, trans: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """Sample one sequence per gene from its own first-order Markov chain.

    ``pi`` ``(N, 4)`` start distributions, ``trans`` ``(N, 4, 4)`` transitions
    (:func:`~promoter_cr.data.sources.simulate.background.markov_chain` of each gene).
    Returns ``(N, length)`` uint8 codes. Written here rather than reusing
    :func:`sample_chain` because that shares one chain across all rows; this one
    gathers each row's own transition row per position, vectorised over genes.
    """
    n = pi.shape[0]
    cum_pi = np.cumsum(pi, axis=1)
    cum_t = np.cumsum(trans, axis=2)
    rows = np.arange(n)
    out = np.empty((n, length), dtype=np.uint8)
    out[:, 0] = (rng.random(n)[:, None] > cum_pi).sum(1)
    np.minimum(out[:, 0], 3, out=out[:, 0])
    for j in range(1, length):
        cum = cum_t[rows, out[:, j - 1]]  # (n, 4)
        out[:, j] = np.minimum((rng.random(n)[:, None] > cum).sum(1), 3)
    return out


def gene_composition(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene GC fraction and CpG observed/expected of ``(N, L)`` uint8 codes: two ``(N,)`` float64.

    The definitions of :func:`~promoter_cr.data.sources.simulate.background.composition`
    (which pools all rows), row by row; N bases ignored; CpG o/e NaN when C or G is absent.
    """
    codes = np.atleast_2d(np.asarray(codes))
    valid = codes < 4
    n = np.maximum(valid.sum(1), 1)
    c = (codes == 1).sum(1) / n
    g = (codes == 2).sum(1) / n
    pairs = np.maximum((valid[:, :-1] & valid[:, 1:]).sum(1), 1)
    cg = ((codes[:, :-1] == 1) & (codes[:, 1:] == 2)).sum(1) / pairs
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(c * g > 0, cg / (c * g), np.nan)
    return c + g, ratio


def gene_backgrounds(
    comp: dict[str, Any], n: int, length: int, rng_comp: np.random.Generator, rng_bg: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Markov-chain background per gene: ``(codes, bg_gc, bg_cpg)``.

    ``codes`` ``(n, length)`` uint8; ``bg_gc`` / ``bg_cpg`` ``(n,)`` float64, the drawn GC fraction and
    CpG o/e of each gene's chain (``rng_comp``); the sequences are sampled from ``rng_bg``.
    """
    bg_gc, bg_cpg = draw_composition(n, comp["gc"], comp["cpg_ratio"], rng_comp)
    chains = [markov_chain(float(g), float(r)) for g, r in zip(bg_gc, bg_cpg, strict=True)]
    codes = sample_gene_chains(np.stack([c[0] for c in chains]), np.stack([c[1] for c in chains]), length, rng_bg)
    return codes, bg_gc, bg_cpg
