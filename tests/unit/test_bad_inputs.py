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
    from promoter_cr.data.encoding import decode

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
