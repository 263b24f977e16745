"""Tests of the grammar statistics: activity, enrichment, co-occurrence, communities, spacing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from promoter_cr.motifs.activity import motif_activity, motif_enrichment, rank_biserial_test
from promoter_cr.motifs.cooccurrence import (
    close_pairs,
    communities,
    cooccurrence_test,
    expected_close_pairs,
    select_representatives,
)
from promoter_cr.motifs.spacing import pair_spacing, periodicity_row, preferred_spacings, spacing_analysis
from promoter_cr.motifs.stats import bh_qvalues


def _hits(n_per_motif, n_genes, length, rng, width=8):
    """Random hits: motif code, gene, start, end."""
    motif = np.repeat(np.arange(len(n_per_motif)), n_per_motif)
    gene = rng.integers(0, n_genes, size=motif.size)
    start = rng.integers(0, length - width, size=motif.size)
    return motif, gene, start, start + width


def test_bh_qvalues_matches_hand_computation():
    q = bh_qvalues(np.array([0.01, 0.04, np.nan, 0.03, 0.5]))
    # sorted p 0.01, 0.03, 0.04, 0.5 -> p*m/rank 0.04, 0.06, 0.0533, 0.5 -> running minimum from the top
    np.testing.assert_allclose(q[[0, 1, 3, 4]], [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    assert np.isnan(q[2])


def test_rank_biserial_sign_and_ties():
    r, p = rank_biserial_test(np.array([3.0, 4, 5, 6]), np.array([0.0, 1, 2, 2.5]))
    assert r == pytest.approx(1.0) and p < 0.05
    assert rank_biserial_test(np.zeros(5), np.zeros(5)) == (0.0, 1.0)


def test_positive_motif_is_activating_and_negative_is_repressive():
    rng = np.random.default_rng(0)
    n = 200
    motif, gene, start, end = _hits([n, n, n], 50, 500, rng)
    null = rng.normal(0, 0.1, size=motif.size)
    contrib = rng.normal(0, 0.1, size=motif.size)
    contrib[motif == 0] += 1.0  # placed only under positive contributions
    contrib[motif == 1] -= 1.0  # only under negative ones
    table = motif_activity(
        motif,
        gene,
        np.zeros(motif.size, int),
        contrib,
        null,
        ["A", "R", "N"],
        ["act", "rep", "neutral"],
        ["c0"],
        fdr=0.05,
        min_hits=10,
        min_effect=0.3,
        min_relative=0.0,
    )
    allrows = table[table["cluster"] == "all"].set_index("motif_id")
    assert allrows.loc["A", "effect"] == "activating" and allrows.loc["A", "effect_size"] > 0.9
    assert allrows.loc["R", "effect"] == "repressive" and allrows.loc["R", "effect_size"] < -0.9
    assert allrows.loc["N", "effect"] == "none"
    assert set(table["cluster"]) == {"all", "c0"}


def test_null_data_gives_no_more_calls_than_expected():
    rng = np.random.default_rng(1)
    n_motifs = 300
    motif, gene, start, end = _hits([60] * n_motifs, 100, 1000, rng)
    contrib = rng.normal(0, 1, size=motif.size)
    null = rng.normal(0, 1, size=motif.size)  # same distribution: no effect anywhere
    table = motif_activity(
        motif,
        gene,
        rng.integers(0, 2, motif.size),
        contrib,
        null,
        [f"M{i}" for i in range(n_motifs)],
        [f"m{i}" for i in range(n_motifs)],
        ["0", "1"],
        fdr=0.05,
        min_hits=10,
        min_effect=0.0,
        min_relative=0.0,
    )
    tested = table["p_value"].notna()
    frac = (table.loc[tested, "p_value"] < 0.05).mean()
    assert 0.02 < frac < 0.08  # calibrated p-values
    assert (table["q_value"] < 0.05).sum() <= 0.05 * tested.sum()  # FDR-level false calls at most
    assert (table["effect"] != "none").sum() <= 3


def test_overlapping_redundant_motif_is_explained_by_the_stronger_one():
    rng = np.random.default_rng(2)
    n_genes, length = 100, 300
    gene = np.arange(n_genes)
    start_a = rng.integers(20, 250, size=n_genes)
    # motif B: one hit overlapping each A site (shifted 3 bp) plus 100 hits elsewhere with no effect
    gene_b = np.concatenate([gene, rng.integers(0, n_genes, 100)])
    start_b = np.concatenate([start_a + 3, rng.integers(0, 10, 100)])
    motif = np.concatenate([np.zeros(n_genes, int), np.ones(gene_b.size, int)])
    g = np.concatenate([gene, gene_b])
    s = np.concatenate([start_a, start_b])
    contrib = rng.normal(0, 0.05, size=motif.size)
    contrib[: 2 * n_genes] += 1.0  # A sites and the B hits on them
    contrib[motif == 0] += 0.2  # A is the better matrix: it captures slightly more
    null = rng.normal(0, 0.05, size=motif.size)
    table = motif_activity(
        motif,
        g,
        np.zeros(motif.size, int),
        contrib,
        null,
        ["A", "B"],
        ["a", "b"],
        ["0"],
        fdr=0.05,
        min_hits=10,
        min_effect=0.3,
        min_relative=0.0,
        start=s,
        end=s + 8,
        n_genes=n_genes,
        length=length,
    )
    allrows = table[table["cluster"] == "all"].set_index("motif_id")
    assert allrows.loc["A", "effect"] == "activating"
    assert allrows.loc["B", "marginal_effect"] == "activating"
    assert allrows.loc["B", "effect"] == "none" and allrows.loc["B", "explained_by"] == "A"


def test_empty_cluster_and_motif_without_hits_are_reported_not_crashing(caplog):
    caplog.set_level("INFO")
    motif = np.array([0] * 12)
    gene = np.arange(12)
    contrib = np.linspace(1, 2, 12)
    table = motif_activity(
        motif,
        gene,
        np.zeros(12, int),
        contrib,
        np.zeros(12),
        ["A", "EMPTY"],
        ["a", "empty"],
        ["0", "1"],
        fdr=0.05,
        min_hits=5,
        min_effect=0.0,
        min_relative=0.0,
    )
    rows = table.set_index(["motif_id", "cluster"])
    assert rows.loc[("EMPTY", "all"), "note"] == "no hits" and rows.loc[("EMPTY", "all"), "effect"] == "none"
    assert rows.loc[("A", "1"), "n_hits"] == 0 and rows.loc[("A", "1"), "note"] == "no hits"
    assert np.isnan(rows.loc[("A", "1"), "p_value"])
    assert "no hit at all" in caplog.text
    empty = motif_activity(
        np.zeros(0, int),
        np.zeros(0, int),
        np.zeros(0, int),
        np.zeros(0),
        np.zeros(0),
        ["A"],
        ["a"],
        ["0"],
        fdr=0.05,
        min_hits=10,
        min_effect=0.0,
        min_relative=0.0,
    )
    assert (empty["n_hits"] == 0).all() and (empty["effect"] == "none").all()


def test_enrichment_of_a_cluster_specific_motif():
    clusters = np.array(["0"] * 50 + ["1"] * 50, dtype=object)
    gene = np.concatenate([np.arange(50, 100), np.arange(0, 100, 10)])  # A in all of cluster 1; B scattered
    motif = np.concatenate([np.zeros(50, int), np.ones(10, int)])
    table = motif_enrichment(motif, gene, clusters, ["A", "B"], ["a", "b"]).set_index(["motif_id", "cluster"])
    assert table.loc[("A", "1"), "genes_with_hit"] == 50 and table.loc[("A", "1"), "q_value"] < 1e-10
    assert table.loc[("A", "1"), "direction"] == "enriched" and table.loc[("A", "0"), "direction"] == "depleted"
    assert table.loc[("B", "1"), "q_value"] > 0.5


def test_close_pairs_matches_brute_force():
    rng = np.random.default_rng(3)
    motif, gene, start, end = _hits([40, 30, 50], 10, 300, rng, width=6)
    obs = close_pairs(gene, start, end, motif, 3, 40)
    brute = np.zeros((3, 3), int)
    for i in range(motif.size):
        for j in range(motif.size):
            if (
                i != j
                and gene[i] == gene[j]
                and motif[i] != motif[j]
                and 0 <= start[j] - start[i] <= 40
                and start[j] >= end[i]
            ):
                brute[motif[i], motif[j]] += 1
    brute = brute + brute.T
    np.testing.assert_array_equal(obs, brute)


def test_expected_close_pairs_matches_random_placement():
    rng = np.random.default_rng(4)
    n_genes, length, d = 400, 500, 60
    motif, gene, start, end = _hits([600, 600], n_genes, length, rng, width=8)
    exp = expected_close_pairs(gene, start, motif, np.array([8, 8]), n_genes, length, d)
    obs = close_pairs(gene, start, end, motif, 2, d)
    assert exp[0, 1] == pytest.approx(obs[0, 1], rel=0.2)
    table = cooccurrence_test(obs, exp, np.array([600, 600]), ["A", "B"], ["a", "b"], None, min_count=5, fdr=0.05)
    assert not table["significant"].any()


def test_cooccurring_pair_is_significant_and_communities_split():
    rng = np.random.default_rng(5)
    n_genes, length = 300, 600
    # A and B always together 15 bp apart in half the genes; C, D together in the other half
    g1, g2 = np.arange(150), np.arange(150, 300)
    s1, s2 = rng.integers(0, 500, 150), rng.integers(0, 500, 150)
    gene = np.concatenate([g1, g1, g2, g2, rng.integers(0, n_genes, 200)])
    start = np.concatenate([s1, s1 + 15, s2, s2 + 20, rng.integers(0, 590, 200)])
    motif = np.concatenate(
        [np.zeros(150, int), np.ones(150, int), np.full(150, 2), np.full(150, 3), rng.integers(0, 4, 200)]
    )
    widths = np.full(4, 8)
    obs = close_pairs(gene, start, start + 8, motif, 4, 100)
    exp = expected_close_pairs(gene, start, motif, widths, n_genes, length, 100)
    table = cooccurrence_test(obs, exp, np.bincount(motif), list("ABCD"), list("abcd"), None, min_count=5, fdr=0.05)
    sig = {tuple(sorted(x)) for x in table.loc[table["significant"], ["motif_a", "motif_b"]].to_numpy()}
    assert ("A", "B") in sig and ("C", "D") in sig and ("A", "C") not in sig
    comm = communities(table, list("ABCD"), list("abcd"), seed=0).set_index("motif_id")["community"]
    assert comm["A"] == comm["B"] != comm["C"] == comm["D"]


def test_family_collapse_keeps_first_of_each_family():
    sim = np.eye(4, dtype=bool)
    sim[0, 2] = sim[2, 0] = True
    chosen, member_of = select_representatives(["x", "y", "z", "w"], sim, 10)
    assert chosen == [0, 1, 3] and member_of == {2: 0}


def test_pair_planted_at_12_bp_is_called_at_12():
    rng = np.random.default_rng(6)
    n_genes, length = 300, 400
    ga = np.arange(n_genes)
    sa = rng.integers(0, length - 40, n_genes)
    # planted: b 12 bp after a, both '+'; plus background hits of each at random places
    hits_a = {
        "gene": np.concatenate([ga, rng.integers(0, n_genes, 300)]),
        "start": np.concatenate([sa, rng.integers(0, length - 8, 300)]),
        "minus": np.zeros(600, bool),
    }
    hits_b = {
        "gene": np.concatenate([ga, rng.integers(0, n_genes, 300)]),
        "start": np.concatenate([sa + 12, rng.integers(0, length - 10, 300)]),
        "minus": np.concatenate([np.zeros(n_genes, bool), rng.random(300) < 0.5]),
    }
    spacing, periodicity = spacing_analysis(
        [("A", "B")],
        {"A": hits_a, "B": hits_b},
        {"A": 8, "B": 10},
        {"A": "a", "B": "b"},
        length,
        max_spacing=50,
        shuffles=50,
        seed=0,
    )
    pref = preferred_spacings(spacing, 0.05)
    top = pref[pref["orientation"] == "++"].iloc[0]
    assert top["spacing"] == 12 and top["q_value"] < 1e-10
    row = spacing[(spacing["orientation"] == "++") & (spacing["spacing"] == 12)].iloc[0]
    assert row["observed"] >= n_genes and row["null_lo"] <= row["expected"] <= row["null_hi"]
    # overlapping placements (-10 < spacing < 8) are never counted
    assert spacing.loc[(spacing["spacing"] > -10) & (spacing["spacing"] < 8), "observed"].sum() == 0
    assert len(periodicity) == 1 and {"power", "best_period", "p_value", "q_value"} <= set(periodicity.columns)


def test_same_motif_pairs_count_each_pair_once_with_nonnegative_spacing():
    hits = {"gene": np.array([0, 0, 0]), "start": np.array([10, 30, 45]), "minus": np.array([False, True, False])}
    obs, null = pair_spacing(hits, hits, 8, 8, 200, max_spacing=50, shuffles=10, seed=0, same=True)
    m = 50
    assert obs.sum() == 3  # 10-30, 10-45, 30-45
    assert obs[1, m + 20] == 1 and obs[0, m + 35] == 1 and obs[2, m + 15] == 1  # '+-', '++', '-+'
    assert obs[:, :m].sum() == 0


def test_helical_periodicity_detected():
    rng = np.random.default_rng(7)
    n_genes, length = 800, 400
    ga = np.arange(n_genes)
    sa = rng.integers(0, 300, n_genes)
    sp = rng.choice([10, 21, 31, 42], size=n_genes)  # helical phase
    hits_a = {"gene": ga, "start": sa, "minus": np.zeros(n_genes, bool)}
    hits_b = {"gene": ga, "start": sa + sp, "minus": np.zeros(n_genes, bool)}
    obs, null = pair_spacing(hits_a, hits_b, 6, 6, length, max_spacing=50, shuffles=100, seed=1)
    row = periodicity_row(obs, null, 50, 6)
    assert row["p_value"] < 0.05 and 10.0 <= row["best_period"] <= 11.0


def test_scan_grammar_recovery_cli_and_figures_end_to_end(tmp_path):
    """A tiny planted set through `scan`, `grammar`, `recovery` and the motif figures."""
    import json

    from promoter_cr.cli import main
    from promoter_cr.data.dataset import write_dataset
    from promoter_cr.motifs.database import default_collection, write_meme
    from promoter_cr.plots.motifs import plot_motifs

    rng = np.random.default_rng(11)
    jaspar = default_collection()
    planted = {"SP1": "MA0079.5", "REST": "MA0138.3", "CREB1": "MA0018.5", "NRF1": "MA0506.3"}
    by_id = {m.motif_id: m for m in jaspar}
    motifs = [by_id[i] for i in planted.values()] + [m for m in jaspar[:40] if m.motif_id not in planted.values()]
    cons = {k: by_id[v].pwm.argmax(axis=0).astype(np.uint8) for k, v in planted.items()}
    n, length = 160, 300
    seqs = rng.integers(0, 4, size=(n, length)).astype(np.uint8)
    wf = rng.normal(0, 0.01, size=(n, length)).astype(np.float32)
    for g in range(n):
        if g < 100:  # SP1 activating at 20..60
            s = int(rng.integers(20, 60))
            seqs[g, s : s + len(cons["SP1"])] = cons["SP1"]
            wf[g, s : s + len(cons["SP1"])] += 1.0 / len(cons["SP1"])
        if g >= 60:  # REST repressive at 100..140
            s = int(rng.integers(100, 140))
            seqs[g, s : s + len(cons["REST"])] = cons["REST"]
            wf[g, s : s + len(cons["REST"])] -= 1.0 / len(cons["REST"])
        if g % 2 == 0:  # CREB1 + NRF1 at 12 bp, '++', in the 180..260 region
            s = int(rng.integers(180, 250 - 12 - len(cons["NRF1"])))
            seqs[g, s : s + len(cons["CREB1"])] = cons["CREB1"]
            seqs[g, s + 12 : s + 12 + len(cons["NRF1"])] = cons["NRF1"]
    genes = pd.DataFrame({"gene_id": [f"g{i}" for i in range(n)], "label": np.zeros(n), "split": ["train"] * n})
    write_dataset(tmp_path / "data", seqs, genes, {"source": "test", "length": length})
    gt = {
        "motifs": [
            {"motif_id": planted["SP1"], "name": "SP1", "role": "activator", "effect": 1.0},
            {"motif_id": planted["REST"], "name": "REST", "role": "repressor", "effect": -1.0},
            {"motif_id": planted["CREB1"], "name": "CREB1", "role": "pair", "effect": 1.0},
            {"motif_id": planted["NRF1"], "name": "NRF1", "role": "pair", "effect": 1.0},
        ],
        "pairs": [{"a": planted["CREB1"], "b": planted["NRF1"], "spacing": 12, "orientation": "++", "effect": 1.0}],
    }
    (tmp_path / "data" / "ground_truth.json").write_text(json.dumps(gt))
    (tmp_path / "attr").mkdir()
    np.save(tmp_path / "attr" / "weighted_features.npy", wf)
    (tmp_path / "clu").mkdir()
    genes[["gene_id"]].assign(cluster=(np.arange(n) >= 80).astype(int)).to_csv(
        tmp_path / "clu" / "assignments.tsv", sep="\t", index=False
    )
    write_meme(motifs, tmp_path / "set.meme")
    cfg = json.dumps(
        {
            "motifs": {"meme_file": str(tmp_path / "set.meme")},
            "grammar": {"spacing_shuffles": 20, "cooccurrence_min_genes": 3, "top_pairs": 5},
        }
    )
    mdir = tmp_path / "res" / "motifs"
    base = ["--config", cfg, "--data", str(tmp_path / "data")]
    assert (
        main(
            [
                "scan",
                *base,
                "--attributions",
                str(tmp_path / "attr"),
                "--clusters",
                str(tmp_path / "clu"),
                "--out",
                str(mdir),
            ]
        )
        == 0
    )
    assert main(["grammar", *base, "--motifs-dir", str(mdir), "--out", str(mdir)]) == 0
    assert main(["recovery", *base, "--motifs-dir", str(mdir), "--out", str(mdir)]) == 0
    for name in (
        "activity",
        "enrichment",
        "cooccurrence",
        "communities",
        "spacing",
        "periodicity",
        "recovery",
        "recovery_matches",
    ):
        assert (mdir / f"{name}.tsv").exists(), name
    act = pd.read_csv(mdir / "activity.tsv", sep="\t", dtype={"cluster": str})
    allrows = act[act["cluster"] == "all"].set_index("motif_id")
    calls = allrows["effect"]
    assert calls[planted["REST"]] == "repressive"
    # SP1 sites are also matched by KLF4 (MA0039.5, in the set): one of the two keeps the call,
    # the other is explained by it
    assert allrows.loc[planted["SP1"], "marginal_effect"] == "activating"
    assert (calls[[planted["SP1"], "MA0039.5"]] == "activating").sum() == 1
    rec = pd.read_csv(mdir / "recovery.tsv", sep="\t").set_index("category")
    assert rec.loc["activating", "recall"] == 1.0 and rec.loc["repressive", "recall"] == 1.0
    assert rec.loc["pair_cooccurrence", "recall"] == 1.0 and rec.loc["pair_spacing", "recall"] == 1.0
    paths = plot_motifs(tmp_path / "res", tmp_path / "figs", {"formats": ["png"], "dpi": 50})
    assert {p.name for p in paths} == {
        "activity_volcano.png",
        "motif_logos.png",
        "enrichment_heatmap.png",
        "cooccurrence_network.png",
        "spacing_histograms.png",
    }
    assert all(p.stat().st_size > 0 for p in paths)


def test_motif_figures_with_empty_or_missing_tables(tmp_path):
    from promoter_cr.errors import InputDataError
    from promoter_cr.motifs.activity import ACTIVITY_COLUMNS
    from promoter_cr.motifs.cooccurrence import COOC_COLUMNS
    from promoter_cr.motifs.database import write_meme
    from promoter_cr.motifs.spacing import SPACING_COLUMNS
    from promoter_cr.plots.motifs import plot_motifs

    mdir = tmp_path / "ds" / "motifs"
    mdir.mkdir(parents=True)
    for name, cols in (
        ("activity", ACTIVITY_COLUMNS),
        ("cooccurrence", COOC_COLUMNS),
        ("spacing", SPACING_COLUMNS),
        ("communities", ["motif_id", "motif_name", "community"]),
    ):
        pd.DataFrame(columns=cols).to_csv(mdir / f"{name}.tsv", sep="\t", index=False)
    write_meme([], mdir / "motifs.meme")
    # enrichment.tsv is missing: an error naming it, never a silently skipped figure
    with pytest.raises(InputDataError, match="enrichment.tsv: figure input is missing"):
        plot_motifs(tmp_path / "ds", tmp_path / "figs", {"formats": ["png"], "dpi": 40})
    pd.DataFrame(columns=["motif_id", "cluster", "p_value", "q_value", "log2_enrichment"]).to_csv(
        mdir / "enrichment.tsv", sep="\t", index=False
    )
    paths = plot_motifs(tmp_path / "ds", tmp_path / "figs", {"formats": ["png"], "dpi": 40})
    # empty tables give figures that say so
    assert {p.name for p in paths} == {
        "activity_volcano.png",
        "motif_logos.png",
        "enrichment_heatmap.png",
        "cooccurrence_network.png",
        "spacing_histograms.png",
    }


def test_spacing_sweep_matches_brute_force():
    from promoter_cr.motifs.spacing import sweep_spacing_counts

    rng = np.random.default_rng(8)
    n = 300
    gene = rng.integers(0, 10, n)
    start = rng.integers(0, 400, n)
    minus = rng.random(n) < 0.5
    is_b = rng.random(n) < 0.4
    wa, wb, m = 6, 9, 30
    got = sweep_spacing_counts(gene, start, minus, is_b, wa, wb, m, same=False)[0]
    want = np.zeros((4, 2 * m + 1), int)
    for i in np.flatnonzero(~is_b):
        for j in np.flatnonzero(is_b):
            sp = start[j] - start[i]
            if gene[i] == gene[j] and abs(sp) <= m and not (-wb < sp < wa):
                want[2 * minus[i] + minus[j], sp + m] += 1
    np.testing.assert_array_equal(got, want)
