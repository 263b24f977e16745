"""Background DNA of the simulators: a strand-symmetric first-order Markov chain with a chosen
GC fraction and CpG observed/expected ratio (see :func:`markov_chain`), sampled zone by zone
(e.g. a CpG-island-like stretch around the TSS)."""

from __future__ import annotations

from collections.abc import Sequence

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
