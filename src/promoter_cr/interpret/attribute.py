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

Every batch is checked by the one exporter (:func:`promoter_cr.models.export.export_rows`):
``contribution_sum + sum(extras) + bias == prediction`` within a float tolerance, and all values
finite; otherwise :class:`~promoter_cr.models.export.AttributionError` is raised and nothing is
published (never a silently wrong explanation).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.atomic import atomic_memmap, write_json, write_tsv
from promoter_cr.data.dataset import Dataset, load_dataset
from promoter_cr.errors import ConfigError, InputDataError
from promoter_cr.layout import AttributionFiles, DataFiles
from promoter_cr.models.export import (
    DECOMPOSITION_ATOL,
    DECOMPOSITION_RTOL,
    DTYPES,
    export_rows,
)
from promoter_cr.models.inference import Predictor
from promoter_cr.runtime import resolve_device

log = logging.getLogger(__name__)


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


def compute_weighted_features(
    predictor: Predictor,
    sequences: np.ndarray,
    indices: np.ndarray,
    out_path: str | Path,
    *,
    dtype: str,
    extra: np.ndarray | None = None,
    gene_ids: np.ndarray | None = None,
) -> dict[str, np.ndarray | float]:
    """Run the predictor's CR model over ``sequences[indices]`` and fill ``out_path`` (an ``(n, L)`` .npy of
    ``dtype``), published only when every batch passed the decomposition check
    (:func:`promoter_cr.models.export.export_rows`, whose dict it returns)."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    n = len(indices)
    with atomic_memmap(out_path, DTYPES[dtype], (n, int(sequences.shape[1]))) as out:
        res = export_rows(predictor, sequences, indices, np.arange(n), features=out, extra=extra, gene_ids=gene_ids)
    return res


def load_cr_model(checkpoint: str | Path, ds: Dataset) -> tuple[Any, dict[str, Any]]:
    """A CR checkpoint's model and metadata, checked against the data set's window length."""
    from promoter_cr.models.checkpoint import load_model

    model, meta = load_model(checkpoint)
    if meta["model_type"] != "cr":
        raise InputDataError(
            checkpoint, f"model type {meta.get('model_type')!r} has no weighted features; give a CR checkpoint"
        )
    if int(meta["length"]) != ds.length:
        raise InputDataError(
            DataFiles(ds.root).sequences,
            f"sequences are {ds.length} bp but the model {checkpoint} was trained on {meta['length']} bp",
        )
    return model, meta


def _attribution_table(ds: Dataset, idx: np.ndarray, res: dict[str, Any], features: list[str]) -> pd.DataFrame:
    table = pd.DataFrame({
        "gene_id": ds.genes["gene_id"].to_numpy()[idx],
        "split": ds.genes["split"].to_numpy()[idx],
        "label": ds.genes["label"].to_numpy(dtype=np.float64)[idx],
        "prediction": res["prediction"],
        "bias": res["bias"],
        "contribution_sum": res["contribution_sum"],
    })  # fmt: skip
    ext = res["extra"]
    if ext is not None:
        names = features if len(features) == ext.shape[1] else [f"f{j}" for j in range(ext.shape[1])]
        for j, name in enumerate(names):
            table[f"extra_{name}"] = ext[:, j]
    return table


def _export_folds(
    ds: Dataset, idx: np.ndarray, split: str, checkpoints: list[str | Path], crossfit: bool, attr_cfg: dict[str, Any]
) -> np.ndarray:
    """Fold of each exported gene: ``(len(idx),)`` int64 (all 0 without cross-fitting).

    Cross-fitting needs ``split == "all"`` and one checkpoint per fold, else :class:`ConfigError`.
    """
    if not crossfit:
        return np.zeros(len(idx), dtype=np.int64)
    from promoter_cr.data.splits import assign_folds

    if split != "all" or len(checkpoints) != int(attr_cfg["crossfit_folds"]):
        raise ConfigError(
            f"cross-fitted attributions need attribution.split 'all' and one checkpoint per fold "
            f"({attr_cfg['crossfit_folds']}); got split {split!r} and {len(checkpoints)}"
        )
    return assign_folds(ds.n, len(checkpoints), int(attr_cfg["seed"]))


def _export_all_models(
    ds: Dataset,
    idx: np.ndarray,
    folds: np.ndarray,
    checkpoints: list[str | Path],
    crossfit: bool,
    path: Path,
    dtype: str,
    *,
    batch_size: int,
    dev: Any,
    gene_ids: np.ndarray,
    progress: bool,
) -> tuple[list[tuple[np.ndarray, dict[str, Any]]], list[str]]:
    """Fill ``path`` (``(len(idx), L)`` of ``DTYPES[dtype]``, published atomically) model by model.

    Returns the ``(positions, result)`` of each checkpoint (positions: int64 rows of the output)
    and the extra-feature names of the last model.
    """
    parts, features = [], []
    with atomic_memmap(path, DTYPES[dtype], (len(idx), ds.length)) as out:
        for k, ckpt in enumerate(checkpoints):
            model, meta = load_cr_model(ckpt, ds)
            features = model_extra_features(meta)
            pos = np.flatnonzero(folds == k) if crossfit else np.arange(len(idx))
            res = export_rows(
                Predictor(model, dev, batch_size, progress), ds.sequences, idx[pos], pos, features=out,
                extra=extra_matrix(ds, features), gene_ids=gene_ids[pos],
            )  # fmt: skip
            parts.append((pos, res))
    return parts, features


def _merge_parts(parts: list[tuple[np.ndarray, dict[str, Any]]]) -> tuple[dict[str, Any], float]:
    """Per-model results back in output row order (``(n,)`` float arrays, ``extra`` ``(n, F)`` or
    ``None``) and the largest decomposition error over all models."""
    order = np.concatenate([pos for pos, _ in parts])
    merged = {
        key: np.concatenate([r[key] for _, r in parts])[np.argsort(order)]
        for key in ("prediction", "bias", "contribution_sum")
    }
    merged["extra"] = (
        None if parts[0][1]["extra"] is None else np.concatenate([r["extra"] for _, r in parts])[np.argsort(order)]
    )
    max_err = max(float(r["max_abs_error"]) for _, r in parts)
    return merged, max_err


def _export_meta(
    checkpoints: list[str | Path],
    crossfit: bool,
    data_dir: str | Path,
    split: str,
    ds: Dataset,
    n: int,
    dtype: str,
    dev: Any,
    features: list[str],
    max_err: float,
) -> dict[str, Any]:
    """The content of ``attribution_meta.json``."""
    return {
        "checkpoints": [str(c) for c in checkpoints],
        "crossfit_folds": len(checkpoints) if crossfit else 0,
        "data_dir": str(data_dir),
        "split": split,
        "n_genes": n,
        "length": ds.length,
        "tss_index": ds.meta.get("tss_index"),
        "dtype": dtype,
        "device": str(dev),
        "extra_features": features,
        "max_abs_decomposition_error": max_err,
        "decomposition_tolerance": {"rtol": DECOMPOSITION_RTOL, "atol": DECOMPOSITION_ATOL},
    }


def export_weighted_features(
    checkpoint: str | Path | list[str | Path],
    data_dir: str | Path,
    out_dir: str | Path,
    attr_cfg: dict[str, Any],
    *,
    device: str | None,
    progress: bool = True,
) -> ExportResult:
    """Export the weighted features of a CR model over a data set.

    Parameters
    ----------
    checkpoint
        A CR checkpoint (loaded through :func:`promoter_cr.models.checkpoint.load_model`), or the
        list of ``attribution.crossfit_folds`` fold checkpoints (fold ``k`` first at index ``k``):
        each gene then gets the features of the fold model that did not train on it
        (cross-fitting folds in :mod:`promoter_cr.data.splits`), and the table a ``fold`` column.
    data_dir
        The data set (``results/<ds>/data``).
    out_dir
        Receives ``weighted_features.npy`` ``(n, L)``, ``attributions.tsv`` and
        ``attribution_meta.json`` (:class:`promoter_cr.layout.AttributionFiles`).
    attr_cfg
        The validated ``attribution`` section: ``split`` (``all`` or train/valid/test; rows keep
        genes.tsv order; cross-fitting needs ``all``), ``batch_size``, ``dtype`` (``float32`` or
        ``float16`` storage; the check and ``contribution_sum`` use the model's float32 output).
    device
        ``None``/``"auto"`` (GPU when available) or a torch device string.
    """
    split, batch_size, dtype = attr_cfg["split"], int(attr_cfg["batch_size"]), attr_cfg["dtype"]
    checkpoints = list(checkpoint) if isinstance(checkpoint, (list, tuple)) else [checkpoint]
    crossfit = isinstance(checkpoint, (list, tuple))
    data, files = DataFiles(data_dir), AttributionFiles(out_dir)
    ds = load_dataset(data_dir)
    idx = ds.indices(split)
    if len(idx) == 0:
        raise InputDataError(data.genes, f"no genes in split {split!r}")
    folds = _export_folds(ds, idx, split, checkpoints, crossfit, attr_cfg)
    files.dir.mkdir(parents=True, exist_ok=True)
    dev = resolve_device(device)
    gene_ids = ds.genes["gene_id"].to_numpy()[idx]
    log.info(
        "exporting weighted features of %d genes x %d bp on %s (batch %d, %s, %d model%s)",
        len(idx),
        ds.length,
        dev,
        batch_size,
        dtype,
        len(checkpoints),
        "s, cross-fitted" if crossfit else "",
    )
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    parts, features = _export_all_models(
        ds, idx, folds, checkpoints, crossfit, files.weighted_features, dtype,
        batch_size=batch_size, dev=dev, gene_ids=gene_ids, progress=progress,
    )  # fmt: skip
    merged, max_err = _merge_parts(parts)
    table = _attribution_table(ds, idx, merged, features)
    if crossfit:
        table["fold"] = folds
    write_tsv(files.table, table, float_format="%.7g")
    info = _export_meta(checkpoints, crossfit, data_dir, split, ds, len(idx), dtype, dev, features, max_err)
    write_json(files.meta, info)
    log.info("wrote %s (largest |sum - prediction| = %.3g)", files.weighted_features, max_err)
    return ExportResult(files.weighted_features, files.table, files.meta, len(idx), ds.length, max_err)


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
