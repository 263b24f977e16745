"""Saturation mutagenesis of chosen promoters: every SNV in a stretch around the TSS, like saturation MPRA.

For each gene every non-N position of ``[start, end)`` (bp relative to the TSS, window orientation,
+ downstream) is changed to each of the other three bases; every mutant window is predicted through
the same padded-batch call path as the variant scores (``Predictor.batches(..., pad=True)``,
the reference row of the gene edited on the device by the ``mutate`` hook), so
``delta == predict_windows(mutant) - predict_windows(reference)`` exactly. The table is long, one row
per (gene, position, alternative base)::

    gene_id, position (relative to the TSS), window_index, ref, alt (bases on the gene's strand),
    ref_prediction, alt_prediction, delta, ref_contribution (the reference window's CR weighted
    feature at that position; NaN for a model without weighted features)

and, for windows cut from a genome (:func:`saturation_from_genome`), ``chrom, strand, genomic_pos``
(1-based) and ``genomic_ref, genomic_alt`` (forward-strand bases), ready to join with saturation-MPRA
measurements. tangermeme's ``saturation_mutagenesis`` centres its output over the four characters
and batches on its own; here raw ``alt - ref`` deltas on the CR call path are what is needed, and
the weighted features of the reference come from the same pass as its prediction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.data.sources.genome import Genome, extract_windows
from promoter_cr.data.windows import WindowSpec
from promoter_cr.errors import InputDataError
from promoter_cr.insilico.edits import EditPlan
from promoter_cr.models.inference import Predictor
from promoter_cr.seq.encoding import ALPHABET, N_CODE

SATURATION_COLUMNS = [
    "gene_id",
    "position",
    "window_index",
    "ref",
    "alt",
    "ref_prediction",
    "alt_prediction",
    "delta",
    "ref_contribution",
]
GENOMIC_COLUMNS = ["chrom", "strand", "genomic_pos", "genomic_ref", "genomic_alt"]
_BASES = np.array(list(ALPHABET + "N"), dtype=object)
_COMPLEMENT = np.array(list("TGCAN"), dtype=object)


def saturation_positions(length: int, tss_index: int, start: int, end: int) -> np.ndarray:
    """Window indices of ``[start, end)`` relative to the TSS, clipped to the window: ``(P,)`` int64."""
    lo, hi = max(0, tss_index + int(start)), min(length, tss_index + int(end))
    if hi <= lo:
        raise ValueError(
            f"saturation region [{start}, {end}) relative to the TSS lies "
            f"outside the {length} bp window (TSS at {tss_index})"
        )
    return np.arange(lo, hi, dtype=np.int64)


@dataclass
class SNVScan:
    """Predictions of every SNV at chosen positions of ``G`` windows (:func:`snv_scan`).

    ``gene``, ``pidx``: ``(n,)`` int64 window row and index into ``positions`` of each mutant (3 per
    non-N position, ordered by gene, position, alternative); ``alt``: ``(n,)`` uint8 new base;
    ``ref_prediction``: ``(G,)``; ``alt_prediction``: ``(n,)``; ``ref_contribution``: ``(G, P)`` the
    reference windows' CR weighted features at ``positions`` (NaN for a model without them).
    """

    positions: np.ndarray
    gene: np.ndarray
    pidx: np.ndarray
    alt: np.ndarray
    ref_prediction: np.ndarray
    alt_prediction: np.ndarray
    ref_contribution: np.ndarray

    @property
    def delta(self) -> np.ndarray:
        """``(n,)`` ``alt_prediction - ref_prediction`` of each mutant's window."""
        return self.alt_prediction - self.ref_prediction[self.gene]


def snv_scan(
    predictor: Predictor,
    windows: np.ndarray,
    positions: np.ndarray,
    *,
    extra: np.ndarray | None = None,
    desc: str = "SNVs",
) -> SNVScan:
    """Every SNV at ``positions`` (``(P,)`` window indices) of ``(G, L)`` uint8 ``windows``, in one padded run.

    The one in-silico mutagenesis of the package (saturation mutagenesis and the faithfulness check's
    ISM both go through it): the ``G`` reference rows, then one row per mutant, the gene's row edited
    on the device by :class:`~promoter_cr.insilico.edits.EditPlan` and predicted in padded
    batches (:meth:`~promoter_cr.models.inference.Predictor.batches`), so a mutant's prediction does not depend on
    which caller asked or how many mutants share its batch.
    """
    windows = np.ascontiguousarray(windows, dtype=np.uint8)
    g = windows.shape[0]
    pos = np.asarray(positions, dtype=np.int64)
    has_wf = predictor.is_cr
    what = ("prediction", "contributions") if has_wf else ("prediction",)
    ref = windows[:, pos].astype(np.int64)  # (G, P)
    gi, pi = np.nonzero(ref < N_CODE)
    m_gene = np.repeat(gi, 3)
    m_pidx = np.repeat(pi, 3)
    m_alt = ((np.repeat(ref[gi, pi], 3) + np.tile(np.arange(1, 4), len(gi))) % 4).astype(np.uint8)
    n = len(m_gene)
    plan = EditPlan(
        row=np.concatenate([np.arange(g), m_gene]),
        sub_idx=np.arange(g, g + n, dtype=np.int64),
        sub_pos=pos[m_pidx],
        sub_code=m_alt,
        replace=np.zeros(g + n, dtype=bool),
    )
    pred = np.empty(g + n)
    ref_wf = np.full((g, len(pos)), np.nan)
    for sl, out in predictor.batches(
        windows, rows=plan.row, extra=extra, what=what, mutate=plan.hook(predictor.device), pad=True, desc=desc
    ):
        pred[sl] = out.prediction
        if has_wf and sl.start < g:
            k = min(sl.stop, g) - sl.start
            ref_wf[sl.start : sl.start + k] = out.contributions[:k][:, pos]
    return SNVScan(pos, m_gene, m_pidx, m_alt, pred[:g], pred[g:], ref_wf)


def saturation_mutagenesis(
    predictor: Predictor,
    windows: np.ndarray,
    gene_ids: Sequence[str],
    *,
    tss_index: int,
    start: int,
    end: int,
    extra: np.ndarray | None = None,
) -> pd.DataFrame:
    """All SNVs of ``[start, end)`` (relative to the TSS) in each of ``(G, L)`` uint8 ``windows``.

    ``extra``: ``(G, F)`` float32 per-gene features (models trained with them). Returns the long
    table (:data:`SATURATION_COLUMNS`): ``3 * P`` rows per gene (fewer where the window has N),
    ordered by gene, position, alternative base.
    """
    windows = np.ascontiguousarray(windows, dtype=np.uint8)
    g, length = windows.shape
    if len(gene_ids) != g:
        raise ValueError("gene_ids must have one entry per window")
    pos = saturation_positions(length, tss_index, start, end)
    scan = snv_scan(predictor, windows, pos, extra=extra, desc="saturation")
    m_gene, m_pidx = scan.gene, scan.pidx
    ids = np.asarray([str(x) for x in gene_ids], dtype=object)
    return pd.DataFrame(
        {
            "gene_id": ids[m_gene],
            "position": pos[m_pidx] - tss_index,
            "window_index": pos[m_pidx],
            "ref": _BASES[windows[m_gene, pos[m_pidx]]],
            "alt": _BASES[scan.alt],
            "ref_prediction": scan.ref_prediction[m_gene],
            "alt_prediction": scan.alt_prediction,
            "delta": scan.delta,
            "ref_contribution": scan.ref_contribution[m_gene, m_pidx],
        },
        columns=SATURATION_COLUMNS,
    )


def saturation_from_genome(
    predictor: Predictor,
    genes: pd.DataFrame,
    genome: Genome,
    spec: WindowSpec,
    gene_ids: Sequence[str],
    *,
    start: int,
    end: int,
    extra: np.ndarray | None = None,
) -> pd.DataFrame:
    """Saturation mutagenesis of genes cut from a genome (windows as in training).

    ``genes``: :func:`promoter_cr.data.windows.gene_windows` table; ``extra``: ``(G, F)`` rows of
    ``genes`` or ``None``. Adds :data:`GENOMIC_COLUMNS` to the table of :func:`saturation_mutagenesis`.
    """
    ids = [str(x) for x in gene_ids]
    index = pd.Index(genes["gene_id"].astype(str))
    missing = [x for x in ids if x not in index]
    if missing:
        raise InputDataError(
            None,
            f"{len(missing)} genes chosen for saturation mutagenesis are not in the TSS table (e.g. {missing[0]!r})",
        )
    rows = index.get_indexer(ids)
    sub = genes.iloc[rows]
    windows = extract_windows(
        genome, sub["ref"].to_numpy(), sub["tss"].to_numpy(), sub["strand"].to_numpy(), spec.upstream, spec.downstream
    )
    table = saturation_mutagenesis(
        predictor,
        windows,
        ids,
        tss_index=spec.upstream,
        start=start,
        end=end,
        extra=None if extra is None else extra[rows],
    )
    info = sub.set_index(sub["gene_id"].astype(str))
    chrom = info.loc[table["gene_id"], "chrom"].to_numpy(dtype=object)
    strand = info.loc[table["gene_id"], "strand"].to_numpy(dtype=object)
    tss = info.loc[table["gene_id"], "tss"].to_numpy(dtype=np.int64)
    minus = strand == "-"
    offset = table["position"].to_numpy(dtype=np.int64)
    codes = {b: i for i, b in enumerate(ALPHABET + "N")}
    ref_i = np.array([codes[b] for b in table["ref"]], dtype=np.int64)
    alt_i = np.array([codes[b] for b in table["alt"]], dtype=np.int64)
    table.insert(1, "chrom", chrom)
    table.insert(2, "strand", strand)
    table.insert(3, "genomic_pos", np.where(minus, tss - offset, tss + offset) + 1)
    table["genomic_ref"] = np.where(minus, _COMPLEMENT[ref_i], _BASES[ref_i])
    table["genomic_alt"] = np.where(minus, _COMPLEMENT[alt_i], _BASES[alt_i])
    return table


def saturation_from_checkpoint(
    checkpoint: str | Path,
    genome_fasta: str | Path,
    tss: str | Path,
    out: str | Path,
    gene_ids: Sequence[str],
    *,
    tss_options: Mapping[str, Any],
    upstream: int | None,
    downstream: int | None,
    start: int,
    end: int,
    missing_chromosome: str,
    batch_size: int,
    device: str | None,
    extra_table: pd.DataFrame | None = None,
    index_dir: str | Path | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """End to end: saturation mutagenesis of ``gene_ids`` with a checkpoint's model -> ``out`` (TSV, atomic).

    Windows as in training (:func:`~promoter_cr.data.windows.window_spec`,
    :func:`~promoter_cr.data.windows.load_tss`); returns the table written.
    """
    from promoter_cr.atomic import write_tsv
    from promoter_cr.interpret.genome_inputs import open_gene_inputs

    with open_gene_inputs(
        checkpoint, genome_fasta, tss, gene_ids=gene_ids, tss_options=tss_options, upstream=upstream,
        downstream=downstream, missing_chromosome=missing_chromosome, batch_size=batch_size, device=device,
        extra_table=extra_table, index_dir=index_dir, progress=progress,
    ) as g:  # fmt: skip
        table = saturation_from_genome(
            g.predictor, g.genes, g.genome, g.spec, gene_ids, start=start, end=end, extra=g.extra
        )
    write_tsv(out, table)
    return table
