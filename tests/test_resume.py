"""Reliability of the workflow: interrupted runs resume to the same results, one run per folder.

The whole tiny pipeline is run once uninterrupted; then again, interrupted in the middle of training
(SIGKILL of the whole process group while a cross-fitting fold model trains; separately SIGINT to
Snakemake while the analysis model trains) and re-run with the same command: every table (TSVs and
arrays byte for byte, Parquet and JSON by content, checkpoints by weights) equals the uninterrupted
run's. A second run on the same results folder from another working directory is refused, and a
failing job leaves no output behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny_config.yaml"


def _cmd(workdir: Path, config: Path, target: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(ROOT / "Snakefile"),
        "--cores",
        "1",
        "--configfile",
        str(config),
        "-d",
        str(workdir),
        "--rerun-incomplete",
        target,
    ]


def _env() -> dict[str, str]:
    """No activated venv: the jobs run the package with Snakemake's own interpreter."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin),
    }


def _config(workdir: Path) -> Path:
    """The tiny config with a CR that trains long enough to be interrupted in the middle."""
    cfg = yaml.safe_load(TINY.read_text())
    # 30 tiny epochs (a few seconds in all): the kill lands while the model still trains
    cfg["models"]["cr"].update(max_epochs=30, patience=100)
    config = workdir / "config.yaml"
    config.write_text(yaml.safe_dump(cfg))
    return config


def _tables(results: Path) -> dict[str, object]:
    """Every table of a run, as what must be identical between runs.

    TSV and NumPy files byte for byte; Parquet by content; JSON without the fields that record
    when and how long (timestamps, seconds, the resume record); checkpoints by their weights.
    """
    import numpy as np
    import pandas as pd
    import torch

    volatile = {"train_seconds", "resumed_from", "created", "seconds", "wall_seconds"}

    def clean(obj):
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items() if k not in volatile and not k.endswith("_s")}
        if isinstance(obj, list):
            return [clean(v) for v in obj]
        return obj

    out: dict[str, object] = {}
    for f in sorted(results.rglob("*")):
        rel = str(f.relative_to(results))
        if not f.is_file() or rel.startswith(("logs/", "figures/")) or "/logs/" in rel or f.name.startswith("."):
            continue
        if f.suffix in (".tsv", ".npy", ".meme"):
            out[rel] = f.read_bytes()
        elif f.suffix == ".parquet":
            out[rel] = pd.read_parquet(f).to_csv()
        elif f.suffix == ".json" and f.name != "training_done.json":
            out[rel] = clean(json.loads(f.read_text()))
        elif f.name == "best.ckpt":
            state = torch.load(f, weights_only=True)["state_dict"]
            out[rel] = {k: np.asarray(v).tobytes() for k, v in state.items()}
    return out


def _run(workdir: Path, config: Path, *extra: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*_cmd(workdir, config, "all"), *extra], env=_env(), capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, object]:
    work = tmp_path_factory.mktemp("uninterrupted")
    done = _run(work, _config(work))
    assert done.returncode == 0, done.stderr[-4000:]
    return _tables(work / "results" / "tiny")


def _interrupt_and_resume(tmp_path: Path, sig: int, ckpt_rel: str) -> Path:
    """Start the whole tiny run, send ``sig`` once ``ckpt_rel``'s second epoch is saved, then rerun it."""
    import torch

    config = _config(tmp_path)
    ckpt = tmp_path / "results" / "tiny" / ckpt_rel
    proc = subprocess.Popen(
        _cmd(tmp_path, config, "all"),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 600
    epoch = -1
    while epoch < 1 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
        try:
            epoch = int(torch.load(ckpt, weights_only=True)["epoch"]) if ckpt.exists() else -1
        except Exception:  # noqa: BLE001 - being written (atomic rename: rare) or not yet there
            epoch = -1
    assert epoch >= 1, "training never got to its second epoch before the run ended"
    if sig == signal.SIGKILL:
        os.killpg(proc.pid, signal.SIGKILL)  # the job and Snakemake die at once
    else:
        os.kill(proc.pid, sig)  # Snakemake stops its jobs itself
    proc.wait(timeout=300)
    # a SIGKILL leaves Snakemake's lock behind: the documented recovery is --unlock, then the same command
    unlock = _run(tmp_path, config, "--unlock")
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    done = _run(tmp_path, config)
    assert done.returncode == 0, done.stderr[-4000:]
    return tmp_path / "results" / "tiny"


def _assert_same(resumed: dict[str, object], uninterrupted: dict[str, object]) -> None:
    assert sorted(resumed) == sorted(uninterrupted)
    differ = [k for k in uninterrupted if resumed[k] != uninterrupted[k]]
    shown = {k: (uninterrupted[k], resumed[k]) for k in differ if isinstance(resumed[k], bytes) and k.endswith(".tsv")}
    assert not differ, f"tables that differ from the uninterrupted run: {differ}; (uninterrupted, resumed): {shown}"


@pytest.mark.slow
def test_sigkill_of_a_fold_model_resumes_to_the_same_tables(tmp_path, uninterrupted):
    """SIGKILL mid-training (a cross-fitting fold model): the rerun resumes from last.ckpt, best.ckpt is
    written again although the workflow removed it, and every table equals the uninterrupted run's."""
    results = _interrupt_and_resume(tmp_path, signal.SIGKILL, "models/cr/folds/fold0/last.ckpt")
    metrics = json.loads((results / "models" / "cr" / "folds" / "fold0" / "metrics.json").read_text())
    assert metrics.get("resumed_from"), f"training did not resume: {metrics}"
    _assert_same(_tables(results), uninterrupted)


@pytest.mark.slow
def test_sigint_of_the_analysis_model_resumes_to_the_same_tables(tmp_path, uninterrupted):
    results = _interrupt_and_resume(tmp_path, signal.SIGINT, "models/cr/last.ckpt")
    _assert_same(_tables(results), uninterrupted)


@pytest.mark.slow
def test_a_second_run_on_the_same_results_folder_is_refused(tmp_path):
    """Two runs from different working directories, one absolute results_dir: the second stops at once."""
    cfg = yaml.safe_load(TINY.read_text())
    cfg["results_dir"] = str(tmp_path / "shared_results")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(cfg))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = subprocess.Popen(
        _cmd(tmp_path / "a", config, "all"),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        lock = tmp_path / "shared_results" / "tiny" / ".promoter-cr.lock"
        deadline = time.time() + 120
        while not (lock.exists() and lock.read_text().strip()) and time.time() < deadline:
            time.sleep(0.2)
        assert first.poll() is None, "the first run ended before the second started"
        second = _run(tmp_path / "b", config, timeout=300)
        assert second.returncode != 0
        assert "is in use by another run" in second.stdout + second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()


def test_failed_job_leaves_no_output(tmp_path):
    bad = tmp_path / "bad.fa"
    bad.write_text(">g1\nACGTACGT\n>g2\nACGTXCGT\n")
    labels = tmp_path / "labels.tsv"
    labels.write_text("gene_id\tlabel\ng1\t1.0\ng2\t2.0\n")
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {"dataset": {"name": "bad", "source": "fasta", "fasta": {"sequences": str(bad), "labels": str(labels)}}}
        )
    )
    proc = subprocess.run(
        _cmd(tmp_path, config, "results/bad/data/meta.json"), env=_env(), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode != 0
    data = tmp_path / "results" / "bad" / "data"
    assert not any(data.glob("*")) if data.exists() else True
    log = (tmp_path / "results" / "bad" / "logs" / "build_data.log").read_text()
    assert "bad.fa" in log and "g2" in log
