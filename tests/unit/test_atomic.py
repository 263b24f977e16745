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


# --------------------------------------------------------------------------- full and read-only disks
def _full_disk(monkeypatch):
    """Every temporary output becomes a link to /dev/full: writing it fails with the kernel's ENOSPC."""
    import os
    import tempfile

    from promoter_cr import atomic

    real = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        fd, name = real(*args, **kwargs)
        os.close(fd)
        os.unlink(name)
        os.symlink("/dev/full", name)
        return os.open(name, os.O_WRONLY), name

    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp)


def _read_only(monkeypatch):
    import errno

    from promoter_cr import atomic

    def refuse(*args, dir=None, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(dir))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    monkeypatch.setattr(atomic.tempfile, "mkdtemp", refuse)


@pytest.mark.parametrize("writer", ["json", "tsv", "npy", "bytes"])
def test_full_disk_is_an_output_error_naming_the_path(tmp_path, monkeypatch, writer):
    from promoter_cr.atomic import write_bytes
    from promoter_cr.errors import OutputError

    _full_disk(monkeypatch)
    target = tmp_path / f"out.{writer}"
    with pytest.raises(OutputError, match=rf"{target}: cannot write: no space left on device"):
        if writer == "json":
            write_json(target, {"a": list(range(10000))})
        elif writer == "tsv":
            write_tsv(target, pd.DataFrame({"a": np.arange(10000)}))
        elif writer == "npy":
            with atomic_path(target) as tmp:
                np.save(tmp, np.zeros(500_000))
        else:
            write_bytes(target, b"x" * 100_000)
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind


def test_read_only_folder_is_an_output_error(tmp_path, monkeypatch):
    from promoter_cr.errors import OutputError

    _read_only(monkeypatch)
    with pytest.raises(OutputError, match=r"out\.json: cannot write: read-only"):
        write_json(tmp_path / "out.json", {})
    with pytest.raises(OutputError, match=r"ds: cannot write: read-only"):
        with atomic_dir(tmp_path / "ds"):
            pass


def test_checkpoint_on_a_full_disk(tmp_path, monkeypatch):
    """torch's own writer reports a full disk as an internal inline_container error; ours names the file."""
    import torch

    from promoter_cr.errors import OutputError
    from promoter_cr.models.lit import AtomicCheckpointIO

    _full_disk(monkeypatch)
    with pytest.raises(OutputError, match=r"last\.ckpt: cannot write: no space left on device"):
        AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.zeros(1000)}}, tmp_path / "last.ckpt")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("disk", ["full", "read-only"])
def test_cli_exit_code_7_on_a_disk_that_cannot_take_the_output(tmp_path, monkeypatch, capsys, disk):
    from promoter_cr.cli import EXIT_OUTPUT, main

    (_full_disk if disk == "full" else _read_only)(monkeypatch)
    cfg = '{"dataset": {"simulate": {"n_genes": 30, "length": 300}}}'
    code = main(["build-data", "--config", cfg, "--out", str(tmp_path / "data")])
    assert code == EXIT_OUTPUT == 7
    err = capsys.readouterr().err
    assert ("no space left on device" if disk == "full" else "read-only") in err and str(tmp_path) in err
    assert not (tmp_path / "data").exists()
