"""``promoter-cr train``, ``promoter-cr metrics`` and ``promoter-cr predict`` (stage 3)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from promoter_cr.commands import add_checkpoint, add_command, add_config, add_data, add_device, add_out, read_config

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    _register_train(sub, parent)
    _register_metrics(sub, parent)
    _register_predict(sub, parent)


def _register_train(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = add_command(
        sub,
        parent,
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
    )
    add_config(p)
    add_data(p)
    p.add_argument("--model", required=True, metavar="NAME", help="model name (a key of 'models' in the config)")
    p.add_argument(
        "--fold",
        type=int,
        default=None,
        metavar="K",
        help="train cross-fitting fold model K: the genes of fold K (of attribution.crossfit_folds) held out",
    )
    add_out(p, "the model folder, e.g. results/<dataset>/models/<name>")
    p.set_defaults(func=run_train, runs_torch=True)


def _register_metrics(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    m = add_command(
        sub,
        parent,
        "metrics",
        help="collect the metrics.json of trained models into one table",
        description="One row per model and split (valid, test): Pearson r, signed squared Pearson r, coefficient "
        "of determination, Spearman rho, MSE.",
        examples=[
            "promoter-cr metrics --models-dir results/simulated/models --names cr "
            "xpresso_cnn kmer_ridge --out results/simulated/models/metrics.tsv"
        ],
    )
    m.add_argument(
        "--models-dir", required=True, type=Path, metavar="DIR", help="folder holding one sub-folder per model"
    )
    m.add_argument(
        "--names", nargs="+", required=True, metavar="NAME", help="model names (sub-folders of --models-dir)"
    )
    m.add_argument("--out", required=True, type=Path, metavar="TSV", help="output table (models/metrics.tsv)")
    m.set_defaults(func=run_metrics)


def _register_predict(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    q = add_command(
        sub,
        parent,
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
    )
    add_checkpoint(q, "best.ckpt of a CR / Xpresso CNN model, or model.pkl of a k-mer model")
    q.add_argument(
        "--sequences",
        required=True,
        type=Path,
        metavar="FILE",
        help="FASTA or CSV/TSV (gzip ok) of sequences of the training length",
    )
    q.add_argument("--out", required=True, type=Path, metavar="TSV", help="output table: id, prediction")
    q.add_argument(
        "--weighted-features",
        default=None,
        type=Path,
        metavar="NPZ",
        help="also write ids, predictions, bias and the (N, L) CR weighted features to this .npz",
    )
    q.add_argument(
        "--extra",
        default=None,
        type=Path,
        metavar="TABLE",
        help="table of extra per-gene features (id column + the model's feature columns) for models trained with them",
    )
    q.add_argument(
        "--batch-size",
        type=int,
        default=None,
        metavar="N",
        help="sequences per forward pass (default: the schema's attribution.batch_size)",
    )
    add_device(q)
    add_config(q, required=False)
    q.set_defaults(func=run_predict)


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
