"""Figures of variant effects, drawn from the saturation-mutagenesis table alone.

``saturation``
    One gene: the reference window's CR weighted features per position (bars; red activating, blue
    repressive) with the mean mutant effect ``-mean(delta)`` over the three alternative bases (line;
    the ISM analogue of a weighted feature), above a heat map of ``delta`` (alternative base x
    position, diverging colours centred at 0, symmetric range), the reference base of each column
    marked. The layout of saturation-MPRA figures, so the two can be set side by side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from promoter_cr.errors import InputDataError
from promoter_cr.plots.style import ACTIVATING, NEUTRAL, REPRESSIVE, plt, save_figure

_BASES = "ACGT"
#: up to this many positions the reference bases label the x axis
_LETTER_TICKS = 80


def saturation_matrix(table: pd.DataFrame, gene_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(positions (P,), delta (4, P) with NaN at the reference base, ref bases (P,), ref weighted feature (P,))`` of
    one gene."""
    sub = table[table["gene_id"].astype(str) == str(gene_id)]
    if sub.empty:
        raise InputDataError(None, "gene has no rows in the saturation table", record=f"gene {gene_id}")
    positions = np.sort(sub["position"].unique())
    col = np.searchsorted(positions, sub["position"].to_numpy())
    row = np.array([_BASES.index(b) for b in sub["alt"]])
    delta = np.full((4, len(positions)), np.nan)
    delta[row, col] = sub["delta"].to_numpy(dtype=float)
    first = sub.drop_duplicates("position").set_index("position").loc[positions]
    return positions, delta, first["ref"].to_numpy(dtype=object), first["ref_contribution"].to_numpy(dtype=float)


def plot_saturation(
    table: pd.DataFrame, gene_id: str, stem: str | Path, fig_cfg: dict, title: str | None = None
) -> list[Path]:
    """Saturation-mutagenesis figure of ``gene_id`` (see the module docstring); returns the files written."""
    positions, delta, ref, wf = saturation_matrix(table, gene_id)
    n = len(positions)
    width = float(np.clip(2.5 + n * 0.06, 6, 18))
    fig, (ax_t, ax_h) = plt.subplots(
        2, 1, figsize=(width, 4.2), sharex=True, gridspec_kw={"height_ratios": [1.2, 1], "hspace": 0.08}
    )
    x = np.arange(n)
    if np.isfinite(wf).any():
        ax_t.bar(
            x,
            np.nan_to_num(wf),
            width=1.0,
            color=np.where(wf >= 0, ACTIVATING, REPRESSIVE),
            lw=0,
            label="weighted feature (reference)",
        )
    ism = -np.nanmean(delta, axis=0)
    ax_t.plot(x, ism, color="black", lw=0.8, label="-mean delta over alternatives")
    ax_t.axhline(0, color=NEUTRAL, lw=0.5)
    ax_t.set_ylabel("contribution")
    ax_t.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=8, ncol=2)
    vmax = float(np.nanmax(np.abs(delta))) if np.isfinite(delta).any() else 1.0
    vmax = vmax if vmax > 0 else 1.0
    im = ax_h.imshow(
        delta,
        aspect="auto",
        cmap="RdBu_r",
        vmin=-vmax,
        vmax=vmax,
        interpolation="nearest",
        extent=(-0.5, n - 0.5, 3.5, -0.5),
    )
    ref_row = np.array([_BASES.index(b) if b in _BASES else -1 for b in ref])
    ok = ref_row >= 0
    ax_h.scatter(x[ok], ref_row[ok], s=min(12.0, 600.0 / max(n, 1)), color=NEUTRAL, marker="o", lw=0)
    ax_h.set_yticks(range(4), list(_BASES))
    ax_h.set_ylabel("alternative base")
    if n <= _LETTER_TICKS:
        ax_h.set_xticks(x, [f"{b}" for b in ref], fontsize=7, family="monospace")
        ax_h.set_xlabel(f"reference base, positions {positions[0]}..{positions[-1]} relative to the TSS")
    else:
        step = max(1, int(round(n / 10 / 10.0)) * 10)
        ticks = x[(positions % step) == 0]
        ax_h.set_xticks(ticks, [str(p) for p in positions[ticks]])
        ax_h.set_xlabel("position relative to the TSS (bp; + downstream)")
    cbar = fig.colorbar(im, ax=[ax_t, ax_h], fraction=0.025, pad=0.01)
    cbar.set_label("delta (alt - ref prediction)")
    fig.suptitle(title or f"Saturation mutagenesis of {gene_id} ({n} positions)", y=1.02)
    return save_figure(fig, stem, fig_cfg["formats"], int(fig_cfg["dpi"]))
