"""Tests of the grammar generator (promoter_cr.data.sources.simulate.generator, the ``hard`` preset)."""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest

from promoter_cr.config import section_defaults
from promoter_cr.data.sources.simulate import background as B
from promoter_cr.data.sources.simulate import families as F
from promoter_cr.data.sources.simulate import generator as G
from promoter_cr.data.sources.simulate import generator_config as GC
from promoter_cr.data.sources.simulate.grammar import pair_instances, planted_function
from promoter_cr.errors import ConfigError
from promoter_cr.seq.encoding import encode, reverse_complement_codes

RELEASE = "JASPAR2024"
L = 1000


def hard(**groups) -> dict:
    """The hard preset (the schema's generator defaults), groups updated."""
    cfg = copy.deepcopy(section_defaults("dataset")["simulate"]["generator"])
    for k, v in groups.items():
        if isinstance(v, dict):
            cfg[k] = {**cfg[k], **v}
        else:
            cfg[k] = v
    return cfg


def run(cfg: dict, n: int, seed: int = 11, length: int = L):
    return G.generate(cfg, n_genes=n, length=length, tss_index=None, seed=seed, jaspar_release=RELEASE, preset="hard")


@pytest.fixture(scope="module")
def big():
    """3,000 genes of the hard preset."""
    return run(hard(), 3000)


@pytest.fixture(scope="module")
def collection():
    return F.load_collection(RELEASE, "CORE", ["vertebrates"])


def _tomtom(queries, targets) -> np.ndarray:
    """``(Q, T)`` Tomtom p-values (memelite) of queries against every target (the target set)."""
    import warnings

    import memelite

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(memelite.tomtom([q.pwm for q in queries], [t.pwm for t in targets])[0])


def _check_sites(codes, gt):
    for row, g in zip(codes, gt["genes"], strict=True):
        covered = np.zeros(codes.shape[1], dtype=int)
        for p in g["plants"]:
            site = encode(p["site"])
            assert (
                p["end"] - p["start"]
                == len(site)
                == next(m["width"] for m in gt["motifs"] if m["motif_id"] == p["motif_id"])
            )
            want = site if p["strand"] == "+" else reverse_complement_codes(site)
            np.testing.assert_array_equal(row[p["start"] : p["end"]], want)
            covered[p["start"] : p["end"]] += 1
        assert covered.max(initial=0) <= 1  # no two plants overlap


def test_ground_truth_matches_sequences(big):
    codes, genes, gt = big
    assert codes.shape == (3000, L) and codes.dtype == np.uint8 and codes.max() <= 3
    assert (
        gt["length"] == L
        and gt["tss_index"] == round(2 * L / 3)
        and gt["seed"] == 11
        and gt["jaspar_release"] == RELEASE
    )
    _check_sites(codes, gt)
    assert list(genes.columns[:3]) == ["gene_id", "label", "sim_class"]
    assert genes["gene_id"].tolist() == [g["gene_id"] for g in gt["genes"]]
    assert genes["n_sites"].tolist() == [len(g["plants"]) for g in gt["genes"]]
    json.dumps(gt)  # serialisable as is
    # hard preset: 3 activators + 2 repressors with unequal effects, one cooperative pair
    roles = [m["role"] for m in gt["motifs"]]
    assert roles.count("activator") == 3 and roles.count("repressor") == 2 and roles.count("pair") == 2
    eff = [m["effect"] for m in gt["motifs"] if m["role"] != "pair"]
    assert all(0.4 <= abs(e) <= 1.2 for e in eff) and len(set(np.round(np.abs(eff), 6))) == 5
    assert all((m["effect"] > 0) == (m["role"] == "activator") for m in gt["motifs"] if m["role"] != "pair")
    # each single motif in about 30 % of genes, either strand, anywhere
    single = [m["motif_id"] for m in gt["motifs"] if m["role"] in ("activator", "repressor")]
    for mid in single:
        frac = np.mean([any(p["motif_id"] == mid for p in g["plants"]) for g in gt["genes"]])
        assert 0.25 < frac < 0.35
    strands = [p["strand"] for g in gt["genes"] for p in g["plants"] if p["role"] == "activator"]
    assert 0.45 < strands.count("+") / len(strands) < 0.55


def test_pairs_exact_and_decoys_inert(big):
    codes, genes, gt = big
    (pair,) = gt["pairs"]
    assert pair["mode"] == "cooperative" and pair["orientation"] in GC.ORIENTATIONS
    wa = next(m["width"] for m in gt["motifs"] if m["motif_id"] == pair["a"])
    assert pair["spacing"] >= wa
    kinds = set()
    n_with = 0
    for g, n_inst in zip(gt["genes"], genes["n_pair_instances"], strict=True):
        ps = g["plants"]
        inst = pair_instances(ps, pair)
        assert len(inst) == n_inst
        functional_a = [i for i, p in enumerate(ps) if p["role"] == "pair_a"]
        functional_b = [j for j, p in enumerate(ps) if p["role"] == "pair_b"]
        assert sorted(i for i, _ in inst) == functional_a and sorted(j for _, j in inst) == functional_b
        for i, j in inst:
            assert ps[j]["start"] - ps[i]["start"] == pair["spacing"]
            assert ps[i]["strand"] + ps[j]["strand"] == pair["orientation"]
            assert ps[i]["active"] and ps[j]["active"]
        decoys = [p for p in ps if p["role"] == "decoy"]
        assert all(not p["active"] for p in decoys)
        for p in decoys:  # name the decoy kinds that occur
            partner = [q for q in decoys if q is not p and q["motif_id"] != p["motif_id"]]
            kinds.add("half" if not partner else "two")
        n_with += bool(inst)
    assert 0.25 < n_with / len(gt["genes"]) < 0.35
    # wrong spacing and wrong orientation decoys exist; none of them forms the pair
    dec_pairs = [
        (q["start"] - p["start"], p["strand"] + q["strand"])
        for g in gt["genes"]
        for p in g["plants"]
        for q in g["plants"]
        if p["role"] == q["role"] == "decoy"
        and p["motif_id"] == pair["a"]
        and q["motif_id"] == pair["b"]
        and 0 < q["start"] - p["start"] <= pair["spacing"] + 20
    ]
    assert any(sp != pair["spacing"] and 2 <= abs(sp - pair["spacing"]) <= 20 for sp, _ in dec_pairs)
    assert any(sp == pair["spacing"] and o != pair["orientation"] for sp, o in dec_pairs)
    assert not any(sp == pair["spacing"] and o == pair["orientation"] for sp, o in dec_pairs)
    assert "half" in kinds


def test_decoys_never_complete_a_pair():
    """Crowded short windows (lone halves only, many per gene): accidental completions would be common."""
    cfg = hard(
        motifs={"n_activators": 0, "n_repressors": 0},
        pairs={
            "fraction": 0.5,
            "decoys": [3, 5],
            "decoy_weights": {"half_a": 1.0, "half_b": 1.0},
            "spacing": [24, 26],
            "orientation": "++",
        },
    )
    codes, genes, gt = run(cfg, 300, length=200)
    _check_sites(codes, gt)
    (pair,) = gt["pairs"]
    for g in gt["genes"]:
        inst = pair_instances(g["plants"], pair)
        assert all(g["plants"][i]["role"] == "pair_a" and g["plants"][j]["role"] == "pair_b" for i, j in inst)
        assert len(inst) == sum(p["role"] == "pair_a" for p in g["plants"])
    assert sum(p["role"] == "decoy" for g in gt["genes"] for p in g["plants"]) > 900


def test_labels_are_clean_plus_noise_and_ceiling(big):
    codes, genes, gt = big
    clean = G.clean_labels(gt, codes)
    np.testing.assert_allclose(clean, [g["clean_label"] for g in gt["genes"]], rtol=0, atol=1e-12)
    # without a confound the clean label is the easy preset's planted function
    np.testing.assert_allclose(clean, [planted_function(g["plants"], gt) for g in gt["genes"]], atol=1e-12)
    noise = genes["label"].to_numpy() - clean
    sd = gt["noise_sd"]
    assert sd == pytest.approx(np.sqrt(np.var(clean) * 0.1 / 0.9))
    assert abs(noise.mean()) < 4 * sd / np.sqrt(len(noise))
    assert np.std(noise) == pytest.approx(sd, rel=0.05)
    assert abs(np.corrcoef(noise, clean)[0, 1]) < 0.06
    r2 = np.corrcoef(clean, genes["label"])[0, 1] ** 2
    assert gt["grammar"]["r2_ceiling"] == pytest.approx(r2)
    assert r2 == pytest.approx(0.9, abs=0.02)
    assert gt["grammar"]["r2_ceiling_target"] == 0.9 and gt["grammar"]["null"] == "none"
    # the classes summarise the signs of the active plants
    sign = {m["motif_id"]: np.sign(m["effect"]) for m in gt["motifs"]}
    for g in gt["genes"][:300]:
        s = {sign[p["motif_id"]] for p in g["plants"] if p["active"]}
        assert g["class"] == (0 if not s else 3 if len(s) == 2 else 1 if 1 in s else 2)


def test_seed_determinism():
    cfg = hard()
    c1, g1, t1 = run(cfg, 60, seed=5)
    c2, g2, t2 = run(cfg, 60, seed=5)
    np.testing.assert_array_equal(c1, c2)
    assert g1.equals(g2) and t1 == t2
    c3, g3, t3 = run(cfg, 60, seed=6)
    assert [m["motif_id"] for m in t3["motifs"]] != [m["motif_id"] for m in t1["motifs"]]
    assert (c3 != c1).mean() > 0.5


def test_distinct_families(big, collection):
    _, _, gt = big
    ids = [m["motif_id"] for m in gt["motifs"]]
    assert len(set(ids)) == len(ids) == 7
    by_id = {m.motif_id: m for m in collection}
    chosen = [by_id[i] for i in ids]
    p = _tomtom(chosen, collection)[:, [collection.index(m) for m in chosen]]
    off = ~np.eye(len(chosen), dtype=bool)
    assert (p[off] >= 1e-3).all()
    assert all(8 <= m.width <= 20 and F.information_content(m.pwm) >= 10 for m in chosen)
    parts = [x for m in chosen for x in F.name_parts(m.name)]
    assert len(parts) == len(set(parts))  # no TF name twice (heterodimer halves included)
    dimers = [m for m in collection if m.name.upper().startswith("ETV5::")]
    assert len(F.draw_distinct(dimers, np.zeros((len(dimers),) * 2, bool), 1, np.random.default_rng(0))) == 1
    with pytest.raises(ConfigError, match="distinct Tomtom families"):
        F.draw_distinct(dimers, np.zeros((len(dimers),) * 2, bool), 2, np.random.default_rng(0))
    # draw_distinct itself: a similarity matrix that makes everything one family leaves one motif
    with pytest.raises(ConfigError, match="distinct Tomtom families"):
        F.draw_distinct(chosen, np.ones((7, 7), bool), 2, np.random.default_rng(0))


def test_additive_pair_mode():
    codes, genes, gt = run(hard(pairs={"mode": "additive"}), 400)
    (pair,) = gt["pairs"]
    assert pair["mode"] == "additive" and pair["spacing"] is None and pair["orientation"] is None
    ea = next(m["effect"] for m in gt["motifs"] if m["motif_id"] == pair["a"])
    eb = next(m["effect"] for m in gt["motifs"] if m["motif_id"] == pair["b"])
    assert 0.8 <= ea <= 1.6 and 0.8 <= eb <= 1.6 and pair["effect"] == pytest.approx(ea + eb)
    _check_sites(codes, gt)
    clean = G.clean_labels(gt, codes)
    np.testing.assert_allclose(clean, [g["clean_label"] for g in gt["genes"]], atol=1e-12)
    spacings, lone = [], 0
    for g, c in zip(gt["genes"], clean, strict=True):
        ps = g["plants"]
        assert not any(p["role"] == "decoy" for p in ps)  # every partner site counts
        n_a = sum(p["motif_id"] == pair["a"] for p in ps)
        n_b = sum(p["motif_id"] == pair["b"] for p in ps)
        singles = sum(
            m["effect"] for p in ps for m in gt["motifs"] if m["motif_id"] == p["motif_id"] and m["role"] != "pair"
        )
        assert c == pytest.approx(singles + n_a * ea + n_b * eb)
        lone += (n_a + n_b) == 1
        a = [p for p in ps if p["motif_id"] == pair["a"]]
        b = [p for p in ps if p["motif_id"] == pair["b"]]
        spacings += [abs(q["start"] - p["start"]) for p in a for q in b]
    assert lone > 0
    near = [s for s in spacings if s <= 60]
    assert min(near) >= 5 and len(set(near)) >= 10  # no preferred spacing


def test_null_modes():
    cfg = hard()
    c0, g0, t0 = run(cfg, 300)
    cp, gp, tp = run(hard(null="permuted_labels"), 300)
    ci, gi, ti = run(hard(null="independent_labels"), 300)
    for c, t in ((cp, tp), (ci, ti)):  # same sequences and plants, only the labels differ
        np.testing.assert_array_equal(c, c0)
        assert [g["plants"] for g in t["genes"]] == [g["plants"] for g in t0["genes"]]
    perm = np.array(tp["grammar"]["permutation"])
    assert sorted(perm) == list(range(300)) and not (perm == np.arange(300)).all()
    np.testing.assert_allclose(gp["label"], g0["label"].to_numpy()[perm])
    clean = np.array([g["clean_label"] for g in t0["genes"]])
    for t, g in ((tp, gp), (ti, gi)):
        assert t["grammar"]["r2_ceiling"] == pytest.approx(np.corrcoef(clean, g["label"])[0, 1] ** 2)
        assert t["grammar"]["r2_ceiling"] < 0.05
    assert not np.isin(gi["label"], g0["label"]).any()
    assert np.std(gi["label"]) == pytest.approx(np.std(g0["label"]), rel=0.2)


@pytest.mark.parametrize("method", ["shuffle", "dirichlet"])
def test_synthetic_motif_is_novel(method, collection):
    codes, genes, gt = run(hard(synthetic={"n": 1, "method": method}, occupancy={"fraction": 0.5}), 80)
    (syn,) = [m for m in gt["motifs"] if m.get("synthetic")]
    assert syn["motif_id"].startswith(F.SYNTHETIC_PREFIX) and syn["role"] == "activator" and syn["effect"] > 0
    assert syn["source"].startswith(method)
    pwm = np.array(syn["pwm"])
    assert pwm.shape == (4, syn["width"]) and np.allclose(pwm.sum(0), 1)
    motif = G.planted_matrices(gt)[[m["motif_id"] for m in gt["motifs"]].index(syn["motif_id"])]
    np.testing.assert_array_equal(motif.pwm, pwm)
    p = _tomtom([motif], collection)
    assert p.shape == (1, len(collection)) and (p >= 1e-3).all()
    assert (_tomtom([motif], collection + [motif])[0, -1]) < 1e-6  # Tomtom does find a real match
    assert sum(p["motif_id"] == syn["motif_id"] for g in gt["genes"] for p in g["plants"]) > 20
    _check_sites(codes, gt)
    np.testing.assert_allclose(G.clean_labels(gt, codes), [g["clean_label"] for g in gt["genes"]], atol=1e-12)


def test_confound_and_windows():
    cfg = hard(
        confound={"feature": "gc", "beta": 1.0},
        motifs={"activator_windows": [[-100, 0]]},
        pairs={"window": [-300, -100], "orientation": "-+"},
    )
    codes, genes, gt = run(cfg, 500)
    conf = gt["grammar"]["confound"]
    gc, _ = B.gene_composition(codes)
    assert (
        conf["feature"] == "gc" and conf["mean"] == pytest.approx(gc.mean()) and conf["sd"] == pytest.approx(gc.std())
    )
    clean = G.clean_labels(gt, codes)
    np.testing.assert_allclose(clean, [g["clean_label"] for g in gt["genes"]], atol=1e-12)
    grammar_only = np.array([planted_function(g["plants"], gt) for g in gt["genes"]])
    np.testing.assert_allclose(clean - grammar_only, (gc - gc.mean()) / gc.std(), atol=1e-9)
    assert np.corrcoef(genes["label"], genes["gc"])[0, 1] > 0.2
    # per-gene background composition varies and the realised GC follows it
    bg = np.array([g["background"]["gc"] for g in gt["genes"]])
    assert bg.min() < 0.4 and bg.max() > 0.6 and np.corrcoef(bg, gc)[0, 1] > 0.8
    tss = gt["tss_index"]
    first = gt["motifs"][0]
    assert first["window"] == [-100, 0]
    for g in gt["genes"]:
        for p in g["plants"]:
            if p["motif_id"] == first["motif_id"]:
                assert tss - 100 <= p["start"] and p["end"] <= tss
            if p["role"] in ("pair_a", "pair_b"):
                assert tss - 300 <= p["start"] and p["end"] <= tss - 100
    assert gt["pairs"][0]["orientation"] == "-+"


def test_gene_composition_matches_pooled_definition():
    from promoter_cr.data.sources.simulate.background import composition

    codes = np.random.default_rng(0).integers(0, 4, (5, 200)).astype(np.uint8)
    gc, cpg = B.gene_composition(codes)
    for i in range(5):
        want = composition(codes[i])
        assert gc[i] == pytest.approx(want["gc"]) and cpg[i] == pytest.approx(want["cpg_ratio"])


def test_gene_chains_reach_their_composition():
    from promoter_cr.data.sources.simulate.background import markov_chain

    chains = [markov_chain(0.35, 0.3), markov_chain(0.65, 0.9)]
    pi = np.stack([chains[i % 2][0] for i in range(40)])
    trans = np.stack([chains[i % 2][1] for i in range(40)])
    codes = B.sample_gene_chains(pi, trans, 2000, np.random.default_rng(1))
    gc, cpg = B.gene_composition(codes)
    assert gc[0::2].mean() == pytest.approx(0.35, abs=0.01) and gc[1::2].mean() == pytest.approx(0.65, abs=0.01)
    assert cpg[0::2].mean() == pytest.approx(0.3, abs=0.05) and cpg[1::2].mean() == pytest.approx(0.9, abs=0.05)


@pytest.mark.parametrize(
    ("groups", "key"),
    [
        ({"null": "shuffled"}, "null"),
        ({"r2_ceiling": 0.0}, "r2_ceiling"),
        ({"pairs": {"mode": "exact"}}, "pairs.mode"),
        ({"occupancy": {"sites": [3, 1]}}, "occupancy.sites"),
        ({"composition": {"gc": [0.4, 0.8], "cpg_ratio": [0.1, 0.3]}}, "composition"),
        ({"motifs": {"activator_windows": [[0, -10]]}}, "motifs.activator_windows[0]"),
    ],
)
def test_bad_config_names_the_key(groups, key):
    with pytest.raises(ConfigError, match=re.escape(f"generator.{key}")):
        run(hard(**groups), 20)
