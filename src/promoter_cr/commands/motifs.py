"""``promoter-cr scan``, ``grammar`` and ``recovery`` (stage 6)."""

from __future__ import annotations

import argparse
import logging

from promoter_cr.commands import add_command, add_config, add_data, add_dir, add_out, read_config

console = logging.getLogger("promoter_cr.console")


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = add_command(
        sub,
        parent,
        "scan",
        help="scan every promoter with FIMO and score each hit by its contribution",
        description="Scan the data set with the configured motifs (JASPAR via pyjaspar, or a MEME file) using "
        "memelite's FIMO on both strands; each hit gets the sum of the weighted features under it and under a "
        "nearby null window. Writes motifs.meme, gene_clusters.tsv, hits.parquet and scan_summary.json.",
        examples=[
            "promoter-cr scan --config config/config.yaml --data results/simulated/data --attributions results/simulated/attributions --clusters results/simulated/clusters --out results/simulated/motifs"
        ],
    )
    add_config(p)
    add_data(p)
    add_dir(p, "--attributions", "folder with the weighted features ('promoter-cr attribute')")
    add_dir(
        p, "--clusters", "folder with assignments.tsv ('promoter-cr cluster'); omitted: one cluster '0'", required=False
    )
    add_out(p, "results/<dataset>/motifs")
    p.set_defaults(func=run_scan)

    p = add_command(
        sub,
        parent,
        "grammar",
        help="activating/repressive motifs, enrichment, co-occurrence communities, spacing",
        description="From the scan's hits: motif activity per cluster, per-cluster enrichment, the co-occurrence "
        "network of motif families and its communities, preferred spacings and helical periodicity.",
        examples=[
            "promoter-cr grammar --config config/config.yaml --motifs-dir results/simulated/motifs --out results/simulated/motifs"
        ],
    )
    add_config(p)
    add_data(p, required=False)
    add_dir(p, "--motifs-dir", "folder written by 'promoter-cr scan'")
    add_out(p, "usually the same motifs folder")
    p.set_defaults(func=run_grammar)

    p = add_command(
        sub,
        parent,
        "recovery",
        help="score recovery of a simulator's planted grammar",
        description="Compare the grammar tables with the simulated data set's ground_truth.json: precision and "
        "recall of activating and repressive motifs, cooperating pairs and their spacing.",
        examples=[
            "promoter-cr recovery --config config/config.yaml --data results/simulated/data --motifs-dir results/simulated/motifs --out results/simulated/motifs"
        ],
    )
    add_config(p)
    add_data(p)
    add_dir(p, "--motifs-dir", "folder with motifs.meme and the grammar tables")
    add_out(p, "usually the same motifs folder")
    p.set_defaults(func=run_recovery)


def run_scan(args: argparse.Namespace) -> int:
    from promoter_cr.motifs.scan import scan_stage

    cfg = read_config(args.config)
    summary = scan_stage(args.data, args.attributions, args.clusters, args.out, cfg["motifs"], cfg["grammar"])
    console.info("%d hits of %d motifs in %d genes", summary["n_hits"], summary["n_motifs"], summary["n_genes"])
    return 0


def run_grammar(args: argparse.Namespace) -> int:
    from promoter_cr.motifs.grammar import run_grammar as grammar

    summary = grammar(args.motifs_dir, args.out, read_config(args.config)["grammar"])
    console.info(
        "calls in 'all': %s; significant edges: %d; communities: %d",
        summary["calls_all"],
        summary["significant_edges"],
        summary["communities"],
    )
    return 0


def run_recovery(args: argparse.Namespace) -> int:
    from promoter_cr.motifs.recovery import recovery_stage

    recovery = recovery_stage(args.data, args.motifs_dir, args.out, read_config(args.config)["grammar"])
    for r in recovery.itertuples():
        console.info(
            "%s: precision %s recall %s (%s of %s planted)",
            r.category,
            r.precision,
            r.recall,
            r.n_recovered,
            r.n_planted,
        )
    return 0
