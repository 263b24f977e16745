"""Data source ``genome``: promoter windows cut from a genome FASTA around annotated
TSSs, labelled from a per-gene expression table.

Config: ``dataset.genome`` (see the schema).

Coordinates
    Internally a TSS is the 0-based position of its first transcribed base. The
    window is ``upstream`` bases 5' of the TSS plus ``downstream`` bases from the
    TSS (inclusive), on the gene's strand: ``[tss - upstream, tss + downstream)`` on
    ``+``; ``[tss - downstream + 1, tss + upstream + 1)`` reverse-complemented on
    ``-``. So the TSS is at index ``upstream`` of every window (``meta.tss_index``),
    and bases past a chromosome end are N.
TSS tables
    BED (BED6, strand in column 6): ``bed_tss: center`` takes ``(start + end) // 2``
    (Xpresso's 20 kb intervals: TSS = start + 10000 on both strands), ``start`` the
    strand-aware 5' end (``start`` on ``+``, ``end - 1`` on ``-``). GTF/GFF3: records
    of type ``gtf_feature``; id from attribute ``gtf_id_attribute``; TSS = start on
    ``+``, end on ``-`` (1-based inclusive, converted to 0-based).
Expression table
    CSV/TSV with or without header (``expression_has_header``); columns by name or
    0-based index (``expression_id_column``, ``expression_column``).
    ``strip_version`` drops ``.N`` suffixes of ids on both sides before the join.
Genome FASTA
    Plain or bgzip (a ``.fai``/``.gzi`` index is built beside it, or in the
    download cache when that folder is read-only). Plain gzip is refused with a
    clear message (htslib cannot index it). ``fasta_url`` downloads it into
    ``download.cache_dir`` (a plain-gzip download is decompressed there). Chromosome
    names match across ``chr1``/``1`` and ``MT``/``chrM``/``M``. IUPAC ambiguity
    letters become N (counted in the log and meta.json), other letters are an error
    (:mod:`promoter_cr.seq.encoding`).

Genes without a label are dropped (counted in the log); an empty join, duplicate
ids, unknown chromosomes (unless ``missing_chromosome: skip``) and TSSs outside
their chromosome are errors naming the file and the gene.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.atomic import atomic_dir, write_tsv
from promoter_cr.data import readers as tables
from promoter_cr.data.dataset import SequenceWriter, validate_genes, write_dataset
from promoter_cr.data.splits import apply_split
from promoter_cr.errors import InputDataError
from promoter_cr.layout import DataFiles, download_dir
from promoter_cr.seq.chromosomes import normalise_chrom
from promoter_cr.seq.encoding import N_CODE, count_ambiguous, encode_bytes, reverse_complement_codes

log = logging.getLogger(__name__)

BLOCK = 1024
_VERSION = re.compile(r"\.\d+$")


# --------------------------------------------------------------------------- TSS tables
def _read_raw_rows(path: Path, feature: str | None = None) -> pd.DataFrame:
    """Tab-separated rows as strings, indexed by 0-based line number.

    Blank, ``#`` comment, ``track`` and ``browser`` lines are skipped; with
    ``feature`` only rows whose 3rd column equals it are kept (GTF/GFF3), so a
    whole-genome annotation is streamed rather than loaded.
    """
    kept: list[str] = []
    numbers: list[int] = []
    with tables.open_text(path) as fh:
        for i, line in enumerate(fh):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            if feature is not None:
                cols = line.split("\t", 3)
                if len(cols) < 3 or cols[2] != feature:
                    continue
            kept.append(line.rstrip("\r\n"))
            numbers.append(i)
    if not kept:
        return pd.DataFrame()
    try:
        df = pd.read_csv(
            io.StringIO("\n".join(kept)),
            sep="\t",
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            quoting=csv.QUOTE_NONE,
        )
    except pd.errors.ParserError as exc:
        raise InputDataError(path, f"cannot parse the TSS table: {exc}") from None
    df.index = np.asarray(numbers, dtype=np.int64)
    return df


def detect_tss_format(path: Path, fmt: str) -> str:
    """``bed``, ``gtf`` or ``gff3``: from ``fmt`` unless ``auto``, else from the name, else the content."""
    if fmt != "auto":
        return fmt
    name = str(path).lower().removesuffix(".gz").removesuffix(".bgz")
    if name.endswith(".bed"):
        return "bed"
    if name.endswith(".gtf"):
        return "gtf"
    if name.endswith((".gff3", ".gff")):
        return "gff3"
    with tables.open_text(path) as fh:
        for line in fh:
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 9:
                return "gtf" if '"' in cols[8] else "gff3"
            return "bed"
    raise InputDataError(path, "empty TSS table (no records)")


def _int_column(values: pd.Series, path: Path, what: str) -> np.ndarray:
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(path, f"{what} {values.iloc[i]!r} is not an integer", record=f"line {values.index[i] + 1}")
    return num.to_numpy(dtype=np.int64)


def _check_strand(strand: pd.Series, path: Path) -> None:
    bad = ~strand.isin(["+", "-"]).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(
            path,
            f"strand {strand.iloc[i]!r} is not '+' or '-' (a strand is needed to orient the promoter)",
            record=f"line {strand.index[i] + 1}",
        )


def read_tss_table(path: Path, gcfg: dict[str, Any]) -> pd.DataFrame:
    """Read a BED/GTF/GFF3 TSS table.

    Returns
    -------
    DataFrame
        ``gene_id`` (str), ``chrom`` (str, as in the file), ``tss`` (int64, 0-based),
        ``strand`` (``+``/``-``), ``line`` (1-based line number), in file order.
    """
    fmt = detect_tss_format(path, gcfg["tss_format"])
    feature = None if fmt == "bed" else gcfg["gtf_feature"]
    raw = _read_raw_rows(path, feature)
    if len(raw) == 0:
        if feature is not None:
            raise InputDataError(path, f"no {fmt.upper()} records of type {feature!r} (dataset.genome.gtf_feature)")
        raise InputDataError(path, "empty TSS table (no records)")
    if fmt == "bed":
        if raw.shape[1] < 6:
            raise InputDataError(
                path,
                f"BED needs 6 columns (chrom, start, end, name, score, strand); found {raw.shape[1]}",
                record=f"line {raw.index[0] + 1}",
            )
        start = _int_column(raw[1], path, "BED start")
        end = _int_column(raw[2], path, "BED end")
        strand = raw[5].str.strip()
        _check_strand(strand, path)
        bad = np.flatnonzero((end <= start) | (start < 0))
        if bad.size:
            i = int(bad[0])
            raise InputDataError(
                path, f"BED interval {start[i]}-{end[i]} is empty or negative", record=f"line {raw.index[i] + 1}"
            )
        if gcfg["bed_tss"] == "center":
            tss = (start + end) // 2
        else:
            tss = np.where(strand.to_numpy() == "+", start, end - 1)
        ids = raw[3].str.strip()
    else:
        if raw.shape[1] < 9:
            raise InputDataError(
                path,
                f"{fmt.upper()} needs 9 tab-separated columns; found {raw.shape[1]}",
                record=f"line {raw.index[0] + 1}",
            )
        attr = re.escape(gcfg["gtf_id_attribute"])
        pattern = rf'(?:^|;)\s*{attr}\s+"([^"]*)"' if fmt == "gtf" else rf"(?:^|;)\s*{attr}=([^;]*)"
        ids = raw[8].str.extract(pattern, expand=False)
        missing = ids.isna().to_numpy()
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            raise InputDataError(
                path,
                f"record has no attribute {gcfg['gtf_id_attribute']!r} (dataset.genome.gtf_id_attribute)",
                record=f"line {raw.index[i] + 1}",
            )
        ids = ids.str.strip()
        if fmt == "gff3":  # Ensembl GFF3 writes ID=gene:ENSG...
            ids = ids.str.replace(r"^(gene|transcript):", "", regex=True)
        start = _int_column(raw[3], path, f"{fmt.upper()} start")
        end = _int_column(raw[4], path, f"{fmt.upper()} end")
        strand = raw[6].str.strip()
        _check_strand(strand, path)
        tss = np.where(strand.to_numpy() == "+", start - 1, end - 1)
    out = pd.DataFrame(
        {
            "gene_id": ids.to_numpy(dtype=object),
            "chrom": raw[0].str.strip().to_numpy(dtype=object),
            "tss": np.asarray(tss, dtype=np.int64),
            "strand": strand.to_numpy(dtype=object),
            "line": raw.index.to_numpy() + 1,
        }
    )
    empty = out["gene_id"] == ""
    if empty.any():
        raise InputDataError(path, "empty gene id", record=f"line {int(out.loc[empty, 'line'].iloc[0])}")
    return out


# --------------------------------------------------------------------------- expression
def read_expression(path: Path, gcfg: dict[str, Any]) -> pd.DataFrame:
    """Per-gene labels, indexed by (version-stripped, if configured) gene id.

    Columns: ``label`` (float64; NaN where the value is missing and ``missing_label`` is ``drop``),
    ``record`` (the file line) and ``value`` (as read). Under ``missing_label: error`` a missing value
    is an :class:`InputDataError` naming the line.
    """
    has_header = bool(gcfg["expression_has_header"])
    df = tables.read_table(path, has_header=has_header)
    id_col = tables.resolve_column(df, gcfg["expression_id_column"], path, "expression id")
    val_col = tables.resolve_column(df, gcfg["expression_column"], path, "expression value")
    ids = df[id_col].str.strip()
    if gcfg["strip_version"]:
        ids = ids.str.replace(_VERSION, "", regex=True)
    tables.check_unique(ids, path, "gene id in the expression table")
    first = 2 if has_header else 1
    records = [f"line {i + first} (gene {g})" for i, g in enumerate(ids)]
    values, usable = tables.parse_labels(
        df[val_col], path, records, gcfg["missing_label"], "dataset.genome.missing_label", what="expression value"
    )
    values[usable] = tables.log_transform(values[usable], gcfg["log_transform"], path, ids=ids[usable])
    return pd.DataFrame(
        {"label": values, "record": records, "value": df[val_col].astype(str).to_numpy()},
        index=pd.Index(ids.to_numpy(dtype=object), name="gene_id"),
    )


# --------------------------------------------------------------------------- genome FASTA
class Genome:
    """A pysam-indexed genome FASTA with chromosome aliasing and N-padded fetches."""

    def __init__(self, path: Path, index_dir: Path | None = None):
        import pysam

        self.path = Path(path)
        if tables.is_gzip(self.path) and not tables.is_bgzip(self.path):
            raise InputDataError(
                self.path,
                "genome FASTA is plain gzip, which cannot be indexed for random access: recompress it with "
                "'bgzip' (htslib; e.g. 'zcat genome.fa.gz | bgzip > genome.fa.bgz') or decompress it",
            )
        fai = Path(str(self.path) + ".fai")
        kwargs: dict[str, str] = {}
        if not fai.exists():
            if os.access(self.path.parent, os.W_OK) or index_dir is None:
                args = [str(self.path)]
            else:
                index_dir.mkdir(parents=True, exist_ok=True)
                fai = index_dir / (self.path.name + ".fai")
                gzi = index_dir / (self.path.name + ".gzi")
                args = [str(self.path), "--fai-idx", str(fai)]
                kwargs["filepath_index"] = str(fai)
                if tables.is_bgzip(self.path):
                    args += ["--gzi-idx", str(gzi)]
                    kwargs["filepath_index_compressed"] = str(gzi)
            log.info("indexing %s", self.path)
            try:
                pysam.faidx(*args)
            except pysam.utils.SamtoolsError as exc:
                raise InputDataError(
                    self.path, f"cannot index the genome FASTA (malformed FASTA?): {str(exc).strip()}"
                ) from None
        try:
            self.fasta = pysam.FastaFile(str(self.path), **kwargs)
        except (OSError, ValueError) as exc:
            raise InputDataError(self.path, f"cannot open the genome FASTA: {exc}") from None
        self.lengths = dict(zip(self.fasta.references, self.fasta.lengths))
        #: IUPAC ambiguity codes read as N by fetch_codes so far
        self.n_ambiguous = 0
        self._alias: dict[str, str] = {}
        for ref in self.fasta.references:
            self._alias.setdefault(normalise_chrom(ref), ref)

    def resolve(self, chrom: str) -> str | None:
        """The FASTA's name for ``chrom`` (exact, else after ``chr``/``MT`` normalisation), or ``None``."""
        if chrom in self.lengths:
            return chrom
        return self._alias.get(normalise_chrom(chrom))

    def fetch_codes(self, ref: str, start: int, end: int) -> np.ndarray:
        """Codes of ``[start, end)`` on ``ref`` (0-based), N past either end: ``(end - start,)`` uint8."""
        n = end - start
        out = np.full(n, N_CODE, dtype=np.uint8)
        a, b = max(start, 0), min(end, self.lengths[ref])
        if b > a:
            raw = np.frombuffer(
                self.fasta.fetch(reference=ref, start=a, end=b).encode("ascii", errors="replace"), dtype=np.uint8
            )
            codes = encode_bytes(raw)
            self.n_ambiguous += count_ambiguous(raw)
            bad = np.flatnonzero(codes == 255)
            if bad.size:
                pos = a + int(bad[0])
                raise InputDataError(
                    self.path,
                    f"invalid character {chr(raw[bad[0]])!r} in the genome "
                    f"(allowed: ACGT, N and IUPAC ambiguity codes)",
                    record=f"{ref}:{pos + 1}",
                )
            out[a - start : b - start] = codes
        return out

    def close(self) -> None:
        self.fasta.close()


def window_bounds(tss: np.ndarray, strand: np.ndarray, upstream: int, downstream: int) -> tuple[np.ndarray, np.ndarray]:
    """Genomic ``[start, end)`` (0-based) of each window: ``(n,)`` int64 arrays (before the reverse complement)."""
    tss = np.asarray(tss, dtype=np.int64)
    plus = np.asarray(strand) == "+"
    start = np.where(plus, tss - upstream, tss - downstream + 1)
    return start, start + upstream + downstream


def extract_windows(
    genome: Genome, refs: np.ndarray, tss: np.ndarray, strand: np.ndarray, upstream: int, downstream: int
) -> np.ndarray:
    """Windows of a block of genes: ``(b, upstream + downstream)`` uint8 codes, TSS at index ``upstream``."""
    start, end = window_bounds(tss, strand, upstream, downstream)
    block = np.empty((len(tss), upstream + downstream), dtype=np.uint8)
    for i in range(len(tss)):
        block[i] = genome.fetch_codes(refs[i], int(start[i]), int(end[i]))
    minus = np.asarray(strand) == "-"
    if minus.any():
        block[minus] = reverse_complement_codes(block[minus])
    return block


def _genome_path(gcfg: dict[str, Any], cfg: dict[str, Any]) -> Path:
    """The genome FASTA to index: ``fasta``, else ``fasta_url`` downloaded into the cache.

    A plain-gzip file that came from ``fasta_url`` (downloaded here, or by the
    workflow's download rule, which then sets ``fasta`` to its cached copy) is
    decompressed once into ``<download.cache_dir>/genome/``; a user's own plain-gzip
    ``fasta`` is refused by :class:`Genome` with instructions.
    """
    dl = cfg["download"]
    cache = download_dir(dl["cache_dir"], "genome")
    if gcfg.get("fasta"):
        path = tables.require_file(gcfg["fasta"], "dataset.genome.fasta (genome FASTA)")
        if not gcfg.get("fasta_url"):
            return path
    elif gcfg.get("fasta_url"):
        from promoter_cr.data.download import fetch_to_cache

        path = fetch_to_cache(gcfg["fasta_url"], cache, dl, checksum=gcfg["fasta_sha256"])
    else:
        raise InputDataError(None, "give dataset.genome.fasta or dataset.genome.fasta_url")
    if tables.is_gzip(path) and not tables.is_bgzip(path):
        plain = cache / re.sub(r"\.gz$", "", path.name)
        if plain.resolve() == path.resolve():
            plain = cache / (path.name + ".fa")
        if not plain.exists():
            log.info("decompressing plain-gzip download %s -> %s", path, plain)
            plain.parent.mkdir(parents=True, exist_ok=True)
            part = plain.with_name(plain.name + ".part")
            try:
                with gzip.open(path, "rb") as src, open(part, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                os.replace(part, plain)
            except BaseException:
                part.unlink(missing_ok=True)
                raise
        path = plain
    return path


# --------------------------------------------------------------------------- build
def _select_tss(tss: pd.DataFrame, gcfg: dict[str, Any], tss_path: Path) -> pd.DataFrame:
    """TSS records after ``strip_version`` and the ``chromosomes`` filter; gene ids must be unique."""
    n_table = len(tss)
    if gcfg["strip_version"]:
        tss["gene_id"] = tss["gene_id"].str.replace(_VERSION, "", regex=True)
    if gcfg.get("chromosomes"):
        keep = {normalise_chrom(c) for c in gcfg["chromosomes"]}
        tss = tss[tss["chrom"].map(normalise_chrom).isin(keep)].reset_index(drop=True)
        log.info("%d of %d TSS records on chromosomes %s", len(tss), n_table, ", ".join(gcfg["chromosomes"]))
        if len(tss) == 0:
            raise InputDataError(tss_path, f"no TSS records on dataset.genome.chromosomes {gcfg['chromosomes']}")
    dup = tss["gene_id"].duplicated(keep=False)
    if dup.any():
        first = tss.loc[dup].iloc[0]
        raise InputDataError(
            tss_path,
            f"duplicate gene id ({int(dup.sum())} records share ids); one TSS per gene is needed "
            "(for GTF/GFF3 try gtf_feature: gene, or gtf_id_attribute: transcript_id)",
            record=f"gene {first['gene_id']} (line {first['line']})",
        )
    return tss


def _join_labels(
    tss: pd.DataFrame, expr: pd.DataFrame, tss_path: Path, expr_path: Path, policy: str
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """``(genes, dropped, n_no_tss)``: TSS records with a ``label`` column from ``expr`` (joined on gene id).

    A TSS gene with no expression row, or a missing value (NaN under ``missing_label: drop``), has a
    missing label: an :class:`InputDataError` naming the first under ``error``, else left out and
    listed in ``dropped`` (gene_id, record, value). An empty join is an error either way.
    """
    known = tss["gene_id"].isin(expr.index).to_numpy()
    label = expr["label"].reindex(tss["gene_id"].to_numpy()).to_numpy()
    labelled = known & np.isfinite(label)
    n_no_tss = int((~expr.index.isin(tss["gene_id"])).sum())
    if not labelled.any():
        raise InputDataError(
            expr_path,
            f"no gene id in common with the TSS table {tss_path} (e.g. "
            f"{tss['gene_id'].iloc[0]!r} vs {expr.index[0]!r}); "
            "check the id columns and dataset.genome.strip_version",
        )
    if not known.all() and policy == "error":
        first = tss["gene_id"].iloc[int(np.flatnonzero(~known)[0])]
        raise InputDataError(
            expr_path,
            f"no expression row for {int((~known).sum())} of {len(tss)} TSS genes (first: {first}); "
            "set dataset.genome.missing_label: drop to leave them out",
            record=f"gene {first}",
        )
    gone = tss[~labelled]
    dropped = pd.DataFrame(
        {
            "gene_id": gone["gene_id"].to_numpy(),
            "record": [
                expr.at[g, "record"] if g in expr.index else f"no row in {expr_path.name}" for g in gone["gene_id"]
            ],
            "value": [expr.at[g, "value"] if g in expr.index else "" for g in gone["gene_id"]],
        },
        columns=["gene_id", "record", "value"],
    )
    log.info(
        "join on gene id: %d genes with TSS and label; %d TSS genes without a usable label%s; "
        "%d labelled genes without a TSS",
        int(labelled.sum()),
        len(dropped),
        " (dropped: missing_label: drop)" if len(dropped) else "",
        n_no_tss,
    )
    if len(dropped):
        log.warning(
            "%s: %d TSS genes have no usable label and are left out (ids in %s)",
            expr_path,
            len(dropped),
            DataFiles(Path()).missing_labels.name,
        )
    genes = tss[labelled].reset_index(drop=True)
    genes["label"] = label[labelled]
    return genes, dropped, n_no_tss


def resolve_chromosomes(
    genes: pd.DataFrame, genome: Genome, *, missing_chromosome: str, tss_path: Path | str | None, key: str
) -> tuple[pd.DataFrame, pd.Series, int]:
    """``(genes, refs, n_skipped)``: genes on chromosomes of the genome, their FASTA names, genes dropped.

    The one TSS-window chromosome rule, shared by the ``genome`` source and variant scoring:
    ``genes`` holds ``gene_id, chrom, tss`` (0-based) and optionally ``line`` (of ``tss_path``).
    Genes on chromosomes absent from the genome (aliases resolved, :meth:`Genome.resolve`) are
    dropped (``missing_chromosome: skip``, logged) or an :class:`InputDataError` that names the
    config ``key`` to change; so is a TSS outside its chromosome, and no gene left.
    """
    genes = genes.reset_index(drop=True)
    line = genes["line"] if "line" in genes else pd.Series(np.arange(1, len(genes) + 1), index=genes.index)
    refs = genes["chrom"].map(genome.resolve)
    unknown = refs.isna().to_numpy()
    n_skipped = 0
    if unknown.any():
        bad = genes.loc[unknown]
        names = sorted(set(bad["chrom"]))
        if missing_chromosome == "skip":
            n_skipped = int(unknown.sum())
            log.warning(
                "skipping %d genes on chromosomes absent from %s: %s", n_skipped, genome.path, ", ".join(names[:10])
            )
            genes, refs, line = (x[~unknown].reset_index(drop=True) for x in (genes, refs, line))
            if len(genes) == 0:
                raise InputDataError(genome.path, "no gene left after skipping chromosomes absent from the genome")
        elif missing_chromosome == "error":
            shown = ", ".join(list(genome.lengths)[:10]) + (" ..." if len(genome.lengths) > 10 else "")
            raise InputDataError(
                tss_path,
                f"chromosome {bad['chrom'].iloc[0]!r} is not in the genome FASTA {genome.path} (which has {shown}); "
                f"{len(bad)} genes on {len(names)} such chromosomes. Set {key}: skip to drop them",
                record=f"gene {bad['gene_id'].iloc[0]} (line {line[unknown].iloc[0]})",
            )
        else:
            raise ValueError(f"missing_chromosome must be 'error' or 'skip' (got {missing_chromosome!r})")
    chrom_len = refs.map(genome.lengths).to_numpy(dtype=np.int64)
    outside = (genes["tss"].to_numpy() < 0) | (genes["tss"].to_numpy() >= chrom_len)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise InputDataError(
            tss_path,
            f"TSS {genes['tss'].iloc[i]} (0-based) lies outside chromosome {refs.iloc[i]} of length {chrom_len[i]} "
            f"in {genome.path} ({int(outside.sum())} such genes): is the genome the same assembly as the TSS table?",
            record=f"gene {genes['gene_id'].iloc[i]} (line {line.iloc[i]})",
        )
    return genes, refs, n_skipped


def _dataset_meta(
    gcfg: dict[str, Any],
    paths: dict[str, Path],
    join: dict[str, int],
    split_record: Any,
) -> dict[str, Any]:
    """meta.json of the data set (without the ambiguous-base count).

    ``paths``: ``fasta``, ``tss``, ``expression`` inputs; ``join``: the join counts.
    """
    up, down = int(gcfg["upstream"]), int(gcfg["downstream"])
    inputs, sums = tables.input_record(paths)
    return {
        "source": "genome",
        "window": {
            "upstream": up,
            "downstream": down,
            "length": up + down,
            "coordinates": "tss column is 0-based; window [tss-upstream, tss+downstream) on +, "
            "reverse complement of [tss-downstream+1, tss+upstream+1) on -",
        },
        "tss_index": up,
        "tss_format": detect_tss_format(paths["tss"], gcfg["tss_format"]),
        "bed_tss": gcfg["bed_tss"],
        "label": {"column": gcfg.get("expression_column"), "log_transform": gcfg["log_transform"]},
        "join": join,
        "inputs": inputs,
        "input_sha256": sums,
        "split": split_record,
    }


def _write_genome_dataset(
    out_dir: Path,
    genome: Genome,
    genes: pd.DataFrame,
    refs: pd.Series,
    up: int,
    down: int,
    meta: dict[str, Any],
    dropped: pd.DataFrame,
) -> None:
    """Write sequences.npy (``(n, up + down)`` uint8 windows, in blocks), genes.tsv, missing_labels.tsv
    and meta.json atomically."""
    ref_arr = refs.to_numpy(dtype=object)
    tss_arr = genes["tss"].to_numpy(dtype=np.int64)
    strand_arr = genes["strand"].to_numpy(dtype=object)
    with atomic_dir(out_dir) as tmp:
        with SequenceWriter(DataFiles(tmp).sequences, len(genes), up + down) as writer:
            for s in _progress(range(0, len(genes), BLOCK), len(genes), "extracting promoter windows"):
                e = min(s + BLOCK, len(genes))
                writer.write(s, extract_windows(genome, ref_arr[s:e], tss_arr[s:e], strand_arr[s:e], up, down))
        meta["ambiguous_bases_read_as_n"] = genome.n_ambiguous
        write_tsv(DataFiles(tmp).missing_labels, dropped)
        write_dataset(tmp, None, genes, meta, sequences_written=True)


def build(cfg: dict[str, Any], out_dir: Path) -> None:
    """Build the ``genome`` data set of ``cfg`` into ``out_dir`` (sequences.npy, genes.tsv, meta.json)."""
    gcfg = cfg["dataset"]["genome"]
    up, down = int(gcfg["upstream"]), int(gcfg["downstream"])
    if up + down <= 0:
        raise InputDataError(None, "dataset.genome.upstream + downstream must be positive")
    tss_path = tables.require_file(gcfg.get("tss"), "dataset.genome.tss (TSS table)")
    expr_path = tables.require_file(gcfg.get("expression"), "dataset.genome.expression (expression table)")
    fasta_path = _genome_path(gcfg, cfg)

    tss = read_tss_table(tss_path, gcfg)
    n_table = len(tss)
    tss = _select_tss(tss, gcfg, tss_path)
    expr = read_expression(expr_path, gcfg)
    genes, dropped, n_no_tss = _join_labels(tss, expr, tss_path, expr_path, gcfg["missing_label"])

    genome = Genome(fasta_path, index_dir=download_dir(cfg["download"]["cache_dir"], "genome"))
    try:
        genes, refs, n_skipped = resolve_chromosomes(
            genes,
            genome,
            missing_chromosome=gcfg["missing_chromosome"],
            tss_path=tss_path,
            key="dataset.genome.missing_chromosome",
        )
        split, split_record = apply_split(genes, cfg["dataset"]["split"], has_source_split=False, path=tss_path)
        genes.insert(2, "split", split)
        genes = validate_genes(genes[["gene_id", "label", "split", "chrom", "tss", "strand"]], expr_path)
        join = {
            "tss_records": n_table,
            "genes": len(genes),
            "tss_without_label": len(dropped),
            "label_without_tss": n_no_tss,
            "skipped_missing_chromosome": n_skipped,
        }
        paths = {"fasta": fasta_path, "tss": tss_path, "expression": expr_path}
        meta = _dataset_meta(gcfg, paths, join, split_record)
        meta["missing_labels"] = {"policy": gcfg["missing_label"], "dropped": len(dropped)}
        _write_genome_dataset(out_dir, genome, genes, refs, up, down, meta, dropped)
    finally:
        genome.close()
    if genome.n_ambiguous:
        log.warning(
            "%s: %d IUPAC ambiguity bases in the promoter windows were read as N", fasta_path, genome.n_ambiguous
        )
    log.info("genome source: %d genes, %d bp windows (TSS at index %d)", len(genes), up + down, up)


def _progress(it, total: int, desc: str):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        return it
    return tqdm(
        it, total=(total + BLOCK - 1) // BLOCK, desc=desc, unit="block", disable=total < 20 * BLOCK, mininterval=5
    )
