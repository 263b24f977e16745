"""k-means clustering of genes on their weighted-feature tracks.

Representation of each ``(L,)`` track (computed in row chunks from the memmap, so a
float64 copy of all tracks is never held):

1. optionally split into its positive and negative parts (``split_sign``: activating and
   repressive contributions are kept apart, so they cannot cancel in a bin);
2. moving average over ``smoothing`` bp (zero outside the window);
3. mean per bin of ``bin_size`` bp (the last bin averages the positions it has);
4. ``transform: asinh`` (default): ``asinh(f / s)`` with ``s`` the 75th percentile of
   ``|f|`` over all genes and features. This compresses large contributions (a gene with
   a strong site and one with a weak site at the same place end up close) while small
   values stay linear; on the simulated set it roughly doubles the agreement of k-means
   with the planted classes over raw bin means (k-means on raw values splits genes by
   contribution magnitude rather than by where the contributions are);
5. optionally z-score each feature column (``standardize``).

k-means (scikit-learn, ``random_state=seed``, ``n_init``) runs with a fixed ``k`` or for
every ``k`` in ``k_range``, choosing by ``k_criterion`` (silhouette by default;
Calinski-Harabasz and Davies-Bouldin are recorded too). Measured on the default
simulated set (4 planted classes) with a small CR model (val r 0.82): silhouette 0.223
at k = 3 against 0.220 at k = 4 (ARI 0.54 and 0.73); Calinski-Harabasz, Davies-Bouldin,
subsample stability and the gap statistic did not pick 4 either, because that model
gives the cooperative pair about half its true effect, so those genes sit between the
basal and activated ones. Set ``cluster.k`` when the number of groups is known. Clusters are renumbered
``0..k-1`` by increasing mean expression (ties: size, then the k-means index), so labels
are stable across runs.

Outputs (``out_dir``): assignments.tsv (gene_id, cluster, label, split[, sim_class]),
centroids.npy ``(k, D)`` (in the clustered feature space), cluster_profiles.npy
``(k, L)`` (mean raw track per cluster), k_selection.tsv (k, silhouette, inertia,
calinski_harabasz, davies_bouldin), cluster_stats.tsv, pairwise_tests.tsv (Mann-Whitney
U per pair of clusters, BH FDR), summary.json.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.atomic import atomic_path, write_json, write_tsv
from promoter_cr.chunks import chunk_rows_for, iter_chunks
from promoter_cr.errors import InputDataError, PromoterCRError
from promoter_cr.interpret.attribute import load_attributions
from promoter_cr.layout import AttributionFiles, ClusterFiles, DataFiles

log = logging.getLogger(__name__)

CRITERIA = ("silhouette", "calinski_harabasz", "davies_bouldin")


class ClusterError(PromoterCRError):
    """Clustering that cannot give a valid answer (k larger than the number of genes, an empty cluster)."""


# ----------------------------------------------------------------------------- representation
def n_features(length: int, bin_size: int, split_sign: bool) -> int:
    """Feature dimension ``D`` for tracks of ``length`` bp."""
    return math.ceil(length / bin_size) * (2 if split_sign else 1)


def _smooth_bin(x: np.ndarray, smoothing: int, bin_size: int) -> np.ndarray:
    """``(b, L)`` float64 -> ``(b, ceil(L / bin_size))`` float64: moving average then bin means."""
    from scipy.ndimage import uniform_filter1d

    if smoothing > 1:
        x = uniform_filter1d(x, size=smoothing, axis=1, mode="constant", cval=0.0)
    b, length = x.shape
    nb = math.ceil(length / bin_size)
    pad = nb * bin_size - length
    if pad:
        x = np.concatenate([x, np.zeros((b, pad))], axis=1)
    sums = x.reshape(b, nb, bin_size).sum(2)
    counts = np.full(nb, bin_size, dtype=np.float64)
    counts[-1] = bin_size - pad
    return sums / counts


def represent(
    tracks: np.ndarray,
    *,
    smoothing: int,
    bin_size: int,
    split_sign: bool,
    gene_ids: np.ndarray | None = None,
    path: str | Path | None = None,
    chunk_rows: int | None = None,
) -> np.ndarray:
    """Smoothed, binned (optionally sign-split) representation of each track.

    Parameters
    ----------
    tracks
        ``(n, L)`` float16/float32 weighted features (a memmap is read chunk by chunk).
    gene_ids, path
        Used to name the gene and file of a non-finite track in the error.

    Returns
    -------
    np.ndarray
        ``(n, D)`` float32, ``D = ceil(L / bin_size) * (2 if split_sign else 1)``; with
        ``split_sign`` the positive-part bins come first, then the negative-part bins
        (values <= 0).

    Raises
    ------
    InputDataError
        If a track holds NaN or infinite values (names the gene).
    """
    if smoothing < 1 or bin_size < 1:
        raise ValueError(f"smoothing and bin_size must be >= 1 (got {smoothing}, {bin_size})")
    n, length = tracks.shape
    if bin_size > length:
        log.warning(
            "cluster.bin_size %d is larger than the %d bp window: every track becomes one number (its mean)",
            bin_size,
            length,
        )
    out = np.empty((n, n_features(length, bin_size, split_sign)), dtype=np.float32)
    chunk_rows = chunk_rows or chunk_rows_for(length, budget_mb=128)
    for s in iter_chunks(n, chunk_rows):
        x = np.asarray(tracks[s], dtype=np.float64)
        finite = np.isfinite(x).all(1)
        if not finite.all():
            i = s.start + int(np.flatnonzero(~finite)[0])
            rec = f"gene {gene_ids[i]}" if gene_ids is not None else f"row {i}"
            raise InputDataError(path, "weighted-feature track holds NaN or infinite values", record=rec)
        if split_sign:
            out[s] = np.concatenate(
                [
                    _smooth_bin(np.maximum(x, 0), smoothing, bin_size),
                    _smooth_bin(np.minimum(x, 0), smoothing, bin_size),
                ],
                axis=1,
            )
        else:
            out[s] = _smooth_bin(x, smoothing, bin_size)
    return out


TRANSFORMS = ("none", "asinh")
ASINH_QUANTILE = 0.75


def transform_features(features: np.ndarray, transform: str) -> tuple[np.ndarray, float]:
    """Apply ``transform`` to ``(n, D)`` features; returns (float32 features, scale used or 1.0).

    ``asinh``: ``asinh(f / s)``, ``s`` = the ``ASINH_QUANTILE`` quantile of ``|f|`` (1.0 when 0).
    """
    if transform not in TRANSFORMS:
        raise ValueError(f"cluster transform must be one of {TRANSFORMS}, got {transform!r}")
    if transform == "none":
        return features, 1.0
    scale = float(np.quantile(np.abs(features), ASINH_QUANTILE)) if features.size else 1.0
    if not scale > 0:
        scale = 1.0
    return np.arcsinh(features / scale).astype(np.float32), scale


def standardize_columns(features: np.ndarray) -> np.ndarray:
    """Z-score each column of ``(n, D)`` features (constant columns become 0); float32."""
    mu = features.mean(0, dtype=np.float64)
    sd = features.std(0, dtype=np.float64)
    sd[sd == 0] = 1.0
    return ((features - mu) / sd).astype(np.float32)


# ----------------------------------------------------------------------------- k-means
def fit_kmeans(features: np.ndarray, k: int, *, seed: int, n_init: int) -> tuple[np.ndarray, np.ndarray, float]:
    """k-means on ``(n, D)`` features: ``(labels (n,) int64, centroids (k, D) float64, inertia)``.

    Raises
    ------
    ClusterError
        When ``k`` exceeds the number of genes, or a cluster ends up empty (e.g. fewer
        distinct tracks than ``k``).
    """
    import warnings

    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    n = len(features)
    if k < 1:
        raise ClusterError(f"k must be >= 1, got k = {k}")
    if k > n:
        raise ClusterError(f"cannot make k = {k} clusters from N = {n} genes (k must be <= N)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # duplicate points: detected below as empty clusters
        km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(features)
    labels = km.labels_.astype(np.int64)
    sizes = np.bincount(labels, minlength=k)
    if (sizes == 0).any():
        empty = np.flatnonzero(sizes == 0).tolist()
        n_distinct = len(np.unique(features, axis=0))
        raise ClusterError(
            f"k-means with k = {k} left {len(empty)} cluster(s) empty (N = {n} genes, {n_distinct} distinct tracks);"
            " choose a smaller k or check for identical / all-zero tracks"
        )
    return labels, km.cluster_centers_.astype(np.float64), float(km.inertia_)


def score_partition(
    features: np.ndarray, labels: np.ndarray, *, seed: int, silhouette_sample: int | None
) -> dict[str, float]:
    """Silhouette (on a seeded sample of at most ``silhouette_sample`` genes), Calinski-Harabasz, Davies-Bouldin."""
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    k = len(np.unique(labels))
    if k < 2 or k >= len(labels):
        return {"silhouette": np.nan, "calinski_harabasz": np.nan, "davies_bouldin": np.nan}
    sample = silhouette_sample if silhouette_sample and silhouette_sample < len(labels) else None
    return {
        "silhouette": float(silhouette_score(features, labels, sample_size=sample, random_state=seed)),
        "calinski_harabasz": float(calinski_harabasz_score(features, labels)),
        "davies_bouldin": float(davies_bouldin_score(features, labels)),
    }


def select_k(
    features: np.ndarray,
    k_range: tuple[int, int] | list[int],
    *,
    seed: int,
    n_init: int,
    criterion: str,
    silhouette_sample: int | None,
) -> tuple[int, pd.DataFrame, dict[int, tuple[np.ndarray, np.ndarray, float]]]:
    """Fit k-means for every k in ``k_range`` (inclusive, capped at N - 1) and pick one.

    ``criterion``: ``silhouette`` (max), ``calinski_harabasz`` (max) or ``davies_bouldin`` (min);
    ties go to the smaller k. Returns the chosen k, the table (k, silhouette, inertia,
    calinski_harabasz, davies_bouldin) and the fits by k.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"k criterion must be one of {CRITERIA}, got {criterion!r}")
    n = len(features)
    lo, hi = int(k_range[0]), int(k_range[1])
    if hi < lo:
        raise ClusterError(f"k_range upper bound {hi} is below lower bound {lo}")
    hi_eff = min(hi, n - 1)
    if hi_eff < hi:
        log.warning(
            "cluster.k_range [%d, %d] reaches beyond the %d genes: k is chosen in [%d, %d]", lo, hi, n, lo, hi_eff
        )
    if lo > hi_eff:
        raise ClusterError(
            f"cannot choose k in [{lo}, {hi}] from N = {n} genes (need at least k + 1 genes for a silhouette)"
        )
    rows, fits = [], {}
    for k in range(lo, hi_eff + 1):
        labels, centroids, inertia = fit_kmeans(features, k, seed=seed, n_init=n_init)
        fits[k] = (labels, centroids, inertia)
        rows.append(
            {
                "k": k,
                **score_partition(features, labels, seed=seed, silhouette_sample=silhouette_sample),
                "inertia": inertia,
            }
        )
        log.info(
            "k = %d: silhouette %.4f, Calinski-Harabasz %.1f", k, rows[-1]["silhouette"], rows[-1]["calinski_harabasz"]
        )
    table = pd.DataFrame(rows, columns=["k", "silhouette", "inertia", "calinski_harabasz", "davies_bouldin"])
    score = table[criterion].to_numpy()
    if criterion == "davies_bouldin":
        score = -score
    if not np.isfinite(score).any():
        raise ClusterError(f"no k in [{lo}, {hi_eff}] gave a finite {criterion} score")
    best = int(table["k"].iloc[int(np.nanargmax(score))])
    return best, table, fits


def order_clusters(labels: np.ndarray, expression: np.ndarray, k: int) -> np.ndarray:
    """Permutation ``new_of_old`` (k,) ranking clusters by mean expression, then size, then index."""
    sizes = np.bincount(labels, minlength=k)
    means = np.bincount(labels, weights=expression, minlength=k) / np.maximum(sizes, 1)
    order = np.lexsort((np.arange(k), sizes, means))  # old ids by increasing mean
    new_of_old = np.empty(k, dtype=np.int64)
    new_of_old[order] = np.arange(k)
    return new_of_old


def cluster_profiles(tracks: np.ndarray, labels: np.ndarray, k: int, chunk_rows: int | None = None) -> np.ndarray:
    """``(k, L)`` float32 mean raw track per cluster, accumulated over row chunks."""
    n, length = tracks.shape
    sums = np.zeros((k, length), dtype=np.float64)
    chunk_rows = chunk_rows or chunk_rows_for(length, budget_mb=128)
    for s in iter_chunks(n, chunk_rows):
        onehot = np.zeros((s.stop - s.start, k))
        onehot[np.arange(s.stop - s.start), labels[s]] = 1.0
        sums += onehot.T @ np.asarray(tracks[s], dtype=np.float64)
    return (sums / np.maximum(np.bincount(labels, minlength=k), 1)[:, None]).astype(np.float32)


# ----------------------------------------------------------------------------- statistics
def expression_tests(
    labels: np.ndarray, expression: np.ndarray, k: int
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Per-cluster expression summary, pairwise Mann-Whitney U tests (BH FDR), Kruskal-Wallis.

    *Descriptive, not discoveries*: the clusters come from weighted-feature tracks whose sum is
    the model's prediction of this very expression, so expression differs between clusters by
    construction (cross-fitted tracks remove the fit to a gene's own label, not this). The
    p-values describe how strongly the clusters separate expression; the effect size
    ``epsilon_squared`` (``H / (n - 1)``, the share of expression ranks the clusters explain) is
    the number to compare.

    Returns (cluster_stats, pairwise_tests, {"kruskal_H", "kruskal_p", "epsilon_squared"}).
    """
    from scipy.stats import false_discovery_control, kruskal, mannwhitneyu

    groups = [expression[labels == c] for c in range(k)]
    stats = pd.DataFrame(
        {
            "cluster": np.arange(k),
            "size": [len(g) for g in groups],
            "expression_mean": [g.mean() for g in groups],
            "expression_median": [np.median(g) for g in groups],
            "expression_sd": [g.std(ddof=1) if len(g) > 1 else np.nan for g in groups],
        }
    )
    kw = {"kruskal_H": np.nan, "kruskal_p": np.nan, "epsilon_squared": np.nan}
    if k >= 2 and len(np.unique(expression)) > 1:
        res = kruskal(*groups)
        n = len(expression)
        kw = {"kruskal_H": float(res.statistic), "kruskal_p": float(res.pvalue),
              "epsilon_squared": float(res.statistic / (n - 1)) if n > 1 else np.nan}  # fmt: skip
    rows = []
    for a in range(k):
        for b in range(a + 1, k):
            ga, gb = groups[a], groups[b]
            u, p = mannwhitneyu(ga, gb, alternative="two-sided")
            rows.append(
                {
                    "cluster_a": a,
                    "cluster_b": b,
                    "n_a": len(ga),
                    "n_b": len(gb),
                    "median_a": float(np.median(ga)),
                    "median_b": float(np.median(gb)),
                    "U": float(u),
                    "effect_size": float(u / (len(ga) * len(gb))),
                    "p": float(p),
                }
            )
    pairs = pd.DataFrame(
        rows, columns=["cluster_a", "cluster_b", "n_a", "n_b", "median_a", "median_b", "U", "effect_size", "p"]
    )
    pairs["q"] = false_discovery_control(pairs["p"].to_numpy(), method="bh") if len(pairs) else []
    return stats, pairs, kw


# ----------------------------------------------------------------------------- driver
def _cluster_features(
    tracks: np.ndarray, cfg: dict[str, Any], *, gene_ids: np.ndarray | None, path: str | Path | None
) -> tuple[np.ndarray, float]:
    """``(n, L)`` tracks -> the clustered ``(n, D)`` features (represented, transformed, optionally
    standardised) and the transform's scale."""
    feats = represent(
        tracks,
        smoothing=cfg["smoothing"],
        bin_size=cfg["bin_size"],
        split_sign=cfg["split_sign"],
        gene_ids=gene_ids,
        path=path,
    )
    feats, scale = transform_features(feats, cfg["transform"])
    if cfg["standardize"]:
        feats = standardize_columns(feats)
    return feats, scale


def _fit_fixed_k(
    feats: np.ndarray, k: int, *, seed: int, n_init: int, silhouette_sample: int | None
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """k-means with a given ``k`` on ``(n, D)`` features: ``(n,)`` labels, ``(k, D)`` centroids and
    the one-row k-selection table of that partition."""
    labels, centroids, inertia = fit_kmeans(feats, k, seed=seed, n_init=n_init)
    table = pd.DataFrame(
        [
            {
                "k": k,
                **score_partition(feats, labels, seed=seed, silhouette_sample=silhouette_sample),
                "inertia": inertia,
            }
        ],
        columns=["k", "silhouette", "inertia", "calinski_harabasz", "davies_bouldin"],
    )
    return labels, centroids, table


def cluster_tracks(
    tracks: np.ndarray,
    expression: np.ndarray,
    cfg: dict[str, Any],
    *,
    gene_ids: np.ndarray | None = None,
    path: str | Path | None = None,
) -> dict[str, Any]:
    """Represent, cluster and order: the in-memory core of :func:`cluster_genes`.

    Parameters
    ----------
    tracks
        ``(n, L)`` weighted features (memmap ok).
    expression
        ``(n,)`` labels, used to order the clusters.
    cfg
        The validated ``cluster`` section (k, k_range, k_criterion, silhouette_sample, smoothing,
        bin_size, split_sign, transform, standardize, n_init, seed).

    Returns
    -------
    dict
        ``labels`` (n,) int64 in 0..k-1 ordered by mean expression, ``centroids`` (k, D),
        ``features`` (n, D) float32, ``k``, ``chosen_by``, ``k_selection`` (DataFrame), ``scores``
        of the final partition, ``transform_scale``.
    """
    k, seed, n_init = cfg["k"], int(cfg["seed"]), int(cfg["n_init"])
    n = len(tracks)
    if k is not None and k > n:
        raise ClusterError(f"cannot make k = {k} clusters from N = {n} genes (k must be <= N)")
    feats, scale = _cluster_features(tracks, cfg, gene_ids=gene_ids, path=path)
    if k is None:
        k, table, fits = select_k(
            feats,
            cfg["k_range"],
            seed=seed,
            n_init=n_init,
            criterion=cfg["k_criterion"],
            silhouette_sample=cfg["silhouette_sample"],
        )
        labels, centroids, inertia = fits[k]
        chosen_by = cfg["k_criterion"]
    else:
        labels, centroids, table = _fit_fixed_k(
            feats, k, seed=seed, n_init=n_init, silhouette_sample=cfg["silhouette_sample"]
        )
        chosen_by = "fixed"
    new_of_old = order_clusters(labels, np.asarray(expression, dtype=np.float64), k)
    labels = new_of_old[labels]
    centroids_sorted = np.empty_like(centroids)
    centroids_sorted[new_of_old] = centroids
    scores = table.loc[table["k"] == k].iloc[0].to_dict()
    return {
        "labels": labels,
        "centroids": centroids_sorted,
        "features": feats,
        "k": int(k),
        "chosen_by": chosen_by,
        "k_selection": table,
        "scores": scores,
        "transform_scale": scale,
    }


def simulated_classes(data_dir: str | Path | None, gene_ids: np.ndarray) -> np.ndarray | None:
    """The planted class (``sim_class`` of genes.tsv) of each gene, or ``None`` for real data."""
    if data_dir is None or not DataFiles(data_dir).genes.exists():
        return None
    path = DataFiles(data_dir).genes
    genes = pd.read_csv(path, sep="\t", dtype={"gene_id": str}, keep_default_na=False, na_values=[""])
    if "sim_class" not in genes.columns:
        return None
    sim = pd.Series(genes["sim_class"].to_numpy(), index=genes["gene_id"].astype(str)).reindex(gene_ids)
    if sim.isna().any():
        raise InputDataError(path, "gene has no sim_class", record=f"gene {sim.index[sim.isna().to_numpy()][0]}")
    return sim.to_numpy()


def cluster_genes(
    attr_dir: str | Path, data_dir: str | Path | None, out_dir: str | Path, cfg: dict[str, Any]
) -> dict[str, Any]:
    """Cluster the exported weighted features and write the cluster tables.

    Parameters
    ----------
    attr_dir
        Folder with the weighted features and attributions table.
    data_dir
        The data set folder (for ``sim_class`` in genes.tsv); may be ``None``.
    cfg
        The validated ``cluster`` config section.

    Returns
    -------
    dict
        The summary written to summary.json.
    """
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    out = ClusterFiles(out_dir)
    wf, table = load_attributions(attr_dir)
    gene_ids = table["gene_id"].astype(str).to_numpy()
    expression = table["label"].to_numpy(dtype=np.float64)
    res = cluster_tracks(wf, expression, cfg, gene_ids=gene_ids, path=AttributionFiles(attr_dir).weighted_features)
    k, labels = res["k"], res["labels"]
    assign = pd.DataFrame(
        {"gene_id": gene_ids, "cluster": labels, "label": expression, "split": table["split"].to_numpy()}
    )
    sim = simulated_classes(data_dir, gene_ids)
    if sim is not None:
        assign["sim_class"] = sim
    stats, pairs, kw = expression_tests(labels, expression, k)
    if sim is not None:
        ct = pd.crosstab(assign["cluster"], assign["sim_class"])
        stats["majority_sim_class"] = ct.idxmax(axis=1).reindex(stats["cluster"]).to_numpy()
        stats["purity"] = (ct.max(axis=1) / ct.sum(axis=1)).reindex(stats["cluster"]).to_numpy()
    summary: dict[str, Any] = {
        "k": k,
        "chosen_by": res["chosen_by"],
        "silhouette": res["scores"].get("silhouette"),
        "calinski_harabasz": res["scores"].get("calinski_harabasz"),
        "kruskal_H": kw["kruskal_H"],
        "kruskal_p": kw["kruskal_p"],
        "epsilon_squared": kw["epsilon_squared"],
        "expression_tests": "descriptive: clusters are built from tracks that sum to the predicted expression",
        "n_genes": len(gene_ids),
        "feature_dim": int(res["features"].shape[1]),
        "cluster_sizes": np.bincount(labels, minlength=k).tolist(),
        "representation": {
            **{key: cfg[key] for key in ("smoothing", "bin_size", "split_sign", "transform", "standardize")},
            "transform_scale": res["transform_scale"],
        },
        "seed": cfg["seed"],
        "n_init": cfg["n_init"],
        "tracks": cfg["tracks"],
    }
    if sim is not None:
        summary["ari"] = float(adjusted_rand_score(sim, labels))
        summary["nmi"] = float(normalized_mutual_info_score(sim, labels))
        summary["n_sim_classes"] = int(pd.Series(sim).nunique())
    out.dir.mkdir(parents=True, exist_ok=True)
    write_tsv(out.assignments, assign, float_format="%.7g")
    with atomic_path(out.centroids) as tmp:
        np.save(tmp, res["centroids"].astype(np.float32))
    with atomic_path(out.profiles) as tmp:
        np.save(tmp, cluster_profiles(wf, labels, k))
    write_tsv(out.k_selection, res["k_selection"], float_format="%.6g")
    write_tsv(out.stats, stats, float_format="%.6g")
    write_tsv(out.pairwise, pairs, float_format="%.6g")
    write_json(out.summary, summary)
    log.info(
        "clustered %d genes into k = %d (%s); expression differs by cluster (descriptive) epsilon^2 = %.3f%s",
        len(gene_ids),
        k,
        res["chosen_by"],
        kw["epsilon_squared"],
        f"; ARI vs sim_class = {summary['ari']:.3f}" if sim is not None else "",
    )
    return summary
