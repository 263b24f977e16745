"""Bad input through the command line: one clear line naming the file and record, a documented
exit code, and nothing left behind. One policy for IUPAC letters and duplicate ids in every reader."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from promoter_cr.cli import EXIT_CONFIG, EXIT_INPUT, EXIT_USAGE, main

THIRDS = {"valid_fraction": 0.34, "test_fraction": 0.34}


def _fasta_cfg(path: Path, **fasta) -> str:
    return json.dumps({"dataset": {"source": "fasta", "fasta": {"sequences": str(path), **fasta}, "split": THIRDS}})


def _seqs(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), size=length)) for _ in range(n)]


def _truncated_gzip(path: Path, text: str) -> Path:
    with gzip.open(path, "wt") as fh:
        fh.write(text)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _run(argv: list[str], capsys) -> tuple[int, str]:
    rc = main(argv)
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".fa.gz", ".csv.gz"])
def test_truncated_gzip_input_is_named_with_exit_code_4(tmp_path, capsys, suffix):
    seqs = _seqs(600, 60)
    if suffix == ".fa.gz":
        text = "".join(f">g{i}|label={i}\n{s}\n" for i, s in enumerate(seqs))
        cfg = _fasta_cfg(tmp_path / f"in{suffix}", label_column="label")
    else:
        text = "sequence,label\n" + "".join(f"{s},{i}\n" for i, s in enumerate(seqs))
        cfg = _fasta_cfg(tmp_path / f"in{suffix}")
    _truncated_gzip(tmp_path / f"in{suffix}", text)
    rc, err = _run(["build-data", "--config", cfg, "--out", str(tmp_path / "ds")], capsys)
    assert rc == EXIT_INPUT
    assert f"in{suffix}: truncated or corrupt gzip file" in err and err.count("\n") == 1
    assert not (tmp_path / "ds").exists()


def test_corrupt_gzip_is_named(tmp_path, capsys):
    path = tmp_path / "in.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("sequence,label\n" + "".join(f"{s},1\n" for s in _seqs(50, 40)))
    data = bytearray(path.read_bytes())
    data[20:40] = b"\x00" * 20  # damage the deflate stream
    path.write_bytes(bytes(data))
    rc, err = _run(["build-data", "--config", _fasta_cfg(path), "--out", str(tmp_path / "ds")], capsys)
    assert rc == EXIT_INPUT and "in.csv.gz: truncated or corrupt gzip file" in err
    assert not (tmp_path / "ds").exists()


def test_fasta_given_as_checkpoint(tmp_path, capsys):
    fa = tmp_path / "s.fa"
    fa.write_text(">a\nACGT\n")
    rc, err = _run(
        ["predict", "--checkpoint", str(fa), "--sequences", str(fa), "--out", str(tmp_path / "o.tsv")], capsys
    )
    assert rc == EXIT_INPUT
    line = err.strip()
    assert "s.fa: not a PyTorch checkpoint (no zip or pickle header" in line and "\n" not in line and len(line) < 400
    assert not (tmp_path / "o.tsv").exists()


def test_exit_codes_tell_usage_config_and_data_errors_apart(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--nope"])
    assert info.value.code == EXIT_USAGE
    rc, err = _run(["build-data", "--config", '{"train": {"max_epoch": 3}}', "--out", str(tmp_path / "x")], capsys)
    assert rc == EXIT_CONFIG and "unknown key 'train.max_epoch'" in err
    rc, err = _run(
        [
            "build-data",
            "--config",
            '{"dataset": {"source": "fasta", "fasta": {"sequences": "/no/such.csv"}}}',
            "--out",
            str(tmp_path / "x"),
        ],
        capsys,
    )
    assert rc == EXIT_INPUT and "/no/such.csv" in err


def test_iupac_letters_read_as_n_in_the_fasta_source_and_other_letters_rejected(tmp_path, capsys, caplog):
    seqs = _seqs(6, 30)
    seqs[2] = "ACRY" + seqs[2][4:]
    path = tmp_path / "s.csv"
    path.write_text("id,sequence,label\n" + "".join(f"g{i},{s},{i}\n" for i, s in enumerate(seqs)))
    caplog.set_level("WARNING")
    rc, _ = _run(["build-data", "--config", _fasta_cfg(path), "--out", str(tmp_path / "ds")], capsys)
    assert rc == 0
    from promoter_cr.data.dataset import load_dataset
    from promoter_cr.seq.encoding import decode

    ds = load_dataset(tmp_path / "ds")
    assert decode(ds.sequences[2])[:4] == "ACNN"
    assert "2 IUPAC ambiguity bases in 1 sequences read as N (first: line 4 (id g2))" in caplog.text
    # a table column named `id` gives the ids (errors name the user's ids, not generated ones)
    assert list(ds.genes["gene_id"]) == [f"g{i}" for i in range(6)]
    seqs[4] = "ACGU" + seqs[4][4:]
    path.write_text("id,sequence,label\n" + "".join(f"g{i},{s},{i}\n" for i, s in enumerate(seqs)))
    rc, err = _run(["build-data", "--config", _fasta_cfg(path), "--out", str(tmp_path / "ds2")], capsys)
    assert rc == EXIT_INPUT and "s.csv, line 6 (id g4): invalid character 'U' at position 4" in err
    assert not (tmp_path / "ds2").exists()


def test_duplicate_ids_rejected_by_build_data_and_by_predict(tmp_path, capsys):
    seqs = _seqs(4, 30)
    path = tmp_path / "s.csv"
    path.write_text("gene_id,sequence,label\n" + "".join(f"{g},{s},1\n" for g, s in zip(["a", "b", "a", "c"], seqs)))
    rc, err = _run(["build-data", "--config", _fasta_cfg(path), "--out", str(tmp_path / "ds")], capsys)
    assert rc == EXIT_INPUT and "s.csv, gene a: duplicate gene id" in err
    from promoter_cr.errors import InputDataError
    from promoter_cr.models.predict import read_sequences

    with pytest.raises(InputDataError, match=r"s\.csv, gene a: duplicate gene id"):
        read_sequences(path)
    fa = tmp_path / "s.fa"
    fa.write_text(">x\nACGT\n>x\nACGA\n")
    with pytest.raises(InputDataError, match=r"s\.fa, gene x: duplicate gene id"):
        read_sequences(fa)


# --------------------------------------------------------------------------- encodings, config values
def test_utf8_bom_is_accepted_and_a_non_utf8_byte_is_named(tmp_path, capsys):
    seqs = _seqs(9, 30)
    fa = tmp_path / "bom.fa"
    fa.write_bytes(b"\xef\xbb\xbf" + "".join(f">g{i}|label={i}\n{s}\n" for i, s in enumerate(seqs)).encode())
    rc, err = _run(
        ["build-data", "--config", _fasta_cfg(fa, label_column="label"), "--out", str(tmp_path / "a")], capsys
    )
    assert rc == 0, err
    bad = tmp_path / "latin1.fa"
    bad.write_bytes(
        "".join(f">g{i}|label={i}\n{s}\n" for i, s in enumerate(seqs)).replace(">g3", ">g\xe93").encode("latin-1")
    )
    rc, err = _run(
        ["build-data", "--config", _fasta_cfg(bad, label_column="label"), "--out", str(tmp_path / "b")], capsys
    )
    assert rc == EXIT_INPUT and "latin1.fa, line 7: not UTF-8 text: byte 0xe9" in err
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    ("cfg", "key"),
    [
        ({"dataset": {"fasta": {"pad_to": -5}}}, "dataset.fasta.pad_to"),
        ({"results_dir": ""}, "results_dir"),
        ({"dataset": {"split": {"valid_fraction": 0.6, "test_fraction": 0.4}}}, "dataset.split.valid_fraction"),
    ],
)
def test_impossible_settings_are_config_errors(tmp_path, capsys, cfg, key):
    rc, err = _run(["build-data", "--config", json.dumps(cfg), "--out", str(tmp_path / "ds")], capsys)
    assert rc == EXIT_CONFIG and key in err


# --------------------------------------------------------------------------- a user's MEME file
MEME_HEAD = "MEME version 4\n\nALPHABET= ACGT\n\n"


def _meme(*motifs: tuple[str, int, list[str]]) -> str:
    out = MEME_HEAD
    for name, w, rows in motifs:
        out += (
            f"MOTIF {name}\nletter-probability matrix: alength= 4 w= {w} nsites= 20 E= 0\n" + "\n".join(rows) + "\n\n"
        )
    return out


GOOD = ["0.7 0.1 0.1 0.1", "0.1 0.7 0.1 0.1", "0.1 0.1 0.7 0.1", "0.1 0.1 0.1 0.7", "0.25 0.25 0.25 0.25"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            _meme(("m1", 5, GOOD), ("m2", 5, GOOD[:4] + ["-0.5 0.5 0.5 0.5"])),
            r"motif m2, row 5 \(line \d+\): probabilities must lie in \[0, 1\]",
        ),
        (_meme(("m1", 5, GOOD), ("m1", 5, GOOD)), r"motif m1: duplicate motif id"),
        (_meme(("m1", 6, GOOD)), r"motif m1: header says w= 6 but the matrix has 5 rows"),
        (
            _meme(("m1", 5, GOOD[:4] + ["0.9 0.9 0.9 0.9"])),
            r"motif m1, row 5 \(line \d+\): probabilities sum to 3.6, not 1",
        ),
    ],
)
def test_malformed_meme_file_is_named_before_anything_is_written(tmp_path, text, match):
    """A motif file is checked before memelite sees it (a negative value made it allocate 32 GiB),
    and the scan stage leaves none of its outputs behind."""
    from promoter_cr.config import validate_config
    from promoter_cr.data.dataset import write_dataset
    from promoter_cr.errors import InputDataError
    from promoter_cr.layout import MotifFiles
    from promoter_cr.motifs.scan import scan_stage

    meme = tmp_path / "user.meme"
    meme.write_text(text)
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=(6, 40)).astype(np.uint8)
    import pandas as pd

    genes = pd.DataFrame({"gene_id": [f"g{i}" for i in range(6)], "label": np.arange(6.0), "split": ["train"] * 6})
    data = write_dataset(tmp_path / "data", codes, genes, {"source": "test"})
    (tmp_path / "attr").mkdir()
    np.save(tmp_path / "attr" / "weighted_features.npy", np.zeros((6, 40), np.float32))
    cfg = validate_config({"motifs": {"meme_file": str(meme)}}, semantics=False)
    out = tmp_path / "motifs"
    with pytest.raises(InputDataError, match=match):
        scan_stage(data, tmp_path / "attr", None, out, cfg["motifs"], cfg["grammar"])
    assert not any(p.exists() for p in MotifFiles(out).scan_outputs())


# --------------------------------------------------------------------------- VCF records
VCF_HEAD = "##fileformat=VCFv4.2\n##contig=<ID=1,length=1000>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@pytest.mark.parametrize(
    ("record", "match"),
    [
        ("1\tabc\tv2\tA\tC\t.\t.\t.", r"line 5 .*malformed VCF record \(POS 'abc' is not a positive integer\)"),
        ("1\t5000\tv2\tA\tC\t.\t.\t.", r"1:5000: position 5000 lies beyond the length 1000 that the header declares"),
    ],
)
def test_vcf_records_that_cannot_be_placed_are_named(tmp_path, record, match):
    from promoter_cr.data.vcf import _iter_records, _open_vcf
    from promoter_cr.errors import InputDataError

    vcf = tmp_path / "v.vcf"
    vcf.write_text(VCF_HEAD + "1\t10\tv1\tA\tC\t.\t.\t.\n" + record + "\n")
    with pytest.raises(InputDataError, match=match):
        list(_iter_records(_open_vcf(vcf), vcf, None))
