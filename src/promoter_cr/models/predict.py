"""Batched prediction with a trained model, on a data set or on a file of sequences.

Batches go through :class:`promoter_cr.models.inference.Predictor` (one-hot made on the
device, CR weighted features filled batch by batch), so memory stays flat however many
sequences there are.

``predict_file`` reads FASTA or CSV/TSV (gzip ok) with the fasta source's readers
(:mod:`promoter_cr.data.readers`): FASTA ids are the header text before the first ``|``,
whitespace or ``::``; tables use a ``gene_id``/``id`` column when present (else ``seq000001``,
...) and the ``sequence`` column (else the only DNA column). Ids must be unique, IUPAC
ambiguity codes are read as N, and every sequence must have the training window length.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.errors import InputDataError
from promoter_cr.models.export import export_rows
from promoter_cr.models.inference import Predictor

log = logging.getLogger(__name__)


def read_sequences(path: str | Path) -> tuple[list[str], list[str], list[str]]:
    """Ids, sequences and record names (for error messages) from FASTA or CSV/TSV (gzip ok).

    The readers and policies of the ``fasta`` data source (:mod:`promoter_cr.data.readers`):
    FASTA ids from the header, a table's ``gene_id``/``id`` column (else ``seq000001``, ...),
    unique ids, IUPAC ambiguity codes read as N.
    """
    from promoter_cr.data import readers

    path = readers.require_file(path, "sequence file")
    if readers.is_fasta(path):
        ids, seqs, recs, _ = readers.read_fasta_records(path)
        return ids, seqs, recs
    _, ids, seqs, recs, _, _ = readers.read_sequence_table(path, sequence_column=None, id_col=None, has_header=True)
    return ids, seqs, recs


def encode_fixed(seqs: list[str], records: list[str], path: str | Path, length: int) -> np.ndarray:
    """Encode sequences that must all be ``length`` bp: ``(N, length)`` uint8; errors name file and record."""
    from promoter_cr.data.readers import encode_records

    for s, rec in zip(seqs, records):
        if len(s) != length:
            raise InputDataError(
                path, f"sequence has {len(s)} bp; the model was trained on {length} bp windows", record=rec
            )
    return encode_records(seqs, records, path, pad_to=None)


def read_extra(path: str | Path, ids: list[str], features: list[str]) -> np.ndarray:
    """``(N, F)`` float32 extra features for ``ids`` from a table (id column first, or ``gene_id``/``id``)."""
    from promoter_cr.data import readers as tables

    path = tables.require_file(path, "extra-feature table")
    df = tables.read_table(path, has_header=True)
    lower = {c.lower(): c for c in df.columns}
    id_col = lower.get("gene_id") or lower.get("id") or df.columns[0]
    missing_cols = [f for f in features if f not in df.columns]
    if missing_cols:
        raise InputDataError(
            path, f"extra-feature columns missing: {', '.join(missing_cols)} (the model needs {', '.join(features)})"
        )
    table = df.set_index(df[id_col].str.strip())
    absent = [i for i in ids if i not in table.index]
    if absent:
        raise InputDataError(
            path, f"no extra features for {len(absent)} of {len(ids)} sequences", record=f"id {absent[0]}"
        )
    vals = table.loc[ids, features].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float32)
    bad = ~np.isfinite(vals)
    if bad.any():
        r = int(np.flatnonzero(bad.any(1))[0])
        raise InputDataError(path, "non-numeric or missing extra feature", record=f"id {ids[r]}")
    return vals


def predict_file(
    checkpoint: str | Path,
    sequences: str | Path,
    out: str | Path,
    weighted_features: str | Path | None = None,
    *,
    batch_size: int,
    device: str | None = None,
    extra: str | Path | None = None,
) -> pd.DataFrame:
    """Predict every sequence of ``sequences`` with ``checkpoint`` (a ``.ckpt`` or a k-mer ``model.pkl``).

    Writes ``out`` (TSV: ``id``, ``prediction`` and, for CR models, ``bias``) atomically. For CR
    models, ``weighted_features`` (``.npz``) gets one self-describing file: ``ids`` ``(N,)``,
    ``prediction`` and ``bias`` ``(N,)`` float64, ``weighted_features`` ``(N, L)`` float32
    (``prediction == weighted_features.sum(1) + bias`` [+ ``extra_contributions.sum(1)``]) and, for
    models with extra features, ``extra_contributions`` ``(N, F)`` and ``extra_features`` names.
    The weighted features are filled batch by batch through a temporary memory map.
    """
    from promoter_cr.atomic import write_tsv

    ids, seqs, recs = read_sequences(sequences)
    checkpoint = Path(checkpoint)
    bias = None
    if checkpoint.suffix == ".pkl":
        from promoter_cr.models.kmer import load_kmer_model

        km = load_kmer_model(checkpoint)
        codes = encode_fixed(seqs, recs, sequences, km.length)
        if km.extra_features:
            raise InputDataError(checkpoint, "k-mer models with extra features cannot predict from a sequence file")
        if weighted_features:
            raise InputDataError(checkpoint, "--weighted-features needs a CR model checkpoint")
        preds = km.predict_codes(codes).astype(np.float64)
    else:
        from promoter_cr.models.checkpoint import load_model

        model, meta = load_model(checkpoint)
        predictor = Predictor(model, device, batch_size, progress=len(seqs) > 10 * batch_size)
        codes = encode_fixed(seqs, recs, sequences, int(meta["length"]))
        feats = None
        if meta["n_extra"]:
            if extra is None:
                raise InputDataError(
                    checkpoint,
                    "this model uses extra features "
                    f"({', '.join(meta['extra_features'])}); give them with --extra TABLE",
                )
            feats = read_extra(extra, ids, list(meta["extra_features"]))
        if weighted_features:
            if meta["model_type"] != "cr":
                raise InputDataError(
                    checkpoint, f"--weighted-features needs a CR model; this checkpoint is {meta['model_type']!r}"
                )
            preds, bias = _write_weighted_features(
                predictor, codes, ids, feats, list(meta["extra_features"]), weighted_features
            )
        else:
            preds, bias = predictor.predict(codes, extra=feats)
    table = pd.DataFrame({"id": ids, "prediction": preds})
    if bias is not None:
        table["bias"] = bias
    write_tsv(out, table, float_format="%.7g")
    log.info("wrote %d predictions to %s", len(table), out)
    return table


def _write_weighted_features(
    predictor: Predictor,
    codes: np.ndarray,
    ids: list[str],
    feats: np.ndarray | None,
    feature_names: list[str],
    path: str | Path,
) -> tuple[np.ndarray, np.ndarray]:
    """Fill the weighted features batch by batch into a temporary memmap (the one exporter,
    :func:`promoter_cr.models.export.export_rows`, which checks every batch's decomposition), then
    publish the ``.npz`` atomically."""
    import os
    import tempfile

    from promoter_cr.atomic import atomic_path

    n, length = codes.shape
    with tempfile.TemporaryDirectory(dir=Path(path).parent) as scratch:
        fd, scratch_npy = tempfile.mkstemp(suffix=".npy", dir=scratch)
        os.close(fd)
        wf = np.lib.format.open_memmap(scratch_npy, mode="w+", dtype=np.float32, shape=(n, length))
        res = export_rows(predictor, codes, np.arange(n), np.arange(n), features=wf, extra=feats, gene_ids=ids)
        wf.flush()
        preds, bias = res["prediction"], res["bias"]
        arrays = {"ids": np.asarray(ids, dtype=str), "prediction": preds, "bias": bias, "weighted_features": wf}
        if res["extra"] is not None:
            arrays.update(extra_contributions=res["extra"], extra_features=np.asarray(feature_names, dtype=str))
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(tmp, **arrays)
        del wf
    return preds, bias


__all__: list[Any] = ["predict_file", "read_sequences", "encode_fixed", "read_extra"]
