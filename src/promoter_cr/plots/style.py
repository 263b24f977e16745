"""Shared figure style and saving.

All figures use the non-interactive Agg backend, one consistent style, and are
saved atomically in every configured format (PNG and PDF by default).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from promoter_cr.atomic import atomic_path  # noqa: E402
from promoter_cr.errors import InputDataError  # noqa: E402

STYLE = {
    "figure.dpi": 100,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "pdf.fonttype": 42,
}
#: colours: activating, repressive, neutral, and a qualitative cycle for clusters/models
ACTIVATING = "#c0392b"
REPRESSIVE = "#2471a3"
NEUTRAL = "#7f8c8d"
#: seed of the random jitter and layouts in figures (figures are reproducible)
JITTER_SEED = 0
PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666", "#1f78b4", "#b2df8a"]


def apply_style() -> None:
    """Apply the project's matplotlib style."""
    plt.rcParams.update(STYLE)
    plt.rcParams["axes.prop_cycle"] = matplotlib.cycler(color=PALETTE)


def save_figure(fig: plt.Figure, stem: str | Path, formats: Iterable[str], dpi: int) -> list[Path]:
    """Save ``fig`` as ``<stem>.<fmt>`` for each format, atomically; close it; return the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi)
        out.append(path)
    plt.close(fig)
    return out


def save(fig: plt.Figure, stem: str | Path, fig_cfg: dict) -> list[Path]:
    """Save ``fig`` in the formats and at the dpi of the validated ``figures`` config section."""
    return save_figure(fig, stem, fig_cfg["formats"], int(fig_cfg["dpi"]))


def require(path: Path) -> Path:
    """``path``, or an :class:`InputDataError` when a figure's input table is missing.

    A figure never silently skips: the workflow declares every input of a figure rule, and a
    hand-run ``promoter-cr figures`` names the missing table.
    """
    if not Path(path).exists():
        raise InputDataError(path, "figure input is missing (run the stage that writes it first)")
    return Path(path)


apply_style()
