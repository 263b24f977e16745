"""Tests of the planted-grammar simulator (promoter_cr.data.sources.simulate)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from promoter_cr.config import validate_config
from promoter_cr.data.dataset import load_dataset
from promoter_cr.data.sources import simulate as S
from promoter_cr.errors import ConfigError
from promoter_cr.seq.encoding import one_hot_numpy, reverse_complement_codes

N_SMALL = 200
FUNCTIONAL_ROLES = {"activator", "repressor", "pair_a", "pair_b"}


def _cfg(**sim) -> dict:
    return validate_config({"dataset": {"simulate": {"n_genes": N_SMALL, **sim}}})


@pytest.fixture(scope="module")
def motifs() -> dict:
    return S.load_simulation_motifs(_cfg()["dataset"]["simulate"])


@pytest.fixture(scope="module")
def sim_cfg() -> dict:
    return _cfg()["dataset"]["simulate"]


@pytest.fixture(scope="module")
def simulated(sim_cfg, motifs):
    return S.simulate(sim_cfg, motifs)


def test_deterministic_from_seed(sim_cfg, motifs, simulated):
    codes, genes, gt = simulated
    codes2, genes2, gt2 = S.simulate(sim_cfg, motifs)
    np.testing.assert_array_equal(codes, codes2)
    pd.testing.assert_frame_equal(genes, genes2)
    assert gt == gt2
    codes3, genes3, _ = S.simulate({**sim_cfg, "seed": sim_cfg["seed"] + 1}, motifs)
    assert (codes3 != codes).mean() > 0.5
    assert not np.allclose(genes3["label"], genes["label"])


def test_shapes_dtypes_and_classes(sim_cfg, simulated):
    codes, genes, gt = simulated
    assert codes.shape == (N_SMALL, 600) and codes.dtype == np.uint8
    assert codes.max() <= 3
    assert list(genes.columns) == ["gene_id", "label", "sim_class"]
    assert genes["gene_id"].tolist() == [f"sim{i:05d}" for i in range(N_SMALL)]
    assert genes["label"].dtype == np.float64 and np.isfinite(genes["label"]).all()
    counts = genes["sim_class"].value_counts().sort_index()
    assert counts.index.tolist() == [0, 1, 2, 3]
    assert counts.max() - counts.min() <= 1  # balanced
    assert [c["name"] for c in gt["classes"]] == ["proximal_activation", "repressed", "cooperative", "basal"]
    assert gt["length"] == 600 and gt["tss_index"] == 400 and gt["seed"] == sim_cfg["seed"]
    assert [g["gene_id"] for g in gt["genes"]] == genes["gene_id"].tolist()
    assert [g["class"] for g in gt["genes"]] == genes["sim_class"].tolist()
    roles = {m["motif_id"]: (m["role"], m["effect"]) for m in gt["motifs"]}
    assert roles["MA0079.5"] == ("activator", 1.0) and roles["MA0138.3"] == ("repressor", -1.0)
    assert roles["MA0018.5"][0] == "pair" and roles["MA0506.3"][0] == "pair"
    assert gt["pairs"] == [
        {
            "a": "MA0018.5",
            "b": "MA0506.3",
            "a_name": "CREB1",
            "b_name": "Nrf1",
            "spacing": 12,
            "orientation": "++",
            "effect": 1.5,
            "mode": "cooperative",
        }
    ]


def test_plants_are_strand_correct_pwm_samples(sim_cfg, motifs, simulated):
    codes, _, gt = simulated
    widths = {m["motif_id"]: m["width"] for m in gt["motifs"]}
    for r, g in enumerate(gt["genes"]):
        for p in g["plants"]:
            m = motifs[p["motif_id"]]
            assert p["end"] - p["start"] == widths[p["motif_id"]] == m.width
            seq = codes[r, p["start"] : p["end"]]
            oriented = seq if p["strand"] == "+" else reverse_complement_codes(seq)
            # every base possible under the matrix, and a FIMO match at site_p on its own strand
            assert (m.pwm[oriented, np.arange(m.width)] > 0).all()
            assert S.site_scores(oriented[None], m.pwm)[0] >= S.score_threshold(m.pwm, sim_cfg["site_p"])


def test_memelite_fimo_finds_every_plant(sim_cfg, motifs, simulated):
    from memelite import fimo

    codes, _, gt = simulated
    hits = fimo(
        {mid: motifs[mid].pwm for mid in S.motif_ids(sim_cfg)}, one_hot_numpy(codes[:60]), threshold=sim_cfg["site_p"]
    )
    found = set()
    for df in hits:
        found |= set(zip(df["sequence_name"].astype(int), df["motif_name"], df["start"].astype(int), df["strand"]))
    planted = [(r, p["motif_id"], p["start"], p["strand"]) for r, g in enumerate(gt["genes"][:60]) for p in g["plants"]]
    assert planted and all(x in found for x in planted)


def test_no_overlaps_and_no_stray_matches(sim_cfg, motifs, simulated):
    codes, _, gt = simulated
    for g in gt["genes"]:
        ps = g["plants"]
        assert all(a["end"] <= b["start"] for a, b in zip(ps, ps[1:])), g["gene_id"]
        assert all(0 <= p["start"] < p["end"] <= 600 for p in ps)
    planted = {mid: motifs[mid] for mid in S.motif_ids(sim_cfg)}
    assert S.stray_matches(codes, [g["plants"] for g in gt["genes"]], planted, sim_cfg["scrub_p"]) == []


def test_class_grammar(sim_cfg, simulated):
    _, _, gt = simulated
    regions = S.class_regions(600, 400)
    pair = gt["pairs"][0]
    acts, reps = set(sim_cfg["activators"]), set(sim_cfg["repressors"])
    n_decoy_sites = 0
    for g in gt["genes"]:
        ps = g["plants"]
        by_role = {
            r: [p for p in ps if p["role"] == r] for r in ("activator", "repressor", "pair_a", "pair_b", "decoy")
        }
        for p in ps:
            assert p["active"] == (p["role"] in FUNCTIONAL_ROLES)
        n_decoy_sites += len(by_role["decoy"])
        assert all(p["motif_id"] in (pair["a"], pair["b"]) for p in by_role["decoy"])
        inside = lambda p, kind: regions[kind][0] <= p["start"] and p["end"] <= regions[kind][1]  # noqa: E731
        cls = g["class"]
        assert len(by_role["activator"]) == (2 if cls == 0 else 0)
        assert len(by_role["repressor"]) == (2 if cls == 1 else 0)
        assert len(by_role["pair_a"]) == len(by_role["pair_b"]) == (1 if cls == 2 else 0)
        assert all(p["motif_id"] in acts and inside(p, "activators") for p in by_role["activator"])
        assert all(p["motif_id"] in reps and inside(p, "repressors") for p in by_role["repressor"])
        inst = S.pair_instances(ps, pair)
        if cls == 2:
            # exactly one functional arrangement, made of the pair_a / pair_b plants, in the mid region
            assert len(inst) == 1
            a, b = ps[inst[0][0]], ps[inst[0][1]]
            assert (a["role"], b["role"]) == ("pair_a", "pair_b")
            assert b["start"] - a["start"] == 12 and a["strand"] + b["strand"] == "++"
            assert inside(a, "pair") and inside(b, "pair")
        else:
            assert inst == []  # decoys never complete the pair by accident
    hi = sim_cfg["n_decoys"][1]
    assert (
        max(sum(p["role"] == "decoy" for p in g["plants"]) for g in gt["genes"]) <= 2 * hi
    )  # <= 2 sites per decoy element
    assert n_decoy_sites > N_SMALL / 2
    with_decoys = {g["class"] for g in gt["genes"] if any(p["role"] == "decoy" for p in g["plants"])}
    assert with_decoys == {0, 1, 2, 3}  # decoys in every class


def test_labels_are_planted_function_plus_noise(sim_cfg, motifs, simulated):
    _, genes, gt = simulated
    f = np.array([S.planted_function(g["plants"], gt) for g in gt["genes"]])
    resid = genes["label"].to_numpy() - f
    assert abs(resid.mean()) < 0.08
    assert abs(resid.std() - sim_cfg["noise_sd"]) < 0.06
    means = pd.Series(f).groupby(genes["sim_class"]).mean()
    assert means.tolist() == pytest.approx([2.0, -2.0, 1.5, 0.0])
    # with no noise the label is exactly the planted function
    _, genes0, gt0 = S.simulate({**sim_cfg, "noise_sd": 0.0, "n_genes": 40}, motifs)
    np.testing.assert_allclose(genes0["label"], [S.planted_function(g["plants"], gt0) for g in gt0["genes"]])


def test_planted_function_needs_exact_spacing_and_orientation():
    gt = {
        "motifs": [
            {"motif_id": "A1", "role": "activator", "effect": 1.0},
            {"motif_id": "R1", "role": "repressor", "effect": -0.5},
        ],
        "pairs": [{"a": "PA", "b": "PB", "spacing": 12, "orientation": "+-", "effect": 2.0}],
    }

    def plant(mid, start, strand="+"):
        return {"motif_id": mid, "start": start, "end": start + 8, "strand": strand}

    assert S.planted_function([plant("A1", 0), plant("R1", 20)], gt) == 0.5
    assert S.planted_function([plant("PA", 10), plant("PB", 22, "-")], gt) == 2.0
    assert S.planted_function([plant("PA", 10), plant("PB", 23, "-")], gt) == 0.0  # wrong spacing
    assert S.planted_function([plant("PA", 10), plant("PB", 22, "+")], gt) == 0.0  # wrong orientation
    assert S.planted_function([plant("PB", 10, "-"), plant("PA", 22)], gt) == 0.0  # swapped order
    assert S.planted_function([plant("PA", 10)], gt) == 0.0  # half alone


@pytest.mark.parametrize("gc,cpg", [(0.5, 0.6), (0.4, 0.25), (0.6, 1.0)])
def test_markov_chain_hits_targets_exactly(gc, cpg):
    pi, trans = S.markov_chain(gc, cpg)
    np.testing.assert_allclose(trans.sum(1), 1.0)
    np.testing.assert_allclose(pi @ trans, pi)  # stationary composition
    dinuc = pi[:, None] * trans
    assert pi[1] + pi[2] == pytest.approx(gc)
    assert dinuc[1, 2] / (pi[1] * pi[2]) == pytest.approx(cpg)
    np.testing.assert_allclose(dinuc, dinuc[::-1, ::-1].T)  # strand symmetric: D[x, y] == D[comp y, comp x]


def test_markov_chain_rejects_impossible_targets():
    with pytest.raises(ConfigError, match="no Markov chain"):
        S.markov_chain(0.9, 1.5)


def test_background_composition_matches_targets(motifs):
    sim = _cfg(gc=0.42, cpg_ratio=0.3, island_gc=0.65, island_cpg_ratio=0.9, n_genes=150)["dataset"]["simulate"]
    codes, _, gt = S.simulate(sim, motifs)
    bg = codes.copy()
    for r, g in enumerate(gt["genes"]):
        for p in g["plants"]:
            bg[r, p["start"] : p["end"]] = 4  # planted bases excluded
    island = np.zeros(600, dtype=bool)
    island[400 - 250 : 400 + 100] = True
    bulk, isl = S.composition(bg[:, ~island]), S.composition(bg[:, island])
    assert bulk["gc"] == pytest.approx(0.42, abs=0.025) and bulk["cpg_ratio"] == pytest.approx(0.3, abs=0.07)
    assert isl["gc"] == pytest.approx(0.65, abs=0.025) and isl["cpg_ratio"] == pytest.approx(0.9, abs=0.07)
    sim_flat = {**sim, "island_gc": None}
    codes_flat, _, _ = S.simulate(sim_flat, motifs)
    assert S.composition(codes_flat[:, :300])["gc"] == pytest.approx(0.42, abs=0.03)


@pytest.mark.parametrize("n_classes", [2, 3, 6])
def test_other_class_counts(motifs, n_classes):
    sim = _cfg(n_classes=n_classes, n_genes=12 * n_classes)["dataset"]["simulate"]
    _, genes, gt = S.simulate(sim, motifs)
    assert sorted(genes["sim_class"].unique()) == list(range(n_classes))
    assert [c["name"] for c in gt["classes"]] == [S.CLASS_TEMPLATES[c][0] for c in range(n_classes)]
    if n_classes == 6:  # class 5 = proximal activation + repressed
        g5 = [g for g in gt["genes"] if g["class"] == 5]
        assert all(
            sum(p["role"] == "activator" for p in g["plants"]) == 2
            and sum(p["role"] == "repressor" for p in g["plants"]) == 2
            for g in g5
        )


def test_build_writes_complete_dataset(tmp_path):
    cfg = _cfg(n_genes=60)
    out = tmp_path / "data"
    S.build(cfg, out)
    ds = load_dataset(out)
    assert ds.sequences.shape == (60, 600) and ds.sequences.dtype == np.uint8
    assert list(ds.genes.columns) == ["gene_id", "label", "split", "sim_class"]
    assert set(ds.genes["split"]) == {"train", "valid", "test"}
    assert ds.meta["source"] == "simulate" and ds.meta["tss_index"] == 400
    assert ds.meta["window"] == {"start": -400, "end": 200, "relative_to": "TSS"}
    assert ds.meta["simulate"]["regions"]["activators"] == [345, 385]
    gt = json.loads((out / "ground_truth.json").read_text())
    assert set(gt) == {
        "length",
        "tss_index",
        "seed",
        "noise_sd",
        "jaspar_release",
        "motifs",
        "pairs",
        "classes",
        "genes",
    }
    assert [g["gene_id"] for g in gt["genes"]] == ds.genes["gene_id"].tolist()
    assert [g["class"] for g in gt["genes"]] == ds.genes["sim_class"].tolist()
    plant = gt["genes"][0]["plants"][0]
    assert set(plant) == {"motif_id", "start", "end", "strand", "role", "active"}
    codes, genes, _ = S.simulate(cfg["dataset"]["simulate"], S.load_simulation_motifs(cfg["dataset"]["simulate"]))
    np.testing.assert_array_equal(np.asarray(ds.sequences), codes)
    np.testing.assert_allclose(ds.genes["label"], genes["label"])
    assert not list(out.glob(".*tmp*"))  # no temporary files left


def test_unknown_jaspar_id_is_a_clear_error(tmp_path):
    cfg = _cfg(activators=["MA0079.5", "MA9999.1"])
    with pytest.raises(ConfigError, match=r"dataset\.simulate\.activators.*MA9999\.1"):
        S.build(cfg, tmp_path / "data")
    assert not (tmp_path / "data" / "meta.json").exists()
    with pytest.raises(ConfigError, match=r"pairs\[0\]\.b.*nope"):
        S.load_simulation_motifs(_cfg(pairs=[{"a": "MA0018.5", "b": "nope", "spacing": 12}])["dataset"]["simulate"])


def test_inconsistent_configs_are_clear_errors(motifs):
    base = _cfg()["dataset"]["simulate"]
    with pytest.raises(ConfigError, match="pairs.*empty"):
        S.simulate({**base, "pairs": []}, motifs)
    with pytest.raises(ConfigError, match="overlap"):
        S.simulate(
            {**base, "pairs": [{"a": "MA0018.5", "b": "MA0506.3", "spacing": 4, "orientation": "++", "effect": 1.5}]},
            motifs,
        )
    with pytest.raises(ConfigError, match="one role"):
        S.simulate({**base, "repressors": ["MA0079.5"]}, motifs)
    with pytest.raises(ConfigError, match="longer window"):
        S.simulate({**base, "length": 150}, motifs)
    with pytest.raises(ConfigError, match="n_classes"):
        validate_config({"dataset": {"simulate": {"n_classes": 9}}})
