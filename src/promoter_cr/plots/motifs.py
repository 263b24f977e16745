"""Motif-grammar figures, drawn from the tables in ``results/<ds>/motifs/`` alone.

* ``activity_volcano``: rank-biserial effect size vs -log10 q ('all' genes), activating /
  repressive calls coloured, the strongest calls labelled.
* ``enrichment_heatmap``: log2 enrichment of the most significant motifs per cluster
  (``*`` where q < 0.05).
* ``cooccurrence_network``: significant co-occurrence edges, nodes coloured by community.
* ``spacing_profiles``: the interaction ``f(AB) - f(A) - f(B) + f(0)`` of each tested pair
  against spacing and orientation, with its 95 % CI over backgrounds
  (:func:`promoter_cr.plots.insilico.plot_insilico`).
* ``pvalue_qq``: QQ plots of every family of tests of the data set (activity, co-occurrence,
  spacing, cooperativity, periodicity; :mod:`promoter_cr.plots.calibration`).
* ``motif_logos``: information-content logo of each top called motif beside its effect size,
  hit count and q-value (needs ``motifs.meme``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.layout import DatasetLayout, figure_stem
from promoter_cr.plots.calibration import plot_pvalue_qq
from promoter_cr.plots.insilico import plot_insilico
from promoter_cr.plots.style import ACTIVATING, JITTER_SEED, NEUTRAL, PALETTE, REPRESSIVE, require, save_figure

log = logging.getLogger(__name__)

EFFECT_COLOURS = {"activating": ACTIVATING, "repressive": REPRESSIVE, "none": NEUTRAL}


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(require(path), sep="\t", dtype={"cluster": str}, keep_default_na=True)


def _neglog(q: pd.Series) -> np.ndarray:
    q = q.to_numpy(dtype=float)
    return -np.log10(np.clip(np.nan_to_num(q, nan=1.0), 1e-300, 1.0))


def plot_volcano(activity: pd.DataFrame, stem: Path, fmt, dpi, n_labels: int = 12) -> list[Path]:
    import matplotlib.pyplot as plt

    a = activity[(activity["cluster"].astype(str) == "all") & activity["effect_size"].notna()].copy()
    fig, ax = plt.subplots(figsize=(6.5, 5))
    if a.empty:
        ax.text(0.5, 0.5, "no motif was tested", ha="center", va="center", transform=ax.transAxes)
    else:
        a["y"] = _neglog(a["q_value"])
        marginal = a["marginal_effect"] if "marginal_effect" in a.columns else a["effect"]
        explained = (a["effect"] == "none") & (marginal != "none")
        for eff in ("none", "repressive", "activating"):
            s = a[(a["effect"] == eff) & ~explained]
            ax.scatter(
                s["effect_size"],
                s["y"],
                s=10 if eff == "none" else 22,
                c=EFFECT_COLOURS[eff],
                alpha=0.5 if eff == "none" else 0.9,
                label=f"{eff} ({len(s)})",
                edgecolors="none",
            )
        s = a[explained]
        if len(s):
            ax.scatter(
                s["effect_size"],
                s["y"],
                s=14,
                facecolors="none",
                edgecolors=[EFFECT_COLOURS[e] for e in marginal[explained]],
                alpha=0.7,
                label=f"explained by an overlapping call ({len(s)})",
            )
        top = a[a["effect"] != "none"].nlargest(n_labels, "y")
        x, y = top["effect_size"].to_numpy(dtype=float), top["y"].to_numpy(dtype=float)
        span = (np.ptp(a["effect_size"].to_numpy(dtype=float)) or 1.0, np.ptp(a["y"].to_numpy(dtype=float)) or 1.0)
        for name, xi, yi, off in zip(top["motif_name"], x, y, label_offsets(x, y, span)):
            ax.annotate(str(name), (xi, yi), fontsize=7, xytext=off, textcoords="offset points")
        ax.axvline(0, color="0.7", lw=0.8)
        ax.legend(loc="upper left")
    ax.set_xlabel("effect size (rank-biserial: hits vs null windows)")
    ax.set_ylabel("-log10 q")
    ax.set_title("Motif activity, all genes")
    return save_figure(fig, stem, fmt, dpi)


def label_offsets(x: np.ndarray, y: np.ndarray, span: tuple[float, float]) -> list[tuple[int, int]]:
    """Text offsets (points) for labels at ``(x, y)`` (``(n,)`` each, in drawing order) so near points do not overprint.

    A label whose point lies within 8 % of the x ``span`` and 4 % of the y ``span`` of an earlier
    labelled point moves one line down (then two, ...), so two motifs with the same q (e.g. both
    at the q floor) stay readable.
    """
    offsets: list[tuple[int, int]] = []
    for i in range(len(x)):
        near = [j for j in range(i) if abs(x[i] - x[j]) < 0.08 * span[0] and abs(y[i] - y[j]) < 0.04 * span[1]]
        offsets.append((3, 2 - 9 * len(near)))
    return offsets


def plot_enrichment(enrichment: pd.DataFrame, stem: Path, fmt, dpi, n_motifs: int = 30) -> list[Path]:
    import matplotlib.pyplot as plt

    e = enrichment[enrichment["p_value"].notna()]
    fig_h = 2 + 0.18 * min(n_motifs, max(1, e["motif_id"].nunique()))
    if e.empty:
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.text(0.5, 0.5, "no enrichment test", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return save_figure(fig, stem, fmt, dpi)
    best = e.groupby("motif_id")["q_value"].min().nsmallest(n_motifs).index
    sub = e[e["motif_id"].isin(best)]
    mat = sub.pivot_table(index="motif_id", columns="cluster", values="log2_enrichment")
    qmat = sub.pivot_table(index="motif_id", columns="cluster", values="q_value").reindex_like(mat)
    names = sub.drop_duplicates("motif_id").set_index("motif_id")["motif_name"]
    lim = float(np.nanmax(np.abs(mat.to_numpy()))) if mat.size else 1.0
    lim = min(max(lim, 0.5), 5.0)
    fig, ax = plt.subplots(figsize=(1.5 + 0.6 * mat.shape[1], fig_h))
    im = ax.imshow(np.clip(mat.to_numpy(), -lim, lim), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    for i in range(mat.shape[0]):
        for j in range(mat.shape[1]):
            if qmat.iat[i, j] < 0.05:
                ax.text(j, i, "*", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(mat.shape[1]), [str(c) for c in mat.columns])
    ax.set_yticks(range(mat.shape[0]), [f"{names.get(m, m)} ({m})" for m in mat.index], fontsize=7)
    ax.set_xlabel("cluster")
    fig.colorbar(im, ax=ax, label="log2 enrichment (genes with a hit)", shrink=0.6)
    ax.set_title("Motif enrichment per cluster (* q < 0.05)")
    return save_figure(fig, stem, fmt, dpi)


def plot_network(cooc: pd.DataFrame, comm: pd.DataFrame, stem: Path, fmt, dpi) -> list[Path]:
    import matplotlib.pyplot as plt
    import networkx as nx

    fig, ax = plt.subplots(figsize=(7, 6))
    sig = cooc[cooc["significant"].astype(bool)] if len(cooc) else cooc
    if sig.empty:
        ax.text(0.5, 0.5, "no significant co-occurrence", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return save_figure(fig, stem, fmt, dpi)
    g = nx.Graph()
    for r in sig.itertuples():
        g.add_edge(r.motif_a, r.motif_b, weight=float(np.log(max(r.observed, 1e-9) / max(r.expected, 1e-9))))
    community = comm.set_index("motif_id")["community"].to_dict() if len(comm) else {}
    names = dict(zip(comm["motif_id"], comm["motif_name"])) if len(comm) else {}
    for r in sig.itertuples():
        names.setdefault(r.motif_a, r.motif_a_name)
        names.setdefault(r.motif_b, r.motif_b_name)
    pos = nx.spring_layout(g, seed=JITTER_SEED, weight="weight")
    colours = [
        PALETTE[int(community.get(n, -1)) % len(PALETTE)] if community.get(n, -1) >= 0 else NEUTRAL for n in g.nodes
    ]
    widths = [0.5 + 1.5 * min(d["weight"], 3) / 3 for _, _, d in g.edges(data=True)]
    nx.draw_networkx_edges(g, pos, ax=ax, width=widths, alpha=0.5, edge_color="0.5")
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=colours, node_size=160)
    nx.draw_networkx_labels(g, pos, labels={n: names.get(n, n) for n in g.nodes}, font_size=7, ax=ax)
    ax.set_title(f"Motif co-occurrence ({g.number_of_nodes()} motifs, {g.number_of_edges()} edges; colour = community)")
    ax.set_axis_off()
    return save_figure(fig, stem, fmt, dpi)


def plot_logos(activity: pd.DataFrame, meme: Path, stem: Path, fmt, dpi, n_motifs: int = 8) -> list[Path]:
    import logomaker
    import matplotlib.pyplot as plt

    from promoter_cr.seq.motifs import read_meme

    a = activity[(activity["cluster"].astype(str) == "all") & (activity["effect"] != "none")]
    if a.empty:
        a = activity[(activity["cluster"].astype(str) == "all") & activity["q_value"].notna()]
    a = a.sort_values("q_value").head(n_motifs)
    if a.empty or not meme.exists():
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.text(
            0.5,
            0.5,
            "no called motif" if meme.exists() else "motifs.meme is missing",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        return save_figure(fig, stem, fmt, dpi)
    pwms = {m.motif_id: m for m in read_meme(meme)}
    n = len(a)
    fig, axes = plt.subplots(n, 2, figsize=(8, 1.3 * n), squeeze=False, gridspec_kw={"width_ratios": [3, 1]})
    for (ax_logo, ax_bar), r in zip(axes, a.itertuples()):
        m = pwms.get(r.motif_id)
        if m is not None:
            df = pd.DataFrame(m.pwm.T, columns=list("ACGT"))
            info = logomaker.transform_matrix(df, from_type="probability", to_type="information")
            logomaker.Logo(info, ax=ax_logo, color_scheme="classic")
            ax_logo.set_ylim(0, 2)
        ax_logo.set_ylabel("bits", fontsize=7)
        ax_logo.set_title(f"{r.motif_name} ({r.motif_id})", fontsize=8, loc="left")
        ax_logo.tick_params(labelsize=6)
        colour = EFFECT_COLOURS.get(str(r.effect), NEUTRAL)
        ax_bar.barh([0], [r.effect_size], color=colour)
        ax_bar.set_xlim(-1, 1)
        ax_bar.axvline(0, color="0.5", lw=0.8)
        ax_bar.set_yticks([])
        ax_bar.tick_params(labelsize=6)
        ax_bar.set_title(f"n={int(r.n_hits)}  q={r.q_value:.1e}", fontsize=7)
    axes[-1, 1].set_xlabel("effect size", fontsize=7)
    fig.tight_layout()
    return save_figure(fig, stem, fmt, dpi)


def plot_motifs(ds_dir: str | Path, out_dir: str | Path, fig_cfg: dict[str, Any]) -> list[Path]:
    """Draw every motif figure from the grammar tables of ``ds_dir`` into ``out_dir``; return the paths.

    A missing table is an error naming it; an empty one gives a figure that says so.
    """
    mdir, out_dir = DatasetLayout(ds_dir).motifs, Path(out_dir)
    fmt, dpi = fig_cfg["formats"], int(fig_cfg["dpi"])
    activity = _read(mdir.activity)
    paths = plot_volcano(activity, figure_stem(out_dir, "activity_volcano"), fmt, dpi)
    paths += plot_logos(activity, require(mdir.meme), figure_stem(out_dir, "motif_logos"), fmt, dpi)
    paths += plot_enrichment(_read(mdir.enrichment), figure_stem(out_dir, "enrichment_heatmap"), fmt, dpi)
    paths += plot_network(
        _read(mdir.cooccurrence), _read(mdir.communities), figure_stem(out_dir, "cooccurrence_network"), fmt, dpi
    )
    spacing, coop = _read(mdir.spacing), _read(mdir.cooperativity)
    settings = json.loads(require(mdir.spacing_summary).read_text())["settings"]
    paths += plot_insilico(spacing, coop, figure_stem(out_dir, "spacing_profiles"), fdr=float(settings["fdr"]),
                           max_pairs=6, formats=fmt, dpi=dpi)  # fmt: skip
    panels = {
        "motif activity": {"all + clusters": activity["p_value"].to_numpy(dtype=float)},
        "co-occurrence": {"pairs": _read(mdir.cooccurrence)["p_value"].to_numpy(dtype=float)},
        "preferred spacing": {"spacings": spacing["p_value"].to_numpy(dtype=float)},
        "cooperativity": {"pairs": coop["cooperative_p"].to_numpy(dtype=float)},
        "helical periodicity": {"pairs": coop["periodicity_p"].to_numpy(dtype=float)},
    }
    paths += plot_pvalue_qq(panels, figure_stem(out_dir, "pvalue_qq"), fig_cfg,
                            title="p-values of this data set (departures at the top "
                                  "right: discoveries, if the model learned)")  # fmt: skip
    return paths
