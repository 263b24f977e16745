"""Atomic writes leave either the complete new file or the old state, never a partial file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from promoter_cr.atomic import atomic_dir, atomic_path, write_json, write_tsv


def test_atomic_path_success_and_suffix(tmp_path):
    target = tmp_path / "sub" / "arr.npy"
    with atomic_path(target) as tmp:
        assert tmp.name.endswith(".npy") and tmp.parent == target.parent
        np.save(tmp, np.arange(3))
    assert np.load(target).tolist() == [0, 1, 2]
    assert [p.name for p in target.parent.iterdir()] == ["arr.npy"]


def test_atomic_path_failure_keeps_old_file_and_cleans_up(tmp_path):
    target = tmp_path / "table.tsv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.tsv"]


def test_atomic_dir_replaces_only_when_complete(tmp_path):
    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("1")
    with pytest.raises(ValueError):
        with atomic_dir(target) as tmp:
            (tmp / "b.txt").write_text("2")
            raise ValueError
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_write_json_and_tsv_gz(tmp_path):
    write_json(tmp_path / "m.json", {"x": np.float32(1.5), "n": np.int64(2), "a": np.arange(2)})
    assert (tmp_path / "m.json").read_text().count("1.5") == 1
    df = pd.DataFrame({"gene_id": ["a", "b"], "v": [1.0, 2.0]})
    write_tsv(tmp_path / "t.tsv.gz", df)
    back = pd.read_csv(tmp_path / "t.tsv.gz", sep="\t")
    assert back["v"].tolist() == [1.0, 2.0]


def test_outputs_get_the_usual_file_mode(tmp_path):
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    with atomic_path(tmp_path / "x.txt") as tmp:
        tmp.write_text("x")
    assert (tmp_path / "x.txt").stat().st_mode & 0o777 == 0o666 & ~mask
