"""Mine only a model that learned: the gate of the motif stage.

A model that learned nothing (labels permuted, labels unrelated to the sequence, a training run
that never left its initialisation) still has weighted features, and every statistic on them
would describe noise. The motif stage therefore measures how well the analysis model predicts
genes it did not train on -- the out-of-fold predictions of cross-fitting, else the model's valid
and test genes -- and calls nothing unless the one-sided 95 % lower confidence bound of that
Pearson r (Fisher z) exceeds ``grammar.min_valid_r``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.stats.metrics import pearson_r

#: one-sided 95 % normal quantile of the lower confidence bound
Z_95 = 1.6448536269514722


def held_out_rows(table: pd.DataFrame) -> np.ndarray:
    """Rows of an attributions table predicted by a model that did not train on them.

    Cross-fitted tables (a ``fold`` column) are held out everywhere; otherwise the valid and test
    genes of the analysis model.
    """
    if "fold" in table.columns:
        return np.arange(len(table))
    return np.flatnonzero(table["split"].isin(["valid", "test"]).to_numpy())


def model_gate(table: pd.DataFrame, min_valid_r: float) -> dict[str, Any]:
    """``{r, lower_bound, n, min_valid_r, passed, rows}`` of the held-out predictions in ``table``
    (an attributions table: ``label``, ``prediction``, ``split`` [, ``fold``])."""
    rows = held_out_rows(table)
    y = table["label"].to_numpy(dtype=np.float64)[rows]
    p = table["prediction"].to_numpy(dtype=np.float64)[rows]
    n = int(rows.size)
    r = pearson_r(y, p) if n >= 3 else float("nan")
    if np.isfinite(r) and n > 3:
        z = math.atanh(max(min(r, 0.999999), -0.999999))
        lower = math.tanh(z - Z_95 / math.sqrt(n - 3))
    else:
        lower = float("nan")
    passed = bool(np.isfinite(lower) and lower > min_valid_r)
    return {
        "r": r,
        "lower_bound": lower,
        "n": n,
        "min_valid_r": float(min_valid_r),
        "passed": passed,
        "rows": "out-of-fold (cross-fitted)" if "fold" in table.columns else "valid and test genes",
    }
