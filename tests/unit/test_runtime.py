"""Thread limits: a job's ``threads`` reach torch, BLAS/OpenMP and numba, and commands that run
no model do not pay for importing torch. Each case runs in a fresh interpreter, because thread
pools can only be sized before their first use."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def run_python(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip()


def test_model_commands_size_torch_pools_before_running():
    out = run_python(
        """
        import os
        from promoter_cr.runtime import THREAD_ENV, limit_threads
        limit_threads(1, torch_pools=True)
        import torch
        print(torch.get_num_threads(), torch.get_num_interop_threads(), {os.environ[v] for v in THREAD_ENV})
        """
    )
    assert out == "1 1 {'1'}"


def test_other_commands_skip_torch_but_a_later_import_still_obeys():
    out = run_python(
        """
        import sys
        from promoter_cr.runtime import limit_threads
        limit_threads(1)
        loaded = "torch" in sys.modules
        import torch
        print(loaded, torch.get_num_threads())
        """
    )
    assert out == "False 1"


@pytest.mark.parametrize(
    "argv, runs_torch",
    [
        (["attribute", "--config", "c.yaml", "--checkpoint", "a.ckpt", "--data", "d", "--out", "o"], True),
        (["train", "--config", "c.yaml", "--data", "d", "--model", "cr", "--out", "o"], True),
        (["metrics", "--models-dir", "m", "--names", "cr", "--out", "o.tsv"], False),
        (["cluster", "--config", "c.yaml", "--attributions", "a", "--out", "o"], False),
    ],
)
def test_which_commands_run_torch(argv, runs_torch):
    from promoter_cr.cli import build_parser

    args = build_parser().parse_args(argv)
    assert getattr(args, "runs_torch", False) is runs_torch


def test_reading_checkpoints_and_metrics_does_not_import_lightning():
    """Lightning costs several seconds of start-up; only training needs it."""
    out = run_python(
        """
        import sys
        import promoter_cr.models.checkpoint, promoter_cr.models.train, promoter_cr.models.inference
        print(sorted(m for m in ("lightning", "pytorch_lightning") if m in sys.modules))
        """
    )
    assert out == "[]"
