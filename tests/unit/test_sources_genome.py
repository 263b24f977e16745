"""Tests of the ``genome`` data source: strand-aware windows from a genome FASTA."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from promoter_cr.config import section_defaults, validate_config
from promoter_cr.data.dataset import load_dataset
from promoter_cr.data.sources import build_dataset
from promoter_cr.data.sources.genome import read_tss_table
from promoter_cr.errors import InputDataError
from promoter_cr.seq.encoding import decode, encode, reverse_complement, reverse_complement_codes

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
_LETTERS = np.frombuffer(b"ACGT", dtype=np.uint8)


def _random_dna(n: int, rng: np.random.Generator) -> bytes:
    return _LETTERS[rng.integers(0, 4, size=n)].tobytes()


def _write_fasta(path: Path, contigs: dict[str, bytes], width: int = 60) -> None:
    with open(path, "wb") as fh:
        for name, seq in contigs.items():
            fh.write(f">{name} some description\n".encode())
            n_full = len(seq) // width
            if n_full:
                body = np.frombuffer(seq[: n_full * width], dtype=np.uint8).reshape(n_full, width)
                body = np.concatenate([body, np.full((n_full, 1), ord("\n"), dtype=np.uint8)], axis=1)
                fh.write(body.tobytes())
            if len(seq) % width:
                fh.write(seq[n_full * width :] + b"\n")


#: tiny inputs need a third of the genes in valid and in test (no split may be empty)
THIRDS = {"valid_fraction": 0.34, "test_fraction": 0.34}
#: two more genes on chr2 for tests about one gene's window (a data set needs genes in all three splits)
FILL_BED = [("2", 300, 310, "fill1", 0, "+"), ("2", 320, 330, "fill2", 0, "-")]
FILL_EXPR = [("fill1", 5), ("fill2", 6)]


def _cfg(genome: dict, split: dict | None = None, tmp: Path | None = None) -> dict:
    raw = {"dataset": {"source": "genome", "genome": genome, "split": split or THIRDS}}
    if tmp is not None:
        raw["download"] = {"cache_dir": str(tmp / "cache")}
    return validate_config(raw, semantics=False)


def _expected(contig: bytes, tss: int, strand: str, up: int, down: int) -> str:
    """Window by hand: slice with N padding, reverse complement on minus."""
    if strand == "+":
        a, b = tss - up, tss + down
    else:
        a, b = tss - down + 1, tss + up + 1
    s = "".join(chr(contig[i]) if 0 <= i < len(contig) else "N" for i in range(a, b))
    return s if strand == "+" else reverse_complement(s)


@pytest.fixture
def small_genome(tmp_path):
    rng = np.random.default_rng(3)
    contigs = {"chrS": _random_dna(50, rng), "chr2": _random_dna(400, rng), "chrM": _random_dna(120, rng)}
    contigs["chr2"] = contigs["chr2"][:200] + b"acgtRYN" + contigs["chr2"][207:]  # soft-mask, IUPAC, N
    fa = tmp_path / "genome.fa"
    _write_fasta(fa, contigs)
    bgz = tmp_path / "genome.fa.gz"
    pysam.tabix_compress(str(fa), str(bgz))
    return contigs, fa, bgz


def _bed(path: Path, rows: list[tuple]) -> Path:
    path.write_text("".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


def _expr(path: Path, rows: list[tuple], header: str | None = "gene\tvalue") -> Path:
    path.write_text((header + "\n" if header else "") + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


def test_bed_windows_both_strands_with_padding(tmp_path, small_genome):
    contigs, _, bgz = small_genome
    up, down = 20, 10
    # BED intervals with bed_tss: start -> TSS = start on +, end - 1 on -
    genes = [
        ("g_plus_mid", "2", 100, 150, "+"),
        ("g_minus_mid", "chr2", 250, 300, "-"),
        ("g_plus_left_edge", "S", 5, 30, "+"),  # window starts before 0
        ("g_minus_right_edge", "chrS", 20, 46, "-"),  # window runs past the end
        ("g_minus_left_edge", "S", 0, 4, "-"),
        ("g_mt", "MT", 60, 80, "+"),  # MT <-> chrM
        ("g_iupac", "2", 195, 260, "+"),
        ("g_unlabelled", "2", 10, 20, "+"),
    ]
    bed = _bed(tmp_path / "tss.bed", [(c, s, e, g + ".3", 0, st) for g, c, s, e, st in genes])
    expr = _expr(
        tmp_path / "expr.tsv", [(g, i + 1.0) for i, (g, *_rest) in enumerate(genes[:-1])] + [("g_not_in_bed", 5)]
    )
    out = tmp_path / "ds"
    build_dataset(
        _cfg(
            {
                "fasta": str(bgz),
                "tss": str(bed),
                "expression": str(expr),
                "upstream": up,
                "downstream": down,
                "log_transform": "log2p",
                "missing_label": "drop",
            },
            tmp=tmp_path,
        ),
        out,
    )
    ds = load_dataset(out)
    assert list(ds.genes["gene_id"]) == [g for g, *_ in genes[:-1]]
    dropped = pd.read_csv(out / "missing_labels.tsv", sep="\t", keep_default_na=False)
    assert list(dropped["gene_id"]) == ["g_unlabelled"] and dropped["record"].iloc[0] == "no row in expr.tsv"
    assert ds.meta["missing_labels"] == {"policy": "drop", "dropped": 1}
    np.testing.assert_allclose(ds.labels(), np.log2(2 + np.arange(7)), rtol=1e-6)
    assert ds.length == up + down and ds.meta["tss_index"] == up
    name = {"2": "chr2", "chr2": "chr2", "S": "chrS", "chrS": "chrS", "MT": "chrM"}
    for i, (g, c, s, e, st) in enumerate(genes[:-1]):
        tss = s if st == "+" else e - 1
        want = _expected(contigs[name[c]], tss, st, up, down).upper().replace("R", "N").replace("Y", "N")
        assert decode(ds.sequences[i]) == want, g
        assert ds.genes["tss"].iloc[i] == tss and ds.genes["strand"].iloc[i] == st and ds.genes["chrom"].iloc[i] == c
    assert decode(ds.sequences[2])[:15] == "N" * 15
    assert ds.meta["join"] == {
        "tss_records": 8,
        "genes": 7,
        "tss_without_label": 1,
        "label_without_tss": 1,
        "skipped_missing_chromosome": 0,
    }
    assert set(ds.meta["input_sha256"]) == {"fasta", "tss", "expression"}


def test_gtf_and_gff3(tmp_path, small_genome):
    contigs, fa, _ = small_genome
    gtf = tmp_path / "ann.gtf.gz"
    with gzip.open(gtf, "wt") as fh:
        fh.write("#!genome-build test\n")
        fh.write('chr2\tsrc\tgene\t101\t150\t.\t+\t.\tgene_id "A.1"; gene_name "a";\n')
        fh.write('chr2\tsrc\ttranscript\t101\t150\t.\t+\t.\tgene_id "A.1"; transcript_id "A-201";\n')
        fh.write('chr2\tsrc\tgene\t201\t300\t.\t-\t.\tgene_id "B"; gene_name "b";\n')
        fh.write('chr2\tsrc\ttranscript\t111\t150\t.\t+\t.\tgene_id "A.1"; transcript_id "A-202";\n')
        fh.write('chr2\tsrc\tgene\t311\t320\t.\t+\t.\tgene_id "C";\n')
    expr = _expr(tmp_path / "e.csv", [], header=None)
    expr.write_text("id,v\nA,1\nB,2\nC,3\n")
    build_dataset(
        _cfg({"fasta": str(fa), "tss": str(gtf), "expression": str(expr), "upstream": 5, "downstream": 5}),
        tmp_path / "ds",
    )
    ds = load_dataset(tmp_path / "ds")
    assert list(ds.genes["tss"]) == [100, 299, 310] and ds.meta["tss_format"] == "gtf"
    assert decode(ds.sequences[0]) == contigs["chr2"][95:105].decode().upper()
    assert decode(ds.sequences[1]) == reverse_complement(contigs["chr2"][295:305].decode())
    gff = tmp_path / "ann.gff3"
    gff.write_text(
        "##gff-version "
        "3\nchr2\tsrc\tgene\t101\t150\t.\t+\t.\tID=gene:A;Name=a\nchr2\tsrc\tgene\t201\t300\t.\t-\t.\tID=gene:B\nchr2\tsrc\tgene\t311\t320\t.\t+\t.\tID=gene:C\n"
    )
    build_dataset(
        _cfg(
            {
                "fasta": str(fa),
                "tss": str(gff),
                "expression": str(expr),
                "gtf_id_attribute": "ID",
                "upstream": 5,
                "downstream": 5,
            }
        ),
        tmp_path / "ds2",
    )
    ds2 = load_dataset(tmp_path / "ds2")
    assert np.array_equal(ds2.sequences, ds.sequences)
    # transcripts sharing a gene id are one TSS per gene too many
    with pytest.raises(InputDataError, match=r"gene A \(line 3\): duplicate gene id"):
        build_dataset(
            _cfg(
                {
                    "fasta": str(fa),
                    "tss": str(gtf),
                    "expression": str(expr),
                    "gtf_feature": "transcript",
                    "upstream": 5,
                    "downstream": 5,
                }
            )
            | {},
            tmp_path / "ds3",
        )


def test_read_tss_table_center(tmp_path):
    bed = _bed(tmp_path / "x.bed", [("1", 0, 20000, "a", 0, "+"), ("1", 100, 20100, "b", 0, "-")])
    t = read_tss_table(bed, {**section_defaults("dataset")["genome"], "bed_tss": "center"})
    assert list(t["tss"]) == [10000, 10100] and list(t["line"]) == [1, 2]


def _bad_build(tmp_path, fasta, bed_rows, expr_rows, **extra):
    bed = _bed(tmp_path / "tss.bed", bed_rows)
    expr = _expr(tmp_path / "expr.tsv", expr_rows)
    out = tmp_path / "ds"
    try:
        build_dataset(
            _cfg(
                {"fasta": str(fasta), "tss": str(bed), "expression": str(expr), "upstream": 5, "downstream": 5, **extra}
            ),
            out,
        )
    finally:
        assert not (out / "sequences.npy").exists() or (out / "meta.json").exists()
    return out


def test_unknown_chromosome_error_or_skip(tmp_path, small_genome):
    _, fa, _ = small_genome
    rows = [("2", 10, 20, "a", 0, "+"), ("chr7", 10, 20, "b", 0, "+"), *FILL_BED]
    with pytest.raises(
        InputDataError, match=r"tss\.bed, gene b \(line 2\): chromosome 'chr7' is not in the genome FASTA"
    ):
        _bad_build(tmp_path, fa, rows, [("a", 1), ("b", 2), *FILL_EXPR])
    assert not (tmp_path / "ds" / "meta.json").exists()
    out = _bad_build(tmp_path, fa, rows, [("a", 1), ("b", 2), *FILL_EXPR], missing_chromosome="skip")
    ds = load_dataset(out)
    assert list(ds.genes["gene_id"]) == ["a", "fill1", "fill2"] and ds.meta["join"]["skipped_missing_chromosome"] == 1


@pytest.mark.parametrize(
    ("bed_rows", "expr_rows", "match"),
    [
        (
            [("2", 10, 20, "a", 0, "+"), ("2", 30, 40, "a", 0, "-")],
            [("a", 1)],
            r"tss\.bed, gene a \(line 1\): duplicate gene id",
        ),
        ([("2", 10, 20, "a", 0, "+")], [("x", 1), ("y", 2)], r"expr\.tsv: no gene id in common"),
        (
            [("2", 10, 20, "a", 0, "+"), ("2", 30, 40, "b", 0, "+")],
            [("a", 1), ("b", "NaN")],
            r"expr\.tsv, line 3 \(gene b\): expression value is missing or not a number \('NaN'; 1 of 2 such\); "
            r"set dataset.genome.missing_label: drop",
        ),
        (
            [("2", 10, 20, "a", 0, "+"), ("2", 30, 40, "b", 0, "+")],
            [("a", 1), ("b", "n/a")],
            r"line 3 \(gene b\): expression value is missing or not a number \('n/a'",
        ),
        ([("2", 10, 20, "a", 0, "+")], [("a", 1), ("a", 2)], r"expr\.tsv, gene a: duplicate gene id"),
        (
            [("2", 10, 20, "a", 0, "+"), ("2", 500, 520, "b", 0, "+")],
            [("a", 1), ("b", 2)],
            r"gene b \(line 2\): TSS 500 \(0-based\) lies outside chromosome chr2 of length 400",
        ),
        ([("2", 10, 20, "a", 0, ".")], [("a", 1)], r"line 1: strand '\.' is not"),
        ([("2", "ten", 20, "a", 0, "+")], [("a", 1)], r"line 1: BED start 'ten' is not an integer"),
        ([("2", 10, 20, "a")], [("a", 1)], r"BED needs 6 columns"),
    ],
)
def test_bad_inputs(tmp_path, small_genome, bed_rows, expr_rows, match):
    _, fa, _ = small_genome
    with pytest.raises(InputDataError, match=match):
        _bad_build(tmp_path, fa, bed_rows, expr_rows)
    assert not (tmp_path / "ds" / "sequences.npy").exists() and not (tmp_path / "ds" / "meta.json").exists()


def test_empty_inputs(tmp_path, small_genome):
    _, fa, _ = small_genome
    with pytest.raises(InputDataError, match=r"tss\.bed: empty TSS table"):
        _bad_build(tmp_path, fa, [], [("a", 1)])
    with pytest.raises(InputDataError, match=r"expr\.tsv: empty table"):
        _bad_build(tmp_path, fa, [("2", 10, 20, "a", 0, "+")], [])


def test_plain_gzip_genome_is_refused(tmp_path, small_genome):
    _, fa, _ = small_genome
    gz = tmp_path / "plain.fa.gz"
    with open(fa, "rb") as src, gzip.open(gz, "wb") as dst:
        dst.write(src.read())
    with pytest.raises(InputDataError, match=r"plain\.fa\.gz: genome FASTA is plain gzip.*bgzip"):
        _bad_build(tmp_path, gz, [("2", 10, 20, "a", 0, "+")], [("a", 1)])


def test_missing_files(tmp_path, small_genome):
    _, fa, _ = small_genome
    with pytest.raises(InputDataError, match=r"nope\.bed: dataset.genome.tss \(TSS table\) not found"):
        build_dataset(
            _cfg({"fasta": str(fa), "tss": str(tmp_path / "nope.bed"), "expression": str(fa)}), tmp_path / "ds"
        )
    assert not (tmp_path / "ds").exists()


def test_chromosome_split(tmp_path, small_genome):
    _, fa, _ = small_genome
    rows = [("2", 10 * i, 10 * i + 5, f"a{i}", 0, "+") for i in range(1, 20)] + [
        ("S", i, i + 1, f"s{i}", 0, "-") for i in range(10)
    ]
    rows += [("chrM", 20 * i, 20 * i + 1, f"m{i}", 0, "+") for i in range(3)]
    bed = _bed(tmp_path / "tss.bed", rows)
    expr = _expr(tmp_path / "e.tsv", [(r[3], i) for i, r in enumerate(rows)])
    build_dataset(
        _cfg(
            {"fasta": str(fa), "tss": str(bed), "expression": str(expr), "upstream": 5, "downstream": 5},
            {"test_chromosomes": ["chrS"], "valid_chromosomes": ["MT"]},
        ),
        tmp_path / "ds",
    )
    ds = load_dataset(tmp_path / "ds")
    assert ds.meta["split"]["method"] == "chromosome"
    assert (ds.genes.loc[ds.genes["chrom"] == "chrM", "split"] == "valid").all()
    assert (ds.genes.loc[ds.genes["chrom"] == "S", "split"] == "test").all()
    assert (ds.genes.loc[ds.genes["chrom"] == "2", "split"] == "train").all()


@pytest.mark.shared_data
def test_real_tss_and_label_tables(tmp_path):
    """Real Xpresso TSS (BED, 20 kb centred) and label tables on a random 'chr21' of the real length."""
    xdir = SHARED / "xpresso"
    if not xdir.exists():
        pytest.skip(f"shared data {xdir} not available")
    bed_path = xdir / "hg38_promoters_cage_corrected.bed.gz"
    expr_path = xdir / "1to1_orthologs_expression.txt.gz"
    bed = pd.read_csv(bed_path, sep="\t", header=None, dtype={0: str})
    on21 = bed[bed[0] == "21"]
    length = int(on21[2].max()) + 1000  # covers every chr21 interval (hg38 chr21 is 46.7 Mb)
    rng = np.random.default_rng(21)
    contig = _random_dna(length, rng)
    fa = tmp_path / "chr21.fa"
    _write_fasta(fa, {"chr21": contig})  # FASTA says chr21, the BED says 21
    up, down = 7000, 3500
    cfg = _cfg(
        {
            "fasta": str(fa),
            "tss": str(bed_path),
            "bed_tss": "center",
            "expression": str(expr_path),
            "expression_has_header": False,
            "expression_id_column": 0,
            "expression_column": 3,
            "chromosomes": ["21"],
            "missing_label": "drop",  # Xpresso has labels for 15,348 of its 18,413 TSS genes
            "upstream": up,
            "downstream": down,
        }
    )
    build_dataset(cfg, tmp_path / "ds")
    ds = load_dataset(tmp_path / "ds")
    expr = pd.read_csv(expr_path, sep="\t", header=None)
    labelled = on21[on21[3].isin(set(expr[0]))]
    assert ds.n == len(labelled) > 100
    assert set(ds.genes["strand"]) == {"+", "-"}
    assert ds.meta["join"]["tss_without_label"] == len(on21) - len(labelled)
    lab = dict(zip(expr[0], expr[3]))
    np.testing.assert_allclose(ds.labels(), [lab[g] for g in ds.genes["gene_id"]], rtol=1e-6)
    codes = encode(contig)
    rows = labelled.set_index(3).loc[ds.genes["gene_id"]]
    for i, (start, strand) in enumerate(zip(rows[1].to_numpy(), rows[5].to_numpy())):
        tss = int(start) + 10000
        assert ds.genes["tss"].iloc[i] == tss
        if strand == "+":
            want = codes[tss - up : tss + down]
        else:
            want = reverse_complement_codes(codes[tss - down + 1 : tss + up + 1])
        assert np.array_equal(ds.sequences[i], want), ds.genes["gene_id"].iloc[i]


def test_fasta_url_plain_gzip_is_decompressed_into_cache(tmp_path, small_genome):
    contigs, fa, _ = small_genome
    gz = tmp_path / "dl.fa.gz"
    with open(fa, "rb") as src, gzip.open(gz, "wb") as dst:
        dst.write(src.read())
    bed = _bed(tmp_path / "tss.bed", [("2", 100, 150, "a", 0, "+"), *FILL_BED])
    expr = _expr(tmp_path / "e.tsv", [("a", 1), *FILL_EXPR])
    build_dataset(
        _cfg(
            {"fasta_url": gz.as_uri(), "tss": str(bed), "expression": str(expr), "upstream": 3, "downstream": 3},
            tmp=tmp_path,
        ),
        tmp_path / "ds",
    )
    ds = load_dataset(tmp_path / "ds")
    assert decode(ds.sequences[0]) == contigs["chr2"][97:103].decode().upper()
    assert ds.meta["inputs"]["fasta"] == str(tmp_path / "cache" / "genome" / "dl.fa")


def test_downloaded_plain_gzip_set_as_fasta_is_decompressed(tmp_path, small_genome):
    """The workflow's download rule fetches fasta_url and passes the cached copy as `fasta`."""
    contigs, fa, _ = small_genome
    gz = tmp_path / "cache" / "genome" / "hg.fa.gz"
    gz.parent.mkdir(parents=True)
    with open(fa, "rb") as src, gzip.open(gz, "wb") as dst:
        dst.write(src.read())
    bed = _bed(tmp_path / "tss.bed", [("2", 100, 150, "a", 0, "-"), *FILL_BED])
    expr = _expr(tmp_path / "e.tsv", [("a", 1), *FILL_EXPR])
    g = {
        "fasta": str(gz),
        "fasta_url": "https://example.org/hg.fa.gz",
        "tss": str(bed),
        "expression": str(expr),
        "upstream": 3,
        "downstream": 3,
    }
    build_dataset(_cfg(g, tmp=tmp_path), tmp_path / "ds")
    ds = load_dataset(tmp_path / "ds")
    assert decode(ds.sequences[0]) == reverse_complement(contigs["chr2"][147:153].decode())
    assert ds.meta["inputs"]["fasta"] == str(tmp_path / "cache" / "genome" / "hg.fa")


@pytest.mark.shared_data
def test_real_yeast_genome_three_chromosomes(tmp_path, shared_data):
    """The shared S. cerevisiae genome, STRIPE-seq TSSs and RNA-seq through the genome source, three chromosomes.

    TDH3 (YGR192C, minus strand, TSS at VII:883,849 1-based) is cut base for base: its transcript
    starts AAGAACTTAG at the window's TSS index and its ATG lies 39 nt downstream.
    """
    d = shared_data / "yeast_genome"
    cfg = _cfg(
        {
            "fasta": str(d / "Saccharomyces_cerevisiae.R64-1-1.dna.toplevel.fa.gz"),
            "tss": str(d / "tss_stripeseq.bed"),
            "bed_tss": "start",
            "expression": str(d / "expression_rnaseq.tsv"),
            "expression_id_column": "gene_id",
            "expression_column": "log2_tpm",
            "chromosomes": ["I", "III", "VII"],
            "upstream": 1000,
            "downstream": 100,
        },
        split={"method": "chromosome", "valid_chromosomes": ["I"], "test_chromosomes": ["III"]},
        tmp=tmp_path,
    )
    out = tmp_path / "yeast"
    build_dataset(cfg, out)
    ds = load_dataset(out)
    bed = pd.read_csv(d / "tss_stripeseq.bed", sep="\t", header=None, dtype={0: str})
    counts = {c: int((bed[0] == c).sum()) for c in ("I", "III", "VII")}
    assert counts == {"I": 85, "III": 158, "VII": 533}
    assert ds.n == sum(counts.values()) and ds.length == 1100 and ds.meta["tss_index"] == 1000
    expected = ds.genes["chrom"].map({"I": "valid", "III": "test", "VII": "train"})
    assert (ds.genes["split"] == expected).all()
    i = int(np.flatnonzero(ds.genes["gene_id"].to_numpy() == "YGR192C")[0])
    window = decode(ds.sequences[i])
    assert window[1000:1010] == "AAGAACTTAG" and window[1039:1042] == "ATG"
    assert ds.genes["strand"].iloc[i] == "-" and ds.genes["tss"].iloc[i] == 883848
    expr = pd.read_csv(d / "expression_rnaseq.tsv", sep="\t").set_index("gene_id")["log2_tpm"]
    assert ds.labels()[i] == pytest.approx(expr["YGR192C"])
    assert ds.meta["missing_labels"] == {"policy": "error", "dropped": 0}
