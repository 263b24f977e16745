"""Cooperativity and preferred spacing of motif pairs, measured on the model by insertion.

Hit-position histograms say how often two motifs sit at a distance, not whether the model
*needs* them there. Here the pair is written into background sequences at every spacing and
orientation and the model's response is measured directly (BPNet's in-silico spacing
experiments; tangermeme's ``space``/``marginalize``)::

    I_b(s, o) = f(AB) - f(A) - f(B) + f(0)

for background ``b``, spacing ``s`` and orientation ``o``: ``f(0)`` the prediction on the
background, ``f(A)`` with only A (at the anchor), ``f(B)`` with only B (at ``anchor + s``, on
its strand in the pair), ``f(AB)`` with both. An additive model gives ``I = 0`` at every
spacing; an additive account of a cooperative pair would split its joint effect between the
partners, which ``I`` does not.

Design
------
*Backgrounds* (:func:`sample_backgrounds`): a seeded sample of genes of the data set, each
dinucleotide-shuffled with ``tangermeme.ersatz.dinucleotide_shuffle`` (one seed per gene, so a
gene's shuffle does not depend on the rest of the sample): planted or real sites are
destroyed, composition and dinucleotide content kept. ``(n_bg, L)`` uint8 codes.

*Sites* (:func:`consensus_codes`): the consensus (column argmax) of the motif's PWM; ``'-'``
writes its reverse complement. A is written at ``anchor`` (start, 0-based, given by the
caller, e.g. :func:`median_anchor` of the pair's hits), B at ``anchor + s`` (start to start,
signed; ``s < 0`` puts B before A). The orientation is the strand of A then of B
(``'++', '+-', '-+', '--'``), as in :mod:`promoter_cr.motifs.spacing` and the simulator.

*Spacings* (:func:`spacing_grid`): the multiples of ``spacing_step`` in
``[-max_spacing, max_spacing]`` with at least ``min_gap`` bp between the sites
(``s >= w_a + min_gap`` or ``s <= -w_b - min_gap``) and B inside the window; the table's
``gap`` is that number of bp. A ``min_gap`` of 2 leaves out abutting sites: their junction
can spell new partial sites, a real response of the model that is an artefact of the
experiment (on the trained CR of the simulated default run, both additive pairs tested had
their strongest "preferred" spacing at gap 0).

*Palindromes* (:func:`palindrome_shift`): when a motif's consensus read on the reverse strand is
its own consensus shifted by ``d`` bp (``|d| <= 2``, at most one asymmetric base per 10 bp), its two
strands write the same site, ``d`` bp apart, and two orientations are one experiment twice (NRF1
gave a "preferred" '+-' echo 2 bp from its planted '++' rule). Such a motif has one orientation
class, written ``.`` (``orientation_class``, e.g. ``'+.'`` for a palindromic B): only its ``'+'``
rows are tested; the ``'-'`` rows stay in the table as measured, with no p-value (``direction``
``"same class"``). ``('x-', s)`` is ``('x+', s - d_b)`` and ``('-x', s)`` is ``('+x', s + d_a)``.

*Contact zone* (``clash_gap``): sites fewer than ``clash_gap`` bp apart (but at least
``min_gap``) are tested, yet apart from everything else. Two bound factors cover a few bp beyond
their cores, so at such gaps they cannot both bind (steric exclusion) and a model that learned
each site's footprint reads the pair as a *clash*: decoy pairs of the simulator, never
cooperative, were called "down" preferred spacings at gaps 2-3. Contact rows (``contact`` true)
are left out of the preferred-spacing ranking, of the cooperativity tests and of
:func:`preferred_spacings`; each gets its own one-sided test of a clash (``E I < -margin``;
``direction`` ``"clash"``), its q-value is BH over the contact rows only, and the pair table
reports the clash test (``clash_p``/``clash_q``, Bonferroni over the pair's contact rows, BH
across pairs) beside cooperativity.

*Caveat.* The experiment measures the model, also where it extrapolates: pairs placed closer
than they ever occur in training get whatever response the network extrapolates (on that
model an activator-repressor pair, never close together in training, was called antagonistic
at gaps 2-3). Read calls with their ``gap``, effect size and the pair's training context.

*Cost.* Per pair and background ``2 + 6 S`` forward passes (``S`` spacings): ``f(A)`` for 2
strands, ``f(B)`` for ``S`` spacings x 2 strands, ``f(AB)`` for ``S`` x 4 orientations, plus
``f(0)`` once per background for all pairs. Every row goes through the one inference
primitive (:meth:`promoter_cr.models.inference.Predictor.batches`): its ``mutate`` hook writes the
sites into each batch of uint8 codes on the device (:class:`promoter_cr.insilico.edits.EditPlan`,
the edit mechanism of the variant scores too), so only the
``(n_bg, L)`` backgrounds and a per-row design cross to the device. The cost is bounded by
``n_backgrounds``, ``max_spacing / spacing_step`` and ``max_pairs``.

Tests
-----
*Preferred spacing* (:func:`~promoter_cr.stats.interaction.spacing_pvalues`): a spacing whose
interaction stands out from
the *other spacings of the same orientation* -- not merely ``I != 0``, and not an orientation
effect (a pair that interacts more in ``'+-'`` at every spacing has an orientation
preference, not 60 preferred spacings) -- and is itself cooperative there. Two parts, both
needed (an intersection-union test, ``p = max`` of the two):

1. stands out (:func:`~promoter_cr.stats.interaction.rank_test`): within each background the ``S`` interactions of the
   orientation are ranked (mid-ranks; values rounded to the float32 resolution first, so
   rounding is a tie) after lowering the tested one by a margin ``min_contrast``; the mean
   normalised rank ``U`` over the independent backgrounds is tested against 1/2 with its exact
   null variance (CLT over bounded summands). Under "no spacing rule" (the spacings of an
   orientation exchangeable within a background: additive pairs, or pairs that interact alike
   at every spacing) this is valid whatever the shape, skew or ties of ``I``; the margin and
   ties only make it conservative. Ranks rather than a t-test of ``I - baseline``: a rare large
   interaction at one spacing (a site destroyed or created in one background) shifts a mean
   baseline and made every other spacing "preferred" in tests, and a median baseline is
   biased under skew;
2. cooperative there (:func:`~promoter_cr.stats.interaction.beyond_margin_t`): one-sided t-test over backgrounds that
   ``E I > min_contrast`` (so the least antagonistic spacing of a saturating pair is not
   "preferred").

Both directions are tested -- ``up`` (cooperative, above the others) and ``down`` (``I <
-min_contrast`` and below the others: a repressive pair that represses more together) --
with ``p = min(1, 2 min(p_up, p_down))``; the table's ``direction`` says which. The margin is
there because trained and even random networks respond non-additively in small, reproducible
ways at many spacings (short-range coupling through their convolutions, saturation): with
dozens of backgrounds such effects are significant yet no grammar rule; the stage sets it to a
fraction of the spread of the model's predictions over genes (:func:`prediction_spread`).
q-values: BH over every spacing x orientation x pair tested.

*Cooperativity* (:func:`~promoter_cr.stats.interaction.cooperativity_pvalue`): per ``(s, o)`` the one-sided t-test over
backgrounds that ``E I > min_contrast``; the pair's p-value is Bonferroni over its spacings x
orientations (valid under any dependence; spacings are strongly correlated); BH across pairs.
``antagonistic_p`` likewise for ``E I < -min_contrast`` (e.g. saturation).

*Helical periodicity* (:func:`~promoter_cr.stats.interaction.periodicity_test`): per segment
(orientation x sign of ``s``,
beyond the first helical turn: gap >= 10 bp; at least two turns of spacings), the
within-background ranks are linearly detrended and fitted with a sinusoid of period 10.0, 10.5
and 11.0 bp; Hotelling's ``T^2`` across backgrounds tests that the sinusoid is reproducible
(mean coefficient vector 0 under the null); Bonferroni over segments x periods; BH across
pairs. The covariance comes from the backgrounds, so autocorrelated profiles (neighbouring
spacings overwrite nearly the same bases) do not inflate it -- a permutation of spacings within
the pair, tried first, called 12 to 17 % of spacing-free toy pairs periodic at p < 0.05 for that
reason. The spacings of the highest and lowest mean rank (+-1 bp) of each segment are left out,
so one preferred or avoided spacing is not read as phasing, and the first turn is left out
because sites that close couple directly (on the trained simulated model, short-range dips
made an activator-repressor pair "periodic" until both rules were in).

Written here rather than with ``tangermeme.space``/``substitute``: those edit one-hot tensors
with one start per call, while one batch here mixes many spacings and orientations and is fed
as uint8 codes to our inference primitive (one-hot made on the device); the site writing is an
exact scatter of codes, checked base for base against ``tangermeme.ersatz.substitute`` in the
tests.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from promoter_cr.insilico.edits import EditPlan, SiteWrite
from promoter_cr.models.inference import Predictor
from promoter_cr.seq.encoding import N_CODE, reverse_complement_codes
from promoter_cr.seq.motifs import Motif
from promoter_cr.stats.fdr import bh_qvalues
from promoter_cr.stats.interaction import (
    beyond_margin_t,
    cooperativity_pvalue,
    periodicity_test,
    rank_test,
    spacing_pvalues,
)

log = logging.getLogger(__name__)

ORIENTATIONS = ("++", "+-", "-+", "--")
#: the per-spacing table, one row per pair x orientation x tested spacing (motif_a, motif_b,
#: orientation, spacing, q_value are an agreed interface).
#: orientation_class: the orientation with '.' for a palindromic motif (one class for its two
#: strands; only the '+' rows are tested). gap: bp between the sites; contact: gap < clash_gap.
#: interaction: mean I over backgrounds, ci_low/ci_high its 95 % t interval; contrast: mean of
#: I - (median I over the orientation's spacings apart); rank: mean normalised within-orientation
#: rank of I among the spacings apart (0.5 typical; NaN in the contact zone).
#: direction: up (cooperative) or down (antagonistic) preference, "clash" in the contact zone,
#: "same class" on an untested palindrome row. single_a / single_b: mean f(A) - f(0) and
#: f(B) - f(0) with the site on its strand of the orientation. p_value / q_value: the
#: preferred-spacing test (BH over every tested row apart of every pair) or, in the contact zone,
#: the clash test (BH over the contact rows); NaN on untested rows.
INSILICO_COLUMNS = [
    "motif_a",
    "motif_b",
    "motif_a_name",
    "motif_b_name",
    "orientation",
    "orientation_class",
    "spacing",
    "gap",
    "contact",
    "interaction",
    "ci_low",
    "ci_high",
    "contrast",
    "rank",
    "direction",
    "single_a",
    "single_b",
    "n_backgrounds",
    "p_value",
    "q_value",
]
#: the per-pair table. anchor: start of A; n_tests: spacings x orientations; best_orientation /
#: best_spacing / max_interaction: the largest mean interaction (significant or not) of the
#: spacings apart, min_interaction the smallest; cooperative_p/_q: some E I > min_contrast
#: (Bonferroni over the pair's tests apart, BH across pairs); antagonistic_p/_q: some E I <
#: -min_contrast; clash_p/_q: the same as antagonistic over the contact zone (NaN without one);
#: palindrome_shift_a/_b: d of a palindromic motif (:func:`palindrome_shift`), else empty;
#: best_period / periodicity_amplitude / periodicity_p / _q: the helical-phasing test
PAIR_COLUMNS = [
    "motif_a",
    "motif_b",
    "motif_a_name",
    "motif_b_name",
    "anchor",
    "n_backgrounds",
    "n_tests",
    "best_orientation",
    "best_spacing",
    "max_interaction",
    "min_interaction",
    "cooperative_p",
    "cooperative_q",
    "antagonistic_p",
    "antagonistic_q",
    "clash_p",
    "clash_q",
    "palindrome_shift_a",
    "palindrome_shift_b",
    "best_period",
    "periodicity_amplitude",
    "periodicity_p",
    "periodicity_q",
]
#: numerical resolution of a contrast: this many float32 ulps of the largest |prediction|
RESOLUTION_ULPS = 16


class InsertionError(ValueError):
    """An insertion experiment that cannot be run as asked (site outside the window, ...)."""


# --------------------------------------------------------------------------- backgrounds, sites


def sample_backgrounds(
    codes: np.ndarray, *, n_backgrounds: int, seed: int, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Dinucleotide-shuffled copies of a seeded sample of genes.

    Parameters
    ----------
    codes
        ``(N, L)`` uint8 codes of the data set (a memmap is read only at the sampled rows).
    n_backgrounds
        Genes to sample (without replacement; all of ``rows`` when fewer).
    rows
        ``(n,)`` candidate gene rows (default: all genes).

    Returns
    -------
    (backgrounds, genes)
        ``(n_bg, L)`` uint8 codes (N kept as N: shuffled as a character of its own) and the
        ``(n_bg,)`` int64 gene rows they come from (sorted).
    """
    import torch
    from tangermeme.ersatz import dinucleotide_shuffle

    if n_backgrounds < 1:
        raise InsertionError(f"n_backgrounds must be >= 1 (got {n_backgrounds})")
    pool = np.arange(len(codes)) if rows is None else np.asarray(rows, dtype=np.int64)
    if pool.size == 0:
        raise InsertionError("no gene to draw backgrounds from")
    rng = np.random.default_rng(seed)
    genes = np.sort(rng.choice(pool, size=min(int(n_backgrounds), pool.size), replace=False))
    block = np.ascontiguousarray(codes[genes], dtype=np.uint8)
    eye = np.concatenate([np.eye(4, dtype=np.int8), np.zeros((1, 4), np.int8)])
    x = torch.from_numpy(np.moveaxis(eye[block], -1, -2).copy())  # (n, 4, L) int8, N all-zero
    seeds = [int(s) for s in rng.integers(0, 2**31 - 1, size=len(genes))]
    shuf = dinucleotide_shuffle(x, n=1, random_state=seeds, allow_N=True)[:, 0]  # (n, 4, L)
    out = shuf.argmax(1).to(torch.uint8).numpy()
    out[shuf.sum(1).numpy() == 0] = N_CODE
    return out, genes.astype(np.int64)


def consensus_codes(motif: Motif, strand: str) -> np.ndarray:
    """``(w,)`` uint8 consensus (PWM column argmax, ties to the first of ACGT) on ``strand``."""
    if strand not in ("+", "-"):
        raise InsertionError(f"strand must be '+' or '-' (got {strand!r})")
    pwm = np.asarray(motif.pwm, dtype=np.float64)
    if pwm.ndim != 2 or pwm.shape[0] != 4 or pwm.shape[1] == 0:
        raise InsertionError(f"motif {motif.motif_id}: PWM must be (4, w) with w >= 1 (got {pwm.shape})")
    site = pwm.argmax(0).astype(np.uint8)
    return site if strand == "+" else reverse_complement_codes(site)


#: a palindrome's reverse strand may sit this many bp off its forward strand
PALINDROME_MAX_SHIFT = 2
#: mismatches allowed per this many overlapping bp of a near-palindrome (one asymmetric base
#: mismatches twice, at itself and at its mirror: so one asymmetric base per 10 bp)
PALINDROME_BP_PER_MISMATCH = 5
#: fewest overlapping bp for a palindrome
PALINDROME_MIN_OVERLAP = 6


def palindrome_shift(motif: Motif) -> int | None:
    """``d`` when the reverse-strand consensus is the consensus shifted by ``d`` bp, else ``None``.

    ``rc[i] == site[i + d]`` on every overlapping ``i`` up to one mismatch per
    :data:`PALINDROME_BP_PER_MISMATCH` overlapping bp, ``|d| <= PALINDROME_MAX_SHIFT`` and at least
    :data:`PALINDROME_MIN_OVERLAP` bp of overlap; the smallest ``|d|`` (then fewest mismatches)
    wins. Then the site written on ``'-'`` at start ``t`` is the one written on ``'+'`` at ``t - d``
    (the flanks of ``|d|`` bp apart). Exact palindromes (``GCGCATGCGC``) give 0.
    """
    site, rc = consensus_codes(motif, "+"), consensus_codes(motif, "-")
    w = site.size
    best = None
    for d in sorted(range(-PALINDROME_MAX_SHIFT, PALINDROME_MAX_SHIFT + 1), key=abs):
        i = np.arange(max(0, -d), min(w, w - d))
        if i.size < PALINDROME_MIN_OVERLAP:
            continue
        miss = int((rc[i] != site[i + d]).sum())
        if miss <= i.size // PALINDROME_BP_PER_MISMATCH and (best is None or (abs(d), miss) < best[1]):
            best = (d, (abs(d), miss))
    return None if best is None else int(best[0])


def orientation_classes(shift_a: int | None, shift_b: int | None) -> tuple[list[str], np.ndarray]:
    """Class label of each of :data:`ORIENTATIONS` (``'.'`` for a palindromic motif's strand) and
    ``(4,)`` bool: the orientation is the one tested for its class (its palindromic slots ``'+'``)."""
    labels, tested = [], []
    for o in ORIENTATIONS:
        a = "." if shift_a is not None else o[0]
        b = "." if shift_b is not None else o[1]
        labels.append(a + b)
        tested.append((shift_a is None or o[0] == "+") and (shift_b is None or o[1] == "+"))
    return labels, np.array(tested)


def median_anchor(starts: np.ndarray, *, length: int, width: int) -> int:
    """The median of ``(n,)`` hit starts, rounded and clipped so a site of ``width`` fits in ``length``."""
    starts = np.asarray(starts)
    if starts.size == 0:
        raise InsertionError("no hit start to place the anchor at")
    if width > length:
        raise InsertionError(f"motif of width {width} is longer than the {length} bp window")
    return int(np.clip(np.rint(np.median(starts)), 0, length - width))


def prediction_spread(
    predictor: Predictor, codes: np.ndarray, rows: np.ndarray, *, extra: np.ndarray | None = None
) -> float:
    """Standard deviation of the model's predictions over ``rows`` of ``(N, L)`` codes.

    The scale of the margin ``min_contrast`` (a fraction of it): the spread of predicted
    expression over real (unshuffled) genes, e.g. the genes the backgrounds were drawn from.
    ``extra``: ``(N, F)`` extra features of all genes (models trained with them) or ``None``.
    """
    pred, _ = replace(predictor, progress=False).predict(codes, rows=np.asarray(rows, dtype=np.int64), extra=extra)
    return float(pred.std(ddof=1)) if pred.size > 1 else 0.0


def spacing_grid(
    length: int, anchor: int, width_a: int, width_b: int, *, max_spacing: int, spacing_step: int, min_gap: int
) -> np.ndarray:
    """``(S,)`` int64 spacings (start of B - start of A) tested for a pair.

    The multiples of ``spacing_step`` in ``[-max_spacing, max_spacing]`` with at least
    ``min_gap`` bp between the two sites (``s >= width_a + min_gap`` or
    ``s <= -width_b - min_gap``) and B inside ``[0, length)``. Raises :class:`InsertionError`
    when A does not fit at ``anchor`` or no spacing is left.
    """
    if width_a > length or width_b > length:
        raise InsertionError(f"motif of width {max(width_a, width_b)} is longer than the {length} bp window")
    if not 0 <= anchor <= length - width_a:
        raise InsertionError(
            f"anchor {anchor} is outside the window: A (width {width_a}) must start in [0, {length - width_a}]"
        )
    if max_spacing < 1 or spacing_step < 1 or min_gap < 0:
        raise InsertionError(
            f"max_spacing and spacing_step must be >= 1 and min_gap >= 0 (got {max_spacing}, {spacing_step}, {min_gap})"
        )
    s = np.arange(-(max_spacing // spacing_step) * spacing_step, max_spacing + 1, spacing_step, dtype=np.int64)
    apart = (s >= width_a + min_gap) | (s <= -width_b - min_gap)
    keep = apart & (anchor + s >= 0) & (anchor + s + width_b <= length)
    if not keep.any():
        raise InsertionError(
            f"no spacing in [-{max_spacing}, {max_spacing}] (step {spacing_step}) keeps sites of widths "
            f"{width_a} and {width_b} {min_gap} bp apart and inside the {length} bp window with A at {anchor}"
        )
    return s[keep]


@dataclass
class _Design:
    """Rows of one pair's experiment: background row, A variant (-1 none, 0 '+', 1 '-'),
    B variant (-1 none, 0 '+', 1 '-') and B start, for every row."""

    background: np.ndarray
    a_var: np.ndarray
    b_var: np.ndarray
    b_start: np.ndarray


def _design(n_bg: int, anchor: int, spacings: np.ndarray, with_f0: bool) -> tuple[_Design, dict[str, np.ndarray]]:
    """The rows and, per quantity, the index arrays into them.

    Layout per background: [f0], fA(+), fA(-), fB(s, +) for s, fB(s, -) for s, fAB(s, o) for o, s.
    Returns the design and ``{"f0": (n,), "fa": (n, 2), "fb": (n, 2, S), "fab": (n, 4, S)}``.
    """
    S = spacings.size
    a_v, b_v, b_s = [], [], []
    if with_f0:
        a_v.append([-1]), b_v.append([-1]), b_s.append([0])
    a_v.append([0, 1]), b_v.append([-1, -1]), b_s.append([0, 0])
    for strand in (0, 1):
        a_v.append(np.full(S, -1)), b_v.append(np.full(S, strand)), b_s.append(anchor + spacings)
    for o in ORIENTATIONS:
        (
            a_v.append(np.full(S, "+-".index(o[0]))),
            b_v.append(np.full(S, "+-".index(o[1]))),
            b_s.append(anchor + spacings),
        )
    a_v, b_v, b_s = (np.concatenate([np.asarray(x, np.int64) for x in v]) for v in (a_v, b_v, b_s))
    per = a_v.size
    design = _Design(
        background=np.repeat(np.arange(n_bg, dtype=np.int64), per),
        a_var=np.tile(a_v, n_bg),
        b_var=np.tile(b_v, n_bg),
        b_start=np.tile(b_s, n_bg),
    )
    base = (np.arange(n_bg, dtype=np.int64) * per)[:, None]
    o0 = 1 if with_f0 else 0
    index = {
        "fa": base + o0 + np.arange(2),
        "fb": (base + o0 + 2 + np.arange(2 * S)).reshape(n_bg, 2, S),
        "fab": (base + o0 + 2 + 2 * S + np.arange(4 * S)).reshape(n_bg, 4, S),
    }
    if with_f0:
        index["f0"] = base[:, 0]
    return design, index


def insertion_plan(design: _Design, anchor: int, sites_a: list[np.ndarray], sites_b: list[np.ndarray]) -> EditPlan:
    """The :class:`~promoter_cr.insilico.edits.EditPlan` of a pair experiment: A (strand variant ``a_var``)
    at ``anchor`` and B (``b_var``) at ``b_start`` written over each row's background."""
    writes = []
    for v in (0, 1):
        r = np.flatnonzero(design.a_var == v)
        writes.append(SiteWrite(r, np.full(r.size, int(anchor), np.int64), sites_a[v]))
        r = np.flatnonzero(design.b_var == v)
        writes.append(SiteWrite(r, design.b_start[r], sites_b[v]))
    return EditPlan.site_insertions(design.background, writes)


# --------------------------------------------------------------------------- the experiment


@dataclass
class PairExperiment:
    """Raw result of one pair's insertion experiment (float64 predictions).

    ``spacings (S,)``; ``f0 (n,)``; ``fa (n, 2)`` with A on '+'/'-'; ``fb (n, 2, S)`` with B on
    '+'/'-' at ``anchor + s``; ``fab (n, 4, S)`` in :data:`ORIENTATIONS` order; ``shift_a`` /
    ``shift_b``: :func:`palindrome_shift` of A and B (``None``: not palindromic).
    """

    motif_a: str
    motif_b: str
    name_a: str
    name_b: str
    anchor: int
    width_a: int
    width_b: int
    spacings: np.ndarray
    f0: np.ndarray
    fa: np.ndarray
    fb: np.ndarray
    fab: np.ndarray
    shift_a: int | None = None
    shift_b: int | None = None

    @property
    def n_backgrounds(self) -> int:
        return int(self.f0.shape[0])

    def single_a(self) -> np.ndarray:
        """``(n, 4)`` f(A) - f(0) with A on the strand of each orientation."""
        sa = self.fa - self.f0[:, None]
        return sa[:, [0, 0, 1, 1]]

    def single_b(self) -> np.ndarray:
        """``(n, 4, S)`` f(B) - f(0) with B on the strand of each orientation."""
        sb = self.fb - self.f0[:, None, None]
        return sb[:, [0, 1, 0, 1]]

    def interaction(self) -> np.ndarray:
        """``(n, 4, S)`` ``I = f(AB) - f(A) - f(B) + f(0)``."""
        return self.fab - self.single_a()[:, :, None] - self.single_b() - self.f0[:, None, None]

    def resolution(self) -> float:
        """Float32 resolution of a contrast: :data:`RESOLUTION_ULPS` ulps of the largest |f|."""
        scale = max(float(np.abs(a).max()) for a in (self.f0, self.fa, self.fb, self.fab))
        return RESOLUTION_ULPS * float(np.finfo(np.float32).eps) * max(scale, 1e-30)


def pair_experiment(
    predictor: Predictor,
    backgrounds: np.ndarray,
    motif_a: Motif,
    motif_b: Motif,
    anchor: int,
    *,
    max_spacing: int,
    spacing_step: int,
    min_gap: int,
    f0: np.ndarray | None = None,
    extra: np.ndarray | None = None,
) -> PairExperiment:
    """Insert one pair at every tested spacing and orientation into every background.

    Parameters
    ----------
    predictor
        Any trained model (CR or not; predictions only) with its device and batch size.
    backgrounds
        ``(n, L)`` uint8 codes (:func:`sample_backgrounds`).
    anchor
        Start of A (0-based); B starts at ``anchor + s``.
    f0
        ``(n,)`` predictions on the backgrounds, when already computed (shared by all pairs).
    extra
        ``(n, F)`` float32 extra features (e.g. half-life) of the genes the backgrounds come
        from, for models trained with them; ``None`` otherwise.
    """
    backgrounds = np.asarray(backgrounds)
    if backgrounds.ndim != 2 or backgrounds.shape[0] == 0:
        raise InsertionError(f"backgrounds must be a non-empty (n, L) array of codes (got shape {backgrounds.shape})")
    n, length = backgrounds.shape
    if f0 is not None and np.shape(f0) != (n,):
        raise InsertionError(f"f0 must hold one prediction per background ({n}), got shape {np.shape(f0)}")
    spacings = spacing_grid(
        length,
        int(anchor),
        motif_a.width,
        motif_b.width,
        max_spacing=max_spacing,
        spacing_step=spacing_step,
        min_gap=min_gap,
    )
    design, index = _design(n, int(anchor), spacings, with_f0=f0 is None)
    hook = insertion_plan(
        design,
        int(anchor),
        [consensus_codes(motif_a, "+"), consensus_codes(motif_a, "-")],
        [consensus_codes(motif_b, "+"), consensus_codes(motif_b, "-")],
    ).hook(predictor.device)
    pred = np.empty(design.background.size, dtype=np.float64)
    for sl, out in predictor.batches(
        backgrounds, rows=design.background, extra=extra, mutate=hook, desc=f"insert {motif_a.name}/{motif_b.name}"
    ):
        pred[sl] = out.prediction
    return PairExperiment(
        motif_a=motif_a.motif_id,
        motif_b=motif_b.motif_id,
        name_a=motif_a.name,
        name_b=motif_b.name,
        anchor=int(anchor),
        width_a=motif_a.width,
        width_b=motif_b.width,
        spacings=spacings,
        f0=pred[index["f0"]] if f0 is None else np.asarray(f0, np.float64),
        fa=pred[index["fa"]],
        fb=pred[index["fb"]],
        fab=pred[index["fab"]],
        shift_a=palindrome_shift(motif_a),
        shift_b=palindrome_shift(motif_b),
    )


def site_gaps(spacings: np.ndarray, width_a: int, width_b: int) -> np.ndarray:
    """``(S,)`` bp between the two sites (0: abutting) of ``(S,)`` spacings."""
    spacings = np.asarray(spacings, dtype=np.int64)
    return np.where(spacings > 0, spacings - width_a, -spacings - width_b)


def pair_rows(exp: PairExperiment, *, min_contrast: float, clash_gap: int) -> pd.DataFrame:
    """Per orientation x spacing rows of one experiment (no q-value yet; :data:`INSILICO_COLUMNS`).

    The preferred-spacing test (:func:`spacing_pvalues`) compares each spacing apart (gap >=
    ``clash_gap``) with the other spacings apart of the same orientation; contact spacings (gap <
    ``clash_gap``) get the clash test instead (module docstring). ``min_contrast`` is the margin
    of both (prediction units).
    """
    from scipy.stats import t as t_dist

    inter = exp.interaction()  # (n, 4, S)
    n, _, S = inter.shape
    res = exp.resolution()
    gaps = site_gaps(exp.spacings, exp.width_a, exp.width_b)
    near = gaps < int(clash_gap)
    apart = ~near
    if not apart.any():
        raise InsertionError(f"every tested spacing is closer than clash_gap {clash_gap} bp: nothing apart to test")
    classes, tested = orientation_classes(exp.shift_a, exp.shift_b)
    contrast, rank = np.full((4, S), np.nan), np.full((4, S), np.nan)
    p, direction = np.full((4, S), np.nan), np.full((4, S), "same class", dtype=object)
    direction[np.ix_(tested, near)] = "clash"
    for o in np.flatnonzero(tested):
        x = inter[:, o]
        xa = x[:, apart]
        contrast[o] = (x - np.median(xa, axis=1, keepdims=True)).mean(0)
        rank[o, apart] = rank_test(xa, resolution=res, margin=0.0)[0]
        p[o, apart], direction[o, apart] = spacing_pvalues(xa, resolution=res, margin=min_contrast)
        if near.any():
            p[o, near] = beyond_margin_t(x[:, near], resolution=res, margin=min_contrast, alternative="less")
    flat = inter.reshape(n, 4 * S)
    mean = flat.mean(0)
    half = t_dist.ppf(0.975, n - 1) * flat.std(0, ddof=1) / np.sqrt(n) if n > 1 else np.full(4 * S, np.nan)
    single_b = exp.single_b().reshape(n, 4 * S).mean(0)
    return pd.DataFrame(
        {
            "motif_a": exp.motif_a,
            "motif_b": exp.motif_b,
            "motif_a_name": exp.name_a,
            "motif_b_name": exp.name_b,
            "orientation": np.repeat(ORIENTATIONS, S),
            "orientation_class": np.repeat(classes, S),
            "spacing": np.tile(exp.spacings, 4),
            "gap": np.tile(gaps, 4),
            "contact": np.tile(near, 4),
            "interaction": mean,
            "ci_low": mean - half,
            "ci_high": mean + half,
            "contrast": contrast.ravel(),
            "rank": rank.ravel(),
            "direction": direction.ravel(),
            "single_a": np.repeat(exp.single_a().mean(0), S),
            "single_b": single_b,
            "n_backgrounds": n,
            "p_value": p.ravel(),
            "q_value": np.nan,
        }
    )[INSILICO_COLUMNS]


def pair_summary(exp: PairExperiment, *, spacing_step: int, min_contrast: float, clash_gap: int) -> dict:
    """One row of the per-pair table (no q-values yet; :data:`PAIR_COLUMNS`).

    Cooperativity, antagonism, the best spacing and periodicity read the spacings apart (gap >=
    ``clash_gap``); the clash test reads the contact zone.
    """
    inter = exp.interaction()
    n, _, S = inter.shape
    res = exp.resolution()
    gaps = site_gaps(exp.spacings, exp.width_a, exp.width_b)
    near = gaps < int(clash_gap)
    _, tested = orientation_classes(exp.shift_a, exp.shift_b)
    apart = (tested[:, None] & ~near[None, :]).ravel()  # (4S,) tested cells outside the contact zone
    touching = (tested[:, None] & near[None, :]).ravel()
    flat = inter.reshape(n, 4 * S)
    far = flat[:, apart]
    mean = np.where(apart, flat.mean(0), -np.inf)
    best = int(np.argmax(mean))
    per = periodicity_test(
        inter[:, :, ~near], exp.spacings[~near], gaps[~near], spacing_step=spacing_step, orientations=tested
    )
    clash = (
        cooperativity_pvalue(flat[:, touching], resolution=res, margin=min_contrast, alternative="less")
        if touching.any()
        else float("nan")
    )
    return {
        "motif_a": exp.motif_a,
        "motif_b": exp.motif_b,
        "motif_a_name": exp.name_a,
        "motif_b_name": exp.name_b,
        "anchor": exp.anchor,
        "n_backgrounds": n,
        "n_tests": int(apart.sum()),
        "best_orientation": ORIENTATIONS[best // S],
        "best_spacing": int(exp.spacings[best % S]),
        "max_interaction": float(mean[best]),
        "min_interaction": float(flat.mean(0)[apart].min()),
        "cooperative_p": cooperativity_pvalue(far, resolution=res, margin=min_contrast, alternative="greater"),
        "cooperative_q": np.nan,
        "antagonistic_p": cooperativity_pvalue(far, resolution=res, margin=min_contrast, alternative="less"),
        "antagonistic_q": np.nan,
        "clash_p": clash,
        "clash_q": np.nan,
        "palindrome_shift_a": exp.shift_a,
        "palindrome_shift_b": exp.shift_b,
        **per,
        "periodicity_q": np.nan,
    }


def insilico_grammar(
    predictor: Predictor,
    backgrounds: np.ndarray,
    motifs: Mapping[str, Motif],
    pairs: Sequence[tuple[str, str]],
    anchors: Sequence[int],
    *,
    max_spacing: int,
    spacing_step: int,
    min_gap: int,
    max_pairs: int,
    min_contrast: float,
    clash_gap: int,
    extra: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Insertion experiments for motif ``pairs`` (in priority order) and their tests.

    Parameters
    ----------
    motifs
        Motif id -> :class:`Motif` (every id of ``pairs``).
    pairs, anchors
        ``(motif_a, motif_b)`` ids and the start of A for each pair (same length). Only the
        first ``max_pairs`` are run (the cost cap).
    min_contrast
        Margin of the tests (prediction units), e.g. a fraction of :func:`prediction_spread`.
    clash_gap
        Sites fewer bp apart are the contact zone (module docstring; 0: none).
    extra
        ``(n_bg, F)`` extra features of the backgrounds' genes (models trained with them).

    Returns
    -------
    (spacing, pairs)
        :data:`INSILICO_COLUMNS` (q: BH over every spacing x orientation x pair) and
        :data:`PAIR_COLUMNS` (q: BH across pairs, separately for cooperative, antagonistic and
        periodicity p-values).
    """
    pairs = [tuple(p) for p in pairs]
    if len(anchors) != len(pairs):
        raise InsertionError(f"{len(pairs)} pairs but {len(anchors)} anchors")
    missing = sorted({m for p in pairs for m in p} - set(motifs))
    if missing:
        raise InsertionError(f"motif(s) {missing} of the pairs are not in the motif set")
    if max_pairs < 1:
        raise InsertionError(f"max_pairs must be >= 1 (got {max_pairs})")
    if len(pairs) > max_pairs:
        log.info("in-silico grammar: testing the first %d of %d pairs (max_pairs)", max_pairs, len(pairs))
        pairs, anchors = pairs[:max_pairs], list(anchors)[:max_pairs]
    backgrounds = np.asarray(backgrounds)
    rows, summaries = [], []
    f0 = None
    if pairs:
        f0, _ = replace(predictor, progress=False).predict(backgrounds, extra=extra)
    for (a, b), anchor in zip(pairs, anchors):
        exp = pair_experiment(
            predictor,
            backgrounds,
            motifs[a],
            motifs[b],
            int(anchor),
            max_spacing=max_spacing,
            spacing_step=spacing_step,
            min_gap=min_gap,
            f0=f0,
            extra=extra,
        )
        rows.append(pair_rows(exp, min_contrast=min_contrast, clash_gap=clash_gap))
        summaries.append(pair_summary(exp, spacing_step=spacing_step, min_contrast=min_contrast, clash_gap=clash_gap))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=INSILICO_COLUMNS)
    for zone in (False, True):  # preferred spacings and clashes are separate families of tests
        sel = table["contact"].to_numpy(dtype=bool) == zone
        if sel.any():
            table.loc[sel, "q_value"] = bh_qvalues(table.loc[sel, "p_value"].to_numpy(dtype=float))
    summary = pd.DataFrame(summaries, columns=PAIR_COLUMNS)
    for col in ("cooperative", "antagonistic", "clash", "periodicity"):
        if len(summary):
            summary[f"{col}_q"] = bh_qvalues(summary[f"{col}_p"].to_numpy(dtype=float))
    return table[INSILICO_COLUMNS], summary


def preferred_spacings(table: pd.DataFrame, fdr: float) -> pd.DataFrame:
    """Per pair and orientation, the spacing with ``q < fdr`` and the smallest q (ties: largest |interaction|).

    Rows of ``table`` (:data:`INSILICO_COLUMNS`); contact-zone rows (clashes) are never preferred
    spacings. Empty when nothing passes.
    """
    apart = ~table["contact"].astype(bool) if "contact" in table else True
    sig = table[(table["q_value"] < fdr) & apart]
    if sig.empty:
        return sig.reset_index(drop=True)
    sig = sig.assign(_abs=sig["interaction"].abs()).sort_values(
        ["q_value", "_abs"], ascending=[True, False], kind="stable"
    )
    return (
        sig.groupby(["motif_a", "motif_b", "orientation"], sort=False)
        .head(1)
        .drop(columns="_abs")
        .reset_index(drop=True)
    )
