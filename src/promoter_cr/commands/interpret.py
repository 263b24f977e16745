"""``promoter-cr attribute``, ``faithfulness`` and ``cluster`` (stages 4-5)."""

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


def run_attribute(args: argparse.Namespace) -> int:
    from promoter_cr.interpret.attribute import export_weighted_features

    res = export_weighted_features(
        args.checkpoint if len(args.checkpoint) > 1 else args.checkpoint[0],
        args.data,
        args.out,
        read_config(args.config)["attribution"],
        device=args.device,
        progress=not args.no_progress,
    )
    console.info(
        "weighted features of %d genes x %d bp; largest |sum + bias - prediction| = %.3g",
        res.n,
        res.length,
        res.max_abs_error,
    )
    return 0


def run_faithfulness(args: argparse.Namespace) -> int:
    from promoter_cr.interpret.faithfulness import evaluate_faithfulness

    evaluate_faithfulness(
        args.checkpoint,
        args.data,
        args.attributions,
        args.out,
        read_config(args.config)["attribution"],
        device=args.device,
        progress=not args.no_progress,
    )
    return 0


def run_cluster(args: argparse.Namespace) -> int:
    from promoter_cr.interpret.cluster import cluster_genes

    summary = cluster_genes(args.attributions, args.data, args.out, read_config(args.config)["cluster"])
    extra = f", ARI vs planted classes {summary['ari']:.3f}" if "ari" in summary else ""
    console.info("k = %d (%s)%s", summary["k"], summary["chosen_by"], extra)
    return 0


COMMANDS = (
    Command(
        "attribute",
        help="export the weighted features of a CR model (one forward pass per batch)",
        description="Run a CR checkpoint over the data set and write its weighted features (one contribution per "
        "position, weighted_features.npy), the per-gene prediction, bias and contribution sum "
        "(attributions.tsv). Every batch is checked: contributions + bias == prediction.",
        examples=[
            "promoter-cr attribute --config config/config.yaml --checkpoint "
            "results/simulated/models/cr/best.ckpt --data results/simulated/data --out results/simulated/attributions"
        ],
        options=[
            config(),
            checkpoints(
                "a CR checkpoint, or the attribution.crossfit_folds fold checkpoints in fold order (cross-fitting: "
                "each gene's features from the fold model that did not train on it)"
            ),
            dataset(),
            out("results/<dataset>/attributions"),
            device,
            progress,
        ],
        run=run_attribute,
    ),
    Command(
        "faithfulness",
        help="compare weighted features with ISM and gradient x input of the same model",
        description="On a seeded sample of genes, correlate the exported weighted features with in-silico "
        "mutagenesis and gradient x input of the same checkpoint (per gene: Pearson, Spearman, top-k "
        "overlap); on simulated data also the share of |contribution| inside the planted sites.",
        examples=[
            "promoter-cr faithfulness --config config/config.yaml "
            "--checkpoint results/simulated/models/cr/best.ckpt --data results/simulated/data "
            " --attributions results/simulated/attributions --out results/simulated/attributions"
        ],
        options=[
            config(),
            checkpoint(),
            dataset(),
            folder("--attributions", "folder written by 'promoter-cr attribute'"),
            out("where the faithfulness tables go, usually the attributions folder"),
            device,
            progress,
        ],
        run=run_faithfulness,
    ),
    Command(
        "cluster",
        help="k-means clustering of genes on their weighted-feature tracks",
        description="Smooth, bin and (asinh) transform each gene's weighted features, run k-means (k fixed or "
        "chosen by silhouette over cluster.k_range), order clusters by mean expression, and describe "
        "expression per cluster (descriptive tests).",
        examples=[
            "promoter-cr cluster --config config/config.yaml --data results/simulated/data "
            "--attributions results/simulated/attributions --out results/simulated/clusters"
        ],
        options=[
            config(),
            dataset(required=False),
            folder("--attributions", "folder written by 'promoter-cr attribute'"),
            out("results/<dataset>/clusters"),
        ],
        run=run_cluster,
    ),
)
