"""Figures of the attribution stage, drawn from ``attributions/*.tsv`` alone.

``faithfulness``
    Per-gene agreement of CR weighted features with ISM and gradient x input of the
    same model: Pearson, Spearman and top-k overlap per method (box + points), with the
    top-k overlap expected by chance.
``planted_mass`` (simulated data only, when ``planted_mass.tsv`` exists)
    Fraction of absolute contribution inside the active planted sites against the
    sites' share of the sequence, per gene and per planted class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from promoter_cr.layout import DatasetLayout, figure_stem
from promoter_cr.plots.style import ACTIVATING, JITTER_SEED, NEUTRAL, PALETTE, REPRESSIVE, plt, require, save

METHOD_LABELS = {"ism_mean": "ISM (mean)", "ism_max": "ISM (max)", "grad_x_input": "gradient x input"}


def _box_strip(ax, groups: list[np.ndarray], labels: list[str]) -> None:
    rng = np.random.default_rng(JITTER_SEED)
    data = [g[np.isfinite(g)] for g in groups]
    ax.boxplot(data, widths=0.5, showfliers=False, medianprops={"color": "black"})
    for i, g in enumerate(data):
        ax.scatter(i + 1 + rng.uniform(-0.15, 0.15, len(g)), g, s=10, alpha=0.6, color=PALETTE[i % len(PALETTE)], lw=0)
    ax.set_xticks(np.arange(1, len(labels) + 1), labels, rotation=15)


def plot_faithfulness(per_gene: pd.DataFrame, summary: pd.DataFrame | None, stem: Path, fig_cfg: dict) -> list[Path]:
    """Three panels (Pearson, Spearman, top-k overlap) of ``faithfulness.tsv``; returns the files."""
    methods = list(dict.fromkeys(per_gene["method"]))
    labels = [METHOD_LABELS.get(m, m) for m in methods]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    for ax, metric, title in zip(
        axes, ("pearson", "spearman", "topk_overlap"), ("Pearson r", "Spearman rho", "top-k overlap")
    ):
        groups = [per_gene.loc[per_gene["method"] == m, metric].to_numpy(dtype=float) for m in methods]
        _box_strip(ax, groups, labels)
        ax.set_title(f"{title} with CR weighted features")
        ax.axhline(0, color=NEUTRAL, lw=0.6)
        if metric == "topk_overlap":
            ax.set_ylim(-0.02, 1.02)
            if summary is not None:
                chance = summary.loc[summary["metric"] == "topk_overlap_chance", "mean"]
                if len(chance):
                    ax.axhline(float(chance.iloc[0]), color=REPRESSIVE, ls="--", lw=0.8, label="chance")
                    ax.legend(loc="upper right")
        else:
            ax.set_ylim(-1.02, 1.02)
    n = per_gene["gene_id"].nunique()
    fig.suptitle(f"Faithfulness of CR explanations ({n} genes; one point per gene)", y=1.02)
    fig.tight_layout()
    return save(fig, stem, fig_cfg)


def plot_planted_mass(planted: pd.DataFrame, stem: Path, fig_cfg: dict) -> list[Path]:
    """Scatter (site share vs contribution share) and per-class boxes of ``planted_mass.tsv``."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [1.2, 1]})
    has = planted[planted["n_active_sites"] > 0]
    ax = axes[0]
    classes = sorted(planted["class"].dropna().unique())
    for i, c in enumerate(classes):
        sub = has[has["class"] == c]
        if len(sub):
            ax.scatter(
                sub["site_fraction_of_length"],
                sub["contribution_fraction"],
                s=8,
                alpha=0.5,
                lw=0,
                color=PALETTE[i % len(PALETTE)],
                label=f"class {c}",
            )
    hi = max(float(has["site_fraction_of_length"].max()) * 1.15, 0.05) if len(has) else 1.0
    ax.plot([0, hi], [0, hi], color=NEUTRAL, ls="--", lw=0.8, label="no enrichment")
    ax.set_xlim(0, hi)
    ax.set_ylim(0, 1)
    ax.set_xlabel("active planted sites: share of sequence length")
    ax.set_ylabel("share of |contribution| inside the sites")
    if len(has):
        ax.set_title(
            f"mean {has['contribution_fraction'].mean():.0%} of |contribution| in "
            f"{has['site_fraction_of_length'].mean():.1%} of the sequence"
        )
    ax.legend(loc="lower right", markerscale=2)
    ax = axes[1]
    groups = [has.loc[has["class"] == c, "contribution_fraction"].to_numpy(dtype=float) for c in classes]
    keep = [i for i, g in enumerate(groups) if np.isfinite(g).any()]
    if keep:
        _box_strip(ax, [groups[i] for i in keep], [f"class {classes[i]}" for i in keep])
        for j, i in enumerate(keep):
            share = has.loc[has["class"] == classes[i], "site_fraction_of_length"].mean()
            ax.plot(
                [j + 0.7, j + 1.3],
                [share, share],
                color=ACTIVATING,
                lw=1.5,
                label="site share of length" if j == 0 else None,
            )
        ax.legend(loc="upper right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of |contribution| inside the sites")
    ax.set_title("per planted class (genes with active sites)")
    fig.tight_layout()
    return save(fig, stem, fig_cfg)


def plot_attribution(ds_dir: str | Path, out_dir: str | Path, fig_cfg: dict) -> list[Path]:
    """Draw the attribution figures of ``ds_dir`` into ``out_dir``; return the files.

    Reads ``faithfulness.tsv`` and ``faithfulness_summary.tsv``; on a simulated data set (one with
    a ground truth) also ``planted_mass.tsv``.
    """
    lay, out_dir = DatasetLayout(ds_dir), Path(out_dir)
    attr = lay.attributions
    per_gene = pd.read_csv(require(attr.faithfulness), sep="\t", dtype={"gene_id": str})
    summary = pd.read_csv(require(attr.faithfulness_summary), sep="\t")
    paths = plot_faithfulness(per_gene, summary, figure_stem(out_dir, "faithfulness"), fig_cfg)
    if lay.data.ground_truth.exists():
        paths += plot_planted_mass(
            pd.read_csv(require(attr.planted_mass), sep="\t", dtype={"gene_id": str}),
            figure_stem(out_dir, "planted_mass"),
            fig_cfg,
        )
    return paths
