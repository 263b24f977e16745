"""k-mer count features and the k-mer ridge-regression baseline.

Counting is vectorised over uint8 codes (A=0 C=1 G=2 T=3 N=4): for a block of rows the
base-4 index of every k-mer window is built with ``k`` array operations, windows that
hold an ``N`` are dropped, and one ``np.bincount`` over ``row * 4**k + index`` gives the
whole block's count matrix. No Python loop runs per sequence.

``canonical=True`` (default) counts both strands: a k-mer and its reverse complement
share one column (the lexicographically smaller index), so a palindromic k-mer counts
twice per occurrence, as it occurs on both strands. ``canonical=False`` counts the given
(sense) strand only; promoters are oriented, so this keeps strand information.

Normalisation: per row and per k, counts are divided by the row's total count for that
k and multiplied by the number of columns, so an even composition gives values near 1
(an observed / uniform-expected ratio, independent of sequence length).
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

log = logging.getLogger(__name__)


def kmer_names(k: int, canonical: bool) -> list[str]:
    """Column names of :func:`kmer_counts` for one ``k``."""
    idx = np.arange(4**k)
    cols = canonical_columns(k) if canonical else idx
    digits = (cols[:, None] // 4 ** np.arange(k - 1, -1, -1)) % 4
    return ["".join("ACGT"[d] for d in row) for row in digits]


def revcomp_index(k: int) -> np.ndarray:
    """``(4**k,)`` int64: index of the reverse complement of each k-mer index."""
    idx = np.arange(4**k, dtype=np.int64)
    digits = (idx[:, None] // 4 ** np.arange(k - 1, -1, -1)) % 4  # (4^k, k), most significant first
    rc = (3 - digits)[:, ::-1]
    return (rc * 4 ** np.arange(k - 1, -1, -1)).sum(1)


def canonical_columns(k: int) -> np.ndarray:
    """Indices ``i`` with ``i <= revcomp(i)``: one column per canonical k-mer."""
    rc = revcomp_index(k)
    return np.flatnonzero(np.arange(4**k) <= rc)


def _block_counts(codes: np.ndarray, k: int) -> np.ndarray:
    """Raw sense-strand counts of a block: ``(b, L)`` uint8 -> ``(b, 4**k)`` int64."""
    b, length = codes.shape
    n_win = length - k + 1
    if n_win <= 0:
        return np.zeros((b, 4**k), dtype=np.int64)
    c = codes.astype(np.int64)
    bad = c > 3
    c[bad] = 0
    idx = np.zeros((b, n_win), dtype=np.int64)
    for j in range(k):
        idx = idx * 4 + c[:, j : j + n_win]
    # windows without N: prefix sums of the N indicator
    nbad = np.concatenate([np.zeros((b, 1), dtype=np.int64), np.cumsum(bad, axis=1)], axis=1)
    ok = (nbad[:, k:] - nbad[:, :n_win]) == 0
    flat = (np.arange(b, dtype=np.int64)[:, None] * 4**k + idx)[ok]
    return np.bincount(flat, minlength=b * 4**k).reshape(b, 4**k)


def kmer_counts(
    codes: np.ndarray,
    k: int,
    canonical: bool,
    normalise: bool = True,
    chunk: int = 512,
) -> sparse.csr_matrix:
    """k-mer features of sequences.

    Parameters
    ----------
    codes
        ``(N, L)`` uint8 codes (a memmap is read block by block).
    k
        k-mer length (1..8).
    canonical
        Merge each k-mer with its reverse complement (both strands).
    normalise
        Scale to observed / uniform-expected frequencies (see module docstring); else raw counts.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(N, n_cols)`` float32, ``n_cols = 4**k`` or the number of canonical k-mers.
    """
    codes = np.asarray(codes) if not isinstance(codes, np.memmap) else codes
    if codes.ndim != 2:
        raise ValueError(f"codes must be (N, L), got shape {codes.shape}")
    cols = canonical_columns(k) if canonical else None
    rc = revcomp_index(k)[cols] if canonical else None
    non_pal = (rc != cols) if canonical else None
    blocks = []
    for start in range(0, codes.shape[0], chunk):
        raw = _block_counts(np.asarray(codes[start : start + chunk]), k)
        if canonical:  # both strands: the reverse strand reads rc(c) wherever the forward reads c
            counts = raw[:, cols] + raw[:, rc]
            counts[:, non_pal] *= 2
        else:
            counts = raw
        counts = counts.astype(np.float32)
        if normalise:
            tot = counts.sum(1, keepdims=True)
            counts = counts / np.maximum(tot, 1.0) * counts.shape[1]
        blocks.append(sparse.csr_matrix(counts))
    if not blocks:
        n_cols = len(cols) if canonical else 4**k
        return sparse.csr_matrix((0, n_cols), dtype=np.float32)
    return sparse.vstack(blocks, format="csr")


def kmer_features(codes: np.ndarray, ks: tuple[int, ...] | list[int], canonical: bool) -> sparse.csr_matrix:
    """Normalised k-mer features for several ``k`` side by side: ``(N, sum n_cols)`` float32 CSR."""
    return sparse.hstack([kmer_counts(codes, int(k), canonical) for k in ks], format="csr")


@dataclass
class KmerRidge:
    """A fitted k-mer ridge model (what ``model.pkl`` holds).

    ``pipeline``: sklearn ``dense float32 -> StandardScaler -> Ridge(alpha)``;
    ``cv_mse``: leave-one-out MSE on the training rows of each tried alpha.
    """

    ks: list[int]
    canonical: bool
    length: int
    alpha: float
    pipeline: Any
    cv_mse: dict[float, float] = field(default_factory=dict)
    extra_features: list[str] = field(default_factory=list)

    def predict_codes(self, codes: np.ndarray, chunk: int = 2048) -> np.ndarray:
        """``(N, L)`` uint8 codes -> ``(N,)`` float32 predictions (block-wise)."""
        out = [
            self.pipeline.predict(kmer_features(np.asarray(codes[s : s + chunk]), self.ks, self.canonical))
            for s in range(0, len(codes), chunk)
        ]
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)


def dense_float32(x: Any) -> np.ndarray:
    """A (sparse) feature matrix as a dense float32 array (the ridge's first pipeline step)."""
    return np.asarray(x.toarray() if sparse.issparse(x) else x, dtype=np.float32)


BLOCK_ROWS = 4096  # rows densified at a time by the ridge fit


def _dense_blocks(x: Any):
    """Row blocks of ``x`` (sparse or dense), ``BLOCK_ROWS`` at a time, as ``(start, (rows, p) float64)``."""
    for s in range(0, x.shape[0], BLOCK_ROWS):
        yield s, dense_float32(x[s : s + BLOCK_ROWS]).astype(np.float64)


@dataclass
class RidgeDecomposition:
    """The alpha-independent part of :func:`ridge_loo_path`: ``Z'Z = V diag(e) V'`` and ``V'b``."""

    e: np.ndarray  # (p,) eigenvalues, clipped at 0
    v: np.ndarray  # (p, p) eigenvectors
    vb: np.ndarray  # (p,) V' Z'(y - ybar)
    ybar: float


def ridge_decomposition(x: Any, y: np.ndarray, scaler: Any) -> RidgeDecomposition:
    """One block-wise pass over ``x``: the standardised Gram matrix, its eigendecomposition and ``V'b``."""
    p = x.shape[1]
    ybar = float(y.mean())
    gram = np.zeros((p, p))
    b = np.zeros(p)
    for s, block in _dense_blocks(x):
        z = scaler.transform(block)
        gram += z.T @ z
        b += z.T @ (y[s : s + len(z)] - ybar)
    e, v = np.linalg.eigh(gram)
    return RidgeDecomposition(np.clip(e, 0.0, None), v, v.T @ b, ybar)


def ridge_loo_path(
    x: Any, y: np.ndarray, scaler: Any, alphas: list[float], dec: RidgeDecomposition | None = None
) -> tuple[dict[float, float], dict[float, np.ndarray]]:
    """Exact leave-one-out MSE and coefficients of ridge regression (unpenalised intercept) for every alpha.

    ``x`` ``(n, p)`` (sparse or dense) is standardised block by block by the fitted ``scaler``
    (mean ``m``, scale ``s``): ``Z = (x - m) / s``, whose columns sum to 0. With ``Z'Z = V diag(e) V'``,
    ``b = Z'(y - ybar)`` and ``d = 1 / (e + alpha)``, the coefficients are ``V (d * V'b)``, the fit
    ``yhat = ybar + Z coef``, the hat diagonal ``h = 1/n + (Z V)^2 d`` (the intercept adds 1/n), and the
    leave-one-out residual ``(y - yhat) / (1 - h)``. This is what scikit-learn's ``RidgeCV`` (GCV, SVD
    mode) computes, written out here because ``RidgeCV`` needs the dense ``(n, p)`` matrix and its
    SVD factors at once (5.9 GB for 49,000 x 2,728 k-mer features); here the working set is two
    ``(p, p)`` matrices and one ``(BLOCK_ROWS, p)`` block. ``dec`` (from :func:`ridge_decomposition`)
    is computed when not given; pass it to try more alphas without forming the Gram matrix again.
    Returns ``({alpha: LOO MSE}, {alpha: (p,) float64 coefficients})``.
    """
    n = x.shape[0]
    y = np.asarray(y, dtype=np.float64)
    dec = dec if dec is not None else ridge_decomposition(x, y, scaler)
    d = {a: 1.0 / (dec.e + a) for a in alphas}
    sse = dict.fromkeys(alphas, 0.0)
    for s, q in _projected_blocks(x, scaler, dec):
        q2 = q * q
        yc = y[s : s + len(q)]
        for a in alphas:
            sse[a] += float((_loo_residuals(q, q2, yc, n, dec, d[a]) ** 2).sum())
    return {a: sse[a] / n for a in alphas}, {a: dec.v @ (d[a] * dec.vb) for a in alphas}


def _projected_blocks(x: Any, scaler: Any, dec: RidgeDecomposition):
    """Row blocks of the standardised ``x`` in the eigenbasis: ``(start, Z V (rows, p))``."""
    for s, block in _dense_blocks(x):
        yield s, scaler.transform(block) @ dec.v


def _loo_residuals(
    q: np.ndarray, q2: np.ndarray, yc: np.ndarray, n: int, dec: RidgeDecomposition, d: np.ndarray
) -> np.ndarray:
    """Leave-one-out residuals ``(y - yhat) / (1 - h)`` of one block (``q = Z V``, ``d = 1 / (e + alpha)``)."""
    yhat = dec.ybar + q @ (d * dec.vb)
    h = 1.0 / n + q2 @ d
    return (yc - yhat) / (1.0 - h)


def _fit_ridge_loo(x: Any, y: np.ndarray, alphas: list[float] | tuple[float, ...], max_extend: int):
    """Standardise, decompose once, search the alpha grid: ``(scaler, dec, best, {alpha: mse}, {alpha: coef})``."""
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler()
    for _, block in _dense_blocks(x):
        scaler.partial_fit(block)
    dec = ridge_decomposition(x, y, scaler)  # alpha-independent: once for every grid extension
    grid = sorted(float(a) for a in alphas)
    scores: dict[float, float] = {}
    coefs: dict[float, np.ndarray] = {}
    for _ in range(max_extend + 1):
        todo = [a for a in grid if a not in scores]
        if todo:
            mse, coef = ridge_loo_path(x, y, scaler, todo, dec)
            scores.update(mse)
            coefs.update(coef)
            for a in todo:
                log.info("kmer ridge alpha=%g leave-one-out mse=%.4f", a, mse[a])
        best = min(scores, key=scores.get)
        lo, hi = min(scores), max(scores)
        if best == lo and best > 1e-8:
            grid = [best / 10]
        elif best == hi and best < 1e12:
            grid = [best * 10]
        else:
            break
    best = min(scores, key=scores.get)
    return scaler, dec, float(best), dict(sorted(scores.items())), coefs[best]


def _pipeline(x: Any, scaler: Any, alpha: float, coef: np.ndarray, intercept: float) -> Any:
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    ridge = Ridge(alpha=alpha)
    ridge.coef_, ridge.intercept_, ridge.n_features_in_ = coef, float(intercept), x.shape[1]
    to_dense = FunctionTransformer(dense_float32).fit(x[:1])
    return make_pipeline(to_dense, scaler, ridge)


def fit_kmer_ridge(
    x_train: sparse.csr_matrix, y_train: np.ndarray, alphas: list[float] | tuple[float, ...], max_extend: int = 6
) -> tuple[Any, float, dict[float, float]]:
    """``dense -> StandardScaler -> Ridge``, alpha chosen by leave-one-out cross-validation on the training rows.

    :func:`ridge_loo_path` gives the exact leave-one-out MSE of every alpha from one eigendecomposition
    of the standardised Gram matrix, formed block by block. When the best alpha is the smallest or
    the largest tried, the grid is extended by factors of 10 in that direction (at most
    ``max_extend`` times), so the penalty chosen is an interior minimum of the cross-validation
    curve, not an end of the list. The returned pipeline's ``Ridge`` holds the coefficients of that
    decomposition (identical to refitting ``Ridge(alpha)`` up to float rounding, without a dense copy
    of the training matrix). Returns ``(pipeline, best_alpha, {alpha: leave-one-out MSE})``.
    """
    y = np.asarray(y_train, dtype=np.float64)
    scaler, _, best, scores, coef = _fit_ridge_loo(x_train, y, alphas, max_extend)
    return _pipeline(x_train, scaler, best, coef, y.mean()), best, scores


def fit_kmer_prior(
    x_train: Any, y_train: np.ndarray, alphas: list[float] | tuple[float, ...], max_extend: int = 6
) -> tuple[Any, float, np.ndarray]:
    """:func:`fit_kmer_ridge` plus the exact leave-one-out predictions of the training rows at the chosen alpha.

    What a model stacked on the ridge must learn from on the training rows is ``y - loo``, not
    ``y - fit``: the in-sample fit has absorbed part of each row's own noise, the leave-one-out
    prediction has not, so it is what the ridge says about a row it has not seen (as on the
    validation and test rows). Returns ``(pipeline, alpha, loo (n,) float64)``.
    """
    y = np.asarray(y_train, dtype=np.float64)
    scaler, dec, best, _, coef = _fit_ridge_loo(x_train, y, alphas, max_extend)
    d = 1.0 / (dec.e + best)
    n = x_train.shape[0]
    loo = np.empty(n)
    for s, q in _projected_blocks(x_train, scaler, dec):
        yc = y[s : s + len(q)]
        loo[s : s + len(q)] = yc - _loo_residuals(q, q * q, yc, n, dec, d)
    return _pipeline(x_train, scaler, best, coef, y.mean()), best, loo


def kmer_tables(pipeline: Any, ks: list[int] | tuple[int, ...], canonical: bool) -> tuple[list[np.ndarray], float]:
    """A fitted k-mer ridge (features of :func:`kmer_features`, no extra features) as per-occurrence tables.

    The pipeline predicts ``c + sum_f (coef_f / scale_f) feat_f`` with ``c = intercept - sum_f coef_f
    mean_f / scale_f``. A feature of size ``k`` is ``n_f * ncols_k / n_k``, where ``n_f`` counts the
    sense-strand windows whose k-mer maps to column ``f`` (its canonical column when ``canonical``; each
    window adds 2 to its column and the total is ``2 n_k`` there, which cancels) and ``n_k`` is the
    number of windows without ``N``. So the prediction is ``c + sum_k sum_windows T_k[index] / n_k``
    with ``T_k[i] = coef_f(i) / scale_f(i) * ncols_k``: a sum over the windows of the sequence.
    Returns ``([T_k (4**k,) float64 per k], c)``.
    """
    scaler, ridge = pipeline[-2], pipeline[-1]
    eff = np.asarray(ridge.coef_, np.float64) / np.asarray(scaler.scale_, np.float64)
    const = float(ridge.intercept_) - float((eff * np.asarray(scaler.mean_, np.float64)).sum())
    tables, start = [], 0
    for k in ks:
        k = int(k)
        if canonical:
            cols = canonical_columns(k)
            pos = np.full(4**k, -1, dtype=np.int64)
            pos[cols] = np.arange(len(cols))
            rc = revcomp_index(k)
            column = np.where(pos >= 0, pos, pos[rc])  # every index -> its canonical column
        else:
            column = np.arange(4**k)
        ncols = int(column.max()) + 1
        tables.append(eff[start + column] * ncols)
        start += ncols
    if start != len(eff):
        raise ValueError(f"the ridge has {len(eff)} features, k-mer sizes {list(ks)} give {start}")
    return tables, const


def predict_rows(pipeline: Any, x: Any, chunk: int = 8192) -> np.ndarray:
    """``pipeline.predict`` on ``x`` block by block (never a dense copy of all rows): ``(N,)`` float32."""
    out = [pipeline.predict(x[s : s + chunk]) for s in range(0, x.shape[0], chunk)]
    return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)


def save_kmer_model(model: KmerRidge, path: str | Path) -> None:
    """Pickle ``model`` to ``path`` atomically."""
    from promoter_cr.atomic import atomic_path

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)


def load_kmer_model(path: str | Path) -> KmerRidge:
    """Load a pickled :class:`KmerRidge` (only load files you trust: pickle runs code)."""
    from promoter_cr.errors import InputDataError

    path = Path(path)
    if not path.exists():
        raise InputDataError(path, "model file not found")
    try:
        with open(path, "rb") as fh:
            obj = pickle.load(fh)
    except Exception as exc:  # noqa: BLE001
        raise InputDataError(path, f"not a readable k-mer model pickle ({exc})") from exc
    if not isinstance(obj, KmerRidge):
        raise InputDataError(path, f"not a promoter-cr k-mer model (found {type(obj).__name__})")
    return obj
