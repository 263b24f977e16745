"""Chromosome names: ``chr1``/``1`` and ``chrM``/``MT``/``M`` are the same chromosome."""

from __future__ import annotations


def normalise_chrom(name: str) -> str:
    """Chromosome name without a ``chr`` prefix, ``M`` for ``MT``/``chrM`` (for matching only)."""
    s = str(name)
    if s.lower().startswith("chr"):
        s = s[3:]
    return "M" if s.upper() in ("M", "MT") else s
