"""QQ plots of p-values: is a test calibrated where nothing is there, and how far from the
diagonal does it go where something is?

Each panel is one family of tests (motif activity, co-occurrence, preferred spacing,
cooperativity, periodicity); each line one set of p-values (one data set, or one run of a
calibration benchmark). Axes: expected ``-log10 p`` under a uniform null against observed; the
grey band is the pointwise 95 % interval of uniform order statistics (Beta(i, n - i + 1)).
On a calibration null the lines stay in the band; on a learned model, departures at the top
right are the discoveries.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from promoter_cr.plots.style import PALETTE, save

#: most points drawn per line (the smallest p-values are always kept)
MAX_POINTS = 2000


def qq_points(p: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(expected, observed, order rank)`` ``-log10`` p of the finite p-values, thinned to at most
    ``max_points`` (log-spaced ranks, so the tail is kept whole). Empty arrays when none is finite."""
    p = np.asarray(p, dtype=np.float64)
    p = np.sort(p[np.isfinite(p)])
    n = p.size
    if n == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64)
    ranks = np.unique(np.round(np.geomspace(1, n, min(n, max_points))).astype(np.int64))
    expected = -np.log10((ranks - 0.5) / n)
    observed = -np.log10(np.maximum(p[ranks - 1], 1e-300))
    return expected, observed, ranks


def null_band(n: int, ranks: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise ``level`` interval of ``-log10`` of the ``ranks``-th of ``n`` uniform order statistics."""
    from scipy.stats import beta

    lo = beta.ppf((1 - level) / 2, ranks, n - ranks + 1)
    hi = beta.ppf(1 - (1 - level) / 2, ranks, n - ranks + 1)
    return -np.log10(hi), -np.log10(lo)


def plot_pvalue_qq(
    panels: Mapping[str, Mapping[str, np.ndarray]], stem: str | Path, fig_cfg: dict, title: str | None = None
) -> list[Path]:
    """One QQ panel per test family: ``panels[family][line label] = (n,) p-values``.

    A family without any finite p-value gets a panel that says so (the figure is always drawn).
    """
    names = list(panels)
    cols = min(3, max(1, len(names)))
    rows = int(np.ceil(max(1, len(names)) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.0 * cols, 3.6 * rows), squeeze=False)
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
    for ax, family in zip(axes.flat, names):
        lines = {k: np.asarray(v, dtype=np.float64) for k, v in panels[family].items()}
        lines = {k: v[np.isfinite(v)] for k, v in lines.items()}
        lines = {k: v for k, v in lines.items() if v.size}
        ax.set_title(family)
        ax.set_xlabel("expected -log10 p")
        ax.set_ylabel("observed -log10 p")
        if not lines:
            ax.text(0.5, 0.5, "no test made", ha="center", va="center", transform=ax.transAxes)
            continue
        n_max = max(v.size for v in lines.values())
        exp_all, _, ranks = qq_points(np.linspace(0, 1, n_max + 2)[1:-1])
        lo, hi = null_band(n_max, ranks)
        ax.fill_between(exp_all, lo, hi, color="0.85", lw=0, label="95% null band")
        ax.plot([0, exp_all.max()], [0, exp_all.max()], color="0.4", lw=0.8)
        for i, (label, p) in enumerate(lines.items()):
            e, o, _ = qq_points(p)
            frac = float((p < 0.05).mean())
            ax.plot(
                e, o, ".", ms=2.5, color=PALETTE[i % len(PALETTE)], label=f"{label} (n={p.size}, {frac:.1%} < 0.05)"
            )
        ax.legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save(fig, stem, fig_cfg)
