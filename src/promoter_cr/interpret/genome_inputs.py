"""What variant scoring and saturation mutagenesis both start from: a checkpoint's model, cut over a genome.

:func:`open_gene_inputs` loads the checkpoint, derives its window
(:func:`promoter_cr.data.windows.window_spec`), opens the genome, reads the TSS table as in training
(:func:`promoter_cr.data.windows.load_tss`), cuts the genes' windows and the model's extra features,
and yields them with one :class:`~promoter_cr.models.inference.Predictor`; the genome is closed on exit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.data.sources.genome import Genome
from promoter_cr.data.windows import WindowSpec, gene_extra_matrix, gene_windows, load_tss, window_spec
from promoter_cr.interpret.attribute import model_extra_features
from promoter_cr.models.checkpoint import load_model
from promoter_cr.models.inference import Predictor

__all__ = ["GeneInputs", "open_gene_inputs"]


@dataclass(frozen=True)
class GeneInputs:
    """A checkpoint's predictor, its window, the open genome, the genes' windows (the table of
    :func:`~promoter_cr.data.windows.gene_windows`) and their ``(G, F)`` float32 extra features (or ``None``)."""

    predictor: Predictor
    spec: WindowSpec
    genome: Genome
    genes: pd.DataFrame
    extra: np.ndarray | None


@contextmanager
def open_gene_inputs(
    checkpoint: str | Path,
    genome_fasta: str | Path,
    tss: str | Path,
    *,
    gene_ids: Sequence[str] | None,
    tss_options: Mapping[str, Any],
    upstream: int | None,
    downstream: int | None,
    missing_chromosome: str,
    batch_size: int,
    device: str | None,
    extra_table: pd.DataFrame | None = None,
    index_dir: str | Path | None = None,
    progress: bool = False,
) -> Iterator[GeneInputs]:
    """The :class:`GeneInputs` of ``gene_ids`` (``None``: every gene of the TSS table)."""
    model, meta = load_model(checkpoint)
    spec = window_spec(meta, upstream=upstream, downstream=downstream)
    predictor = Predictor(model, device, batch_size, progress)
    genome = Genome(Path(genome_fasta), index_dir=Path(index_dir) if index_dir else None)
    try:
        table = load_tss(tss, tss_options, meta.get("dataset_meta"))
        genes = gene_windows(
            table, genome, spec, tss_path=tss, missing_chromosome=missing_chromosome, gene_ids=gene_ids
        )
        extra = gene_extra_matrix(genes, extra_table, model_extra_features(meta), checkpoint)
        yield GeneInputs(predictor, spec, genome, genes, extra)
    finally:
        genome.close()
