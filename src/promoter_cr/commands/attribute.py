"""``promoter-cr attribute | faithfulness | cluster``: weighted features, their faithfulness, gene clusters.

::

    promoter-cr attribute    --config C --checkpoint CKPT --data DIR --out DIR [--device D]
    promoter-cr faithfulness --config C --checkpoint CKPT --data DIR --attributions DIR --out DIR [--device D]
    promoter-cr cluster      --config C [--data DIR] --attributions DIR --out DIR
"""

from __future__ import annotations

import argparse

from promoter_cr.commands import add_config_arg, read_config


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("attribute", help="export the weighted features of a CR model (one forward pass per batch)")
    add_config_arg(p)
    p.add_argument("--checkpoint", required=True, help="CR checkpoint (best.ckpt)")
    p.add_argument("--data", required=True, help="data set folder (results/<ds>/data)")
    p.add_argument("--out", required=True, help="output folder (results/<ds>/attributions)")
    p.add_argument("--device", default=None, help="torch device (default: GPU when available, else CPU)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_attribute)

    p = subparsers.add_parser("faithfulness", help="compare weighted features with ISM and gradient x input of the same model")
    add_config_arg(p)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--attributions", required=True, help="folder written by `promoter-cr attribute`")
    p.add_argument("--out", required=True, help="output folder (faithfulness tables are written here)")
    p.add_argument("--device", default=None)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_faithfulness)

    p = subparsers.add_parser("cluster", help="k-means clustering of genes on their weighted-feature tracks")
    add_config_arg(p)
    p.add_argument("--data", default=None, help="data set folder (for sim_class; optional)")
    p.add_argument("--attributions", required=True)
    p.add_argument("--out", required=True, help="output folder (results/<ds>/clusters)")
    p.set_defaults(func=_cluster)


def _attribute(args: argparse.Namespace) -> int:
    from promoter_cr.interpret.attribute import export_weighted_features

    cfg = read_config(args.config)["attribution"]
    res = export_weighted_features(
        args.checkpoint, args.data, args.out, split=cfg["split"], batch_size=cfg["batch_size"],
        dtype=cfg["dtype"], device=args.device, progress=not args.no_progress,
    )
    print(f"wrote {res.weighted_features} ({res.n} x {res.length}) and {res.attributions}; largest |sum - prediction| = {res.max_abs_error:.3g}")
    return 0


def _faithfulness(args: argparse.Namespace) -> int:
    from promoter_cr.interpret.faithfulness import evaluate_faithfulness

    cfg = read_config(args.config)["attribution"]
    paths = evaluate_faithfulness(
        args.checkpoint, args.data, args.attributions, args.out,
        n_genes=cfg["faithfulness_genes"], top_k=cfg["top_k"], seed=cfg["seed"], batch_size=cfg["batch_size"],
        ism_max_positions=cfg.get("ism_max_positions", 1000), device=args.device, progress=not args.no_progress,
    )
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def _cluster(args: argparse.Namespace) -> int:
    from promoter_cr.interpret.cluster import cluster_genes

    cfg = read_config(args.config)["cluster"]
    summary = cluster_genes(args.attributions, args.data, args.out, cfg)
    extra = f", ARI vs sim_class {summary['ari']:.3f}" if "ari" in summary else ""
    print(f"k = {summary['k']} ({summary['chosen_by']}), Kruskal-Wallis p = {summary['kruskal_p']:.3g}{extra}; wrote {args.out}")
    return 0
