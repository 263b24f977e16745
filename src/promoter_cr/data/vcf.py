"""VCF/BCF alleles inside promoter windows (pysam): records split per ALT, reduced to their minimal
change, checked against the genome, and paired with every gene window they touch.

The rules (symbolic ALTs, REF mismatches, missing chromosomes, regions) are described in
:mod:`promoter_cr.interpret.variants`, which scores what :func:`read_alleles` returns.
"""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.data.sources.genome import (
    Genome,
)
from promoter_cr.data.windows import WindowSpec
from promoter_cr.errors import InputDataError
from promoter_cr.seq.chromosomes import normalise_chrom
from promoter_cr.seq.encoding import decode

log = logging.getLogger(__name__)

ON_REF_MISMATCH = ("error", "flag", "skip")
MISSING_CHROMOSOME = ("error", "skip")
_BASE_LUT = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate("ACGTN"):
    _BASE_LUT[ord(_c)] = _i
    _BASE_LUT[ord(_c.lower())] = _i


# ============================================================================ VCF
@dataclass
class Alleles:
    """Alleles of the VCF that fall in some gene window, and the (allele, gene) pairs to score.

    Per allele (``(n,)`` arrays/lists): ``variant_id, chrom, pos, ref, alt, kind`` (as written to the
    table), ``core_start``/``core_end`` (int64 genomic span of the minimal change), ``alt_core``
    (uint8 codes of the inserted bases, forward strand), ``ref_mismatch`` (bool).
    Pairs (``(p,)`` int64): ``pair_allele``, ``pair_gene`` (row of the gene table).
    ``counts``: what was read, skipped and kept.
    """

    variant_id: list[str]
    chrom: list[str]
    pos: np.ndarray
    ref: list[str]
    alt: list[str]
    kind: list[str]
    core_start: np.ndarray
    core_end: np.ndarray
    alt_core: list[np.ndarray]
    ref_mismatch: np.ndarray
    pair_allele: np.ndarray
    pair_gene: np.ndarray
    counts: dict[str, int]


def parse_region(text: str) -> tuple[str, int, int | None]:
    """``chr1``, ``chr1:1000-2000`` or ``chr1:1,000-2,000`` (1-based, inclusive).

    Returns ``(chrom, start0, end)``, half-open."""
    text = text.strip().replace(",", "")
    chrom, _, rng = text.partition(":")
    if not chrom:
        raise ValueError(f"region {text!r} has no chromosome")
    if not rng:
        return chrom, 0, None
    a, _, b = rng.partition("-")
    try:
        start = int(a) - 1
        end = int(b) if b else start + 1
    except ValueError:
        raise ValueError(f"region {text!r} is not chrom:start-end") from None
    if start < 0 or end <= start:
        raise ValueError(f"region {text!r} is empty or negative")
    return chrom, start, end


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _intersect(a: list[tuple[int, int]], b: list[tuple[int, int | None]]) -> list[tuple[int, int]]:
    out = []
    for s, e in a:
        for rs, re_ in b:
            lo, hi = max(s, rs), min(e, re_ if re_ is not None else e)
            if hi > lo:
                out.append((lo, hi))
    return _merge(out)


def _locate_bad_record(path: Path, n_ok: int, last: str | None) -> str:
    """Best-effort name of the record after ``n_ok`` good ones: its line (text VCF), else its number."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(2)
        opener = gzip.open if magic == b"\x1f\x8b" else open
        with opener(path, "rt", errors="replace") as fh:
            if fh.read(3) == "BCF":  # binary: no lines to point at
                raise OSError
            fh.seek(0)
            k = 0
            for lineno, line in enumerate(fh, 1):
                if line.startswith("#"):
                    continue
                if k == n_ok:
                    text = line.rstrip("\n")
                    return f"line {lineno} ({text[:80]!r})"
                k += 1
    except (OSError, EOFError, UnicodeDecodeError):
        pass
    return f"record {n_ok + 1}" + (f" (after {last})" if last else "")


def _open_vcf(path: Path):
    import pysam

    if not path.exists():
        raise InputDataError(path, "VCF file not found")
    if path.is_dir():
        raise InputDataError(path, "is a directory, expected a VCF/BCF file")
    try:
        return pysam.VariantFile(str(path))
    except (OSError, ValueError) as exc:
        raise InputDataError(path, f"not a readable VCF/BCF file ({str(exc).strip() or type(exc).__name__})") from None


def _iter_records(vf, path: Path, fetches: list[tuple[str, int, int]] | None) -> Iterator[Any]:
    """Records of an open VariantFile: all (``fetches`` None) or region queries, each record once.

    A record is fetched by every interval it overlaps; sorted disjoint intervals of a contig make it
    reappear only in later intervals, where it starts before the previous interval's end: skipped.
    Malformed records raise :class:`InputDataError` naming the line (text VCF) or record number.
    """
    n_ok, last = 0, None
    if fetches is None:
        sources: Iterable[tuple[Any, int]] = [(iter(vf), -1)]
    else:
        sources = []
        prev: dict[str, int] = {}
        for contig, _start, e in fetches:
            sources.append((None, prev.get(contig, -1)))
            prev[contig] = e
    for k, (it, skip_before) in enumerate(sources):
        if it is None:
            contig, s, e = fetches[k]
            it = vf.fetch(contig, s, e)
        while True:
            try:
                rec = next(it)
            except StopIteration:
                break
            except (OSError, ValueError) as exc:
                where = (
                    _locate_bad_record(path, n_ok, last)
                    if fetches is None
                    else f"after {last or 'the start of ' + fetches[k][0]}"
                )
                why = _diagnose_vcf_line(where) or str(exc).strip() or type(exc).__name__
                raise InputDataError(path, f"malformed VCF record ({why})", record=where) from None
            if rec.start < skip_before:
                continue
            declared = vf.header.contigs[rec.chrom].length if rec.chrom in vf.header.contigs else None
            if declared is not None and rec.pos > declared:
                raise InputDataError(
                    path,
                    f"position {rec.pos} lies beyond the length {declared} that the header declares for "
                    f"contig {rec.chrom} (another assembly?)",
                    record=f"{rec.chrom}:{rec.pos}",
                )
            n_ok += 1
            last = f"{rec.chrom}:{rec.pos}"
            yield rec


def _diagnose_vcf_line(where: str) -> str | None:
    """What is wrong with a text VCF line quoted by :func:`_locate_bad_record` (``line N ('...')``), if it can tell.

    htslib reports most malformed lines as a "truncated file"; a POS that is not a positive integer
    or too few columns are named instead.
    """
    m = re.match(r"line \d+ \((['\"])(.*)\1\)$", where)
    if not m:
        return None
    fields = m.group(2).encode().decode("unicode_escape").split("\t")
    if len(fields) < 8:
        return f"{len(fields)} tab-separated columns, a VCF record needs at least 8"
    if not fields[1].isdigit() or int(fields[1]) < 1:
        return f"POS {fields[1]!r} is not a positive integer"
    return None


def _is_symbolic(alt: str) -> bool:
    return (
        alt.startswith("<") or "[" in alt or "]" in alt or alt in ("*", ".") or alt.startswith(".") or alt.endswith(".")
    )


def _codes(seq: str, path: Path, record: str, what: str) -> np.ndarray:
    codes = _BASE_LUT[np.frombuffer(seq.encode("ascii", errors="replace"), dtype=np.uint8)]
    if (codes == 255).any():
        raise InputDataError(path, f"{what} {seq!r} has characters other than A, C, G, T, N", record=record)
    return codes


def _minimal_change(pos0: int, ref: np.ndarray, alt: np.ndarray) -> tuple[int, int, np.ndarray]:
    """Trim the shared prefix, then the shared suffix: ``(core_start, core_end, alt_core)`` (genomic, 0-based)."""
    n = min(len(ref), len(alt))
    p = 0
    while p < n and ref[p] == alt[p]:
        p += 1
    r, a = ref[p:], alt[p:]
    m = min(len(r), len(a))
    s = 0
    while s < m and r[len(r) - 1 - s] == a[len(a) - 1 - s]:
        s += 1
    return pos0 + p, pos0 + len(ref) - s, a[: len(a) - s].copy()


def _kind(ref_len: int, alt_len: int) -> str:
    if ref_len == alt_len:
        return "snv" if ref_len == 1 else "mnv"
    if ref_len == 0:
        return "insertion"
    if alt_len == 0:
        return "deletion"
    return "complex"


def _regions_by_chrom(regions: Sequence[str] | None) -> dict[str, list[tuple[int, int | None]]] | None:
    """``regions`` parsed (:func:`parse_region`) and grouped by normalised chromosome; ``None`` when not given."""
    if not regions:
        return None
    by_chrom: dict[str, list[tuple[int, int | None]]] = {}
    for c, s, e in [parse_region(r) for r in regions]:
        by_chrom.setdefault(normalise_chrom(c), []).append((s, e))
    return by_chrom


def _window_index(genes: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Gene windows per genome chromosome (``ref``), sorted by start.

    Maps ``ref`` to ``(starts, rows)``: ``(g,)`` int64 window starts in ascending order and the
    ``(g,)`` gene-table rows (index values) they belong to.
    """
    win: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for ref, grp in genes.groupby("ref", sort=False):
        order = np.argsort(grp["start"].to_numpy(), kind="stable")
        win[ref] = (grp["start"].to_numpy()[order], grp.index.to_numpy()[order])
    return win


def _plan_fetches(
    vf,
    path: Path,
    win: Mapping[str, tuple[np.ndarray, np.ndarray]],
    length: int,
    regions: Mapping[str, list[tuple[int, int | None]]] | None,
) -> list[tuple[str, int, int]] | None:
    """Region queries ``(contig, start0, end)`` over the gene windows (intersected with ``regions``).

    ``None`` when the VCF has no index (the file is then streamed). Contigs are the index's names
    (matched across ``chr1``/``1``); windows on chromosomes the index lacks are not queried.
    """
    if vf.index is None:
        return None
    index_contigs = list(vf.index.keys())
    alias = {}
    for c in index_contigs:
        alias.setdefault(normalise_chrom(c), c)
    fetches = []
    for ref, (starts, _) in win.items():
        contig = ref if ref in index_contigs else alias.get(normalise_chrom(ref))
        if contig is None:
            continue
        ivs = _merge([(max(0, int(s) - 1), int(s) + length + 1) for s in starts])
        if regions is not None:
            ivs = _intersect(ivs, regions.get(normalise_chrom(ref), []))
        fetches.extend((contig, s, e) for s, e in ivs)
    log.info("%s is indexed: %d region queries over the gene windows", path, len(fetches))
    return fetches


def _new_counts() -> dict[str, int]:
    """Zeroed counters of :attr:`Alleles.counts` (key order is the summary's)."""
    return dict(
        records=0,
        alleles=0,
        symbolic_or_missing=0,
        same_as_ref=0,
        unknown_chromosome=0,
        outside_windows=0,
        outside_regions=0,
        ref_mismatch=0,
        ref_mismatch_skipped=0,
        alleles_scored=0,
        pairs=0,
    )


@dataclass
class _AlleleRows:
    """Mutable accumulator of :func:`read_alleles`: allele rows, (allele, gene) pairs and counts.

    Per-allele lists grow by one per kept allele; ``pair_allele`` holds one allele row per pair,
    ``pair_gene`` one sorted ``(g,)`` array of gene rows per kept allele.
    """

    variant_id: list[str] = field(default_factory=list)
    chrom: list[str] = field(default_factory=list)
    pos: list[int] = field(default_factory=list)
    ref: list[str] = field(default_factory=list)
    alt: list[str] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    core_start: list[int] = field(default_factory=list)
    core_end: list[int] = field(default_factory=list)
    alt_core: list[np.ndarray] = field(default_factory=list)
    ref_mismatch: list[bool] = field(default_factory=list)
    pair_allele: list[int] = field(default_factory=list)
    pair_gene: list[np.ndarray] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=_new_counts)

    def add(
        self,
        rec,
        ref_str: str,
        alt_str: str,
        change: tuple[int, int, np.ndarray],
        mismatch: bool,
        gene_rows: np.ndarray,
    ) -> None:
        """Append one allele of ``rec`` (minimal ``change`` = ``(core_start, core_end, alt_core)``) and its genes."""
        cs, ce, alt_core = change
        k = len(self.pos)
        self.variant_id.append(rec.id if rec.id else f"{rec.chrom}:{rec.pos}:{ref_str}>{alt_str}")
        self.chrom.append(rec.chrom)
        self.pos.append(rec.pos)
        self.ref.append(ref_str)
        self.alt.append(alt_str)
        self.kind.append(_kind(ce - cs, len(alt_core)))
        self.core_start.append(cs)
        self.core_end.append(ce)
        self.alt_core.append(alt_core)
        self.ref_mismatch.append(mismatch)
        g = np.sort(gene_rows)
        self.pair_allele.extend([k] * len(g))
        self.pair_gene.append(g)

    def finish(self) -> Alleles:
        """The :class:`Alleles` collected so far (counts of kept alleles and pairs filled in)."""
        counts = self.counts
        counts["alleles_scored"] = len(self.pos)
        counts["pairs"] = len(self.pair_allele)
        return Alleles(
            variant_id=self.variant_id,
            chrom=self.chrom,
            pos=np.asarray(self.pos, dtype=np.int64),
            ref=self.ref,
            alt=self.alt,
            kind=self.kind,
            core_start=np.asarray(self.core_start, dtype=np.int64),
            core_end=np.asarray(self.core_end, dtype=np.int64),
            alt_core=self.alt_core,
            ref_mismatch=np.asarray(self.ref_mismatch, dtype=bool),
            pair_allele=np.asarray(self.pair_allele, dtype=np.int64),
            pair_gene=np.concatenate(self.pair_gene).astype(np.int64) if self.pair_gene else np.zeros(0, np.int64),
            counts=counts,
        )


@dataclass
class _VcfScope:
    """What :func:`read_alleles` reads against: the VCF's path, the genome, the gene windows and the policies.

    ``win``: :func:`_window_index` of the genes; ``stream_regions``: regions by normalised
    chromosome to filter streamed records with (``None``: no filter, or the records come from
    region queries); ``resolved``: cache of VCF chromosome -> genome chromosome (``None``: absent).
    """

    path: Path
    genome: Genome
    length: int
    win: dict[str, tuple[np.ndarray, np.ndarray]]
    on_ref_mismatch: str
    missing_chromosome: str
    stream_regions: dict[str, list[tuple[int, int | None]]] | None
    resolved: dict[str, str | None] = field(default_factory=dict)


def _record_chromosome(rec, n_alts: int, scope: _VcfScope, counts: dict[str, int]) -> str | None:
    """The genome chromosome of ``rec``, or ``None`` when it is skipped (and counted).

    Skipped: a chromosome absent from the genome (``missing_chromosome: skip``; else
    :class:`InputDataError`), or a streamed record outside every region.
    """
    chrom = rec.chrom
    if chrom not in scope.resolved:
        scope.resolved[chrom] = scope.genome.resolve(chrom)
    gref = scope.resolved[chrom]
    counts["alleles"] += n_alts
    if gref is None:
        if scope.missing_chromosome == "skip":
            counts["unknown_chromosome"] += n_alts
            return None
        genome = scope.genome
        shown = ", ".join(list(genome.lengths)[:10]) + (" ..." if len(genome.lengths) > 10 else "")
        raise InputDataError(
            scope.path,
            f"chromosome {chrom!r} is not in the genome FASTA {genome.path} (which has {shown}); "
            "set variants.missing_chromosome: skip to skip such records",
            record=f"{chrom}:{rec.pos}",
        )
    if scope.stream_regions is not None:
        rs = scope.stream_regions.get(normalise_chrom(chrom), [])
        if not any(rec.start < (e if e is not None else rec.stop) and rec.stop > s for s, e in rs):
            counts["outside_regions"] += n_alts
            return None
    return gref


def _ref_matches(rec, gref: str, ref_str: str, ref_codes: np.ndarray, scope: _VcfScope, counts: dict[str, int]) -> bool:
    """Whether REF (``(r,)`` uint8 codes) equals the genome at the record; a mismatch is counted.

    With ``on_ref_mismatch: error`` a mismatch raises :class:`InputDataError` naming ``chrom:pos``.
    """
    pos0 = rec.pos - 1
    genome_ref = scope.genome.fetch_codes(gref, pos0, pos0 + len(ref_codes))
    matches = bool(np.array_equal(genome_ref, ref_codes))
    if not matches:
        counts["ref_mismatch"] += 1
        if scope.on_ref_mismatch == "error":
            raise InputDataError(
                scope.path,
                f"REF {ref_str!r} does not match the genome {scope.genome.path} "
                f"({decode(genome_ref)!r} at {gref}:{rec.pos}); "
                "is the VCF on the same assembly? Set on_ref_mismatch: "
                "flag to keep such rows flagged, or skip",
                record=f"{rec.chrom}:{rec.pos}",
            )
    return matches


def _add_record(rec, gref: str, alts: Sequence[str], scope: _VcfScope, rows: _AlleleRows) -> None:
    """Add every allele of ``rec`` (on genome chromosome ``gref``) that changes some gene window.

    Symbolic/missing ALTs, ALT == REF and alleles outside every window are counted and dropped.
    REF is checked against the genome once, at the first allele inside a window.
    """
    counts = rows.counts
    record = f"{rec.chrom}:{rec.pos}"
    ref_str = rec.ref.upper()
    ref_codes = _codes(ref_str, scope.path, record, "REF")
    pos0 = rec.pos - 1
    checked: bool | None = None
    starts, gene_rows = scope.win.get(gref, (np.zeros(0, np.int64), np.zeros(0, np.int64)))
    for alt in alts:
        if _is_symbolic(alt):
            counts["symbolic_or_missing"] += 1
            continue
        alt_str = alt.upper()
        alt_codes = _codes(alt_str, scope.path, record, "ALT")
        cs, ce, alt_core = _minimal_change(pos0, ref_codes, alt_codes)
        if ce == cs and len(alt_core) == 0:
            counts["same_as_ref"] += 1
            continue
        lo = np.searchsorted(starts, cs - scope.length, side="right")
        hi = np.searchsorted(starts, ce, side="left")  # windows with cs - L < start < ce (ce == cs: insertion)
        if hi <= lo:
            counts["outside_windows"] += 1
            continue
        if checked is None:
            checked = _ref_matches(rec, gref, ref_str, ref_codes, scope, counts)
        if not checked and scope.on_ref_mismatch == "skip":
            counts["ref_mismatch_skipped"] += 1
            continue
        rows.add(rec, ref_str, alt_str, (cs, ce, alt_core), not checked, gene_rows[lo:hi])


def read_alleles(
    vcf: str | Path,
    genes: pd.DataFrame,
    genome: Genome,
    spec: WindowSpec,
    *,
    regions: Sequence[str] | None,
    on_ref_mismatch: str,
    missing_chromosome: str,
) -> Alleles:
    """Read the VCF and pair every allele with the genes whose windows it changes.

    Plain, bgzipped or BCF; with a tabix/CSI index the gene windows (intersected with ``regions``)
    are fetched by region query, else the file is streamed and filtered (records on contigs absent
    from the genome are then errors or counted, per ``missing_chromosome``). ``regions``:
    ``chrom[:start-end]`` strings (1-based inclusive) restricting which records are read. REF is
    checked against the genome for every record with an allele in some window. ``genes`` must
    have a 0..n-1 index (:func:`gene_windows`); pairs refer to its rows.
    """
    if on_ref_mismatch not in ON_REF_MISMATCH:
        raise ValueError(f"on_ref_mismatch must be one of {ON_REF_MISMATCH}")
    if missing_chromosome not in MISSING_CHROMOSOME:
        raise ValueError(f"missing_chromosome must be one of {MISSING_CHROMOSOME}")
    path = Path(vcf)
    by_region = _regions_by_chrom(regions)
    win = _window_index(genes)
    rows = _AlleleRows()
    vf = _open_vcf(path)
    try:
        fetches = _plan_fetches(vf, path, win, spec.length, by_region)
        scope = _VcfScope(
            path=path,
            genome=genome,
            length=spec.length,
            win=win,
            on_ref_mismatch=on_ref_mismatch,
            missing_chromosome=missing_chromosome,
            stream_regions=by_region if fetches is None else None,
        )
        for rec in _iter_records(vf, path, fetches):
            rows.counts["records"] += 1
            alts = rec.alts or (".",)
            gref = _record_chromosome(rec, len(alts), scope, rows.counts)
            if gref is not None:
                _add_record(rec, gref, alts, scope, rows)
    finally:
        vf.close()
    return rows.finish()
