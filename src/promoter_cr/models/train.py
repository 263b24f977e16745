"""Train the models of the config and evaluate them.

``train_model(cfg, name, data_dir, out_dir)`` trains one ``models.<name>`` entry:

* ``cr`` / ``xpresso_cnn``: Lightning (:mod:`promoter_cr.models.lit`) with ModelCheckpoint (best on
  ``val_loss`` -> ``best.ckpt``, plus ``last.ckpt``), EarlyStopping(``patience``), CSVLogger
  (``out_dir/logs/``), a progress bar, ``seed_everything(seed, workers=True)`` and the
  ``deterministic`` flag. Re-running on an ``out_dir`` that holds ``last.ckpt`` (of the same
  architecture) resumes from it. 16-bit precisions are used only on a GPU (32-true on CPU).
* ``kmer_ridge``: k-mer features + sklearn Ridge (alpha chosen on the valid split), ``model.pkl``.

Outputs in ``out_dir`` (:class:`promoter_cr.layout.ModelFiles`; final files written atomically): ``predictions.tsv``
(gene_id, split,
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
from promoter_cr.data.dataset import Dataset, load_dataset
from promoter_cr.data.splits import SPLITS, assign_folds, fold_splits
from promoter_cr.errors import ConfigError, InputDataError
from promoter_cr.layout import DataFiles, ModelFiles, ModelsFiles
from promoter_cr.models import CKPT_KEY
from promoter_cr.stats.metrics import METRIC_COLUMNS, regression_metrics

log = logging.getLogger(__name__)
console = logging.getLogger("promoter_cr.console")


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


def _write_predictions(files: ModelFiles, ds: Dataset, pred: np.ndarray) -> None:
    table = pd.DataFrame(
        {
            "gene_id": ds.genes["gene_id"],
            "split": ds.genes["split"],
            "label": ds.genes["label"],
            "prediction": pred.astype(np.float64),
        }
    )
    write_tsv(files.predictions, table, float_format="%.6g")


def crossfit_splits(ds: Dataset, attr_cfg: dict[str, Any], fold: int) -> np.ndarray:
    """The split labels of cross-fitting fold model ``fold`` (:func:`promoter_cr.data.splits.fold_splits`)."""
    k = int(attr_cfg["crossfit_folds"])
    if k < 2 or not 0 <= fold < k:
        raise ConfigError(f"fold {fold} needs attribution.crossfit_folds >= 2 and above the fold index (it is {k})")
    folds = assign_folds(ds.n, k, int(attr_cfg["seed"]))
    return fold_splits(ds.genes["split"].to_numpy(dtype=object), folds, fold, int(attr_cfg["seed"]))


def _check_dataset(ds: Dataset, need_valid: bool) -> None:
    genes = DataFiles(ds.root).genes
    if len(ds.indices("train")) == 0:
        raise InputDataError(genes, "no genes in the train split")
    if need_valid and len(ds.indices("valid")) == 0:
        raise InputDataError(genes, "no genes in the valid split (needed for early stopping and model selection)")


def train_model(
    cfg: dict[str, Any], name: str, data_dir: str | Path, out_dir: str | Path, *, fold: int | None = None
) -> dict[str, Any]:
    """Train model ``name`` of the (validated) config ``cfg`` on the data set in ``data_dir``.

    With ``fold = k``, train cross-fitting fold model ``k`` (cross-fitting folds in :mod:`promoter_cr.data.splits`:
    ``attribution.crossfit_folds`` folds seeded by ``attribution.seed``): the genes of fold ``k``
    are held out as its "test" split. Returns the metrics dict written to ``metrics.json`` in
    ``out_dir`` (``{}`` on non-zero DDP ranks).
    """
    if name not in cfg["models"]:
        raise ConfigError(f"model {name!r} is not in the config's models ({', '.join(cfg['models'])})")
    mcfg = model_config(cfg, name)
    files = ModelFiles(out_dir)
    files.dir.mkdir(parents=True, exist_ok=True)
    ds = load_dataset(data_dir)
    if fold is not None:
        ds = ds.with_splits(crossfit_splits(ds, cfg["attribution"], fold))
    if mcfg["use_extra"] and not ds.extra_features:
        raise ConfigError(f"models.{name}.use_extra is true but the data set {data_dir} has no extra features")
    if mcfg["type"] == "kmer_ridge":
        return _train_kmer(mcfg, ds, files)
    return _train_nn(mcfg, ds, files)


# --------------------------------------------------------------------------- k-mer ridge


def _train_kmer(mcfg: dict[str, Any], ds: Dataset, files: ModelFiles) -> dict[str, Any]:
    from scipy import sparse

    from promoter_cr.models.kmer import KmerRidge, fit_kmer_ridge, kmer_features, predict_rows, save_kmer_model

    _check_dataset(ds, need_valid=False)
    ks = [int(k) for k in mcfg["k"]]
    canonical = bool(mcfg["canonical"])
    t0 = time.time()
    log.info("k-mer features k=%s canonical=%s for %d sequences", ks, canonical, ds.n)
    feats = kmer_features(ds.sequences, ks, canonical)
    extra_names: list[str] = []
    if mcfg["use_extra"]:
        extra_names = ds.extra_features
        feats = sparse.hstack([feats, sparse.csr_matrix(ds.extra())], format="csr")
    y = ds.labels().astype(np.float64)
    tr = ds.indices("train")
    pipe, alpha, scores = fit_kmer_ridge(feats[tr], y[tr], mcfg["alphas"])
    model = KmerRidge(
        ks=ks,
        canonical=canonical,
        length=ds.length,
        alpha=alpha,
        pipeline=pipe,
        cv_mse=scores,
        extra_features=extra_names,
    )
    pred = predict_rows(pipe, feats)
    save_kmer_model(model, files.kmer_model)
    _write_predictions(files, ds, pred)
    write_tsv(files.history, pd.DataFrame({"alpha": list(scores), "cv_loss": list(scores.values())}))
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
    write_json(files.metrics, metrics)
    console.info(
        "%s: valid r %.3f (alpha %g)",
        mcfg["name"],
        metrics["splits"].get("valid", {}).get("pearson_r", float("nan")),
        alpha,
    )
    return metrics


# --------------------------------------------------------------------------- neural networks


def _resolve_precision(mcfg: dict[str, Any]) -> str:
    import torch

    prec = str(mcfg["precision"])
    on_gpu = mcfg["accelerator"] in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    if prec in ("16-mixed", "bf16-mixed") and not on_gpu:
        log.warning("precision %s needs a GPU; using 32-true on CPU", prec)
        return "32-true"
    return "32" if prec == "32" else prec


#: what early stopping and the kept checkpoint go by: the validation Pearson r (higher is better). On
#: weak-signal data the validation MSE is lowest for an early, heavily shrunk model whose ranking of
#: the genes is still poor (yeast genome: best MSE at epoch 1, best r later); a constant predictor has
#: an undefined r and is never kept
SELECT_ON = "val_pearson"

#: model-config keys that change where or how fast a model trains, not what it learns
_PLACEMENT_KEYS = ("name", "accelerator", "devices", "strategy", "num_workers", "resources")


def training_fingerprint(mcfg: dict[str, Any], ds: Dataset) -> dict[str, str]:
    """What a resumable checkpoint must match: the training settings and the data it was fit to.

    ``settings``: SHA-256 of every model and training key except placement (devices, threads, ...);
    ``data``: SHA-256 of the sequences, labels, split (the fold's split for a fold model) and,
    when the model uses them, the extra features.
    """
    import hashlib

    settings = {k: v for k, v in sorted(mcfg.items()) if k not in _PLACEMENT_KEYS}
    h = hashlib.sha256()
    seqs = ds.sequences
    for s in range(0, len(seqs), 4096):
        h.update(np.ascontiguousarray(seqs[s : s + 4096]).tobytes())
    h.update(ds.labels().astype(np.float64).tobytes())
    h.update("\t".join(map(str, ds.genes["split"])).encode())
    if mcfg["use_extra"]:
        h.update(np.ascontiguousarray(ds.extra(), dtype=np.float64).tobytes())
    return {
        "settings": hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest(),
        "data": h.hexdigest(),
    }


def _resume_path(files: ModelFiles, fingerprint: dict[str, str]) -> Path | None:
    """``last.ckpt`` of an *interrupted* run of the same settings on the same data, else ``None``.

    A finished run leaves its done marker; asking to train again there (a forced re-run, new
    code) starts from scratch instead of "resuming" the finished model. A checkpoint of other
    settings or other data (labels, split, sequences) is never resumed: training starts afresh and
    the console says why in one line. Stale checkpoints are removed.
    """
    stale = (files.last, files.best, files.done_marker)
    if files.done_marker.exists():
        log.info("%s: the previous training finished; training from scratch", files.dir)
        for f in stale:
            f.unlink(missing_ok=True)
        return None
    if not files.last.exists():
        return None
    from promoter_cr.models.checkpoint import read_checkpoint

    why = None
    try:
        old = read_checkpoint(files.last)[CKPT_KEY].get("fingerprint") or {}
    except InputDataError as exc:
        old, why = {}, f"it is unreadable ({exc.reason})"
    if why is None and old == fingerprint:
        console.info("%s: resuming from %s", files.dir.name, files.last)
        return files.last
    if why is None:
        what = [k for k in ("settings", "data") if old.get(k) != fingerprint[k]]
        labels = {"settings": "other training settings", "data": "other data (sequences, labels or split)"}
        why = "it was trained with " + " and ".join(labels[k] for k in what)
    console.warning("%s: not resuming %s: %s; training from scratch", files.dir.name, files.last, why)
    for f in stale:
        f.unlink(missing_ok=True)
    return None


def epochs_for(mcfg: dict[str, Any], n_batches: int) -> int:
    """Epochs to train: ``max_epochs``, raised to ``ceil(min_steps / n_batches)`` when that is more."""
    return max(int(mcfg["max_epochs"]), -(-int(mcfg["min_steps"]) // max(1, int(n_batches))))


def _make_trainer(mcfg: dict[str, Any], files: ModelFiles, n_batches: int):
    """The Lightning trainer and its checkpoint and history callbacks."""
    import sys

    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar
    from lightning.pytorch.loggers import CSVLogger

    from promoter_cr.console import tame_lightning
    from promoter_cr.models.lit import AtomicCheckpointIO, BestStateCallback, HistoryCallback

    tame_lightning()
    epochs = epochs_for(mcfg, n_batches)
    history = HistoryCallback(mcfg["name"], epochs)
    ckpt_cb = ModelCheckpoint(
        dirpath=files.dir,
        filename=files.best.stem,
        monitor=SELECT_ON,
        mode="max",
        save_top_k=1,
        enable_version_counter=False,
    )
    # the resume state, every epoch: ``save_last=True`` of Lightning 2.6 writes last.ckpt only in the
    # epochs where the best checkpoint improved, so a resumed run would redo the epochs since then
    last_cb = ModelCheckpoint(dirpath=files.dir, filename=files.last.stem, save_top_k=1, enable_version_counter=False)
    interactive = sys.stderr.isatty()  # a progress bar in a terminal; epoch lines (HistoryCallback) in logs
    callbacks = [
        BestStateCallback(),
        ckpt_cb,
        last_cb,
        EarlyStopping(monitor=SELECT_ON, mode="max", patience=int(mcfg["patience"]), check_finite=False),
        history,
    ]
    if interactive:
        callbacks.append(TQDMProgressBar(refresh_rate=max(1, n_batches // 10)))
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=mcfg["accelerator"],
        devices=mcfg["devices"],
        strategy=mcfg["strategy"],
        precision=_resolve_precision(mcfg),
        deterministic=bool(mcfg["deterministic"]),
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
        logger=CSVLogger(save_dir=str(files.csv_logs.parent), name=files.csv_logs.name, version=0),
        default_root_dir=str(files.dir),
        limit_train_batches=mcfg["limit_train_batches"],
        log_every_n_steps=max(1, min(50, n_batches)),
        enable_model_summary=False,
        enable_progress_bar=interactive,
        use_distributed_sampler=False,  # promoter_cr.models.lit.EpochBatches shards the training batches
    )
    return trainer, ckpt_cb, history


#: starting grid of the k-mer prior's penalty (the search extends it until the leave-one-out optimum
#: is inside, so the grid sets the cost of the search, not its result)
PRIOR_ALPHAS = (1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0)


def fit_prior(mcfg: dict[str, Any], ds: Dataset) -> dict[str, Any] | None:
    """The k-mer prior of a CR model (``kmer_prior``; ``None`` when empty or not CR).

    A canonical k-mer ridge fitted on the training split (:func:`promoter_cr.models.kmer.fit_kmer_prior`)
    and written as tables for :meth:`CRModel.set_kmer_prior`. Returns ``{"tables", "const", "alpha",
    "offset", "residual_mean"}``: ``offset`` ``(N,)`` is ``loo - fit`` on the training rows (0 elsewhere;
    see :class:`~promoter_cr.models.lit.PromoterLitModule`), ``residual_mean`` the mean of ``y - loo``
    there (the network's starting bias).
    """
    if mcfg["type"] != "cr" or not mcfg["kmer_prior"]:
        return None
    from promoter_cr.models.kmer import fit_kmer_prior, kmer_features, kmer_tables, predict_rows

    ks = [int(k) for k in mcfg["kmer_prior"]]
    tr = ds.indices("train")
    t0 = time.time()
    feats = kmer_features(ds.sequences, ks, canonical=True)
    y = ds.labels().astype(np.float64)
    pipe, alpha, loo = fit_kmer_prior(feats[tr], y[tr], PRIOR_ALPHAS)
    fit = predict_rows(pipe, feats[tr]).astype(np.float64)
    offset = np.zeros(ds.n)
    offset[tr] = loo - fit
    tables, const = kmer_tables(pipe, ks, canonical=True)
    console.info(
        "%s: k-mer prior k=%s alpha %g, leave-one-out r %.3f on the training split (%.0f s)",
        mcfg["name"],
        ks,
        alpha,
        float(np.corrcoef(loo, y[tr])[0, 1]) if len(tr) > 2 and np.std(loo) > 0 else float("nan"),
        time.time() - t0,
    )
    return {
        "tables": tables,
        "const": const,
        "alpha": alpha,
        "offset": offset,
        "residual_mean": float((y[tr] - loo).mean()),
    }


def _train_nn(mcfg: dict[str, Any], ds: Dataset, files: ModelFiles) -> dict[str, Any]:
    import lightning.pytorch as pl

    from promoter_cr.models.lit import PromoterDataModule, PromoterLitModule, restore_best_checkpoint

    _check_dataset(ds, need_valid=True)
    pl.seed_everything(int(mcfg["seed"]), workers=True, verbose=False)
    fingerprint = training_fingerprint(mcfg, ds)
    t0 = time.time()
    prior = fit_prior(mcfg, ds)  # deterministic: refitted on a resume too (its targets are not checkpointed)
    dm = PromoterDataModule(
        ds.root,
        batch_size=int(mcfg["batch_size"]),
        num_workers=int(mcfg["num_workers"]),
        use_extra=bool(mcfg["use_extra"]),
        seed=int(mcfg["seed"]),
        splits=ds.genes["split"].to_numpy(dtype=object),
    )
    module = PromoterLitModule(
        mcfg,
        dm.length,
        dm.n_extra,
        dataset_meta=ds.meta,
        extra_features=ds.extra_features if dm.n_extra else [],
        fingerprint=fingerprint,
        prior_offset=prior["offset"] if prior else None,
    )
    n_batches = max(1, int(np.ceil(len(ds.indices("train")) / dm.batch_size)))
    trainer, ckpt_cb, history = _make_trainer(mcfg, files, n_batches)
    ckpt_path = _resume_path(files, fingerprint)
    if prior:
        module.model.set_kmer_prior(prior["tables"], prior["const"])
    if ckpt_path is None and hasattr(module.model, "init_bias"):  # start predicting the mean training label
        start = prior["residual_mean"] if prior else float(ds.labels()[ds.indices("train")].mean())
        module.model.init_bias(start)
    with warnings.catch_warnings():
        # harmless: the folder holds our own files / a resumable last.ckpt; srun hint on SLURM login nodes
        warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
        warnings.filterwarnings("ignore", message=".*srun.*")
        trainer.fit(module, datamodule=dm, ckpt_path=str(ckpt_path) if ckpt_path else None)
    if not trainer.is_global_zero:
        return {}
    if not files.best.exists():
        # the job that wrote it was killed and the workflow removed it with its other outputs; the
        # best weights travel in every last.ckpt, so no later epoch has to beat them again
        restore_best_checkpoint(files.last, files.best)
    write_json(
        files.done_marker, {"epochs_trained": int(trainer.current_epoch), "global_step": int(trainer.global_step)}
    )
    run = {
        "best_val_pearson": float(ckpt_cb.best_model_score) if ckpt_cb.best_model_score is not None else None,
        "epochs_trained": int(trainer.current_epoch),
        "global_step": int(trainer.global_step),
        "resumed_from": str(ckpt_path) if ckpt_path else None,
        "train_seconds": round(time.time() - t0, 2),
        "kmer_prior_alpha": prior["alpha"] if prior else None,
    }
    return _finish_nn(mcfg, ds, files, files.best, history.rows, run)


def _finish_nn(
    mcfg: dict[str, Any], ds: Dataset, files: ModelFiles, best: Path, history: list[dict], run: dict[str, Any]
) -> dict[str, Any]:
    """Predict every gene with the best checkpoint; write predictions, history and metrics."""
    from promoter_cr.models.checkpoint import load_model, update_checkpoint_metrics
    from promoter_cr.models.inference import Predictor
    from promoter_cr.models.registry import n_parameters
    from promoter_cr.runtime import accelerator_device

    if not best.exists():
        raise RuntimeError(f"training finished without writing {best}")
    device = accelerator_device(mcfg["accelerator"])
    model, meta = load_model(best, map_location=device)
    extra = ds.extra() if meta["n_extra"] else None
    pred, _ = Predictor(model, device, max(int(mcfg["batch_size"]), 128)).predict(ds.sequences, extra=extra)
    _write_predictions(files, ds, pred)
    write_tsv(
        files.history,
        pd.DataFrame(history, columns=["epoch", "train_loss", "val_loss", "val_pearson"]),
        float_format="%.6g",
    )
    metrics = {
        "model": mcfg["name"],
        "type": mcfg["type"],
        "splits": split_metrics(ds.genes, pred),
        "best_epoch": meta.get("epoch"),
        **{k: run[k] for k in ("best_val_pearson", "epochs_trained", "global_step", "resumed_from")},
        **({"kmer_prior_alpha": run["kmer_prior_alpha"]} if run.get("kmer_prior_alpha") is not None else {}),
        "n_parameters": n_parameters(model),
        "train_seconds": run["train_seconds"],
        "device": str(device),
    }
    if mcfg["type"] == "cr":
        metrics["position_bin_bp"] = int(model.bin)
        metrics["receptive_field_bp"] = int(model.receptive_field())
    update_checkpoint_metrics(best, metrics)
    write_json(files.metrics, metrics)
    return metrics


# --------------------------------------------------------------------------- summary table


def collect_metrics(models_dir: str | Path, names: list[str], out_tsv: str | Path) -> pd.DataFrame:
    """Gather the ``metrics.json`` of the named models under ``models_dir`` into one table.

    One row per model and split (valid, test). Columns: model, type, split, n, pearson_r,
    pearson_r2, r2, spearman_rho, mse.
    """
    models = ModelsFiles(models_dir)
    rows = []
    for name in names:
        path = models.model(name).metrics
        if not path.exists():
            raise InputDataError(path, f"metrics of model {name!r} not found (train it first)")
        m = json.loads(path.read_text())
        for split in ("valid", "test"):
            if split in m.get("splits", {}):
                rows.append(
                    {
                        "model": name,
                        "type": m.get("type"),
                        "split": split,
                        **{c: m["splits"][split].get(c) for c in METRIC_COLUMNS},
                    }
                )
    table = pd.DataFrame(rows, columns=["model", "type", "split", *METRIC_COLUMNS])
    write_tsv(out_tsv, table, float_format="%.6g")
    return table
