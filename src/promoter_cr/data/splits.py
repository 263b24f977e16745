"""Train / valid / test splits of a data set, from the ``dataset.split`` config.

``method``: ``auto`` keeps a source's own split when it has one (Xpresso), else holds out
chromosomes when ``test_chromosomes`` are given and the genes have a ``chrom`` column, else a
seeded random split; ``keep``, ``random`` and ``chromosome`` force one. Every source goes through
:func:`apply_split`, which refuses a split that leaves train, valid or test empty (valid drives
early stopping and model selection, test gives the reported metrics) and returns the record of
the split that ``meta.json`` keeps.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.errors import InputDataError
from promoter_cr.seq.chromosomes import normalise_chrom

SPLITS = ("train", "valid", "test")


def random_split(n: int, valid_fraction: float, test_fraction: float, seed: int) -> np.ndarray:
    """Seeded random split: ``(n,)`` array of ``"train"|"valid"|"test"`` (object dtype)."""
    if not 0 <= valid_fraction < 1 or not 0 <= test_fraction < 1 or valid_fraction + test_fraction >= 1:
        raise ValueError("valid_fraction and test_fraction must be in [0, 1) and sum to less than 1")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    n_test = int(round(n * test_fraction))
    n_valid = int(round(n * valid_fraction))
    split = np.full(n, "train", dtype=object)
    split[order[:n_test]] = "test"
    split[order[n_test : n_test + n_valid]] = "valid"
    return split


def chromosome_split(chroms: Iterable[str], valid_chroms: Iterable[str], test_chroms: Iterable[str]) -> np.ndarray:
    """Hold out whole chromosomes: ``(n,)`` object array of split names.

    Chromosome names are compared after :func:`normalise_chrom`, so ``chr8`` and ``8`` match.
    """
    v = {normalise_chrom(c) for c in valid_chroms}
    t = {normalise_chrom(c) for c in test_chroms}
    if v & t:
        raise ValueError(f"chromosomes in both valid and test: {sorted(v & t)}")
    norm = np.array([normalise_chrom(c) for c in chroms], dtype=object)
    split = np.full(len(norm), "train", dtype=object)
    split[np.isin(norm, list(v))] = "valid"
    split[np.isin(norm, list(t))] = "test"
    return split


def resolve_method(genes: pd.DataFrame, split_cfg: dict[str, Any], has_source_split: bool) -> str:
    """The split method that ``split_cfg["method"]`` amounts to for these genes (``auto`` resolved)."""
    method = split_cfg["method"]
    if method != "auto":
        return method
    if has_source_split:
        return "keep"
    if split_cfg["test_chromosomes"] and "chrom" in genes.columns:
        return "chromosome"
    return "random"


def assign_split(genes: pd.DataFrame, split_cfg: dict[str, Any], has_source_split: bool) -> np.ndarray:
    """Each gene's split (``(n,)`` object array) from the validated ``dataset.split`` config."""
    method = resolve_method(genes, split_cfg, has_source_split)
    if method == "keep":
        if not has_source_split or "split" not in genes.columns:
            raise ValueError("dataset.split.method is 'keep' but this source has no split of its own")
        return genes["split"].to_numpy(dtype=object)
    if method == "chromosome":
        if "chrom" not in genes.columns:
            raise ValueError("dataset.split.method is 'chromosome' but this source has no chromosome coordinates")
        return chromosome_split(genes["chrom"], split_cfg["valid_chromosomes"], split_cfg["test_chromosomes"])
    if method == "random":
        return random_split(len(genes), split_cfg["valid_fraction"], split_cfg["test_fraction"], split_cfg["seed"])
    raise ValueError(f"unknown dataset.split.method {method!r}")


def apply_split(
    genes: pd.DataFrame, split_cfg: dict[str, Any], has_source_split: bool, path: str | Path | None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Assign splits; returns ``(split (n,) object array, meta record of the split)``.

    A split that leaves train, valid or test without genes is an :class:`InputDataError`
    naming ``path`` (the input the genes came from) and the split counts.
    """
    method = resolve_method(genes, split_cfg, has_source_split)
    try:
        split = assign_split(genes, {**split_cfg, "method": method}, has_source_split)
    except ValueError as exc:
        raise InputDataError(path, f"cannot split the data set: {exc}") from None
    counts = {s: int((split == s).sum()) for s in SPLITS}
    empty = [s for s in SPLITS if counts[s] == 0]
    if empty:
        hint = {
            "random": "raise dataset.split.valid_fraction / test_fraction (or add genes)",
            "chromosome": "list chromosomes that hold genes in dataset.split.valid_chromosomes / test_chromosomes",
            "keep": "the source's own split is incomplete; use dataset.split.method: random",
        }[method]
        raise InputDataError(
            path, f"split method {method!r} leaves no genes in {' and '.join(empty)} ({counts}); {hint}"
        )
    record: dict[str, Any] = {"method": method}
    if method == "chromosome":
        record["valid_chromosomes"] = list(split_cfg["valid_chromosomes"])
        record["test_chromosomes"] = list(split_cfg["test_chromosomes"])
    elif method == "random":
        record.update({k: split_cfg[k] for k in ("valid_fraction", "test_fraction", "seed")})
    return split, record


# --------------------------------------------------------------------------- cross-fitting folds
#
# Cross-fitting: every gene's weighted features from a model that did not train on it.
#
# The motif and cluster statistics read the weighted features of every gene. Features of genes the
# model was trained on are fitted to their own labels (train r 0.98 against test r 0.93 on the
# default set), so statistics over them are circular. With ``attribution.crossfit_folds = K > 1``
# the genes are split into ``K`` seeded folds; fold model ``k`` (the analysis model's settings) is
# trained on the genes of the other folds (its early-stopping set: the data set's valid genes among
# them, else a seeded tenth) and exports the weighted features of fold ``k`` only. Out-of-fold
# predictions also give the honest correlation that gates the motif stage
# (:mod:`promoter_cr.motifs.gate`).

#: share of a fold model's training genes held out for early stopping when none is valid
FALLBACK_VALID_FRACTION = 0.1


def assign_folds(n_genes: int, n_folds: int, seed: int) -> np.ndarray:
    """``(N,)`` int64 fold of each gene: a seeded permutation cut into ``n_folds`` near-equal parts."""
    if n_folds < 2:
        raise ValueError(f"cross-fitting needs at least 2 folds, got {n_folds}")
    if n_genes < 2 * n_folds:
        raise ValueError(f"{n_genes} genes are too few for {n_folds} folds")
    order = np.random.default_rng(seed).permutation(n_genes)
    folds = np.empty(n_genes, dtype=np.int64)
    folds[order] = np.arange(n_genes) % n_folds
    return folds


def fold_splits(splits: np.ndarray, folds: np.ndarray, fold: int, seed: int) -> np.ndarray:
    """``(N,)`` split labels for training fold model ``fold``.

    Genes of ``fold`` become ``test`` (held out: their weighted features come from this model);
    the other genes train, except the data set's valid genes among them, which stay ``valid`` for
    early stopping (a seeded tenth when there are none).
    """
    splits = np.asarray(splits, dtype=object)
    out = np.where(folds == fold, "test", np.where(splits == "valid", "valid", "train")).astype(object)
    if not (out == "valid").any():
        train = np.flatnonzero(out == "train")
        rng = np.random.default_rng([seed, fold])
        pick = rng.choice(train, size=max(1, int(round(FALLBACK_VALID_FRACTION * train.size))), replace=False)
        out[pick] = "valid"
    return out
