"""Motif grammar from the scanned hits: the model gate, activity, enrichment, co-occurrence.

:func:`run_grammar` reads the scan's outputs (``hits.parquet``, ``motifs.meme``,
``gene_clusters.tsv``, ``scan_summary.json``) and the attributions table, and writes into
``out_dir`` (:class:`promoter_cr.layout.MotifFiles`):

=====================  ==========================================================
activity.tsv           motif x cluster (and 'all') activating/repressive calls, one test unit
                       per gene against composition-matched nulls (:mod:`.activity`)
enrichment.tsv         motif x cluster enrichment of genes with a site (descriptive)
cooccurrence.tsv       motif-family pairs, gene-level test against a stratified permutation
                       null (:mod:`.cooccurrence`)
communities.tsv        Louvain communities of the significant co-occurrence network
grammar_summary.json   the model gate, counts of calls and the settings used
=====================  ==========================================================

Every statistic counts *sites* (overlapping same-motif hits collapsed, :mod:`.sites`). Nothing is
called from a model that did not learn (:mod:`.gate`): its tables are written with every call
``none`` and the reason in ``note``. Preferred spacings and cooperativity are measured on the
model by the spacing stage (:mod:`.insilico`), for the pairs this screen proposes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.atomic import write_json, write_tsv
from promoter_cr.errors import InputDataError
from promoter_cr.interpret.attribute import load_attributions
from promoter_cr.layout import MotifFiles
from promoter_cr.motifs.activity import ALL, motif_activity
from promoter_cr.motifs.cooccurrence import (
    COOC_COLUMNS,
    communities,
    cooccurrence_test,
    gene_strata,
    motif_priority,
    select_representatives,
)
from promoter_cr.motifs.enrichment import motif_enrichment
from promoter_cr.motifs.gate import model_gate
from promoter_cr.motifs.scan import read_hits
from promoter_cr.motifs.sites import collapse_overlapping
from promoter_cr.seq.motifs import Motif, read_meme
from promoter_cr.seq.tomtom import tomtom_similarity

log = logging.getLogger(__name__)


def load_scan(motifs_dir: str | Path) -> tuple[pd.DataFrame, list[Motif], pd.DataFrame, dict]:
    """Hits (motif_id as int code into the motif list), motifs, gene clusters and scan summary.

    The hits come back as a compact frame: gene, cluster (code into the sorted cluster levels),
    motif (index into the motif list), start, end, minus, score, contribution, null_contribution.
    """
    import json

    files = MotifFiles(motifs_dir)
    for path in files.scan_outputs():
        if not path.exists():
            raise InputDataError(path, "scan output is missing (run `promoter-cr scan` first)")
    motifs = read_meme(files.meme)
    genes = pd.read_csv(files.gene_clusters, sep="\t", dtype={"gene_id": str, "cluster": str}, keep_default_na=False)
    summary = json.loads(files.scan_summary.read_text())
    hits = read_hits(
        files.hits,
        ["gene_index", "cluster", "motif_id", "start", "end", "strand", "score", "contribution", "null_contribution"],
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
    # compact dtypes (33 bytes a hit): tens of millions of hits fit in memory
    out = pd.DataFrame(
        {
            "gene": hits["gene_index"].to_numpy(np.int32),
            "cluster": ccodes.astype(np.int32),
            "motif": codes.astype(np.int32),
            "start": hits["start"].to_numpy(np.int32),
            "end": hits["end"].to_numpy(np.int32),
            "minus": minus,
            "score": hits["score"].to_numpy(np.float32),
            "contribution": hits["contribution"].to_numpy(np.float32),
            "null_contribution": hits["null_contribution"].to_numpy(np.float32),
        }
    )
    del hits
    return out, motifs, genes, summary


def to_sites(hits: pd.DataFrame) -> pd.DataFrame:
    """The hits kept as sites: one per cluster of overlapping same-motif hits in a gene (:mod:`.sites`)."""
    if hits.empty:
        return hits
    keep = collapse_overlapping(
        hits["gene"].to_numpy(),
        hits["motif"].to_numpy(),
        hits["start"].to_numpy(),
        hits["end"].to_numpy(),
        hits["score"].to_numpy(),
    )
    return hits[keep].reset_index(drop=True)


def cooccurrence_network(
    sites: pd.DataFrame, motifs: list[Motif], activity: pd.DataFrame, strata: np.ndarray, g: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Co-occurrence table, communities and the representative motif ids (see :mod:`.cooccurrence`)."""
    ids = [m.motif_id for m in motifs]
    pos = {m: i for i, m in enumerate(ids)}
    key = (
        np.unique(sites["gene"].to_numpy().astype(np.int64) * len(ids) + sites["motif"].to_numpy())
        if len(sites)
        else np.zeros(0, np.int64)
    )
    genes_per_motif = np.bincount(key % len(ids), minlength=len(ids))
    min_genes = int(g["cooccurrence_min_genes"])
    priority = [m for m in motif_priority(activity) if genes_per_motif[pos[m]] >= min_genes]
    sim = tomtom_similarity([motifs[pos[m]] for m in priority], motifs, float(g["tomtom_threshold"]))
    chosen, member_of = select_representatives(priority, sim, int(g["cooccurrence_max_motifs"]))
    selected = [priority[i] for i in chosen]
    fam = {c: [] for c in chosen}
    for mem, rep in member_of.items():
        fam[rep].append(priority[mem])
    sel_idx = np.array([pos[m] for m in selected], dtype=np.int64)
    sel_names = [motifs[i].name for i in sel_idx]
    log.info("co-occurrence: %d family representatives of %d candidate motifs", len(selected), len(priority))
    remap = np.full(len(ids), -1, np.int64)
    remap[sel_idx] = np.arange(len(sel_idx))
    ss = sites[remap[sites["motif"].to_numpy()] >= 0] if len(sites) else sites
    cooc = cooccurrence_test(
        ss["gene"].to_numpy(),
        ss["start"].to_numpy(),
        ss["end"].to_numpy(),
        remap[ss["motif"].to_numpy()],
        strata,
        selected,
        sel_names,
        max_distance=int(g["cooccurrence_max_distance"]),
        permutations=int(g["cooccurrence_permutations"]),
        min_genes=min_genes,
        fdr=float(g["fdr"]),
        seed=int(g["seed"]),
    )
    comm = communities(cooc, selected, sel_names, seed=int(g["seed"]), members=[";".join(fam[c]) for c in chosen])
    return cooc, comm, selected


def refuse_calls(activity: pd.DataFrame, gate: dict[str, Any]) -> pd.DataFrame:
    """The activity table of a model that did not learn: every call ``none``, the reason in ``note``."""
    out = activity.copy()
    out["effect"] = "none"
    out["marginal_effect"] = "none"
    out["note"] = (
        f"not called: the model did not learn (held-out r {gate['r']:.3f}, lower bound "
        f"{gate['lower_bound']:.3f} <= min_valid_r {gate['min_valid_r']})"
    )
    return out


def run_grammar(
    motifs_dir: str | Path, attr_dir: str | Path, out_dir: str | Path, grammar_cfg: dict[str, Any]
) -> dict[str, Any]:
    """Compute and write every grammar table (see the module docstring); returns the summary."""
    out = MotifFiles(out_dir)
    g = dict(grammar_cfg)
    hits, motifs, genes, scan_summary = load_scan(motifs_dir)
    _, attributions = load_attributions(attr_dir, mmap=True)
    gate = model_gate(attributions, float(g["min_valid_r"]))
    log.info(
        "model gate: held-out r %.3f (n %d, 95%% lower bound %.3f) -> %s",
        gate["r"],
        gate["n"],
        gate["lower_bound"],
        "mine" if gate["passed"] else "did not learn",
    )
    refuse = g["require_learned_model"] and not gate["passed"]
    label_sd = float(np.std(attributions["label"].to_numpy(dtype=np.float64), ddof=1))
    ids = [m.motif_id for m in motifs]
    names = [m.name for m in motifs]
    levels = sorted(genes["cluster"].unique().tolist())
    n_genes, length = len(genes), int(scan_summary["length"])
    if hits.empty:
        log.warning("%s: no motif hit at all; every table is written empty", MotifFiles(motifs_dir).hits)
    sites = to_sites(hits)
    log.info("activity: %d hits -> %d sites, %d motifs, %d clusters", len(hits), len(sites), len(ids), len(levels))
    activity = motif_activity(
        sites["motif"].to_numpy(),
        sites["gene"].to_numpy(),
        sites["cluster"].to_numpy(),
        sites["contribution"].to_numpy(),
        sites["null_contribution"].to_numpy(),
        ids,
        names,
        levels,
        fdr=float(g["fdr"]),
        min_genes=int(g["min_genes"]),
        min_effect=float(g["min_effect"]),
        min_relative=float(g["min_relative_contribution"]),
        min_difference=float(g["min_label_fraction"]) * label_sd,
        start=sites["start"].to_numpy(),
        end=sites["end"].to_numpy(),
        n_genes=n_genes,
        length=length,
    )
    if refuse:
        activity = refuse_calls(activity, gate)
    write_tsv(out.activity, activity)
    write_tsv(
        out.enrichment,
        motif_enrichment(
            sites["motif"].to_numpy(), sites["gene"].to_numpy(), genes["cluster"].to_numpy(dtype=object), ids, names
        ),
    )
    if refuse:
        cooc, comm, selected = (
            pd.DataFrame(columns=COOC_COLUMNS),
            pd.DataFrame(columns=["motif_id", "motif_name", "community", "degree", "family_members"]),
            [],
        )
    else:
        strata = gene_strata(genes["cluster"].to_numpy(dtype=object), genes["gc"].to_numpy(dtype=np.float64))
        cooc, comm, selected = cooccurrence_network(sites, motifs, activity, strata, g)
    write_tsv(out.cooccurrence, cooc)
    write_tsv(out.communities, comm)
    calls = activity[activity["cluster"] == ALL]["effect"].value_counts().to_dict()
    summary = {
        "model_gate": gate,
        "refused": bool(refuse),
        "n_hits": int(len(hits)),
        "n_sites": int(len(sites)),
        "n_motifs": len(ids),
        "clusters": levels,
        "label_sd": label_sd,
        "min_mean_difference": float(g["min_label_fraction"]) * label_sd,
        "calls_all": {k: int(calls.get(k, 0)) for k in ("activating", "repressive", "none")},
        "calls_any_cluster": int(activity["effect"].isin(["activating", "repressive"]).sum()),
        "cooccurrence_motifs": len(selected),
        "significant_edges": int(cooc["significant"].sum()) if len(cooc) else 0,
        "communities": int(comm.loc[comm["community"] >= 0, "community"].nunique()) if len(comm) else 0,
        "settings": g,
    }
    write_json(out.grammar_summary, summary)
    return summary
