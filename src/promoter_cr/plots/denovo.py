"""De novo pattern figure, drawn from ``motifs/denovo/`` (patterns.tsv, denovo_summary.json).

``denovo_patterns``: one row per pattern (all-gene patterns first, then clusters; largest
first within each; at most ``max_rows``): the contribution-weighted matrix (CWM, mean actual
contribution per base, signed) as a logo on the left; on the right the information-content
logo of its best Tomtom match in the scanned collection, reverse-complemented when the match
is on the minus strand and shifted by Tomtom's offset so the columns line up with the CWM.
Novel patterns (no match at the q threshold) show their sequence matrix instead, labelled
*novel* with the best (failed) match named in the title.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from promoter_cr.errors import InputDataError
from promoter_cr.layout import DenovoFiles
from promoter_cr.plots.style import ACTIVATING, NEUTRAL, REPRESSIVE, save_figure
from promoter_cr.seq.motifs import Motif

log = logging.getLogger(__name__)

SIGN_COLOURS = {"positive": ACTIVATING, "negative": REPRESSIVE}


def _info_frame(pwm: np.ndarray) -> pd.DataFrame:
    """``(w, 4)`` information-content frame of a ``(4, w)`` probability matrix."""
    import logomaker

    df = pd.DataFrame(np.clip(pwm.T, 1e-9, 1.0), columns=list("ACGT"))
    df = df.div(df.sum(axis=1), axis=0)
    return logomaker.transform_matrix(df, from_type="probability", to_type="information")


def order_patterns(table: pd.DataFrame, max_rows: int) -> pd.DataFrame:
    """Rows to draw: cluster ``all`` first, then the clusters; within each by decreasing seqlets."""
    t = table.copy()
    t["_all"] = t["cluster"].astype(str) != "all"
    t = t.sort_values(["_all", "cluster", "n_seqlets"], ascending=[True, True, False], kind="stable")
    return t.drop(columns="_all").head(max_rows)


def plot_denovo_patterns(
    denovo_dir: str | Path,
    motifs: Sequence[Motif] | None,
    stem: str | Path,
    *,
    formats: Iterable[str],
    dpi: int,
    max_rows: int,
) -> list[Path]:
    """Draw ``denovo_patterns`` from the de novo folder; return the written paths.

    ``motifs``: the collection the patterns were matched against (for the match logos;
    ``None`` draws the CWMs alone). Raises :class:`InputDataError` when a table is missing.
    """
    import logomaker
    import matplotlib.pyplot as plt

    files = DenovoFiles(denovo_dir)
    for path in (files.patterns, files.summary):
        if not path.exists():
            raise InputDataError(path, "de novo output is missing (run the de novo step first)")
    table = pd.read_csv(
        files.patterns,
        sep="\t",
        dtype={"cluster": str, "best_match_id": str, "best_match_name": str},
        keep_default_na=False,
        na_values=[""],
    )
    summary = json.loads(files.summary.read_text())
    mats = {p["pattern_id"]: p for p in summary.get("patterns", [])}
    by_id = {m.motif_id: m for m in (motifs or [])}
    rows = order_patterns(table, max_rows)
    if rows.empty:
        fig, ax = plt.subplots(figsize=(5, 2))
        ax.text(0.5, 0.5, "no de novo pattern", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return save_figure(fig, stem, formats, dpi)
    n = len(rows)
    fig, axes = plt.subplots(n, 2, figsize=(10, 1.35 * n + 0.4), squeeze=False, gridspec_kw={"width_ratios": [1, 1]})
    for (ax_cwm, ax_match), r in zip(axes, rows.itertuples(index=False)):
        pid = str(r.pattern_id)
        entry = mats.get(pid)
        colour = SIGN_COLOURS.get(str(r.sign), NEUTRAL)
        width = int(r.width)
        if entry is not None:
            cwm = pd.DataFrame(np.asarray(entry["cwm"], dtype=float), columns=list("ACGT"))
            logomaker.Logo(cwm, ax=ax_cwm, color_scheme="classic")
            ax_cwm.axhline(0, color="0.6", lw=0.5)
        ax_cwm.set_title(
            f"{pid}  ({r.sign}, {int(r.n_seqlets)} seqlets, {int(r.n_genes)} genes)",
            fontsize=8,
            loc="left",
            color=colour,
        )
        ax_cwm.set_ylabel("contribution", fontsize=7)
        ax_cwm.tick_params(labelsize=6)
        ax_cwm.set_xlim(-0.5, width - 0.5)
        novel = bool(r.novel) if not isinstance(r.novel, str) else r.novel.lower() == "true"
        match = by_id.get(str(r.best_match_id)) if isinstance(r.best_match_id, str) else None
        q = float(r.match_q_value) if pd.notna(r.match_q_value) else np.nan
        if novel or match is None:
            if entry is not None:
                logomaker.Logo(
                    _info_frame(np.asarray(entry["ppm"], dtype=float).T), ax=ax_match, color_scheme="classic"
                )
            best = (
                f"best {r.best_match_name} q={q:.2g}"
                if isinstance(r.best_match_name, str) and r.best_match_name
                else "no match"
            )
            ax_match.set_title(f"novel (sequence matrix; {best})", fontsize=8, loc="left")
            ax_match.set_xlim(-0.5, width - 0.5)
        else:
            pwm = match.pwm[::-1, ::-1] if str(r.match_strand) == "-" else match.pwm
            info = _info_frame(pwm)
            info.index = info.index - int(r.match_offset)
            logomaker.Logo(info, ax=ax_match, color_scheme="classic")
            lo, hi = min(-0.5, info.index.min() - 0.5), max(width - 0.5, info.index.max() + 0.5)
            ax_match.set_xlim(lo, hi)
            ax_cwm.set_xlim(lo, hi)
            ax_match.set_title(
                f"{match.name} ({match.motif_id}{', rev. compl.' if str(r.match_strand) == '-' else ''})  q={q:.1e}",
                fontsize=8,
                loc="left",
            )
        ax_match.set_ylim(0, 2)
        ax_match.set_ylabel("bits", fontsize=7)
        ax_match.tick_params(labelsize=6)
    if len(table) > n:
        fig.suptitle(f"{n} of {len(table)} patterns", fontsize=8, x=0.01, ha="left")
    fig.tight_layout()
    return save_figure(fig, stem, formats, dpi)


def plot_denovo(ds_dir: str | Path, out_dir: str | Path, fig_cfg: dict) -> list[Path]:
    """The ``denovo`` figure family of ``results/<dataset>`` (``promoter-cr figures --stage denovo``).

    Reads ``motifs/denovo/`` and the scanned motif set ``motifs/motifs.meme`` (the match logos);
    a missing file is an error naming it.
    """
    from promoter_cr.layout import DatasetLayout, figure_stem
    from promoter_cr.seq.motifs import read_meme

    motifs_dir = DatasetLayout(ds_dir).motifs
    if not motifs_dir.meme.exists():
        raise InputDataError(motifs_dir.meme, "the scanned motif set is missing (run the scan stage first)")
    return plot_denovo_patterns(
        motifs_dir.denovo.dir,
        read_meme(motifs_dir.meme),
        figure_stem(out_dir, "denovo_patterns"),
        formats=fig_cfg["formats"],
        dpi=int(fig_cfg["dpi"]),
        max_rows=int(fig_cfg["denovo_max_patterns"]),
    )
