"""Sub-commands of ``promoter-cr``; each module exposes ``register(subparsers)``.

Every command takes ``--config``: a YAML config file, or an inline JSON object
(what the Snakemake rules pass: the validated sections a stage needs).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from promoter_cr.config import load_config, validate_config


def add_config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="config YAML file, or an inline JSON object of config sections")


def read_config(arg: str) -> dict[str, Any]:
    """Load ``--config``: inline JSON (validated, defaults filled, no cross-section checks) or a YAML file."""
    if arg.lstrip().startswith("{"):
        return validate_config(json.loads(arg), source="--config JSON", semantics=False)
    return load_config(arg)
