"""Tests of the data-set format (dataset.py) and the sequence encodings (encoding.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from promoter_cr.config import section_defaults
from promoter_cr.data.dataset import SequenceWriter, load_dataset, sha256_file, validate_genes, write_dataset
from promoter_cr.data.splits import apply_split, assign_split, chromosome_split, random_split
from promoter_cr.errors import InputDataError
from promoter_cr.seq.chromosomes import normalise_chrom

torch.set_num_threads(1)


# --------------------------------------------------------------------------- splits
def test_random_split_is_seeded_with_requested_sizes():
    a = random_split(1000, 0.1, 0.2, seed=3)
    assert np.array_equal(a, random_split(1000, 0.1, 0.2, seed=3))
    assert not np.array_equal(a, random_split(1000, 0.1, 0.2, seed=4))
    assert (a == "valid").sum() == 100 and (a == "test").sum() == 200 and (a == "train").sum() == 700
    with pytest.raises(ValueError):
        random_split(10, 0.6, 0.5, seed=0)


def test_normalise_and_chromosome_split():
    assert [normalise_chrom(c) for c in ["chr1", "1", "MT", "chrM", "chrX", "M"]] == ["1", "1", "M", "M", "X", "M"]
    split = chromosome_split(["chr1", "2", "chr2", "MT", "X"], valid_chroms=["chrM"], test_chroms=["2"])
    assert list(split) == ["train", "test", "test", "valid", "train"]
    with pytest.raises(ValueError, match="both"):
        chromosome_split(["1"], ["chr1"], ["1"])


def test_assign_split_methods():
    genes = pd.DataFrame(
        {
            "gene_id": list("abcd"),
            "label": [1.0] * 4,
            "chrom": ["1", "2", "1", "3"],
            "split": ["train", "train", "valid", "test"],
        }
    )
    split = section_defaults("dataset")["split"]
    assert list(assign_split(genes, {**split, "method": "auto"}, has_source_split=True)) == [
        "train",
        "train",
        "valid",
        "test",
    ]
    assert list(
        assign_split(genes, {**split, "method": "auto", "test_chromosomes": ["chr2"]}, has_source_split=False)
    ) == ["train", "test", "train", "train"]
    assert (
        len(
            assign_split(
                genes.drop(columns="chrom"),
                {**split, "method": "auto", "test_chromosomes": ["2"], "test_fraction": 0.25, "valid_fraction": 0.25},
                has_source_split=False,
            )
        )
        == 4
    )
    with pytest.raises(ValueError, match="no split of its own"):
        assign_split(genes, {**split, "method": "keep"}, has_source_split=False)
    with pytest.raises(ValueError, match="no chromosome"):
        assign_split(genes.drop(columns="chrom"), {**split, "method": "chromosome"}, has_source_split=False)


def test_a_split_that_leaves_valid_or_test_empty_is_refused_at_build_time():
    genes = pd.DataFrame({"gene_id": ["a", "b", "c", "d"], "chrom": ["chr1", "chr1", "chr2", "chr3"]})
    split = section_defaults("dataset")["split"]
    cfg = {**split, "method": "chromosome", "valid_chromosomes": ["chr2"], "test_chromosomes": ["chrX"]}
    with pytest.raises(
        InputDataError,
        match=r"genes.tsv: split method 'chromosome' leaves no genes in test .*valid_chromosomes / test_chromosomes",
    ):
        apply_split(genes, cfg, has_source_split=False, path="genes.tsv")
    with pytest.raises(InputDataError, match="leaves no genes in valid and test"):
        apply_split(
            genes,
            {**split, "method": "random", "valid_fraction": 0.0, "test_fraction": 0.0},
            has_source_split=False,
            path="x.csv",
        )
    ok, record = apply_split(genes, {**cfg, "test_chromosomes": ["chr3"]}, has_source_split=False, path="genes.tsv")
    assert list(ok) == ["train", "train", "valid", "test"] and record["method"] == "chromosome"


# --------------------------------------------------------------------------- genes table
def _genes(n=3, **cols):
    return pd.DataFrame(
        {"gene_id": [f"g{i}" for i in range(n)], "label": np.arange(n, dtype=float), "split": ["train"] * n, **cols}
    )


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda g: g.assign(gene_id=["a", "b", "a"]), r"gene a: duplicate gene id"),
        (lambda g: g.assign(label=[1.0, np.nan, 2.0]), r"gene g1: label \S*nan\S* is not a finite number"),
        (lambda g: g.assign(label=["1", "x", "2"]), r"gene g1: label 'x' is not a finite number"),
        (lambda g: g.assign(label=[1.0, np.inf, 2.0]), r"gene g1: label \S*inf\S* is not a finite number"),
        (lambda g: g.assign(gene_id=["a", " ", "c"]), r"row 2: empty gene id"),
        (lambda g: g.assign(split=["train", "dev", "test"]), r"gene g1: unknown split 'dev'"),
        (lambda g: g.iloc[:0], r"empty input"),
    ],
)
def test_validate_genes_errors(mutate, match):
    with pytest.raises(InputDataError, match=match) as info:
        validate_genes(mutate(_genes()), "labels.tsv")
    assert str(info.value).startswith("labels.tsv")


def test_validate_genes_converts_labels():
    out = validate_genes(_genes().assign(label=["1.5", "2", "-3e-1"]), None)
    assert out["label"].dtype == np.float64 and list(out["label"]) == [1.5, 2.0, -0.3]


# --------------------------------------------------------------------------- write / load
def test_write_and_load_roundtrip(tmp_path):
    seqs = np.random.default_rng(0).integers(0, 5, size=(3, 12)).astype(np.uint8)
    genes = _genes(hl_0=[0.1, 0.2, 0.3], chrom=["1", "2", "3"])[["chrom", "gene_id", "hl_0", "label", "split"]]
    write_dataset(tmp_path / "d", seqs, genes, {"source": "test", "extra_features": ["hl_0"]})
    ds = load_dataset(tmp_path / "d")
    assert isinstance(ds.sequences, np.memmap) and np.array_equal(ds.sequences, seqs)
    assert list(ds.genes.columns) == ["gene_id", "label", "split", "hl_0", "chrom"]
    assert ds.n == 3 and ds.length == 12 and ds.extra().shape == (3, 1) and ds.extra().dtype == np.float32
    assert (
        list(ds.indices("train")) == [0, 1, 2]
        and list(ds.indices("test")) == []
        and list(ds.indices(None)) == [0, 1, 2]
    )
    with pytest.raises(ValueError):
        ds.indices("dev")
    meta = json.loads((tmp_path / "d" / "meta.json").read_text())
    assert meta["n_genes"] == 3 and meta["length"] == 12 and meta["split_counts"] == {"train": 3, "valid": 0, "test": 0}
    assert len(sha256_file(tmp_path / "d" / "sequences.npy")) == 64


def test_gene_ids_stay_strings(tmp_path):
    genes = pd.DataFrame(
        {"gene_id": ["001", "1e5", "NA"], "label": [1.0, 2.0, 3.0], "split": ["train", "valid", "test"]}
    )
    write_dataset(tmp_path / "d", np.zeros((3, 4), np.uint8), genes, {"source": "test"})
    assert list(load_dataset(tmp_path / "d").genes["gene_id"]) == ["001", "1e5", "NA"]


def test_load_dataset_errors(tmp_path):
    with pytest.raises(InputDataError, match="missing"):
        load_dataset(tmp_path)
    write_dataset(tmp_path / "d", np.zeros((3, 4), np.uint8), _genes(), {"source": "test"})
    np.save(tmp_path / "d" / "sequences.npy", np.zeros((2, 4), np.uint8))
    with pytest.raises(InputDataError, match="3 rows but sequences.npy has 2"):
        load_dataset(tmp_path / "d")
    np.save(tmp_path / "d" / "sequences.npy", np.zeros((3, 4), np.float32))
    with pytest.raises(InputDataError, match="2-D uint8"):
        load_dataset(tmp_path / "d")


def test_sequence_writer_blockwise_and_atomic(tmp_path):
    path = tmp_path / "sequences.npy"
    with SequenceWriter(path, 5, 3) as w:
        w.write(0, np.ones((2, 3), np.uint8))
        w.write(2, np.full((3, 3), 2, np.uint8))
    arr = np.load(path)
    assert arr.shape == (5, 3) and (arr[:2] == 1).all() and (arr[2:] == 2).all()
    write_dataset(tmp_path, None, _genes(5), {"source": "test"}, sequences_written=True)
    assert load_dataset(tmp_path).n == 5

    other = tmp_path / "x" / "sequences.npy"
    with pytest.raises(RuntimeError):
        with SequenceWriter(other, 4, 3) as w:
            w.write(0, np.ones((2, 3), np.uint8))
            raise RuntimeError("boom")
    assert list((tmp_path / "x").iterdir()) == []
    with pytest.raises(ValueError, match="rows"):
        write_dataset(tmp_path, None, _genes(4), {"source": "test"}, sequences_written=True)
