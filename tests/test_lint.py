"""Style gates run by the test suite: ruff (lint and format), snakefmt and ``snakemake --lint``.

The tools come with the ``test`` extra; they run with the interpreter of the test session, so an
activated venv is not needed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON_TREES = ["src", "tests", "benchmarks", "workflow/scripts"]


def _tool(name: str) -> str:
    """The console script ``name`` next to the running interpreter, else on PATH; skip if absent."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.is_file() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e .[test])")
    return found


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint_is_clean():
    proc = _run(_tool("ruff"), "check", "--output-format", "concise", *PYTHON_TREES)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_ruff_format_is_clean():
    proc = _run(_tool("ruff"), "format", "--check", *PYTHON_TREES)
    assert proc.returncode == 0, "run `make format`:\n" + proc.stdout[-4000:] + proc.stderr[-2000:]


def test_snakefmt_is_clean():
    proc = _run(_tool("snakefmt"), "--check", "Snakefile", "workflow")
    assert proc.returncode == 0, "run `make format`:\n" + proc.stdout[-4000:] + proc.stderr[-4000:]


def test_snakemake_lint_is_clean():
    proc = _run(_tool("snakemake"), "--lint", "--directory", str(ROOT))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Congratulations" in out, out[-4000:]
