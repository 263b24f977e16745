"""Configuration: YAML files validated against the package's JSON schema, with defaults.

The same :func:`validate_config` runs in the Snakefile at start-up and in the CLI,
so an unknown key, a wrong type or a missing input file fails before any job runs,
with a message that names the key and the config file.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from promoter_cr.errors import ConfigError

SCHEMA_FILE = "config.schema.yaml"


def load_schema() -> dict[str, Any]:
    """The config JSON schema (a dict)."""
    text = resources.files("promoter_cr").joinpath("schema", SCHEMA_FILE).read_text()
    return yaml.safe_load(text)


def _extend_with_default(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub and prop not in instance:
                    instance[prop] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _extend_with_default(jsonschema.Draft202012Validator)


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "<top level>"


#: keys renamed since an earlier release: old dotted path -> new one (named in the error)
RENAMED = {"variants.on_unknown_chromosome": "variants.missing_chromosome"}


def _describe(error: jsonschema.ValidationError) -> str:
    key = _key_path(error)
    if error.validator == "additionalProperties":
        # name the unknown key itself
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        if extra:
            where = f"{key}." if error.absolute_path else ""
            if f"{where}{extra[0]}" in RENAMED:
                return f"key '{where}{extra[0]}' was renamed '{RENAMED[where + extra[0]]}'"
            allowed = ", ".join(sorted(error.schema.get("properties", {})))
            return f"unknown key '{where}{extra[0]}' (allowed here: {allowed})"
    if "propertyNames" in error.schema_path and error.validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        return f"unknown key '{key}.{error.instance}' (allowed here: {allowed})"
    return f"key '{key}': {error.message}"


def validate_config(
    config: Mapping[str, Any], source: str | Path | None = None, semantics: bool = True
) -> dict[str, Any]:
    """Validate ``config`` against the schema and fill in defaults.

    Returns a new dict (the input is not modified). Raises :class:`ConfigError`
    naming the offending key and ``source`` (the config file) on the first error,
    most specific first. ``semantics=False`` skips the cross-section checks (input
    paths of the chosen source, ``analysis_model``): the CLI uses it for the partial
    configs that Snakemake rules pass inline.
    """
    cfg = copy.deepcopy(dict(config))
    schema = load_schema()
    validator = _Validator(schema)
    # fill defaults, then collect errors (defaults may make later checks meaningful)
    errors = sorted(
        validator.iter_errors(cfg), key=lambda e: (len(list(e.absolute_path)), str(list(e.absolute_path))), reverse=True
    )
    if errors:
        where = f" in {source}" if source else ""
        raise ConfigError(f"invalid config{where}: {_describe(errors[0])}")
    _check_values(cfg, source)
    if semantics:
        _check_semantics(cfg, source)
    return cfg


def _check_values(cfg: dict[str, Any], source: str | Path | None) -> None:
    """Combinations of values the schema cannot express (no file access; runs for partial configs too)."""
    where = f" in {source}" if source else ""
    split = cfg["dataset"]["split"]
    if split["method"] in ("auto", "random") and split["valid_fraction"] + split["test_fraction"] >= 1:
        raise ConfigError(
            f"invalid config{where}: keys 'dataset.split.valid_fraction' + 'dataset.split.test_fraction' "
            f"= {split['valid_fraction'] + split['test_fraction']:g} leave no genes to train on (must be < 1)"
        )


def _need_path(cfg: dict, dotted: str, source: str | Path | None, must_exist: bool = True) -> None:
    node: Any = cfg
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    where = f" in {source}" if source else ""
    if node in (None, ""):
        raise ConfigError(f"invalid config{where}: key '{dotted}' is required for this data source")
    if must_exist and not Path(node).exists():
        raise ConfigError(f"invalid config{where}: key '{dotted}': file not found: {node}")


def _check_semantics(cfg: dict[str, Any], source: str | Path | None) -> None:
    """Checks the schema cannot express: required and existing paths per source, model names."""
    ds = cfg["dataset"]
    where = f" in {source}" if source else ""

    if ds["source"] == "fasta":
        _need_path(cfg, "dataset.fasta.sequences", source)
        if ds["fasta"].get("labels"):
            _need_path(cfg, "dataset.fasta.labels", source)
    elif ds["source"] == "genome":
        if not ds["genome"].get("fasta_url"):
            _need_path(cfg, "dataset.genome.fasta", source)
        _need_path(cfg, "dataset.genome.tss", source)
        _need_path(cfg, "dataset.genome.expression", source)
    elif ds["source"] == "xpresso":
        x = ds["xpresso"]
        if x.get("local_dir"):
            _need_path(cfg, "dataset.xpresso.local_dir", source)
        elif not x.get("url"):
            raise ConfigError(f"invalid config{where}: key 'dataset.xpresso': give url or local_dir")
        if x["window_end"] <= x["window_start"]:
            raise ConfigError(
                f"invalid config{where}: key 'dataset.xpresso.window_end' must be greater than window_start"
            )
    if cfg["motifs"].get("meme_file"):
        _need_path(cfg, "motifs.meme_file", source)
    name = cfg["analysis_model"]
    models = cfg["models"]
    if name not in models:
        raise ConfigError(
            f"invalid config{where}: key 'analysis_model': {name!r} is not one of the models ({', '.join(models)})"
        )
    if models[name]["type"] != "cr":
        raise ConfigError(
            f"invalid config{where}: key 'analysis_model': model {name!r} has type "
            f"{models[name]['type']!r}; it must be a 'cr' model"
        )
    lo, hi = cfg["cluster"]["k_range"]
    if hi < lo:
        raise ConfigError(f"invalid config{where}: key 'cluster.k_range': upper bound {hi} is below lower bound {lo}")


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``override`` into a copy of ``base`` (mappings merge, the rest replaces)."""
    out = copy.deepcopy(base)
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read a YAML config file, merge ``overrides`` and validate it."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if not raw:
        raise ConfigError(f"config file {path} is empty: start from config/config.yaml")
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping")
    if overrides:
        raw = deep_merge(raw, overrides)
    return validate_config(raw, path)


def section_defaults(section: str) -> dict[str, Any]:
    """The schema's defaults of one top-level config section."""
    return validate_config({}, semantics=False)[section]


def model_defaults(model_type: str) -> dict[str, Any]:
    """The schema's defaults of a ``models.<name>`` entry of ``model_type`` (``type`` included)."""
    cfg = validate_config({"models": {"m": {"type": model_type}}}, semantics=False)
    return cfg["models"]["m"]


def model_config(cfg: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A model's settings: its ``models.<name>`` entry over the ``train`` defaults."""
    entry = dict(cfg["models"][name])
    merged = {**cfg["train"], **entry}
    merged["name"] = name
    return merged
