"""The package's house plan: every import of ``promoter_cr`` runs down the floors, never up or across.

Each top-level module or subpackage of ``src/promoter_cr`` has a floor. A module may import what
lives on a lower floor or in its own unit; an import of a unit on the same floor or above is an
error (it is how layering decays: a kernel that starts reading result files, a model that reaches
into the motif stage). Imports inside functions count the same as those at the top of a module:
moving an import into a function hides an upward arrow, it does not remove it. The walk uses
``ast`` on the source files, so nothing of the package is imported or run; ``import_module`` calls
with a literal ``promoter_cr.`` name (or an f-string that starts with one) count as imports.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "promoter_cr"

#: floor of each unit (top-level module or subpackage), lowest first
FLOORS: dict[str, int] = {
    # the package's face (version) and the plumbing every floor may use
    "__init__": 0,
    "errors": 0,
    "console": 0,
    "chunks": 0,
    "atomic": 1,
    "runlock": 1,
    "runtime": 1,
    "config": 1,
    "layout": 1,
    # array kernels with no data set behind them: sequences, motifs, statistics, edits
    "seq": 2,
    "stats": 2,
    "insilico": 2,
    # the on-disk data set, its sources and readers
    "data": 3,
    "warmup": 3,
    # networks, training and the one inference path
    "models": 4,
    # attributions, clusters, variant effects; then the motif grammar read from them
    "interpret": 5,
    "motifs": 6,
    # figures (tables in, pictures out), then the command line over everything
    "plots": 7,
    "commands": 8,
    "cli": 9,
    "__main__": 10,
}


def _module_name(path: Path) -> str:
    parts = ("promoter_cr",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _called_name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _literal_prefix(arg: ast.expr) -> str:
    """The constant text of a string argument, or of an f-string up to its first placeholder."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        return str(arg.values[0].value)
    return ""


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of the package in one file (any depth, relative ones resolved)."""
    module = _module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                out.append((node.lineno, ".".join(base + ([node.module] if node.module else []))))
            elif node.module:
                out.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and _called_name(node.func) == "import_module" and node.args:
            name = _literal_prefix(node.args[0])  # import_module("promoter_cr.x") or f"promoter_cr.x.{y}"
            if name:
                out.append((node.lineno, name.rstrip(".")))
    return [(line, m) for line, m in out if m == "promoter_cr" or m.startswith("promoter_cr.")]


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_unit_has_a_floor():
    units = {_unit(_module_name(p)) for p in _sources()}
    missing = sorted(units - set(FLOORS))
    assert not missing, f"give these units a floor in FLOORS: {missing}"


def test_imports_only_run_downward():
    upward = []
    for path in _sources():
        here = _unit(_module_name(path))
        for line, target in imported_modules(path):
            there = _unit(target)
            if there != here and FLOORS.get(there, 99) >= FLOORS.get(here, -1):
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({here}, floor {FLOORS.get(here)}) "
                              f"imports {target} ({there}, floor {FLOORS.get(there)})")  # fmt: skip
    assert not upward, "imports that run up or across the floors:\n" + "\n".join(upward)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import promoter_cr.seq.encoding\n", ["promoter_cr.seq.encoding"]),
        ("def f():\n    from promoter_cr.models import cr\n", ["promoter_cr.models"]),
        ("from . import cluster\n", ["promoter_cr.interpret"]),
        ("from ..data.dataset import load_dataset\n", ["promoter_cr.data.dataset"]),
        ("import numpy\nfrom os import path\n", []),
        ('import importlib\nimportlib.import_module(f"promoter_cr.plots.{name}")\n', ["promoter_cr.plots"]),
    ],
)
def test_the_walk_sees_top_level_relative_and_function_level_imports(tmp_path, monkeypatch, source, expected):
    pkg = tmp_path / "promoter_cr"
    (pkg / "interpret").mkdir(parents=True)
    f = pkg / "interpret" / "attribute.py"
    f.write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    assert [m for _, m in imported_modules(f)] == expected


def test_an_upward_import_is_reported(tmp_path, monkeypatch):
    pkg = tmp_path / "promoter_cr"
    (pkg / "models").mkdir(parents=True)
    (pkg / "models" / "train.py").write_text("def f():\n    from promoter_cr.motifs.grammar import run\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    with pytest.raises(AssertionError, match=r"models/train.py:2 \(models, floor 4\) imports promoter_cr.motifs"):
        test_imports_only_run_downward()
