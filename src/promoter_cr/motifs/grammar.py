"""Motif grammar from the scanned hits: activity, enrichment, co-occurrence, spacing.

:func:`run_grammar` reads ``<motifs_dir>/hits.parquet``, ``motifs.meme`` and
``gene_clusters.tsv`` (all written by ``promoter-cr scan``) and writes, into ``out_dir``:

=====================  ==========================================================
activity.tsv           motif x cluster (and 'all') activating/repressive calls
                       (:mod:`promoter_cr.motifs.activity`)
enrichment.tsv         motif x cluster hit-gene enrichment (Fisher/hypergeometric)
cooccurrence.tsv       motif pairs of the selected set (:mod:`promoter_cr.motifs.cooccurrence`)
communities.tsv        Louvain communities of the significant co-occurrence network
spacing.tsv            spacing x orientation tests of the top pairs, with the null band
                       (:mod:`promoter_cr.motifs.spacing`)
periodicity.tsv        helical-phasing test per top pair
grammar_summary.json   counts of calls and the settings used
=====================  ==========================================================
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.atomic import write_json, write_tsv
from promoter_cr.errors import InputDataError
from promoter_cr.layout import MotifFiles
from promoter_cr.motifs.activity import ALL, motif_activity, motif_enrichment
from promoter_cr.motifs.cooccurrence import (
    close_pairs,
    communities,
    cooccurrence_test,
    expected_close_pairs,
    motif_priority,
    presence_matrix,
    select_representatives,
    tomtom_similarity,
)
from promoter_cr.motifs.database import Motif, read_meme
from promoter_cr.motifs.scan import read_hits
from promoter_cr.motifs.spacing import spacing_analysis

log = logging.getLogger(__name__)


def load_scan(motifs_dir: str | Path) -> tuple[pd.DataFrame, list[Motif], pd.DataFrame, dict]:
    """Hits (motif_id as int code into the motif list), motifs, gene clusters and scan summary."""
    import json

    files = MotifFiles(motifs_dir)
    for path in files.scan_outputs():
        if not path.exists():
            raise InputDataError(path, "scan output is missing (run `promoter-cr scan` first)")
    motifs = read_meme(files.meme)
    genes = pd.read_csv(files.gene_clusters, sep="\t", dtype=str, keep_default_na=False)
    summary = json.loads(files.scan_summary.read_text())
    hits = read_hits(
        files.hits, ["gene_index", "cluster", "motif_id", "start", "end", "strand", "contribution", "null_contribution"]
    )
    ids = [m.motif_id for m in motifs]
    levels = sorted(genes["cluster"].unique().tolist())

    def _codes(values: pd.Series, categories: list[str]) -> np.ndarray:
        # categorical re-coding: no per-row Python strings, whatever the number of hits
        if not isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype("category")
        values = values.cat.rename_categories([str(c) for c in values.cat.categories])
        return values.cat.set_categories(categories).cat.codes.to_numpy().astype(np.int64)

    codes = _codes(hits["motif_id"], ids) if len(hits) else np.zeros(0, np.int64)
    if len(hits) and (codes < 0).any():
        bad = hits["motif_id"].iloc[int(np.flatnonzero(codes < 0)[0])]
        raise InputDataError(files.hits, f"motif {bad!r} is not in {files.meme.name}")
    ccodes = _codes(hits["cluster"], levels) if len(hits) else np.zeros(0, np.int64)
    minus = (_codes(hits["strand"], ["+", "-"]) == 1) if len(hits) else np.zeros(0, bool)
    # compact dtypes (29 bytes a hit): tens of millions of hits fit in memory
    out = pd.DataFrame(
        {
            "gene": hits["gene_index"].to_numpy(np.int32),
            "cluster": ccodes.astype(np.int32),
            "motif": codes.astype(np.int32),
            "start": hits["start"].to_numpy(np.int32),
            "end": hits["end"].to_numpy(np.int32),
            "minus": minus,
            "contribution": hits["contribution"].to_numpy(np.float32),
            "null_contribution": hits["null_contribution"].to_numpy(np.float32),
        }
    )
    del hits
    return out, motifs, genes, summary


def top_pairs(cooc: pd.DataFrame, n: int) -> list[tuple[str, str]]:
    """The ``n`` significant co-occurrence pairs with the smallest q (then largest odds ratio)."""
    if cooc.empty:
        return []
    sig = cooc[cooc["significant"]].sort_values(["q_value", "odds_ratio"], ascending=[True, False], kind="stable")
    return list(zip(sig["motif_a"].head(n), sig["motif_b"].head(n)))


def cooccurrence_network(
    hits: pd.DataFrame,
    motifs: list[Motif],
    activity: pd.DataFrame,
    n_genes: int,
    length: int,
    min_genes: int,
    max_distance: int | None,
    max_motifs: int,
    tomtom_threshold: float,
    fdr: float,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Co-occurrence table, communities and the representative motif ids (see cooccurrence.py)."""
    ids = [m.motif_id for m in motifs]
    pos = {m: i for i, m in enumerate(ids)}
    if len(hits):
        key = np.unique(hits["gene"].to_numpy().astype(np.int64) * len(ids) + hits["motif"].to_numpy())
        genes_per_motif = np.bincount(key % len(ids), minlength=len(ids))
    else:
        genes_per_motif = np.zeros(len(ids), np.int64)
    priority = [m for m in motif_priority(activity) if genes_per_motif[pos[m]] >= min_genes]
    sim = tomtom_similarity([motifs[pos[m]] for m in priority], motifs, tomtom_threshold)
    chosen, member_of = select_representatives(priority, sim, max_motifs)
    selected = [priority[i] for i in chosen]
    fam = {c: [] for c in chosen}
    for mem, rep in member_of.items():
        fam[rep].append(priority[mem])
    sel_idx = np.array([pos[m] for m in selected], dtype=np.int64)
    sel_names = [motifs[i].name for i in sel_idx]
    log.info("co-occurrence: %d family representatives of %d candidate motifs", len(selected), len(priority))
    remap = np.full(len(ids), -1, np.int64)
    remap[sel_idx] = np.arange(len(sel_idx))
    hs = hits[remap[hits["motif"].to_numpy()] >= 0] if len(hits) else hits
    mcode = remap[hs["motif"].to_numpy()]
    gene, start, end = hs["gene"].to_numpy(), hs["start"].to_numpy(), hs["end"].to_numpy()
    k = len(selected)
    if max_distance:
        obs = close_pairs(gene, start, end, mcode, k, int(max_distance))
        widths = np.array([motifs[i].width for i in sel_idx], dtype=np.int64)
        exp = expected_close_pairs(gene, start, mcode, widths, n_genes, length, int(max_distance))
        margins = np.bincount(mcode, minlength=k)
        cooc = cooccurrence_test(obs, exp, margins, selected, sel_names, None, min_count=min_genes, fdr=fdr)
    else:
        pres = presence_matrix(gene, mcode, n_genes, k)
        c = (pres.T @ pres).toarray().astype(np.int64)
        margins = np.diag(c).copy()
        exp = np.outer(margins, margins) / max(n_genes, 1)
        cooc = cooccurrence_test(c, exp, margins, selected, sel_names, n_genes, min_count=min_genes, fdr=fdr)
    comm = communities(cooc, selected, sel_names, seed=seed, members=[";".join(fam[c]) for c in chosen])
    return cooc, comm, selected


def run_grammar(motifs_dir: str | Path, out_dir: str | Path, grammar_cfg: dict[str, Any]) -> dict[str, Any]:
    """Compute and write every grammar table (see the module docstring); returns the summary."""
    out = MotifFiles(out_dir)
    g = dict(grammar_cfg)
    fdr, seed = float(g["fdr"]), int(g["seed"])
    hits, motifs, genes, scan_summary = load_scan(motifs_dir)
    ids = [m.motif_id for m in motifs]
    names = [m.name for m in motifs]
    levels = sorted(genes["cluster"].unique().tolist())
    n_genes, length = len(genes), int(scan_summary["length"])
    if hits.empty:
        log.warning("%s: no motif hit at all; every table is written empty", MotifFiles(motifs_dir).hits)

    log.info("activity: %d hits, %d motifs, %d clusters", len(hits), len(ids), len(levels))
    activity = motif_activity(
        hits["motif"].to_numpy(),
        hits["gene"].to_numpy(),
        hits["cluster"].to_numpy(),
        hits["contribution"].to_numpy(),
        hits["null_contribution"].to_numpy(),
        ids,
        names,
        levels,
        fdr=fdr,
        min_hits=int(g["min_hits"]),
        min_effect=float(g["min_effect"]),
        min_relative=float(g["min_relative_contribution"]),
        start=hits["start"].to_numpy(),
        end=hits["end"].to_numpy(),
        n_genes=n_genes,
        length=length,
    )
    write_tsv(out.activity, activity)

    gene_clusters = genes["cluster"].to_numpy(dtype=object)
    enrichment = motif_enrichment(hits["motif"].to_numpy(), hits["gene"].to_numpy(), gene_clusters, ids, names)
    write_tsv(out.enrichment, enrichment)

    # co-occurrence on family representatives
    min_genes = int(g["cooccurrence_min_genes"])
    max_d = g["cooccurrence_max_distance"]
    cooc, comm, selected = cooccurrence_network(
        hits,
        motifs,
        activity,
        n_genes,
        length,
        min_genes,
        max_d,
        int(g["cooccurrence_max_motifs"]),
        float(g["tomtom_threshold"]),
        fdr,
        seed,
    )
    write_tsv(out.cooccurrence, cooc)
    write_tsv(out.communities, comm)

    # spacing of the top pairs
    pairs = top_pairs(cooc, int(g["top_pairs"]))
    pos = {m: i for i, m in enumerate(ids)}
    need = sorted({m for p in pairs for m in p})
    sub = hits[hits["motif"].isin([pos[m] for m in need])] if need else hits.iloc[:0]
    per_motif = {
        ids[k]: {"gene": grp["gene"].to_numpy(), "start": grp["start"].to_numpy(), "minus": grp["minus"].to_numpy()}
        for k, grp in sub.groupby("motif", sort=False)
    }
    widths = {m.motif_id: m.width for m in motifs}
    namemap = dict(zip(ids, names))
    spacing, periodicity = spacing_analysis(
        pairs,
        per_motif,
        widths,
        namemap,
        length,
        max_spacing=int(g["max_spacing"]),
        shuffles=int(g["spacing_shuffles"]),
        seed=seed,
    )
    write_tsv(out.spacing, spacing)
    write_tsv(out.periodicity, periodicity)

    calls = activity[activity["cluster"] == ALL]["effect"].value_counts().to_dict()
    summary = {
        "n_hits": int(len(hits)),
        "n_motifs": len(ids),
        "clusters": levels,
        "calls_all": {k: int(calls.get(k, 0)) for k in ("activating", "repressive", "none")},
        "calls_any_cluster": int(activity["effect"].isin(["activating", "repressive"]).sum()),
        "cooccurrence_motifs": len(selected),
        "cooccurrence_max_distance": max_d,
        "significant_edges": int(cooc["significant"].sum()) if len(cooc) else 0,
        "communities": int(comm.loc[comm["community"] >= 0, "community"].nunique()) if len(comm) else 0,
        "spacing_pairs": len(pairs),
        "significant_spacings": int((spacing["q_value"] < fdr).sum()) if len(spacing) else 0,
        "settings": g,
    }
    write_json(out.grammar_summary, summary)
    return summary
