"""Load trained promoter-cr models from Lightning checkpoints.

A checkpoint written by :mod:`promoter_cr.models.train` holds, besides Lightning's own keys, a
``"promoter_cr"`` entry: model type and config, input length, extra-feature names, the
data set's ``meta.json``, package versions and final metrics. Only load checkpoints you
trust; they are read with ``torch.load(weights_only=True)``, which refuses arbitrary objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from promoter_cr.config import model_defaults
from promoter_cr.errors import InputDataError
from promoter_cr.models import CKPT_KEY
from promoter_cr.models.registry import build_model


def read_checkpoint(checkpoint: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The raw checkpoint dict; :class:`InputDataError` naming the path when missing or foreign."""
    path = Path(checkpoint)
    if not path.exists():
        raise InputDataError(path, "checkpoint not found")
    if path.is_dir():
        raise InputDataError(path, "is a directory, expected a .ckpt file")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if not (head.startswith(b"PK") or head[:1] == b"\x80"):  # torch.save: a zip archive (or a legacy pickle)
        raise InputDataError(path, "not a PyTorch checkpoint (no zip or pickle header: is it a FASTA or a table?)")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file
        first = (str(exc).strip().splitlines() or [""])[0][:120]
        raise InputDataError(path, f"not a readable PyTorch checkpoint ({type(exc).__name__}: {first})") from None
    if not isinstance(ckpt, dict) or CKPT_KEY not in ckpt or "state_dict" not in ckpt:
        raise InputDataError(
            path, "not a promoter-cr checkpoint (no 'promoter_cr' metadata); train it with 'promoter-cr train'"
        )
    return ckpt


def load_model(checkpoint: str | Path, map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model of a checkpoint in eval mode.

    Returns
    -------
    (model, meta)
        ``meta``: ``{"config", "dataset_meta", "versions", "metrics", "model_type", "length",
        "extra_features", "n_extra", "epoch", "global_step", "path"}``.
    """
    ckpt = read_checkpoint(checkpoint, map_location)
    meta = dict(ckpt[CKPT_KEY])
    # checkpoints store the resolved model config; keys missing from older ones get the schema's defaults
    meta["config"] = {**model_defaults(meta["config"]["type"]), **meta["config"]}
    model = build_model(meta["config"], int(meta["length"]), int(meta.get("n_extra", 0)))
    state = {k[len("model.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise InputDataError(checkpoint, f"weights do not match the stored model config ({exc})") from exc
    model.to(map_location).eval()
    meta.update(epoch=ckpt.get("epoch"), global_step=ckpt.get("global_step"), path=str(checkpoint))
    return model, meta


def update_checkpoint_metrics(checkpoint: str | Path, metrics: dict[str, Any]) -> None:
    """Store final ``metrics`` in a checkpoint's ``promoter_cr`` entry (rewritten atomically)."""
    from promoter_cr.atomic import atomic_path

    ckpt = read_checkpoint(checkpoint)
    ckpt[CKPT_KEY]["metrics"] = metrics
    with atomic_path(checkpoint) as tmp:
        torch.save(ckpt, tmp)
