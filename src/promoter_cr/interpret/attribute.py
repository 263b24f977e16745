"""Export the weighted features of a Contextual Regression model.

A CR model writes its prediction as ``y_hat = sum_i x_i . w_i(x) + sum_f h_f v_f(x, h) + b``.
Because ``x`` is one-hot, the weighted features are one number per position (the
contextual weight of the base that is there), and they come out of the same single
forward pass as the prediction. This module runs that pass over a data set, batch by
batch, and writes

``<out_dir>/weighted_features.npy``
    ``(N_selected, L)`` float32 or float16, row ``i`` = row ``i`` of ``attributions.tsv``
    (genes.tsv order restricted to the chosen split). Filled batch by batch through a
    memory map, so memory stays flat for any ``N``; published atomically.
``<out_dir>/attributions.tsv``
    gene_id, split, label, prediction, bias, contribution_sum[, extra_<feature> ...].
``<out_dir>/attribution_meta.json``
    checkpoint, split, dtype, device, length, tss_index, largest decomposition error.

Every batch is checked: ``contribution_sum + sum(extras) + bias == prediction`` within a
float tolerance, and all values must be finite; otherwise :class:`AttributionError` is
raised and nothing is published (never a silently wrong explanation).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.atomic import atomic_path, write_json, write_tsv
from promoter_cr.data.dataset import Dataset, load_dataset
from promoter_cr.errors import InputDataError, PromoterCRError
from promoter_cr.layout import AttributionFiles, DataFiles
from promoter_cr.runtime import resolve_device

log = logging.getLogger(__name__)

DTYPES = {"float32": np.float32, "float16": np.float16}
#: relative tolerance of the decomposition check, scaled by the total absolute mass
#: ``sum|contributions| + sum|extras| + |bias|`` of each gene (float32 summation error)
DECOMPOSITION_RTOL = 1e-4
DECOMPOSITION_ATOL = 1e-5


class AttributionError(PromoterCRError):
    """Weighted features that do not add up to the prediction, or are not finite."""


@dataclass
class ExportResult:
    """Paths and numbers of one export."""

    weighted_features: Path
    attributions: Path
    meta: Path
    n: int
    length: int
    max_abs_error: float


def model_extra_features(metadata: dict[str, Any]) -> list[str]:
    """Names of the extra per-gene features a checkpoint's model uses (``[]`` when none).

    Reads ``metadata["extra_features"]`` and ``metadata["n_extra"]`` (the number the model
    was built with; 0 when trained without them, e.g. ``use_extra: false``).
    """
    features = [str(f) for f in (metadata.get("extra_features") or [])]
    n_extra = int(metadata.get("n_extra", len(features)))
    if n_extra == 0:
        return []
    if len(features) != n_extra:
        raise InputDataError(
            metadata.get("path"),
            f"checkpoint metadata lists {len(features)} extra features {features} but the model takes {n_extra}",
        )
    return features


def extra_matrix(dataset: Dataset, features: list[str]) -> np.ndarray | None:
    """``(N, F)`` float32 extra features in the model's order, or ``None`` when ``features`` is empty.

    Raises :class:`InputDataError` naming genes.tsv when a column is missing or not finite.
    """
    if not features:
        return None
    path = DataFiles(dataset.root).genes
    missing = [f for f in features if f not in dataset.genes.columns]
    if missing:
        raise InputDataError(path, f"the model uses extra features {features} but the data set lacks {missing}")
    values = dataset.genes[features].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float32, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise InputDataError(
            path,
            f"extra feature {features[j]!r} is not a finite number",
            record=f"gene {dataset.genes['gene_id'].iloc[i]}",
        )
    return values


def check_decomposition(
    prediction: np.ndarray,
    contributions: np.ndarray,
    bias: np.ndarray,
    extra: np.ndarray | None,
    gene_ids: np.ndarray | None = None,
) -> float:
    """Check ``contributions.sum(1) + extra.sum(1) + bias == prediction``; return the largest error.

    Parameters
    ----------
    prediction, bias
        ``(B,)`` float arrays.
    contributions
        ``(B, L)`` float array.
    extra
        ``(B, F)`` float array or ``None``.

    Raises
    ------
    AttributionError
        Naming the first gene whose values are not finite or do not add up within
        ``DECOMPOSITION_ATOL + DECOMPOSITION_RTOL * (sum|contributions| + sum|extra| + |bias|)``.
    """
    c = np.asarray(contributions, dtype=np.float64)
    p = np.asarray(prediction, dtype=np.float64)
    b = np.asarray(bias, dtype=np.float64)
    e = None if extra is None else np.asarray(extra, dtype=np.float64)

    def _name(i: int) -> str:
        return f"gene {gene_ids[i]}" if gene_ids is not None else f"row {i}"

    finite = np.isfinite(c).all(1) & np.isfinite(p) & np.isfinite(b)
    if e is not None:
        finite &= np.isfinite(e).all(1)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise AttributionError(f"{_name(i)}: the model returned non-finite prediction or weighted features")
    total = c.sum(1) + b + (e.sum(1) if e is not None else 0.0)
    mass = np.abs(c).sum(1) + np.abs(b) + (np.abs(e).sum(1) if e is not None else 0.0)
    err = np.abs(total - p)
    tol = DECOMPOSITION_ATOL + DECOMPOSITION_RTOL * mass
    bad = err > tol
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AttributionError(
            f"{_name(i)}: weighted features do not add up to the prediction: contributions {c[i].sum():.6g}"
            f" + extras {0.0 if e is None else e[i].sum():.6g} + bias {b[i]:.6g} = {total[i]:.6g}"
            f" but prediction = {p[i]:.6g} (error {err[i]:.3g} > tolerance {tol[i]:.3g})"
        )
    return float(err.max()) if err.size else 0.0


def compute_weighted_features(
    model: Any,
    sequences: np.ndarray,
    indices: np.ndarray,
    out_path: str | Path,
    *,
    batch_size: int,
    dtype: str,
    device: Any,
    extra: np.ndarray | None = None,
    gene_ids: np.ndarray | None = None,
    progress: bool = True,
) -> dict[str, np.ndarray | float]:
    """Run a CR model over ``sequences[indices]`` and fill ``out_path`` (an .npy memmap).

    Parameters
    ----------
    model
        A CR model: ``model(x (B,4,L) float32, extra (B,F) | None) -> CROutput``.
    sequences
        ``(N, L)`` uint8 codes (a memmap is read batch by batch).
    indices
        ``(n,)`` int rows of ``sequences`` to export, in output order.
    out_path
        Destination ``.npy``; written as ``(n, L)`` ``dtype`` through a temporary memmap and
        renamed into place only when every batch passed the decomposition check.
    extra
        ``(N, F)`` float32 extra features (rows of the whole set) or ``None``.
    device
        A torch device or device string (see :func:`promoter_cr.runtime.resolve_device`).

    Returns
    -------
    dict
        ``prediction``, ``bias``, ``contribution_sum`` ``(n,)`` float64, ``extra``
        ``(n, F)`` float64 or ``None``, and ``max_abs_error`` (float).
    """
    from promoter_cr.models.inference import NotCRModelError, run_batches

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    indices = np.asarray(indices, dtype=np.int64)
    n, length = len(indices), int(sequences.shape[1])
    pred_all = np.empty(n, dtype=np.float64)
    bias_all = np.empty(n, dtype=np.float64)
    csum_all = np.empty(n, dtype=np.float64)
    extra_all: np.ndarray | None = None
    max_err = 0.0
    batches = run_batches(
        model,
        sequences,
        batch_size=batch_size,
        device=resolve_device(device),
        rows=indices,
        extra=extra,
        what=("prediction", "contributions", "extra"),
        progress=progress,
        desc="weighted features",
    )
    with atomic_path(out_path) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=DTYPES[dtype], shape=(n, length))
        try:
            for sl, res in batches:
                c_np = res.contributions
                if c_np.shape != (sl.stop - sl.start, length):
                    raise AttributionError(
                        f"the model returned contributions of shape {c_np.shape}, expected {(sl.stop - sl.start, length)}"
                    )
                ids = None if gene_ids is None else np.asarray(gene_ids)[sl]
                max_err = max(max_err, check_decomposition(res.prediction, c_np, res.bias, res.extra, ids))
                stored = c_np.astype(DTYPES[dtype])
                if dtype == "float16" and not np.isfinite(stored).all():
                    raise AttributionError(
                        "weighted features overflow float16 (|value| > 65504); export with dtype float32"
                    )
                out[sl] = stored
                pred_all[sl] = res.prediction
                bias_all[sl] = res.bias
                csum_all[sl] = c_np.astype(np.float64).sum(1)
                if res.extra is not None:
                    if extra_all is None:
                        extra_all = np.empty((n, res.extra.shape[1]), dtype=np.float64)
                    extra_all[sl] = res.extra
            out.flush()
        except NotCRModelError as exc:
            raise AttributionError(f"{exc}: weighted features exist only for Contextual Regression models") from exc
        finally:
            del out
    return {
        "prediction": pred_all,
        "bias": bias_all,
        "contribution_sum": csum_all,
        "extra": extra_all,
        "max_abs_error": max_err,
    }


def export_weighted_features(
    checkpoint: str | Path,
    data_dir: str | Path,
    out_dir: str | Path,
    attr_cfg: dict[str, Any],
    *,
    device: str | None,
    progress: bool = True,
) -> ExportResult:
    """Export the weighted features of a CR checkpoint over a data set.

    Parameters
    ----------
    checkpoint
        A CR checkpoint (loaded through :func:`promoter_cr.models.checkpoint.load_model`).
    data_dir
        The data set (``results/<ds>/data``).
    out_dir
        Receives ``weighted_features.npy`` ``(n, L)``, ``attributions.tsv`` and
        ``attribution_meta.json`` (:class:`promoter_cr.layout.AttributionFiles`).
    attr_cfg
        The validated ``attribution`` section: ``split`` (``all`` or train/valid/test; rows keep
        genes.tsv order), ``batch_size``, ``dtype`` (``float32`` or ``float16`` storage; the check
        and ``contribution_sum`` use the model's float32 output).
    device
        ``None``/``"auto"`` (GPU when available) or a torch device string.
    """
    split, batch_size, dtype = attr_cfg["split"], int(attr_cfg["batch_size"]), attr_cfg["dtype"]
    data, files = DataFiles(data_dir), AttributionFiles(out_dir)
    from promoter_cr.models.checkpoint import load_model

    ds = load_dataset(data_dir)
    model, meta = load_model(checkpoint)
    if meta["model_type"] != "cr":
        raise InputDataError(
            checkpoint, f"model type {meta.get('model_type')!r} has no weighted features; give a CR checkpoint"
        )
    want_len = meta.get("length")
    if want_len is not None and int(want_len) != ds.length:
        raise InputDataError(
            data.sequences, f"sequences are {ds.length} bp but the model {checkpoint} was trained on {want_len} bp"
        )
    features = model_extra_features(meta)
    extra = extra_matrix(ds, features)
    idx = ds.indices(split)
    if len(idx) == 0:
        raise InputDataError(data.genes, f"no genes in split {split!r}")
    files.dir.mkdir(parents=True, exist_ok=True)
    dev = resolve_device(device)
    gene_ids = ds.genes["gene_id"].to_numpy()[idx]
    log.info(
        "exporting weighted features of %d genes x %d bp on %s (batch %d, %s)",
        len(idx),
        ds.length,
        dev,
        batch_size,
        dtype,
    )
    res = compute_weighted_features(
        model,
        ds.sequences,
        idx,
        files.weighted_features,
        extra=extra,
        gene_ids=gene_ids,
        batch_size=batch_size,
        dtype=dtype,
        device=dev,
        progress=progress,
    )
    table = pd.DataFrame(
        {
            "gene_id": gene_ids,
            "split": ds.genes["split"].to_numpy()[idx],
            "label": ds.genes["label"].to_numpy(dtype=np.float64)[idx],
            "prediction": res["prediction"],
            "bias": res["bias"],
            "contribution_sum": res["contribution_sum"],
        }
    )
    ext = res["extra"]
    if ext is not None:
        names = features if len(features) == ext.shape[1] else [f"f{j}" for j in range(ext.shape[1])]
        for j, name in enumerate(names):
            table[f"extra_{name}"] = ext[:, j]
    write_tsv(files.table, table, float_format="%.7g")
    info = {
        "checkpoint": str(checkpoint),
        "data_dir": str(data_dir),
        "split": split,
        "n_genes": len(idx),
        "length": ds.length,
        "tss_index": ds.meta.get("tss_index"),
        "dtype": dtype,
        "device": str(dev),
        "extra_features": features,
        "max_abs_decomposition_error": res["max_abs_error"],
        "decomposition_tolerance": {"rtol": DECOMPOSITION_RTOL, "atol": DECOMPOSITION_ATOL},
    }
    write_json(files.meta, info)
    log.info("wrote %s (largest |sum - prediction| = %.3g)", files.weighted_features, res["max_abs_error"])
    return ExportResult(
        files.weighted_features, files.table, files.meta, len(idx), ds.length, float(res["max_abs_error"])
    )


def load_attributions(attr_dir: str | Path, mmap: bool = True) -> tuple[np.ndarray, pd.DataFrame]:
    """Open an attribution folder: ``(weighted_features (n, L) memmap, attributions table)``.

    Raises :class:`InputDataError` when a file is missing or the row counts disagree.
    """
    files = AttributionFiles(attr_dir)
    for path in (files.weighted_features, files.table):
        if not path.exists():
            raise InputDataError(path, "attribution file is missing (run `promoter-cr attribute` first)")
    wf = np.load(files.weighted_features, mmap_mode="r" if mmap else None)
    table = pd.read_csv(
        files.table, sep="\t", dtype={"gene_id": str, "split": str}, keep_default_na=False, na_values=[""]
    )
    if wf.ndim != 2 or len(wf) != len(table):
        raise InputDataError(
            files.weighted_features, f"shape {wf.shape} does not match the {len(table)} rows of {files.table.name}"
        )
    return wf, table
