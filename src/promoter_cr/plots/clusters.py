"""Figures of the clustering stage, drawn from ``clusters/*`` and the exported tracks.

``cluster_profiles``
    Mean weighted feature along the promoter per cluster (x in bp relative to the TSS).
``cluster_heatmap``
    Genes sorted by cluster (then expression), binned tracks, diverging colormap centred
    at 0; at most ``MAX_HEATMAP_ROWS`` genes (a seeded, per-cluster proportional sample).
``cluster_expression``
    Expression per cluster (violin + box) with the Kruskal-Wallis effect size epsilon^2, marked
    descriptive (the clusters come from tracks that sum to predicted expression).
``k_selection``
    Silhouette (and Calinski-Harabasz) against k, chosen k marked.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from promoter_cr.errors import InputDataError
from promoter_cr.layout import DatasetLayout, figure_stem
from promoter_cr.plots.style import ACTIVATING, JITTER_SEED, NEUTRAL, PALETTE, REPRESSIVE, plt, require, save

MAX_HEATMAP_ROWS = 2000


def _tss_index(lay: DatasetLayout) -> int:
    """TSS position from the data set's meta.json; 0 when the source does not record one."""
    tss = json.loads(require(lay.data.meta).read_text()).get("tss_index")
    return 0 if tss is None else int(tss)


def _colour(c: int) -> str:
    return PALETTE[c % len(PALETTE)]


def plot_profiles(profiles: np.ndarray, stats: pd.DataFrame, tss: int, stem: Path, fig_cfg: dict) -> list[Path]:
    """One row per cluster: mean track ``(k, L)`` with activating/repressive fill."""
    k, length = profiles.shape
    x = np.arange(length) - tss
    fig, axes = plt.subplots(k, 1, figsize=(10, 1.2 + 1.1 * k), sharex=True, squeeze=False)
    lim = float(np.nanmax(np.abs(profiles))) * 1.05 or 1.0
    for c in range(k):
        ax = axes[c, 0]
        y = profiles[c]
        ax.fill_between(x, 0, np.maximum(y, 0), color=ACTIVATING, lw=0)
        ax.fill_between(x, 0, np.minimum(y, 0), color=REPRESSIVE, lw=0)
        ax.axhline(0, color=NEUTRAL, lw=0.5)
        ax.axvline(0, color="black", lw=0.6, ls=":")
        ax.set_ylim(-lim, lim)
        row = stats.loc[stats["cluster"] == c]
        label = f"cluster {c}"
        if len(row):
            label += f"\nn={int(row['size'].iloc[0])}, mean expr {row['expression_mean'].iloc[0]:.2f}"
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8, color=_colour(c))
    axes[-1, 0].set_xlabel("position relative to the TSS (bp)")
    axes[0, 0].set_title("Mean weighted feature per cluster (red: activating, blue: repressive)")
    fig.tight_layout()
    return save(fig, stem, fig_cfg)


def _heatmap_rows(assign: pd.DataFrame, max_rows: int) -> np.ndarray:
    """Row indices sorted by (cluster, label); a seeded proportional sample when there are more than ``max_rows``."""
    rng = np.random.default_rng(JITTER_SEED)
    n = len(assign)
    keep = np.arange(n)
    if n > max_rows:
        parts = []
        for _c, idx in assign.groupby("cluster").indices.items():
            m = max(1, int(round(len(idx) * max_rows / n)))
            parts.append(rng.choice(idx, size=min(m, len(idx)), replace=False))
        keep = np.concatenate(parts)
    sub = assign.iloc[keep]
    order = np.lexsort((sub["label"].to_numpy(dtype=float), sub["cluster"].to_numpy()))
    return keep[order]


def binned(tracks: np.ndarray, rows: np.ndarray, bin_size: int) -> np.ndarray:
    """``(len(rows), ceil(L / bin_size))`` float32 bin means of ``tracks[rows]`` (rows read in sorted order)."""
    length = tracks.shape[1]
    nb = -(-length // bin_size)
    out = np.empty((len(rows), nb), dtype=np.float32)
    sorted_idx = np.argsort(rows, kind="stable")
    for start in range(0, len(rows), 512):
        sel = sorted_idx[start : start + 512]
        x = np.asarray(tracks[rows[sel]], dtype=np.float64)
        pad = nb * bin_size - length
        if pad:
            x = np.concatenate([x, np.full((len(x), pad), np.nan)], axis=1)
        out[sel] = np.nanmean(x.reshape(len(x), nb, bin_size), axis=2)
    return out


def plot_heatmap(
    tracks: np.ndarray, assign: pd.DataFrame, bin_size: int, tss: int, stem: Path, fig_cfg: dict
) -> list[Path]:
    """Heatmap of binned tracks, genes grouped by cluster (a sample of at most MAX_HEATMAP_ROWS genes)."""
    rows = _heatmap_rows(assign, MAX_HEATMAP_ROWS)
    mat = binned(tracks, rows, bin_size)
    clusters = assign["cluster"].to_numpy()[rows]
    lim = float(np.nanpercentile(np.abs(mat), 99)) if mat.size else 1.0
    lim = lim or 1.0
    length = tracks.shape[1]
    fig, (side, ax) = plt.subplots(1, 2, figsize=(10, 6), gridspec_kw={"width_ratios": [0.03, 1], "wspace": 0.02})
    extent = (-tss, length - tss, len(rows), 0)
    im = ax.imshow(mat, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest", extent=extent)
    from matplotlib.colors import ListedColormap

    k = int(clusters.max()) + 1 if len(clusters) else 1
    side.imshow(
        clusters[:, None],
        aspect="auto",
        cmap=ListedColormap([_colour(c) for c in range(k)]),
        vmin=-0.5,
        vmax=k - 0.5,
        interpolation="nearest",
    )
    side.set_xticks([])
    bounds = np.flatnonzero(np.diff(clusters)) + 1
    for b in bounds:
        ax.axhline(b, color="black", lw=0.6)
    mids = [(s + e) / 2 for s, e in zip(np.r_[0, bounds], np.r_[bounds, len(rows)])]
    side.set_yticks(mids, [str(c) for c in np.unique(clusters)])
    side.set_ylabel("cluster")
    ax.set_yticks([])
    ax.axvline(0, color="black", lw=0.6, ls=":")
    ax.set_xlabel(f"position relative to the TSS (bp; {bin_size} bp bins)")
    shown = f"{len(rows)} of {len(assign)} genes" if len(rows) < len(assign) else f"{len(rows)} genes"
    ax.set_title(f"Weighted features by cluster ({shown})")
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01, label="weighted feature")
    return save(fig, stem, fig_cfg)


def plot_expression(assign: pd.DataFrame, summary: dict, stem: Path, fig_cfg: dict) -> list[Path]:
    """Violin + box of expression per cluster; epsilon^2 (Kruskal-Wallis) in the title, marked descriptive."""
    k = int(assign["cluster"].max()) + 1
    groups = [assign.loc[assign["cluster"] == c, "label"].to_numpy(dtype=float) for c in range(k)]
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * k, 4))
    parts = ax.violinplot(groups, showextrema=False)
    for c, body in enumerate(parts["bodies"]):
        body.set_facecolor(_colour(c))
        body.set_alpha(0.5)
    ax.boxplot(groups, widths=0.15, showfliers=False, medianprops={"color": "black"})
    ax.set_xticks(np.arange(1, k + 1), [f"{c}\n(n={len(g)})" for c, g in enumerate(groups)])
    ax.set_xlabel("cluster")
    ax.set_ylabel("expression (label)")
    e2 = summary.get("epsilon_squared")
    ax.set_title(
        "Expression per cluster"
        + (f"\n(descriptive) Kruskal-Wallis eps^2 = {e2:.2f}" if e2 is not None and np.isfinite(e2) else "")
    )
    fig.tight_layout()
    return save(fig, stem, fig_cfg)


def plot_k_selection(ksel: pd.DataFrame, summary: dict, stem: Path, fig_cfg: dict) -> list[Path]:
    """Silhouette against k (Calinski-Harabasz on a second axis), chosen k marked."""
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.plot(ksel["k"], ksel["silhouette"], "o-", color=PALETTE[0], label="silhouette")
    ax.set_xlabel("k")
    ax.set_ylabel("silhouette", color=PALETTE[0])
    if "calinski_harabasz" in ksel and ksel["calinski_harabasz"].notna().any():
        ax2 = ax.twinx()
        ax2.plot(ksel["k"], ksel["calinski_harabasz"], "s--", color=PALETTE[1], label="Calinski-Harabasz")
        ax2.set_ylabel("Calinski-Harabasz", color=PALETTE[1])
        ax2.spines["right"].set_visible(True)
    k = summary.get("k")
    if k is not None:
        ax.axvline(k, color=NEUTRAL, ls=":", lw=1)
    ax.set_xticks(ksel["k"])
    ax.set_title(f"k selection: k = {k} ({summary.get('chosen_by', '')})")
    fig.tight_layout()
    return save(fig, stem, fig_cfg)


def plot_clusters(ds_dir: str | Path, out_dir: str | Path, fig_cfg: dict) -> list[Path]:
    """Draw cluster_profiles, cluster_heatmap, cluster_expression and k_selection; return the files."""
    lay, out_dir = DatasetLayout(ds_dir), Path(out_dir)
    cl = lay.clusters
    assign = pd.read_csv(require(cl.assignments), sep="\t", dtype={"gene_id": str})
    stats = pd.read_csv(require(cl.stats), sep="\t")
    summary = json.loads(require(cl.summary).read_text())
    profiles = np.load(require(cl.profiles))
    tss = _tss_index(lay)
    paths = plot_profiles(profiles, stats, tss, figure_stem(out_dir, "cluster_profiles"), fig_cfg)
    tracks = np.load(require(lay.attributions.weighted_features), mmap_mode="r")
    if len(tracks) != len(assign):
        raise InputDataError(
            lay.attributions.weighted_features, f"{len(tracks)} tracks but {len(assign)} genes in {cl.assignments.name}"
        )
    paths += plot_heatmap(
        tracks,
        assign,
        int(summary["representation"]["bin_size"]),
        tss,
        figure_stem(out_dir, "cluster_heatmap"),
        fig_cfg,
    )
    paths += plot_expression(assign, summary, figure_stem(out_dir, "cluster_expression"), fig_cfg)
    paths += plot_k_selection(
        pd.read_csv(require(cl.k_selection), sep="\t"), summary, figure_stem(out_dir, "k_selection"), fig_cfg
    )
    return paths
