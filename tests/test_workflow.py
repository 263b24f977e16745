"""End-to-end: the Snakemake workflow on tiny simulated data, dry runs of every shipped
config, start-up config validation, and that a finished run is a no-op when repeated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny_config.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def no_venv_env() -> dict[str, str]:
    """The environment of a user who did not activate the venv: its bin/ is not on PATH (the jobs
    run the package with the interpreter Snakemake runs under, so they need no PATH entry)."""
    venv_bin = str(Path(sys.executable).parent)
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin]
    return {**os.environ, "PATH": os.pathsep.join(path)}


def smk(*args: str, cwd: Path = ROOT, check: bool = True, timeout: int = 1200) -> subprocess.CompletedProcess:
    env = no_venv_env()
    proc = subprocess.run(
        [*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
        )
    return proc


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


def test_a_config_file_is_the_whole_configuration(tmp_path):
    """A --configfile is not merged onto config/config.yaml: one listed model trains one model."""
    cfg = tmp_path / "one.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {"dataset": {"name": "one", "simulate": {"n_genes": 200, "length": 300}}, "models": {"cr": {"type": "cr"}}}
        )
    )
    proc = smk("-n", "--configfile", str(cfg), "-d", str(tmp_path))
    out = proc.stdout + proc.stderr
    assert "train_network" in out and "train_kmer" not in out
    assert "results/one/models/xpresso_cnn" not in out and "results/one/models/kmer_ridge" not in out


def test_clusters_on_the_analysis_model_tracks_when_asked(tmp_path):
    """``cluster.tracks: analysis`` with cross-fitting exports the analysis model's own tracks into
    attributions/analysis_model/ and clusters on them; the motif stages keep the cross-fitted tracks."""
    raw = yaml.safe_load(TINY.read_text())
    raw.setdefault("cluster", {})["tracks"] = "analysis"
    cfg = tmp_path / "analysis_tracks.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    out = smk("-n", "-p", "--configfile", str(cfg), "-d", str(tmp_path)).stdout
    jobs = {block.split(":")[0].split()[-1]: block for block in out.split("\nrule ")[1:]}
    analysis = "results/tiny/attributions/analysis_model"
    assert f"output: {analysis}/weighted_features.npy" in jobs["attribute_analysis"]
    assert "models/cr/best.ckpt" in jobs["attribute_analysis"]
    assert f"{analysis}/weighted_features.npy" in jobs["cluster"]
    for motif_job in ("scan_motifs", "grammar", "spacing", "hypothetical"):
        assert analysis not in jobs[motif_job], motif_job
    assert "results/tiny/attributions/weighted_features.npy" in jobs["scan_motifs"]
    raw["cluster"]["tracks"] = "crossfit"
    cfg.write_text(yaml.safe_dump(raw))
    assert "attribute_analysis" not in smk("-n", "--configfile", str(cfg), "-d", str(tmp_path)).stdout


def test_empty_config_file_is_an_error(tmp_path):
    """An empty config file never silently runs the simulated default: Snakemake refuses a file
    without keys, and the workflow refuses an empty mapping, naming the file."""
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing here\n")
    proc = smk("-n", "--configfile", str(empty), "-d", str(tmp_path), check=False)
    assert proc.returncode != 0 and "keys at top level" in proc.stdout + proc.stderr
    empty.write_text("{}\n")
    proc = smk("-n", "--configfile", str(empty), "-d", str(tmp_path), check=False)
    assert proc.returncode != 0 and "empty.yaml is empty" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_failing_job_prints_its_cause_in_one_line_and_its_log(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("sequence,label\n" + "ACGTACGT,1\n" * 2 + "ACGTXCGT,2\n" + "ACGTACGA,3\n" * 3)
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "dataset": {
                    "name": "bad",
                    "source": "fasta",
                    "fasta": {"sequences": str(bad)},
                    "split": {"valid_fraction": 0.34, "test_fraction": 0.34},
                }
            }
        )
    )
    proc = smk("--cores", "1", "--configfile", str(cfg), "-d", str(tmp_path), "results/bad/data/meta.json", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    lines = [line for line in out.splitlines() if line.startswith("promoter-cr build-data: error:")]
    assert len(lines) == 1, out[-3000:]
    assert "bad.csv, line 4: invalid character 'X' at position 5" in lines[0] and "logs/build_data.log" in lines[0]
    assert '"dataset":' not in out  # the config never travels on a command line


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
    assert set(metrics["model"]) == {"cr", "cnn", "xpresso_cnn", "kmer_ridge"}
    assert {"pearson_r", "pearson_r2", "r2", "spearman_rho", "mse"} <= set(metrics.columns)
    import numpy as np

    tracks = np.load(ds / "attributions" / "weighted_features.npy", mmap_mode="r")
    attr = pd.read_csv(ds / "attributions" / "attributions.tsv", sep="\t")
    assert tracks.shape == (300, 300)
    # the exported tracks are the model's exact explanation
    np.testing.assert_allclose(
        np.asarray(tracks, dtype=np.float64).sum(1) + attr["bias"], attr["prediction"], rtol=1e-3, atol=1e-3
    )
    summary = json.loads((ds / "clusters" / "summary.json").read_text())
    assert summary["k"] >= 2
    activity = pd.read_csv(ds / "motifs" / "activity.tsv", sep="\t")
    assert {"motif_id", "motif_name", "cluster", "n_hits", "mean_contribution", "effect", "q_value"} <= set(
        activity.columns
    )
    assert (ds / "motifs" / "recovery.tsv").exists()
    for name in ("spacing.tsv", "cooperativity.tsv", "spacing_summary.json"):
        assert (ds / "motifs" / name).is_file(), name
    # the optional de novo stage (enabled in the tiny config): weights of every exported gene
    hyp = np.load(ds / "attributions" / "hypothetical_weights.npy", mmap_mode="r")
    assert hyp.shape == (300, 4, 300)
    patterns = pd.read_csv(ds / "motifs" / "denovo" / "patterns.tsv", sep="\t")
    assert {"pattern_id", "cluster", "sign", "best_match_id", "novel"} <= set(patterns.columns)
    figures = sorted(p.relative_to(ds / "figures").as_posix() for p in (ds / "figures").rglob("*.png"))
    for stage in ("models", "attribution", "clusters", "motifs", "examples", "recovery", "denovo"):
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
    assert "train_network" not in out and "rule attribute" not in out
    assert any((tiny_run / "figures" / "clusters").glob("*.png"))


@pytest.mark.shared_data
def test_yeast_config_dry_runs_on_the_shared_files(tmp_path, shared_data):
    """config/yeast.yaml plans the whole pipeline on the real yeast genome, TSS and expression files."""
    text = (ROOT / "config" / "yeast.yaml").read_text().replace("../shared/data", str(shared_data))
    cfg = tmp_path / "yeast.yaml"
    cfg.write_text(text)
    proc = smk("-n", "--configfile", str(cfg), "-d", str(tmp_path))
    out = proc.stdout + proc.stderr
    for rule in ("build_data", "train_network", "train_fold", "train_kmer", "scan_motifs", "grammar"):
        assert f"rule {rule}:" in out or f"{rule} " in out, rule
    assert "download_genome" not in out  # the local bgzip copy is used
