"""Weighted-feature export: shapes, exact decomposition, batching, float16, extras, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest
import torch
from _model_fixtures import arch

from promoter_cr import cli
from promoter_cr.config import section_defaults
from promoter_cr.data.dataset import write_dataset
from promoter_cr.errors import InputDataError
from promoter_cr.interpret.attribute import compute_weighted_features, export_weighted_features, load_attributions
from promoter_cr.models import CKPT_KEY
from promoter_cr.models.cr import CRModel
from promoter_cr.models.export import AttributionError, check_decomposition
from promoter_cr.models.inference import Predictor
from promoter_cr.models.xpresso import XpressoCNN
from promoter_cr.seq.encoding import one_hot_torch

torch.set_num_threads(1)
SMALL_CR = {"type": "cr", "channels": 8, "stem_kernel": 5, "dropout": 0.0}


#: the schema's attribution section
ACFG = section_defaults("attribution")


def make_dataset(root: Path, n: int = 11, length: int = 64, extra: list[str] | None = None, seed: int = 0) -> Path:
    """Tiny data set with a few N bases, splits in genes.tsv order, optional extra features."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n, length)).astype(np.uint8)
    codes[0, :3] = 4  # N bases
    genes = pd.DataFrame(
        {
            "gene_id": [f"g{i:03d}" for i in range(n)],
            "label": rng.normal(size=n),
            "split": (["train", "test", "valid"] * n)[:n],
        }
    )
    for f in extra or []:
        genes[f] = rng.normal(size=n)
    meta = {"source": "test", "tss_index": length // 2, "extra_features": list(extra or [])}
    return write_dataset(root, codes, genes, meta)


def save_checkpoint(path: Path, model: torch.nn.Module, cfg: dict, length: int, extra: list[str] | None = None) -> Path:
    """A checkpoint in the format promoter_cr.models.train writes (Lightning state_dict under 'model.')."""
    torch.save(
        {
            "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
            CKPT_KEY: {
                "model_type": cfg["type"],
                "config": cfg,
                "length": length,
                "n_extra": len(extra or []),
                "extra_features": list(extra or []),
                "dataset_meta": {},
                "versions": {},
                "metrics": {},
            },
        },
        path,
    )
    return path


def random_cr(length: int, n_extra: int = 0, seed: int = 0) -> CRModel:
    torch.manual_seed(seed)
    model = CRModel(length, n_extra, **arch("cr", **{k: v for k, v in SMALL_CR.items() if k != "type"}))
    with torch.no_grad():
        model.bias.fill_(0.37)
        for m in model.modules():  # non-trivial BatchNorm statistics
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.fixture()
def setup(tmp_path: Path):
    data = make_dataset(tmp_path / "data")
    model = random_cr(64)
    ckpt = save_checkpoint(tmp_path / "cr.ckpt", model, SMALL_CR, 64)
    return data, ckpt, model


def test_export_shapes_and_exact_decomposition(setup, tmp_path):
    data, ckpt, model = setup
    res = export_weighted_features(
        ckpt, data, tmp_path / "attr", {**ACFG, "batch_size": 4}, device="cpu", progress=False
    )
    wf, table = load_attributions(tmp_path / "attr")
    assert wf.shape == (11, 64) and wf.dtype == np.float32
    assert list(table.columns) == ["gene_id", "split", "label", "prediction", "bias", "contribution_sum"]
    genes = pd.read_csv(data / "genes.tsv", sep="\t")
    assert table["gene_id"].tolist() == genes["gene_id"].tolist()
    np.testing.assert_allclose(table["label"], genes["label"], rtol=1e-6)
    # tracks + bias == prediction, and predictions equal a direct forward pass of the model
    np.testing.assert_allclose(wf.sum(1, dtype=np.float64) + table["bias"], table["prediction"], atol=1e-5)
    np.testing.assert_allclose(table["bias"], 0.37, rtol=1e-6)
    codes = torch.from_numpy(np.load(data / "sequences.npy"))
    with torch.no_grad():
        out = model(one_hot_torch(codes))
    np.testing.assert_allclose(table["prediction"], out.prediction.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(wf, out.contributions.numpy(), rtol=1e-5, atol=1e-6)
    assert np.all(wf[0, :3] == 0)  # N positions contribute nothing
    meta = json.loads((tmp_path / "attr" / "attribution_meta.json").read_text())
    assert (
        meta["n_genes"] == 11
        and meta["tss_index"] == 32
        and meta["max_abs_decomposition_error"] == pytest.approx(res.max_abs_error)
    )
    assert res.max_abs_error < 1e-5


def test_batched_export_equals_single_batch(setup, tmp_path):
    data, ckpt, _ = setup
    export_weighted_features(ckpt, data, tmp_path / "a", {**ACFG, "batch_size": 3}, device="cpu", progress=False)
    export_weighted_features(ckpt, data, tmp_path / "b", {**ACFG, "batch_size": 1000}, device="cpu", progress=False)
    wa, ta = load_attributions(tmp_path / "a")
    wb, tb = load_attributions(tmp_path / "b")
    np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ta["prediction"], tb["prediction"], rtol=1e-5, atol=1e-6)


def test_float16_and_split(setup, tmp_path):
    data, ckpt, _ = setup
    export_weighted_features(ckpt, data, tmp_path / "f32", ACFG, device="cpu", progress=False)
    export_weighted_features(
        ckpt, data, tmp_path / "f16", {**ACFG, "split": "test", "dtype": "float16"}, device="cpu", progress=False
    )
    w32, t32 = load_attributions(tmp_path / "f32")
    w16, t16 = load_attributions(tmp_path / "f16")
    rows = np.flatnonzero(t32["split"] == "test")
    assert w16.dtype == np.float16 and w16.shape == (len(rows), 64)
    assert t16["gene_id"].tolist() == t32["gene_id"].iloc[rows].tolist()
    np.testing.assert_allclose(w16.astype(np.float32), w32[rows], rtol=2e-3, atol=1e-4)
    # contribution_sum comes from the float32 model output, not the rounded storage
    np.testing.assert_allclose(t16["contribution_sum"], t32["contribution_sum"].iloc[rows], rtol=1e-6)


def test_extra_features_exported_and_checked(tmp_path):
    feats = ["hl1", "hl2"]
    data = make_dataset(tmp_path / "data", extra=feats)
    model = random_cr(64, n_extra=2, seed=3)
    ckpt = save_checkpoint(tmp_path / "cr.ckpt", model, {**SMALL_CR, "use_extra": True}, 64, feats)
    export_weighted_features(ckpt, data, tmp_path / "attr", {**ACFG, "batch_size": 5}, device="cpu", progress=False)
    wf, table = load_attributions(tmp_path / "attr")
    assert {"extra_hl1", "extra_hl2"} <= set(table.columns)
    total = wf.sum(1, dtype=np.float64) + table["extra_hl1"] + table["extra_hl2"] + table["bias"]
    np.testing.assert_allclose(total, table["prediction"], atol=1e-5)
    assert np.abs(table[["extra_hl1", "extra_hl2"]].to_numpy()).sum() > 0
    # a data set without those features is a clear error
    bare = make_dataset(tmp_path / "bare")
    with pytest.raises(InputDataError, match="hl1"):
        export_weighted_features(ckpt, bare, tmp_path / "x", ACFG, device="cpu", progress=False)


class _Out(NamedTuple):
    prediction: torch.Tensor
    contributions: torch.Tensor
    extra_contributions: torch.Tensor | None
    bias: torch.Tensor


class _BrokenCR(torch.nn.Module):
    """CROutput-like model whose prediction is off by 0.5 from its second call (batch) on."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x, extra=None):
        self.calls += 1
        c = x[:, 0] * 0.1 - x[:, 3] * 0.2
        bias = torch.full((len(x),), 0.1)
        pred = c.sum(1) + bias + (0.5 if self.calls > 1 else 0.0)
        return _Out(pred, c, None, bias)


def test_decomposition_mismatch_raises_and_publishes_nothing(tmp_path):
    codes = np.random.default_rng(1).integers(0, 4, size=(6, 20)).astype(np.uint8)
    out = tmp_path / "wf.npy"
    with pytest.raises(AttributionError, match="gene g2.*do not add up"):
        compute_weighted_features(
            Predictor(_BrokenCR(), "cpu", 2, False),
            codes,
            np.arange(6),
            out,
            gene_ids=np.array([f"g{i}" for i in range(6)]),
            dtype="float32",
        )
    assert not out.exists() and not list(tmp_path.iterdir())


def test_check_decomposition_flags_non_finite():
    c = np.ones((2, 5))
    c[1, 2] = np.nan
    with pytest.raises(AttributionError, match="row 1.*non-finite"):
        check_decomposition(np.array([5.0, 5.0]), c, np.zeros(2), None)
    assert check_decomposition(np.array([5.5]), np.ones((1, 5)), np.array([0.5]), None) == 0.0


def test_non_cr_checkpoint_and_length_mismatch(tmp_path):
    data = make_dataset(tmp_path / "data")
    cfg = {"type": "xpresso_cnn", "conv1_filters": 4, "conv2_filters": 4, "dense1": 4}
    ckpt = save_checkpoint(
        tmp_path / "cnn.ckpt",
        XpressoCNN(64, 0, **arch("xpresso_cnn", conv1_filters=4, conv2_filters=4, dense1=4)),
        cfg,
        64,
    )
    with pytest.raises(InputDataError, match="weighted features"):
        export_weighted_features(ckpt, data, tmp_path / "x", ACFG, device="cpu", progress=False)
    ckpt = save_checkpoint(tmp_path / "cr.ckpt", random_cr(80), SMALL_CR, 80)
    with pytest.raises(InputDataError, match="64 bp.*80 bp"):
        export_weighted_features(ckpt, data, tmp_path / "x", ACFG, device="cpu", progress=False)


def test_cli_attribute(setup, tmp_path, capsys):
    data, ckpt, _ = setup
    cfg = json.dumps({"attribution": {"batch_size": 4, "dtype": "float16"}})
    rc = cli.main(
        [
            "attribute",
            "--config",
            cfg,
            "--checkpoint",
            str(ckpt),
            "--data",
            str(data),
            "--out",
            str(tmp_path / "attr"),
            "--device",
            "cpu",
            "--no-progress",
        ]
    )
    assert rc == 0
    wf, _ = load_attributions(tmp_path / "attr")
    assert wf.dtype == np.float16 and wf.shape == (11, 64)
    rc = cli.main(
        [
            "attribute",
            "--config",
            cfg,
            "--checkpoint",
            str(tmp_path / "missing.ckpt"),
            "--data",
            str(data),
            "--out",
            str(tmp_path / "y"),
        ]
    )
    assert rc == 4 and "missing.ckpt" in capsys.readouterr().err
