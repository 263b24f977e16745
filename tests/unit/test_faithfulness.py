"""Faithfulness: ISM and gradient x input with known answers, statistics, planted mass, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest
import torch
from _model_fixtures import arch
from scipy.stats import pearsonr, spearmanr

from promoter_cr import cli
from promoter_cr.config import section_defaults
from promoter_cr.data.dataset import write_dataset
from promoter_cr.errors import InputDataError
from promoter_cr.interpret.attribute import export_weighted_features
from promoter_cr.interpret.faithfulness import (
    active_site_mask,
    comparison_positions,
    evaluate_faithfulness,
    faithfulness_from_model,
    grad_x_input,
    ism,
    planted_mass,
    rowwise_correlations,
    summary_table,
    topk_overlap,
)
from promoter_cr.models import CKPT_KEY
from promoter_cr.models.cr import CRModel
from promoter_cr.models.inference import Predictor
from promoter_cr.seq.encoding import one_hot_torch

torch.set_num_threads(1)


class _Out(NamedTuple):
    prediction: torch.Tensor
    contributions: torch.Tensor
    extra_contributions: torch.Tensor | None
    bias: torch.Tensor


class LinearCR(torch.nn.Module):
    """CR-like model with context-free weights: ``pred = sum_i W[x_i, i] + b``."""

    def __init__(self, weights: np.ndarray, bias: float = 0.25):
        super().__init__()
        self.w = torch.nn.Parameter(torch.as_tensor(weights, dtype=torch.float32))
        self.b = bias

    def forward(self, x, extra=None):
        contrib = (self.w[None] * x).sum(1)
        bias = torch.full((len(x),), self.b)
        return _Out(contrib.sum(1) + bias, contrib, None, bias)


def _codes(g: int, length: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, size=(g, length)).astype(np.uint8)


def test_linear_model_known_answers():
    rng = np.random.default_rng(0)
    length = 30
    w = rng.normal(size=(4, length))
    codes = _codes(3, length)
    codes[1, 5] = 4  # an N
    ism_mean, ism_max = ism(Predictor(LinearCR(w), "cpu", 7), codes)
    gx = grad_x_input(Predictor(LinearCR(w), "cpu", 2), codes)
    ref = np.where(codes < 4, w[np.minimum(codes, 3), np.arange(length)], 0.0)  # W at the base present
    alts = np.stack([w[(np.minimum(codes, 3) + k) % 4, np.arange(length)] for k in (1, 2, 3)], -1)  # (G, L, 3)
    want_mean = np.where(codes < 4, ref - alts.mean(-1), 0.0)
    delta = alts - ref[..., None]
    want_max = np.where(codes < 4, -np.take_along_axis(delta, np.abs(delta).argmax(-1)[..., None], -1)[..., 0], 0.0)
    np.testing.assert_allclose(ism_mean, want_mean, atol=1e-5)
    np.testing.assert_allclose(ism_max, want_max, atol=1e-5)
    np.testing.assert_allclose(gx, ref, atol=1e-6)  # gradient x input = the CR weighted feature
    assert ism_mean[1, 5] == 0 and gx[1, 5] == 0


def test_all_three_attributions_agree_exactly():
    """Weights non-zero only at the base present: CR, ISM and gradient x input are the same track."""
    length = 40
    codes = _codes(2, length, seed=1)[:1]
    w = np.zeros((4, length))
    values = np.random.default_rng(2).normal(size=length)
    w[codes[0], np.arange(length)] = values
    model = LinearCR(w)
    with torch.no_grad():
        cr = model(one_hot_torch(torch.from_numpy(codes))).contributions.numpy()
    table, tracks = faithfulness_from_model(Predictor(model, "cpu", 16), codes, cr, np.array(["g0"]), top_k=10)
    np.testing.assert_allclose(cr[0], values, atol=1e-6)
    for name in ("ism_mean", "ism_max", "grad_x_input"):
        np.testing.assert_allclose(tracks[name], cr, atol=1e-5)
    assert np.allclose(table[["pearson", "spearman", "topk_overlap"]].to_numpy(), 1.0)
    assert table["method"].tolist() == ["ism_mean", "ism_max", "grad_x_input"]


def test_vectorised_ism_matches_naive_loop_on_cr_model():
    torch.manual_seed(0)
    length = 24
    model = CRModel(length, 0, **arch("cr", channels=6, stem_kernel=5, dropout=0.0)).eval()
    codes = _codes(2, length, seed=3)
    positions = np.array([0, 7, 23])
    got_mean, got_max = ism(Predictor(model, "cpu", 5), codes, positions)
    with torch.no_grad():
        for g in range(2):
            base = model(one_hot_torch(torch.from_numpy(codes[g : g + 1]))).prediction.item()
            for j, p in enumerate(positions):
                d = []
                for a in range(4):
                    if a == codes[g, p]:
                        continue
                    mut = codes[g : g + 1].copy()
                    mut[0, p] = a
                    d.append(model(one_hot_torch(torch.from_numpy(mut))).prediction.item() - base)
                d = np.array(d)
                assert got_mean[g, j] == pytest.approx(-d.mean(), abs=1e-5)
                assert got_max[g, j] == pytest.approx(-d[np.abs(d).argmax()], abs=1e-5)


def test_ism_and_saturation_mutagenesis_give_the_same_numbers():
    """One mutagenesis: the faithfulness ISM and the saturation table agree bit for bit on every mutant."""
    from promoter_cr.interpret.saturation import saturation_mutagenesis

    torch.manual_seed(1)
    length = 30
    model = CRModel(length, 0, **arch("cr", channels=6, stem_kernel=5, dropout=0.0)).eval()
    codes = _codes(3, length, seed=4)
    _, got_max = ism(Predictor(model, "cpu", 7), codes, np.arange(10, 20))
    table = saturation_mutagenesis(Predictor(model, "cpu", 7), codes, ["a", "b", "c"], tss_index=10, start=0, end=10)
    delta = table["delta"].to_numpy().reshape(3, 10, 3)  # gene, position, alternative
    strongest = np.take_along_axis(delta, np.abs(delta).argmax(2)[..., None], 2)[..., 0]
    np.testing.assert_array_equal(-strongest, got_max)


def test_statistics_known_answers():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(3, 50)), rng.normal(size=(3, 50))
    pr, sr = rowwise_correlations(a, b)
    for i in range(3):
        assert pr[i] == pytest.approx(pearsonr(a[i], b[i])[0], abs=1e-10)
        assert sr[i] == pytest.approx(spearmanr(a[i], b[i])[0], abs=1e-10)
    assert np.isnan(rowwise_correlations(np.ones((1, 5)), a[:1, :5])[0][0])
    ref = np.array([[5.0, -4, 3, 0, 0, 1]])
    other = np.array([[0.0, 9, 8, 7, 0, 0]])  # top-3 |.|: {1, 2, 3}; ref's top-3: {0, 1, 2}
    assert topk_overlap(ref, other, 3)[0] == pytest.approx(2 / 3)
    assert topk_overlap(ref, ref, 100)[0] == 1.0


def test_planted_mass_known_answer():
    mask = active_site_mask([[(2, 5), (4, 8)], [], [(-3, 2), (9, 40)]], 10)
    assert mask[0].tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 0, 0]
    assert not mask[1].any() and mask[2].tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    tracks = np.zeros((3, 10), dtype=np.float32)
    tracks[0, 3] = 3.0
    tracks[0, 9] = -1.0
    tracks[1, 0] = 1.0
    gt = {
        "genes": [
            {
                "gene_id": "a",
                "class": 1,
                "plants": [{"start": 2, "end": 5, "active": True}, {"start": 8, "end": 10, "active": False}],
            },
            {"gene_id": "b", "class": 0, "plants": []},
            {"gene_id": "c", "class": 2, "plants": [{"start": 0, "end": 2, "active": True}]},
        ]
    }
    df = planted_mass(tracks, np.array(["a", "b", "c"]), gt, chunk=2)
    assert df["site_fraction_of_length"].tolist() == [0.3, 0.0, 0.2]
    assert df["contribution_fraction"].iloc[0] == pytest.approx(0.75)
    assert df["contribution_fraction"].iloc[1] == 0.0 and np.isnan(df["contribution_fraction"].iloc[2])
    assert df["class"].tolist() == [1, 0, 2] and df["n_active_sites"].tolist() == [1, 0, 1]


def test_comparison_positions_window():
    assert len(comparison_positions(600, 400, None)) == 600
    pos = comparison_positions(10500, 7000, 1000)
    assert pos[0] == 6500 and pos[-1] == 7499
    assert comparison_positions(100, 95, 20)[-1] == 99  # clipped at the end


def test_evaluate_faithfulness_end_to_end(tmp_path: Path):
    rng = np.random.default_rng(5)
    n, length = 8, 32
    codes = rng.integers(0, 4, size=(n, length)).astype(np.uint8)
    genes = pd.DataFrame(
        {"gene_id": [f"s{i}" for i in range(n)], "label": rng.normal(size=n), "split": ["train"] * 6 + ["test"] * 2}
    )
    data = write_dataset(tmp_path / "data", codes, genes, {"source": "simulate", "tss_index": 20})
    gt = {
        "genes": [
            {
                "gene_id": f"s{i}",
                "class": i % 2,
                "plants": [{"start": 4, "end": 12, "active": True, "role": "activator"}],
            }
            for i in range(n)
        ]
    }
    (data / "ground_truth.json").write_text(json.dumps(gt))
    torch.manual_seed(1)
    cfg = {"type": "cr", "channels": 6, "stem_kernel": 5, "dropout": 0.0}
    model = CRModel(length, 0, **arch("cr", **{k: v for k, v in cfg.items() if k != "type"}))
    ckpt = tmp_path / "cr.ckpt"
    torch.save(
        {
            "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
            CKPT_KEY: {"model_type": "cr", "config": cfg, "length": length, "n_extra": 0, "extra_features": []},
        },
        ckpt,
    )
    attr_cfg = section_defaults("attribution")
    export_weighted_features(ckpt, data, tmp_path / "attr", attr_cfg, device="cpu", progress=False)
    conf = json.dumps({"attribution": {"faithfulness_genes": 5, "top_k": 4, "batch_size": 64}})
    rc = cli.main(
        [
            "faithfulness",
            "--config",
            conf,
            "--checkpoint",
            str(ckpt),
            "--data",
            str(data),
            "--attributions",
            str(tmp_path / "attr"),
            "--out",
            str(tmp_path / "attr"),
            "--device",
            "cpu",
            "--no-progress",
        ]
    )
    assert rc == 0
    per_gene = pd.read_csv(tmp_path / "attr" / "faithfulness.tsv", sep="\t")
    assert list(per_gene.columns) == ["gene_id", "method", "pearson", "spearman", "topk_overlap"]
    assert len(per_gene) == 15 and per_gene["gene_id"].nunique() == 5
    assert per_gene[["pearson", "spearman"]].abs().le(1).all().all() and per_gene["topk_overlap"].between(0, 1).all()
    summary = pd.read_csv(tmp_path / "attr" / "faithfulness_summary.tsv", sep="\t")
    assert {"ism_mean", "grad_x_input", "planted_mass"} <= set(summary["method"])
    chance = summary.query("metric == 'topk_overlap_chance'")["mean"]
    assert np.allclose(chance, 4 / 32)
    planted = pd.read_csv(tmp_path / "attr" / "planted_mass.tsv", sep="\t")
    assert len(planted) == n and np.allclose(planted["site_fraction_of_length"], 8 / 32)
    # the same seed picks the same genes
    evaluate_faithfulness(
        ckpt,
        data,
        tmp_path / "attr",
        tmp_path / "again",
        {**attr_cfg, "faithfulness_genes": 5, "top_k": 4},
        device="cpu",
        progress=False,
    )
    again = pd.read_csv(tmp_path / "again" / "faithfulness.tsv", sep="\t")
    pd.testing.assert_frame_equal(per_gene, again)


def test_attribution_figures_from_tables(tmp_path: Path):
    from promoter_cr.plots.attribution import plot_attribution

    rng = np.random.default_rng(6)
    attr = tmp_path / "ds" / "attributions"
    attr.mkdir(parents=True)
    per_gene = pd.DataFrame(
        {
            "gene_id": np.repeat([f"g{i}" for i in range(6)], 2),
            "method": ["ism_mean", "grad_x_input"] * 6,
            "pearson": rng.uniform(0, 1, 12),
            "spearman": rng.uniform(0, 1, 12),
            "topk_overlap": rng.uniform(0, 1, 12),
        }
    )
    per_gene.to_csv(attr / "faithfulness.tsv", sep="\t", index=False)
    with pytest.raises(InputDataError, match="faithfulness_summary.tsv: figure input is missing"):
        plot_attribution(tmp_path / "ds", tmp_path / "fig", {"formats": ["png"], "dpi": 40})
    summary_table(per_gene, 4, 32).to_csv(attr / "faithfulness_summary.tsv", sep="\t", index=False)
    paths = plot_attribution(tmp_path / "ds", tmp_path / "fig", {"formats": ["png"], "dpi": 40})
    assert [p.name for p in paths] == ["faithfulness.png"]  # real data: no planted sites
    (tmp_path / "ds" / "data").mkdir()
    (tmp_path / "ds" / "data" / "ground_truth.json").write_text("{}")  # a simulated data set
    with pytest.raises(InputDataError, match="planted_mass.tsv: figure input is missing"):
        plot_attribution(tmp_path / "ds", tmp_path / "fig", {"formats": ["png"], "dpi": 40})
    pd.DataFrame(
        {
            "gene_id": ["a", "b", "c"],
            "class": [0, 1, 3],
            "site_fraction_of_length": [0.05, 0.1, 0.0],
            "contribution_fraction": [0.6, 0.5, 0.0],
            "n_active_sites": [2, 1, 0],
        }
    ).to_csv(attr / "planted_mass.tsv", sep="\t", index=False)
    paths = plot_attribution(tmp_path / "ds", tmp_path / "fig", {"formats": ["png"], "dpi": 40})
    assert [p.name for p in paths] == ["faithfulness.png", "planted_mass.png"] and all(
        p.stat().st_size > 1000 for p in paths
    )
