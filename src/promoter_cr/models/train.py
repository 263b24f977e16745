"""Train the models of the config and evaluate them.

``train_model(cfg, name, data_dir, out_dir)`` trains one ``models.<name>`` entry:

* ``cr`` / ``xpresso_cnn``: Lightning (:mod:`promoter_cr.models.lit`) with ModelCheckpoint (best on
  ``val_loss`` -> ``best.ckpt``, plus ``last.ckpt``), EarlyStopping(``patience``), CSVLogger
  (``out_dir/logs/``), a progress bar, ``seed_everything(seed, workers=True)`` and the
  ``deterministic`` flag. Re-running on an ``out_dir`` that holds ``last.ckpt`` (of the same
  architecture) resumes from it. 16-bit precisions are used only on a GPU (32-true on CPU).
* ``kmer_ridge``: k-mer features + sklearn Ridge (alpha chosen on the valid split), ``model.pkl``.

Outputs in ``out_dir`` (final files written atomically): ``predictions.tsv`` (gene_id, split,
label, prediction for ALL genes, from the best checkpoint), ``metrics.json`` (per split),
``history.tsv`` (epoch, train_loss, val_loss, val_pearson; kept in the checkpoints by
:class:`~promoter_cr.models.lit.HistoryCallback` so resumed runs keep their history; k-mer ridge: one
row per alpha instead).
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.atomic import write_json, write_tsv
from promoter_cr.config import model_config
from promoter_cr.data.dataset import SPLITS, Dataset, load_dataset
from promoter_cr.errors import ConfigError, InputDataError
from promoter_cr.models.metrics import METRIC_COLUMNS, regression_metrics

log = logging.getLogger(__name__)

#: model config keys that change the architecture (a last.ckpt with other values is not resumed)
ARCH_KEYS = (
    "type", "use_extra", "channels", "stem_channels", "n_layers", "kernel_size", "stem_kernel", "downsample",
    "conv1_filters", "conv1_kernel", "pool1", "conv2_filters", "conv2_kernel", "pool2", "dense1", "dense2",
)


def split_metrics(genes: pd.DataFrame, pred: np.ndarray) -> dict[str, dict[str, float]]:
    """Metrics per split present in ``genes`` (``{split: regression_metrics}``)."""
    out = {}
    y = genes["label"].to_numpy(dtype=np.float64)
    split = genes["split"].to_numpy()
    for s in SPLITS:
        m = split == s
        if m.any():
            out[s] = regression_metrics(y[m], pred[m])
    return out


def _write_predictions(out_dir: Path, ds: Dataset, pred: np.ndarray) -> None:
    table = pd.DataFrame({"gene_id": ds.genes["gene_id"], "split": ds.genes["split"], "label": ds.genes["label"], "prediction": pred.astype(np.float64)})
    write_tsv(out_dir / "predictions.tsv", table, float_format="%.6g")


def _check_dataset(ds: Dataset, data_dir: Path, need_valid: bool) -> None:
    if len(ds.indices("train")) == 0:
        raise InputDataError(data_dir / "genes.tsv", "no genes in the train split")
    if need_valid and len(ds.indices("valid")) == 0:
        raise InputDataError(data_dir / "genes.tsv", "no genes in the valid split (needed for early stopping and model selection)")


def train_model(cfg: dict[str, Any], name: str, data_dir: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Train model ``name`` of the (validated) config ``cfg`` on the data set in ``data_dir``.

    Returns the metrics dict written to ``out_dir/metrics.json`` (``{}`` on non-zero DDP ranks).
    """
    if name not in cfg["models"]:
        raise ConfigError(f"model {name!r} is not in the config's models ({', '.join(cfg['models'])})")
    mcfg = model_config(cfg, name)
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ds = load_dataset(data_dir)
    if mcfg.get("use_extra") and not ds.extra_features:
        raise ConfigError(f"models.{name}.use_extra is true but the data set {data_dir} has no extra features")
    if mcfg["type"] == "kmer_ridge":
        return _train_kmer(mcfg, ds, data_dir, out_dir)
    return _train_nn(mcfg, ds, data_dir, out_dir)


# --------------------------------------------------------------------------- k-mer ridge


def _train_kmer(mcfg: dict[str, Any], ds: Dataset, data_dir: Path, out_dir: Path) -> dict[str, Any]:
    from scipy import sparse

    from promoter_cr.models.kmer import DEFAULT_ALPHAS, DEFAULT_K, KmerRidge, fit_kmer_ridge, kmer_features, save_kmer_model

    _check_dataset(ds, data_dir, need_valid=False)
    ks = [int(k) for k in (mcfg.get("k") or DEFAULT_K)]
    canonical = bool(mcfg.get("canonical", True))
    alphas = mcfg.get("alphas") or list(DEFAULT_ALPHAS)
    t0 = time.time()
    log.info("k-mer features k=%s canonical=%s for %d sequences", ks, canonical, ds.n)
    feats = kmer_features(ds.sequences, ks, canonical)
    extra_names: list[str] = []
    if mcfg.get("use_extra"):
        extra_names = ds.extra_features
        feats = sparse.hstack([feats, sparse.csr_matrix(ds.extra())], format="csr")
    y = ds.labels().astype(np.float64)
    tr, va = ds.indices("train"), ds.indices("valid")
    pipe, alpha, scores = fit_kmer_ridge(feats[tr], y[tr], feats[va], y[va], alphas)
    model = KmerRidge(ks=ks, canonical=canonical, length=ds.length, alpha=alpha, pipeline=pipe, valid_mse=scores, extra_features=extra_names)
    pred = pipe.predict(feats).astype(np.float32)
    save_kmer_model(model, out_dir / "model.pkl")
    _write_predictions(out_dir, ds, pred)
    write_tsv(out_dir / "history.tsv", pd.DataFrame({"alpha": list(scores), "val_loss": list(scores.values())}))
    metrics = {
        "model": mcfg["name"],
        "type": "kmer_ridge",
        "splits": split_metrics(ds.genes, pred),
        "alpha": alpha,
        "k": ks,
        "canonical": canonical,
        "n_features": int(feats.shape[1]),
        "train_seconds": round(time.time() - t0, 2),
    }
    write_json(out_dir / "metrics.json", metrics)
    return metrics


# --------------------------------------------------------------------------- neural networks


def _resolve_precision(mcfg: dict[str, Any]) -> str:
    import torch

    prec = str(mcfg.get("precision", "32-true"))
    on_gpu = mcfg.get("accelerator", "auto") in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    if prec in ("16-mixed", "bf16-mixed") and not on_gpu:
        log.warning("precision %s needs a GPU; using 32-true on CPU", prec)
        return "32-true"
    return "32" if prec == "32" else prec


#: written when a training run finishes; a new run on a folder holding it trains afresh
DONE_MARKER = "training_done.json"


def _resume_path(out_dir: Path, mcfg: dict[str, Any]) -> Path | None:
    """``out_dir/last.ckpt`` of an *interrupted* run of the same architecture, else ``None``.

    A finished run leaves :data:`DONE_MARKER`; asking to train again there (a forced re-run,
    new code) starts from scratch instead of "resuming" the finished model. Stale checkpoints
    are removed.
    """
    last = out_dir / "last.ckpt"
    if (out_dir / DONE_MARKER).exists():
        log.info("%s: the previous training finished; training from scratch", out_dir)
        for f in ("last.ckpt", "best.ckpt", DONE_MARKER):
            (out_dir / f).unlink(missing_ok=True)
        return None
    if not last.exists():
        return None
    from promoter_cr.models.checkpoint import read_checkpoint

    try:
        old = read_checkpoint(last)["promoter_cr"]["config"]
    except InputDataError as exc:
        log.warning("ignoring unreadable %s (%s); training from scratch", last, exc)
        old = None
    if old is not None and all(old.get(k) == mcfg.get(k) for k in ARCH_KEYS):
        log.info("resuming from %s", last)
        return last
    log.warning("%s belongs to another model configuration; training from scratch", last)
    for f in ("last.ckpt", "best.ckpt"):
        (out_dir / f).unlink(missing_ok=True)
    return None


def _train_nn(mcfg: dict[str, Any], ds: Dataset, data_dir: Path, out_dir: Path) -> dict[str, Any]:
    import lightning.pytorch as pl
    import torch
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar
    from lightning.pytorch.loggers import CSVLogger

    from promoter_cr.models.lit import HistoryCallback, PromoterDataModule, PromoterLitModule

    _check_dataset(ds, data_dir, need_valid=True)
    seed = int(mcfg.get("seed", 0))
    pl.seed_everything(seed, workers=True)
    dm = PromoterDataModule(
        data_dir,
        batch_size=int(mcfg.get("batch_size", 64)),
        num_workers=int(mcfg.get("num_workers", 0)),
        use_extra=bool(mcfg.get("use_extra", False)),
        rc_augment=bool(mcfg.get("rc_augment", False)),
        seed=seed,
    )
    module = PromoterLitModule(mcfg, dm.length, dm.n_extra, dataset_meta=ds.meta, extra_features=ds.extra_features if dm.n_extra else [])
    n_batches = max(1, int(np.ceil(len(ds.indices("train")) / dm.batch_size)))
    history = HistoryCallback()
    ckpt_cb = ModelCheckpoint(dirpath=out_dir, filename="best", monitor="val_loss", mode="min", save_top_k=1, save_last=True, enable_version_counter=False)
    callbacks = [
        ckpt_cb,
        EarlyStopping(monitor="val_loss", mode="min", patience=int(mcfg.get("patience", 6))),
        TQDMProgressBar(refresh_rate=max(1, n_batches // 10)),
        history,
    ]
    limit = mcfg.get("limit_train_batches")
    trainer = pl.Trainer(
        max_epochs=int(mcfg.get("max_epochs", 40)),
        accelerator=mcfg.get("accelerator", "auto"),
        devices=mcfg.get("devices", "auto"),
        strategy=mcfg.get("strategy", "auto"),
        precision=_resolve_precision(mcfg),
        deterministic=bool(mcfg.get("deterministic", True)),
        callbacks=callbacks,
        logger=CSVLogger(save_dir=str(out_dir), name="logs", version=0),
        default_root_dir=str(out_dir),
        limit_train_batches=limit,
        log_every_n_steps=max(1, min(50, n_batches)),
        enable_model_summary=False,
    )
    ckpt_path = _resume_path(out_dir, mcfg)
    if ckpt_path is None and module.is_cr:  # CR starts predicting the mean training label
        module.model.init_bias(float(ds.labels()[ds.indices("train")].mean()))
    t0 = time.time()
    with warnings.catch_warnings():
        # harmless: out_dir holds our own files / a resumable last.ckpt; srun hint on SLURM login nodes
        warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
        warnings.filterwarnings("ignore", message=".*srun.*")
        trainer.fit(module, datamodule=dm, ckpt_path=str(ckpt_path) if ckpt_path else None)
    train_seconds = time.time() - t0
    if not trainer.is_global_zero:
        return {}
    write_json(out_dir / DONE_MARKER, {"epochs_trained": int(trainer.current_epoch), "global_step": int(trainer.global_step)})

    from promoter_cr.models.checkpoint import load_model, update_checkpoint_metrics
    from promoter_cr.models.inference import predict_codes
    from promoter_cr.runtime import accelerator_device

    best = Path(ckpt_cb.best_model_path) if ckpt_cb.best_model_path else out_dir / "best.ckpt"
    if not best.exists():
        raise RuntimeError(f"training finished without writing {best}")
    device = accelerator_device(mcfg["accelerator"])
    model, meta = load_model(best, map_location=device)
    extra = ds.extra() if dm.n_extra else None
    pred, _ = predict_codes(model, ds.sequences, extra=extra, batch_size=max(dm.batch_size, 128), device=device)
    _write_predictions(out_dir, ds, pred)
    rows = history.rows
    write_tsv(out_dir / "history.tsv", pd.DataFrame(rows, columns=["epoch", "train_loss", "val_loss", "val_pearson"]), float_format="%.6g")
    from promoter_cr.models.registry import n_parameters

    metrics = {
        "model": mcfg["name"],
        "type": mcfg["type"],
        "splits": split_metrics(ds.genes, pred),
        "best_epoch": meta.get("epoch"),
        "best_val_loss": float(ckpt_cb.best_model_score) if ckpt_cb.best_model_score is not None else None,
        "epochs_trained": int(trainer.current_epoch),
        "global_step": int(trainer.global_step),
        "resumed_from": str(ckpt_path) if ckpt_path else None,
        "n_parameters": n_parameters(model),
        "train_seconds": round(train_seconds, 2),
        "device": str(device),
    }
    if mcfg["type"] == "cr":
        metrics["downsample"] = int(model.downsample)
        metrics["receptive_field_bp"] = int(model.receptive_field())
    update_checkpoint_metrics(best, metrics)
    write_json(out_dir / "metrics.json", metrics)
    return metrics


# --------------------------------------------------------------------------- summary table


def collect_metrics(model_dirs: dict[str, str | Path] | list[str | Path], out_tsv: str | Path) -> pd.DataFrame:
    """Gather ``metrics.json`` of several model folders into one table (valid and test rows).

    ``model_dirs``: ``{name: dir}`` or a list of dirs (name = folder name). Columns:
    model, type, split, n, pearson_r, pearson_r2, r2, spearman_rho, mse.
    """
    if not isinstance(model_dirs, dict):
        model_dirs = {Path(d).name: d for d in model_dirs}
    rows = []
    for name, d in model_dirs.items():
        path = Path(d) / "metrics.json"
        if not path.exists():
            raise InputDataError(path, f"metrics of model {name!r} not found (train it first)")
        m = json.loads(path.read_text())
        for split in ("valid", "test"):
            if split in m.get("splits", {}):
                rows.append({"model": name, "type": m.get("type"), "split": split, **{c: m["splits"][split].get(c) for c in METRIC_COLUMNS}})
    table = pd.DataFrame(rows, columns=["model", "type", "split", *METRIC_COLUMNS])
    write_tsv(out_tsv, table, float_format="%.6g")
    return table
