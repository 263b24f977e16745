"""``promoter-cr figures``: redraw one figure family from the results tables alone (stage 7)."""

from __future__ import annotations

import argparse
import importlib
import logging

from promoter_cr.commands import Command, arg, config, path, read_config
from promoter_cr.layout import FIGURES

log = logging.getLogger(__name__)


def run_figures(args: argparse.Namespace) -> int:
    """Each stage's figures are drawn by ``promoter_cr.plots.<stage>.plot_<stage>``."""
    plot = getattr(importlib.import_module(f"promoter_cr.plots.{args.stage}"), f"plot_{args.stage}")
    for written in plot(args.results, args.out, read_config(args.config)["figures"]):
        log.info("wrote %s", written)
    return 0


COMMANDS = (
    Command(
        "figures",
        help="draw one figure family from the results tables",
        description="Redraw the figures of one stage from the tables under results/<dataset> (no model is "
        "retrained or re-run). Formats and resolution come from the 'figures' config section. A missing "
        "input table is an error naming it.",
        examples=[
            "promoter-cr figures --stage clusters --config config/config.yaml --results "
            "results/simulated --out results/simulated/figures/clusters"
        ],
        options=[
            arg("--stage", required=True, choices=list(FIGURES), help="figure family: " + ", ".join(FIGURES)),
            config(required=False),
            path("--results", "DIR", "results/<dataset> folder", required=True),
            path("--out", "DIR", "folder for the figures, e.g. results/<dataset>/figures/<stage>", required=True),
        ],
        run=run_figures,
    ),
)
