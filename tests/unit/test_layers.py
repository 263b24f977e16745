"""The house plan: every import inside the package points down the floors below (none upward).

Function-level imports count too (``ast.walk`` sees them), so a lazy import cannot hide an upward
arrow. A new top-level module or subpackage must be given a floor here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import promoter_cr

#: lowest first; a module may import its own floor and the floors below it
FLOORS: list[set[str]] = [
    {"errors", "atomic", "config", "layout", "chunks", "runtime", "console", "runlock", "schema"},
    {"seq", "stats"},  # sequence kernels (encoding, motifs, Tomtom, FIMO); metrics, FDR, interaction tests
    {"data"},  # the on-disk data set, splits, readers, downloads, sources
    {"models"},  # networks, training, checkpoints, inference
    {"insilico"},  # the one edit mechanism
    {"interpret"},  # weighted features, clusters, faithfulness, saturation, variants
    {"motifs"},  # the grammar and de novo stages
    {"plots"},
    {"commands", "cli", "warmup", "__main__", "__init__"},
]
ROOT = Path(promoter_cr.__file__).parent


def _unit(path: Path) -> str:
    parts = path.relative_to(ROOT).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def _floor(unit: str) -> int:
    for i, names in enumerate(FLOORS):
        if unit in names:
            return i
    raise AssertionError(f"{unit!r} has no floor in tests/unit/test_layers.py")


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, top-level unit)`` of every ``promoter_cr`` import in ``path``, nested ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "promoter_cr" and len(parts) > 1:
                out.append((node.lineno, parts[1]))
    return out


def test_no_relative_imports():
    rel = [
        f"{p.relative_to(ROOT)}:{n.lineno}"
        for p in ROOT.rglob("*.py")
        for n in ast.walk(ast.parse(p.read_text()))
        if isinstance(n, ast.ImportFrom) and n.level > 0
    ]
    assert not rel, f"relative imports (write promoter_cr.x, so the floor check sees them): {rel}"


def test_imports_point_down():
    upward = []
    modules = sorted(ROOT.rglob("*.py"))
    assert len(modules) > 50
    for path in modules:
        me = _unit(path)
        for line, target in _imports(path):
            if _floor(target) > _floor(me):
                upward.append(f"{path.relative_to(ROOT)}:{line} ({me}) imports {target}")
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_kernel_floor_stands_alone():
    """``seq`` and ``stats`` are the floor everything builds on: they import only the base modules
    and each other's own package (``seq`` never ``stats`` or the reverse)."""
    for pkg in ("seq", "stats"):
        for path in (ROOT / pkg).rglob("*.py"):
            for line, target in _imports(path):
                assert target == pkg or _floor(target) == 0, f"{pkg}/{path.name}:{line} imports {target}"
