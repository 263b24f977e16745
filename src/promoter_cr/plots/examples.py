"""Example promoters: the CR weighted-feature track with the motif hits beneath it.

Drawn from tables only: ``attributions/weighted_features.npy`` (+ ``attributions.tsv``),
``clusters/assignments.tsv``, ``motifs/hits.parquet`` and ``motifs/activity.tsv``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from promoter_cr.layout import DatasetLayout, figure_stem
from promoter_cr.plots.style import ACTIVATING, NEUTRAL, REPRESSIVE, plt, require, save


def choose_examples(assign: pd.DataFrame, attr: pd.DataFrame, n: int) -> list[str]:
    """One gene per cluster (round-robin over clusters, up to ``n``): the gene whose
    predicted expression is closest to its cluster's median, test split preferred."""
    df = assign.merge(attr[["gene_id", "prediction"]], on="gene_id", how="left")
    picks: list[str] = []
    groups = {c: g for c, g in df.groupby("cluster", sort=True)}
    rank = 0
    while len(picks) < n and rank < max((len(g) for g in groups.values()), default=0):
        for _c, g in groups.items():
            pool = g[g["split"] == "test"] if (g["split"] == "test").any() else g
            order = (pool["prediction"] - pool["prediction"].median()).abs().sort_values().index
            if rank < len(order):
                picks.append(str(pool.loc[order[rank], "gene_id"]))
            if len(picks) >= n:
                break
        rank += 1
    return picks


def read_hits_for(hits_path: Path, gene_ids: list[str]) -> pd.DataFrame:
    """Hits of ``gene_ids`` only, filtered while reading (the table may hold tens of millions of rows)."""
    import pyarrow.parquet as pq

    table = pq.read_table(
        hits_path,
        columns=["gene_id", "motif_id", "motif_name", "start", "end", "strand", "contribution"],
        filters=[("gene_id", "in", list(gene_ids))],
    )
    df = table.to_pandas()
    for col in ("gene_id", "motif_id", "motif_name", "strand"):
        df[col] = df[col].astype(str)
    return df


def strongest_non_overlapping(hits: pd.DataFrame) -> pd.DataFrame:
    """Greedy by ``|contribution|``: keep a hit only if it overlaps no stronger kept hit.

    Redundant matrices of one TF family hit the same site; the figure names the one whose
    site carries the most contribution. Returns the kept hits sorted by start.
    """
    kept: list[int] = []
    spans: list[tuple[int, int]] = []
    for i in hits["contribution"].abs().sort_values(ascending=False).index:
        s, e = int(hits.at[i, "start"]), int(hits.at[i, "end"])
        if all(e <= a or s >= b for a, b in spans):
            kept.append(i)
            spans.append((s, e))
    return hits.loc[kept].sort_values("start")


def plot_examples(ds_dir: str | Path, out_dir: str | Path, fig_cfg: dict) -> list[Path]:
    """Draw ``example_promoters``: one panel per example gene."""
    lay, out_dir = DatasetLayout(ds_dir), Path(out_dir)
    meta = json.loads(require(lay.data.meta).read_text())
    attr = pd.read_csv(require(lay.attributions.table), sep="\t", dtype={"gene_id": str})
    tracks = np.load(require(lay.attributions.weighted_features), mmap_mode="r")
    assign = pd.read_csv(require(lay.clusters.assignments), sep="\t", dtype={"gene_id": str})
    activity = pd.read_csv(require(lay.motifs.activity), sep="\t", dtype={"cluster": str})
    called = activity[(activity["cluster"] == "all") & (activity["effect"] != "none")]
    effect_of = dict(zip(called["motif_id"], called["effect"]))
    examples = choose_examples(assign, attr, int(fig_cfg["n_examples"]))
    hits = read_hits_for(require(lay.motifs.hits), examples)
    hits = hits[hits["motif_id"].isin(effect_of)]
    row_of = {g: i for i, g in enumerate(attr["gene_id"])}
    length = tracks.shape[1]
    tss = int(meta.get("tss_index") or 0)
    x = np.arange(length) - tss

    fig, axes = plt.subplots(len(examples), 1, figsize=(11, 2.3 * max(len(examples), 1)), squeeze=False)
    for ax, gid in zip(axes[:, 0], examples):
        track = np.asarray(tracks[row_of[gid]], dtype=np.float32)
        ax.fill_between(x, 0, np.clip(track, 0, None), color=ACTIVATING, step="mid", lw=0)
        ax.fill_between(x, 0, np.clip(track, None, 0), color=REPRESSIVE, step="mid", lw=0)
        ax.axhline(0, color="black", lw=0.5)
        ax.axvline(0, color=NEUTRAL, lw=0.8, ls="--")
        lim = float(np.abs(track).max()) or 1.0
        ax.set_ylim(-1.9 * lim, 1.1 * lim)
        g_hits = strongest_non_overlapping(hits[hits["gene_id"] == gid])
        lanes: list[int] = []
        for _, h in g_hits.iterrows():
            lane = next((i for i, end in enumerate(lanes) if end < h["start"]), len(lanes))
            if lane == len(lanes):
                lanes.append(int(h["end"]))
            else:
                lanes[lane] = int(h["end"])
            y = -1.15 * lim - 0.22 * lim * (lane % 3)
            colour = ACTIVATING if effect_of[h["motif_id"]] == "activating" else REPRESSIVE
            ax.plot([h["start"] - tss, h["end"] - tss], [y, y], color=colour, lw=4, solid_capstyle="butt")
            ax.text(
                (h["start"] + h["end"]) / 2 - tss,
                y - 0.06 * lim,
                f"{h['motif_name']}{'' if h['strand'] == '+' else '(-)'}",
                ha="center",
                va="top",
                fontsize=6,
            )
        row = assign.loc[assign["gene_id"] == gid].iloc[0]
        pred = attr.loc[attr["gene_id"] == gid, "prediction"].iloc[0]
        ax.set_title(
            f"{gid}  cluster {row['cluster']}  observed {row['label']:.2f}  predicted {pred:.2f}",
            fontsize=9,
            loc="left",
        )
        ax.set_ylabel("contribution")
        ax.set_xlim(x[0], x[-1])
    axes[-1, 0].set_xlabel("position relative to TSS (bp)")
    fig.suptitle(
        "Weighted features of example promoters; beneath, the strongest called "
        "motif at each site (red: activating, blue: repressive)",
        fontsize=10,
    )
    fig.tight_layout()
    return save(fig, figure_stem(out_dir, "example_promoters"), fig_cfg)
