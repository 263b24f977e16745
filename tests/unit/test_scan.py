"""Tests of motif scanning with contributions (promoter_cr.motifs.scan, `promoter-cr scan`)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from promoter_cr.errors import InputDataError
from promoter_cr.motifs.scan import load_clusters, read_hits, scan_dataset
from promoter_cr.seq.encoding import encode, reverse_complement_codes
from promoter_cr.seq.fimo import scan_codes
from promoter_cr.seq.motifs import Motif


def _motif(consensus: str, motif_id: str, name: str, strength: float = 0.97) -> Motif:
    codes = encode(consensus)
    pwm = np.full((4, len(codes)), (1 - strength) / 3)
    pwm[codes, np.arange(len(codes))] = strength
    return Motif(motif_id, name, pwm)


# asymmetric consensus (not its own reverse complement)
SITE = "GATTACAGGC"
MOTIF = _motif(SITE, "M1", "GATTA")


def _background(n: int, length: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, size=(n, length)).astype(np.uint8)


def test_scan_finds_site_on_both_strands_at_right_coordinates():
    seqs = _background(2, 300)
    site = encode(SITE)
    seqs[0, 40:50] = site
    seqs[1, 200:210] = reverse_complement_codes(site)
    hits = scan_codes(seqs, [MOTIF], threshold=1e-4)
    found = set(zip(hits.gene.tolist(), hits.start.tolist(), hits.end.tolist(), hits.minus.tolist()))
    assert (0, 40, 50, False) in found
    assert (1, 200, 210, True) in found


def test_n_bases_score_zero_and_do_not_crash():
    seqs = np.full((1, 100), 4, dtype=np.uint8)  # all N
    seqs[0, 30:40] = encode(SITE)
    hits = scan_codes(seqs, [MOTIF], threshold=1e-4)
    assert hits.start.tolist() == [30]


#: the scan settings the tests use (FIMO p, null windows, seed)
SCAN = {"threshold": 1e-4, "null_max_shift": 50, "null_windows": 4, "seed": 0}


def test_scan_dataset_contribution_is_sum_under_hit_and_batches_agree(tmp_path):
    n, length = 7, 400
    seqs = _background(n, length, seed=3)
    for g in range(n):
        seqs[g, 60 + 20 * g : 70 + 20 * g] = encode(SITE)
    wf = np.random.default_rng(4).normal(0, 1, size=(n, length)).astype(np.float32)
    ids = [f"g{i}" for i in range(n)]
    clusters = ["a", "b", "a", "b", "a", "b", "a"]
    out1 = tmp_path / "one" / "hits.parquet"
    out3 = tmp_path / "three" / "hits.parquet"
    s1 = scan_dataset(seqs, wf, ids, clusters, [MOTIF], out1, **SCAN, batch_genes=100, progress=False)
    s3 = scan_dataset(seqs, wf, ids, clusters, [MOTIF], out3, **SCAN, batch_genes=3, progress=False)
    h1, h3 = read_hits(out1), read_hits(out3)
    assert s1["n_hits"] == s3["n_hits"] == len(h1) >= n
    key = ["gene_index", "start", "strand"]
    a = h1.sort_values(key).reset_index(drop=True)
    b = h3.sort_values(key).reset_index(drop=True)
    np.testing.assert_array_equal(a["start"], b["start"])
    np.testing.assert_allclose(a["contribution"], b["contribution"], rtol=1e-6)
    for row in h1.itertuples():
        expect = wf[row.gene_index, row.start : row.end].sum()
        assert row.contribution == pytest.approx(expect, rel=1e-5, abs=1e-5)
        assert row.gene_id == ids[row.gene_index] and row.cluster == clusters[row.gene_index]
    assert set(h1.columns) >= {
        "gene_id",
        "cluster",
        "motif_id",
        "motif_name",
        "start",
        "end",
        "strand",
        "score",
        "p_value",
        "contribution",
    }
    assert not list(tmp_path.glob("one/.*tmp*"))  # no temporary left behind


def test_scan_dataset_no_hits_writes_empty_table(tmp_path):
    seqs = np.zeros((3, 50), np.uint8)  # poly-A: no GATTACAGGC match
    wf = np.zeros((3, 50), np.float32)
    s = scan_dataset(
        seqs,
        wf,
        ["a", "b", "c"],
        ["0"] * 3,
        [MOTIF],
        tmp_path / "hits.parquet",
        **SCAN,
        batch_genes=100,
        progress=False,
    )
    assert s["n_hits"] == 0
    assert len(read_hits(tmp_path / "hits.parquet")) == 0


def test_scan_dataset_rejects_mismatched_features(tmp_path):
    with pytest.raises(InputDataError):
        scan_dataset(
            np.zeros((3, 50), np.uint8),
            np.zeros((3, 40), np.float32),
            ["a", "b", "c"],
            ["0"] * 3,
            [MOTIF],
            tmp_path / "h.parquet",
            **SCAN,
            batch_genes=100,
        )


def test_load_clusters(tmp_path):
    p = tmp_path / "assignments.tsv"
    pd.DataFrame({"gene_id": ["g1", "g2"], "cluster": [0, 1]}).to_csv(p, sep="\t", index=False)
    out = load_clusters(p, ["g1", "g2", "g3"])
    assert out.tolist() == ["0", "1", "unassigned"]
    pd.DataFrame({"gene_id": ["g1"], "k": [0]}).to_csv(p, sep="\t", index=False)
    with pytest.raises(InputDataError, match="cluster"):
        load_clusters(p, ["g1"])
    with pytest.raises(InputDataError, match="missing"):
        load_clusters(tmp_path / "nope.tsv", ["g1"])


def test_scan_cli(tmp_path):
    from promoter_cr.cli import main
    from promoter_cr.data.dataset import write_dataset
    from promoter_cr.seq.motifs import write_meme

    n, length = 12, 300
    seqs = _background(n, length, seed=5)
    seqs[:, 100:110] = encode(SITE)
    genes = pd.DataFrame(
        {"gene_id": [f"g{i}" for i in range(n)], "label": np.arange(n, dtype=float), "split": ["train"] * n}
    )
    write_dataset(tmp_path / "data", seqs, genes, {"source": "test", "length": length})
    (tmp_path / "attr").mkdir()
    np.save(tmp_path / "attr" / "weighted_features.npy", np.ones((n, length), np.float16))
    (tmp_path / "clu").mkdir()
    genes[["gene_id"]].assign(cluster=[i % 2 for i in range(n)]).to_csv(
        tmp_path / "clu" / "assignments.tsv", sep="\t", index=False
    )
    write_meme([MOTIF, _motif("CCGGAAGTGG", "M2", "ETSLIKE")], tmp_path / "m.meme")
    cfg = json.dumps({"motifs": {"meme_file": str(tmp_path / "m.meme"), "batch_genes": 5}})
    rc = main(
        [
            "scan",
            "--config",
            cfg,
            "--data",
            str(tmp_path / "data"),
            "--attributions",
            str(tmp_path / "attr"),
            "--clusters",
            str(tmp_path / "clu"),
            "--out",
            str(tmp_path / "motifs"),
        ]
    )
    assert rc == 0
    for name in ("hits.parquet", "motifs.meme", "gene_clusters.tsv", "scan_summary.json"):
        assert (tmp_path / "motifs" / name).exists()
    hits = read_hits(tmp_path / "motifs" / "hits.parquet")
    planted = hits[(hits["motif_id"] == "M1") & (hits["start"] == 100)]
    assert len(planted) == n and np.allclose(planted["contribution"], 10.0)
    # missing attributions: clean error, exit code 4 (bad input)
    rc = main(
        [
            "scan",
            "--config",
            cfg,
            "--data",
            str(tmp_path / "data"),
            "--attributions",
            str(tmp_path / "none"),
            "--out",
            str(tmp_path / "m2"),
        ]
    )
    assert rc == 4


def test_grammar_on_a_scan_without_any_hit_writes_empty_tables(tmp_path, caplog):
    from promoter_cr.cli import main
    from promoter_cr.data.dataset import write_dataset
    from promoter_cr.seq.motifs import write_meme

    n, length = 6, 80
    genes = pd.DataFrame({"gene_id": [f"g{i}" for i in range(n)], "label": np.zeros(n), "split": ["train"] * n})
    write_dataset(tmp_path / "data", np.zeros((n, length), np.uint8), genes, {"source": "test", "length": length})
    (tmp_path / "attr").mkdir()
    np.save(tmp_path / "attr" / "weighted_features.npy", np.zeros((n, length), np.float32))
    genes.assign(prediction=0.0).to_csv(tmp_path / "attr" / "attributions.tsv", sep="\t", index=False)
    write_meme([MOTIF], tmp_path / "m.meme")
    cfg = json.dumps({"motifs": {"meme_file": str(tmp_path / "m.meme")}, "grammar": {"require_learned_model": False}})
    out = tmp_path / "motifs"
    assert (
        main(
            [
                "scan",
                "--config",
                cfg,
                "--data",
                str(tmp_path / "data"),
                "--attributions",
                str(tmp_path / "attr"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "grammar",
                "--config",
                cfg,
                "--motifs-dir",
                str(out),
                "--attributions",
                str(tmp_path / "attr"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    act = pd.read_csv(out / "activity.tsv", sep="\t")
    assert (act["effect"] == "none").all() and (act["note"] == "no sites").all()
    assert "no motif hit at all" in caplog.text
    for name in ("enrichment", "cooccurrence", "communities", "grammar_summary"):
        assert next(out.glob(f"{name}.*")).exists()
