"""Batched prediction with a trained model, on a data set or on a file of sequences.

Batches go through :func:`promoter_cr.models.inference.predict_codes` (one-hot made on the
device, CR weighted features filled batch by batch), so memory stays flat however many
sequences there are.

``predict_file`` reads FASTA or CSV/TSV (gzip ok) with the fasta source's readers
(:mod:`promoter_cr.data.readers`): FASTA ids are the header text before the first ``|``,
whitespace or ``::``; tables use an ``id``/``gene_id`` column when present (else the first
non-sequence column, else ``seq000001``...) and the ``sequence`` column (else the only DNA
column). Every sequence must have the training window length.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.data.encoding import InvalidSequenceError, encode
from promoter_cr.errors import InputDataError
from promoter_cr.models.inference import predict_codes
from promoter_cr.runtime import resolve_device

log = logging.getLogger(__name__)


def read_sequences(path: str | Path) -> tuple[list[str], list[str], list[str]]:
    """Read ids, sequences and record names (for error messages) from FASTA or CSV/TSV (gzip ok)."""
    from promoter_cr.data import readers as tables
    from promoter_cr.data.sources.fasta import _guess_sequence_column, parse_fasta_header

    path = tables.require_file(path, "sequence file")
    if tables.is_fasta(path):
        ids, seqs, recs = [], [], []
        for header, seq, lineno in tables.read_fasta(path):
            gid = parse_fasta_header(header)[0]
            ids.append(gid)
            seqs.append(seq)
            recs.append(f">{header} (line {lineno})")
        if not ids:
            raise InputDataError(path, "no sequences (empty input)")
        return ids, seqs, recs
    df = tables.read_table(path, has_header=True)
    seq_col = _guess_sequence_column(df, path)
    lower = {c.lower(): c for c in df.columns}
    id_col = lower.get("id") or lower.get("gene_id") or lower.get("name")
    if id_col is None:
        others = [c for c in df.columns if c != seq_col]
        cand = [c for c in others if pd.to_numeric(df[c], errors="coerce").isna().all()]
        id_col = cand[0] if cand else None
    ids = df[id_col].str.strip().tolist() if id_col else [f"seq{i:06d}" for i in range(1, len(df) + 1)]
    recs = [f"line {i + 2} (id {g})" for i, g in enumerate(ids)]
    return ids, df[seq_col].str.strip().tolist(), recs


def encode_fixed(seqs: list[str], records: list[str], path: str | Path, length: int) -> np.ndarray:
    """Encode sequences that must all be ``length`` bp: ``(N, length)`` uint8; errors name file and record."""
    out = np.empty((len(seqs), length), dtype=np.uint8)
    for i, s in enumerate(seqs):
        if len(s) != length:
            raise InputDataError(path, f"sequence has {len(s)} bp; the model was trained on {length} bp windows", record=records[i])
        try:
            out[i] = encode(s)
        except InvalidSequenceError as exc:
            raise InputDataError(path, str(exc), record=records[i]) from None
    return out


def read_extra(path: str | Path, ids: list[str], features: list[str]) -> np.ndarray:
    """``(N, F)`` float32 extra features for ``ids`` from a table (id column first, or ``gene_id``/``id``)."""
    from promoter_cr.data import readers as tables

    path = tables.require_file(path, "extra-feature table")
    df = tables.read_table(path, has_header=True)
    lower = {c.lower(): c for c in df.columns}
    id_col = lower.get("gene_id") or lower.get("id") or df.columns[0]
    missing_cols = [f for f in features if f not in df.columns]
    if missing_cols:
        raise InputDataError(path, f"extra-feature columns missing: {', '.join(missing_cols)} (the model needs {', '.join(features)})")
    table = df.set_index(df[id_col].str.strip())
    absent = [i for i in ids if i not in table.index]
    if absent:
        raise InputDataError(path, f"no extra features for {len(absent)} of {len(ids)} sequences", record=f"id {absent[0]}")
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
    device: str = "cpu",
    extra: str | Path | None = None,
) -> pd.DataFrame:
    """Predict every sequence of ``sequences`` with ``checkpoint`` (a ``.ckpt`` or a k-mer ``model.pkl``).

    Writes ``out`` (TSV ``id<TAB>prediction``) atomically and, for CR models, the ``(N, L)``
    float32 weighted features to ``weighted_features`` (``.npy``, filled batch by batch).
    """
    from promoter_cr.atomic import atomic_path, write_tsv

    ids, seqs, recs = read_sequences(sequences)
    checkpoint = Path(checkpoint)
    if checkpoint.suffix == ".pkl":
        from promoter_cr.models.kmer import load_kmer_model

        km = load_kmer_model(checkpoint)
        codes = encode_fixed(seqs, recs, sequences, km.length)
        if km.extra_features:
            raise InputDataError(checkpoint, "k-mer models with extra features cannot predict from a sequence file")
        if weighted_features:
            raise InputDataError(checkpoint, "--weighted-features needs a CR model checkpoint")
        preds = km.predict_codes(codes)
    else:
        from promoter_cr.models.checkpoint import load_model

        device = resolve_device(device)
        model, meta = load_model(checkpoint, map_location=device)
        codes = encode_fixed(seqs, recs, sequences, int(meta["length"]))
        feats = None
        if meta.get("n_extra"):
            if extra is None:
                raise InputDataError(checkpoint, f"this model uses extra features ({', '.join(meta['extra_features'])}); give them with --extra TABLE")
            feats = read_extra(extra, ids, list(meta["extra_features"]))
        if weighted_features:
            if meta["model_type"] != "cr":
                raise InputDataError(checkpoint, f"--weighted-features needs a CR model; this checkpoint is {meta['model_type']!r}")
            with atomic_path(weighted_features, suffix=".npy") as tmp:
                arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=codes.shape)
                preds, _ = predict_codes(model, codes, extra=feats, batch_size=batch_size, device=device, contributions_out=arr, progress=len(codes) > 10 * batch_size)
                arr.flush()
                del arr
        else:
            preds, _ = predict_codes(model, codes, extra=feats, batch_size=batch_size, device=device, progress=len(codes) > 10 * batch_size)
    table = pd.DataFrame({"id": ids, "prediction": preds.astype(np.float64)})
    write_tsv(out, table, float_format="%.6g")
    log.info("wrote %d predictions to %s", len(table), out)
    return table


__all__: list[Any] = ["predict_file", "read_sequences", "encode_fixed", "read_extra"]
