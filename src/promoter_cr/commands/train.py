"""``promoter-cr train``, ``promoter-cr metrics`` and ``promoter-cr predict`` (stage 3)."""

from __future__ import annotations

import argparse
import json
import logging

from promoter_cr.commands import Command, arg, checkpoint, config, dataset, device, out, path, read_config

log = logging.getLogger(__name__)


def run_train(args: argparse.Namespace) -> int:
    from promoter_cr.models.train import train_model

    metrics = train_model(read_config(args.config), args.model, args.data, args.out, fold=args.fold)
    if metrics:
        summary = {s: round(v["pearson_r"], 4) for s, v in metrics["splits"].items()}
        logging.getLogger("promoter_cr.console").info("%s: Pearson r per split %s", args.model, json.dumps(summary))
    return 0


def run_metrics(args: argparse.Namespace) -> int:
    from promoter_cr.models.train import collect_metrics

    table = collect_metrics(args.models_dir, args.names, args.out)
    log.info("wrote %d rows to %s", len(table), args.out)
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from promoter_cr.models.predict import predict_file

    batch_size = args.batch_size or read_config(args.config)["attribution"]["batch_size"]
    predict_file(
        args.checkpoint,
        args.sequences,
        args.out,
        weighted_features=args.weighted_features,
        batch_size=batch_size,
        device=args.device,
        extra=args.extra,
    )
    return 0


COMMANDS = (
    Command(
        "train",
        help="train one model of the config on a data set",
        description="Train the model MODEL (a key of 'models' in the config) on the data set: CR, the plain CNN and "
        "the Xpresso CNN with Lightning (each type's own recipe; early stopping on the validation Pearson r, "
        "best.ckpt and last.ckpt; an interrupted run resumes from last.ckpt when the settings and data are the "
        "same), the k-mer ridge with scikit-learn (penalty by leave-one-out cross-validation). Writes "
        "predictions.tsv for every gene, metrics.json per split and history.tsv.",
        examples=[
            "promoter-cr train --config config/config.yaml --data "
            "results/simulated/data --model cr --out results/simulated/models/cr"
        ],
        options=[
            config(),
            dataset(),
            arg("--model", required=True, metavar="NAME", help="model name (a key of 'models' in the config)"),
            arg(
                "--fold",
                type=int,
                default=None,
                metavar="K",
                help="train cross-fitting fold model K: the genes of fold K (of attribution.crossfit_folds) held out",
            ),
            out("the model folder, e.g. results/<dataset>/models/<name>"),
        ],
        run=run_train,
        runs_torch=True,
    ),
    Command(
        "metrics",
        help="collect the metrics.json of trained models into one table",
        description="One row per model and split (valid, test): Pearson r, signed squared Pearson r, coefficient "
        "of determination, Spearman rho, MSE.",
        examples=[
            "promoter-cr metrics --models-dir results/simulated/models --names cr "
            "xpresso_cnn kmer_ridge --out results/simulated/models/metrics.tsv"
        ],
        options=[
            path("--models-dir", "DIR", "folder holding one sub-folder per model", required=True),
            arg("--names", nargs="+", required=True, metavar="NAME", help="model names (sub-folders of --models-dir)"),
            path("--out", "TSV", "output table (models/metrics.tsv)", required=True),
        ],
        run=run_metrics,
    ),
    Command(
        "predict",
        help="predict sequences from a FASTA/CSV/TSV with a trained model",
        description="Predict every sequence of a FASTA or CSV/TSV file (gzip ok; sequences of the training "
        "window length; ids must be unique) with a trained CR / Xpresso CNN checkpoint or a k-mer model.pkl. "
        "With --weighted-features, a CR model also writes one .npz holding the ids, predictions, bias and the "
        "(N, L) weighted features (prediction = sum of the weighted features + bias).",
        examples=[
            "promoter-cr predict --checkpoint "
            "results/simulated/models/cr/best.ckpt --sequences my_promoters.fa --out predictions.tsv",
            "promoter-cr predict --checkpoint results/simulated/models/cr/best.ckpt "
            "--sequences my.csv --out p.tsv --weighted-features tracks.npz",
        ],
        options=[
            checkpoint("best.ckpt of a CR / Xpresso CNN model, or model.pkl of a k-mer model"),
            path(
                "--sequences", "FILE", "FASTA or CSV/TSV (gzip ok) of sequences of the training length", required=True
            ),
            path("--out", "TSV", "output table: id, prediction", required=True),
            path(
                "--weighted-features",
                "NPZ",
                "also write ids, predictions, bias and the (N, L) CR weighted features to this .npz",
            ),
            path(
                "--extra",
                "TABLE",
                "table of extra per-gene features (id column + the model's feature columns) for models trained "
                "with them",
            ),
            arg(
                "--batch-size",
                type=int,
                default=None,
                metavar="N",
                help="sequences per forward pass (default: the schema's attribution.batch_size)",
            ),
            device,
            config(required=False),
        ],
        run=run_predict,
    ),
)
