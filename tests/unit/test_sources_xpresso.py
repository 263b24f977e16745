"""Tests of the ``xpresso`` data source on small h5 files in Xpresso's layout."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import h5py
import numpy as np
import pytest

from promoter_cr.config import validate_config
from promoter_cr.data.dataset import load_dataset
from promoter_cr.data.sources import build_dataset, xpresso
from promoter_cr.errors import DownloadError, InputDataError

STORED = 200  # stored promoter length (Xpresso: 20000); TSS at index STORED // 2
SIZES = {"train": 7, "valid": 3, "test": 2}


def _write_h5(path: Path, n: int, seed: int, drop: str | None = None) -> np.ndarray:
    """Write an Xpresso-layout h5; returns the ``(n, STORED)`` codes (4 = N) it encodes."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n, STORED)).astype(np.uint8)
    codes[:, :5] = 4  # some N (all-zero) columns
    codes[0, 95:105] = 4
    onehot = np.zeros((n, STORED, 4), dtype=bool)
    r, c = np.nonzero(codes < 4)
    onehot[r, c, codes[r, c]] = True
    with h5py.File(path, "w") as h5:
        items = {
            "promoter": onehot,
            "data": rng.normal(size=(n, 8)).astype(np.float32),
            "label": rng.normal(size=n).astype(np.float32),
            "geneName": np.array([f"ENSG{seed:02d}{i:05d}".encode() for i in range(n)]),
        }
        for name, arr in items.items():
            if name != drop:
                h5.create_dataset(
                    name,
                    data=arr,
                    chunks=True if name == "promoter" else None,
                    compression="gzip" if name == "promoter" else None,
                )
    return codes


@pytest.fixture
def h5dir(tmp_path):
    d = tmp_path / "h5"
    d.mkdir()
    codes = {split: _write_h5(d / f"{split}.h5", n, seed) for seed, (split, n) in enumerate(SIZES.items())}
    return d, codes


def _cfg(xp: dict, tmp: Path, split: dict | None = None) -> dict:
    return validate_config(
        {
            "dataset": {"source": "xpresso", "xpresso": xp, "split": split or {}},
            "download": {"cache_dir": str(tmp / "cache"), "retries": 1, "backoff_s": 0.001, "timeout_s": 5},
        },
        semantics=False,
    )


def test_local_dir_crop_features_and_split(tmp_path, h5dir, monkeypatch):
    monkeypatch.setattr(xpresso, "BLOCK", 3)  # several blocks per file
    d, codes = h5dir
    out = tmp_path / "ds"
    build_dataset(_cfg({"local_dir": str(d), "window_start": -30, "window_end": 20}, tmp_path), out)
    ds = load_dataset(out)
    assert ds.n == 12 and ds.length == 50
    assert list(ds.genes["split"]) == ["train"] * 7 + ["valid"] * 3 + ["test"] * 2
    expected = np.concatenate([codes[s][:, 70:120] for s in SIZES])
    assert np.array_equal(np.asarray(ds.sequences), expected)
    assert (ds.sequences[0, 25:35] == 4).all()  # N around the TSS of gene 0
    assert ds.extra_features == [f"hl_{j}" for j in range(8)]
    with h5py.File(d / "valid.h5") as h5:
        np.testing.assert_allclose(ds.extra()[7:10], h5["data"][()], rtol=1e-6)
        np.testing.assert_allclose(ds.labels()[7:10], h5["label"][()], rtol=1e-6)
        assert list(ds.genes["gene_id"][7:10]) == [x.decode() for x in h5["geneName"][()]]
    m = ds.meta
    assert m["source"] == "xpresso" and m["tss_index"] == 30 and m["split"]["method"] == "keep"
    assert (
        m["window"]["window_start"] == -30
        and m["window"]["window_end"] == 20
        and m["window"]["stored_tss_index"] == 100
    )
    assert set(m["input_sha256"]) == {"train_h5", "valid_h5", "test_h5"}


def test_no_half_life_and_random_split(tmp_path, h5dir):
    d, _ = h5dir
    build_dataset(
        _cfg(
            {"local_dir": str(d), "window_start": -10, "window_end": 10, "half_life": False},
            tmp_path,
            {"method": "random", "test_fraction": 0.25},
        ),
        tmp_path / "ds",
    )
    ds = load_dataset(tmp_path / "ds")
    assert ds.extra() is None and ds.meta["split"]["method"] == "random" and (ds.genes["split"] == "test").sum() == 3


@pytest.mark.parametrize("missing", ["promoter", "label", "geneName", "data"])
def test_missing_dataset(tmp_path, h5dir, missing):
    d, _ = h5dir
    _write_h5(d / "valid.h5", 3, 1, drop=missing)
    out = tmp_path / "ds"
    with pytest.raises(InputDataError, match=rf"valid\.h5, dataset {missing}: h5 file lacks dataset '{missing}'"):
        build_dataset(_cfg({"local_dir": str(d)}, tmp_path), out)
    assert not (out / "sequences.npy").exists() and not (out / "meta.json").exists()


def test_bad_files(tmp_path, h5dir):
    d, _ = h5dir
    with pytest.raises(InputDataError, match="exceeds the stored 200 bp"):
        build_dataset(_cfg({"local_dir": str(d), "window_start": -150, "window_end": 10}, tmp_path), tmp_path / "ds")
    (d / "test.h5").write_bytes(b"not hdf5")
    with pytest.raises(InputDataError, match=r"test\.h5: cannot open as HDF5"):
        build_dataset(_cfg({"local_dir": str(d), "window_start": -10, "window_end": 10}, tmp_path), tmp_path / "ds")
    (d / "test.h5").unlink()
    with pytest.raises(InputDataError, match=r"test\.h5: Xpresso h5 file not found"):
        build_dataset(_cfg({"local_dir": str(d)}, tmp_path), tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


def test_not_one_hot(tmp_path, h5dir):
    d, _ = h5dir
    with h5py.File(d / "train.h5", "r+") as h5:
        h5["promoter"][4, 100, :] = True
    with pytest.raises(
        InputDataError, match=r"train\.h5, gene row 4: 'promoter' is not one-hot: 4 bases set at position 10"
    ):
        build_dataset(_cfg({"local_dir": str(d), "window_start": -10, "window_end": 10}, tmp_path), tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


def test_duplicate_gene_names(tmp_path, h5dir):
    d, _ = h5dir
    _write_h5(d / "test.h5", 2, 0)  # same names as train.h5
    with pytest.raises(InputDataError, match=r"gene ENSG0000000: duplicate gene id"):
        build_dataset(_cfg({"local_dir": str(d), "window_start": -10, "window_end": 10}, tmp_path), tmp_path / "ds")


@pytest.fixture
def file_server(h5dir):
    d, _ = h5dir
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(d))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", d
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_download_from_url_with_checksums(tmp_path, file_server):
    url, d = file_server
    sums = {
        "train.h5": hashlib.sha256((d / "train.h5").read_bytes()).hexdigest(),
        "test.h5": hashlib.md5((d / "test.h5").read_bytes()).hexdigest(),
    }
    build_dataset(
        _cfg({"url": url, "checksums": sums, "window_start": -10, "window_end": 10}, tmp_path), tmp_path / "ds"
    )
    ds = load_dataset(tmp_path / "ds")
    assert ds.n == 12 and ds.meta["url"] == url
    assert sorted(p.name for p in (tmp_path / "cache" / "xpresso").iterdir()) == ["test.h5", "train.h5", "valid.h5"]
    bad = {"valid.h5": "0" * 64}
    with pytest.raises(DownloadError, match=r"valid\.h5.*mismatch"):
        build_dataset(_cfg({"url": url, "checksums": bad}, tmp_path / "other"), tmp_path / "ds2")
    assert not (tmp_path / "other" / "cache" / "xpresso" / "valid.h5").exists()
    with pytest.raises(DownloadError, match=r"nothere/train\.h5 failed: HTTP 404"):
        build_dataset(_cfg({"url": url + "nothere"}, tmp_path / "third"), tmp_path / "ds3")
