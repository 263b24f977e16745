"""Tests of the grammar statistics: sites, composition-matched nulls, activity, enrichment,
co-occurrence, communities and the model gate; each test of a test checks its calibration on
null data and its power on planted data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from promoter_cr.motifs.activity import motif_activity, paired_test
from promoter_cr.motifs.cooccurrence import (
    close_pair_genes,
    communities,
    cooccurrence_test,
    gene_strata,
    motif_priority,
    negative_binomial_sf,
    permuted_genes,
    select_representatives,
)
from promoter_cr.motifs.enrichment import motif_enrichment
from promoter_cr.motifs.gate import model_gate
from promoter_cr.motifs.nulls import (
    composition_cumsums,
    composition_slopes,
    matched_null_contributions,
    matched_null_starts,
    null_window_means,
)
from promoter_cr.motifs.sites import collapse_overlapping
from promoter_cr.stats.fdr import bh_qvalues

#: the calibration tests below check the statistics themselves: no magnitude filter
ACT = {"fdr": 0.05, "min_genes": 10, "min_effect": 0.2, "min_relative": 0.0, "min_difference": 0.0}


def _activity(motif, gene, contrib, null, n_motifs, clusters=None, **kw):
    """motif_activity over ``n_motifs`` motifs named M0.. with one cluster unless given."""
    site_cluster = np.zeros(len(motif), int) if clusters is None else clusters
    levels = [str(c) for c in range(int(site_cluster.max(initial=0)) + 1)]
    ids = [f"M{i}" for i in range(n_motifs)]
    return motif_activity(motif, gene, site_cluster, contrib, null, ids, [i.lower() for i in ids], levels,
                          **{**ACT, **kw})  # fmt: skip


# --- small helpers -----------------------------------------------------------------------------


def test_bh_qvalues_matches_hand_computation():
    q = bh_qvalues(np.array([0.01, 0.04, np.nan, 0.03, 0.5]))
    # sorted p 0.01, 0.03, 0.04, 0.5 -> p*m/rank 0.04, 0.06, 0.0533, 0.5 -> running minimum from the top
    np.testing.assert_allclose(q[[0, 1, 3, 4]], [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    assert np.isnan(q[2])


def test_paired_test_sign_effect_size_and_scipy_p():
    from scipy.stats import wilcoxon

    d = np.array([0.5, 1.2, -0.1, 0.8, 0.3, 2.0, 0.0, 0.7])
    r, p = paired_test(d)
    # ranks of |d| over the non-zero differences: 0.1->1, 0.3->2, 0.5->3, 0.7->4, 0.8->5, 1.2->6, 2.0->7
    assert r == pytest.approx((27 - 1) / 28)
    assert p == pytest.approx(wilcoxon(d[d != 0]).pvalue)
    assert paired_test(-d)[0] == pytest.approx(-r)
    assert paired_test(np.zeros(6)) == (0.0, 1.0)


def test_sites_collapse_overlapping_hits_of_one_motif_and_keep_the_best():
    rng = np.random.default_rng(0)
    n = 400
    gene, motif = rng.integers(0, 6, n), rng.integers(0, 3, n)
    start = rng.integers(0, 300, n)
    end = start + rng.integers(4, 15, n)
    score = rng.normal(size=n).round(1)  # ties happen
    keep = collapse_overlapping(gene, motif, start, end, score)
    # brute force: single-linkage clusters of overlapping intervals per (gene, motif)
    want = np.zeros(n, bool)
    for g in range(6):
        for m in range(3):
            idx = np.flatnonzero((gene == g) & (motif == m))
            idx = idx[np.lexsort((idx, start[idx]))]
            clusters, cur, cur_end = [], [], -1
            for i in idx:
                if cur and start[i] >= cur_end:
                    clusters.append(cur)
                    cur, cur_end = [], -1
                cur.append(i)
                cur_end = max(cur_end, end[i])
            if cur:
                clusters.append(cur)
            for c in clusters:
                c = np.array(c)
                best = c[score[c] == score[c].max()]
                want[best[np.argmin(start[best])]] = True
    np.testing.assert_array_equal(keep, want)
    # kept sites of one motif in one gene never overlap
    for g, m in {(g, m) for g, m in zip(gene[keep], motif[keep])}:
        sel = np.flatnonzero(keep & (gene == g) & (motif == m))
        s, e = start[sel], end[sel]
        o = np.argsort(s)
        assert (s[o][1:] >= e[o][:-1]).all()
    assert collapse_overlapping(*(np.zeros(0, int),) * 4, np.zeros(0)).shape == (0,)


# --- composition-matched nulls -----------------------------------------------------------------


def test_null_windows_stay_near_do_not_overlap_and_match_composition():
    rng = np.random.default_rng(1)
    n_genes, length, w = 30, 600, 10
    # promoters with GC-rich and AT-rich stretches of 40 bp
    gc_rich = np.repeat(rng.random((n_genes, length // 40)) < 0.5, 40, axis=1)
    codes = np.where(gc_rich, rng.choice([1, 2], (n_genes, length)), rng.choice([0, 3], (n_genes, length)))
    noise = rng.random(codes.shape) < 0.1
    codes[noise] = rng.integers(0, 4, int(noise.sum()))
    codes = codes.astype(np.uint8)
    gc_cs, cpg_cs = composition_cumsums(codes)
    np.testing.assert_array_equal(gc_cs[:, -1], ((codes == 1) | (codes == 2)).sum(1))
    gene = rng.integers(0, n_genes, 500)
    start = rng.integers(0, length - w, 500)
    width = np.full(500, w)
    ns = matched_null_starts(gc_cs, cpg_cs, gene, start, width, max_shift=100, n_null=8, rng=np.random.default_rng(2))
    assert ns.shape == (500, 8)
    assert (ns >= 0).all() and (ns <= length - w).all()
    assert (np.abs(ns - start[:, None]) <= 100).all()
    assert (np.abs(ns - start[:, None]) >= w).all()  # no overlap with the hit
    gc_hit = gc_cs[gene, start + w] - gc_cs[gene, start]
    gc_null = gc_cs[gene[:, None], ns + w] - gc_cs[gene[:, None], ns]
    rand = np.clip(start[:, None] + rng.integers(-100, 101, (500, 8)), 0, length - w)
    gc_rand = gc_cs[gene[:, None], rand + w] - gc_cs[gene[:, None], rand]
    matched_err = np.abs(gc_null - gc_hit[:, None]).mean()
    assert matched_err < 0.5 and matched_err < 0.25 * np.abs(gc_rand - gc_hit[:, None]).mean()
    # the mean over windows of a cumulative track
    track = rng.normal(size=(n_genes, length))
    cs = np.zeros((n_genes, length + 1))
    np.cumsum(track, axis=1, out=cs[:, 1:])
    got = null_window_means(cs, gene, ns, width)
    want = np.array([np.mean([track[g, s : s + w].sum() for s in row]) for g, row in zip(gene, ns)])
    np.testing.assert_allclose(got, want)


def test_a_gc_rich_motif_on_a_gc_following_track_is_not_called_with_matched_nulls():
    """The track follows G/C (as CR tracks do); a GC-rich motif with no effect of its own must not
    be called activating. A null of nearby windows regardless of composition would call it."""
    rng = np.random.default_rng(3)
    n_genes, length, w = 300, 500, 10
    codes = rng.integers(0, 4, (n_genes, length)).astype(np.uint8)
    # GC-rich stretches of varying GC, the motif's sites inside them
    for g in range(n_genes):
        for s in rng.integers(0, length - 60, 3):
            codes[g, s : s + 60] = np.where(rng.random(60) < 0.75, rng.choice([1, 2], 60), rng.choice([0, 3], 60))
    track = 0.1 * ((codes == 1) | (codes == 2)) + rng.normal(0, 0.05, codes.shape)
    cs = np.zeros((n_genes, length + 1))
    np.cumsum(track, axis=1, out=cs[:, 1:])
    gc_cs, cpg_cs = composition_cumsums(codes)
    # "sites" of a GC-rich motif: windows of 10 bp with >= 8 G/C
    win_gc = gc_cs[:, w:] - gc_cs[:, :-w]
    gene, start = np.nonzero(win_gc >= 8)
    pick = rng.choice(gene.size, 3000, replace=False)
    gene, start = gene[pick], start[pick]
    width = np.full(gene.size, w)
    contrib = cs[gene, start + w] - cs[gene, start]
    matched = matched_null_contributions(codes, track, gene, start, width, max_shift=100, n_null=8,
                                         rng=np.random.default_rng(4))  # fmt: skip
    # matching alone leaves a bias (the sites are the most G/C-rich windows; their matches less so)
    ns = matched_null_starts(gc_cs, cpg_cs, gene, start, width, max_shift=100, n_null=8, rng=np.random.default_rng(4))
    gc_null = (gc_cs[gene[:, None], ns + w] - gc_cs[gene[:, None], ns]).mean(1)
    assert -0.6 < (gc_null - (gc_cs[gene, start + w] - gc_cs[gene, start])).mean() < -0.1
    shifted = np.clip(
        start[:, None] + rng.choice([-1, 1], (gene.size, 8)) * rng.integers(w, 101, (gene.size, 8)), 0, length - w
    )
    unmatched = null_window_means(cs, gene, shifted, width)
    motif = np.zeros(gene.size, int)
    naive = _activity(motif, gene, contrib, unmatched, 1).query("cluster == 'all'").iloc[0]
    fair = _activity(motif, gene, contrib, matched, 1).query("cluster == 'all'").iloc[0]
    assert naive["effect"] == "activating"  # the confound the matched null removes
    assert fair["effect"] == "none" and abs(fair["effect_size"]) < 0.2
    # the slopes of the track on composition are what generated it
    b_gc, b_cpg = composition_slopes(track, codes)
    assert b_gc == pytest.approx(0.1, abs=0.005) and abs(b_cpg) < 0.01


# --- activity ----------------------------------------------------------------------------------


def test_activating_repressive_and_neutral_motifs_are_called_by_sign():
    rng = np.random.default_rng(5)
    motif = np.repeat(np.arange(3), 200)
    gene = rng.integers(0, 80, motif.size)
    null = rng.normal(0, 0.1, motif.size)
    contrib = rng.normal(0, 0.1, motif.size)
    contrib[motif == 0] += 1.0
    contrib[motif == 1] -= 1.0
    table = _activity(motif, gene, contrib, null, 3, clusters=rng.integers(0, 2, motif.size))
    allrows = table[table["cluster"] == "all"].set_index("motif_id")
    assert allrows.loc["M0", "effect"] == "activating" and allrows.loc["M0", "effect_size"] > 0.9
    assert allrows.loc["M1", "effect"] == "repressive" and allrows.loc["M1", "effect_size"] < -0.9
    assert allrows.loc["M2", "effect"] == "none"
    assert set(table["cluster"]) == {"all", "0", "1"}
    # one test unit per gene: n_genes counts genes with a site, n_hits the sites
    assert allrows.loc["M0", "n_hits"] == 200 and allrows.loc["M0", "n_genes"] == len(np.unique(gene[motif == 0]))


def test_activity_is_calibrated_when_sites_of_a_gene_share_a_deviation():
    """Many sites per gene with a shared, zero-mean per-gene deviation: a per-site test would
    count every site as independent evidence; the per-gene test stays calibrated."""
    rng = np.random.default_rng(6)
    n_motifs, n_genes = 400, 200
    rows = []
    for m in range(n_motifs):
        genes = rng.choice(n_genes, 20, replace=False)
        per_gene = rng.normal(0, 1, genes.size)  # shared deviation of the gene's sites, mean 0
        n_sites = rng.integers(1, 15, genes.size)
        g = np.repeat(genes, n_sites)
        rows.append((np.full(g.size, m), g, np.repeat(per_gene, n_sites) + rng.normal(0, 0.1, g.size)))
    motif, gene, contrib = (np.concatenate(x) for x in zip(*rows))
    null = rng.normal(0, 0.1, motif.size)
    table = _activity(motif, gene, contrib, null, n_motifs, min_effect=0.0)
    p = table.loc[table["cluster"] == "all", "p_value"].to_numpy()
    assert np.isfinite(p).all()
    assert 0.02 < (p < 0.05).mean() < 0.08  # calibrated
    assert (table["effect"] != "none").sum() <= 0.05 * len(p)


def test_min_genes_and_min_effect_gate_the_calls():
    rng = np.random.default_rng(7)
    # M0: strong but in 6 genes only; M1: small consistent shift in 3000 genes (significant, tiny r)
    motif = np.concatenate([np.zeros(6, int), np.ones(3000, int)])
    gene = np.concatenate([np.arange(6), np.arange(3000)])
    contrib = np.concatenate([np.full(6, 5.0), rng.normal(0.15, 1.0, 3000)])
    table = _activity(motif, gene, contrib, np.zeros(motif.size), 2).query("cluster == 'all'").set_index("motif_id")
    assert np.isnan(table.loc["M0", "p_value"]) and "min_genes" in table.loc["M0", "note"]
    assert table.loc["M1", "q_value"] < 0.05 and abs(table.loc["M1", "effect_size"]) < 0.2
    assert (table["effect"] == "none").all()


def test_overlapping_redundant_motif_is_explained_by_the_stronger_one():
    rng = np.random.default_rng(8)
    n_genes, length = 100, 300
    gene = np.arange(n_genes)
    start_a = rng.integers(20, 250, n_genes)
    # motif 1: a hit overlapping each motif-0 site (3 bp on) and 100 neutral hits elsewhere
    gene_b = np.concatenate([gene, rng.integers(0, n_genes, 100)])
    start_b = np.concatenate([start_a + 3, rng.integers(0, 10, 100)])
    motif = np.concatenate([np.zeros(n_genes, int), np.ones(gene_b.size, int)])
    g, s = np.concatenate([gene, gene_b]), np.concatenate([start_a, start_b])
    contrib = rng.normal(0, 0.05, motif.size)
    contrib[: 2 * n_genes] += 1.0
    contrib[motif == 0] += 0.2  # motif 0 is the better matrix
    null = rng.normal(0, 0.05, motif.size)
    table = _activity(motif, g, contrib, null, 2, start=s, end=s + 8, n_genes=n_genes, length=length)
    allrows = table[table["cluster"] == "all"].set_index("motif_id")
    assert allrows.loc["M0", "effect"] == "activating" and allrows.loc["M0", "explained_by"] == ""
    assert allrows.loc["M1", "marginal_effect"] == "activating"
    assert allrows.loc["M1", "effect"] == "none" and allrows.loc["M1", "explained_by"] == "M0"
    # its 100 sites elsewhere were tested on their own (neutral)
    assert 10 <= allrows.loc["M1", "conditional_n_genes"] <= 100


def _strong_and_weak(seed, n, *, null_sd, strong, weak, noise_sd):
    """``(motif, gene, contrib, null)`` of two motifs with one site in each of ``n`` genes: M0's sites carry
    ``strong`` over their null windows, M1's ``weak``."""
    rng = np.random.default_rng(seed)
    gene = np.concatenate([np.arange(n), np.arange(n)])
    motif = np.repeat([0, 1], n)
    null = rng.normal(0, null_sd, 2 * n)
    contrib = null + np.concatenate([np.full(n, strong), np.full(n, weak)]) + rng.normal(0, noise_sd, 2 * n)
    return motif, gene, contrib, null


def test_significant_but_tiny_contribution_is_not_called():
    """Hundreds of genes make a consistent 2 % share significant; min_relative keeps it uncalled."""
    sites = _strong_and_weak(3, 400, null_sd=0.05, strong=1.0, weak=0.02, noise_sd=0.01)
    loose = _activity(*sites, 2, min_relative=0.0).set_index(["motif_id", "cluster"])
    strict = _activity(*sites, 2, min_relative=0.1).set_index(["motif_id", "cluster"])
    assert loose.loc[("M1", "all"), "q_value"] < 1e-10 and loose.loc[("M1", "all"), "effect"] == "activating"
    assert strict.loc[("M1", "all"), "effect"] == "none" and strict.loc[("M0", "all"), "effect"] == "activating"
    # the statistics themselves do not change, only the call
    assert strict.loc[("M1", "all"), "q_value"] == loose.loc[("M1", "all"), "q_value"]


def test_an_effect_below_the_label_threshold_is_not_called():
    """min_difference (label units) drops a significant motif whose mean site - null difference is
    too small to matter for expression, whatever its rank; the statistics stay as they are."""
    sites = _strong_and_weak(4, 300, null_sd=0.01, strong=0.5, weak=0.03, noise_sd=0.005)
    loose = _activity(*sites, 2).set_index(["motif_id", "cluster"])
    strict = _activity(*sites, 2, min_difference=0.1).set_index(["motif_id", "cluster"])
    assert loose.loc[("M1", "all"), "effect"] == "activating" and strict.loc[("M1", "all"), "effect"] == "none"
    assert strict.loc[("M0", "all"), "effect"] == "activating"
    assert strict.loc[("M1", "all"), "q_value"] == loose.loc[("M1", "all"), "q_value"]


def test_a_call_agrees_in_sign_with_the_mean_contribution():
    """A rank test can be positive while the mean difference is negative (most sites slightly up, a
    few far down): such a motif is not called, so no call contradicts its contributions."""
    n = 200
    gene = np.arange(n)
    motif = np.zeros(n, int)
    null = np.zeros(n)
    contrib = np.where(np.arange(n) % 5 == 0, -1.0, 0.05)  # 80 % at +0.05, 20 % at -1: mean -0.16
    row = _activity(motif, gene, contrib, null, 1).set_index(["motif_id", "cluster"]).loc[("M0", "all")]
    assert row["effect_size"] > 0.2 and row["q_value"] < 0.05 and row["mean_difference"] < 0
    assert row["effect"] == "none"


def test_empty_cluster_and_motif_without_sites_are_reported_not_crashing(caplog):
    caplog.set_level("INFO")
    table = motif_activity(np.zeros(12, int), np.arange(12), np.zeros(12, int), np.linspace(1, 2, 12), np.zeros(12),
                           ["A", "EMPTY"], ["a", "empty"], ["0", "1"], **{**ACT, "min_genes": 5})  # fmt: skip
    rows = table.set_index(["motif_id", "cluster"])
    assert rows.loc[("EMPTY", "all"), "note"] == "no sites" and rows.loc[("EMPTY", "all"), "effect"] == "none"
    assert rows.loc[("A", "1"), "n_hits"] == 0 and np.isnan(rows.loc[("A", "1"), "p_value"])
    assert rows.loc[("A", "all"), "effect"] == "activating"
    assert "no site at all" in caplog.text
    empty = motif_activity(*(np.zeros(0, int),) * 3, np.zeros(0), np.zeros(0), ["A"], ["a"], ["0"], **ACT)
    assert (empty["n_hits"] == 0).all() and (empty["effect"] == "none").all()


def test_enrichment_of_a_cluster_specific_motif():
    clusters = np.array(["0"] * 50 + ["1"] * 50, dtype=object)
    gene = np.concatenate([np.arange(50, 100), np.arange(0, 100, 10)])
    motif = np.concatenate([np.zeros(50, int), np.ones(10, int)])
    table = motif_enrichment(motif, gene, clusters, ["A", "B"], ["a", "b"]).set_index(["motif_id", "cluster"])
    assert table.loc[("A", "1"), "genes_with_hit"] == 50 and table.loc[("A", "1"), "q_value"] < 1e-10
    assert table.loc[("A", "1"), "direction"] == "enriched" and table.loc[("A", "0"), "direction"] == "depleted"
    assert table.loc[("B", "1"), "q_value"] > 0.5


# --- co-occurrence -----------------------------------------------------------------------------


def _random_sites(rng, n_genes, length, n_per_motif, width=8, gene_p=None):
    motif = np.repeat(np.arange(len(n_per_motif)), n_per_motif)
    gene = rng.choice(n_genes, motif.size, p=gene_p)
    start = rng.integers(0, length - width, motif.size)
    return gene, start, start + width, motif


def test_close_pair_genes_matches_brute_force():
    rng = np.random.default_rng(9)
    gene, start, end, motif = _random_sites(rng, 12, 300, [40, 30, 50], width=6)
    got = close_pair_genes(gene, start, end, motif, 3, 40)[0]
    want = np.zeros((3, 3), int)
    for a in range(3):
        for b in range(a + 1, 3):
            for g in range(12):
                ia = np.flatnonzero((gene == g) & (motif == a))
                ib = np.flatnonzero((gene == g) & (motif == b))
                close = any(
                    abs(start[i] - start[j]) <= 40 and (start[j] >= end[i] or start[i] >= end[j])
                    for i in ia
                    for j in ib
                )
                want[a, b] += close
    want = want + want.T
    np.testing.assert_array_equal(got, want)
    # groups are counted apart
    two = close_pair_genes(np.tile(gene, 2), np.tile(start, 2), np.tile(end, 2), np.tile(motif, 2), 3, 40,
                           group=np.repeat([0, 1], gene.size), n_groups=2)  # fmt: skip
    np.testing.assert_array_equal(two, np.stack([want, want]))


def test_permutation_moves_site_sets_within_strata():
    rng = np.random.default_rng(10)
    strata = rng.integers(0, 4, 200)
    gene, _, _, motif = _random_sites(rng, 200, 300, [300, 200])
    new = permuted_genes(gene, motif, strata, 2, np.random.default_rng(0))
    np.testing.assert_array_equal(strata[new], strata[gene])
    for m in range(2):  # a permutation of genes per motif: the multiset of per-gene counts is kept
        sel = motif == m
        assert sorted(np.bincount(gene[sel], minlength=200)) == sorted(np.bincount(new[sel], minlength=200))
    gc = rng.random(200)
    s = gene_strata(np.array(["a", "b"] * 100), gc)
    assert set(np.unique(s)) == set(range(6))
    assert (np.bincount(s) >= 25).all()
    order = np.argsort(gc)  # GC tertiles rise with GC; the cluster is the other factor
    assert (np.diff(s[order] % 3) >= 0).all() and (s // 3 == np.array([0, 1] * 100)).all()


def test_negative_binomial_tail_is_poisson_without_overdispersion():
    from scipy.stats import poisson

    obs = np.array([0, 3, 10, 20])
    mean = np.full(4, 5.0)
    np.testing.assert_allclose(negative_binomial_sf(obs, mean, mean), poisson.sf(obs - 1, 5.0))
    over = negative_binomial_sf(obs, mean, mean * 4)
    assert over[0] == pytest.approx(1.0) and over[3] > poisson.sf(19, 5.0)  # heavier tail
    assert negative_binomial_sf(np.array([1]), np.array([0.0]), np.array([0.0]))[0] < 0.06  # mean floored


def test_cooccurrence_is_calibrated_when_motifs_share_a_composition_preference():
    """Motifs that prefer the same GC-rich genes meet more often than at random, without any
    pairing: the stratified null keeps that preference, so no pair is called."""
    rng = np.random.default_rng(11)
    n_genes, length, n_motifs = 1500, 300, 12
    gc = rng.random(n_genes)
    p = np.exp(3 * gc)
    gene, start, end, motif = _random_sites(rng, n_genes, length, [400] * n_motifs, gene_p=p / p.sum())
    strata = gene_strata(np.zeros(n_genes, int), gc, n_bins=10)
    ids = [f"M{i}" for i in range(n_motifs)]
    table = cooccurrence_test(gene, start, end, motif, strata, ids, ids, max_distance=100, permutations=200,
                              min_genes=5, fdr=0.05, seed=0)  # fmt: skip
    pv = table["p_value"].dropna().to_numpy()
    assert len(pv) == n_motifs * (n_motifs - 1) // 2
    assert (pv < 0.05).mean() <= 0.1 and not table["significant"].any()
    # a naive null (no strata: one stratum) calls the shared preference co-occurrence
    naive = cooccurrence_test(gene, start, end, motif, np.zeros(n_genes, int), ids, ids, max_distance=100,
                              permutations=200, min_genes=5, fdr=0.05, seed=0)  # fmt: skip
    assert (naive["p_value"] < 0.05).mean() > 0.3


def test_cooccurring_pairs_are_significant_and_communities_split():
    rng = np.random.default_rng(12)
    n_genes, length = 600, 600
    g1, g2 = rng.choice(n_genes, 150, replace=False), rng.choice(n_genes, 150, replace=False)
    s1, s2 = rng.integers(0, 500, 150), rng.integers(0, 500, 150)
    bg_gene, bg_start, _, bg_motif = _random_sites(rng, n_genes, length, [150] * 5)
    gene = np.concatenate([g1, g1, g2, g2, bg_gene])
    start = np.concatenate([s1, s1 + 15, s2, s2 + 20, bg_start])
    motif = np.concatenate([np.zeros(150, int), np.ones(150, int), np.full(150, 2), np.full(150, 3), bg_motif])
    ids = list("ABCDE")
    table = cooccurrence_test(gene, start, start + 8, motif, gene_strata(np.zeros(n_genes), rng.random(n_genes)),
                              ids, [i.lower() for i in ids], max_distance=100, permutations=100, min_genes=5,
                              fdr=0.05, seed=1)  # fmt: skip
    sig = {tuple(sorted(x)) for x in table.loc[table["significant"], ["motif_a", "motif_b"]].to_numpy()}
    assert {("A", "B"), ("C", "D")} <= sig and ("A", "C") not in sig
    row = table.set_index(["motif_a", "motif_b"]).loc[("A", "B")]
    assert row["observed"] >= 150 and row["expected"] < 60 and row["odds_ratio"] > 2
    comm = communities(table, ids, [i.lower() for i in ids], seed=0).set_index("motif_id")["community"]
    assert comm["A"] == comm["B"] != comm["C"] == comm["D"]


def test_family_collapse_and_priority_order():
    sim = np.eye(4, dtype=bool)
    sim[0, 2] = sim[2, 0] = True
    chosen, member_of = select_representatives(["x", "y", "z", "w"], sim, 10)
    assert chosen == [0, 1, 3] and member_of == {2: 0}
    assert select_representatives(["x", "y", "z", "w"], sim, 2)[0] == [0, 1]
    act = pd.DataFrame({
        "motif_id": ["a", "b", "c", "d", "e"], "cluster": "all",
        "effect": ["none", "activating", "none", "none", "none"],
        "marginal_effect": ["none", "activating", "repressive", "none", "none"],
        "q_value": [0.5, 0.01, 0.02, 0.3, np.nan], "p_value": [0.1, 0.001, 0.002, 0.01, np.nan],
    })  # fmt: skip
    assert motif_priority(act) == ["b", "c", "d", "a"]  # untested 'e' dropped


# --- the model gate ----------------------------------------------------------------------------


def test_model_gate_mines_a_model_that_learned_and_refuses_one_that_did_not():
    rng = np.random.default_rng(13)
    n = 600
    y = rng.normal(size=n)
    split = np.where(np.arange(n) < 400, "train", np.where(np.arange(n) < 500, "valid", "test"))
    good = pd.DataFrame({"label": y, "prediction": y + rng.normal(0, 1, n), "split": split})
    gate = model_gate(good, 0.05)
    assert gate["passed"] and gate["n"] == 200 and gate["rows"] == "valid and test genes"
    assert gate["lower_bound"] < gate["r"]
    # a model that fits its training genes only: held-out r ~ 0
    memorised = good.assign(prediction=np.where(split == "train", y, rng.normal(size=n)))
    assert not model_gate(memorised, 0.05)["passed"]
    # cross-fitted (out-of-fold everywhere): every row counts
    crossfit = good.assign(fold=np.arange(n) % 3)
    assert model_gate(crossfit, 0.05)["n"] == n
    # calibration: on pure noise the gate opens in at most ~5 % of data sets
    opened = sum(
        model_gate(pd.DataFrame({"label": r.normal(size=n), "prediction": r.normal(size=n), "split": split}), 0.0)[
            "passed"
        ]
        for r in (np.random.default_rng(s) for s in range(200))
    )
    assert opened <= 20
