"""Training: planted signal, determinism, resume, DDP, outputs, metrics table."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from _model_fixtures import planted_dataset, tiny_config

from promoter_cr.errors import ConfigError, InputDataError
from promoter_cr.models.checkpoint import load_model
from promoter_cr.models.inference import Predictor
from promoter_cr.models.train import collect_metrics, train_model

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return planted_dataset(tmp_path_factory.mktemp("ds") / "data")


@pytest.fixture(scope="module")
def trained_cr(tmp_path_factory, data_dir) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("cr")
    cfg = tiny_config(tmp, max_epochs=20, lr=0.01)  # 180 steps in all: a higher peak than the default
    out = tmp / "cr"
    return out, train_model(cfg, "cr", data_dir, out)


def test_cr_learns_planted_signal(trained_cr):
    out, metrics = trained_cr
    for f in ("best.ckpt", "last.ckpt", "predictions.tsv", "metrics.json", "history.tsv"):
        assert (out / f).exists(), f
    pred = pd.read_csv(out / "predictions.tsv", sep="\t")
    assert list(pred.columns) == ["gene_id", "split", "label", "prediction"] and len(pred) == 480
    test = pred[pred["split"] == "test"]
    mean_mse = float(((test["label"] - pred.loc[pred["split"] == "train", "label"].mean()) ** 2).mean())
    cr_mse = metrics["splits"]["test"]["mse"]
    assert cr_mse < 0.5 * mean_mse, (cr_mse, mean_mse)
    assert metrics["splits"]["test"]["pearson_r"] > 0.7
    assert json.loads((out / "metrics.json").read_text())["splits"]["test"]["n"] == len(test)
    hist = pd.read_csv(out / "history.tsv", sep="\t")
    assert list(hist.columns) == ["epoch", "train_loss", "val_loss", "val_pearson"]
    assert list(hist["epoch"]) == list(range(metrics["epochs_trained"]))
    assert hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]


def test_checkpoint_metadata(trained_cr, data_dir):
    out, metrics = trained_cr
    model, meta = load_model(out / "best.ckpt")
    assert meta["model_type"] == "cr" and meta["length"] == 80 and meta["extra_features"] == []
    assert meta["config"]["channels"] == 16 and meta["dataset_meta"]["source"] == "test"
    assert {"torch", "lightning", "promoter_cr"} <= set(meta["versions"])
    assert meta["metrics"]["splits"]["test"]["pearson_r"] == pytest.approx(metrics["splits"]["test"]["pearson_r"])
    assert not model.training


def test_kmer_prior_travels_in_the_checkpoint(trained_cr, data_dir):
    """The default CR carries its fitted k-mer prior: non-zero tables in best.ckpt, its penalty in the metrics."""
    from promoter_cr.data.dataset import load_dataset

    out, metrics = trained_cr
    model, meta = load_model(out / "best.ckpt")
    assert meta["config"]["kmer_prior"] == [3, 4] and metrics["kmer_prior_alpha"] > 0
    assert all(getattr(model, f"kmer_table_{k}").abs().sum() > 0 for k in (3, 4))
    pred, _ = Predictor(model, "cpu", 64).predict(load_dataset(data_dir).sequences)
    table = pd.read_csv(out / "predictions.tsv", sep="\t")
    np.testing.assert_allclose(pred, table["prediction"], rtol=0, atol=1e-4)


def test_min_steps_raises_the_epochs_of_small_data_sets():
    from promoter_cr.models.train import epochs_for

    assert epochs_for({"max_epochs": 20, "min_steps": 3000}, 32) == 94  # 2,000 genes in batches of 64
    assert epochs_for({"max_epochs": 20, "min_steps": 3000}, 766) == 20  # 49,000 genes: max_epochs holds
    assert epochs_for({"max_epochs": 5, "min_steps": 0}, 10) == 5


def test_same_seed_same_metrics(tmp_path, data_dir):
    cfg = tiny_config(tmp_path, max_epochs=2)
    a = train_model(cfg, "cr", data_dir, tmp_path / "a")
    b = train_model(cfg, "cr", data_dir, tmp_path / "b")
    assert a["splits"] == b["splits"]
    pa = pd.read_csv(tmp_path / "a" / "predictions.tsv", sep="\t")
    pb = pd.read_csv(tmp_path / "b" / "predictions.tsv", sep="\t")
    pd.testing.assert_frame_equal(pa, pb)


class _StopAfterEpoch:
    """Make training stop with an error at the end of epoch ``k`` (before its checkpoints): a killed job
    whose ``last.ckpt`` is that of epoch ``k - 1``."""

    def __init__(self, monkeypatch, epoch: int):
        import lightning.pytorch as pl

        from promoter_cr.models import train as train_mod

        make = train_mod._make_trainer

        class Kill(pl.Callback):
            def on_train_epoch_end(self, trainer, pl_module):
                if trainer.current_epoch == epoch:
                    raise RuntimeError("killed")

        def patched(*args, **kwargs):
            trainer, ckpt_cb, history = make(*args, **kwargs)
            trainer.callbacks.append(Kill())
            return trainer, ckpt_cb, history

        monkeypatch.setattr(train_mod, "_make_trainer", patched)


def test_resume_reproduces_the_uninterrupted_run(tmp_path, data_dir, monkeypatch):
    """Killed after epoch 1 (best.ckpt removed, as the workflow does with a failed job's outputs) and
    rerun: the same best weights, predictions and history as a run that was never interrupted."""
    cfg = tiny_config(tmp_path, max_epochs=4, patience=10)
    whole = train_model(cfg, "cr", data_dir, tmp_path / "whole")
    out = tmp_path / "cr"
    with monkeypatch.context() as m:
        _StopAfterEpoch(m, 1)
        with pytest.raises(RuntimeError, match="killed"):
            train_model(cfg, "cr", data_dir, out)
    assert (out / "last.ckpt").exists() and not (out / "training_done.json").exists()
    (out / "best.ckpt").unlink()
    resumed = train_model(cfg, "cr", data_dir, out)
    assert resumed["resumed_from"] == str(out / "last.ckpt") and resumed["global_step"] == whole["global_step"]
    assert resumed["splits"] == whole["splits"] and resumed["best_epoch"] == whole["best_epoch"]
    for f in ("predictions.tsv", "history.tsv"):
        assert (out / f).read_text() == (tmp_path / "whole" / f).read_text(), f
    a = torch.load(out / "best.ckpt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "whole" / "best.ckpt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_only_with_the_same_settings_and_data(tmp_path, data_dir, monkeypatch, caplog):
    out = tmp_path / "cr"
    cfg = tiny_config(tmp_path, max_epochs=3)
    with monkeypatch.context() as m:
        _StopAfterEpoch(m, 1)
        with pytest.raises(RuntimeError, match="killed"):
            train_model(cfg, "cr", data_dir, out)
    # other settings (a different lr, or max_epochs, which reshapes the schedule): trained afresh, said why
    other = tiny_config(tmp_path, max_epochs=3, lr=0.005)
    with caplog.at_level(logging.WARNING, logger="promoter_cr.console"):
        fresh = train_model(other, "cr", data_dir, out)
    assert fresh["resumed_from"] is None
    assert any("not resuming" in r.getMessage() and "other training settings" in r.getMessage() for r in caplog.records)
    # other labels (same sequences and settings): never resumed either
    with monkeypatch.context() as m:
        _StopAfterEpoch(m, 1)
        with pytest.raises(RuntimeError, match="killed"):
            train_model(cfg, "cr", data_dir, out)
    relabelled = tmp_path / "relabelled"
    shutil.copytree(data_dir, relabelled)
    genes = pd.read_csv(relabelled / "genes.tsv", sep="\t")
    genes["label"] = genes["label"] * 10
    genes.to_csv(relabelled / "genes.tsv", sep="\t", index=False)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="promoter_cr.console"):
        again = train_model(cfg, "cr", relabelled, out)
    assert again["resumed_from"] is None
    assert any("other data (sequences, labels or split)" in r.getMessage() for r in caplog.records)
    # a finished run asked to train again (forced re-run, new code) starts afresh
    done = train_model(cfg, "cr", data_dir, out)
    assert done["resumed_from"] is None


def test_xpresso_cnn_and_kmer_and_metrics_table(tmp_path, data_dir, trained_cr):
    cfg = tiny_config(tmp_path, max_epochs=2)
    m_cnn = train_model(cfg, "cnn", data_dir, tmp_path / "cnn")
    assert m_cnn["type"] == "xpresso_cnn" and (tmp_path / "cnn" / "best.ckpt").exists()
    model, meta = load_model(tmp_path / "cnn" / "best.ckpt")
    assert meta["model_type"] == "xpresso_cnn"
    m_k = train_model(cfg, "kmer", data_dir, tmp_path / "kmer")
    assert (tmp_path / "kmer" / "model.pkl").exists() and m_k["alpha"] in (1.0, 10.0, 100.0)
    assert m_k["splits"]["test"]["pearson_r"] > 0.5  # the planted 8-mer is visible to 4-mers
    (tmp_path / "cr").symlink_to(trained_cr[0])  # the models of one run share a folder
    collect_metrics(tmp_path, ["cr", "cnn", "kmer"], tmp_path / "metrics.tsv")
    back = pd.read_csv(tmp_path / "metrics.tsv", sep="\t")
    assert list(back.columns) == ["model", "type", "split", "n", "pearson_r", "pearson_r2", "r2", "spearman_rho", "mse"]
    assert (
        len(back) == 6
        and set(back["split"]) == {"valid", "test"}
        and set(back["type"]) == {"cr", "xpresso_cnn", "kmer_ridge"}
    )
    np.testing.assert_allclose(back["pearson_r2"], back["pearson_r"] * back["pearson_r"].abs(), rtol=1e-4)
    with pytest.raises(InputDataError, match="not found"):
        collect_metrics(tmp_path, ["nope"], tmp_path / "m2.tsv")


def test_extra_features(tmp_path):
    data = planted_dataset(tmp_path / "data", n=160, n_extra=2)
    cfg = tiny_config(tmp_path, max_epochs=1)
    cfg["models"]["cr"]["use_extra"] = True
    m = train_model(cfg, "cr", data, tmp_path / "cr")
    model, meta = load_model(tmp_path / "cr" / "best.ckpt")
    assert meta["extra_features"] == ["hl0", "hl1"] and model.n_extra == 2
    assert m["splits"]["train"]["n"] > 0
    plain = planted_dataset(tmp_path / "plain", n=60)
    with pytest.raises(ConfigError, match="no extra features"):
        train_model(cfg, "cr", plain, tmp_path / "cr2")
    with pytest.raises(ConfigError, match="not in the config"):
        train_model(cfg, "missing", plain, tmp_path / "x")


DDP_SCRIPT = """
import logging, sys, torch
logging.basicConfig(level=logging.INFO)  # as the CLI does: Lightning reports its DDP backend
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
from pathlib import Path
from _model_fixtures import tiny_config
from promoter_cr.models.train import train_model
tmp = Path({tmp!r})
cfg = tiny_config(tmp, max_epochs=2, strategy="ddp", devices=2, accelerator="cpu")
m = train_model(cfg, "cr", {data!r}, tmp / "ddp")
if m:
    print("RANK0_METRICS", m["splits"]["valid"]["n"], m["global_step"])
"""


def test_ddp_two_cpu_processes(tmp_path, data_dir):
    script = tmp_path / "ddp_train.py"
    script.write_text(
        textwrap.dedent(DDP_SCRIPT.format(tests=str(Path(__file__).parent), tmp=str(tmp_path), data=str(data_dir)))
    )
    env = {**os.environ, "PL_DISABLE_FORK": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=240, cwd=tmp_path, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RANK0_METRICS")]
    assert len(line) == 1, proc.stdout[-2000:]
    n_valid, steps = map(int, line[0].split()[1:])
    assert n_valid == 96
    # each of the 2 processes sees half of the 288 training genes per epoch: ceil(144 / 32) = 5 steps
    assert steps == 2 * 5
    assert "distributed_backend=gloo" in proc.stderr or "gloo" in proc.stderr + proc.stdout
    assert (tmp_path / "ddp" / "best.ckpt").exists() and (tmp_path / "ddp" / "predictions.tsv").exists()


def test_plot_models_from_tables(tmp_path):
    from promoter_cr.layout import DatasetLayout
    from promoter_cr.plots.models import model_names, plot_models

    rng = np.random.default_rng(0)
    base = tmp_path / "models"
    for name, hist in [
        (
            "cr",
            pd.DataFrame(
                {
                    "epoch": [0, 1, 2],
                    "train_loss": [1.0, 0.6, 0.4],
                    "val_loss": [1.1, 0.8, 0.7],
                    "val_pearson": [0.2, 0.5, 0.6],
                }
            ),
        ),
        ("kmer", pd.DataFrame({"alpha": [1.0, 10.0, 100.0], "cv_loss": [0.9, 0.8, 0.85]})),
    ]:
        d = base / name
        d.mkdir(parents=True)
        y = rng.normal(size=60)
        pd.DataFrame(
            {
                "gene_id": [f"g{i}" for i in range(60)],
                "split": ["train"] * 30 + ["valid"] * 15 + ["test"] * 15,
                "label": y,
                "prediction": y + rng.normal(0, 0.5, 60),
            }
        ).to_csv(d / "predictions.tsv", sep="\t", index=False)
        hist.to_csv(d / "history.tsv", sep="\t", index=False)
        json.dump(
            {
                "type": "cr" if name == "cr" else "kmer_ridge",
                "splits": {
                    s: {"n": 15, "pearson_r": 0.5, "pearson_r2": 0.25, "r2": 0.2, "spearman_rho": 0.5, "mse": 0.3}
                    for s in ("valid", "test")
                },
            },
            open(d / "metrics.json", "w"),
        )
    (base / "empty").mkdir()  # a folder that is no model of the run
    collect_metrics(base, ["cr", "kmer"], base / "metrics.tsv")
    assert model_names(DatasetLayout(tmp_path)) == ["cr", "kmer"]
    paths = plot_models(tmp_path, tmp_path / "fig", {"formats": ["png"], "dpi": 60})
    assert sorted(p.name for p in paths) == ["learning_curves.png", "metrics.png", "pred_vs_obs.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
    with pytest.raises(InputDataError, match="metrics.tsv: figure input is missing"):
        plot_models(tmp_path / "nothing", tmp_path / "fig2", {"formats": ["png"], "dpi": 60})
