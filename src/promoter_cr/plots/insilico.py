"""Figure of the in-silico pair experiments (:mod:`promoter_cr.motifs.insilico`).

``insilico_spacing``: one row per pair (the ``max_pairs`` most cooperative first, by
``cooperative_p`` of the pair table when given, else by the smallest spacing q), one panel per
orientation (``++ +- -+ --``): the mean interaction ``f(AB) - f(A) - f(B) + f(0)`` against the
spacing (start of B - start of A) with its 95 % band over backgrounds, the zero line, the
spacings with ``q < fdr`` marked, and the preferred spacing of each orientation
(:func:`promoter_cr.motifs.insilico.preferred_spacings`) starred. Spacings before and after A
are drawn as separate lines (the overlapping spacings in between are not tested); significant
clashes of the contact zone (touching sites) are crosses, not spacing calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from promoter_cr.motifs.insilico import ORIENTATIONS, preferred_spacings
from promoter_cr.plots.style import ACTIVATING, NEUTRAL, save_figure


def _pair_order(table: pd.DataFrame, pairs: pd.DataFrame | None) -> list[tuple[str, str]]:
    """Pairs in display order: by cooperative p (pair table) else by the smallest spacing q."""
    if pairs is not None and len(pairs):
        order = pairs.sort_values(["cooperative_p", "max_interaction"], ascending=[True, False], kind="stable")
        return list(zip(order["motif_a"], order["motif_b"]))
    best = table.groupby(["motif_a", "motif_b"], sort=False)["q_value"].min().sort_values(kind="stable")
    return list(best.index)


def _panel(ax, rows: pd.DataFrame, pref: pd.DataFrame, fdr: float) -> None:
    """One orientation of one pair: interaction, CI band, significant and preferred spacings."""
    rows = rows.sort_values("spacing")
    for side in (rows[rows["spacing"] < 0], rows[rows["spacing"] > 0]):
        if side.empty:
            continue
        x = side["spacing"].to_numpy()
        ax.fill_between(x, side["ci_low"].to_numpy(), side["ci_high"].to_numpy(), color="0.85", lw=0)
        ax.plot(x, side["interaction"].to_numpy(), color=NEUTRAL, lw=1)
    ax.axhline(0.0, color="0.4", lw=0.6, ls="--")
    contact = rows["contact"].astype(bool) if "contact" in rows else pd.Series(False, index=rows.index)
    sig = rows[(rows["q_value"] < fdr) & ~contact]
    if len(sig):
        ax.scatter(sig["spacing"], sig["interaction"], s=12, color=ACTIVATING, zorder=3, label=f"q < {fdr:g}")
    clash = rows[(rows["q_value"] < fdr) & contact]
    if len(clash):  # touching sites: a clash, drawn apart from the spacing calls
        ax.scatter(clash["spacing"], clash["interaction"], s=16, marker="x", color="k", zorder=3, label="clash")
    for r in pref.itertuples():
        ax.scatter([r.spacing], [r.interaction], marker="*", s=90, color=ACTIVATING, edgecolor="k", lw=0.5, zorder=4)
        ax.annotate(
            f"{int(r.spacing):+d}", (r.spacing, r.interaction), textcoords="offset points", xytext=(4, 4), fontsize=7
        )


def plot_insilico(
    table: pd.DataFrame,
    pairs: pd.DataFrame | None,
    stem: str | Path,
    *,
    fdr: float,
    max_pairs: int,
    formats: Iterable[str],
    dpi: int,
) -> list[Path]:
    """Interaction-vs-spacing figure of the in-silico experiments; returns the written paths.

    ``table``: :data:`promoter_cr.motifs.insilico.INSILICO_COLUMNS` rows; ``pairs``: the pair
    table (:data:`promoter_cr.motifs.insilico.PAIR_COLUMNS`) or ``None``.
    """
    import matplotlib.pyplot as plt

    if table is None or table.empty:
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.text(0.5, 0.5, "no pair tested by insertion", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return save_figure(fig, stem, formats, dpi)
    order = _pair_order(table, pairs)[: max(1, int(max_pairs))]
    pref = preferred_spacings(table, fdr)
    info = {} if pairs is None else {(r.motif_a, r.motif_b): r for r in pairs.itertuples()}
    fig, axes = plt.subplots(len(order), 4, figsize=(13, 2.4 * len(order) + 0.6), squeeze=False, sharex=True)
    for i, (a, b) in enumerate(order):
        rows = table[(table["motif_a"] == a) & (table["motif_b"] == b)]
        lo = float(np.nanmin(rows[["ci_low", "interaction"]].to_numpy()))
        hi = float(np.nanmax(rows[["ci_high", "interaction"]].to_numpy()))
        pad = 0.08 * max(hi - lo, 1e-12)
        name = f"{rows['motif_a_name'].iloc[0]} -> {rows['motif_b_name'].iloc[0]}"
        r = info.get((a, b))
        if r is not None:
            name += f"\ncoop q={r.cooperative_q:.2g}"
            if np.isfinite(r.periodicity_q):
                name += f", period q={r.periodicity_q:.2g}"
        for j, o in enumerate(ORIENTATIONS):
            ax = axes[i, j]
            sub = rows[rows["orientation"] == o]
            p = pref[(pref["motif_a"] == a) & (pref["motif_b"] == b) & (pref["orientation"] == o)]
            _panel(ax, sub, p, fdr)
            ax.set_ylim(min(lo, 0.0) - pad, max(hi, 0.0) + pad)
            if i == 0:
                ax.set_title(f"orientation {o}")
            if j == 0:
                ax.set_ylabel(f"{name}\ninteraction", fontsize=8)
            if i == len(order) - 1:
                ax.set_xlabel("spacing: start B - start A (bp)")
    fig.suptitle(
        "In-silico pair insertion: f(AB) - f(A) - f(B) + f(0), 95% band over backgrounds "
        f"(red: q < {fdr:g}; star: preferred; x: clash of touching sites)",
        fontsize=10,
    )
    fig.tight_layout()
    return save_figure(fig, stem, formats, dpi)
