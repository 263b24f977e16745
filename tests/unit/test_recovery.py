"""Tests of ground-truth recovery scoring (promoter_cr.motifs.recovery) on hand-made tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from promoter_cr.errors import InputDataError
from promoter_cr.motifs.recovery import load_ground_truth, score_recovery, site_shift, translate_spacing

GT = {
    "motifs": [
        {"motif_id": "MA0079.5", "name": "SP1", "role": "activator", "effect": 1.0},
        {"motif_id": "MA0028.3", "name": "ELK1", "role": "activator", "effect": 1.0},
        {"motif_id": "MA0060.4", "name": "NFYA", "role": "activator", "effect": 1.0},
        {"motif_id": "MA0138.3", "name": "REST", "role": "repressor", "effect": -1.0},
        {"motif_id": "MA0095.4", "name": "YY1", "role": "repressor", "effect": -1.0},
        {"motif_id": "MA0018.5", "name": "CREB1", "role": "pair", "effect": 1.5},
        {"motif_id": "MA0506.3", "name": "NRF1", "role": "pair", "effect": 1.5},
    ],
    "pairs": [
        {"a": "MA0018.5", "b": "MA0506.3", "spacing": 12, "orientation": "++", "effect": 1.5, "mode": "cooperative"}
    ],
}


@pytest.fixture(scope="module")
def jaspar():
    from promoter_cr.seq.motifs import default_collection

    return default_collection()


def _activity(calls: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "motif_id": list(calls),
            "cluster": ["all"] * len(calls),
            "effect": list(calls.values()),
            "q_value": [1e-5] * len(calls),
        }
    )


def test_precision_recall_on_hand_made_activity(jaspar):
    activity = _activity(
        {
            "MA0079.5": "activating",  # SP1: TP
            "MA0039.5": "activating",  # KLF4: same family as SP1 by Tomtom -> TP
            "MA0046.3": "activating",  # HNF1A: unplanted -> FP
            "MA0506.3": "activating",  # NRF1: planted pair member, positive pair -> TP
            "MA0138.3": "repressive",  # REST: TP
            "MA0028.3": "repressive",  # ELK1 called with the wrong sign -> FP
            "MA0095.4": "none",  # YY1 missed
        }
    )
    # extra row of another cluster must be ignored
    activity = pd.concat(
        [
            activity,
            pd.DataFrame({"motif_id": ["MA0046.3"], "cluster": ["1"], "effect": ["repressive"], "q_value": [1e-9]}),
        ]
    )
    cooc = pd.DataFrame({"motif_a": ["MA0506.3"], "motif_b": ["MA0018.5"], "significant": [True]})
    spacing = pd.DataFrame(
        {
            "motif_a": ["MA0506.3"] * 3,
            "motif_b": ["MA0018.5"] * 3,
            "orientation": ["++", "++", "+-"],
            "spacing": [-12, -30, 5],
            "interaction": [0.9, 0.1, 0.3],
            "q_value": [1e-30, 1e-3, 1e-40],
        }
    )
    planted = [m for m in jaspar if m.motif_id in {g["motif_id"] for g in GT["motifs"]}]
    rec, matches = score_recovery(GT, activity, cooc, spacing, jaspar, planted, tomtom_threshold=1e-3, fdr=0.05)
    rec = rec.set_index("category")
    # families: {SP1, KLF4} TP, {HNF1A} FP, {NRF1} TP (a cooperative pair's member carries its effect)
    assert rec.loc["activating", "n_called"] == 3 and rec.loc["activating", "tp_calls"] == 2
    assert rec.loc["activating", "precision"] == pytest.approx(2 / 3)
    assert rec.loc["activating", "recall"] == pytest.approx(1 / 3)  # SP1 of SP1, ELK1, NFYA
    assert rec.loc["repressive", "precision"] == pytest.approx(0.5)
    assert rec.loc["repressive", "recall"] == pytest.approx(0.5)
    assert rec.loc["pair_members", "recall"] == pytest.approx(0.5)  # NRF1 called, CREB1 not
    assert rec.loc["pair_cooccurrence", "recall"] == 1.0
    # (b, a) at -12 '++' is (a, b) at +12 '++': TP; the '+-' spacing at 5 is a FP
    assert rec.loc["pair_spacing", "recall"] == 1.0 and rec.loc["pair_spacing", "precision"] == pytest.approx(0.5)
    st = matches.set_index(["kind", "motif_id"])["status"]
    fam = [k for k in st.index if k[0] == "activating_family" and "MA0039.5" in k[1]]
    assert len(fam) == 1 and "MA0079.5" in fam[0][1] and st[fam[0]] == "TP"
    assert st[("activating_family", "MA0046.3")] == "FP"
    assert st[("repressive_family", "MA0028.3")] == "wrong sign"
    assert st[("planted_repressor", "MA0095.4")] == "missed"
    sp = matches[matches["kind"] == "preferred_spacing"].set_index("motif_name")["status"]
    assert sp["++ -12"] == "TP" and sp["+- 5"] == "FP"


def test_additive_pairs_and_calibration_nulls_have_no_true_spacing(jaspar):
    activity = _activity({"MA0079.5": "activating"})
    cooc = pd.DataFrame({"motif_a": ["MA0018.5"], "motif_b": ["MA0506.3"], "significant": [True]})
    spacing = pd.DataFrame({"motif_a": ["MA0018.5"], "motif_b": ["MA0506.3"], "orientation": ["++"], "spacing": [12],
                            "interaction": [0.5], "q_value": [1e-20]})  # fmt: skip
    planted = [m for m in jaspar if m.motif_id in {g["motif_id"] for g in GT["motifs"]}]
    additive = {**GT, "pairs": [{**GT["pairs"][0], "mode": "additive"}]}
    rec, _ = score_recovery(additive, activity, cooc, spacing, jaspar, planted, tomtom_threshold=1e-3, fdr=0.05)
    rec = rec.set_index("category")
    # an additive pair has no spacing rule: a preferred spacing for it is a false positive
    assert rec.loc["pair_spacing", "n_planted"] == 0 and rec.loc["pair_spacing", "precision"] == 0.0
    assert rec.loc["pair_cooccurrence", "recall"] == 1.0  # it still co-occurs by design
    null = {**GT, "grammar": {"null": "permuted_labels"}}
    rec, _ = score_recovery(null, activity, cooc, spacing, jaspar, planted, tomtom_threshold=1e-3, fdr=0.05)
    rec = rec.set_index("category")
    # under a calibration null nothing is functional: every call is a false positive
    assert rec.loc["activating", "precision"] == 0.0 and np.isnan(rec.loc["activating", "recall"])
    assert rec.loc["pair_spacing", "precision"] == 0.0 and rec.loc["pair_cooccurrence", "precision"] == 0.0


def test_spacing_off_by_more_than_tolerance_is_missed(jaspar):
    activity = _activity({"MA0079.5": "activating"})
    cooc = pd.DataFrame({"motif_a": ["MA0018.5"], "motif_b": ["MA0506.3"], "significant": [True]})
    spacing = pd.DataFrame(
        {
            "motif_a": ["MA0018.5"],
            "motif_b": ["MA0506.3"],
            "orientation": ["++"],
            "spacing": [17],
            "interaction": [0.5],
            "q_value": [1e-20],
        }
    )
    planted = [m for m in jaspar if m.motif_id in {g["motif_id"] for g in GT["motifs"]}]
    rec, _ = score_recovery(GT, activity, cooc, spacing, jaspar, planted, tomtom_threshold=1e-3, fdr=0.05)
    rec = rec.set_index("category")
    assert rec.loc["pair_spacing", "recall"] == 0.0
    assert rec.loc["repressive", "n_called"] == 0 and np.isnan(rec.loc["repressive", "precision"])


def test_site_shift_and_translation_of_a_longer_matching_matrix():
    # x = 3 extra columns + a (width 9): Tomtom offset -3, strand 0
    assert site_shift("+", -3.0, 0.0, 12, 9) == (3, "+")
    assert site_shift("-", -3.0, 0.0, 12, 9) == (0, "-")
    # x = reverse complement of a: the aligned a site is on the other strand
    assert site_shift("+", 0.0, 1.0, 9, 9) == (0, "-")
    rows = pd.DataFrame({"spacing": [9, 9], "orientation": ["++", "-+"]})
    out = translate_spacing(rows, (-3.0, 0.0, 12, 9), (0.0, 0.0, 10, 10))
    assert out["spacing"].tolist() == [6, 9] and out["orientation"].tolist() == ["++", "-+"]


def test_missing_or_malformed_ground_truth(tmp_path):
    with pytest.raises(InputDataError, match="ground truth is missing"):
        load_ground_truth(tmp_path / "ground_truth.json")
    (tmp_path / "ground_truth.json").write_text(json.dumps({"motifs": [{"motif_id": "X"}]}))
    with pytest.raises(InputDataError, match="jaspar_release"):
        load_ground_truth(tmp_path / "ground_truth.json")
    gt = {"jaspar_release": "JASPAR2024", "motifs": [{"motif_id": "X"}], "pairs": []}
    (tmp_path / "ground_truth.json").write_text(json.dumps(gt))
    with pytest.raises(InputDataError, match="role"):
        load_ground_truth(tmp_path / "ground_truth.json")
    gt["motifs"] = [{"motif_id": "X", "role": "activator", "effect": 1.0}]
    gt["pairs"] = [{"a": "X", "b": "Y", "spacing": 12, "orientation": "++", "effect": 1.0}]
    (tmp_path / "ground_truth.json").write_text(json.dumps(gt))
    with pytest.raises(InputDataError, match=r"pairs\[0\].*mode|mode"):
        load_ground_truth(tmp_path / "ground_truth.json")


def test_palindrome_forms_are_the_same_sites():
    """A call on a palindromic motif's '+' strand also stands for its '-' strand, shifted by d."""
    from promoter_cr.motifs.recovery import palindrome_forms

    assert palindrome_forms("++", 12, None, None) == [("++", 12)]
    assert palindrome_forms("++", 12, None, 0) == [("++", 12), ("+-", 12)]
    assert palindrome_forms("-+", 12, None, -1) == [("-+", 12), ("--", 11)]
    assert palindrome_forms("++", 12, 2, None) == [("++", 12), ("-+", 10)]
    assert set(palindrome_forms("++", 5, 1, 1)) == {("++", 5), ("-+", 4), ("+-", 6), ("--", 5)}
    # the shift convention of palindrome_shift: '-' at t writes what '+' writes at t - d
    from promoter_cr.motifs.insilico import consensus_codes, palindrome_shift
    from promoter_cr.seq.motifs import Motif

    site = "TTGCGCATGCGC"
    pwm = np.full((4, len(site)), 0.05)
    for i, c in enumerate(site):
        pwm["ACGT".index(c), i] = 0.85
    m = Motif("P", "p", pwm)
    d = palindrome_shift(m)
    seq_minus = np.full(40, 9)
    seq_plus = np.full(40, 9)
    t = 20
    seq_minus[t : t + len(site)] = consensus_codes(m, "-")
    seq_plus[t - d : t - d + len(site)] = consensus_codes(m, "+")
    core = slice(max(t, t - d), min(t, t - d) + len(site))
    assert d == 2 and (seq_minus[core] == seq_plus[core]).all()


def test_co_planted_pairs_come_from_the_ground_truth_genes():
    from promoter_cr.motifs.recovery import co_planted

    rng = np.random.default_rng(0)
    genes = []
    for i in range(400):
        plants = []
        if i % 2 == 0:  # A with its decoy D in the same genes
            plants += [{"motif_id": "A"}, {"motif_id": "D"}]
        if rng.random() < 0.5:  # C independent of both
            plants.append({"motif_id": "C"})
        genes.append({"plants": plants})
    together = co_planted({"genes": genes})
    assert together == {frozenset(("A", "D"))}
    assert co_planted({}) == set()


def test_edge_between_motifs_planted_together_is_not_a_false_positive(jaspar):
    activity = _activity({"MA0079.5": "activating"})
    cooc = pd.DataFrame(
        {
            "motif_a": ["MA0018.5", "MA0079.5", "MA0079.5"],
            "motif_b": ["MA0506.3", "MA0028.3", "MA0095.4"],
            "significant": [True, True, True],
        }
    )
    spacing = pd.DataFrame(columns=["motif_a", "motif_b", "orientation", "spacing", "interaction", "q_value"])
    # SP1 and ELK1 share their genes; YY1 is planted independently of SP1
    genes = [
        {
            "plants": [{"motif_id": "MA0079.5"}, {"motif_id": "MA0028.3"}] * (i % 2 == 0)
            + [{"motif_id": "MA0095.4"}] * (i % 3 == 0)
        }
        for i in range(300)
    ]
    planted = [m for m in jaspar if m.motif_id in {g["motif_id"] for g in GT["motifs"]}]
    rec, matches = score_recovery(
        {**GT, "genes": genes}, activity, cooc, spacing, jaspar, planted, tomtom_threshold=1e-3, fdr=0.05
    )
    rec = rec.set_index("category")
    st = matches[matches["kind"] == "cooccurrence_edge"].set_index("motif_id")["status"]
    assert st["MA0018.5+MA0506.3"] == "TP" and st["MA0079.5+MA0028.3"] == "planted together"
    assert st["MA0079.5+MA0095.4"] == "FP"
    assert rec.loc["pair_cooccurrence", "n_called"] == 2 and rec.loc["pair_cooccurrence", "precision"] == 0.5
    assert rec.loc["cooccurrence_planted_together", "n_called"] == 1


def test_a_second_family_of_one_planted_motif_is_a_duplicate_not_a_true_positive(jaspar, monkeypatch):
    import promoter_cr.motifs.recovery as recovery

    activity = _activity({"MA0039.5": "activating", "MA0079.5": "activating", "MA0046.3": "activating"})
    activity["mean_difference"] = [0.1, 0.5, 0.2]  # SP1 (MA0079.5) is the strongest call
    # split SP1 and its Tomtom relative KLF4 into two families, as a stricter linkage might
    monkeypatch.setattr(recovery, "called_families", lambda ids, *a: np.arange(len(ids)))
    empty = pd.DataFrame({"motif_a": [], "motif_b": [], "significant": []})
    spacing = pd.DataFrame(columns=["motif_a", "motif_b", "orientation", "spacing", "interaction", "q_value"])
    planted = [m for m in jaspar if m.motif_id in {g["motif_id"] for g in GT["motifs"]}]
    rec, matches = score_recovery(GT, activity, empty, spacing, jaspar, planted, tomtom_threshold=1e-3, fdr=0.05)
    st = matches.set_index(["kind", "motif_id"])["status"]
    assert st[("activating_family", "MA0079.5")] == "TP"
    assert st[("activating_family", "MA0039.5")] == "duplicate"
    assert st[("activating_family", "MA0046.3")] == "FP"
    rec = rec.set_index("category")
    # the duplicate is neither a TP nor a FP: precision is SP1's family against HNF1A's
    assert rec.loc["activating", "n_called"] == 2 and rec.loc["activating", "tp_calls"] == 1
    assert rec.loc["activating", "precision"] == pytest.approx(1 / 2)
    # the strongest family is listed first
    fams = matches[matches["kind"] == "activating_family"]["motif_id"].tolist()
    assert fams[0] == "MA0079.5"
