"""Motif families: average linkage of Tomtom matches, so one matrix cannot chain two families."""

from __future__ import annotations

import numpy as np

from promoter_cr.seq.tomtom import families_from_similarity


def _sim(m: int, pairs: list[tuple[int, int]]) -> np.ndarray:
    sim = np.eye(m, dtype=bool)
    for i, j in pairs:
        sim[i, j] = sim[j, i] = True
    return sim


def test_a_bridge_matrix_does_not_chain_two_families():
    # 0-2 one family (all match), 3-5 another, 6 matches one member of each (a composite matrix)
    pairs = [(0, 1), (0, 2), (1, 2), (3, 4), (3, 5), (4, 5), (6, 2), (6, 3)]
    fam = families_from_similarity(_sim(7, pairs))
    assert fam[0] == fam[1] == fam[2]
    assert fam[3] == fam[4] == fam[5]
    assert fam[0] != fam[3]
    # connected components would have put all seven together
    assert len(set(fam.tolist())) >= 2


def test_one_missed_pair_does_not_split_a_family():
    # four matrices that all match except 0-1 (Tomtom missed one pair): still one family
    pairs = [(0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert families_from_similarity(_sim(4, pairs)).tolist() == [0, 0, 0, 0]


def test_a_chain_of_three_is_not_one_family_and_labels_follow_input_order():
    fam = families_from_similarity(_sim(3, [(0, 1), (1, 2)]))
    assert fam[0] != fam[2]
    assert fam[0] == 0
    assert families_from_similarity(np.zeros((0, 0), bool)).shape == (0,)
    assert families_from_similarity(np.ones((1, 1), bool)).tolist() == [0]
    assert families_from_similarity(_sim(3, [])).tolist() == [0, 1, 2]
