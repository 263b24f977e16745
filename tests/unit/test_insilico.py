"""Tests of the in-silico pair insertion experiments (promoter_cr.motifs.insilico).

Deterministic toy models with hand-set convolution filters (tangermeme style): each scans
both strands for the exact consensus of motif A and of motif B, so the model's response to
every insertion is known:

* ``cooperative``: ``f = 1.0 nA + 0.5 nB + 1.0 * #(A+ at p, B+ at p + 12)`` (one spacing rule,
  +12 ``++``) plus a weak nonlinear GC term (background-dependent noise in the interaction);
* ``additive``: the same without the pair bonus (no spacing rule);
* ``saturating``: ``1.5 tanh((nA + 0.5 nB) / 1.5 + 4 (GC - 1/2))`` -- antagonistic at every
  spacing alike (non-additive, but no spacing rule);
* ``periodic``: a bonus ``0.15 (1 + cos(2 pi (s - 11) / 10.5))`` for A+ and B+ at every
  offset ``s`` of 9..45 bp (helical phasing).

The motifs are chosen so that no junction of two abutting sites spells a third site.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import kstest

from promoter_cr.insilico.edits import write_sites
from promoter_cr.models.inference import Predictor
from promoter_cr.motifs.insilico import (
    INSILICO_COLUMNS,
    PAIR_COLUMNS,
    InsertionError,
    consensus_codes,
    insilico_grammar,
    median_anchor,
    pair_experiment,
    pair_rows,
    pair_summary,
    preferred_spacings,
    sample_backgrounds,
    spacing_grid,
)
from promoter_cr.seq.encoding import decode, encode, reverse_complement
from promoter_cr.seq.motifs import Motif
from promoter_cr.stats.fdr import bh_qvalues
from promoter_cr.stats.interaction import rank_test

SITE_A, SITE_B = "GATTACAGG", "CCATAGGCAA"
LENGTH, N_BG, ANCHOR, MAX_SPACING = 200, 24, 70, 40


def _pwm(site: str, p: float = 0.85) -> np.ndarray:
    c = encode(site)
    m = np.full((4, len(c)), (1 - p) / 3)
    m[c, np.arange(len(c))] = p
    return m


#: helical phasing: a cooperative bonus at every offset, peaking every 10.5 bp
PHASED = tuple((o, 0.15 * (1 + float(np.cos(2 * np.pi * (o - 11) / 10.5)))) for o in range(9, 46))
MOTIF_A, MOTIF_B = Motif("MA_A", "AAA", _pwm(SITE_A)), Motif("MA_B", "BBB", _pwm(SITE_B))
MOTIFS = {"MA_A": MOTIF_A, "MA_B": MOTIF_B}


def _filter(site: str) -> torch.Tensor:
    return torch.tensor(np.eye(4, dtype=np.float32)[encode(site)].T.copy())[None]  # (1, 4, w)


class ScanModel(torch.nn.Module):
    """Exact-match scanner of A and B on both strands with a known pair rule (module docstring)."""

    def __init__(self, *, offsets: tuple[tuple[int, float], ...] = (), gc: float = 0.0, saturate: float | None = None):
        super().__init__()
        self.fa, self.fb = _filter(SITE_A), _filter(SITE_B)
        self.offsets, self.gc, self.saturate = offsets, gc, saturate  # offsets: (offset, bonus) of A+ ... B+

    def _hits(self, x: torch.Tensor, filt: torch.Tensor) -> torch.Tensor:
        return (F.conv1d(x, filt)[:, 0] > filt.shape[-1] - 0.5).float()  # (B, L - w + 1)

    def forward(self, x: torch.Tensor, extra=None) -> torch.Tensor:
        rc = x.flip(1).flip(2)
        plus_a, plus_b = self._hits(x, self.fa), self._hits(x, self.fb)
        n_a = plus_a.sum(1) + self._hits(rc, self.fa).sum(1)
        n_b = plus_b.sum(1) + self._hits(rc, self.fb).sum(1)
        out = 1.0 * n_a + 0.5 * n_b
        for o, bonus in self.offsets:
            n = min(plus_a.shape[1], plus_b.shape[1] - o)
            out = out + bonus * (plus_a[:, :n] * plus_b[:, o : o + n]).sum(1)
        gc = (x[:, 1] + x[:, 2]).mean(1)
        if self.saturate:
            return self.saturate * torch.tanh(out / self.saturate + 4 * (gc - 0.5))
        return out + self.gc * torch.tanh(40 * (gc - 0.5))


class Recorder(torch.nn.Module):
    """Returns 0 and keeps every sequence it is shown (decoded)."""

    def __init__(self):
        super().__init__()
        self.seen: list[str] = []

    def forward(self, x: torch.Tensor, extra=None) -> torch.Tensor:
        codes = x.argmax(1).numpy().astype(np.uint8)
        codes[x.sum(1).numpy() == 0] = 4
        self.seen.extend(decode(c) for c in codes)
        return torch.zeros(x.shape[0])


@pytest.fixture(scope="module")
def genes() -> np.ndarray:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=(300, LENGTH), dtype=np.uint8)
    # planted sites in the data set: the shuffled backgrounds must not keep them
    for i in range(0, 300, 3):
        codes[i, 50 : 50 + len(SITE_A)] = encode(SITE_A)
    return codes


def _run(model, genes, seed: int, anchor: int = ANCHOR, min_contrast: float = 0.0, clash_gap: int = 0):
    bg, _ = sample_backgrounds(genes, n_backgrounds=N_BG, seed=seed)
    return insilico_grammar(
        Predictor(model, "cpu", 512),
        bg,
        MOTIFS,
        [("MA_A", "MA_B")],
        [anchor],
        max_spacing=MAX_SPACING,
        spacing_step=1,
        min_gap=0,
        max_pairs=5,
        min_contrast=min_contrast,
        clash_gap=clash_gap,
    )


# ----------------------------------------------------------------------------- sites and design


def test_consensus_codes_and_reverse_complement():
    assert decode(consensus_codes(MOTIF_A, "+")) == SITE_A
    assert decode(consensus_codes(MOTIF_A, "-")) == reverse_complement(SITE_A)
    with pytest.raises(InsertionError, match="strand"):
        consensus_codes(MOTIF_A, "x")


def test_write_sites_matches_tangermeme_substitute():
    from tangermeme.ersatz import substitute

    rng = np.random.default_rng(1)
    block = rng.integers(0, 5, size=(6, 40), dtype=np.uint8)
    rows = np.array([0, 2, 3, 5])
    starts = np.array([0, 7, 31, 20])
    t = torch.from_numpy(block.copy())
    write_sites(t, torch.from_numpy(rows), torch.from_numpy(starts), torch.from_numpy(encode(SITE_A)))
    eye = np.concatenate([np.eye(4, dtype=np.float32), np.zeros((1, 4), np.float32)])
    for i in range(6):
        expected = torch.from_numpy(eye[block[i]].T.copy())[None]
        if i in rows:
            expected = substitute(expected, SITE_A, start=int(starts[list(rows).index(i)]))
        got = eye[t[i].numpy()].T
        assert np.array_equal(got, expected[0].numpy()), i


def test_every_inserted_sequence_base_for_base():
    """Each forward pass sees exactly the background with A (at the anchor) and/or B on the right strands."""
    from tangermeme.ersatz import substitute

    rng = np.random.default_rng(2)
    bg = rng.integers(0, 4, size=(2, 60), dtype=np.uint8)
    rec = Recorder()
    exp = pair_experiment(Predictor(rec, "cpu", 7), bg, MOTIF_A, MOTIF_B, 20, max_spacing=20, spacing_step=1, min_gap=0)
    eye = np.eye(4, dtype=np.float32)

    def put(seq_codes, site, start):
        x = substitute(torch.from_numpy(eye[seq_codes].T.copy())[None], site, start=start)
        return x[0].argmax(0).numpy().astype(np.uint8)

    sites = {"A+": SITE_A, "A-": reverse_complement(SITE_A), "B+": SITE_B, "B-": reverse_complement(SITE_B)}
    expected = []
    for b in range(2):
        expected.append(decode(bg[b]))
        expected += [decode(put(bg[b], sites["A" + s], 20)) for s in "+-"]
        for s in "+-":
            expected += [decode(put(bg[b], sites["B" + s], 20 + sp)) for sp in exp.spacings]
        for o in ("++", "+-", "-+", "--"):
            for sp in exp.spacings:
                expected.append(decode(put(put(bg[b], sites["A" + o[0]], 20), sites["B" + o[1]], 20 + sp)))
    assert sorted(rec.seen) == sorted(expected)
    assert len(rec.seen) == 2 * (3 + 6 * exp.spacings.size)
    # a '+-' pair at +12 reads A then, 12 bp after its start, the reverse complement of B
    one = decode(put(put(bg[0], SITE_A, 20), reverse_complement(SITE_B), 32))
    assert one[20:29] == SITE_A and one[32:42] == reverse_complement(SITE_B) and one in rec.seen
    assert exp.fab.shape == (2, 4, exp.spacings.size) and exp.fb.shape == (2, 2, exp.spacings.size)


def test_spacing_grid_keeps_sites_apart_and_inside():
    s = spacing_grid(100, 10, 9, 10, max_spacing=30, spacing_step=1, min_gap=0)
    assert s.min() == -10 and s.max() == 30  # B cannot start before 0
    assert not np.any((s > -10) & (s < 9))  # no overlap
    s2 = spacing_grid(100, 10, 9, 10, max_spacing=30, spacing_step=3, min_gap=0)
    assert np.all(s2 % 3 == 0) and set(s2) <= set(s)
    s3 = spacing_grid(100, 10, 9, 10, max_spacing=30, spacing_step=1, min_gap=2)
    assert s3.max() == 30 and 11 in s3 and 10 not in s3 and 9 not in s3 and -10 not in s3


def test_bad_inputs_are_clear_errors(genes):
    bg = genes[:4]
    with pytest.raises(InsertionError, match="anchor 195 is outside the window"):
        pair_experiment(
            Predictor(Recorder(), "cpu", 8), bg, MOTIF_A, MOTIF_B, 195, max_spacing=20, spacing_step=1, min_gap=0
        )
    with pytest.raises(InsertionError, match="anchor -1 is outside"):
        spacing_grid(LENGTH, -1, 9, 10, max_spacing=20, spacing_step=1, min_gap=0)
    long = Motif("LONG", "long", _pwm("ACGT" * 60))
    with pytest.raises(InsertionError, match="longer than the 200 bp window"):
        pair_experiment(
            Predictor(Recorder(), "cpu", 8), bg, long, MOTIF_B, 0, max_spacing=20, spacing_step=1, min_gap=0
        )
    with pytest.raises(InsertionError, match="no spacing"):
        spacing_grid(30, 10, 9, 10, max_spacing=5, spacing_step=1, min_gap=0)
    with pytest.raises(InsertionError, match="not in the motif set"):
        insilico_grammar(
            Predictor(Recorder(), "cpu", 8),
            bg,
            MOTIFS,
            [("MA_A", "NOPE")],
            [10],
            max_spacing=20,
            spacing_step=1,
            min_gap=0,
            max_pairs=2,
            min_contrast=0.0,
            clash_gap=0,
        )
    with pytest.raises(InsertionError, match="2 pairs but 1 anchors"):
        insilico_grammar(
            Predictor(Recorder(), "cpu", 8),
            bg,
            MOTIFS,
            [("MA_A", "MA_B")] * 2,
            [10],
            max_spacing=20,
            spacing_step=1,
            min_gap=0,
            max_pairs=2,
            min_contrast=0.0,
            clash_gap=0,
        )
    with pytest.raises(InsertionError, match="no hit start"):
        median_anchor(np.array([]), length=LENGTH, width=9)
    assert median_anchor(np.array([5, 300, 400]), length=LENGTH, width=9) == LENGTH - 9


def test_backgrounds_are_seeded_dinucleotide_shuffles(genes):
    bg, rows = sample_backgrounds(genes, n_backgrounds=10, seed=3)
    bg2, rows2 = sample_backgrounds(genes, n_backgrounds=10, seed=3)
    assert bg.dtype == np.uint8 and bg.shape == (10, LENGTH)
    assert np.array_equal(bg, bg2) and np.array_equal(rows, rows2)
    for b, g in zip(bg, rows):
        src = genes[g]
        assert not np.array_equal(b, src)
        assert np.array_equal(np.bincount(b, minlength=5), np.bincount(src, minlength=5))
        assert np.array_equal(
            np.bincount(b[:-1] * 5 + b[1:], minlength=25), np.bincount(src[:-1] * 5 + src[1:], minlength=25)
        )
    planted = [i for i in rows if i % 3 == 0]
    assert planted and sum(decode(b).count(SITE_A) for b, g in zip(bg, rows) if g % 3 == 0) < len(planted)
    with_n = genes[:3].copy()
    with_n[:, 100:110] = 4
    bg_n, _ = sample_backgrounds(with_n, n_backgrounds=3, seed=0)
    assert ((bg_n == 4).sum(1) == 10).all()


# ----------------------------------------------------------------------------- the tests on toy models


def test_cooperative_model_preferred_spacing_found(genes):
    table, pairs = _run(ScanModel(offsets=((12, 1.0),), gc=0.2), genes, seed=0)
    assert list(table.columns) == INSILICO_COLUMNS and list(pairs.columns) == PAIR_COLUMNS
    hits = table[table["q_value"] < 0.05]
    assert len(hits) == 1
    assert hits["orientation"].iloc[0] == "++" and abs(int(hits["spacing"].iloc[0]) - 12) <= 1
    best = preferred_spacings(table, 0.05)
    assert list(zip(best["orientation"], best["spacing"])) == [("++", 12)]
    r = table[(table["orientation"] == "++") & (table["spacing"] == 12)].iloc[0]
    assert r["interaction"] == pytest.approx(1.0, abs=0.02) and r["ci_low"] <= r["interaction"] <= r["ci_high"]
    assert r["single_a"] == pytest.approx(1.0, abs=0.05) and r["single_b"] == pytest.approx(0.5, abs=0.05)
    assert r["n_backgrounds"] == N_BG and r["rank"] > 0.95
    p = pairs.iloc[0]
    assert p["cooperative_q"] < 0.05 and p["antagonistic_q"] > 0.05
    assert (p["best_orientation"], p["best_spacing"]) == ("++", 12)
    assert not p["periodicity_q"] < 0.05  # one preferred spacing is not helical phasing


def test_periodic_model_is_periodic(genes):
    _, pairs = _run(ScanModel(offsets=PHASED, gc=0.2), genes, seed=1)
    assert pairs["periodicity_q"].iloc[0] < 0.05
    assert 10.0 <= pairs["best_period"].iloc[0] <= 11.0


def test_exactly_additive_model_has_nothing_to_report(genes):
    table, pairs = _run(ScanModel(), genes, seed=2)
    assert (table["interaction"].abs() < 1e-5).all()
    assert (table["p_value"] == 1.0).all() and preferred_spacings(table, 0.05).empty
    assert pairs["cooperative_p"].iloc[0] == 1.0 and pairs["antagonistic_p"].iloc[0] == 1.0


def test_touching_sites_are_a_clash_not_a_preferred_spacing(genes):
    """A pair that only clashes when its sites touch (A+ then B+ at gaps 2-3: ``-1``).

    Without a contact zone the clash is called a "down" preferred spacing; with ``clash_gap``
    4 it is reported as a clash (its own q-values), and nothing is called preferred, cooperative
    or antagonistic among the spacings apart.
    """
    w = MOTIF_A.width
    model = ScanModel(offsets=((w + 2, -1.0), (w + 3, -1.0)), gc=0.2)
    plain, _ = _run(model, genes, seed=3, clash_gap=0)
    down = preferred_spacings(plain, 0.05)
    assert len(down) and set(down["direction"]) == {"down"} and set(down["gap"]) <= {2, 3}
    table, pairs = _run(model, genes, seed=3, clash_gap=4)
    assert list(table.columns) == INSILICO_COLUMNS and list(pairs.columns) == PAIR_COLUMNS
    assert set(table.loc[table["contact"], "gap"]) == {0, 1, 2, 3}
    assert (table.loc[table["contact"], "direction"] == "clash").all() and table.loc[
        table["contact"], "rank"
    ].isna().all()
    assert preferred_spacings(table, 0.05).empty
    called = table[table["q_value"] < 0.05]
    assert len(called) and called["contact"].all()
    assert {(o, int(s)) for o, s in zip(called["orientation"], called["spacing"])} <= {("++", w + 2), ("++", w + 3)}
    p = pairs.iloc[0]
    assert p["clash_q"] < 0.05 and p["cooperative_q"] > 0.05 and p["antagonistic_q"] > 0.05
    assert p["n_tests"] == 4 * int(
        (table["orientation"] == "++").sum() - (table.loc[table["orientation"] == "++", "contact"]).sum()
    )
    # an additive pair does not clash
    _, additive = _run(ScanModel(gc=0.2), genes, seed=3, clash_gap=4)
    assert additive["clash_p"].iloc[0] > 0.05


def test_palindrome_shift():
    from promoter_cr.motifs.insilico import palindrome_shift

    def m(site):
        return Motif("X", "x", _pwm(site))

    assert palindrome_shift(m("GCGCATGCGC")) == 0  # exact palindrome
    assert palindrome_shift(m("GCGCATGCGCA")) == -1  # its reverse strand sits 1 bp off
    assert palindrome_shift(m("TTGCGCATGCGC")) == 2
    assert palindrome_shift(m("GCGCATGCGT")) == 0  # one asymmetric base in 10: near-palindrome
    assert palindrome_shift(m("GCGAATGCGT")) is None  # two
    assert palindrome_shift(MOTIF_A) is None and palindrome_shift(MOTIF_B) is None


def test_palindromic_partner_has_one_orientation_class(genes):
    """B an exact palindrome: its two strands are one site, so '+-' is '++' again (and '--' is '-+').

    Only the '+' rows of B are tested; the '-' rows keep their (identical) measurement with no
    p-value, so the one rule is called once, not once per strand.
    """
    site_p = "GCGCATGCGC"
    motif_p = Motif("MA_P", "PAL", _pwm(site_p))

    class PalModel(ScanModel):
        def __init__(self):
            super().__init__(offsets=((12, 1.0),), gc=0.2)
            self.fb = _filter(site_p)

    bg, _ = sample_backgrounds(genes, n_backgrounds=N_BG, seed=0)
    kw = dict(max_spacing=MAX_SPACING, spacing_step=1, min_gap=0, max_pairs=1, min_contrast=0.0)
    table, pairs = insilico_grammar(
        Predictor(PalModel(), "cpu", 512),
        bg,
        {"MA_A": MOTIF_A, "MA_P": motif_p},
        [("MA_A", "MA_P")],
        [ANCHOR],
        clash_gap=0,
        **kw,
    )
    cls = dict(zip(table["orientation"], table["orientation_class"]))
    assert cls == {"++": "+.", "+-": "+.", "-+": "-.", "--": "-."}
    same = table[table["orientation"].isin(["+-", "--"])]
    assert same["p_value"].isna().all() and (same["direction"] == "same class").all()
    # the measurement itself is untouched: '+-' equals '++' (the palindrome writes the same bases)
    pp = table[table["orientation"] == "++"]["interaction"].to_numpy()
    pm = table[table["orientation"] == "+-"]["interaction"].to_numpy()
    assert np.allclose(pp, pm)
    best = preferred_spacings(table, 0.05)
    assert list(zip(best["orientation"], best["spacing"])) == [("++", 12)]
    p = pairs.iloc[0]
    assert p["palindrome_shift_a"] is None or np.isnan(p["palindrome_shift_a"])
    assert p["palindrome_shift_b"] == 0 and p["n_tests"] == 2 * int((table["orientation"] == "++").sum())


def _experiment(model, genes, seed: int, anchor: int):
    bg, _ = sample_backgrounds(genes, n_backgrounds=N_BG, seed=seed)
    return pair_experiment(
        Predictor(model, "cpu", 512), bg, MOTIF_A, MOTIF_B, anchor, max_spacing=MAX_SPACING, spacing_step=1, min_gap=0
    )


@pytest.mark.parametrize("kind", ["additive", "saturating"])
def test_no_spacing_rule_is_calibrated(genes, kind):
    """No spacing rule: the rank test's p-values are uniform, the combined test's at most uniform."""
    model = ScanModel(gc=0.2) if kind == "additive" else ScanModel(saturate=1.5)
    combined, ranks, one, coop, anta, period, any_call = [], [], [], [], [], [], 0
    for rep in range(8):
        exp = _experiment(model, genes, seed=100 + rep, anchor=60 + 3 * rep)
        table = pair_rows(exp, min_contrast=0.0, clash_gap=0)
        any_call += int((bh_qvalues(table["p_value"].to_numpy()) < 0.05).any())
        combined.append(table["p_value"].to_numpy())
        inter = exp.interaction()
        rp = np.concatenate([rank_test(inter[:, o], resolution=exp.resolution(), margin=0.0)[1] for o in range(4)])
        ranks.append(rp)
        one.append(rp[np.random.default_rng(rep).integers(rp.size)])
        summary = pair_summary(exp, spacing_step=1, min_contrast=0.0, clash_gap=0)
        coop.append(summary["cooperative_p"])
        anta.append(summary["antagonistic_p"])
        period.append(summary["periodicity_p"])
    # FDR 5 % under a global null: a call in at most ~5 % of experiments (1 of 8 allowed)
    assert any_call <= 1
    ranks, combined = np.concatenate(ranks), np.concatenate(combined)
    for alpha in (0.01, 0.05, 0.2):
        assert np.mean(ranks < alpha) <= alpha * 1.3 + 0.005, alpha
        assert np.mean(combined < alpha) <= alpha, alpha
    assert 0.35 < np.mean(ranks < 0.5) < 0.65  # uniform, not merely conservative
    assert kstest(one, "uniform").pvalue > 0.01
    assert np.mean(np.array(period) < 0.05) <= 1 / 8
    assert min(coop) > 0.05
    if kind == "saturating":  # non-additive at every spacing alike: antagonistic, yet no preferred spacing
        assert max(anta) < 0.05
    else:
        assert min(anta) > 0.05


def test_random_weight_cr_model(genes):
    """A random-weight CR network: calibrated where it cannot couple the sites.

    A random network is nonlinear: where its convolutions see both sites (a few bp apart) the
    interaction is real and reproducible across backgrounds, so such spacings may be called.
    Calls stay within the network's receptive field, and farther apart the p-values are
    (at most) uniform.
    """
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from _model_fixtures import make_network

    torch.manual_seed(0)
    model = make_network("cr", LENGTH, channels=16, stem_kernel=9, dropout=0.0)
    reach = model.receptive_field()
    bg, _ = sample_backgrounds(genes, n_backgrounds=16, seed=200)
    exp = pair_experiment(
        Predictor(model, "cpu", 512), bg, MOTIF_A, MOTIF_B, 60, max_spacing=60, spacing_step=1, min_gap=0
    )
    t = pair_rows(exp, min_contrast=0.0, clash_gap=0)
    far = t["p_value"].to_numpy()[t["gap"].to_numpy() > reach]
    near_calls = list(t.loc[t["p_value"] < 0.05 / len(t), "gap"])
    assert far.size > 150
    assert np.mean(far < 0.05) <= 0.05 and np.mean(far < 0.01) <= 0.01
    assert all(g <= reach for g in near_calls)


def test_preferred_spacings_helper():
    t = pd.DataFrame(
        {
            "motif_a": ["a"] * 5,
            "motif_b": ["b"] * 5,
            "orientation": ["++", "++", "++", "--", "+-"],
            "spacing": [10, 11, 30, -15, 20],
            "interaction": [1.0, 2.0, 0.5, 0.3, 0.1],
            "q_value": [1e-5, 1e-5, 0.01, 0.04, 0.2],
        }
    )
    best = preferred_spacings(t, 0.05)
    assert list(zip(best["orientation"], best["spacing"])) == [("++", 11), ("--", -15)]
    assert preferred_spacings(t, 1e-9).empty


def test_max_pairs_caps_the_cost(genes):
    bg, _ = sample_backgrounds(genes, n_backgrounds=4, seed=0)
    rec = Recorder()
    table, pairs = insilico_grammar(
        Predictor(rec, "cpu", 64),
        bg,
        MOTIFS,
        [("MA_A", "MA_B"), ("MA_B", "MA_A"), ("MA_A", "MA_A")],
        [60, 60, 60],
        max_spacing=15,
        spacing_step=5,
        min_gap=0,
        max_pairs=2,
        min_contrast=0.0,
        clash_gap=0,
    )
    assert list(zip(pairs["motif_a"], pairs["motif_b"])) == [("MA_A", "MA_B"), ("MA_B", "MA_A")]
    n_sp = [
        spacing_grid(LENGTH, 60, MOTIFS[a].width, MOTIFS[b].width, max_spacing=15, spacing_step=5, min_gap=0).size
        for a, b in [("MA_A", "MA_B"), ("MA_B", "MA_A")]
    ]
    assert len(rec.seen) == 4 + sum(4 * (2 + 6 * s) for s in n_sp)  # f(0) once for all pairs
    assert set(table["spacing"].abs()) <= {10, 15}


def test_figure(tmp_path, genes):
    from promoter_cr.plots.insilico import plot_insilico

    table, pairs = _run(ScanModel(offsets=((12, 1.0),), gc=0.2), genes, seed=0)
    paths = plot_insilico(table, pairs, tmp_path / "insilico_spacing", fdr=0.05, max_pairs=4, formats=["png"], dpi=60)
    assert paths[0].exists() and paths[0].stat().st_size > 1000
    empty = plot_insilico(table.iloc[:0], None, tmp_path / "empty", fdr=0.05, max_pairs=4, formats=["png"], dpi=60)
    assert empty[0].exists()


def test_within_ranks_are_mid_ranks_and_margin_only_lowers_them():
    from scipy.stats import rankdata

    from promoter_cr.stats.interaction import within_ranks

    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 30))
    x[:, 3] = x[:, 4]  # ties
    u0 = within_ranks(x, resolution=1e-9, margin=0.0)
    assert np.allclose(u0, (rankdata(x, axis=1) - 0.5) / 30)
    u1 = within_ranks(x, resolution=1e-9, margin=0.5)
    assert np.all(u1 <= u0) and np.any(u1 < u0)


def test_models_with_extra_features_get_the_backgrounds_features():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from _model_fixtures import make_network

    torch.manual_seed(0)
    model = make_network("cr", 60, n_extra=2, channels=8, stem_kernel=5, dropout=0.0)
    bg = np.random.default_rng(5).integers(0, 4, size=(3, 60), dtype=np.uint8)
    extra = np.random.default_rng(6).normal(size=(3, 2)).astype(np.float32)
    kw = dict(
        max_spacing=15,
        spacing_step=1,
        min_gap=0,
        max_pairs=1,
        min_contrast=0.0,
        clash_gap=0,
    )
    predictor = Predictor(model, "cpu", 16)
    table, _ = insilico_grammar(predictor, bg, MOTIFS, [("MA_A", "MA_B")], [20], extra=extra, **kw)
    assert len(table) and np.isfinite(table["interaction"]).all()
    with pytest.raises(ValueError, match="extra features"):
        insilico_grammar(predictor, bg, MOTIFS, [("MA_A", "MA_B")], [20], **kw)


def test_site_insertion_plan_writes_what_write_sites_writes_and_refuses_overlaps():
    """EditPlan.site_insertions (the one edit hook) equals writing each site with write_sites."""
    from promoter_cr.insilico.edits import EditPlan, SiteWrite

    rng = np.random.default_rng(2)
    windows = rng.integers(0, 4, (3, 40)).astype(np.uint8)
    a, b = encode(SITE_A), encode(SITE_B)
    row = np.array([0, 1, 2, 0, 1])
    writes = [SiteWrite(np.array([0, 3]), np.array([2, 5]), a), SiteWrite(np.array([3, 4]), np.array([20, 30]), b)]
    hook = EditPlan.site_insertions(row, writes).hook("cpu")
    got = hook(torch.from_numpy(windows[row].copy()), slice(0, 5)).numpy()
    want = torch.from_numpy(windows[row].copy())
    for w in writes:
        write_sites(want, torch.from_numpy(w.rows), torch.from_numpy(w.starts), torch.from_numpy(w.site))
    np.testing.assert_array_equal(got, want.numpy())
    with pytest.raises(ValueError, match="same base"):
        EditPlan.site_insertions(row, [SiteWrite(np.array([0]), np.array([2]), a)] * 2)
