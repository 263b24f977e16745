"""Simulated data only: one panel summarising how well the pipeline recovered the planted grammar.

Reads ``motifs/recovery.tsv`` (metric, value rows per category), ``clusters/summary.json``
(adjusted Rand index against the planted classes) and ``attributions/planted_mass.tsv``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from promoter_cr.layout import DatasetLayout, figure_stem
from promoter_cr.plots.style import ACTIVATING, NEUTRAL, PALETTE, REPRESSIVE, plt, require, save


def plot_recovery(ds_dir: str | Path, out_dir: str | Path, fig_cfg: dict) -> list[Path]:
    """Draw ``recovery_panel``: recovery metrics, cluster ARI and planted-site contribution mass."""
    lay, out_dir = DatasetLayout(ds_dir), Path(out_dir)
    rec = pd.read_csv(require(lay.motifs.recovery), sep="\t")
    summary = json.loads(require(lay.clusters.summary).read_text())
    planted = pd.read_csv(require(lay.attributions.planted_mass), sep="\t")

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), gridspec_kw={"width_ratios": [2.2, 0.8, 1.4]})
    ax = axes[0]
    value_cols = [c for c in ("precision", "recall") if c in rec.columns]
    label_col = "category" if "category" in rec.columns else rec.columns[0]
    if value_cols:  # counts-only rows (edges between motifs planted together) have no bar
        rec = rec[rec[value_cols].apply(pd.to_numeric, errors="coerce").notna().any(axis=1)].reset_index(drop=True)
    if value_cols:
        idx = np.arange(len(rec))
        width = 0.8 / len(value_cols)
        for j, col in enumerate(value_cols):
            vals = pd.to_numeric(rec[col], errors="coerce").to_numpy(dtype=float)
            ax.bar(idx + j * width - 0.4 + width / 2, np.nan_to_num(vals), width, label=col, color=PALETTE[j])
            for i, v in enumerate(vals):
                ax.text(
                    idx[i] + j * width - 0.4 + width / 2,
                    (0 if np.isnan(v) else v) + 0.02,
                    "n/a" if np.isnan(v) else f"{v:.2f}",
                    ha="center",
                    fontsize=7,
                )
        ax.set_xticks(idx, rec[label_col].astype(str), rotation=20, ha="right")
        ax.axhline(0.8, color=NEUTRAL, ls="--", lw=0.8)
        ax.set_ylim(0, 1.12)
        ax.legend(loc="lower right")
    ax.set_title("Recovery of the planted grammar")

    ax = axes[1]
    ari = summary.get("ari")
    ax.bar([0], [ari if ari is not None else 0], color=PALETTE[2])
    ax.text(0, (ari or 0) + 0.02, "n/a" if ari is None else f"{ari:.2f}", ha="center")
    ax.axhline(0.8, color=NEUTRAL, ls="--", lw=0.8)
    ax.set_xticks([0], [f"k = {summary.get('k')}"])
    ax.set_ylim(0, 1.1)
    ax.set_title("Clusters vs planted\nclasses (ARI)")

    ax = axes[2]
    if planted is not None and len(planted):
        share = planted["site_fraction_of_length"].to_numpy(dtype=float)
        frac = planted["contribution_fraction"].to_numpy(dtype=float)
        ax.scatter(share, frac, s=8, alpha=0.5, color=ACTIVATING, lw=0)
        ax.plot([0, 1], [0, 1], color=REPRESSIVE, lw=0.8, ls="--", label="no enrichment")
        hi = max(float(np.nanmax(share)) * 1.2, 0.05)
        ax.set_xlim(0, hi)
        ax.set_ylim(0, 1)
        ax.set_xlabel("planted sites' share of the sequence")
        ax.set_ylabel("share of |contribution|")
        ax.set_title(
            f"Contribution inside planted sites\n(median {np.nanmedian(frac):.2f} vs share {np.nanmedian(share):.3f})"
        )
        ax.legend(loc="lower right")
    else:
        ax.text(0.5, 0.5, "no planted-mass table", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    fig.tight_layout()
    return save(fig, figure_stem(out_dir, "recovery_panel"), fig_cfg)
