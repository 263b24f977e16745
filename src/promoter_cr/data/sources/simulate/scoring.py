"""FIMO-compatible motif scoring (memelite's log-odds, pseudocount and 0.1-bit score bins against
a uniform background) and sampling of motif sites from a matrix, for the simulators."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from promoter_cr.errors import ConfigError
from promoter_cr.seq.motifs import Motif

# FIMO scoring as in memelite.fimo
_FIMO_EPS = 1e-4
_FIMO_BIN = 0.1


def log_odds(pwm: np.ndarray) -> np.ndarray:
    """FIMO log-odds of a ``(4, w)`` probability matrix against a uniform background, as memelite: ``(4, w)``."""
    return np.log2(pwm + _FIMO_EPS) - math.log2(0.25)


def score_threshold(pwm: np.ndarray, p_value: float) -> float:
    """Smallest score whose p-value (uniform background, memelite's 0.1-bit bins) is below ``p_value``.

    Returns ``inf`` when no score reaches it.
    """
    lo = np.round(log_odds(pwm) / _FIMO_BIN).astype(np.int64)  # (4, w)
    offset = int(lo.min(axis=0).sum())
    dist = np.array([1.0])
    for col in lo.T:
        c = col - col.min()
        kernel = np.zeros(int(c.max()) + 1)
        np.add.at(kernel, c, 0.25)
        dist = np.convolve(dist, kernel)
    sf = np.cumsum(dist[::-1])[::-1]  # P(score >= bin)
    ok = np.flatnonzero(sf < p_value)
    if len(ok) == 0:
        return float("inf")
    return float((ok[0] + offset) * _FIMO_BIN)


def scan_scores(codes: np.ndarray, pwm: np.ndarray) -> np.ndarray:
    """FIMO scores of every window of ``codes`` ``(N, L)`` uint8 under ``pwm`` ``(4, w)``.

    Returns ``(N, L - w + 1)`` float64; window ``i`` covers ``codes[:, i:i + w]``; N bases score 0.
    For the reverse strand pass the reverse-complement matrix (the window start is unchanged).
    """
    lo = log_odds(pwm)
    w = lo.shape[1]
    table = np.vstack([lo, np.zeros((1, w))])  # (5, w)
    n_win = codes.shape[1] - w + 1
    out = np.zeros((codes.shape[0], n_win))
    for j in range(w):
        out += table[codes[:, j : j + n_win], j]
    return out


def site_scores(sites: np.ndarray, pwm: np.ndarray) -> np.ndarray:
    """FIMO scores of ``(n, w)`` site codes in motif orientation: ``(n,)``."""
    lo = log_odds(pwm)
    return lo[sites, np.arange(sites.shape[1])[None, :]].sum(1)


class SitePool:
    """Sites of one motif sampled from its sharpened matrix, redrawn until FIMO p < ``site_p``."""

    def __init__(
        self,
        motif: Motif,
        sharpen: float,
        site_p: float | None,
        rng: np.random.Generator,
        avoid: Sequence[tuple[np.ndarray, float]] = (),
    ):
        self.motif = motif
        # (matrix, score threshold) of other planted motifs a site must not contain (either strand)
        self.avoid = [(pwm, thr) for pwm, thr in avoid if pwm.shape[1] <= motif.width]
        probs = motif.pwm**sharpen
        self.cum = np.cumsum(probs / probs.sum(axis=0, keepdims=True), axis=0).T  # (w, 4)
        self.threshold = -np.inf if site_p is None else score_threshold(motif.pwm, site_p) + 1e-9
        best = float(log_odds(motif.pwm).max(axis=0).sum())
        if best < self.threshold:
            raise ConfigError(
                f"invalid config: dataset.simulate.site_p: motif "
                f"{motif.motif_id} ({motif.name}) cannot reach p < {site_p}"
            )
        self.rng = rng
        self._buf: list[np.ndarray] = []

    def _refill(self, batch: int = 256) -> None:
        for _ in range(1000):
            u = self.rng.random((batch, len(self.cum)))
            sites = (u[:, :, None] > self.cum[None]).sum(2).astype(np.uint8)
            np.minimum(sites, 3, out=sites)
            ok = site_scores(sites, self.motif.pwm) >= self.threshold
            for pwm, thr in self.avoid:
                for mat in (pwm, pwm[::-1, ::-1]):
                    ok &= ~(scan_scores(sites, mat) >= thr).any(axis=1)
            keep = sites[ok]
            if len(keep):
                self._buf.extend(keep)
                return
        raise ConfigError(
            f"invalid config: dataset.simulate: sites of {self.motif.motif_id} ({self.motif.name}) almost never reach "
            "site_p; raise sharpen or site_p"
        )

    def draw(self) -> np.ndarray:
        """One site, ``(w,)`` uint8 codes in motif orientation."""
        if not self._buf:
            self._refill()
        return self._buf.pop()
