"""Tiny data sets and configs shared by the model tests (written into tmp_path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from promoter_cr.config import model_defaults, validate_config
from promoter_cr.data.dataset import write_dataset
from promoter_cr.data.splits import random_split
from promoter_cr.seq.encoding import encode

MOTIF = "TGACGTCA"
REPRESSOR = "CCCCCCCC"


def planted_dataset(root: Path, n: int = 480, length: int = 80, seed: int = 0, n_extra: int = 0) -> Path:
    """Random sequences; label = 1.0 per activator motif - 0.8 per repressor (+ extra effect) + noise."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n, length), dtype=np.uint8)
    act = encode(MOTIF)
    rep = encode(REPRESSOR)
    n_act = rng.integers(0, 3, size=n)
    n_rep = rng.integers(0, 2, size=n)
    for i in range(n):
        for _ in range(n_act[i]):
            p = rng.integers(0, length - len(act))
            codes[i, p : p + len(act)] = act
        if n_rep[i]:
            p = rng.integers(0, length - len(rep))
            codes[i, p : p + len(rep)] = rep
    label = 1.0 * n_act - 0.8 * n_rep + rng.normal(0, 0.15, n)
    genes = pd.DataFrame({"gene_id": [f"g{i:04d}" for i in range(n)]})
    extra_names = []
    if n_extra:
        h = rng.normal(size=(n, n_extra)).astype(np.float32)
        for f in range(n_extra):
            genes[f"hl{f}"] = h[:, f]
            extra_names.append(f"hl{f}")
        label = label + 0.5 * h[:, 0]
    genes["label"] = label
    genes["split"] = random_split(n, 0.2, 0.2, seed)
    return write_dataset(root, codes, genes, {"source": "test", "extra_features": extra_names})


#: training-recipe keys (per model type in the config), as opposed to the shared ``train`` section
RECIPE_KEYS = (
    "max_epochs",
    "min_steps",
    "batch_size",
    "lr",
    "patience",
    "weight_decay",
    "optimizer",
    "schedule",
    "rc_augment",
)


def tiny_config(tmp: Path, **settings) -> dict:
    """A validated config with small CR, CNN and k-mer models (CPU, 32-bit).

    ``settings``: recipe keys (``max_epochs``, ``lr``, ...) go to every network model, the rest to ``train``.
    """
    recipe = {"max_epochs": 6, "min_steps": 0, "batch_size": 32, "lr": 0.002, "patience": 10}  # tiny: epochs as given
    recipe.update({k: v for k, v in settings.items() if k in RECIPE_KEYS})
    train = {k: v for k, v in settings.items() if k not in RECIPE_KEYS}
    cfg = {
        "results_dir": str(tmp),
        "models": {
            "cr": {"type": "cr", "channels": 16, "stem_kernel": 9, "dropout": 0.0, "l1": 1e-4, **recipe},
            "cnn": {"type": "xpresso_cnn", "conv1_filters": 16, "conv2_filters": 8, "dense1": 16, **recipe},
            "plain": {"type": "cnn", "filters": 16, "kernel": 9, **recipe},
            "kmer": {"type": "kmer_ridge", "k": [3, 4], "alphas": [1.0, 10.0, 100.0]},
        },
        "train": {"accelerator": "cpu", "devices": 1, "seed": 1, **train},
    }
    return validate_config(cfg, semantics=False)


def arch(model_type: str, **overrides) -> dict:
    """Constructor keyword arguments of a network type: the schema's defaults with ``overrides``."""
    from promoter_cr.models.registry import architecture_keys

    cfg = {**model_defaults(model_type), **overrides}
    return {k: cfg[k] for k in architecture_keys(model_type)}


def make_network(model_type: str, length: int, n_extra: int = 0, **overrides):
    """A network of ``model_type`` built from the schema's defaults with ``overrides``."""
    from promoter_cr.models.registry import build_model

    return build_model({**model_defaults(model_type), **overrides}, length, n_extra)
