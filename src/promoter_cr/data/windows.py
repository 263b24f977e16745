"""Promoter windows around TSSs as a trained model saw them: the window of a checkpoint, the TSS
table read with the training options, and the genes whose windows a genome holds.

The window rules themselves (strand, N padding past chromosome ends, chromosome names) are those of
the ``genome`` data source (:mod:`promoter_cr.data.sources.genome`); variant scoring and saturation
mutagenesis (:mod:`promoter_cr.interpret.variants`, :mod:`promoter_cr.interpret.saturation`) cut
their windows through here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.data.sources.genome import (
    Genome,
    read_tss_table,
    resolve_chromosomes,
    window_bounds,
)
from promoter_cr.errors import InputDataError

log = logging.getLogger(__name__)


# ============================================================================ window parameters
@dataclass(frozen=True)
class WindowSpec:
    """Promoter window around a TSS: ``upstream`` bp 5' of it plus ``downstream`` bp from it (inclusive)."""

    upstream: int
    downstream: int

    @property
    def length(self) -> int:
        return self.upstream + self.downstream


def window_spec(meta: Mapping[str, Any], *, upstream: int | None, downstream: int | None) -> WindowSpec:
    """The window a checkpoint's model was trained on.

    ``meta`` is the metadata of :func:`promoter_cr.models.checkpoint.load_model` (``dataset_meta`` is
    the training set's ``meta.json``; ``length`` the model's input length). A ``genome``-source set
    stores ``window: {upstream, downstream}``; for any other source both must be given explicitly
    (e.g. 7000 and 3500 for Xpresso's -7000..+3500 window). Explicit values must equal a stored
    genome window, and ``upstream + downstream`` must equal the model's input length; otherwise
    :class:`InputDataError` names the checkpoint.
    """
    path = meta.get("path")
    dmeta = meta.get("dataset_meta") or {}
    source = dmeta.get("source")
    stored = dmeta.get("window") if source == "genome" else None
    if upstream is not None or downstream is not None:
        if upstream is None or downstream is None:
            raise InputDataError(
                path, "give both upstream and downstream (bp around the TSS), or neither to use the checkpoint's window"
            )
        spec = WindowSpec(int(upstream), int(downstream))
        if stored and (int(stored["upstream"]), int(stored["downstream"])) != (spec.upstream, spec.downstream):
            raise InputDataError(
                path,
                f"window upstream={spec.upstream}, downstream={spec.downstream} "
                f"differs from the one the model was trained on "
                f"(upstream={stored['upstream']}, "
                f"downstream={stored['downstream']}); leave them unset to use the training window",
            )
    elif stored and "upstream" in stored and "downstream" in stored:
        spec = WindowSpec(int(stored["upstream"]), int(stored["downstream"]))
        tss_index = dmeta.get("tss_index")
        if tss_index is not None and int(tss_index) != spec.upstream:
            raise InputDataError(
                path, f"stored data-set meta has tss_index {tss_index} but window upstream {spec.upstream}"
            )
    else:
        raise InputDataError(
            path,
            f"this checkpoint was trained on a {source!r} data set, which stores no genome window around the TSS; "
            "variant windows must match training: give upstream and downstream explicitly "
            "(e.g. 7000 and 3500 for Xpresso's -7000..+3500 window)",
        )
    if spec.upstream < 0 or spec.downstream < 1:
        raise InputDataError(path, f"invalid window upstream={spec.upstream}, downstream={spec.downstream}")
    length = meta.get("length")
    if length is not None and int(length) != spec.length:
        raise InputDataError(path, f"the model takes {length} bp windows but upstream + downstream = {spec.length}")
    return spec


# ============================================================================ genes
def load_tss(path: str | Path, tss_options: Mapping[str, Any], dataset_meta: Mapping[str, Any] | None) -> pd.DataFrame:
    """Read a TSS table as the ``genome`` source does (:func:`read_tss_table`).

    ``tss_options``: the ``dataset.genome`` config keys ``tss_format``, ``bed_tss``, ``gtf_feature``,
    ``gtf_id_attribute``, ``strip_version``. A training set's stored ``bed_tss`` (``dataset_meta``)
    overrides the option, so BED TSSs are placed as in training (a difference is logged).
    """
    opts = dict(tss_options)
    trained = (dataset_meta or {}).get("bed_tss") if (dataset_meta or {}).get("source") == "genome" else None
    if trained and trained != opts.get("bed_tss"):
        log.warning(
            "bed_tss %r -> %r: the checkpoint's data set placed BED TSSs with %r", opts.get("bed_tss"), trained, trained
        )
        opts["bed_tss"] = trained
    tss = read_tss_table(Path(path), opts)
    if opts["strip_version"]:
        tss["gene_id"] = tss["gene_id"].str.replace(r"\.\d+$", "", regex=True)
    return tss


def _select_genes(tss: pd.DataFrame, gene_ids: Sequence[str] | None, tss_path: str | Path | None) -> pd.DataFrame:
    """A copy of ``tss`` with a ``line`` column, restricted to ``gene_ids`` (if given); ids must be unique."""
    tss = tss.copy()
    if "line" not in tss.columns:
        tss["line"] = np.arange(1, len(tss) + 1)
    if gene_ids is not None:
        wanted = pd.Index([str(g) for g in gene_ids])
        missing = wanted[~wanted.isin(tss["gene_id"])]
        if len(missing):
            raise InputDataError(
                tss_path, f"{len(missing)} requested genes are not in the TSS table (e.g. {missing[0]!r})"
            )
        tss = tss[tss["gene_id"].isin(wanted)]
    dup = tss["gene_id"].duplicated(keep=False)
    if dup.any():
        first = tss.loc[dup].iloc[0]
        raise InputDataError(
            tss_path,
            "duplicate gene id; one TSS per gene is needed",
            record=f"gene {first['gene_id']} (line {first['line']})",
        )
    return tss


def gene_windows(
    tss: pd.DataFrame,
    genome: Genome,
    spec: WindowSpec,
    *,
    tss_path: str | Path | None,
    missing_chromosome: str,
    gene_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Genes with their genomic windows.

    Parameters
    ----------
    tss
        Table of :func:`read_tss_table` / :func:`load_tss` (``gene_id, chrom, tss, strand``, optional ``line``).
    gene_ids
        Keep only these genes (an id absent from the table is an error).

    Returns
    -------
    DataFrame
        ``gene_id, chrom, ref`` (the FASTA's chromosome name), ``tss`` (0-based), ``strand``, ``start``,
        ``end`` (genomic window ``[start, end)``, int64), in table order, index 0..n-1.
    """
    tss = _select_genes(tss, gene_ids, tss_path)
    tss, refs, _ = resolve_chromosomes(
        tss, genome, missing_chromosome=missing_chromosome, tss_path=tss_path, key="variants.missing_chromosome"
    )
    pos = tss["tss"].to_numpy(dtype=np.int64)
    start, end = window_bounds(pos, tss["strand"].to_numpy(), spec.upstream, spec.downstream)
    return pd.DataFrame(
        {
            "gene_id": tss["gene_id"].to_numpy(dtype=object),
            "chrom": tss["chrom"].to_numpy(dtype=object),
            "ref": refs.to_numpy(dtype=object),
            "tss": pos,
            "strand": tss["strand"].to_numpy(dtype=object),
            "start": start,
            "end": end,
        }
    )


def gene_extra_matrix(
    genes: pd.DataFrame, extra_table: pd.DataFrame | None, features: Sequence[str], checkpoint: str | Path | None
) -> np.ndarray | None:
    """``(G, F)`` float32 extra features of ``genes`` for a model that uses them (``None`` when it does not).

    ``extra_table``: a table with ``gene_id`` and the feature columns (e.g. the training set's genes.tsv).
    """
    if not features:
        return None
    if extra_table is None:
        raise InputDataError(
            checkpoint,
            f"the model uses extra per-gene features {list(features)}; give a "
            f"table of them (e.g. the data set's genes.tsv)",
        )
    missing = [f for f in list(features) + ["gene_id"] if f not in extra_table.columns]
    if missing:
        raise InputDataError(None, f"the extra-feature table lacks columns {missing}")
    tab = extra_table.drop_duplicates("gene_id").set_index("gene_id")
    absent = ~genes["gene_id"].isin(tab.index)
    if absent.any():
        raise InputDataError(
            None, "no extra features for a gene to score", record=f"gene {genes['gene_id'][absent].iloc[0]}"
        )
    values = (
        tab.loc[genes["gene_id"], list(features)]
        .apply(pd.to_numeric, errors="coerce")
        .to_numpy(dtype=np.float32, na_value=np.nan)
    )
    if not np.isfinite(values).all():
        i = int(np.argwhere(~np.isfinite(values))[0][0])
        raise InputDataError(None, "extra feature is not a finite number", record=f"gene {genes['gene_id'].iloc[i]}")
    return values
