"""Model types by name: their classes, how a config builds one, which keys shape the architecture.

The architecture keys of a type are its constructor's keyword-only parameters; their values
(and defaults) come from the validated config (``models.<name>``, defaults in the schema), so
no size is written twice.
"""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from promoter_cr.models.cnn import PlainCNN
from promoter_cr.models.cr import CRModel
from promoter_cr.models.xpresso import XpressoCNN

#: neural network types (trained with Lightning); ``kmer_ridge`` is fitted by scikit-learn
NETWORKS: dict[str, type[nn.Module]] = {"cr": CRModel, "cnn": PlainCNN, "xpresso_cnn": XpressoCNN}


def architecture_keys(model_type: str) -> tuple[str, ...]:
    """Config keys that set the architecture of ``model_type`` (its constructor's keyword-only parameters)."""
    if model_type not in NETWORKS:
        raise ValueError(f"model type {model_type!r} is not a neural network (known: {', '.join(NETWORKS)})")
    params = inspect.signature(NETWORKS[model_type].__init__).parameters.values()
    return tuple(
        p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty
    )


def model_kwargs(model_cfg: dict[str, Any]) -> dict[str, Any]:
    """Constructor keyword arguments from a validated model config (``models.<name>`` with defaults)."""
    keys = architecture_keys(model_cfg["type"])
    missing = [k for k in keys if k not in model_cfg]
    if missing:
        raise KeyError(f"model config lacks {missing}; validate the config first (defaults live in the schema)")
    return {k: model_cfg[k] for k in keys}


def build_model(model_cfg: dict[str, Any], length: int, n_extra: int) -> nn.Module:
    """A :class:`CRModel`, :class:`PlainCNN` or :class:`XpressoCNN` for a validated model config."""
    return NETWORKS[model_cfg["type"]](length=length, n_extra=n_extra, **model_kwargs(model_cfg))


def n_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))
