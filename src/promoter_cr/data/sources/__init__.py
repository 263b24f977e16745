"""Data sources. Each module exposes ``build(cfg, out_dir)``: it reads its inputs as
configured in ``cfg["dataset"]`` (the full validated config) and writes the data
set of :mod:`promoter_cr.data.dataset` to ``out_dir``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

SOURCES = ("simulate", "fasta", "genome", "xpresso")


def build_dataset(cfg: dict[str, Any], out_dir: str | Path) -> Path:
    """Build the data set of ``cfg["dataset"]["source"]`` into ``out_dir``."""
    source = cfg["dataset"]["source"]
    if source not in SOURCES:
        raise ValueError(f"unknown dataset.source {source!r}")
    module = importlib.import_module(f"promoter_cr.data.sources.{source}")
    out_dir = Path(out_dir)
    module.build(cfg, out_dir)
    return out_dir
