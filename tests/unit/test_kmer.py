"""k-mer counting on hand examples and the ridge baseline."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from promoter_cr.models.kmer import (
    canonical_columns,
    fit_kmer_ridge,
    kmer_counts,
    kmer_features,
    kmer_names,
    revcomp_index,
)
from promoter_cr.seq.encoding import encode


def _codes(*seqs: str) -> np.ndarray:
    return np.stack([encode(s) for s in seqs])


def test_raw_counts_hand_example():
    # AACGT: 2-mers AA, AC, CG, GT
    x = kmer_counts(_codes("AACGT"), 2, canonical=False, normalise=False).toarray()
    names = kmer_names(2, canonical=False)
    got = {names[i]: int(v) for i, v in enumerate(x[0]) if v}
    assert got == {"AA": 1, "AC": 1, "CG": 1, "GT": 1}


def test_windows_with_n_are_skipped():
    x = kmer_counts(_codes("ACNGT", "AAAAA"), 2, canonical=False, normalise=False).toarray()
    names = kmer_names(2, canonical=False)
    assert {names[i]: int(v) for i, v in enumerate(x[0]) if v} == {"AC": 1, "GT": 1}
    assert x[1, names.index("AA")] == 4


def test_canonical_counts_both_strands():
    # ACG (rc CGT) and AAC (rc GTT): 3-mers of AACGT are AAC, ACG, CGT
    x = kmer_counts(_codes("AACGT"), 3, canonical=True, normalise=False).toarray()
    names = kmer_names(3, canonical=True)
    got = {names[i]: int(v) for i, v in enumerate(x[0]) if v}
    # forward strand AAC ACG CGT, reverse strand (ACGTT) ACG CGT GTT; {AAC,GTT} -> AAC, {ACG,CGT} -> ACG
    assert got == {"AAC": 2, "ACG": 4}
    assert len(names) == 32  # 64 3-mers, no palindromes for odd k


def test_revcomp_and_canonical_columns():
    rc = revcomp_index(2)
    names = kmer_names(2, canonical=False)
    assert names[rc[names.index("AC")]] == "GT"
    assert names[rc[names.index("CG")]] == "CG"  # palindrome
    assert len(canonical_columns(2)) == 10  # (16 + 4 palindromes) / 2


def test_normalised_is_length_independent():
    short = kmer_counts(_codes("ACGT" * 5), 2, canonical=False).toarray()
    long = kmer_counts(_codes("ACGT" * 50), 2, canonical=False).toarray()
    np.testing.assert_allclose(short[0] > 0, long[0] > 0)
    assert short.sum() == pytest.approx(16) and long.sum() == pytest.approx(16)


def test_chunking_gives_same_result():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, size=(37, 60)).astype(np.uint8)
    a = kmer_counts(codes, 4, canonical=True, chunk=5).toarray()
    b = kmer_counts(codes, 4, canonical=True, chunk=1000).toarray()
    np.testing.assert_array_equal(a, b)
    assert kmer_features(codes, [2, 3], canonical=True).shape == (37, 10 + 32)


def test_ridge_learns_kmer_signal():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 4, size=(300, 100)).astype(np.uint8)
    y = kmer_counts(codes, 3, canonical=False, normalise=False).toarray()[:, 5] + rng.normal(0, 0.1, 300)
    x = kmer_features(codes, [3], canonical=False)
    pipe, alpha, scores = fit_kmer_ridge(x[:200], y[:200], [0.1, 10.0, 1e5])
    assert {0.1, 10.0, 1e5} <= set(scores) and alpha in scores
    r = np.corrcoef(pipe.predict(x[200:]), y[200:])[0, 1]
    assert r > 0.9


def test_ridge_penalty_is_an_interior_minimum_of_the_cv_curve():
    """The grid is extended past its ends until the leave-one-out minimum is inside it."""
    rng = np.random.default_rng(2)
    codes = rng.integers(0, 4, size=(300, 60)).astype(np.uint8)
    x = kmer_features(codes, [3], canonical=False)
    counts = kmer_counts(codes, 3, canonical=False, normalise=False).toarray()
    y = counts[:, 3] + 0.5 * counts[:, 7] + rng.normal(0, 1.0, 300)
    for grid in ([1e5, 1e6], [1e-4, 1e-3]):
        _, alpha, scores = fit_kmer_ridge(x, y, grid)
        assert min(scores) < alpha < max(scores), (alpha, sorted(scores))
        assert scores[alpha] == min(scores.values())


def test_blockwise_leave_one_out_equals_sklearn_ridgecv_and_ridge(monkeypatch):
    """The chunked eigen path gives scikit-learn's exact LOO MSE per alpha and Ridge's coefficients
    (blocks smaller than the rows, a constant column, sparse input)."""
    from scipy import sparse
    from sklearn.linear_model import Ridge, RidgeCV
    from sklearn.preprocessing import StandardScaler

    from promoter_cr.models import kmer
    from promoter_cr.models.kmer import predict_rows, ridge_loo_path

    monkeypatch.setattr(kmer, "BLOCK_ROWS", 64)  # several blocks and a short last one
    rng = np.random.default_rng(0)
    x = rng.poisson(1.0, size=(300, 12)).astype(np.float64)
    x[:, 3] = 2.0  # zero variance: StandardScaler keeps scale 1
    y = x[:, 0] - 0.5 * x[:, 5] + rng.normal(0, 1, 300)
    alphas = [0.1, 10.0, 1000.0]
    scaler = StandardScaler().fit(x)
    mse, coef = ridge_loo_path(sparse.csr_matrix(x), y, scaler, alphas)
    z = scaler.transform(x)
    ref = RidgeCV(alphas=alphas, gcv_mode="svd", store_cv_results=True).fit(z, y)
    np.testing.assert_allclose([mse[a] for a in alphas], np.asarray(ref.cv_results_).mean(axis=0), rtol=1e-8)
    for a in alphas:
        np.testing.assert_allclose(coef[a], Ridge(alpha=a).fit(z, y).coef_, rtol=1e-7, atol=1e-10)
    pipe, best, _ = fit_kmer_ridge(sparse.csr_matrix(x), y, alphas)
    np.testing.assert_allclose(predict_rows(pipe, sparse.csr_matrix(x), chunk=50),
                               Ridge(alpha=best).fit(z, y).predict(z), rtol=1e-5, atol=1e-5)  # fmt: skip


def test_prior_leave_one_out_predictions_equal_refits_without_the_row():
    """fit_kmer_prior's leave-one-out predictions: a ridge refitted without row i (same standardisation)."""
    from sklearn.linear_model import Ridge

    from promoter_cr.models.kmer import fit_kmer_prior

    rng = np.random.default_rng(3)
    codes = rng.integers(0, 4, (120, 40)).astype(np.uint8)
    y = (codes == 1).mean(1) * 4 + rng.normal(0, 0.2, 120)
    x = kmer_features(codes, [2, 3], True)
    pipe, alpha, loo = fit_kmer_prior(x, y, [0.1, 1.0, 10.0])
    z = pipe[-2].transform(x.toarray().astype(np.float64))
    for i in (0, 17, 119):
        keep = np.arange(120) != i
        refit = Ridge(alpha=alpha).fit(z[keep], y[keep])
        assert loo[i] == pytest.approx(refit.predict(z[i : i + 1])[0], abs=1e-6)  # z is float32
    # the leave-one-out predictions are worse than the in-sample fit, as they must be
    fit = pipe.predict(x)
    assert ((y - loo) ** 2).mean() > ((y - fit) ** 2).mean()


@pytest.mark.parametrize("canonical", [True, False])
def test_kmer_tables_reproduce_the_pipeline_window_by_window(canonical):
    """const + sum over N-free windows of T_k[index] / n_k == pipeline.predict (rows with N included)."""
    from promoter_cr.models.kmer import _block_counts, fit_kmer_prior, kmer_tables

    rng = np.random.default_rng(4)
    codes = rng.integers(0, 4, (80, 30)).astype(np.uint8)
    codes[:10, :6] = 4
    codes[10:15, 12] = 4
    y = rng.normal(size=80)
    ks = [1, 3]
    x = sparse.hstack([kmer_counts(codes, k, canonical) for k in ks], format="csr")
    pipe, _, _ = fit_kmer_prior(x, y, [1.0, 10.0])
    tables, const = kmer_tables(pipe, ks, canonical)
    total = np.full(len(codes), const)
    for k, table in zip(ks, tables, strict=True):
        raw = _block_counts(codes, k)  # (N, 4**k) sense-strand window counts
        total += (raw * table).sum(1) / np.maximum(raw.sum(1), 1)
    np.testing.assert_allclose(total, pipe.predict(x), rtol=0, atol=1e-9)
