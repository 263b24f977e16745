"""``promoter-cr train``, ``promoter-cr metrics`` and ``promoter-cr predict``."""

from __future__ import annotations

import argparse
import json
import logging

from promoter_cr.commands import add_config_arg, read_config

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train one model of the config on a data set")
    add_config_arg(p)
    p.add_argument("--data", required=True, help="data set folder (results/<ds>/data)")
    p.add_argument("--model", required=True, help="model name (a key of 'models' in the config)")
    p.add_argument("--out", required=True, help="output folder (results/<ds>/models/<name>)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.set_defaults(func=_train)

    m = subparsers.add_parser("metrics", help="collect metrics.json of trained models into one table")
    m.add_argument("--models-dir", required=True, help="folder holding one sub-folder per model")
    m.add_argument("--names", nargs="+", required=True, help="model names (sub-folders)")
    m.add_argument("--out", required=True, help="output TSV (models/metrics.tsv)")
    m.set_defaults(func=_metrics)

    q = subparsers.add_parser("predict", help="predict sequences from a FASTA/CSV/TSV with a trained model")
    q.add_argument("--checkpoint", required=True, help="best.ckpt of a CR / Xpresso CNN model (or a k-mer model.pkl)")
    q.add_argument("--sequences", required=True, help="FASTA or CSV/TSV (gzip ok) of sequences of the training length")
    q.add_argument("--out", required=True, help="output TSV: id<TAB>prediction")
    q.add_argument("--weighted-features", default=None, help="also write the (N, L) float32 CR weighted features to this .npy")
    q.add_argument("--extra", default=None, help="table of extra per-gene features (id + feature columns) for models that use them")
    q.add_argument("--batch-size", type=int, default=256)
    q.add_argument("--device", default="cpu", help="cpu or cuda (cuda:N)")
    q.set_defaults(func=_predict)


def _train(args: argparse.Namespace) -> int:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from promoter_cr.models.train import train_model

    cfg = read_config(args.config)
    metrics = train_model(cfg, args.model, args.data, args.out)
    if metrics:
        summary = {s: round(v["pearson_r"], 4) for s, v in metrics["splits"].items()}
        log.info("model %s: Pearson r per split %s", args.model, json.dumps(summary))
    return 0


def _metrics(args: argparse.Namespace) -> int:
    from pathlib import Path

    from promoter_cr.models.train import collect_metrics

    base = Path(args.models_dir)
    table = collect_metrics({n: base / n for n in args.names}, args.out)
    log.info("wrote %d rows to %s", len(table), args.out)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from promoter_cr.models.predict import predict_file

    predict_file(
        args.checkpoint,
        args.sequences,
        args.out,
        weighted_features=args.weighted_features,
        batch_size=args.batch_size,
        device=args.device,
        extra=args.extra,
    )
    return 0
