"""False discovery rate: Benjamini-Hochberg q-values (through scipy) for every stage's tests."""

from __future__ import annotations

import numpy as np


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values of ``(n,)`` p-values; NaN entries (untested) stay NaN.

    The number of tests is the number of finite p-values; the adjustment itself is scipy's
    ``stats.false_discovery_control(method="bh")``, which refuses NaN, hence this wrapper.
    """
    from scipy.stats import false_discovery_control

    p = np.asarray(p, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = false_discovery_control(np.clip(p[ok], 0.0, 1.0), method="bh")
    return q
