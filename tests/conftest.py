"""Shared pytest fixtures and paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
TINY_CONFIG = ROOT / "tests" / "data" / "tiny_config.yaml"

# keep tests light on the 2-core CI machine
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the project; tests using it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (only present on the team's machines and CI)")
    return SHARED_DATA


#: test files that run whole workflows, longest first: pytest-xdist (`make test`) hands files to
#: workers in collection order, so these start at once, and the SLURM tests (mostly waiting on
#: the scheduler) overlap with the CPU-bound tiny pipeline instead of trailing after it
LONG_FILES = ("test_workflow.py", "test_slurm.py", "test_resume.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FILES)))
