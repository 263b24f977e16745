"""Shared readers for the data sources: gzip-aware text, FASTA, CSV/TSV tables,
column selection by name or index, label transforms, sequence encoding with
padding, and the staging of a data set so that it appears complete or not at all.

Conventions
-----------
* A table without a header row (``has_header: false``) has columns named
  ``"0", "1", ...`` (0-based, as strings). A column may be given by name, by a
  digit string (``"1"``) that names such a column, or by an integer (always a
  0-based position, with or without a header).
* Every error about input data is an :class:`~promoter_cr.errors.InputDataError`
  naming the file and the record (line number, FASTA header, gene id).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from promoter_cr.errors import InputDataError
from promoter_cr.seq.encoding import N_CODE, InvalidSequenceError, count_ambiguous, encode

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
LOG_TRANSFORMS = ("none", "log10p", "log1p", "log2p")


def is_gzip(path: str | Path) -> bool:
    """True if the file starts with the gzip magic bytes (gzip or bgzip)."""
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def is_bgzip(path: str | Path) -> bool:
    """True if the file is BGZF (blocked gzip, as written by ``bgzip``), the form htslib can index."""
    with open(path, "rb") as fh:
        head = fh.read(18)
    # gzip magic, deflate, FLG.FEXTRA set, extra subfield 'BC' (BGZF block size)
    return len(head) >= 14 and head[:2] == GZIP_MAGIC and head[2] == 8 and bool(head[3] & 4) and head[12:14] == b"BC"


def require_file(path: str | Path | None, what: str) -> Path:
    """Return ``Path(path)``; raise :class:`InputDataError` when it is unset or not a file."""
    if path in (None, ""):
        raise InputDataError(None, f"no {what} given in the config")
    p = Path(path)
    if not p.is_file():
        raise InputDataError(p, f"{what} not found")
    return p


#: what a truncated or corrupt gzip stream raises while it is read
GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


@contextlib.contextmanager
def open_text(path: str | Path) -> Iterator[io.TextIOBase]:
    """Open a UTF-8 text file for reading, decompressing gzip/bgzip transparently (by content, not name).

    A leading byte-order mark is skipped (``utf-8-sig``). A truncated or corrupt gzip file, or a
    byte that is not UTF-8, found while the ``with`` body reads it, becomes an
    :class:`InputDataError` naming the file (and the line of the bad byte), never a bare
    ``EOFError`` / ``zlib.error`` or a silent replacement character.
    """
    path = Path(path)
    if is_gzip(path):
        fh = io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig")
    else:
        fh = open(path, encoding="utf-8-sig")  # noqa: SIM115 - closed below
    try:
        with fh:
            yield fh
    except GZIP_ERRORS as exc:
        raise InputDataError(
            path, f"truncated or corrupt gzip file ({type(exc).__name__}: {exc}); download or compress it again"
        ) from None
    except UnicodeDecodeError as exc:
        raise InputDataError(
            path, f"not UTF-8 text: byte 0x{exc.object[exc.start]:02x} cannot be decoded", record=_bad_utf8_line(path)
        ) from None


def _bad_utf8_line(path: Path) -> str | None:
    """``"line N"`` of the first line of ``path`` that is not UTF-8 (only called after a decode error)."""
    opener = gzip.open if is_gzip(path) else open
    with opener(path, "rb") as raw:
        for lineno, line in enumerate(raw, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return f"line {lineno}"
    return None


def is_fasta(path: str | Path) -> bool:
    """True for a FASTA name (``.fa``, ``.fasta``, ``.fna``, ``.fas``, optionally ``.gz``) or content starting with
    ``>``."""
    name = str(path).lower().removesuffix(".gz").removesuffix(".bgz")
    if name.endswith((".fa", ".fasta", ".fna", ".fas", ".faa")):
        return True
    with open_text(path) as fh:
        for line in fh:
            if line.strip():
                return line.startswith(">")
    return False


def read_fasta(path: str | Path) -> Iterator[tuple[str, str, int]]:
    """Yield ``(header, sequence, line_number)`` for every record of a FASTA file.

    ``header`` excludes the ``>``; ``line_number`` (1-based) is that of the header
    line. Sequence lines are concatenated with whitespace removed. Raises
    :class:`InputDataError` for sequence text before the first header, an empty
    header, or a record without sequence.

    Written here rather than using ``pysam.FastxFile`` (which the package does use for indexed
    genomes, through ``pysam.FastaFile``): FastxFile gives no line numbers, so an error could not
    name the record's line, and it skips text before the first header instead of refusing it.
    """
    header: str | None = None
    header_line = 0
    parts: list[str] = []
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if line.startswith(">"):
                if header is not None:
                    yield _finish_record(path, header, parts, header_line)
                header = line[1:].strip()
                header_line = lineno
                parts = []
                if not header:
                    raise InputDataError(path, "empty FASTA header", record=f"line {lineno}")
            elif line.strip():
                if header is None:
                    raise InputDataError(
                        path,
                        "not a FASTA file: sequence text before the first '>' header line",
                        record=f"line {lineno}",
                    )
                parts.append("".join(line.split()))
    if header is not None:
        yield _finish_record(path, header, parts, header_line)


def _finish_record(path: str | Path, header: str, parts: list[str], lineno: int) -> tuple[str, str, int]:
    seq = "".join(parts)
    if not seq:
        raise InputDataError(path, "empty FASTA record (no sequence)", record=f">{header} (line {lineno})")
    return header, seq, lineno


def table_separator(path: str | Path) -> str:
    """Column separator of a table: by extension (.csv: comma; .tsv/.txt/.bed/.tab: tab), else sniffed."""
    name = str(path).lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return ","
    if name.endswith((".tsv", ".txt", ".tab", ".bed")):
        return "\t"
    with open_text(path) as fh:
        first = fh.readline()
    return "\t" if first.count("\t") >= first.count(",") else ","


def read_table(
    path: str | Path, *, has_header: bool, sep: str | None = None, comment: str | None = None
) -> pd.DataFrame:
    """Read a CSV/TSV (optionally gzipped) as strings (no NA conversion).

    Without a header the columns are named ``"0", "1", ...``. Raises
    :class:`InputDataError` for an unreadable or empty table.
    """
    sep = sep or table_separator(path)
    try:
        with open_text(path) as fh:
            df = pd.read_csv(
                fh,
                sep=sep,
                header=0 if has_header else None,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                comment=comment,
            )
    except pd.errors.EmptyDataError:
        raise InputDataError(path, "empty table (no records)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InputDataError(path, f"cannot parse table: {exc}") from None
    if not has_header:
        df.columns = [str(i) for i in range(df.shape[1])]
    else:
        df.columns = [str(c) for c in df.columns]
    if len(df) == 0:
        raise InputDataError(path, "empty table (no records)")
    return df


def resolve_column(df: pd.DataFrame, column: str | int | None, path: str | Path, what: str) -> str:
    """Name of the column ``column`` refers to (name, digit string or 0-based int)."""
    cols = list(df.columns)
    if isinstance(column, (int, np.integer)) and not isinstance(column, bool):
        if 0 <= int(column) < len(cols):
            return cols[int(column)]
        raise InputDataError(path, f"{what} column index {column} is out of range (the table has {len(cols)} columns)")
    if column in cols:
        return str(column)
    if (
        isinstance(column, str)
        and column.isdigit()
        and 0 <= int(column) < len(cols)
        and not any(c.isdigit() for c in cols)
    ):
        return cols[int(column)]
    shown = ", ".join(repr(c) for c in cols[:20]) + (" ..." if len(cols) > 20 else "")
    raise InputDataError(path, f"{what} column {column!r} not found (columns: {shown})")


def to_numeric_labels(
    values: pd.Series,
    path: str | Path,
    ids: pd.Series | None = None,
    what: str = "label",
    line_offset: int | None = None,
) -> np.ndarray:
    """Parse labels to ``(n,)`` float64; a non-numeric, NaN or infinite value is an error.

    The error names the gene id (``ids``) or the line (``line_offset`` + row).
    """
    num = pd.to_numeric(values.astype(str).str.strip(), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(num)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        if ids is not None:
            record = f"gene {ids.iloc[i]}"
        elif line_offset is not None:
            record = f"line {i + line_offset}"
        else:
            record = f"row {i + 1}"
        raise InputDataError(
            path, f"{what} {values.iloc[i]!r} is not a finite number ({int(bad.sum())} such values)", record=record
        )
    return num


MISSING_LABEL_POLICIES = ("error", "drop")


def parse_labels(
    values: pd.Series, path: str | Path, records: list[str], policy: str, key: str, what: str = "label"
) -> tuple[np.ndarray, np.ndarray]:
    """Parse labels to ``(n,)`` float64 and a ``(n,)`` bool mask of the usable ones.

    A label is *missing* when it is empty, NaN, ``NA``/``NaN``/``null``-like or not a number.
    ``policy`` ``"error"``: the first missing label is an :class:`InputDataError` naming ``path``
    and its record (``records[i]``: a file line or FASTA header), with how many there are and the
    config key that drops them (``key``); ``"drop"``: missing labels are marked in the mask.
    An infinite label is an error under either policy.
    """
    if policy not in MISSING_LABEL_POLICIES:
        raise ValueError(f"unknown missing_label policy {policy!r}")
    text = values.astype(str).str.strip()
    num = np.array(pd.to_numeric(text, errors="coerce"), dtype=np.float64)
    infinite = np.isinf(num)
    if infinite.any():
        i = int(np.flatnonzero(infinite)[0])
        raise InputDataError(
            path, f"{what} {values.iloc[i]!r} is infinite ({int(infinite.sum())} such values)", record=records[i]
        )
    missing = np.isnan(num)
    if missing.any() and policy == "error":
        i = int(np.flatnonzero(missing)[0])
        raw = values.iloc[i]
        empty = raw is None or (isinstance(raw, float) and np.isnan(raw)) or not str(raw).strip()
        shown = "empty" if empty else repr(raw)
        raise InputDataError(
            path,
            f"{what} is missing or not a number ({shown}; {int(missing.sum())} of {len(num)} such); "
            f"set {key}: drop to leave these rows out",
            record=records[i],
        )
    return num, ~missing


def missing_label_table(ids: pd.Series, records: list[str], values: pd.Series, missing: np.ndarray) -> pd.DataFrame:
    """The rows left out by ``missing_label: drop``: ``gene_id``, ``record`` (file line / header), ``value`` as read."""
    idx = np.flatnonzero(missing)
    return pd.DataFrame(
        {
            "gene_id": ids.to_numpy()[idx],
            "record": [records[i] for i in idx],
            "value": values.astype(str).to_numpy()[idx],
        },
        columns=["gene_id", "record", "value"],
    )


def log_transform(values: np.ndarray, method: str, path: str | Path, ids: pd.Series | None = None) -> np.ndarray:
    """Apply ``none | log10p | log1p | log2p`` (``log_b(1 + x)``); ``x <= -1`` is an error."""
    if method == "none":
        return values
    if method not in LOG_TRANSFORMS:
        raise ValueError(f"unknown log_transform {method!r}")
    bad = values <= -1
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        record = f"gene {ids.iloc[i]}" if ids is not None else f"row {i + 1}"
        raise InputDataError(path, f"value {values[i]} cannot be {method}-transformed (must be > -1)", record=record)
    out = np.log1p(values)
    if method == "log10p":
        out = out / np.log(10.0)
    elif method == "log2p":
        out = out / np.log(2.0)
    return out


def check_unique(ids: pd.Series, path: str | Path, what: str = "id") -> None:
    """Raise :class:`InputDataError` naming the first duplicated id."""
    dup = ids.duplicated(keep=False)
    if dup.any():
        first = ids[dup].iloc[0]
        n = int((ids == first).sum())
        raise InputDataError(
            path, f"duplicate {what} (appears {n} times; {int(dup.sum())} rows share ids)", record=f"gene {first}"
        )


def encode_records(seqs: list[str], records: list[str], path: str | Path, pad_to: int | None) -> np.ndarray:
    """Encode sequences into an ``(N, L)`` uint8 code matrix.

    With ``pad_to`` every sequence is centred in a window of that length, padded
    with N (code 4) on both sides (the extra base, if odd, on the right); a longer
    sequence is an error. Without it all lengths must be equal. Errors name the
    file and the record (``records[i]``). IUPAC ambiguity codes become N and are
    counted in the log (:mod:`promoter_cr.seq.encoding`).
    """
    if not seqs:
        raise InputDataError(path, "no sequences (empty input)")
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    if pad_to is None:
        length = int(lengths[0])
        diff = np.flatnonzero(lengths != length)
        if diff.size:
            i = int(diff[0])
            counts = pd.Series(lengths).value_counts()
            summary = ", ".join(f"{n} x {ln} bp" for ln, n in counts.head(5).items())
            raise InputDataError(
                path,
                f"sequence length {lengths[i]} differs from the first sequence's {length} (lengths: {summary}); "
                "set dataset.fasta.pad_to to pad them with N to a common length",
                record=records[i],
            )
    else:
        length = int(pad_to)
        over = np.flatnonzero(lengths > length)
        if over.size:
            i = int(over[0])
            raise InputDataError(
                path, f"sequence of {lengths[i]} bp is longer than pad_to = {length}", record=records[i]
            )
    out = np.full((len(seqs), length), N_CODE, dtype=np.uint8)
    for i, s in enumerate(seqs):
        try:
            codes = encode(s)
        except InvalidSequenceError as exc:
            raise InputDataError(path, str(exc), record=records[i]) from None
        left = (length - len(codes)) // 2
        out[i, left : left + len(codes)] = codes
    _log_ambiguous(seqs, records, path)
    return out


def _log_ambiguous(seqs: list[str], records: list[str], path: str | Path) -> None:
    counts = [count_ambiguous(s) for s in seqs]
    total = sum(counts)
    if total:
        first = next(i for i, c in enumerate(counts) if c)
        log.warning(
            "%s: %d IUPAC ambiguity bases in %d sequences read as N (first: %s)",
            path,
            total,
            sum(1 for c in counts if c),
            records[first],
        )


_LOCATION = re.compile(r"::(?P<chrom>[^:\s|]+):(?P<start>\d+)-(?P<end>\d+)(?:\((?P<paren>[^)]*)\))?\s*$")
_DNA = re.compile(r"^[ACGTNRYSWKMBDHVacgtnryswkmbdhv]+$")
#: table columns taken as the gene id when no id column is configured (case-insensitive)
ID_COLUMNS = ("gene_id", "id")


def parse_fasta_header(header: str) -> tuple[str, dict[str, str], dict[str, object]]:
    """Split a FASTA header into ``(gene_id, fields, location)``.

    ``>ENSG1|TPM=2.6|log(TPM)=1.3::chr12:100-2148(1.3)`` gives ``("ENSG1",
    {"TPM": "2.6", "log(TPM)": "1.3"}, {"chrom": "chr12", "start": 100, "end": 2148})``;
    a ``(+)``/``(-)`` suffix also gives ``strand``. The id is the text before the first
    ``|``, whitespace or ``::``.
    """
    location: dict[str, object] = {}
    m = _LOCATION.search(header)
    if m:
        location = {"chrom": m["chrom"], "start": int(m["start"]), "end": int(m["end"])}
        if m["paren"] in ("+", "-"):
            location["strand"] = m["paren"]
        header = header[: m.start()]
    parts = header.split("|")
    first = parts[0].split()
    gene_id = first[0] if first else ""
    fields: dict[str, str] = {}
    for token in [*first[1:], *parts[1:]]:
        if "=" in token:
            key, _, value = token.partition("=")
            fields[key.strip()] = value.strip()
    return gene_id, fields, location


def guess_sequence_column(df: pd.DataFrame, path: str | Path) -> str:
    """The column named ``sequence`` (any case), else the only column holding DNA."""
    for col in df.columns:
        if col.lower() == "sequence":
            return col
    dna = []
    for col in df.columns:
        sample = df[col].head(50)
        sample = sample[sample.str.len() > 0]
        if len(sample) and sample.str.len().min() >= 8 and sample.str.match(_DNA).all():
            dna.append(col)
    if len(dna) == 1:
        return dna[0]
    raise InputDataError(
        path,
        "cannot tell which column holds the sequence "
        f"({'candidates: ' + ', '.join(dna) if dna else 'no DNA column found'}); "
        "set dataset.fasta.sequence_column",
    )


def id_column(df: pd.DataFrame, configured: str | int | None, path: str | Path) -> str | None:
    """The id column of a sequence table: the configured one, else a column named ``gene_id`` or
    ``id`` (any case), else ``None`` (ids are then generated by row: ``seq000001``, ...)."""
    if configured is not None:
        return resolve_column(df, configured, path, "id")
    lower = {c.lower(): c for c in df.columns}
    return next((lower[c] for c in ID_COLUMNS if c in lower), None)


def generated_ids(n: int) -> list[str]:
    """``seq000001``, ``seq000002``, ... for ``n`` rows without ids."""
    width = max(6, len(str(n)))
    return [f"seq{i:0{width}d}" for i in range(1, n + 1)]


def read_sequence_table(
    path: str | Path, *, sequence_column: str | int | None, id_col: str | int | None, has_header: bool
) -> tuple[pd.DataFrame, list[str], list[str], list[str], str, str | None]:
    """A CSV/TSV of sequences: ``(table, ids, sequences, record names, sequence column, id column)``.

    The policies every reader shares: the id column is :func:`id_column`; ids must be unique
    (an error naming the duplicate); an empty sequence is an error naming its line.
    """
    df = read_table(path, has_header=has_header)
    seq_col = (
        resolve_column(df, sequence_column, path, "sequence")
        if sequence_column is not None
        else guess_sequence_column(df, path)
    )
    icol = id_column(df, id_col, path)
    ids = df[icol].str.strip().tolist() if icol is not None else generated_ids(len(df))
    check_unique(pd.Series(ids, dtype=object), path, "gene id")
    first_line = 2 if has_header else 1
    records = [f"line {i + first_line}" + (f" (id {g})" if icol is not None else "") for i, g in enumerate(ids)]
    seqs = df[seq_col].str.strip().tolist()
    empty = [i for i, s in enumerate(seqs) if not s]
    if empty:
        raise InputDataError(path, "empty sequence", record=records[empty[0]])
    return df, ids, seqs, records, seq_col, icol


def read_fasta_records(path: str | Path) -> tuple[list[str], list[str], list[str], list[str]]:
    """A FASTA of sequences: ``(ids, sequences, record names, headers)``; ids from
    :func:`parse_fasta_header`, unique (an error naming the duplicate)."""
    ids, seqs, records, headers = [], [], [], []
    for header, seq, lineno in read_fasta(path):
        gene_id = parse_fasta_header(header)[0]
        record = f">{header} (line {lineno})"
        if not gene_id:
            raise InputDataError(path, "FASTA header has no id", record=record)
        ids.append(gene_id)
        seqs.append(seq)
        records.append(record)
        headers.append(header)
    if not ids:
        raise InputDataError(path, "no FASTA records (empty input)")
    check_unique(pd.Series(ids, dtype=object), path, "gene id")
    return ids, seqs, records, headers


def input_record(paths: dict[str, str | Path | None]) -> tuple[dict[str, str], dict[str, str]]:
    """``(inputs, sha256)`` dicts for meta.json: role -> path and role -> sha256 of each given file."""
    from promoter_cr.data.dataset import sha256_file

    inputs: dict[str, str] = {}
    sums: dict[str, str] = {}
    for role, p in paths.items():
        if p is None:
            continue
        inputs[role] = str(p)
        sums[role] = sha256_file(p)
    return inputs, sums
