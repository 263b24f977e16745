"""Cross-fitting: every gene's weighted features from a model that did not train on it.

The motif and cluster statistics read the weighted features of every gene. Features of genes the
model was trained on are fitted to their own labels (train r 0.98 against test r 0.93 on the
default set), so statistics over them are circular. With ``attribution.crossfit_folds = K > 1``
the genes are split into ``K`` seeded folds; fold model ``k`` (the analysis model's settings) is
trained on the genes of the other folds (its early-stopping set: the data set's valid genes among
them, else a seeded tenth) and exports the weighted features of fold ``k`` only. Out-of-fold
predictions also give the honest correlation that gates the motif stage
(:mod:`promoter_cr.motifs.gate`).
"""

from __future__ import annotations

import numpy as np

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
