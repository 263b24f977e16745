"""The on-disk data set every source produces and every later stage reads.

Layout of ``<root>/`` (``results/<dataset>/data/``)::

    sequences.npy   (N, L) uint8 codes A=0 C=1 G=2 T=3 N=4, opened memory-mapped
    genes.tsv       gene_id, label, split (train|valid|test), then optional extra
                    feature columns (listed in meta["extra_features"]) and
                    optional annotation columns (chrom, tss, strand, ...)
    meta.json       source, length, window, tss_index, extra_features, split
                    counts, input checksums, package version

Row ``i`` of ``sequences.npy`` is row ``i`` of ``genes.tsv``. A float one-hot of the
whole set is never built: one-hot is made per batch.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr import __version__
from promoter_cr.atomic import atomic_path, write_json, write_tsv
from promoter_cr.data.readers import check_unique
from promoter_cr.data.splits import SPLITS
from promoter_cr.errors import InputDataError
from promoter_cr.layout import DataFiles


@dataclass
class Dataset:
    """A loaded data set. ``sequences`` is a read-only ``(N, L)`` uint8 memmap."""

    root: Path
    sequences: np.ndarray
    genes: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.sequences.shape[0])

    @property
    def length(self) -> int:
        return int(self.sequences.shape[1])

    @property
    def extra_features(self) -> list[str]:
        return list(self.meta.get("extra_features", []))

    def indices(self, split: str | None) -> np.ndarray:
        """Row indices of ``split`` (``None`` or ``"all"``: every row), ``(n,)`` int64."""
        if split in (None, "all"):
            return np.arange(self.n, dtype=np.int64)
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS} or 'all'")
        return np.flatnonzero(self.genes["split"].to_numpy() == split).astype(np.int64)

    def with_splits(self, splits: np.ndarray) -> Dataset:
        """The same data set with other split labels (``(N,)``; e.g. a cross-fitting fold's)."""
        genes = self.genes.copy()
        genes["split"] = np.asarray(splits, dtype=object)
        return Dataset(root=self.root, sequences=self.sequences, genes=genes, meta=self.meta)

    def labels(self) -> np.ndarray:
        """``(N,)`` float32 labels."""
        return self.genes["label"].to_numpy(dtype=np.float32)

    def extra(self) -> np.ndarray | None:
        """``(N, F)`` float32 extra features, or ``None`` when the set has none."""
        cols = self.extra_features
        if not cols:
            return None
        return self.genes[cols].to_numpy(dtype=np.float32)


def load_dataset(root: str | Path, mmap: bool = True) -> Dataset:
    """Open a data set written by :func:`write_dataset`.

    Raises
    ------
    InputDataError
        If a file is missing or the row counts disagree.
    """
    root = Path(root)
    files = DataFiles(root)
    for path in (files.sequences, files.genes, files.meta):
        if not path.exists():
            raise InputDataError(path, "data set file is missing (build the data set first)")
    import json

    meta = json.loads(files.meta.read_text())
    seqs = np.load(files.sequences, mmap_mode="r" if mmap else None)
    genes = pd.read_csv(
        files.genes, sep="\t", dtype={"gene_id": str, "split": str}, keep_default_na=False, na_values=[""]
    )
    if seqs.ndim != 2 or seqs.dtype != np.uint8:
        raise InputDataError(files.sequences, f"expected a 2-D uint8 array, found {seqs.dtype} {seqs.shape}")
    if len(genes) != seqs.shape[0]:
        raise InputDataError(files.genes, f"{len(genes)} rows but {files.sequences.name} has {seqs.shape[0]}")
    return Dataset(root=root, sequences=seqs, genes=genes, meta=meta)


def validate_genes(genes: pd.DataFrame, path: str | Path | None) -> pd.DataFrame:
    """Check the gene table: unique non-empty ids, finite numeric labels, known splits.

    Returns the table with ``label`` as float64. Raises :class:`InputDataError`
    naming ``path`` and the first offending gene.
    """
    if len(genes) == 0:
        raise InputDataError(path, "no records (empty input)")
    ids = genes["gene_id"].astype(str)
    empty = ids.str.strip() == ""
    if empty.any():
        raise InputDataError(path, "empty gene id", record=f"row {int(np.flatnonzero(empty.to_numpy())[0]) + 1}")
    check_unique(ids, path, "gene id")
    labels = pd.to_numeric(genes["label"], errors="coerce")
    bad = labels.isna() | ~np.isfinite(labels.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        value = genes["label"].iloc[i]
        shown = repr(value) if isinstance(value, str) else str(value)
        raise InputDataError(path, f"label {shown} is not a finite number", record=f"gene {ids.iloc[i]}")
    out = genes.copy()
    out["gene_id"] = ids
    out["label"] = labels.astype(float)
    if "split" in out.columns:
        unknown = ~out["split"].isin(SPLITS)
        if unknown.any():
            i = int(np.flatnonzero(unknown.to_numpy())[0])
            raise InputDataError(
                path,
                f"unknown split {out['split'].iloc[i]!r} (expected train, valid or test)",
                record=f"gene {ids.iloc[i]}",
            )
    return out


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


class SequenceWriter:
    """Fill an ``(N, L)`` uint8 ``.npy`` on disk row block by row block, then publish it atomically.

    Use as a context manager; the final file appears only if the block exits cleanly::

        with SequenceWriter(DataFiles(out).sequences, n, length) as w:
            w.write(0, codes_block)   # (b, L) uint8
    """

    def __init__(self, path: str | Path, n: int, length: int):
        self.path = Path(path)
        self.n = n
        self.length = length
        self._ctx = atomic_path(self.path)
        self.array: np.ndarray | None = None

    def __enter__(self) -> SequenceWriter:
        tmp = self._ctx.__enter__()
        self.array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(self.n, self.length))
        return self

    def write(self, start: int, block: np.ndarray) -> None:
        """Write ``block`` ``(b, L)`` uint8 at rows ``start:start+b``."""
        assert self.array is not None
        self.array[start : start + len(block)] = block

    def __exit__(self, exc_type, exc, tb) -> bool:
        assert self.array is not None
        self.array.flush()
        del self.array
        self.array = None
        return bool(self._ctx.__exit__(exc_type, exc, tb))


def write_dataset(
    out_dir: str | Path,
    sequences: np.ndarray | None,
    genes: pd.DataFrame,
    meta: dict[str, Any],
    *,
    sequences_written: bool = False,
) -> Path:
    """Write a complete data set to ``out_dir``.

    Parameters
    ----------
    sequences
        ``(N, L)`` uint8 codes, or ``None`` with ``sequences_written=True`` when the
        caller already filled ``out_dir/sequences.npy`` through :class:`SequenceWriter`.
    genes
        Must hold ``gene_id``, ``label`` and ``split`` (validated here).
    meta
        Source-specific metadata; length, counts, version and date are added.

    ``meta.json`` is written last, so its presence marks a complete data set.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = DataFiles(out_dir)
    genes = validate_genes(
        genes, meta.get("inputs", {}).get("labels") if isinstance(meta.get("inputs"), dict) else None
    )
    for col in ("gene_id", "label", "split"):
        if col not in genes.columns:
            raise ValueError(f"genes table lacks column {col!r}")
    extra = list(meta.get("extra_features", []))
    order = ["gene_id", "label", "split", *extra]
    genes = genes[order + [c for c in genes.columns if c not in order]]
    if sequences is not None:
        sequences = np.ascontiguousarray(sequences, dtype=np.uint8)
        if sequences.ndim != 2 or len(sequences) != len(genes):
            raise ValueError(f"sequences must be (N, L) with N = {len(genes)}, got {sequences.shape}")
        with atomic_path(files.sequences) as tmp:
            np.save(tmp, sequences)
        length = int(sequences.shape[1])
    elif sequences_written:
        arr = np.load(files.sequences, mmap_mode="r")
        if len(arr) != len(genes):
            raise ValueError(f"sequences.npy has {len(arr)} rows, genes table {len(genes)}")
        length = int(arr.shape[1])
    else:
        raise ValueError("give sequences or sequences_written=True")
    write_tsv(files.genes, genes)
    full_meta = {
        **meta,
        "n_genes": len(genes),
        "length": length,
        "extra_features": extra,
        "split_counts": {s: int((genes["split"] == s).sum()) for s in SPLITS},
        "encoding": "uint8 codes A=0 C=1 G=2 T=3 N=4",
        "promoter_cr_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    write_json(files.meta, full_meta)
    return out_dir
