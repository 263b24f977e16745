"""Lightning wrappers: the training module, the data module and a history callback.

* :class:`PromoterDataModule` reads the memory-mapped data set (``dataset.load_dataset``);
  batches carry uint8 codes (``(B, L)``), labels, extra features and row indices, and are
  turned into float one-hot ``(B, 4, L)`` *after* the transfer to the device
  (``on_after_batch_transfer`` with :func:`encoding.one_hot_torch`), so only bytes cross
  the host/GPU boundary. Optional random reverse-complement augmentation in training.
* :class:`PromoterLitModule`: MSE loss (+ ``l1 * CRModel.l1_penalty`` for CR), Adam/AdamW,
  logs ``train_loss``, ``val_loss`` and ``val_pearson``; checkpoints carry the model config,
  data-set meta, package versions and metrics under the key ``"promoter_cr"``.
* :class:`HistoryCallback`: per-epoch history kept in the checkpoint, so a resumed run
  continues its history.
"""

from __future__ import annotations

import logging
import platform
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from promoter_cr import __version__
from promoter_cr.data.dataset import load_dataset
from promoter_cr.data.encoding import one_hot_torch
from promoter_cr.layout import DataFiles
from promoter_cr.models import CKPT_KEY
from promoter_cr.models.cr import CROutput
from promoter_cr.models.registry import build_model


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
    """Rows of a ``(N, L)`` uint8 ``.npy`` file (opened lazily per worker, memory-mapped).

    Items: ``(codes (L,) uint8, label float32, extra (F,) float32, index int64)``.
    """

    def __init__(self, seq_path: str | Path, rows: np.ndarray, labels: np.ndarray, extra: np.ndarray | None):
        self.seq_path = str(seq_path)
        self.rows = np.asarray(rows, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.float32)
        n_extra = 0 if extra is None else extra.shape[1]
        self.extra = np.zeros((len(labels), n_extra), np.float32) if extra is None else np.asarray(extra, np.float32)
        self._seqs: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __getstate__(self) -> dict[str, Any]:  # never pickle the memmap into workers
        state = dict(self.__dict__)
        state["_seqs"] = None
        return state

    def __getitem__(self, i: int):
        if self._seqs is None:
            self._seqs = np.load(self.seq_path, mmap_mode="r")
        r = self.rows[i]
        return (
            torch.from_numpy(np.array(self._seqs[r], dtype=np.uint8)),
            torch.tensor(self.labels[r]),
            torch.from_numpy(self.extra[r]),
            torch.tensor(r),
        )


def batch_to_onehot(batch: tuple, rc_augment: bool) -> tuple:
    """``(codes, y, extra, idx)`` -> ``(x (B,4,L) float32, y, extra, idx)``; with ``rc_augment`` each
    sequence is reverse-complemented with probability 1/2 (one-hot RC = flip bases and positions)."""
    codes, y, extra, idx = batch
    x = one_hot_torch(codes)
    if rc_augment:
        flip = torch.rand(x.shape[0], device=x.device) < 0.5
        x = torch.where(flip[:, None, None], x.flip(1).flip(2), x)
    return x, y, extra, idx


class PromoterDataModule(pl.LightningDataModule):
    """Train / valid / test loaders over a data set directory (see module docstring)."""

    def __init__(
        self,
        data_dir: str | Path,
        *,
        batch_size: int,
        num_workers: int,
        use_extra: bool,
        rc_augment: bool,
        seed: int,
        splits: np.ndarray | None = None,
    ):
        super().__init__()
        self.data_dir = Path(data_dir)
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.use_extra = bool(use_extra)
        self.rc_augment = bool(rc_augment)
        self.seed = int(seed)
        self.ds = load_dataset(self.data_dir)
        if splits is not None:  # e.g. a cross-fitting fold (promoter_cr.interpret.crossfit)
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

    def subset(self, split: str | None) -> CodesDataset:
        extra = self.ds.extra() if self.use_extra else None
        return CodesDataset(DataFiles(self.data_dir).sequences, self.ds.indices(split), self.ds.labels(), extra)

    def _loader(self, split: str | None, shuffle: bool) -> DataLoader:
        gen = torch.Generator()
        gen.manual_seed(self.seed)
        return DataLoader(
            self.subset(split),
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            generator=gen if shuffle else None,
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
        training = self.trainer is not None and self.trainer.training
        return batch_to_onehot(batch, rc_augment=self.rc_augment and training)


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
    """

    def __init__(
        self,
        model_cfg: dict[str, Any],
        length: int,
        n_extra: int = 0,
        dataset_meta: dict[str, Any] | None = None,
        extra_features: list[str] | None = None,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.model_cfg = dict(model_cfg)
        self.model = build_model(self.model_cfg, length, n_extra)
        self.is_cr = self.model_cfg["type"] == "cr"
        self.l1 = float(self.model_cfg["l1"]) if self.is_cr else 0.0
        self.final_metrics: dict[str, Any] = {}
        self._val_pred: list[Tensor] = []
        self._val_true: list[Tensor] = []
        self._train_sum = 0.0
        self._train_n = 0

    def on_train_epoch_start(self) -> None:
        self._train_sum, self._train_n = 0.0, 0

    def epoch_train_mse(self) -> float:
        """Mean training MSE of the current epoch so far (this process)."""
        return self._train_sum / self._train_n if self._train_n else float("nan")

    def forward(self, x: Tensor, extra: Tensor | None = None):
        return self.model(x, extra if self.hparams.n_extra else None)

    def _step(self, batch: tuple) -> tuple[Tensor, Tensor, Tensor]:
        x, y, extra, _ = batch
        out = self(x, extra)
        if isinstance(out, CROutput):
            pred = out.prediction
            mse = torch.nn.functional.mse_loss(pred.float(), y.float())
            loss = mse + self.l1 * self.model.l1_penalty(out) if self.l1 else mse
        else:
            pred = out
            mse = torch.nn.functional.mse_loss(pred.float(), y.float())
            loss = mse
        return loss, mse, pred.detach().float()

    def training_step(self, batch: tuple, batch_idx: int) -> Tensor:
        loss, mse, _ = self._step(batch)
        self._train_sum += float(mse.detach()) * len(batch[1])
        self._train_n += len(batch[1])
        self.log(
            "train_loss", mse, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(batch[1]), sync_dist=True
        )
        if self.is_cr and self.l1:
            self.log("train_objective", loss, on_step=False, on_epoch=True, batch_size=len(batch[1]), sync_dist=True)
        return loss

    def validation_step(self, batch: tuple, batch_idx: int) -> None:
        _, mse, pred = self._step(batch)
        self.log("val_loss", mse, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(batch[1]), sync_dist=True)
        self._val_pred.append(pred)
        self._val_true.append(batch[1].detach().float())

    def on_validation_epoch_end(self) -> None:
        if not self._val_pred:
            return
        p = torch.cat(self._val_pred)
        t = torch.cat(self._val_true)
        self._val_pred.clear()
        self._val_true.clear()
        # sufficient statistics (summed over processes under DDP): n, sum p, sum t, sum p^2, sum t^2, sum pt
        stats = torch.stack(
            [
                torch.tensor(float(len(p)), device=p.device),
                p.sum(),
                t.sum(),
                (p * p).sum(),
                (t * t).sum(),
                (p * t).sum(),
            ]
        )
        if self.trainer.world_size > 1:
            stats = self.all_gather(stats).reshape(-1, 6).sum(0)
        n, sp, st, spp, stt, spt = (s.double() for s in stats)
        cov = spt - sp * st / n
        den = torch.sqrt((spp - sp * sp / n) * (stt - st * st / n))
        r = (cov / den).float() if den > 0 else torch.tensor(float("nan"), device=p.device)
        self.log("val_pearson", r, prog_bar=True, sync_dist=False, rank_zero_only=False)

    def configure_optimizers(self):
        cfg = self.model_cfg
        opt_cls = torch.optim.AdamW if cfg["optimizer"] == "adamw" else torch.optim.Adam
        return opt_cls(self.model.parameters(), lr=float(cfg["lr"]), weight_decay=float(cfg["weight_decay"]))

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
