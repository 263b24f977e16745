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
    "pairs": [{"a": "MA0018.5", "b": "MA0506.3", "spacing": 12, "orientation": "++", "effect": 1.5}],
}


@pytest.fixture(scope="module")
def jaspar():
    from promoter_cr.motifs.database import default_collection

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
            "observed": [90, 12, 30],
            "expected": [2.0, 2.0, 2.0],
            "q_value": [1e-30, 1e-3, 1e-40],
        }
    )
    planted = [m for m in jaspar if m.motif_id in {g["motif_id"] for g in GT["motifs"]}]
    rec, matches = score_recovery(GT, activity, cooc, spacing, jaspar, planted, tomtom_threshold=1e-3, fdr=0.05)
    rec = rec.set_index("category")
    assert rec.loc["activating", "n_called"] == 4 and rec.loc["activating", "tp_calls"] == 3
    assert rec.loc["activating", "precision"] == pytest.approx(0.75)
    assert rec.loc["activating", "recall"] == pytest.approx(1 / 3)
    assert rec.loc["repressive", "precision"] == pytest.approx(0.5)
    assert rec.loc["repressive", "recall"] == pytest.approx(0.5)
    assert rec.loc["pair_cooccurrence", "recall"] == 1.0
    assert rec.loc["pair_spacing", "recall"] == 1.0  # (b, a) at -12 '++' is (a, b) at +12 '++'
    st = matches.set_index(["kind", "motif_id"])["status"]
    assert st[("activating_call", "MA0039.5")] == "TP"
    assert st[("activating_call", "MA0046.3")] == "FP"
    assert st[("repressive_call", "MA0028.3")] == "wrong sign"
    assert st[("planted_repressor", "MA0095.4")] == "missed"
    assert matches.loc[matches["kind"] == "planted_spacing", "value"].iloc[0] == 12


def test_spacing_off_by_more_than_tolerance_is_missed(jaspar):
    activity = _activity({"MA0079.5": "activating"})
    cooc = pd.DataFrame({"motif_a": ["MA0018.5"], "motif_b": ["MA0506.3"], "significant": [True]})
    spacing = pd.DataFrame(
        {
            "motif_a": ["MA0018.5"],
            "motif_b": ["MA0506.3"],
            "orientation": ["++"],
            "spacing": [17],
            "observed": [50],
            "expected": [1.0],
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
    with pytest.raises(InputDataError, match="role"):
        load_ground_truth(tmp_path / "ground_truth.json")
