"""Reliability of the workflow (issue: kill a run mid-training and re-run).

A Snakemake run is killed (SIGKILL to its whole process group) once the CR model has written
its first ``last.ckpt``; re-running the same command resumes training from that checkpoint and
completes; a failing job leaves no output behind.
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


@pytest.mark.slow
def test_killed_training_resumes_from_last_checkpoint(tmp_path):
    cfg = yaml.safe_load(TINY.read_text())
    cfg["models"]["cr"].update(max_epochs=4, patience=10)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(cfg))
    target = "results/tiny/models/cr/predictions.tsv"
    ckpt = tmp_path / "results" / "tiny" / "models" / "cr" / "last.ckpt"

    proc = subprocess.Popen(
        _cmd(tmp_path, config, target),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 600
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert ckpt.exists(), "training never wrote last.ckpt"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / target).exists(), "the run was killed before it finished"

    # a SIGKILL leaves Snakemake's lock behind: the documented recovery is --unlock, then the same command
    subprocess.run(
        [*_cmd(tmp_path, config, target), "--unlock"], env=_env(), capture_output=True, check=True, timeout=300
    )
    done = subprocess.run(_cmd(tmp_path, config, target), env=_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    metrics = json.loads((tmp_path / "results" / "tiny" / "models" / "cr" / "metrics.json").read_text())
    assert metrics.get("resumed_from"), f"training did not resume: {metrics}"
    assert (tmp_path / target).exists()


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
