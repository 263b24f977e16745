"""Clustering of weighted-feature tracks: representation, k selection, determinism, errors, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from promoter_cr import cli
from promoter_cr.atomic import write_tsv
from promoter_cr.errors import InputDataError
from promoter_cr.interpret.cluster import (
    ClusterError,
    cluster_genes,
    cluster_profiles,
    cluster_tracks,
    fit_kmeans,
    represent,
    select_k,
)


def ccfg(**overrides):
    """The validated ``cluster`` section with ``overrides``."""
    from promoter_cr.config import validate_config

    return {**validate_config({})["cluster"], **overrides}


def synthetic_tracks(
    n_per: int = 30, length: int = 200, n_groups: int = 3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Groups with an activating bump at a group-specific place (and a repressive one for group 1)."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(n_groups), n_per)
    tracks = rng.normal(scale=0.05, size=(len(truth), length)).astype(np.float32)
    for g in range(n_groups):
        start = 20 + g * (length - 40) // n_groups
        tracks[truth == g, start : start + 15] += 1.0
    tracks[truth == 1, 150:165] -= 1.0
    expression = truth * 1.0 + rng.normal(scale=0.3, size=len(truth))
    return tracks, truth, expression


def test_represent_known_answer():
    x = np.array([[1.0, -2, 3, 0, 4, -1, 2]], dtype=np.float32)
    plain = represent(x, smoothing=1, bin_size=3, split_sign=False)
    np.testing.assert_allclose(plain, [[2 / 3, 1.0, 2.0]], rtol=1e-6)  # last bin: 1 position
    split = represent(x, smoothing=1, bin_size=3, split_sign=True)
    np.testing.assert_allclose(split, [[4 / 3, 4 / 3, 2.0, -2 / 3, -1 / 3, 0.0]], rtol=1e-6)
    smooth = represent(np.array([[0, 0, 3.0, 0, 0, 0]], dtype=np.float32), smoothing=3, bin_size=1, split_sign=False)
    np.testing.assert_allclose(smooth, [[0, 1, 1, 1, 0, 0]], atol=1e-7)


def test_represent_chunks_equal_whole():
    tracks, _, _ = synthetic_tracks(n_per=7)
    a = represent(tracks, smoothing=11, bin_size=20, split_sign=True, chunk_rows=4)
    b = represent(tracks, smoothing=11, bin_size=20, split_sign=True, chunk_rows=1000)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (21, 20) and a.dtype == np.float32


def test_select_k_picks_obvious_k_and_recovers_groups():
    tracks, truth, expression = synthetic_tracks()
    feats = represent(tracks, smoothing=11, bin_size=10, split_sign=True)
    k, table, _ = select_k(feats, (2, 6), seed=0, n_init=4, criterion="silhouette", silhouette_sample=4000)
    assert k == 3
    assert list(table.columns[:3]) == ["k", "silhouette", "inertia"] and table["k"].tolist() == [2, 3, 4, 5, 6]
    res = cluster_tracks(tracks, expression, ccfg(k_range=[2, 6], n_init=4, bin_size=10))
    assert res["k"] == 3 and res["chosen_by"] == "silhouette"
    assert adjusted_rand_score(truth, res["labels"]) == 1.0
    # clusters are numbered by increasing mean expression
    means = [expression[res["labels"] == c].mean() for c in range(3)]
    assert means == sorted(means)
    k_ch, _, _ = select_k(feats, (2, 6), seed=0, n_init=4, criterion="calinski_harabasz", silhouette_sample=4000)
    assert k_ch == 3


def test_clustering_is_deterministic_with_a_seed():
    tracks, _, expression = synthetic_tracks(seed=2)
    a = cluster_tracks(tracks, expression, ccfg(k=4, seed=5, n_init=3))
    b = cluster_tracks(tracks, expression, ccfg(k=4, seed=5, n_init=3))
    np.testing.assert_array_equal(a["labels"], b["labels"])
    np.testing.assert_array_equal(a["centroids"], b["centroids"])


def test_clear_errors():
    tracks, _, expression = synthetic_tracks(n_per=2)
    with pytest.raises(ClusterError, match="k = 7 .*N = 6"):
        cluster_tracks(tracks, expression, ccfg(k=7))
    same = np.zeros((5, 40), dtype=np.float32)
    same[:, 3] = 1.0
    with pytest.raises(ClusterError, match="empty"):
        fit_kmeans(represent(same, smoothing=1, bin_size=4, split_sign=False), 3, seed=0, n_init=10)
    bad = tracks.copy()
    bad[4, 10] = np.nan
    with pytest.raises(InputDataError, match="gene g4.*NaN"):
        represent(
            bad,
            smoothing=51,
            bin_size=50,
            split_sign=False,
            gene_ids=np.array([f"g{i}" for i in range(6)]),
            path="wf.npy",
        )
    with pytest.raises(ClusterError, match="N = 6"):
        select_k(
            represent(tracks, smoothing=51, bin_size=50, split_sign=False),
            (7, 8),
            seed=0,
            n_init=10,
            criterion="silhouette",
            silhouette_sample=None,
        )


def test_profiles_are_cluster_means():
    tracks, truth, _ = synthetic_tracks(n_per=5, length=30)
    prof = cluster_profiles(tracks, truth, 3, chunk_rows=4)
    want = np.stack([tracks[truth == c].mean(0) for c in range(3)])
    np.testing.assert_allclose(prof, want, rtol=1e-5, atol=1e-6)


def test_cluster_genes_writes_all_outputs(tmp_path: Path):
    tracks, truth, expression = synthetic_tracks(n_per=25, seed=3)
    attr, data = tmp_path / "attr", tmp_path / "data"
    attr.mkdir()
    data.mkdir()
    ids = [f"g{i:03d}" for i in range(len(truth))]
    np.save(attr / "weighted_features.npy", tracks.astype(np.float16))
    write_tsv(
        attr / "attributions.tsv",
        pd.DataFrame(
            {
                "gene_id": ids,
                "split": "train",
                "label": expression,
                "prediction": 0.0,
                "bias": 0.0,
                "contribution_sum": tracks.sum(1),
            }
        ),
    )
    write_tsv(
        data / "genes.tsv",
        pd.DataFrame({"gene_id": ids[::-1], "label": expression[::-1], "split": "train", "sim_class": truth[::-1]}),
    )
    cfg = json.dumps({"cluster": {"k_range": [2, 5], "bin_size": 10, "n_init": 3}})
    rc = cli.main(
        [
            "cluster",
            "--config",
            cfg,
            "--data",
            str(data),
            "--attributions",
            str(attr),
            "--out",
            str(tmp_path / "clusters"),
        ]
    )
    assert rc == 0
    out = tmp_path / "clusters"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["k"] == 3 and summary["chosen_by"] == "silhouette" and summary["n_genes"] == 75
    assert summary["ari"] == pytest.approx(1.0) and summary["kruskal_p"] < 1e-6
    assign = pd.read_csv(out / "assignments.tsv", sep="\t")
    assert list(assign.columns) == ["gene_id", "cluster", "label", "split", "sim_class"]
    assert assign["gene_id"].tolist() == ids and (assign["sim_class"] == truth).all()
    assert np.load(out / "centroids.npy").shape == (3, 20)  # 200 bp / 10 bp bins, signs together
    assert np.load(out / "cluster_profiles.npy").shape == (3, 200)
    stats = pd.read_csv(out / "cluster_stats.tsv", sep="\t")
    assert (
        stats["size"].sum() == 75 and stats["expression_mean"].is_monotonic_increasing and (stats["purity"] == 1).all()
    )
    pairs = pd.read_csv(out / "pairwise_tests.tsv", sep="\t")
    assert len(pairs) == 3 and (pairs["q"] >= pairs["p"]).all() and (pairs["q"] < 0.05).all()
    ksel = pd.read_csv(out / "k_selection.tsv", sep="\t")
    assert ksel["k"].tolist() == [2, 3, 4, 5]


def test_cluster_figures_from_tables(tmp_path: Path):
    from promoter_cr.plots.clusters import plot_clusters

    tracks, truth, expression = synthetic_tracks(n_per=10, seed=4)
    ds = tmp_path / "ds"
    attr, data = ds / "attributions", ds / "data"
    attr.mkdir(parents=True)
    data.mkdir()
    ids = [f"g{i}" for i in range(len(truth))]
    np.save(attr / "weighted_features.npy", tracks)
    write_tsv(
        attr / "attributions.tsv",
        pd.DataFrame(
            {
                "gene_id": ids,
                "split": "train",
                "label": expression,
                "prediction": 0.0,
                "bias": 0.0,
                "contribution_sum": 0.0,
            }
        ),
    )
    (data / "meta.json").write_text(json.dumps({"tss_index": 150}))
    cluster_genes(attr, None, ds / "clusters", ccfg(k_range=[2, 4], n_init=2, bin_size=10))
    paths = plot_clusters(ds, tmp_path / "fig", {"formats": ["png"], "dpi": 40})
    assert sorted(p.name for p in paths) == [
        "cluster_expression.png",
        "cluster_heatmap.png",
        "cluster_profiles.png",
        "k_selection.png",
    ]
    assert all(p.stat().st_size > 1000 for p in paths)


def test_asinh_transform_known_answer():
    from promoter_cr.interpret.cluster import transform_features

    f = np.array([[0.0, 1.0, -2.0, 4.0]], dtype=np.float32)
    out, scale = transform_features(f, "asinh")
    assert scale == pytest.approx(np.quantile(np.abs(f), 0.75))
    np.testing.assert_allclose(out, np.arcsinh(f / scale), rtol=1e-6)
    same, one = transform_features(f, "none")
    assert one == 1.0 and same is f
    with pytest.raises(ValueError, match="transform"):
        transform_features(f, "log")
