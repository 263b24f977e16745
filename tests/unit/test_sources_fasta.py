"""Tests of the ``fasta`` data source (promoter sequences + labels)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from promoter_cr.config import validate_config
from promoter_cr.data.dataset import load_dataset
from promoter_cr.data.sources import build_dataset
from promoter_cr.data.sources.fasta import parse_fasta_header
from promoter_cr.errors import InputDataError
from promoter_cr.seq.encoding import decode, encode

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


#: tiny inputs need a third of the genes in valid and in test (no split may be empty)
THIRDS = {"valid_fraction": 0.34, "test_fraction": 0.34}


def _cfg(fasta: dict, split: dict | None = None) -> dict:
    return validate_config({"dataset": {"source": "fasta", "fasta": fasta, "split": split or THIRDS}}, semantics=False)


def _assert_nothing_written(out: Path) -> None:
    assert not (out / "sequences.npy").exists()
    assert not (out / "meta.json").exists()
    assert not (out / "genes.tsv").exists()


def _random_seqs(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), size=length)) for _ in range(n)]


# --------------------------------------------------------------------------- good inputs
def test_fasta_with_header_fields_and_location(tmp_path):
    seqs = _random_seqs(12, 40)
    seqs[0] = seqs[0].lower()  # lower case is fine
    lines = []
    for i, s in enumerate(seqs):
        chrom = "chr2" if i < 3 else "chr3" if i < 5 else "chr5"
        lines += [
            f">ENSG{i:05d}|TPM={i + 0.5}|log(TPM)={np.log(i + 1.5):.4f}::{chrom}:{1000 * i}-{1000 * i + 40}({i})",
            s[:25],
            s[25:],
        ]
    path = tmp_path / "p.fa.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    out = tmp_path / "ds"
    build_dataset(
        _cfg(
            {"sequences": str(path), "label_column": "TPM", "log_transform": "log1p"},
            {"method": "chromosome", "test_chromosomes": ["2"], "valid_chromosomes": ["chr3"]},
        ),
        out,
    )
    ds = load_dataset(out)
    assert ds.n == 12 and ds.length == 40
    assert list(ds.genes["gene_id"]) == [f"ENSG{i:05d}" for i in range(12)]
    np.testing.assert_allclose(ds.labels(), np.log1p(np.arange(12) + 0.5), rtol=1e-6)
    assert decode(ds.sequences[0]) == seqs[0].upper()
    assert decode(ds.sequences[7]) == seqs[7]
    assert list(ds.genes["chrom"][:6]) == ["chr2", "chr2", "chr2", "chr3", "chr3", "chr5"]
    assert list(ds.genes["split"]) == ["test"] * 3 + ["valid"] * 2 + ["train"] * 7
    meta = ds.meta
    assert meta["source"] == "fasta" and meta["split"]["method"] == "chromosome"
    assert meta["inputs"]["sequences"] == str(path) and len(meta["input_sha256"]["sequences"]) == 64


def test_parse_fasta_header():
    gid, fields, loc = parse_fasta_header("ENSG1|TPM=2.6|log(TPM)=1.3|TissueSpecific=0::chr12:100-2148(1.29)")
    assert gid == "ENSG1" and fields == {"TPM": "2.6", "log(TPM)": "1.3", "TissueSpecific": "0"}
    assert loc == {"chrom": "chr12", "start": 100, "end": 2148}
    gid, fields, loc = parse_fasta_header("gene7 label=3.5 other")
    assert gid == "gene7" and fields == {"label": "3.5"} and loc == {}
    assert parse_fasta_header("g::chrX:5-10(-)")[2] == {"chrom": "chrX", "start": 5, "end": 10, "strand": "-"}


def test_csv_defaults_and_padding(tmp_path):
    seqs = ["ACGTAC", "ACG", "ACGTACGT"]
    path = tmp_path / "s.csv"
    path.write_text("sequence,label\n" + "\n".join(f"{s},{i}" for i, s in enumerate(seqs)) + "\n")
    out = tmp_path / "ds"
    build_dataset(_cfg({"sequences": str(path), "pad_to": 10, "tss_index": 5}), out)
    ds = load_dataset(out)
    assert list(ds.genes["gene_id"]) == ["seq000001", "seq000002", "seq000003"]
    assert [decode(r) for r in ds.sequences] == ["NNACGTACNN", "NNNACGNNNN", "NACGTACGTN"]
    assert ds.meta["tss_index"] == 5 and ds.meta["window"]["pad_to"] == 10


def test_tsv_without_header_and_separate_labels(tmp_path):
    seqs = _random_seqs(5, 20, seed=1)
    seq_path = tmp_path / "s.tsv"
    seq_path.write_text("".join(f"g{i}\t{s}\n" for i, s in enumerate(seqs)))
    lab_path = tmp_path / "labels.csv"
    lab_path.write_text("gene,expr,other\n" + "".join(f"g{i},{10 * i},x\n" for i in reversed(range(5))) + "extra,1,x\n")
    out = tmp_path / "ds"
    cfg = _cfg(
        {
            "sequences": str(seq_path),
            "has_header": False,
            "id_column": "0",
            "sequence_column": "1",
            "labels": str(lab_path),
            "labels_id_column": "gene",
            "labels_value_column": "expr",
            "log_transform": "log10p",
        }
    )
    build_dataset(cfg, out)
    ds = load_dataset(out)
    assert list(ds.genes["gene_id"]) == [f"g{i}" for i in range(5)]
    np.testing.assert_allclose(ds.labels(), np.log10(1 + 10 * np.arange(5)), rtol=1e-6)
    assert decode(ds.sequences[3]) == seqs[3]
    assert ds.meta["inputs"]["labels"] == str(lab_path)
    # integer column positions work too
    cfg2 = _cfg(
        {
            "sequences": str(seq_path),
            "has_header": False,
            "id_column": 0,
            "sequence_column": 1,
            "labels": str(lab_path),
            "labels_value_column": "expr",
        }
    )
    build_dataset(cfg2, tmp_path / "ds2")
    assert list(load_dataset(tmp_path / "ds2").genes["gene_id"]) == [f"g{i}" for i in range(5)]


# --------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("ACGT\n>g1|x=1\nACGT\n", r"line 1: not a FASTA file"),
        (">g1|x=1\nACGT\n>g2|x=2\n>g3|x=3\nACGT\n", r">g2\|x=2 \(line 3\): empty FASTA record"),
        (">g1|x=1\nACGT\n>g2|x=2\nACXT\n", r">g2\|x=2 \(line 3\): invalid character 'X' at position 3"),
        (">g1|x=1\nACGT\n>g2|x=2\nACG\n", r">g2\|x=2 \(line 3\): sequence length 3 differs"),
        (">g1|x=1\nACGT\n>g2|x=nan\nACGT\n", r">g2\|x=nan \(line 3\): label is missing or not a number \('nan'"),
        (">g1|x=1\nACGT\n>g2|x=high\nACGT\n", r">g2\|x=high \(line 3\): label is missing or not a number \('high'"),
        (">g1|x=1\nACGT\n>g1|x=2\nACGT\n", r"gene g1: duplicate gene id"),
        (">g1|x=1\nACGT\n>g2|y=2\nACGT\n", r">g2\|y=2 \(line 3\): header has no field 'x'"),
        ("", r"empty input"),
    ],
)
def test_bad_fasta(tmp_path, content, match):
    path = tmp_path / "bad.fa"
    path.write_text(content)
    out = tmp_path / "ds"
    with pytest.raises(InputDataError, match=match) as info:
        build_dataset(_cfg({"sequences": str(path), "label_column": "x"}), out)
    assert str(path) in str(info.value)
    _assert_nothing_written(out)


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        (["ACGT,1", "AC-T,2"], r"line 3: invalid character '-'"),
        (["ACGT,1", "ACGTA,2"], r"line 3: sequence length 5 differs.*pad_to"),
        (["ACGT,1", "ACGT,"], r"line 3: label is missing or not a number \(empty; 1 of 2 such\)"),
        (["ACGT,1", "ACGT,NaN"], r"line 3: label is missing or not a number \('NaN'"),
        (["ACGT,1", "ACGT,inf"], r"line 3: label 'inf' is infinite"),
        ([], r"empty table"),
    ],
)
def test_bad_csv(tmp_path, rows, match):
    path = tmp_path / "bad.csv"
    path.write_text("sequence,label\n" + "".join(r + "\n" for r in rows))
    out = tmp_path / "ds"
    with pytest.raises(InputDataError, match=match):
        build_dataset(_cfg({"sequences": str(path)}), out)
    _assert_nothing_written(out)


def test_longer_than_pad_to(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("sequence,label\nACGT,1\nACGTACGTAC,2\n")
    with pytest.raises(InputDataError, match=r"line 3: sequence of 10 bp is longer than pad_to = 8"):
        build_dataset(_cfg({"sequences": str(path), "pad_to": 8}), tmp_path / "ds")


def test_id_without_label_and_duplicate_label_ids(tmp_path):
    seq_path = tmp_path / "s.fa"
    seq_path.write_text(">a\nACGT\n>b\nACGT\n>c\nACGT\n")
    lab = tmp_path / "l.tsv"
    lab.write_text("id\tlabel\na\t1\nc\t2\n")
    out = tmp_path / "ds"
    with pytest.raises(InputDataError, match=r"l\.tsv, gene b: no label for 1 of 3 sequence ids"):
        build_dataset(_cfg({"sequences": str(seq_path), "labels": str(lab)}), out)
    _assert_nothing_written(out)
    lab.write_text("id\tlabel\na\t1\nb\t2\nc\t3\nb\t4\n")
    with pytest.raises(InputDataError, match=r"gene b: duplicate label id"):
        build_dataset(_cfg({"sequences": str(seq_path), "labels": str(lab)}), out)


def test_missing_inputs_and_no_labels(tmp_path):
    with pytest.raises(InputDataError, match="not found"):
        build_dataset(_cfg({"sequences": str(tmp_path / "nope.fa")}), tmp_path / "ds")
    with pytest.raises(InputDataError, match="no dataset.fasta.sequences"):
        build_dataset(_cfg({}), tmp_path / "ds")
    path = tmp_path / "s.fa"
    path.write_text(">a\nACGT\n")
    with pytest.raises(InputDataError, match="no labels"):
        build_dataset(_cfg({"sequences": str(path)}), tmp_path / "ds")


def test_failed_rebuild_keeps_previous_data_set(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("sequence,label\nACGT,1\nACGA,2\nACGG,3\n")
    out = tmp_path / "ds"
    build_dataset(_cfg({"sequences": str(path)}), out)
    before = (out / "meta.json").read_text()
    path.write_text("sequence,label\nACGT,1\nACGA,x\n")
    with pytest.raises(InputDataError):
        build_dataset(_cfg({"sequences": str(path)}), out)
    assert (out / "meta.json").read_text() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cli_build_data(tmp_path):
    from promoter_cr.cli import main

    path = tmp_path / "s.csv"
    path.write_text("sequence,label\nACGT,1\nACGA,2\nACGG,3\n")
    conf = json.dumps({"dataset": {"source": "fasta", "fasta": {"sequences": str(path)}, "split": THIRDS}})
    assert main(["build-data", "--config", conf, "--out", str(tmp_path / "ds")]) == 0
    assert load_dataset(tmp_path / "ds").n == 3
    bad = json.dumps({"dataset": {"source": "fasta", "fasta": {"sequences": str(tmp_path / "missing.csv")}}})
    assert main(["build-data", "--config", bad, "--out", str(tmp_path / "ds2")]) == 4  # bad input data
    assert not (tmp_path / "ds2").exists()


# --------------------------------------------------------------------------- real shared data
def _shared(sub: str) -> Path:
    p = SHARED / sub
    if not p.exists():
        pytest.skip(f"shared data {p} not available")
    return p


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "name", ["liver_promoters_a.csv.gz", "liver_promoters_b_train.csv.gz", "liver_promoters_b_dev.csv.gz"]
)
def test_shared_liver_csv(tmp_path, name):
    path = _shared("human_liver") / name
    build_dataset(_cfg({"sequences": str(path)}), tmp_path / "ds")
    ds = load_dataset(tmp_path / "ds")
    assert ds.length == 2048 and ds.n > 100
    with gzip.open(path, "rt") as fh:
        fh.readline()
        first_seq, first_label = fh.readline().strip().split(",")
    assert decode(ds.sequences[0]) == first_seq.upper()
    assert ds.labels()[0] == pytest.approx(float(first_label), rel=1e-6)
    assert ds.meta["split"]["method"] == "random" and set(ds.genes["split"]) == {"train", "valid", "test"}


@pytest.mark.shared_data
def test_shared_liver_fasta(tmp_path):
    path = _shared("human_liver") / "liver_promoters_b.fa.gz"
    cfg = _cfg(
        {"sequences": str(path), "label_column": "log(TPM)"},
        {"test_chromosomes": ["chr8"], "valid_chromosomes": ["chr9"]},
    )
    build_dataset(cfg, tmp_path / "ds")
    ds = load_dataset(tmp_path / "ds")
    assert ds.n == 1170 and ds.length == 2048
    assert ds.genes["gene_id"].str.startswith("ENSG").all()
    assert ds.meta["split"]["method"] == "chromosome"
    test = ds.genes[ds.genes["split"] == "test"]
    assert len(test) > 0 and (test["chrom"] == "chr8").all()
    with gzip.open(path, "rt") as fh:
        header = fh.readline()
        seq = fh.readline().strip()
    assert header.startswith(">" + ds.genes["gene_id"].iloc[0] + "|")
    assert ds.labels()[0] == pytest.approx(float(header.split("log(TPM)=")[1].split("|")[0]), rel=1e-6)
    assert np.array_equal(ds.sequences[0], encode(seq))


@pytest.mark.shared_data
def test_shared_yeast_vaishnav(tmp_path):
    path = _shared("yeast") / "vaishnav2022_native_promoters.csv.gz"
    build_dataset(
        _cfg({"sequences": str(path), "sequence_column": "seq110", "label_column": "meanEL"}), tmp_path / "ds"
    )
    ds = load_dataset(tmp_path / "ds")
    assert ds.n == 3782 and ds.length == 110
    assert np.isfinite(ds.labels()).all()


@pytest.mark.shared_data
def test_shared_yeast_dream_unequal_lengths(tmp_path):
    path = _shared("yeast") / "dream2022_random_promoters_train.txt.gz"
    with pytest.raises(InputDataError, match=r"dream2022.*line \d+: sequence length \d+ differs.*pad_to"):
        build_dataset(_cfg({"sequences": str(path), "has_header": False}), tmp_path / "bad")
    _assert_nothing_written(tmp_path / "bad")
    build_dataset(_cfg({"sequences": str(path), "has_header": False, "pad_to": 136}), tmp_path / "ds")
    ds = load_dataset(tmp_path / "ds")
    assert ds.n == 6370 and ds.length == 136
    with gzip.open(path, "rt") as fh:
        seq, label = fh.readline().rstrip("\n").split("\t")
    row = decode(ds.sequences[0])
    left = (136 - len(seq)) // 2
    assert row == "N" * left + seq + "N" * (136 - len(seq) - left)
    assert ds.labels()[0] == pytest.approx(float(label), rel=1e-6)


# --------------------------------------------------------------------------- missing labels
def test_missing_label_drop_leaves_rows_out_and_lists_them(tmp_path):
    seqs = _random_seqs(9, 12, seed=3)
    labels = ["1", "", "NA", "2.5", "abc", "3", "nan", "4", "5"]
    path = tmp_path / "s.csv"
    path.write_text("id,sequence,label\n" + "".join(f"g{i},{s},{v}\n" for i, (s, v) in enumerate(zip(seqs, labels))))
    out = tmp_path / "ds"
    msg = r"s\.csv, line 3 \(id g1\): label is missing .*4 of 9 such.*missing_label: drop"
    with pytest.raises(InputDataError, match=msg):
        build_dataset(_cfg({"sequences": str(path)}), out)
    _assert_nothing_written(out)
    build_dataset(_cfg({"sequences": str(path), "missing_label": "drop"}), out)
    ds = load_dataset(out)
    assert list(ds.genes["gene_id"]) == ["g0", "g3", "g5", "g7", "g8"]
    np.testing.assert_allclose(ds.labels(), [1, 2.5, 3, 4, 5])
    assert [decode(r) for r in ds.sequences] == [seqs[i] for i in (0, 3, 5, 7, 8)]
    assert ds.meta["missing_labels"] == {"policy": "drop", "dropped": 4}
    dropped = pd.read_csv(out / "missing_labels.tsv", sep="\t", keep_default_na=False)
    assert list(dropped["gene_id"]) == ["g1", "g2", "g4", "g6"]
    assert list(dropped["record"]) == ["line 3 (id g1)", "line 4 (id g2)", "line 6 (id g4)", "line 8 (id g6)"]
    # an infinite label is an error whatever the policy
    path.write_text(path.read_text().replace("g8,", "g9,").replace(",5\n", ",inf\n"))
    with pytest.raises(InputDataError, match=r"line 10 \(id g9\): label 'inf' is infinite"):
        build_dataset(_cfg({"sequences": str(path), "missing_label": "drop"}), tmp_path / "ds2")


def test_missing_label_drop_with_a_label_table(tmp_path):
    seq_path = tmp_path / "s.fa"
    seq_path.write_text("".join(f">g{i}\nACGTACGT\n" for i in range(6)))
    lab = tmp_path / "l.tsv"
    lab.write_text("id\tlabel\ng0\t1\ng2\t\ng3\t2\ng4\t3\ng5\t4\n")  # g1: no row; g2: empty
    out = tmp_path / "ds"
    build_dataset(_cfg({"sequences": str(seq_path), "labels": str(lab), "missing_label": "drop"}), out)
    ds = load_dataset(out)
    assert list(ds.genes["gene_id"]) == ["g0", "g3", "g4", "g5"] and ds.meta["missing_labels"]["dropped"] == 2


@pytest.mark.shared_data
def test_missing_label_drop_on_native_yeast_tiles(tmp_path, shared_data):
    """A slice of the de Boer 2020 native tiles: empty expressions are dropped, the count matches the file."""
    src = shared_data / "yeast" / "deboer2020_native80_ypd.tsv.gz"
    table = pd.read_csv(src, sep="\t", nrows=3000)
    path = tmp_path / "slice.tsv"
    table.to_csv(path, sep="\t", index=False)
    expected = int(table["expression"].isna().sum())
    assert expected > 0
    out = tmp_path / "ds"
    cfg = _cfg({"sequences": str(path), "label_column": "expression", "missing_label": "drop"}, {"seed": 1})
    build_dataset(cfg, out)
    ds = load_dataset(out)
    assert ds.n == 3000 - expected and ds.meta["missing_labels"]["dropped"] == expected
    assert len(pd.read_csv(out / "missing_labels.tsv", sep="\t")) == expected
    np.testing.assert_allclose(ds.labels(), table["expression"].dropna().to_numpy(), rtol=1e-6)
