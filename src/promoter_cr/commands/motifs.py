"""``promoter-cr scan``, ``grammar``, ``spacing``, ``recovery``, ``hypothetical`` and ``denovo`` (stage 6)."""

from __future__ import annotations

import argparse
import logging

from promoter_cr.commands import (
    Command,
    checkpoint,
    checkpoints,
    config,
    dataset,
    device,
    folder,
    out,
    progress,
    read_config,
)

console = logging.getLogger("promoter_cr.console")


def run_scan(args: argparse.Namespace) -> int:
    from promoter_cr.motifs.scan import scan_stage

    cfg = read_config(args.config)
    summary = scan_stage(args.data, args.attributions, args.clusters, args.out, cfg["motifs"], cfg["grammar"])
    console.info("%d hits of %d motifs in %d genes", summary["n_hits"], summary["n_motifs"], summary["n_genes"])
    return 0


def run_grammar(args: argparse.Namespace) -> int:
    from promoter_cr.motifs.grammar import run_grammar as grammar

    summary = grammar(args.motifs_dir, args.attributions, args.out, read_config(args.config)["grammar"])
    if summary["refused"]:
        gate = summary["model_gate"]
        console.info(
            "nothing called: the model did not learn (held-out r %.3f, lower bound %.3f)",
            gate["r"],
            gate["lower_bound"],
        )
    console.info(
        "calls in 'all': %s; significant edges: %d; communities: %d",
        summary["calls_all"],
        summary["significant_edges"],
        summary["communities"],
    )
    return 0


def run_spacing(args: argparse.Namespace) -> int:
    from promoter_cr.motifs.spacing import run_spacing as spacing

    summary = spacing(args.data, args.motifs_dir, args.checkpoint, args.out, read_config(args.config)["grammar"],
                      device=args.device, progress=not args.no_progress)  # fmt: skip
    if summary["refused"]:
        console.info("no insertion experiment: the grammar stage refused the model")
    else:
        console.info("%d candidate pairs tested: %d preferred spacings, %d cooperative pairs, %d periodic pairs",
                     summary["n_tested"], summary.get("preferred_spacings", 0), summary.get("cooperative_pairs", 0),
                     summary.get("periodic_pairs", 0))  # fmt: skip
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


def run_hypothetical(args: argparse.Namespace) -> int:
    from promoter_cr.motifs.denovo_stage import hypothetical_stage

    path = hypothetical_stage(
        args.checkpoint, args.data, args.attributions, read_config(args.config)["denovo"],
        device=args.device, progress=not args.no_progress,
    )  # fmt: skip
    console.info("wrote %s", path)
    return 0


def run_denovo(args: argparse.Namespace) -> int:
    from promoter_cr.motifs.denovo_stage import denovo_stage

    summary = denovo_stage(
        args.data, args.attributions, args.clusters, args.motifs_dir, args.out, read_config(args.config)["denovo"]
    )
    console.info(
        "%d seqlets -> %d patterns (%d novel)", summary["seqlets_called"], summary["n_patterns"], summary["n_novel"]
    )
    return 0


COMMANDS = (
    Command(
        "scan",
        help="scan every promoter with FIMO and score each hit by its contribution",
        description="Scan the data set with the configured motifs (JASPAR via pyjaspar, or a MEME file) using "
        "memelite's FIMO on both strands; each hit gets the sum of the weighted features under it and under a "
        "nearby null window. Writes motifs.meme, gene_clusters.tsv, hits.parquet and scan_summary.json.",
        examples=[
            "promoter-cr scan --config config/config.yaml --data results/simulated/data --attributions "
            "results/simulated/attributions --clusters results/simulated/clusters --out results/simulated/motifs"
        ],
        options=[
            config(),
            dataset(),
            folder("--attributions", "folder with the weighted features ('promoter-cr attribute')"),
            folder(
                "--clusters", "folder with assignments.tsv ('promoter-cr cluster'); omitted: one cluster '0'", False
            ),
            out("results/<dataset>/motifs"),
        ],
        run=run_scan,
    ),
    Command(
        "grammar",
        help="activating/repressive motifs, enrichment, co-occurrence network and communities",
        description="From the scan's sites (overlapping same-motif hits collapsed): motif activity per cluster "
        "(per-gene paired test against composition-matched null windows), per-cluster enrichment, the "
        "co-occurrence network of motif families (gene-level, stratified permutation null) and its communities. "
        "Nothing is called from a model whose held-out predictions show it did not learn.",
        examples=[
            "promoter-cr grammar --config config/config.yaml --motifs-dir results/simulated/motifs "
            "--attributions results/simulated/attributions --out results/simulated/motifs"
        ],
        options=[
            config(),
            folder("--motifs-dir", "folder written by 'promoter-cr scan'"),
            folder("--attributions", "folder with attributions.tsv (its held-out predictions gate the stage)"),
            out("usually the same motifs folder"),
        ],
        run=run_grammar,
    ),
    Command(
        "spacing",
        help="cooperativity and preferred spacings of co-occurring pairs, measured on the model",
        description="For the significant co-occurrence edges (at most grammar.insilico_max_pairs): write A alone, "
        "B alone and A+B at every spacing and orientation into dinucleotide-shuffled promoters of the data set and "
        "measure the model's interaction f(AB) - f(A) - f(B) + f(0) with its CI over backgrounds; test preferred "
        "spacings, cooperativity and helical periodicity. Writes spacing.tsv, cooperativity.tsv and "
        "spacing_summary.json. Nothing is run when the grammar stage refused the model.",
        examples=[
            "promoter-cr spacing --config config/config.yaml --data results/simulated/data "
            "--motifs-dir results/simulated/motifs --checkpoint results/simulated/models/cr/best.ckpt "
            "--out results/simulated/motifs"
        ],
        options=[
            config(),
            dataset(),
            folder("--motifs-dir", "folder written by 'promoter-cr scan' and 'promoter-cr grammar'"),
            checkpoint("the analysis model's checkpoint (results/<dataset>/models/<name>/best.ckpt)"),
            device,
            progress,
            out("usually the same motifs folder"),
        ],
        run=run_spacing,
    ),
    Command(
        "recovery",
        help="score recovery of a simulator's planted grammar",
        description="Compare the grammar tables with the simulated data set's ground_truth.json: precision and "
        "recall of activating and repressive motifs, cooperating pairs and their spacing.",
        examples=[
            "promoter-cr recovery --config config/config.yaml --data results/simulated/data "
            "--motifs-dir results/simulated/motifs --out results/simulated/motifs"
        ],
        options=[
            config(),
            dataset(),
            folder("--motifs-dir", "folder with motifs.meme and the grammar tables"),
            out("usually the same motifs folder"),
        ],
        run=run_recovery,
    ),
    Command(
        "hypothetical",
        help="export the CR model's contextual weights w(x) (hypothetical contributions) for de novo motifs",
        description="Run the checkpoint(s) the weighted features came from over the same genes and write "
        "hypothetical_weights.npy (n x 4 x L, rows as weighted_features.npy) into the attribution folder; every "
        "batch is checked to reproduce the model's weighted features. With cross-fitting give the fold "
        "checkpoints in fold order: each gene gets the weights of the model that did not train on it.",
        examples=[
            "promoter-cr hypothetical --config config/config.yaml --checkpoint results/simulated/models/cr/best.ckpt "
            "--data results/simulated/data --attributions results/simulated/attributions"
        ],
        options=[
            config(),
            checkpoints(
                "the checkpoint(s) of attribution_meta.json: one CR checkpoint, or the fold checkpoints in fold order"
            ),
            dataset(),
            folder("--attributions", "attribution folder ('promoter-cr attribute'); receives hypothetical_weights.npy"),
            device,
            progress,
        ],
        run=run_hypothetical,
    ),
    Command(
        "denovo",
        help="de novo motifs (TF-MoDISco-lite) from the model's own weights, matched to the scanned motif set",
        description="Call seqlets on the weighted features, cluster them into patterns (all genes, and each "
        "k-means cluster when denovo.per_cluster) of either sign, and match every pattern to motifs.meme with "
        "Tomtom; a pattern without a match at q < denovo.match_q_threshold is reported as novel. Writes "
        "patterns.meme, patterns.tsv, seqlets.tsv and denovo_summary.json.",
        examples=[
            "promoter-cr denovo --config config/config.yaml --data results/simulated/data "
            "--attributions results/simulated/attributions --clusters results/simulated/clusters "
            "--motifs-dir results/simulated/motifs --out results/simulated/motifs/denovo"
        ],
        options=[
            config(),
            dataset(),
            folder("--attributions", "attribution folder with hypothetical_weights.npy ('promoter-cr hypothetical')"),
            folder("--clusters", "folder with assignments.tsv; omitted: patterns of all genes only", False),
            folder("--motifs-dir", "folder with motifs.meme ('promoter-cr scan'), the set patterns are matched to"),
            out("results/<dataset>/motifs/denovo"),
        ],
        run=run_denovo,
    ),
)
