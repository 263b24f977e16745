"""The tests of the in-silico pair experiments (:mod:`promoter_cr.motifs.insilico`): arrays in, p-values out.

Every function takes interactions ``I = f(AB) - f(A) - f(B) + f(0)`` as an ``(n, K)`` array (``n``
backgrounds, the replicates; ``K`` spacings or orientation x spacing cells) and a float
``resolution`` below which differences are rounding, and returns float64 arrays. The design and
the reasons for each test are in :mod:`promoter_cr.motifs.insilico`'s docstring.
"""

from __future__ import annotations

import numpy as np

#: helical periods tested (bp); over a 30-50 bp segment finer steps are not resolved
PERIODS = (10.0, 10.5, 11.0)
#: fewest spacings in a segment (orientation x sign) for the periodicity test: two helical turns
MIN_SEGMENT_POINTS = 21
#: the periodicity test reads the profile beyond the first helical turn (bp between the sites)
PERIODIC_MIN_GAP = 10


def one_sided_t(x: np.ndarray, *, resolution: float, alternative: str) -> tuple[np.ndarray, np.ndarray]:
    """One-sample t-test over axis 0 of ``x (n, K)``: ``E x > 0`` (``"greater"``) or ``< 0``.

    The standard error is ``sqrt(var/n + resolution**2)`` (float rounding is no evidence);
    columns whose values are all within ``resolution`` of 0 get ``p = 1``. Returns
    ``(t, p)``, each ``(K,)`` float64; ``n < 2`` gives NaN.
    """
    from scipy.stats import t as t_dist

    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if n < 2:
        k = x.shape[1:]
        return np.full(k, np.nan), np.full(k, np.nan)
    mean = x.mean(0)
    se = np.sqrt(x.var(0, ddof=1) / n + resolution**2)
    t = mean / np.maximum(se, np.finfo(np.float64).tiny)
    if alternative == "greater":
        p = t_dist.sf(t, n - 1)
    elif alternative == "less":
        p = t_dist.cdf(t, n - 1)
    else:
        raise ValueError(f"alternative must be 'greater' or 'less' (got {alternative!r})")
    p = np.where((np.abs(x) <= resolution).all(0), 1.0, p)
    return t, p


def within_ranks(interaction: np.ndarray, *, resolution: float, margin: float) -> np.ndarray:
    """Normalised within-background ranks ``(n, K)`` of ``(n, K)`` interactions, in ``(0, 1)``.

    ``u_b(k) = (r - 0.5) / K`` where ``r`` is the mid-rank of ``I_b(k) - margin`` among the
    other ``K - 1`` values of background ``b`` (``margin = 0``: the ordinary mid-rank). Values
    are first rounded to multiples of ``resolution``, so differences below the float resolution
    are ties. A margin only lowers ranks, so the null of :func:`rank_test` stays valid.
    """
    x = np.asarray(interaction, dtype=np.float64)
    n, k = x.shape
    res = resolution if resolution > 0 else 1.0
    q = np.round(x / res)
    shift = q - margin / res
    srt = np.sort(q, axis=1)
    less = np.stack([np.searchsorted(srt[b], shift[b], side="left") for b in range(n)]) if n else q
    leq = np.stack([np.searchsorted(srt[b], shift[b], side="right") for b in range(n)]) if n else q
    eq = leq - less
    if margin <= 0:
        eq = eq - 1  # the value itself
    rank = less + 0.5 * eq + 1.0
    return (rank - 0.5) / k


def rank_test(interaction: np.ndarray, *, resolution: float, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Does each spacing stand out *above* the other spacings? ``(n, K)`` -> ``(rank, p)``, each ``(K,)``.

    ``rank``: the mean over backgrounds of the normalised within-background rank ``u_b(k)`` of
    ``I_b(k) - margin`` (:func:`within_ranks`; 0.5 typical, ~1 top in every background);
    ``p``: one-sided test of ``U(k) > 1/2``. Under exchangeable spacings each background's
    ordinary ``u_b(k)`` is uniform on ``{(i - 0.5)/K}`` (variance ``(K^2 - 1) / (12 K^2)``) and
    independent across backgrounds, so ``z = (U - 1/2) / sqrt(var / n)`` is standard normal by
    the CLT (bounded summands); ties and the margin only lower ``U`` or its variance, so the
    test stays conservative. Every value tied in every background gives ``p = 1``.
    """
    from scipy.stats import norm

    x = np.asarray(interaction, dtype=np.float64)
    n, k = x.shape
    if k < 2 or n < 1:
        return np.full(k, 0.5), np.ones(k)
    u = within_ranks(x, resolution=resolution, margin=margin)
    rank = u.mean(0)
    var = (k * k - 1) / (12.0 * k * k)
    p = norm.sf((rank - 0.5) / np.sqrt(var / n))
    q = np.round(x / resolution) if resolution > 0 else x
    if np.all(q == q[:, :1]):
        p = np.ones(k)
    return rank, p


def beyond_margin_t(interaction: np.ndarray, *, resolution: float, margin: float, alternative: str) -> np.ndarray:
    """``(K,)`` one-sided t p-values of ``E I > margin`` (``"greater"``) or ``E I < -margin`` (``"less"``).

    Columns whose values are all within ``resolution`` of 0 get ``p = 1``.
    """
    x = np.asarray(interaction, dtype=np.float64)
    shifted = x - margin if alternative == "greater" else x + margin
    _, p = one_sided_t(shifted, resolution=resolution, alternative=alternative)
    return np.where((np.abs(x) <= resolution).all(0), 1.0, p)


def spacing_pvalues(interaction: np.ndarray, *, resolution: float, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Preferred-spacing test of one orientation's ``(n, S)`` interactions -> ``(p, direction)``.

    A spacing is preferred *up* when its interaction stands out above the other spacings of the
    orientation (:func:`rank_test` of ``I``) **and** is itself cooperative (``E I > margin``,
    :func:`beyond_margin_t`); *down* when it stands out below them (rank test of ``-I``) and is
    itself antagonistic (``E I < -margin``: e.g. a repressive pair that represses more
    together). Each direction is an intersection-union test (``p = max`` of its two p-values,
    valid when either null holds); ``p = min(1, 2 min(p_up, p_down))`` (Bonferroni over the two
    directions). ``direction``: ``"up"`` or ``"down"``, whichever p is smaller.
    """
    x = np.asarray(interaction, dtype=np.float64)
    _, rank_up = rank_test(x, resolution=resolution, margin=margin)
    _, rank_down = rank_test(-x, resolution=resolution, margin=margin)
    t_up = beyond_margin_t(x, resolution=resolution, margin=margin, alternative="greater")
    t_down = beyond_margin_t(x, resolution=resolution, margin=margin, alternative="less")
    p_up, p_down = np.maximum(rank_up, t_up), np.maximum(rank_down, t_down)
    p = np.minimum(1.0, 2.0 * np.minimum(p_up, p_down))
    return p, np.where(p_up <= p_down, "up", "down")


def cooperativity_pvalue(interaction: np.ndarray, *, resolution: float, margin: float, alternative: str) -> float:
    """Is the pair non-additive anywhere? ``(n, K)`` interactions -> one p-value.

    Per column the one-sided t-test (:func:`beyond_margin_t`) that ``E I > margin``
    (``alternative="greater"``, cooperative) or ``E I < -margin`` (``"less"``, antagonistic);
    Bonferroni over the ``K`` columns (valid whatever their correlation).
    """
    p = beyond_margin_t(interaction, resolution=resolution, margin=margin, alternative=alternative)
    if not np.isfinite(p).any():
        return float("nan")
    return float(min(1.0, np.nanmin(p) * np.isfinite(p).sum()))


def _detrend(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Residuals of a least-squares line over the last axis: ``y (..., m)``, ``x (m,)``."""
    xc = x - x.mean()
    denom = float((xc**2).sum())
    yc = y - y.mean(-1, keepdims=True)
    if denom == 0:
        return yc
    slope = (yc * xc).sum(-1, keepdims=True) / denom
    return yc - slope * xc


def _helical_coefficients(y: np.ndarray, x: np.ndarray, period: float) -> np.ndarray:
    """Least-squares ``(cos, sin)`` coefficients ``(..., 2)`` of detrended ``y (..., m)`` at ``period``."""
    x = np.asarray(x, dtype=np.float64)
    basis = np.stack([np.cos(2 * np.pi * x / period), np.sin(2 * np.pi * x / period)], 1)  # (m, 2)
    basis = basis - basis.mean(0)
    xc = x - x.mean()
    if (xc**2).sum() > 0:  # the basis orthogonal to the line removed from y
        basis = basis - np.outer(xc, xc @ basis) / (xc**2).sum()
    coef, *_ = np.linalg.lstsq(basis, _detrend(y, x).reshape(-1, x.size).T, rcond=None)  # (2, prod(...))
    return coef.T.reshape(*y.shape[:-1], 2)


def hotelling_p(c: np.ndarray) -> float:
    """p-value of Hotelling's one-sample T^2 that the mean of ``(n, 2)`` vectors is 0 (F(2, n-2))."""
    from scipy.stats import f as f_dist

    n = c.shape[0]
    if n < 3:
        return float("nan")
    mu = c.mean(0)
    cov = np.cov(c, rowvar=False)
    if not np.all(np.isfinite(cov)) or np.linalg.det(cov) <= 1e-300 * max(1.0, float(np.abs(cov).max())) ** 2:
        return 1.0
    t2 = n * float(mu @ np.linalg.solve(cov, mu))
    return float(f_dist.sf(t2 * (n - 2) / (2 * (n - 1)), 2, n - 2))


def periodicity_test(
    interaction: np.ndarray, spacings: np.ndarray, gaps: np.ndarray, *, spacing_step: int, orientations: np.ndarray
) -> dict[str, float]:
    """Helical-periodicity test of one pair: ``interaction (n, 4, S)``, ``spacings``/``gaps (S,)``;
    ``orientations (4,)`` bool: the orientations tested (one per class of a palindromic motif).

    Segments: orientation x sign of the spacing, beyond the first helical turn
    (``gap >= PERIODIC_MIN_GAP``: closer sites couple directly, through the network's local
    features, in ways that are not sinusoidal), each with at least :data:`MIN_SEGMENT_POINTS`
    spacings. Per background and segment the interactions are ranked (mid-ranks: bounded
    leverage, heavy tails do not matter) and linearly detrended; the spacings at the highest and
    the lowest mean rank (+-1 bp) are left out (one preferred or avoided spacing is not
    phasing); the ``(cos, sin)`` coefficients at each of :data:`PERIODS` are fitted by least
    squares; Hotelling's ``T^2`` across backgrounds (independent) tests that their mean is 0,
    i.e. that a helical modulation is reproducible across backgrounds. Valid whatever the
    autocorrelation of the profile (the covariance is estimated across backgrounds). p:
    Bonferroni over segments x periods. Returns ``best_period``, ``periodicity_amplitude``
    (amplitude of that sinusoid in the mean interaction profile of the best segment, prediction
    units) and ``periodicity_p``; NaN when untestable (``spacing_step > 4``, no long enough
    segment, fewer than 3 backgrounds).
    """
    from scipy.stats import rankdata

    nan = {"best_period": np.nan, "periodicity_amplitude": np.nan, "periodicity_p": np.nan}
    n = interaction.shape[0]
    if spacing_step > 4 or n < 3:
        return nan
    sign = np.sign(spacings)
    best = (np.inf, np.nan, np.nan)
    n_tests = 0
    for o in np.flatnonzero(np.asarray(orientations, dtype=bool)):
        for sg in (-1, 1):
            use = (sign == sg) & (np.asarray(gaps) >= PERIODIC_MIN_GAP)
            if use.sum() < MIN_SEGMENT_POINTS:
                continue
            x = spacings[use]
            y = interaction[:, o, use]
            ranks = rankdata(y, axis=1, method="average") / use.sum()
            mean_rank = ranks.mean(0)
            keep = (np.abs(x - x[int(np.argmax(mean_rank))]) > 1) & (np.abs(x - x[int(np.argmin(mean_rank))]) > 1)
            x, y, ranks = x[keep], y[:, keep], ranks[:, keep]
            for period in PERIODS:
                n_tests += 1
                p = hotelling_p(_helical_coefficients(ranks, x, period))
                if np.isfinite(p) and p < best[0]:
                    amp = float(np.hypot(*_helical_coefficients(y.mean(0), x, period)))
                    best = (p, float(period), amp)
    if n_tests == 0 or not np.isfinite(best[0]):
        return nan
    return {
        "best_period": best[1],
        "periodicity_amplitude": best[2],
        "periodicity_p": float(min(1.0, best[0] * n_tests)),
    }
