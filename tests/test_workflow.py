"""End-to-end: the Snakemake workflow on tiny simulated data, lint, dry runs of every shipped
config, start-up config validation, and that a finished run is a no-op when repeated."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny_config.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def smk(*args: str, cwd: Path = ROOT, check: bool = True, timeout: int = 1200) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    proc = subprocess.run([*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


def test_lint_is_clean():
    proc = smk("--lint", "-d", str(ROOT))
    assert "good condition" in proc.stdout + proc.stderr


def test_snakefmt_reports_no_changes():
    snakefmt = shutil.which("snakefmt", path=str(Path(sys.executable).parent)) or shutil.which("snakefmt")
    if snakefmt is None:
        pytest.skip("snakefmt not installed (pip install -e .[test])")
    proc = subprocess.run([snakefmt, "--check", "Snakefile", "workflow"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "config").glob("*.yaml")))
def test_dry_run_every_shipped_config(config, tmp_path):
    """`snakemake -n` plans every shipped config without downloading anything. Inputs that a
    user supplies (genome FASTA, tables) are stood in for by empty files in a scratch folder."""
    raw = yaml.safe_load((ROOT / "config" / config).read_text())
    for section in ("genome", "fasta"):
        for key in ("fasta", "tss", "expression", "sequences", "labels"):
            path = raw.get("dataset", {}).get(section, {}).get(key)
            if path and not Path(path).is_absolute():
                (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / path).touch()
    proc = smk("-n", "--configfile", str(ROOT / "config" / config), "-d", str(tmp_path))
    out = proc.stdout + proc.stderr
    assert "rule all" in out or "Nothing to be done" in out
    assert not list(tmp_path.rglob("*.h5")), "a dry run must not download"


def test_invalid_config_fails_at_start_naming_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"train": {"max_epoch": 3}}))
    proc = smk("-n", "--configfile", str(bad), "-d", str(tmp_path), check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "train.max_epoch" in out and "bad.yaml" in out


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("tiny")
    smk("--cores", "2", "--configfile", str(TINY), "-d", str(work))
    return work / "results" / "tiny"


@pytest.mark.slow
def test_tiny_pipeline_outputs(tiny_run):
    ds = tiny_run
    genes = pd.read_csv(ds / "data" / "genes.tsv", sep="\t")
    assert len(genes) == 300
    metrics = pd.read_csv(ds / "models" / "metrics.tsv", sep="\t")
    assert set(metrics["model"]) == {"cr", "xpresso_cnn", "kmer_ridge"}
    assert {"pearson_r", "pearson_r2", "r2", "spearman_rho", "mse"} <= set(metrics.columns)
    import numpy as np

    tracks = np.load(ds / "attributions" / "weighted_features.npy", mmap_mode="r")
    attr = pd.read_csv(ds / "attributions" / "attributions.tsv", sep="\t")
    assert tracks.shape == (300, 300)
    # the exported tracks are the model's exact explanation
    np.testing.assert_allclose(np.asarray(tracks, dtype=np.float64).sum(1) + attr["bias"], attr["prediction"], rtol=1e-3, atol=1e-3)
    summary = json.loads((ds / "clusters" / "summary.json").read_text())
    assert summary["k"] >= 2
    activity = pd.read_csv(ds / "motifs" / "activity.tsv", sep="\t")
    assert {"motif_id", "motif_name", "cluster", "n_hits", "mean_contribution", "effect", "q_value"} <= set(activity.columns)
    assert (ds / "motifs" / "recovery.tsv").exists()
    figures = sorted(p.relative_to(ds / "figures").as_posix() for p in (ds / "figures").rglob("*.png"))
    for stage in ("models", "attribution", "clusters", "motifs", "examples", "recovery"):
        assert any(f.startswith(stage + "/") for f in figures), f"no {stage} figure in {figures}"
    logs = list((ds / "logs").glob("*.log"))
    assert len(logs) >= 10


@pytest.mark.slow
def test_second_run_is_a_noop_and_report_builds(tiny_run):
    work = tiny_run.parent.parent
    proc = smk("-n", "--configfile", str(TINY), "-d", str(work))
    assert "Nothing to be done" in proc.stdout + proc.stderr
    smk("--configfile", str(TINY), "-d", str(work), "--report", str(work / "report.html"))
    html = (work / "report.html").read_text(errors="replace")
    assert "promoter-cr" in html or "Contextual Regression" in html


@pytest.mark.slow
def test_figures_redraw_from_tables_alone(tiny_run):
    """Deleting a figure family and asking for it re-runs only that figure rule."""
    work = tiny_run.parent.parent
    for f in (tiny_run / "figures" / "clusters").iterdir():
        f.unlink()
    proc = smk("--cores", "1", "--configfile", str(TINY), "-d", str(work))
    out = proc.stdout + proc.stderr
    assert "figures_clusters" in out
    assert "train_model" not in out and "rule attribute" not in out
    assert any((tiny_run / "figures" / "clusters").glob("*.png"))
