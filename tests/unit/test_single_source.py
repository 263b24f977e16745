"""Each fact lives in one place: defaults only in the schema, file names only in the layout module.

These checks read the package's source (AST), so a default written twice fails here before it
can drift: no function parameter named like a schema key has a literal default, no
``x.get("<schema key>", <literal>)`` fallback exists, and no module but ``layout.py`` spells a
result file name. The entry points are also called with ``validate_config({})`` and the values
that arrive are checked against the schema's defaults.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from promoter_cr.config import load_schema, model_defaults, validate_config

PKG = Path(__file__).resolve().parents[2] / "src" / "promoter_cr"
SOURCES = sorted(p for p in PKG.rglob("*.py"))


def schema_keys(schema: dict) -> set[str]:
    """Every property name of the schema (leaf or section), at any depth."""
    keys: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.get("properties", {}).items():
                keys.add(k)
                walk(v)
            for k in ("additionalProperties", "items", "then", "else", "if"):
                if isinstance(node.get(k), dict):
                    walk(node[k])
            for sub in node.get("allOf", []) + node.get("anyOf", []) + node.get("oneOf", []):
                walk(sub)

    walk(schema)
    return keys


#: schema keys whose names are also everyday words for non-config values; a parameter of that
#: name is flagged only when the literal is the schema's own default for some key of that name
GENERIC = {"name", "type", "length"}
KEYS = schema_keys(load_schema()) - GENERIC


def _is_literal(node: ast.AST) -> bool:
    """A literal value other than ``None`` (``None`` means "not given", never a setting)."""
    if isinstance(node, ast.Constant):
        return node.value is not None
    if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
        return True
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(_is_literal(e) for e in node.elts)
    return False


def _literal_defaults(tree: ast.AST):
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        args = fn.args
        positional = args.posonlyargs + args.args
        pairs = list(zip(positional[len(positional) - len(args.defaults) :], args.defaults))
        pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
        for arg, default in pairs:
            if arg.arg in KEYS and _is_literal(default):
                yield fn.name, arg.arg, fn.lineno


def _get_fallbacks(tree: ast.AST):
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get", "setdefault")
            and len(node.args) == 2
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in KEYS
            and _is_literal(node.args[1])
        ):
            yield node.args[0].value, node.lineno


def test_no_literal_default_for_a_schema_key_outside_the_schema():
    found = []
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        rel = path.relative_to(PKG)
        found += [f"{rel}:{line} {fn}({arg}=...)" for fn, arg, line in _literal_defaults(tree)]
        found += [f"{rel}:{line} .get({key!r}, <literal>)" for key, line in _get_fallbacks(tree)]
    assert not found, "defaults written outside the schema:\n" + "\n".join(found)


RESULT_NAME = re.compile(r"""["'][\w.-]+\.(tsv|json|npy|npz|parquet|meme|ckpt|pkl|h5)["']""")


def test_result_file_names_only_in_the_layout_module():
    allowed = {PKG / "layout.py"}
    found = []
    for path in SOURCES:
        if path in allowed:
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if RESULT_NAME.search(code) and '"""' not in code and "``" not in code:
                found.append(f"{path.relative_to(PKG)}:{i}: {line.strip()}")
    assert not found, "file names outside layout.py:\n" + "\n".join(found)


def test_entry_points_receive_the_schema_defaults():
    """``validate_config({})`` supplies every value the stages read, equal to the schema's defaults."""
    cfg = validate_config({}, semantics=False)
    schema = load_schema()
    for section in ("train", "attribution", "cluster", "motifs", "grammar", "figures", "download"):
        props = schema["properties"][section]["properties"]
        for key, sub in props.items():
            if "default" in sub and sub.get("type") != "object":
                assert cfg[section][key] == sub["default"], (section, key)
    # per-type model defaults (the architecture sizes) arrive in the model config
    cr = model_defaults("cr")
    from promoter_cr.config import model_config

    merged = model_config({**cfg, "models": {"cr": cr}}, "cr")
    assert merged["channels"] == cr["channels"] and merged["lr"] == cr["lr"] and merged["seed"] == cfg["train"]["seed"]
    from promoter_cr.models.registry import architecture_keys, model_kwargs

    assert set(model_kwargs(merged)) == set(architecture_keys("cr"))
