"""Lightning wrappers: the training module, the data module and a history callback.

* :class:`PromoterDataModule` reads the memory-mapped data set (``dataset.load_dataset``);
  batches carry uint8 codes (``(B, L)``), labels, extra features and row indices, and are
  turned into float one-hot ``(B, 4, L)`` *after* the transfer to the device
  (``on_after_batch_transfer`` with :func:`encoding.one_hot_torch`), so only bytes cross
  the host/GPU boundary.
* :class:`PromoterLitModule`: optional random reverse-complement augmentation in training; MSE
  loss (+ ``l1 * CRModel.l1_penalty`` for CR), Adam/AdamW,
  logs ``train_loss``, ``val_loss`` and ``val_pearson``; checkpoints carry the model config,
  data-set meta, package versions and metrics under the key ``"promoter_cr"``.
* :class:`HistoryCallback`: per-epoch history kept in the checkpoint, so a resumed run
  continues its history.
"""

from __future__ import annotations

import logging
import platform
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler
from torchmetrics import MeanMetric
from torchmetrics.regression import PearsonCorrCoef

from promoter_cr import __version__
from promoter_cr.data.dataset import load_dataset
from promoter_cr.layout import DataFiles
from promoter_cr.models import CKPT_KEY
from promoter_cr.models.registry import build_model
from promoter_cr.seq.encoding import one_hot_torch


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a trained model."""
    import lightning

    return {
        "promoter_cr": __version__,
        "torch": str(torch.__version__),
        "lightning": str(lightning.__version__),
        "numpy": str(np.__version__),
        "python": platform.python_version(),
    }


class CodesDataset(Dataset):
    """Rows of a ``(N, L)`` uint8 ``.npy`` file, fetched a whole batch at a time (memory-mapped, opened lazily).

    ``dataset[rows]`` (``rows``: ``(B,)`` int64 row numbers, as yielded by :class:`EpochBatches`)
    returns ``(codes (B, L) uint8, labels (B,) float32, extra (B, F) float32, rows (B,) int64)``:
    one fancy-indexed read of the memmap per batch instead of one Python call per sequence (the
    per-item path cost about a third of an epoch on 62,897 x 120 bp).
    """

    def __init__(self, seq_path: str | Path, labels: np.ndarray, extra: np.ndarray | None):
        self.seq_path = str(seq_path)
        self.labels = np.asarray(labels, dtype=np.float32)
        n_extra = 0 if extra is None else extra.shape[1]
        self.extra = np.zeros((len(labels), n_extra), np.float32) if extra is None else np.asarray(extra, np.float32)
        self._seqs: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def __getstate__(self) -> dict[str, Any]:  # never pickle the memmap into workers
        state = dict(self.__dict__)
        state["_seqs"] = None
        return state

    def __getitem__(self, rows: np.ndarray):
        if self._seqs is None:
            self._seqs = np.load(self.seq_path, mmap_mode="r")
        rows = np.asarray(rows, dtype=np.int64)
        return (
            torch.from_numpy(np.ascontiguousarray(self._seqs[rows], dtype=np.uint8)),
            torch.from_numpy(self.labels[rows]),
            torch.from_numpy(self.extra[rows]),
            torch.from_numpy(rows),
        )


class EpochBatches(Sampler):
    """Batches of row numbers; with ``shuffle``, a fresh permutation each epoch drawn from ``(seed, epoch)``.

    The order of an epoch depends only on the seed and the epoch number (``set_epoch``, which
    Lightning calls at the start of every epoch), so a run resumed from the checkpoint of epoch
    ``k`` sees the same batches in epoch ``k + 1`` as the uninterrupted run. Under DDP the rows of
    an epoch are padded to a multiple of ``world_size`` (by repeating the first ones, as
    ``DistributedSampler`` does) and rank ``r`` takes every ``world_size``-th, so every process
    runs the same number of steps. Rows within a batch are sorted (memmap locality).
    """

    def __init__(self, rows: np.ndarray, batch_size: int, *, shuffle: bool, seed: int, rank: int = 0, world: int = 1):
        self.rows = np.asarray(rows, dtype=np.int64)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.rank, self.world = int(rank), max(1, int(world))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _epoch_rows(self) -> np.ndarray:
        rows = self.rows
        if self.shuffle:
            rows = rows[np.random.default_rng([self.seed, self.epoch]).permutation(len(rows))]
        if self.world > 1:
            total = -(-len(rows) // self.world) * self.world
            rows = np.concatenate([rows, rows[: total - len(rows)]])[self.rank :: self.world]
        return rows

    def __len__(self) -> int:
        n = -(-len(self.rows) // self.world)
        return -(-n // self.batch_size)

    def __iter__(self):
        rows = self._epoch_rows()
        for s in range(0, len(rows), self.batch_size):
            yield np.sort(rows[s : s + self.batch_size])


def batch_to_onehot(batch: tuple) -> tuple:
    """``(codes, y, extra, idx)`` -> ``(x (B,4,L) float32, y, extra, idx)``."""
    codes, y, extra, idx = batch
    return one_hot_torch(codes), y, extra, idx


def reverse_complement_half(x: Tensor) -> Tensor:
    """Each sequence of ``x`` (B, 4, L) reverse-complemented with probability 1/2 (one-hot RC = flip
    bases and positions), drawn from torch's global generator."""
    flip = torch.rand(x.shape[0], device=x.device) < 0.5
    return torch.where(flip[:, None, None], x.flip(1).flip(2), x)


class PromoterDataModule(pl.LightningDataModule):
    """Train / valid / test loaders over a data set directory (see module docstring)."""

    def __init__(
        self,
        data_dir: str | Path,
        *,
        batch_size: int,
        num_workers: int,
        use_extra: bool,
        seed: int,
        splits: np.ndarray | None = None,
    ):
        super().__init__()
        self.data_dir = Path(data_dir)
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.use_extra = bool(use_extra)
        self.seed = int(seed)
        self.ds = load_dataset(self.data_dir)
        if splits is not None:  # e.g. a cross-fitting fold (promoter_cr.data.splits)
            self.ds = self.ds.with_splits(splits)
        if self.use_extra and not self.ds.extra_features:
            from promoter_cr.errors import ConfigError

            raise ConfigError(f"use_extra is set but the data set {self.data_dir} has no extra features")

    @property
    def length(self) -> int:
        return self.ds.length

    @property
    def n_extra(self) -> int:
        return len(self.ds.extra_features) if self.use_extra else 0

    def dataset(self) -> CodesDataset:
        extra = self.ds.extra() if self.use_extra else None
        return CodesDataset(DataFiles(self.data_dir).sequences, self.ds.labels(), extra)

    def _loader(self, split: str | None, shuffle: bool) -> DataLoader:
        rank, world = 0, 1
        if shuffle and self.trainer is not None:  # training batches are sharded over DDP processes
            rank, world = self.trainer.global_rank, self.trainer.world_size
        sampler = EpochBatches(
            self.ds.indices(split), self.batch_size, shuffle=shuffle, seed=self.seed, rank=rank, world=world
        )
        return DataLoader(
            self.dataset(),
            batch_size=None,
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(None, False)

    def on_after_batch_transfer(self, batch: tuple, dataloader_idx: int) -> tuple:
        return batch_to_onehot(batch)


class PromoterLitModule(pl.LightningModule):
    """Training wrapper of a CR or Xpresso CNN model.

    Parameters
    ----------
    model_cfg
        The model's config (``config.model_config``: type, sizes, optimiser settings, ``l1``).
    length, n_extra
        Input length and number of extra features.
    dataset_meta, extra_features
        Stored in checkpoints for prediction and provenance.
    fingerprint
        :func:`promoter_cr.models.train.training_fingerprint` of the run, stored in checkpoints: a
        ``last.ckpt`` is resumed only by a run with the same one.
    prior_offset
        ``(N,)`` per data-set row, CR with a k-mer prior only: ``loo - fit`` of the prior's ridge on the
        training rows (0 elsewhere); training predictions get ``kmer_scale * prior_offset[row]`` added,
        so on a training row the prior counts with its leave-one-out value
        (:mod:`promoter_cr.models.cr`). Not stored in checkpoints (refitted on a resume).
    """

    def __init__(
        self,
        model_cfg: dict[str, Any],
        length: int,
        n_extra: int = 0,
        dataset_meta: dict[str, Any] | None = None,
        extra_features: list[str] | None = None,
        fingerprint: dict[str, str] | None = None,
        prior_offset: np.ndarray | None = None,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["prior_offset"])
        self.prior_offset = None if prior_offset is None else torch.as_tensor(prior_offset, dtype=torch.float32)
        self.model_cfg = dict(model_cfg)
        self.model = build_model(self.model_cfg, length, n_extra)
        self.is_cr = self.model_cfg["type"] == "cr"
        self.l1 = float(self.model_cfg["l1"]) if self.is_cr else 0.0
        self.seed = int(self.model_cfg["seed"])
        self.final_metrics: dict[str, Any] = {}
        # Pearson r of the validation split, synchronised across DDP processes by torchmetrics
        self.val_pearson = PearsonCorrCoef()
        # the epoch's training MSE weighted by batch size, synchronised the same way
        self.train_mse = MeanMetric()

    def on_train_epoch_start(self) -> None:
        self.train_mse.reset()

    def _seed_batch(self, batch_idx: int) -> None:
        """Seed torch's generator from ``(seed, epoch, batch, rank)`` right before a training step.

        Dropout and augmentation then draw what an uninterrupted run drew, whatever else consumed
        the global generator since the epoch began (Lightning and the data loaders draw from it in
        a different order after a resume: a seed at epoch start was not enough);
        :class:`EpochBatches` does the same for the batch order.
        """
        rank = self.trainer.global_rank if self._trainer is not None else 0
        seq = np.random.SeedSequence([self.seed, int(self.current_epoch), int(batch_idx), rank])
        torch.manual_seed(int(seq.generate_state(1)[0]))

    def epoch_train_mse(self) -> float:
        """Mean training MSE of the current epoch so far (over all DDP processes)."""
        if float(self.train_mse.weight) == 0:  # no training step yet (every process steps alike)
            return float("nan")
        return float(self.train_mse.compute())

    def forward(self, x: Tensor, extra: Tensor | None = None):
        return self.model(x, extra if self.hparams.n_extra else None)

    def _step(self, batch: tuple, training: bool = False) -> tuple[Tensor, Tensor, Tensor]:
        x, y, extra, rows = batch
        if self.is_cr:
            # contributions are needed only for the L1 penalty in training; validation reads the
            # prediction of the pooled form (the explained one to float rounding, at a fraction of
            # the cost of building the weight map)
            out = self.model(x, extra if self.hparams.n_extra else None, explain=bool(self.l1 and training))
            pred = out.prediction
            if training and self.prior_offset is not None:
                offset = self.prior_offset.to(pred.device)[rows.to(pred.device)]
                pred = pred + self.model.kmer_scale * offset
            mse = torch.nn.functional.mse_loss(pred.float(), y.float())
            loss = mse + self.l1 * self.model.l1_penalty(out) if self.l1 and training else mse
        else:
            pred = self(x, extra)
            mse = torch.nn.functional.mse_loss(pred.float(), y.float())
            loss = mse
        return loss, mse, pred.detach().float()

    def training_step(self, batch: tuple, batch_idx: int) -> Tensor:
        self._seed_batch(batch_idx)
        if self.model_cfg["rc_augment"]:
            batch = (reverse_complement_half(batch[0]), *batch[1:])
        loss, mse, _ = self._step(batch, training=True)
        self.train_mse.update(mse.detach(), len(batch[1]))
        self.log(
            "train_loss", mse, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(batch[1]), sync_dist=True
        )
        if self.is_cr and self.l1:
            self.log("train_objective", loss, on_step=False, on_epoch=True, batch_size=len(batch[1]), sync_dist=True)
        return loss

    def validation_step(self, batch: tuple, batch_idx: int) -> None:
        _, mse, pred = self._step(batch)
        self.log("val_loss", mse, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(batch[1]), sync_dist=True)
        self.val_pearson.update(pred, batch[1].detach().float())

    def on_validation_epoch_end(self) -> None:
        # NaN (not an error) when the model predicts one constant: HistoryCallback reports it, and
        # the training loop treats a constant predictor as collapsed
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*variance.*")
            r = self.val_pearson.compute()
        self.val_pearson.reset()
        self.log("val_pearson", r.float(), prog_bar=True, sync_dist=False, rank_zero_only=False)

    def configure_optimizers(self):
        """AdamW/Adam, with the model type's schedule: ``onecycle`` (linear warm-up over ``warmup_fraction``
        of the ``max_epochs`` steps to ``lr``, then cosine annealing, PyTorch's ``OneCycleLR``) or ``constant``."""
        cfg = self.model_cfg
        opt_cls = torch.optim.AdamW if cfg["optimizer"] == "adamw" else torch.optim.Adam
        opt = opt_cls(self.model.parameters(), lr=float(cfg["lr"]), weight_decay=float(cfg["weight_decay"]))
        if cfg["schedule"] == "constant":
            return opt
        total = max(4, int(self.trainer.estimated_stepping_batches))
        # OneCycleLR needs at least two warm-up steps (tiny runs: a few steps in all)
        warmup = min(0.5, max(float(cfg["warmup_fraction"]), 2.0 / total))
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=float(cfg["lr"]), total_steps=total, pct_start=warmup)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        hp = self.hparams
        checkpoint[CKPT_KEY] = {
            "model_type": self.model_cfg["type"],
            "config": self.model_cfg,
            "length": int(hp.length),
            "n_extra": int(hp.n_extra),
            "extra_features": list(hp.extra_features or []),
            "dataset_meta": dict(hp.dataset_meta or {}),
            "versions": package_versions(),
            "metrics": dict(self.final_metrics),
            "fingerprint": dict(hp.fingerprint or {}),
        }


class HistoryCallback(pl.Callback):
    """Collect ``epoch, train_loss, val_loss, val_pearson`` per epoch (rank 0); state is checkpointed.

    Each epoch is also reported in one line on the ``promoter_cr.console`` logger (the job's
    progress on the user's console, see :mod:`promoter_cr.console`).
    """

    def __init__(self, name: str, max_epochs: int) -> None:
        self.rows: list[dict[str, float]] = []
        self.name = name
        self.max_epochs = int(max_epochs)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # runs before ModelCheckpoint's hook (Lightning orders checkpoint callbacks last), so the
        # saved checkpoints already hold this epoch's row
        if trainer.sanity_checking:
            return
        m = trainer.callback_metrics

        def get(key: str) -> float:
            v = m.get(key)
            return float(v) if v is not None else float("nan")

        train = pl_module.epoch_train_mse() if hasattr(pl_module, "epoch_train_mse") else get("train_loss")
        row = {
            "epoch": int(trainer.current_epoch),
            "train_loss": train,
            "val_loss": get("val_loss"),
            "val_pearson": get("val_pearson"),
        }
        self.rows = [r for r in self.rows if r["epoch"] != row["epoch"]] + [row]
        if trainer.is_global_zero:
            logging.getLogger("promoter_cr.console").info(
                "%s: epoch %d/%d  train mse %.4f  valid mse %.4f  valid r %.3f",
                self.name,
                row["epoch"] + 1,
                self.max_epochs,
                row["train_loss"],
                row["val_loss"],
                row["val_pearson"],
            )

    def state_dict(self) -> dict[str, Any]:
        return {"rows": list(self.rows)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = list(state_dict.get("rows", []))


class BestStateCallback(pl.Callback):
    """Keep the weights of the best epoch (highest ``val_pearson``, ranked as by ``ModelCheckpoint``) in checkpoints.

    A workflow removes the declared outputs of a killed job, ``best.ckpt`` among them, while
    ``last.ckpt`` (the resume state) stays. Resumed, ``ModelCheckpoint`` writes a new ``best.ckpt``
    only when a later epoch beats the best score it restored, which during early-stopping patience
    may never happen. With the best weights inside ``last.ckpt``, :func:`restore_best_checkpoint`
    writes the same ``best.ckpt`` the uninterrupted run would have. Runs before ``ModelCheckpoint``
    (Lightning orders checkpoint callbacks last), so a checkpoint of epoch ``k`` already holds it.
    """

    def __init__(self) -> None:
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict[str, Tensor] | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get("val_pearson")
        score = -float("inf") if value is None or not torch.isfinite(value) else float(value)
        if self.best_score is None or score > self.best_score:
            self.best_score, self.best_epoch = score, int(trainer.current_epoch)
            self.best_state = {k: v.detach().cpu().clone() for k, v in pl_module.state_dict().items()}

    def state_dict(self) -> dict[str, Any]:
        return {"best_score": self.best_score, "best_epoch": self.best_epoch, "state_dict": self.best_state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_score = state_dict.get("best_score")
        self.best_epoch = state_dict.get("best_epoch")
        self.best_state = state_dict.get("state_dict")


def restore_best_checkpoint(last: str | Path, best: str | Path) -> None:
    """Write ``best`` from the best weights that :class:`BestStateCallback` stored in ``last``."""
    from promoter_cr.models.checkpoint import read_checkpoint

    ckpt = read_checkpoint(last)
    state = next((v for k, v in ckpt.get("callbacks", {}).items() if k.startswith(BestStateCallback.__name__)), None)
    if not state or state.get("state_dict") is None:
        raise RuntimeError(f"training finished without writing {best}, and {last} holds no best weights")
    out = {k: v for k, v in ckpt.items() if k not in ("optimizer_states", "lr_schedulers")}
    out["state_dict"] = state["state_dict"]
    out["epoch"] = state["best_epoch"]
    AtomicCheckpointIO().save_checkpoint(out, best)
    logging.getLogger(__name__).info("restored %s (epoch %s) from the best weights in %s", best, out["epoch"], last)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written atomically through :func:`promoter_cr.atomic.write_bytes`.

    The file appears complete or not at all, and a full or read-only disk raises
    :class:`promoter_cr.errors.OutputError` naming the checkpoint (torch's own writer reports a
    full disk as an internal ``inline_container`` error and leaves a truncated file).
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        import io

        from promoter_cr.atomic import write_bytes

        buf = io.BytesIO()
        torch.save(checkpoint, buf)
        write_bytes(path, buf.getbuffer())
