"""Prediction from files: round trip against predictions.tsv, weighted features, clear errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from _model_fixtures import planted_dataset, tiny_config

from promoter_cr.cli import main
from promoter_cr.data.dataset import load_dataset
from promoter_cr.errors import InputDataError
from promoter_cr.models.checkpoint import load_model
from promoter_cr.models.predict import predict_file
from promoter_cr.models.train import train_model
from promoter_cr.seq.encoding import decode

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("pred")
    data = planted_dataset(tmp / "data", n=120)
    cfg = tiny_config(tmp, max_epochs=1)
    train_model(cfg, "cr", data, tmp / "cr")
    train_model(cfg, "kmer", data, tmp / "kmer")
    return data, tmp


def _write_fasta(path: Path, ids, seqs) -> None:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt") as fh:
        for i, s in zip(ids, seqs):
            fh.write(f">{i}|note=x\n{s[:40]}\n{s[40:]}\n")


def test_predict_round_trip_fasta_and_weighted_features(trained, tmp_path):
    data, tmp = trained
    ds = load_dataset(data)
    seqs = [decode(r) for r in ds.sequences[:25]]
    ids = list(ds.genes["gene_id"][:25])
    fa = tmp_path / "seqs.fa.gz"
    _write_fasta(fa, ids, seqs)
    out = tmp_path / "pred.tsv"
    wf = tmp_path / "wf.npz"
    rc = main(
        [
            "predict",
            "--checkpoint",
            str(tmp / "cr" / "best.ckpt"),
            "--sequences",
            str(fa),
            "--out",
            str(out),
            "--weighted-features",
            str(wf),
            "--batch-size",
            "7",
        ]
    )
    assert rc == 0
    got = pd.read_csv(out, sep="\t")
    assert list(got.columns) == ["id", "prediction", "bias"] and list(got["id"]) == ids
    ref = pd.read_csv(tmp / "cr" / "predictions.tsv", sep="\t").set_index("gene_id").loc[ids, "prediction"].to_numpy()
    np.testing.assert_allclose(got["prediction"].to_numpy(), ref, rtol=1e-4, atol=1e-5)
    # one self-describing file: ids, predictions, bias and the weighted features that add up to them
    z = np.load(wf)
    w = z["weighted_features"]
    assert w.shape == (25, 80) and w.dtype == np.float32 and list(z["ids"]) == ids
    model, _ = load_model(tmp / "cr" / "best.ckpt")
    np.testing.assert_allclose(z["bias"], float(model.intercept().detach()), rtol=1e-6)
    np.testing.assert_allclose(w.sum(1) + z["bias"], z["prediction"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(z["prediction"], got["prediction"].to_numpy(), rtol=1e-6, atol=1e-6)


def test_predict_table_and_kmer_model(trained, tmp_path):
    data, tmp = trained
    ds = load_dataset(data)
    df = pd.DataFrame({"gene_id": ds.genes["gene_id"][:10], "sequence": [decode(r) for r in ds.sequences[:10]]})
    path = tmp_path / "seqs.tsv"
    df.to_csv(path, sep="\t", index=False)
    t = predict_file(tmp / "kmer" / "model.pkl", path, tmp_path / "k.tsv", batch_size=64)
    ref = pd.read_csv(tmp / "kmer" / "predictions.tsv", sep="\t")["prediction"].to_numpy()[:10]
    np.testing.assert_allclose(t["prediction"].to_numpy(), ref, rtol=1e-4, atol=1e-5)
    t2 = predict_file(tmp / "cr" / "best.ckpt", path, tmp_path / "c.tsv", batch_size=3)
    assert list(t2["id"]) == list(df["gene_id"])


def test_bad_checkpoint_fails_clearly(trained, tmp_path, capsys):
    data, tmp = trained
    fa = tmp_path / "s.fa"
    _write_fasta(fa, ["a"], ["A" * 80])
    with pytest.raises(InputDataError, match="checkpoint not found"):
        predict_file(tmp_path / "missing.ckpt", fa, tmp_path / "o.tsv", batch_size=64)
    junk = tmp_path / "junk.ckpt"
    junk.write_text("not a checkpoint")
    with pytest.raises(InputDataError, match="junk.ckpt: not a PyTorch checkpoint"):
        predict_file(junk, fa, tmp_path / "o.tsv", batch_size=64)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(InputDataError, match="not a promoter-cr checkpoint"):
        predict_file(foreign, fa, tmp_path / "o.tsv", batch_size=64)
    rc = main(
        [
            "predict",
            "--checkpoint",
            str(tmp_path / "missing.ckpt"),
            "--sequences",
            str(fa),
            "--out",
            str(tmp_path / "o.tsv"),
        ]
    )
    assert rc == 4 and "missing.ckpt" in capsys.readouterr().err
    assert not (tmp_path / "o.tsv").exists()


def test_wrong_length_and_bad_characters_fail_clearly(trained, tmp_path):
    data, tmp = trained
    fa = tmp_path / "s.fa"
    _write_fasta(fa, ["ok", "short"], ["A" * 80, "A" * 70])
    with pytest.raises(InputDataError, match=r"s\.fa.*>short.*70 bp; the model was trained on 80 bp"):
        predict_file(tmp / "cr" / "best.ckpt", fa, tmp_path / "o.tsv", batch_size=64)
    _write_fasta(fa, ["bad"], ["A" * 79 + "X"])
    with pytest.raises(InputDataError, match=r">bad.*invalid character 'X'"):
        predict_file(tmp / "cr" / "best.ckpt", fa, tmp_path / "o.tsv", batch_size=64)


def test_extra_features_required(tmp_path):
    data = planted_dataset(tmp_path / "data", n=80, n_extra=2)
    cfg = tiny_config(tmp_path, max_epochs=1)
    cfg["models"]["cr"]["use_extra"] = True
    train_model(cfg, "cr", data, tmp_path / "cr")
    ds = load_dataset(data)
    fa = tmp_path / "s.fa"
    ids = list(ds.genes["gene_id"][:6])
    _write_fasta(fa, ids, [decode(r) for r in ds.sequences[:6]])
    ckpt = tmp_path / "cr" / "best.ckpt"
    with pytest.raises(InputDataError, match="uses extra features.*--extra"):
        predict_file(ckpt, fa, tmp_path / "o.tsv", batch_size=64)
    extra = tmp_path / "extra.tsv"
    ds.genes[["gene_id", "hl0", "hl1"]].to_csv(extra, sep="\t", index=False)
    got = predict_file(ckpt, fa, tmp_path / "o.tsv", extra=extra, batch_size=64)
    ref = pd.read_csv(tmp_path / "cr" / "predictions.tsv", sep="\t")["prediction"].to_numpy()[:6]
    np.testing.assert_allclose(got["prediction"].to_numpy(), ref, rtol=1e-4, atol=1e-5)
    ds.genes[["gene_id", "hl0"]].to_csv(extra, sep="\t", index=False)
    with pytest.raises(InputDataError, match="columns missing: hl1"):
        predict_file(ckpt, fa, tmp_path / "o.tsv", extra=extra, batch_size=64)
