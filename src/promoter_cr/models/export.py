"""The one exporter of a Contextual Regression model's explanations: weighted features and weights.

A CR model writes its prediction as ``y_hat = sum_j w_{x_j}(x)_j + sum_f h_f v_f(x, h) + b``: the
*weighted features* ``(B, L)`` (the contextual weight of the base present at each position) and
the *contextual weights* ``w(x)`` ``(B, 4, L)`` (what each base would contribute there, the
hypothetical contributions of TF-MoDISco) come out of the same forward pass as the prediction.
:func:`export_rows` runs that pass over rows of a data set batch by batch (through
:meth:`promoter_cr.models.inference.Predictor.batches`) and fills caller-owned arrays (memory maps
from :func:`promoter_cr.atomic.atomic_memmap`, so memory stays flat and nothing is published
unless every batch passed). Every batch is checked:

* ``contributions.sum + extras.sum + bias == prediction`` within a float tolerance
  (:func:`check_decomposition`), all values finite: else :class:`AttributionError`;
* the weights, when exported: finite, and the weight of the present base equal to the weighted
  feature (:func:`check_weights`): else :class:`DenovoError`;
* a ``float16`` destination must hold every value (no overflow past 65504).

The attribution stage (``weighted_features.npy``), the hypothetical-weight export of the de novo
stage and ``promoter-cr predict --weighted-features`` all go through it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from promoter_cr.errors import PromoterCRError
from promoter_cr.models.inference import NotCRModelError, Predictor

DTYPES = {"float32": np.float32, "float16": np.float16}
#: relative tolerance of the decomposition check, scaled by the total absolute mass
#: ``sum|contributions| + sum|extras| + |bias|`` of each gene (float32 summation error)
DECOMPOSITION_RTOL = 1e-4
DECOMPOSITION_ATOL = 1e-5
#: relative tolerance of the check ``sum_b w_b(x) x_b == weighted feature`` (float32 products)
CONSISTENCY_RTOL = 1e-4
CONSISTENCY_ATOL = 1e-5

__all__ = [
    "AttributionError",
    "DTYPES",
    "DenovoError",
    "actual_contributions",
    "check_decomposition",
    "check_weights",
    "export_rows",
]


class AttributionError(PromoterCRError):
    """Weighted features that do not add up to the prediction, or are not finite."""


class DenovoError(PromoterCRError):
    """Contextual weights that are not finite or disagree with the weighted features."""


def check_decomposition(
    prediction: np.ndarray,
    contributions: np.ndarray,
    bias: np.ndarray,
    extra: np.ndarray | None,
    gene_ids: np.ndarray | None = None,
) -> float:
    """Check ``contributions.sum(1) + extra.sum(1) + bias == prediction``; return the largest error.

    Parameters
    ----------
    prediction, bias
        ``(B,)`` float arrays.
    contributions
        ``(B, L)`` float array.
    extra
        ``(B, F)`` float array or ``None``.

    Raises
    ------
    AttributionError
        Naming the first gene whose values are not finite or do not add up within
        ``DECOMPOSITION_ATOL + DECOMPOSITION_RTOL * (sum|contributions| + sum|extra| + |bias|)``.
    """
    c = np.asarray(contributions, dtype=np.float64)
    p = np.asarray(prediction, dtype=np.float64)
    b = np.asarray(bias, dtype=np.float64)
    e = None if extra is None else np.asarray(extra, dtype=np.float64)

    def _name(i: int) -> str:
        return f"gene {gene_ids[i]}" if gene_ids is not None else f"row {i}"

    finite = np.isfinite(c).all(1) & np.isfinite(p) & np.isfinite(b)
    if e is not None:
        finite &= np.isfinite(e).all(1)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise AttributionError(f"{_name(i)}: the model returned non-finite prediction or weighted features")
    total = c.sum(1) + b + (e.sum(1) if e is not None else 0.0)
    mass = np.abs(c).sum(1) + np.abs(b) + (np.abs(e).sum(1) if e is not None else 0.0)
    err = np.abs(total - p)
    tol = DECOMPOSITION_ATOL + DECOMPOSITION_RTOL * mass
    bad = err > tol
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AttributionError(
            f"{_name(i)}: weighted features do not add up to the prediction: contributions {c[i].sum():.6g}"
            f" + extras {0.0 if e is None else e[i].sum():.6g} + bias {b[i]:.6g} = {total[i]:.6g}"
            f" but prediction = {p[i]:.6g} (error {err[i]:.3g} > tolerance {tol[i]:.3g})"
        )
    return float(err.max()) if err.size else 0.0


def actual_contributions(weights: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``(B, L)`` float32 actual contributions ``w_{x_j}(x)_j`` from ``(B, 4, L)`` weights and
    ``(B, L)`` uint8 codes (N -> 0)."""
    codes = np.asarray(codes)
    base = np.minimum(codes, 3).astype(np.intp)
    out = np.take_along_axis(np.asarray(weights), base[:, None, :], axis=1)[:, 0, :].astype(np.float32)
    out[codes > 3] = 0.0
    return out


def check_weights(weights: np.ndarray, codes: np.ndarray, contributions: np.ndarray, rows: np.ndarray) -> None:
    """``(B, 4, L)`` contextual weights must be finite and ``sum_b w_b x_b`` must equal the ``(B, L)``
    weighted features of ``(B, L)`` uint8 ``codes``; else :class:`DenovoError` naming the data-set row
    (``rows`` ``(B,)``)."""
    if not np.isfinite(weights).all():
        raise DenovoError(
            f"row {int(rows[np.flatnonzero(~np.isfinite(weights).all((1, 2)))[0]])}: "
            "the model returned non-finite contextual weights"
        )
    actual = actual_contributions(weights, codes)
    err = np.abs(actual.astype(np.float64) - contributions)
    tol = CONSISTENCY_ATOL + CONSISTENCY_RTOL * np.abs(contributions)
    if (err > tol).any():
        i, j = np.argwhere(err > tol)[0]
        raise DenovoError(
            f"row {int(rows[i])}, position {int(j)}: contextual weight of the present base {actual[i, j]:.6g}"
            f" != weighted feature {contributions[i, j]:.6g}"
        )


def _store(out: np.ndarray, where: np.ndarray, values: np.ndarray, error: type[PromoterCRError], what: str) -> None:
    """``out[where] = values`` in ``out``'s dtype; a float16 overflow is ``error``."""
    stored = values.astype(out.dtype)
    if out.dtype == np.float16 and not np.isfinite(stored).all():
        raise error(f"{what} overflow float16 (|value| > 65504); export with dtype float32")
    out[where] = stored


def export_rows(
    predictor: Predictor,
    sequences: np.ndarray,
    rows: np.ndarray,
    out_rows: np.ndarray,
    *,
    features: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    extra: np.ndarray | None = None,
    gene_ids: np.ndarray | None = None,
    desc: str = "weighted features",
) -> dict[str, Any]:
    """Run the predictor's CR model over ``sequences[rows]``; write row ``i``'s explanation to ``out_rows[i]``.

    Parameters
    ----------
    sequences
        ``(N, L)`` uint8 codes (a memmap is read batch by batch).
    rows, out_rows
        ``(n,)`` int rows of ``sequences``, and the rows of the destination arrays that receive them.
    features
        ``(M, L)`` float32/float16 destination of the weighted features, or ``None``.
    weights
        ``(M, 4, L)`` float32/float16 destination of the contextual weights, or ``None``.
    extra
        ``(N, F)`` float32 extra features (rows of the whole set) or ``None``.
    gene_ids
        ``(n,)`` ids of ``rows`` for error messages (``None``: ``row i``).

    Returns
    -------
    dict
        ``prediction``, ``bias``, ``contribution_sum`` ``(n,)`` float64, ``extra`` ``(n, F)`` float64
        or ``None``, and ``max_abs_error`` (float, the largest decomposition error).
    """
    rows = np.asarray(rows, dtype=np.int64)
    out_rows = np.asarray(out_rows, dtype=np.int64)
    n, length = len(rows), int(sequences.shape[1])
    stats = {k: np.empty(n, dtype=np.float64) for k in ("prediction", "bias", "contribution_sum")}
    extra_all: np.ndarray | None = None
    max_err = 0.0
    what = ("prediction", "contributions", "extra") + (("weights",) if weights is not None else ())
    try:
        for sl, res in predictor.batches(sequences, rows=rows, extra=extra, what=what, desc=desc):
            b, c = sl.stop - sl.start, res.contributions
            if c.shape != (b, length):
                raise AttributionError(f"the model returned contributions of shape {c.shape}, expected {(b, length)}")
            ids = None if gene_ids is None else np.asarray(gene_ids)[sl]
            max_err = max(max_err, check_decomposition(res.prediction, c, res.bias, res.extra, ids))
            if features is not None:
                _store(features, out_rows[sl], c, AttributionError, "weighted features")
            if weights is not None:
                w, part = res.weights, rows[sl]
                if w.shape != (b, 4, length):
                    raise DenovoError(f"the model returned weights of shape {w.shape}, expected {(b, 4, length)}")
                check_weights(w, np.asarray(sequences[part], dtype=np.uint8), c, part)
                _store(weights, out_rows[sl], w, DenovoError, "contextual weights")
            stats["prediction"][sl] = res.prediction
            stats["bias"][sl] = res.bias
            stats["contribution_sum"][sl] = c.astype(np.float64).sum(1)
            if res.extra is not None:
                if extra_all is None:
                    extra_all = np.empty((n, res.extra.shape[1]), dtype=np.float64)
                extra_all[sl] = res.extra
    except NotCRModelError as exc:
        if weights is not None:
            raise DenovoError(f"{exc}: hypothetical contributions exist only for Contextual Regression models") from exc
        raise AttributionError(f"{exc}: weighted features exist only for Contextual Regression models") from exc
    return {**stats, "extra": extra_all, "max_abs_error": max_err}
