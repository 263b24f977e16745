"""Real SLURM runs through ``--profile profiles/slurm``.

A private single-node SLURM cluster (Debian's slurm-wlm + munge, no slurmdbd) is started on
this machine by ``.ci/slurm_setup.sh start`` in a fresh /tmp state directory on free ports,
and stopped again by ``.ci/slurm_teardown.sh`` (only the daemons this module started).
Set ``PROMOTER_CR_SLURM_DIR`` to reuse a cluster started beforehand (it is then left running).

Workflows run with the profile as shipped plus test-only command-line overrides:
``--slurm-status-command squeue`` (no accounting database, so no ``sacct``; the cluster keeps
finished jobs for MinJobAge=600 s), a 1-second wait before the first status check, kept SLURM
logs, and training resources that fit the test node.  Every non-local job must show up as a
COMPLETED SLURM job (``scontrol show job`` and the job-completion log), with its rule's
name in the job comment and the CPUs/memory/time limit the rule, the profile or the command
line gave it; local rules must not reach SLURM.

Runs when slurm-wlm is installed or can be (root + apt-get); skipped with the reason otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slurm

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "profiles" / "slurm"
SETUP = ROOT / ".ci" / "slurm_setup.sh"
TEARDOWN = ROOT / ".ci" / "slurm_teardown.sh"
TINY_SNAKEFILE = ROOT / "tests" / "slurm" / "Snakefile"
TINY_CONFIG = ROOT / "tests" / "data" / "tiny_config.yaml"
BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "srun", "scontrol")
SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin"

# test-only overrides of the profile (see module docstring)
SLURM_TEST_ARGS = [
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--slurm-keep-successful-logs",
]
SUBMITTED_RE = re.compile(r"Job (\S+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.?$", re.M)


@dataclass
class Cluster:
    """A running private SLURM cluster: environment for its clients and its state folder."""

    env: dict[str, str]
    state_dir: Path
    started: bool
    partition: str = "debug"


@dataclass
class SlurmJob:
    """What ``scontrol show job`` and the job-completion log record for one SLURM job."""

    job_id: str
    fields: dict[str, str] = field(default_factory=dict)
    jobcomp_state: str | None = None

    @property
    def rule(self) -> str:
        """Rule name from the plugin's job comment ``rule_<rule>[_wildcards_<...>]``."""
        comment = self.fields.get("Comment", "")
        assert comment.startswith("rule_"), f"job {self.job_id}: unexpected comment {comment!r}"
        return comment[len("rule_") :].split("_wildcards_")[0]


# ----------------------------------------------------------------------------- cluster fixture
def _which(name: str) -> str | None:
    return shutil.which(name, path=f"{os.environ.get('PATH', '')}:{SBIN_PATH}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _parse_env(stdout: str) -> tuple[dict[str, str], bool]:
    """The ``export K=V`` lines printed by slurm_setup.sh, and whether it started the daemons."""
    env: dict[str, str] = {}
    started = False
    for line in stdout.splitlines():
        m = re.match(r"(?:export )?(\w+)=(.*)$", line.strip())
        if not m:
            continue
        key, value = m.groups()
        if key == "PROMOTER_CR_SLURM_STARTED":
            started = value == "1"
        elif key == "PATH":
            env[key] = value.replace("$PATH", os.environ.get("PATH", ""))
        else:
            env[key] = value
    return env, started


@pytest.fixture(scope="module")
def slurm_cluster():
    """Start (or reuse) a private single-node SLURM cluster; stop it afterwards if started here."""
    have_binaries = all(_which(b) for b in BINARIES)
    reuse_dir = os.environ.get("PROMOTER_CR_SLURM_DIR")
    if not reuse_dir:
        if os.geteuid() != 0:
            what = (
                "starting munged/slurmd"
                if have_binaries
                else "installing slurm-wlm + munge (apt-get) and starting them"
            )
            pytest.skip(
                f"real SLURM test needs root for {what}; run as root or set PROMOTER_CR_SLURM_DIR to a running cluster"
            )
        if not have_binaries and _which("apt-get") is None:
            pytest.skip("slurm-wlm/munge not installed and apt-get unavailable to install them")
    state_dir = Path(reuse_dir) if reuse_dir else Path(tempfile.mkdtemp(prefix="pcr-slurm-", dir="/tmp"))
    env = {**os.environ}
    if not reuse_dir:
        env["PROMOTER_CR_SLURMCTLD_PORT"] = str(_free_port())
        env["PROMOTER_CR_SLURMD_PORT"] = str(_free_port())
    proc = subprocess.run(
        ["bash", str(SETUP), "start", str(state_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"could not start the SLURM test cluster ({SETUP.name} exit {proc.returncode}):\n{proc.stderr[-6000:]}"
        )
    cluster_env, started = _parse_env(proc.stdout)
    assert "SLURM_CONF" in cluster_env, proc.stdout
    cluster = Cluster(
        env=cluster_env,
        state_dir=state_dir,
        started=started,
        partition=cluster_env.get("PROMOTER_CR_SLURM_PARTITION", "debug"),
    )
    yield cluster
    if started:
        subprocess.run(
            ["bash", str(TEARDOWN), str(state_dir)],
            env={**os.environ, "PROMOTER_CR_SLURM_PURGE": os.environ.get("PROMOTER_CR_SLURM_PURGE", "1")},
            capture_output=True,
            text=True,
            timeout=120,
        )


# ----------------------------------------------------------------------------- helpers
def run_env(cluster: Cluster) -> dict[str, str]:
    """Environment for snakemake: the cluster's SLURM_CONF + srun wrapper, this venv's bin first."""
    env = {**os.environ, **cluster.env}
    env["PATH"] = f"{Path(sys.executable).parent}:{cluster.env.get('PATH', os.environ.get('PATH', ''))}"
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def snakemake_slurm(
    cluster: Cluster, snakefile: Path, workdir: Path, *args: str, targets: tuple[str, ...] = (), timeout: int
) -> subprocess.CompletedProcess:
    """`snakemake --profile profiles/slurm` + the test overrides; targets go first (options
    such as --set-resources take several values and would swallow them)."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        *targets,
        "--snakefile",
        str(snakefile),
        "--profile",
        str(PROFILE),
        "--directory",
        str(workdir),
        *SLURM_TEST_ARGS,
        *args,
    ]
    return subprocess.run(cmd, cwd=workdir, env=run_env(cluster), capture_output=True, text=True, timeout=timeout)


def output_of(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def job_stats(text: str) -> Counter:
    """Rule -> job count from the first ``Job stats:`` table snakemake prints."""
    block = text.split("Job stats:", 1)[1].splitlines()
    counts: Counter = Counter()
    for line in block[3:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    assert counts, f"no job stats in output:\n{text[-3000:]}"
    return counts


def submitted_jobs(text: str) -> dict[str, Path]:
    """SLURM job id -> SLURM log path, from the plugin's submission messages."""
    return {m.group(2): Path(m.group(3)) for m in SUBMITTED_RE.finditer(text)}


def scontrol_job(cluster: Cluster, job_id: str) -> dict[str, str]:
    proc = subprocess.run(
        ["scontrol", "-o", "show", "job", job_id], env=run_env(cluster), capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, f"scontrol show job {job_id}: {proc.stderr}"
    return dict(re.findall(r"(\w[\w/:]*)=(\S*)", proc.stdout))


def jobcomp_states(cluster: Cluster, job_ids: set[str], wait_s: float = 10.0) -> dict[str, str]:
    """JobId -> JobState from the job completion log (jobcomp/filetxt) of the test cluster."""
    conf = Path(cluster.env["SLURM_CONF"]).read_text()
    loc = Path(re.search(r"^JobCompLoc=(\S+)", conf, re.M).group(1))
    deadline = time.monotonic() + wait_s
    while True:
        states = {}
        if loc.exists():
            for line in loc.read_text().splitlines():
                m = re.match(r"JobId=(\d+) .*?JobState=(\S+)", line)
                if m and m.group(1) in job_ids:
                    states[m.group(1)] = m.group(2)
        if set(states) >= job_ids or time.monotonic() > deadline:
            return states
        time.sleep(0.5)


def slurm_jobs(cluster: Cluster, text: str) -> list[SlurmJob]:
    """Every SLURM job the run submitted, with its scontrol record and job-completion state."""
    submitted = submitted_jobs(text)
    comp = jobcomp_states(cluster, set(submitted))
    jobs = []
    for job_id, log in submitted.items():
        job = SlurmJob(job_id, scontrol_job(cluster, job_id), comp.get(job_id))
        assert Path(job.fields.get("StdOut", "")) == log, f"job {job_id}: SLURM log {job.fields.get('StdOut')} != {log}"
        assert log.is_file(), f"SLURM log {log} of job {job_id} missing"
        jobs.append(job)
    return jobs


def check_ran_through_slurm(
    cluster: Cluster, text: str, workdir: Path, local_rules: set[str], expected_failures: Counter | None = None
) -> list[SlurmJob]:
    """Every non-local job of the run completed as a SLURM job; local rules never reached SLURM."""
    expected_failures = expected_failures or Counter()
    stats = job_stats(text)
    jobs = slurm_jobs(cluster, text)
    completed = Counter(j.rule for j in jobs if j.fields.get("JobState") == "COMPLETED")
    failed = Counter(j.rule for j in jobs if j.fields.get("JobState") != "COMPLETED")
    remote = {rule: n for rule, n in stats.items() if rule not in local_rules}
    assert completed == Counter(remote), f"completed SLURM jobs per rule {dict(completed)} != non-local jobs {remote}"
    assert failed == expected_failures, f"unexpected failed SLURM jobs: {dict(failed)}"
    assert not (set(completed) | set(failed)) & local_rules, "a local rule was submitted to SLURM"
    for job in jobs:
        state = job.fields["JobState"]
        assert job.jobcomp_state == state, (
            f"job {job.job_id}: job-completion log says {job.jobcomp_state}, scontrol {state}"
        )
        assert job.fields.get("Partition") == cluster.partition
        assert Path(job.fields.get("WorkDir", "")) == workdir
    return jobs


def job_of(jobs: list[SlurmJob], rule: str) -> SlurmJob:
    return next(j for j in jobs if j.rule == rule and j.fields["JobState"] == "COMPLETED")


# ----------------------------------------------------------------------------- tests
def test_tiny_workflow_through_slurm_profile(slurm_cluster, tmp_path):
    """The tiny workflow in tests/slurm/ runs through the SLURM profile: non-local jobs as
    SLURM jobs with the rule's, the profile's or the command line's resources, a failing job
    is detected (squeue status) and resubmitted (profile `retries`), local rules stay local,
    logs land in .snakemake/slurm_logs/, and a second run has nothing to do."""
    work = tmp_path / "wf"
    work.mkdir()
    snakefile = work / "Snakefile"
    shutil.copy(TINY_SNAKEFILE, snakefile)
    # the profile's training block (32 GB, 8 CPUs) does not fit the test node: replace it,
    # keeping its GPU request (the test cluster has one fake GPU)
    overrides = [
        "--set-threads",
        "train_model=2",
        "--set-resources",
        "train_model:mem_mb=500",
        "train_model:runtime=5",
        "train_model:gpu=1",
    ]

    proc = snakemake_slurm(slurm_cluster, snakefile, work, *overrides, timeout=240)
    text = output_of(proc)
    assert proc.returncode == 0, f"snakemake failed ({proc.returncode}):\n{text[-6000:]}"

    jobs = check_ran_through_slurm(
        slurm_cluster, text, work, local_rules={"all", "download", "plot"}, expected_failures=Counter({"evaluate": 1})
    )
    by_id = {j.job_id: j for j in jobs}

    # each non-local output was written inside the SLURM job that snakemake submitted for it
    for name, rule in [("data_a", "prepare"), ("data_b", "prepare"), ("model", "train_model"), ("metrics", "evaluate")]:
        text_out = (work / "results" / f"{name}.txt").read_text()
        job_id = re.search(r"slurm_job_id=(\S+)", text_out).group(1)
        assert job_id in by_id and by_id[job_id].rule == rule, f"{name}.txt written by job {job_id}"
        assert by_id[job_id].fields["JobState"] == "COMPLETED"
    for name in ("raw", "figure"):  # local rules
        assert (work / "results" / f"{name}.txt").read_text().strip() == "slurm_job_id=none"

    # resources: rule-level (prepare), command-line override of the profile (train_model),
    # profile default-resources (evaluate declares none)
    prepare = job_of(jobs, "prepare")
    assert (prepare.fields["NumCPUs"], prepare.fields["MinMemoryNode"], prepare.fields["TimeLimit"]) == (
        "1",
        "200M",
        "00:05:00",
    )
    train = job_of(jobs, "train_model")
    assert (train.fields["NumCPUs"], train.fields["MinMemoryNode"], train.fields["TimeLimit"]) == (
        "2",
        "500M",
        "00:05:00",
    )
    assert train.fields.get("TresPerJob") == "gres:gpu:1", "resource gpu=1 must reach sbatch as --gpus=1"
    assert "TresPerJob" not in prepare.fields
    assert "cuda_visible_devices=0" in (work / "results" / "model.txt").read_text(), "GPU not visible in the job step"
    evaluate = job_of(jobs, "evaluate")
    assert (evaluate.fields["MinMemoryNode"], evaluate.fields["TimeLimit"]) == ("4000M", "01:00:00")
    assert train.fields["StdOut"].startswith(str(work / ".snakemake" / "slurm_logs" / "rule_train_model"))

    # resuming: a finished run re-run is a no-op (rerun-incomplete is set by the profile)
    again = snakemake_slurm(slurm_cluster, snakefile, work, *overrides, timeout=120)
    assert again.returncode == 0, output_of(again)[-4000:]
    assert "Nothing to be done" in output_of(again)
    assert not submitted_jobs(output_of(again))


def test_real_workflow_through_slurm_profile(slurm_cluster, tmp_path):
    """The real workflow with the tiny test config: data set and all three models are built
    through SLURM (train_network and train_kmer with the command line's resources in place of the
    profile's cluster-sized ones, which ask for a GPU); collect_metrics is a local rule.  Set
    PROMOTER_CR_SLURM_TARGETS=all
    to run the whole pipeline (several minutes on 2 cores)."""
    if not (ROOT / "Snakefile").is_file() or not TINY_CONFIG.is_file():
        pytest.skip("Snakefile or tests/data/tiny_config.yaml missing")
    targets_env = os.environ.get("PROMOTER_CR_SLURM_TARGETS", "")
    targets = [] if targets_env == "all" else (targets_env.split() or ["results/tiny/models/metrics.tsv"])
    work = tmp_path / "real"
    work.mkdir()
    proc = snakemake_slurm(
        slurm_cluster,
        ROOT / "Snakefile",
        work,
        "--configfile",
        str(TINY_CONFIG),
        "--set-threads",
        "train_network=1",
        "train_kmer=1",
        "--set-resources",
        "train_network:mem_mb=2000",
        "train_network:runtime=10",
        "train_kmer:mem_mb=2000",
        "train_kmer:runtime=10",
        targets=tuple(targets),
        timeout=600,
    )
    text = output_of(proc)
    assert proc.returncode == 0, f"snakemake failed ({proc.returncode}):\n{text[-6000:]}"
    local = {"all", "collect_metrics", "download_xpresso", "download_genome"} | {
        rule for rule in job_stats(text) if rule.startswith("figures_")
    }
    jobs = check_ran_through_slurm(slurm_cluster, text, work, local_rules=local)
    rules = Counter(j.rule for j in jobs)
    assert (rules["build_data"], rules["train_network"], rules["train_kmer"]) == (1, 3, 1), rules
    train = job_of(jobs, "train_network")
    assert (train.fields["NumCPUs"], train.fields["MinMemoryNode"], train.fields["TimeLimit"]) == (
        "1",
        "2000M",
        "00:10:00",
    )
    metrics = pd.read_csv(work / "results" / "tiny" / "models" / "metrics.tsv", sep="\t")
    assert set(metrics["model"]) == {"cr", "cnn", "xpresso_cnn", "kmer_ridge"}
    assert (work / "results" / "tiny" / "logs" / "train_cr.log").is_file()
