"""Config validation: defaults, unknown keys, wrong types, missing paths, named keys and files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from promoter_cr.config import deep_merge, load_config, model_config, validate_config
from promoter_cr.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_empty_config_gets_every_default():
    cfg = validate_config({})
    assert cfg["dataset"]["source"] == "simulate"
    assert cfg["dataset"]["simulate"]["n_genes"] > 0
    assert set(cfg["models"]) == {"cr", "cnn", "xpresso_cnn", "kmer_ridge"}
    assert cfg["train"]["resources"]["gpus"] == 0
    assert cfg["cluster"]["k_range"] == [2, 8]


def test_input_not_modified():
    raw = {"train": {"seed": 3}}
    validate_config(raw)
    assert raw == {"train": {"seed": 3}}


@pytest.mark.parametrize(
    "bad, key",
    [
        ({"dataset": {"simulat": {}}}, "dataset.simulat"),
        ({"models": {"cr": {"type": "cr", "max_epochs": "ten"}}}, "models.cr.max_epochs"),
        ({"train": {"max_epochs": 3}}, "train.max_epochs"),
        ({"models": {"cr": {"type": "cr", "chanels": 8}}}, "models.cr.chanels"),
        ({"models": {"m": {"type": "transformer"}}}, "models.m.type"),
        ({"cluster": {"k_range": [5, 2]}}, "cluster.k_range"),
        ({"analysis_model": "kmer", "models": {"kmer": {"type": "kmer_ridge"}}}, "analysis_model"),
        ({"dataset": {"source": "fasta"}}, "dataset.fasta.sequences"),
        ({"dataset": {"source": "fasta", "fasta": {"sequences": "missing.fa"}}}, "dataset.fasta.sequences"),
        ({"dataset": {"source": "genome", "genome": {"fasta": "x.fa"}}}, "dataset.genome.fasta"),
        ({"motifs": {"p_threshold": 0.5}}, "motifs.p_threshold"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_bad_configs_name_key_and_file(bad, key):
    with pytest.raises(ConfigError) as err:
        validate_config(bad, source="my.yaml")
    msg = str(err.value)
    assert key in msg
    assert "my.yaml" in msg


def test_load_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("train:\n  lr: -1\n")
    with pytest.raises(ConfigError, match=r"wrong\.yaml.*train\.lr"):
        load_config(wrong)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# only a comment\n")
    with pytest.raises(ConfigError, match=r"config file \S*empty\.yaml is empty"):
        load_config(empty)


def test_model_config_merges_train_section_and_type_recipe():
    cfg = validate_config(
        {"models": {"cr": {"type": "cr", "lr": 0.01}, "x": {"type": "xpresso_cnn"}}, "train": {"seed": 7}}
    )
    m = model_config(cfg, "cr")
    assert m["lr"] == 0.01 and m["seed"] == 7 and m["name"] == "cr" and m["batch_size"] == 64
    x = model_config(cfg, "x")  # each type trains with its own recipe
    assert x["optimizer"] == "adam" and x["lr"] == 0.001 and x["batch_size"] == 128 and x["seed"] == 7


def test_deep_merge():
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}, "d": 4}) == {"a": {"b": 1, "c": 3}, "d": 4}


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "config").glob("*.yaml")) + [ROOT / "tests" / "data" / "tiny_config.yaml"],
    ids=lambda p: p.name,
)
def test_shipped_configs_validate_schema(path):
    raw = yaml.safe_load(path.read_text())
    # schema-level validation (input files of user configs may not exist on this machine)
    validate_config(raw, source=path, semantics=False)


#: what each shipped config trains: model name -> type (a config file is the whole configuration)
SHIPPED_MODELS = {
    "config.yaml": {"cr": "cr", "cnn": "cnn", "xpresso_cnn": "xpresso_cnn", "kmer_ridge": "kmer_ridge"},
    "genome.yaml": {"cr": "cr", "cnn": "cnn", "xpresso_cnn": "xpresso_cnn", "kmer_ridge": "kmer_ridge"},
    "xpresso.yaml": {
        "cr": "cr",
        "cr_halflife": "cr",
        "cnn": "cnn",
        "xpresso_cnn": "xpresso_cnn",
        "xpresso_cnn_halflife": "xpresso_cnn",
        "kmer_ridge": "kmer_ridge",
    },
    "xpresso_mouse.yaml": {
        "cr": "cr",
        "cr_halflife": "cr",
        "cnn": "cnn",
        "xpresso_cnn": "xpresso_cnn",
        "xpresso_cnn_halflife": "xpresso_cnn",
        "kmer_ridge": "kmer_ridge",
    },
}


@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_resolved_config_of_each_shipped_file(name):
    """Each shipped config trains exactly the models it lists, and models that differ only in
    use_extra (with/without half-life features) share one architecture and optimiser setting."""
    from promoter_cr.models.registry import architecture_keys

    cfg = validate_config(yaml.safe_load((ROOT / "config" / name).read_text()), semantics=False)
    assert {n: m["type"] for n, m in cfg["models"].items()} == SHIPPED_MODELS[name]
    for base in ("cr", "xpresso_cnn"):
        if f"{base}_halflife" in cfg["models"]:
            a, b = model_config(cfg, base), model_config(cfg, f"{base}_halflife")
            assert not a["use_extra"] and b["use_extra"]
            keys = set(architecture_keys(base if base == "cr" else "xpresso_cnn"))
            assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
            for k in ("lr", "weight_decay", "batch_size", "max_epochs", "patience", "optimizer"):
                assert a[k] == b[k], (name, k)


def test_renamed_key_names_its_new_name():
    from promoter_cr.config import validate_config
    from promoter_cr.errors import ConfigError

    with pytest.raises(ConfigError, match="variants.on_unknown_chromosome' was renamed 'variants.missing_chromosome'"):
        validate_config({"variants": {"on_unknown_chromosome": "skip"}})
