"""Model figures, drawn from result tables only (no model loading).

``plot_models(ds_dir, out_dir, fig_cfg)`` reads ``models/metrics.tsv`` and, for every model in
it, ``predictions.tsv`` and ``history.tsv`` (:class:`promoter_cr.layout.ModelFiles`), and writes:

* ``pred_vs_obs``: predicted vs observed on the test split, one panel per model,
  Pearson r and r^2 annotated;
* ``learning_curves``: train and validation loss per epoch (Lightning models; k-mer ridge:
  validation MSE per alpha), with validation Pearson r on a second axis;
* ``metrics``: grouped bars of Pearson r (valid and test) per model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.layout import DatasetLayout, figure_stem
from promoter_cr.plots.style import NEUTRAL, PALETTE, plt, require, save
from promoter_cr.stats.metrics import signed_r2


def model_names(lay: DatasetLayout) -> list[str]:
    """The models of the run, in the order of ``models/metrics.tsv`` (the config's order)."""
    table = pd.read_csv(require(lay.models.metrics_table), sep="\t")
    return list(dict.fromkeys(table["model"].astype(str)))


def _grid(n: int, max_cols: int = 4) -> tuple[int, int]:
    cols = min(n, max_cols)
    return (n + cols - 1) // cols, cols


def _save_grid(fig: Any, axes: np.ndarray, n: int, out_stem: Path, fig_cfg: dict[str, Any]) -> list[Path]:
    """Blank the panels of ``axes`` past the first ``n``, lay out and save the figure."""
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    return save(fig, out_stem, fig_cfg)


def plot_pred_vs_obs(ds_dir: Path, names: list[str], out_stem: Path, fig_cfg: dict[str, Any]) -> list[Path]:
    rows, cols = _grid(len(names))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        p = pd.read_csv(require(DatasetLayout(ds_dir).models.model(name).predictions), sep="\t")
        split = "test" if (p["split"] == "test").any() else "valid"
        p = p[p["split"] == split]
        obs, pred = p["label"].to_numpy(float), p["prediction"].to_numpy(float)
        ax.scatter(obs, pred, s=6, alpha=0.5, color=PALETTE[0], linewidths=0, rasterized=len(p) > 2000)
        if len(p) > 1:
            lo, hi = np.nanmin([obs.min(), pred.min()]), np.nanmax([obs.max(), pred.max()])
            ax.plot([lo, hi], [lo, hi], color=NEUTRAL, lw=0.8, ls="--")
            r = np.corrcoef(obs, pred)[0, 1] if obs.std() > 0 and pred.std() > 0 else float("nan")
            ax.text(
                0.03,
                0.97,
                f"r = {r:.3f}\nsigned r$^2$ = {signed_r2(r):.3f}\nn = {len(p)}",
                transform=ax.transAxes,
                va="top",
                fontsize=9,
            )
        ax.set_title(f"{name} ({split})")
        ax.set_xlabel("observed")
        ax.set_ylabel("predicted")
    return _save_grid(fig, axes, len(names), out_stem, fig_cfg)


def plot_learning_curves(ds_dir: Path, names: list[str], out_stem: Path, fig_cfg: dict[str, Any]) -> list[Path]:
    rows, cols = _grid(len(names))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        ax.set_title(name)
        h = pd.read_csv(require(DatasetLayout(ds_dir).models.model(name).history), sep="\t")
        if "epoch" in h.columns:
            ax.plot(h["epoch"], h["train_loss"], marker=".", label="train loss", color=PALETTE[0])
            ax.plot(h["epoch"], h["val_loss"], marker=".", label="valid loss", color=PALETTE[1])
            ax.set_xlabel("epoch")
            ax.set_ylabel("MSE")
            if "val_pearson" in h.columns and h["val_pearson"].notna().any():
                ax2 = ax.twinx()
                ax2.plot(h["epoch"], h["val_pearson"], ls=":", color=PALETTE[2], label="valid r")
                ax2.set_ylabel("valid Pearson r", color=PALETTE[2])
                ax2.spines["right"].set_visible(True)
            ax.legend(fontsize=8, loc="upper right")
        elif "alpha" in h.columns:
            ax.plot(h["alpha"], h["cv_loss"], marker="o", color=PALETTE[1])
            ax.set_xscale("log")
            ax.set_xlabel("ridge alpha")
            ax.set_ylabel("leave-one-out MSE (train)")
    return _save_grid(fig, axes, len(names), out_stem, fig_cfg)


def plot_metrics_bars(table: pd.DataFrame, names: list[str], out_stem: Path, fig_cfg: dict[str, Any]) -> list[Path]:
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(names), 3.2))
    splits = [s for s in ("valid", "test") if s in set(table["split"])]
    width = 0.8 / max(1, len(splits))
    x = np.arange(len(names))
    for j, split in enumerate(splits):
        sub = table[table["split"] == split].set_index("model")
        vals = [float(sub.loc[n, "pearson_r"]) if n in sub.index else np.nan for n in names]
        bars = ax.bar(x + (j - (len(splits) - 1) / 2) * width, vals, width, label=split, color=PALETTE[j])
        for b, v in zip(bars, vals):
            if np.isfinite(v):
                ax.text(b.get_x() + b.get_width() / 2, v, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, names, rotation=20, ha="right")
    ax.set_ylabel("Pearson r")
    ax.axhline(0, color=NEUTRAL, lw=0.8)
    ax.legend()
    fig.tight_layout()
    return save(fig, out_stem, fig_cfg)


def plot_models(ds_dir: Path, out_dir: Path, fig_cfg: dict[str, Any]) -> list[Path]:
    """Draw the model figures of ``ds_dir`` into ``out_dir``; returns the written paths.

    Reads ``models/metrics.tsv`` and each listed model's ``predictions.tsv`` and ``history.tsv``
    (an :class:`~promoter_cr.errors.InputDataError` names any that is missing).
    """
    lay, out_dir = DatasetLayout(ds_dir), Path(out_dir)
    names = model_names(lay)
    table = pd.read_csv(lay.models.metrics_table, sep="\t")
    paths = plot_pred_vs_obs(ds_dir, names, figure_stem(out_dir, "pred_vs_obs"), fig_cfg)
    paths += plot_learning_curves(ds_dir, names, figure_stem(out_dir, "learning_curves"), fig_cfg)
    paths += plot_metrics_bars(table, names, figure_stem(out_dir, "metrics"), fig_cfg)
    return paths
