"""``promoter-cr figures``: redraw one figure family from the results tables alone."""

from __future__ import annotations

import argparse
import importlib
import logging
from pathlib import Path

from promoter_cr.commands import add_config_arg, read_config

#: stage -> (module under promoter_cr.plots, function name)
STAGES = {
    "models": ("models", "plot_models"),
    "attribution": ("attribution", "plot_attribution"),
    "clusters": ("clusters", "plot_clusters"),
    "motifs": ("motifs", "plot_motifs"),
    "examples": ("examples", "plot_examples"),
    "recovery": ("recovery", "plot_recovery"),
}

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("figures", help="draw one figure family from the results tables")
    p.add_argument("--stage", required=True, choices=sorted(STAGES))
    add_config_arg(p)
    p.add_argument("--results", required=True, type=Path, help="results/<dataset> folder")
    p.add_argument("--out", required=True, type=Path, help="folder for the figures")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = read_config(args.config)
    module, func = STAGES[args.stage]
    plot = getattr(importlib.import_module(f"promoter_cr.plots.{module}"), func)
    paths = plot(args.results, args.out, cfg["figures"])
    for p in paths:
        log.info("wrote %s", p)
    return 0
