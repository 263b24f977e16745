"""Data source ``fasta``: promoter sequences already extracted, from a FASTA file or a
CSV/TSV table (gzip ok), with labels in the same file or in a separate table.

Config: ``dataset.fasta`` (see the schema). How each input is read:

FASTA
    The gene id is the header text before the first ``|`` (and before any
    whitespace or ``::``). ``key=value`` fields separated by ``|`` can hold the
    label: ``label_column: "log(TPM)"`` reads ``|log(TPM)=1.29|``. A
    ``::chrN:start-end(...)`` suffix (``bedtools getfasta -name`` style) gives the
    ``chrom``, ``start``, ``end`` columns of genes.tsv, so a chromosome split is
    possible. ``id_column`` and ``sequence_column`` do not apply.
CSV/TSV
    ``.csv`` is comma-separated, ``.tsv``/``.txt`` tab-separated (otherwise sniffed
    from the first line). The sequence column is ``sequence_column``, else a
    column named ``sequence``, else the only column holding DNA. Ids come from
    ``id_column``, else ``seq000001, seq000002, ...`` by row. The label is
    ``label_column``, else a column named ``label``, else the other column of a
    two-column table. With ``has_header: false`` columns are named ``"0"``,
    ``"1"``, ... (0-based); an integer in the config is always a 0-based column
    position. A ``chrom`` column, if present, is kept (chromosome split).
Separate label table (``labels``)
    A CSV/TSV with a header row, joined on the id: ``labels_id_column`` (default:
    first column) and ``labels_value_column`` (default: ``label``, else the second
    column). Every sequence id must have a label (else an error naming the id);
    label rows without a sequence are counted in the log.

Sequences may be lower case; characters outside ACGTN are an error naming the file
and the record. Unequal lengths need ``pad_to`` (N padding, centred). Labels go
through ``log_transform``. ``tss_index`` (optional) records where the TSS sits in
the final window.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.atomic import atomic_dir, write_tsv
from promoter_cr.data import readers as tables
from promoter_cr.data.dataset import validate_genes, write_dataset
from promoter_cr.data.readers import parse_fasta_header
from promoter_cr.data.splits import apply_split
from promoter_cr.errors import InputDataError
from promoter_cr.layout import DataFiles

log = logging.getLogger(__name__)


def _read_fasta_input(path: Path, fc: dict[str, Any]) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Genes table (gene_id, [label_raw], [chrom, start, end, strand]), sequences and record names of a FASTA."""
    label_field = fc["label_column"]
    ids, seqs, records, headers = tables.read_fasta_records(path)
    parsed = [parse_fasta_header(h) for h in headers]
    genes = pd.DataFrame({"gene_id": ids})
    if label_field is not None:
        labels = []
        for (_, fields, _), record in zip(parsed, records):
            if label_field not in fields:
                known = ", ".join(fields) or "none"
                raise InputDataError(
                    path, f"header has no field {label_field!r} for the label (fields: {known})", record=record
                )
            labels.append(fields[label_field])
        genes["label_raw"] = labels
    locs = [loc for _, _, loc in parsed]
    if any(locs):
        loc_df = pd.DataFrame(locs)
        for col in ("chrom", "start", "end", "strand"):
            if col in loc_df.columns:
                genes[col] = loc_df[col].to_numpy()
        if "chrom" in genes.columns and genes["chrom"].isna().any():
            i = int(np.flatnonzero(genes["chrom"].isna().to_numpy())[0])
            log.warning(
                "%s: %d records have no ::chrom:start-end location (first %s)",
                path,
                int(genes["chrom"].isna().sum()),
                records[i],
            )
            genes = genes.drop(columns=[c for c in ("chrom", "start", "end", "strand") if c in genes.columns])
    return genes, seqs, records


def _read_table_input(path: Path, fc: dict[str, Any]) -> tuple[pd.DataFrame, list[str], list[str]]:
    df, ids, seqs, records, seq_col, id_col = tables.read_sequence_table(
        path, sequence_column=fc["sequence_column"], id_col=fc["id_column"], has_header=bool(fc["has_header"])
    )
    genes = pd.DataFrame({"gene_id": np.asarray(ids, dtype=object)})
    label_col = None
    if fc["label_column"] is not None:
        label_col = tables.resolve_column(df, fc["label_column"], path, "label")
    elif not fc["labels"]:
        if "label" in df.columns:
            label_col = "label"
        else:
            others = [c for c in df.columns if c not in (seq_col, id_col)]
            if len(others) == 1:
                label_col = others[0]
            else:
                raise InputDataError(
                    path,
                    "cannot tell which column holds the label; set dataset.fasta.label_column or dataset.fasta.labels",
                )
    if label_col is not None:
        genes["label_raw"] = df[label_col].to_numpy(dtype=object)
    if "chrom" in df.columns and "chrom" not in (seq_col, label_col, id_col):
        genes["chrom"] = df["chrom"].to_numpy(dtype=object)
    return genes, seqs, records


def _join_labels(genes: pd.DataFrame, fc: dict[str, Any]) -> tuple[pd.DataFrame, Path]:
    """Attach ``label_raw`` from the separate label table (every id must be found)."""
    lpath = tables.require_file(fc["labels"], "dataset.fasta.labels (label table)")
    lab = tables.read_table(lpath, has_header=True)
    id_col = (
        tables.resolve_column(lab, fc["labels_id_column"], lpath, "labels id")
        if fc.get("labels_id_column") is not None
        else lab.columns[0]
    )
    if fc.get("labels_value_column") is not None:
        val_col = tables.resolve_column(lab, fc["labels_value_column"], lpath, "labels value")
    elif "label" in lab.columns and "label" != id_col:
        val_col = "label"
    elif lab.shape[1] >= 2:
        val_col = [c for c in lab.columns if c != id_col][0]
    else:
        raise InputDataError(lpath, "label table needs an id column and a value column")
    lab_ids = lab[id_col].str.strip()
    tables.check_unique(lab_ids, lpath, "label id")
    mapping = pd.Series(lab[val_col].to_numpy(dtype=object), index=lab_ids.to_numpy(dtype=object))
    present = genes["gene_id"].isin(mapping.index)
    if not present.all() and fc["missing_label"] == "error":
        missing = genes.loc[~present, "gene_id"]
        raise InputDataError(
            lpath,
            f"no label for {len(missing)} of {len(genes)} sequence ids (first: {missing.iloc[0]}); "
            "set dataset.fasta.missing_label: drop to leave them out",
            record=f"gene {missing.iloc[0]}",
        )
    extra = int((~mapping.index.isin(genes["gene_id"])).sum())
    if extra:
        log.info("%s: %d label rows have no sequence and are ignored", lpath, extra)
    out = genes.copy()
    # ids without a label row are missing labels (dropped by parse_labels under missing_label: drop)
    out["label_raw"] = mapping.reindex(genes["gene_id"].to_numpy()).to_numpy(dtype=object)
    return out, lpath


def build(cfg: dict[str, Any], out_dir: Path) -> None:
    """Build the ``fasta`` data set of ``cfg`` into ``out_dir`` (sequences.npy, genes.tsv, meta.json).

    Raises :class:`InputDataError` naming the file and the record for any bad input;
    nothing is written then.
    """
    fc = cfg["dataset"]["fasta"]
    path = tables.require_file(fc.get("sequences"), "dataset.fasta.sequences (promoter sequences)")
    fmt = "fasta" if tables.is_fasta(path) else "table"
    if fmt == "fasta":
        genes, seqs, records = _read_fasta_input(path, fc)
    else:
        genes, seqs, records = _read_table_input(path, fc)
    tables.check_unique(genes["gene_id"], path, "gene id")
    label_path = path
    if fc.get("labels"):
        if fc.get("label_column") is not None:
            raise InputDataError(None, "give either dataset.fasta.label_column or dataset.fasta.labels, not both")
        genes, label_path = _join_labels(genes, fc)
    elif "label_raw" not in genes.columns:
        raise InputDataError(
            path,
            "no labels: set dataset.fasta.label_column (a header field such as "
            "'TPM') or dataset.fasta.labels (a label table)",
        )
    values, usable = tables.parse_labels(
        genes["label_raw"], label_path, records, fc["missing_label"], "dataset.fasta.missing_label"
    )
    dropped = tables.missing_label_table(genes["gene_id"], records, genes["label_raw"], ~usable)
    if not usable.all():
        log.warning(
            "%s: %d of %d rows have no usable label and are left out (missing_label: drop; ids in %s)",
            label_path,
            len(dropped),
            len(genes),
            DataFiles(out_dir).missing_labels.name,
        )
        keep = np.flatnonzero(usable)
        genes, values = genes.iloc[keep].reset_index(drop=True), values[keep]
        seqs, records = [seqs[i] for i in keep], [records[i] for i in keep]
    genes["label"] = tables.log_transform(values, fc["log_transform"], label_path, ids=genes["gene_id"])
    genes = genes.drop(columns=["label_raw"])
    codes = tables.encode_records(seqs, records, path, fc.get("pad_to"))
    del seqs
    split, split_record = apply_split(genes, cfg["dataset"]["split"], has_source_split=False, path=path)
    genes.insert(2, "split", split)
    genes = validate_genes(genes, label_path)
    length = int(codes.shape[1])
    tss_index = fc.get("tss_index")
    if tss_index is not None and not 0 <= int(tss_index) < length:
        raise InputDataError(path, f"dataset.fasta.tss_index {tss_index} is outside the {length} bp window")
    inputs, sums = tables.input_record({"sequences": path, "labels": label_path if fc.get("labels") else None})
    meta = {
        "source": "fasta",
        "format": fmt,
        "window": {"length": length, "pad_to": fc.get("pad_to")},
        "tss_index": None if tss_index is None else int(tss_index),
        "label": {
            "column": fc.get("label_column") or fc.get("labels_value_column"),
            "log_transform": fc["log_transform"],
        },
        "inputs": inputs,
        "input_sha256": sums,
        "split": split_record,
        "missing_labels": {"policy": fc["missing_label"], "dropped": len(dropped)},
    }
    log.info("fasta source: %d sequences of %d bp from %s", len(genes), length, path)
    with atomic_dir(out_dir) as tmp:
        write_tsv(DataFiles(tmp).missing_labels, dropped)
        write_dataset(tmp, codes, genes, meta)
