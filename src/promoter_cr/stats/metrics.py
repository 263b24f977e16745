"""Regression metrics (pure numpy / scipy).

Two conventions of "r^2" are reported side by side, since papers mix them:
``pearson_r2`` is the squared Pearson correlation (Xpresso's "r^2") carrying the sign of r,
``r * |r|``, so a negative correlation never reads as explained variance; ``r2`` is the
coefficient of determination ``1 - SS_res / SS_tot`` (can be negative).
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.size} vs {p.size}")
    return t, p


def pearson_r(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Pearson correlation; NaN for fewer than 2 values or a constant vector."""
    t, p = _pair(y_true, y_pred)
    if t.size < 2:
        return float("nan")
    tc, pc = t - t.mean(), p - p.mean()
    den = np.sqrt((tc * tc).sum() * (pc * pc).sum())
    return float((tc * pc).sum() / den) if den > 0 else float("nan")


def spearman_rho(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    t, p = _pair(y_true, y_pred)
    if t.size < 2:
        return float("nan")
    return pearson_r(stats.rankdata(t), stats.rankdata(p))


def mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean squared error."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean((t - p) ** 2)) if t.size else float("nan")


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination ``1 - SS_res/SS_tot`` (NaN when ``y_true`` is constant)."""
    t, p = _pair(y_true, y_pred)
    ss_tot = float(((t - t.mean()) ** 2).sum()) if t.size else 0.0
    return 1.0 - float(((t - p) ** 2).sum()) / ss_tot if ss_tot > 0 else float("nan")


def signed_r2(r: float) -> float:
    """Squared Pearson r with the sign of r (``r * |r|``); NaN for NaN."""
    return float(r * abs(r)) if np.isfinite(r) else float("nan")


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """``{n, pearson_r, pearson_r2, r2, spearman_rho, mse}``."""
    t, p = _pair(y_true, y_pred)
    r = pearson_r(t, p)
    return {
        "n": int(t.size),
        "pearson_r": r,
        "pearson_r2": signed_r2(r),
        "r2": r2_score(t, p),
        "spearman_rho": spearman_rho(t, p),
        "mse": mse(t, p),
    }


METRIC_COLUMNS = ["n", "pearson_r", "pearson_r2", "r2", "spearman_rho", "mse"]
