"""Data source ``xpresso``: the h5 files of Agarwal & Shendure (2020).

``train.h5``, ``valid.h5``, ``test.h5`` each hold

* ``promoter``  ``(N, 20000, 4)`` bool one-hot, ACGT order, N = all zeros; the TSS is
  at index ``20000 // 2 = 10000`` (the middle of the stored window);
* ``data``      ``(N, 8)`` half-life features (z-scored);
* ``label``     ``(N,)`` log10(median RPKM + 0.1), z-scored;
* ``geneName``  ``(N,)`` gene ids (bytes).

The files come from ``dataset.xpresso.local_dir``, else are downloaded from
``dataset.xpresso.url`` into ``<download.cache_dir>/xpresso/`` (checked against
``dataset.xpresso.checksums`` when given). The window ``[window_start,
window_end)`` relative to the TSS is cropped while reading, a block of genes at a
time (the ``promoter`` array is never loaded whole), and converted to uint8 codes.
With ``half_life: true`` the 8 features become extra columns ``hl_0..hl_7``. The
published train/valid/test split is kept (``split.method: auto`` or ``keep``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.atomic import atomic_dir
from promoter_cr.data import readers as tables
from promoter_cr.data.dataset import SequenceWriter, validate_genes, write_dataset
from promoter_cr.data.splits import apply_split
from promoter_cr.errors import InputDataError
from promoter_cr.layout import XPRESSO_FILES, DataFiles, download_dir
from promoter_cr.seq.encoding import N_CODE

log = logging.getLogger(__name__)

BLOCK = 256
N_HALF_LIFE = 8


def locate_files(cfg: dict[str, Any]) -> dict[str, Path]:
    """Paths of the three h5 files: from ``local_dir``, else downloaded from ``url`` into the cache."""
    xc = cfg["dataset"]["xpresso"]
    sums = xc.get("checksums") or {}
    if xc.get("local_dir"):
        root = Path(xc["local_dir"])
        if not root.is_dir():
            raise InputDataError(root, "dataset.xpresso.local_dir is not a folder")
        paths = {split: root / name for split, name in XPRESSO_FILES.items()}
        for p in paths.values():
            if not p.is_file():
                raise InputDataError(
                    p, "Xpresso h5 file not found (expected train.h5, valid.h5, test.h5 in dataset.xpresso.local_dir)"
                )
        from promoter_cr.data.download import checksum_kwargs, verify_file

        for p in paths.values():
            if sums.get(p.name):
                problem = verify_file(p, **checksum_kwargs(sums[p.name]))
                if problem:
                    raise InputDataError(p, f"checksum mismatch: {problem}")
        return paths
    url = xc.get("url")
    if not url:
        raise InputDataError(None, "give dataset.xpresso.url or dataset.xpresso.local_dir")
    from promoter_cr.data.download import fetch_to_cache

    dl = cfg["download"]
    cache = download_dir(dl["cache_dir"], "xpresso")
    base = url if url.endswith("/") else url + "/"
    return {
        split: fetch_to_cache(base + name, cache, dl, name=name, checksum=sums.get(name))
        for split, name in XPRESSO_FILES.items()
    }


def _dataset(h5, path: Path, name: str):
    if name not in h5:
        raise InputDataError(
            path,
            f"h5 file lacks dataset {name!r} (has: {', '.join(sorted(h5.keys())) or 'nothing'})",
            record=f"dataset {name}",
        )
    return h5[name]


def one_hot_to_codes(block: np.ndarray, path: Path, row0: int) -> np.ndarray:
    """``(b, L, 4)`` one-hot (bool/int/float) -> ``(b, L)`` uint8 codes; all-zero columns are N.

    A position with more than one base set is an error naming the file and the gene row.
    """
    hot = (block > 0.5 if block.dtype != np.bool_ else block).view(np.uint8)  # (b, L, 4) of 0/1
    count = hot[..., 0] + hot[..., 1] + hot[..., 2] + hot[..., 3]  # (b, L) uint8
    if (count > 1).any():
        r, pos = np.argwhere(count > 1)[0]
        raise InputDataError(
            path,
            f"'promoter' is not one-hot: {int(count[r, pos])} bases set at position {int(pos)}",
            record=f"gene row {row0 + int(r)}",
        )
    codes = hot[..., 1] + 2 * hot[..., 2] + 3 * hot[..., 3]
    codes[count == 0] = N_CODE
    return codes.astype(np.uint8, copy=False)


def _inspect(path: Path, half_life: bool) -> tuple[int, int, pd.DataFrame]:
    """``(n, stored length, genes table)`` of one h5 file (reads ids, labels, features; not the sequences)."""
    import h5py

    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise InputDataError(path, f"cannot open as HDF5: {exc}") from None
    with h5:
        prom = _dataset(h5, path, "promoter")
        names = _dataset(h5, path, "geneName")
        labels = _dataset(h5, path, "label")
        if prom.ndim != 3 or prom.shape[2] != 4:
            raise InputDataError(
                path, f"dataset 'promoter' has shape {prom.shape}; expected (N, L, 4)", record="dataset promoter"
            )
        n, length = int(prom.shape[0]), int(prom.shape[1])
        ids = np.asarray(names[()]).reshape(-1)
        lab = np.asarray(labels[()], dtype=np.float64).reshape(-1)
        for what, arr in (("geneName", ids), ("label", lab)):
            if len(arr) != n:
                raise InputDataError(
                    path, f"dataset {what!r} has {len(arr)} rows but 'promoter' has {n}", record=f"dataset {what}"
                )
        genes = pd.DataFrame({"gene_id": [x.decode() if isinstance(x, bytes) else str(x) for x in ids], "label": lab})
        if half_life:
            data = np.asarray(_dataset(h5, path, "data")[()], dtype=np.float64)
            if data.ndim != 2 or len(data) != n:
                raise InputDataError(
                    path, f"dataset 'data' has shape {data.shape}; expected ({n}, F)", record="dataset data"
                )
            for j in range(data.shape[1]):
                genes[f"hl_{j}"] = data[:, j]
    if n == 0:
        raise InputDataError(path, "no genes (empty 'promoter' dataset)", record="dataset promoter")
    return n, length, genes


def build(cfg: dict[str, Any], out_dir: Path) -> None:
    """Build the ``xpresso`` data set of ``cfg`` into ``out_dir`` (sequences.npy, genes.tsv, meta.json)."""
    import h5py

    xc = cfg["dataset"]["xpresso"]
    w0, w1 = int(xc["window_start"]), int(xc["window_end"])
    if w1 <= w0:
        raise InputDataError(None, f"dataset.xpresso.window_end ({w1}) must be greater than window_start ({w0})")
    half_life = bool(xc["half_life"])
    paths = locate_files(cfg)

    parts = []
    stored_length = None
    for split, path in paths.items():
        n, length, genes = _inspect(path, half_life)
        if stored_length is not None and length != stored_length:
            raise InputDataError(
                path,
                f"promoter length {length} differs from {stored_length} in the other files",
                record="dataset promoter",
            )
        stored_length = length
        genes["split"] = split
        parts.append(genes)
        log.info("%s: %d genes, %d bp stored", path, n, length)
    assert stored_length is not None
    genes = pd.concat(parts, ignore_index=True)
    extra = [c for c in genes.columns if c.startswith("hl_")]
    tss_stored = stored_length // 2
    a, b = tss_stored + w0, tss_stored + w1
    if a < 0 or b > stored_length:
        raise InputDataError(
            paths["train"],
            f"window {w0}..{w1} around the TSS (stored index {tss_stored}) "
            f"exceeds the stored {stored_length} bp promoter",
            record="dataset promoter",
        )
    L = b - a

    split, split_record = apply_split(genes, cfg["dataset"]["split"], has_source_split=True, path=paths["train"])
    genes["split"] = split
    genes = validate_genes(genes[["gene_id", "label", "split", *extra]], paths["train"])
    inputs, sums = tables.input_record({f"{s}_h5": p for s, p in paths.items()})
    meta = {
        "source": "xpresso",
        "window": {
            "window_start": w0,
            "window_end": w1,
            "length": L,
            "stored_length": stored_length,
            "stored_tss_index": tss_stored,
            "crop": [a, b],
        },
        "tss_index": -w0 if 0 <= -w0 < L else None,
        "extra_features": extra,
        "label": {"dataset": "label", "description": "log10(median RPKM + 0.1), z-scored (Xpresso)"},
        "url": None if xc.get("local_dir") else xc.get("url"),
        "inputs": inputs,
        "input_sha256": sums,
        "split": split_record,
    }
    with atomic_dir(out_dir) as tmp:
        with SequenceWriter(DataFiles(tmp).sequences, len(genes), L) as writer:
            row = 0
            for path in paths.values():
                with h5py.File(path, "r") as h5:
                    prom = h5["promoter"]
                    n = int(prom.shape[0])
                    for s in range(0, n, BLOCK):
                        e = min(s + BLOCK, n)
                        block = prom[s:e, a:b, :]  # (e-s, L, 4): only the window is read
                        writer.write(row + s, one_hot_to_codes(block, path, s))
                    row += n
        write_dataset(tmp, None, genes, meta, sequences_written=True)
    log.info("xpresso source: %d genes, %d bp windows (TSS at index %d)", len(genes), L, -w0)
