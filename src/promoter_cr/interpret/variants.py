"""Promoter variant effects: every VCF allele inside a gene's promoter window, scored by a CR model.

Windows
    Exactly those of the ``genome`` data source (:mod:`promoter_cr.data.sources.genome`): ``upstream``
    bp 5' of the TSS plus ``downstream`` bp from the TSS, on the gene's strand (reverse complement on
    ``-``), TSS at window index ``upstream``, N past a chromosome end. ``upstream``/``downstream`` come
    from the checkpoint's stored data-set ``meta.json`` (:func:`window_spec`), so a variant is scored
    in the window the model was trained on. The reference window of a gene is cut once
    (:func:`~promoter_cr.data.sources.genome.extract_windows`).
Alleles
    A VCF record gives one allele per ALT (multi-allelic records are split). Symbolic and structural
    ALTs (``<DEL>``, ``<*>``, breakends ``A[chr1:5[``, the spanning deletion ``*``), a missing ALT
    (``.``) and ALT == REF are skipped and counted. REF/ALT are reduced to their *minimal change*:
    the shared prefix (the VCF anchor base), then the shared suffix, are trimmed, leaving a genomic
    span ``[core_start, core_end)`` replaced by ``alt_core`` (empty span: a pure insertion before
    ``core_start``; empty ``alt_core``: a pure deletion). An allele belongs to every gene whose
    window overlaps its span (an insertion: whose window has bases on both sides of it); each such
    (allele, gene) pair is one output row. REF is checked against the genome (``on_ref_mismatch``:
    ``error`` -- :class:`InputDataError` naming ``chrom:pos`` and the VCF --, ``flag``: keep the row
    with ``ref_mismatch`` true, the ALT then replaces the *genome's* bases, or ``skip``: drop and
    count). A record on a chromosome absent from the genome FASTA is an error naming it, or skipped
    and counted (``missing_chromosome: skip``).
Indels (window length fixed, anchored at the TSS)
    Everything is done in *window orientation* (the gene's strand, 5' to 3'; on ``-`` the allele is
    reverse-complemented). The alternative haplotype is the reference with the changed span replaced;
    the alternative window is the ``L``-bp stretch of it that puts the TSS base at index ``upstream``
    again. So the bases between the variant and the TSS keep their window positions, the bases on the
    far side of the variant shift away from the TSS (insertion: the far end of the window is trimmed)
    or towards it (deletion: the far end is filled with the next genome bases beyond the window, N past
    a chromosome end); a variant downstream of the TSS shifts the 3' end, one upstream the 5' end, on
    either strand. An allele that changes the TSS base itself keeps the TSS at the same offset in the
    allele when that base survives, else at the first base after the allele (in transcription
    direction). The same-length substitutions (SNVs, MNVs) change no other position.
Columns (one row per allele and gene; :data:`VARIANT_COLUMNS`)
    ``variant_id`` (VCF ID, else ``chrom:pos:ref>alt``), ``chrom``, ``pos`` (1-based, as in the VCF),
    ``ref``, ``alt`` (as in the VCF), ``kind`` (snv, mnv, insertion, deletion, complex), ``gene_id``,
    ``strand``, ``offset_to_tss`` (window index of the first changed base minus ``upstream``, in
    transcription direction, + downstream; an insertion: of the base after it), ``ref_prediction``,
    ``alt_prediction``, ``delta`` (``alt_prediction - ref_prediction``), ``local_contribution_change``,
    ``motif_gained``, ``motif_lost``, ``ref_mismatch``.
``local_contribution_change``
    Sum of the CR weighted features over the allele plus ``local_flank`` bp on either side, alt window
    minus ref window: ``sum(alt_wf[a0 - f : a1 + f]) - sum(ref_wf[r0 - f : r1 + f])`` (clipped to the
    window), where ``[r0, r1)`` is the changed span in the reference window and ``[a0, a1)`` the
    allele in the alternative window. For an SNV this is the summed change of the weighted features
    within +-``f`` bp; for an indel both sums cover the same flanking genome bases plus the allele on
    its side (the shifted far side is not counted). NaN for a model without weighted features.
``motif_gained`` / ``motif_lost``
    Motifs (FIMO via memelite, :func:`promoter_cr.seq.fimo.scan_codes`, both strands, p below
    ``p_threshold``) with a hit overlapping the allele in the alternative window but none overlapping
    the changed span in the reference window (gained), or the reverse (lost); an empty span (insertion
    in ref, deletion in alt) is overlapped by a hit that covers both bases around it. Only the window
    as the model sees it is scanned (a local slice of ``max motif width - 1`` bp around the change).
    ``motif_id:name`` joined by ``,``; empty when none or when no motifs are given.

Exactness and speed (why not tangermeme's ``variant_effect``)
    A CR prediction in float32 depends in the last bits on the batch size (odd batch sizes use other
    vector kernels on the CPU, other algorithms on a GPU). Every window here -- reference or
    alternative -- goes through :meth:`promoter_cr.models.inference.Predictor.batches` in a batch of exactly
    ``batch_size`` rows (the last batch is padded with copies), so its prediction is a function of the
    window alone and ``delta == predict_windows(alt) - predict_windows(ref)`` holds bit for bit
    (:func:`predict_windows` is the same call path). tangermeme's substitution/insertion/deletion
    effects run their own batching loop on float one-hot inputs, expect a tensor model output (a
    CR model returns prediction and weighted features together, which the local contribution change
    needs from the same pass), and pad indels with N instead of the genome bases beyond the window.
    Here the reference window of a gene is predicted once; alternative windows are the reference row
    of the gene edited on the device by the ``mutate`` hook (substitutions: a scatter of the changed
    bases; indels: the row replaced by the alternative window built on the host), so only bytes cross
    to the device and many variants of a gene share one cut window.

Nothing is written until everything is computed; outputs are written atomically.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.atomic import write_json, write_tsv
from promoter_cr.chunks import chunk_rows_for
from promoter_cr.data.sources.genome import (
    Genome,
    extract_windows,
)
from promoter_cr.data.vcf import Alleles, read_alleles
from promoter_cr.data.windows import WindowSpec
from promoter_cr.errors import InputDataError
from promoter_cr.insilico.edits import EditPlan
from promoter_cr.models.inference import Predictor
from promoter_cr.seq.encoding import N_CODE, reverse_complement_codes

log = logging.getLogger(__name__)

#: columns of the variant table, in order
VARIANT_COLUMNS = [
    "variant_id",
    "chrom",
    "pos",
    "ref",
    "alt",
    "kind",
    "gene_id",
    "strand",
    "offset_to_tss",
    "ref_prediction",
    "alt_prediction",
    "delta",
    "local_contribution_change",
    "motif_gained",
    "motif_lost",
    "ref_mismatch",
]
#: host memory for one chunk of genes' windows, contributions and cumulative sums (not a setting:
#: it only bounds memory, results do not depend on it)
_CHUNK_BUDGET_MB = 256.0


# ============================================================================ edits in window orientation
@dataclass
class Edit:
    """One (allele, gene) pair in window coordinates.

    ``start``/``end``: changed span of the reference window (may reach outside ``[0, L)``; empty for
    an insertion before ``start``); ``alt``: uint8 codes replacing it, in window orientation;
    ``shift``: window offset of the alternative haplotype (0 for substitutions; the alternative
    window is ``H[shift : shift + L]`` of the haplotype ``H`` in reference-window coordinates), so the
    allele starts at ``start - shift`` in the alternative window.
    """

    start: int
    end: int
    alt: np.ndarray
    shift: int

    @property
    def substitution(self) -> bool:
        return self.end - self.start == len(self.alt)

    @property
    def alt_start(self) -> int:
        return self.start - self.shift


def orient_edit(
    core_start: int, core_end: int, alt_core: np.ndarray, window_start: int, minus: bool, spec: WindowSpec
) -> Edit:
    """Map a genomic minimal change onto a gene's window (orientation, TSS anchoring; see the module docstring)."""
    length, up = spec.length, spec.upstream
    if minus:
        s, e = window_start + length - core_end, window_start + length - core_start
        alt = reverse_complement_codes(alt_core) if len(alt_core) else alt_core
    else:
        s, e = core_start - window_start, core_end - window_start
        alt = alt_core
    a = len(alt)
    dl = a - (e - s)
    if up < s:
        tss_new = up
    elif up >= e:
        tss_new = up + dl
    else:
        k = up - s
        tss_new = s + k if k < a else s + a
    return Edit(int(s), int(e), np.asarray(alt, dtype=np.uint8), int(tss_new - up))


def alt_window(extended: np.ndarray, ext: int, length: int, edit: Edit) -> np.ndarray:
    """The ``(L,)`` uint8 alternative window of one edit.

    ``extended``: the reference window with ``ext`` genome bases beyond either end, in window
    orientation (``(L + 2 ext,)``; window index ``i`` is ``extended[ext + i]``); ``ext`` must be at
    least the length of the changed span plus that of the allele.
    """
    if edit.start + ext < 0 or edit.end + ext > len(extended) or ext + edit.shift < 0:
        raise ValueError("extended window too short for this edit")
    hap = np.concatenate([extended[: edit.start + ext], edit.alt, extended[edit.end + ext :]])
    out = hap[ext + edit.shift : ext + edit.shift + length]
    if len(out) != length:
        raise ValueError("extended window too short for this edit")
    return out


# ============================================================================ batched model calls
def predict_windows(predictor: Predictor, windows: np.ndarray, *, extra: np.ndarray | None = None) -> np.ndarray:
    """Predictions ``(n,)`` float64 of ``(n, L)`` uint8 windows, on the call path of the variant scores.

    ``delta`` of :func:`score_alleles` equals ``predict_windows(alt) - predict_windows(ref)`` exactly
    (same predictor: model, batch size and device; padded batches).
    """
    windows = np.ascontiguousarray(windows, dtype=np.uint8)
    pred = np.empty(len(windows), dtype=np.float64)
    for sl, out in predictor.batches(windows, extra=extra, pad=True):
        pred[sl] = out.prediction
    return pred


def _local_sum(cs: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Row-wise sums of a track over ``[lo, hi)`` clipped to ``[0, L)``: ``cs`` is ``(n, L + 1)`` cumulative sums."""
    length = cs.shape[1] - 1
    lo = np.clip(lo, 0, length)
    hi = np.clip(hi, lo, length)
    r = np.arange(len(cs))
    return cs[r, hi] - cs[r, lo]


def _cumsum(track: np.ndarray) -> np.ndarray:
    out = np.zeros((track.shape[0], track.shape[1] + 1), dtype=np.float64)
    np.cumsum(track, axis=1, dtype=np.float64, out=out[:, 1:])
    return out


# ============================================================================ motifs
def _motif_labels(motifs) -> list[str]:
    return [m.motif_id if m.name in ("", m.motif_id) else f"{m.motif_id}:{m.name}" for m in motifs]


def motif_changes(
    ref_windows: np.ndarray,
    ref_spans: np.ndarray,
    alt_windows: Callable[[int], np.ndarray],
    alt_spans: np.ndarray,
    ref_rows: np.ndarray,
    motifs,
    *,
    p_threshold: float,
) -> tuple[list[str], list[str]]:
    """Motifs gained and lost at each edit (``motif_id:name`` joined by ``,``).

    ``ref_windows``: ``(G, L)`` uint8; ``ref_rows``: ``(n,)`` row of each edit; ``ref_spans`` /
    ``alt_spans``: ``(n, 2)`` int64 changed span in the reference window / allele in the alternative
    window; ``alt_windows(i)``: the ``(L,)`` alternative window of edit ``i``. Only local slices
    (span +- max width - 1, clipped to the window) are scanned.
    """
    from promoter_cr.seq.fimo import scan_codes

    n = len(ref_rows)
    if n == 0 or not motifs:
        return [""] * n, [""] * n
    length = ref_windows.shape[1]
    reach = max(m.width for m in motifs) - 1
    labels = np.asarray(_motif_labels(motifs), dtype=object)

    def slices(get, spans):
        lo = np.clip(spans[:, 0] - reach, 0, length)
        hi = np.clip(np.maximum(spans[:, 1], spans[:, 0]) + reach, 0, length)
        width = int(max(1, (hi - lo).max()))
        block = np.full((n, width), N_CODE, dtype=np.uint8)
        for i in range(n):
            block[i, : hi[i] - lo[i]] = get(i)[lo[i] : hi[i]]
        return block, lo

    ref_block, ref_lo = slices(lambda i: ref_windows[ref_rows[i]], ref_spans)
    alt_block, alt_lo = slices(alt_windows, alt_spans)
    sets = []
    for block, lo, spans in ((ref_block, ref_lo, ref_spans), (alt_block, alt_lo, alt_spans)):
        hits = scan_codes(block, motifs, p_threshold)
        found: list[set] = [set() for _ in range(n)]
        if len(hits):
            s = hits.start + lo[hits.gene]
            e = hits.end + lo[hits.gene]
            ls = spans[hits.gene, 0]
            le = np.maximum(spans[hits.gene, 1], ls)
            over = (s < le) & (e > ls)  # empty span (le == ls): the hit covers the bases on both sides
            for g, m in zip(hits.gene[over], hits.motif[over], strict=True):
                found[int(g)].add(int(m))
        sets.append(found)
    gained = [",".join(labels[sorted(a - r)]) for r, a in zip(*sets, strict=True)]
    lost = [",".join(labels[sorted(r - a)]) for r, a in zip(*sets, strict=True)]
    return gained, lost


# ============================================================================ scoring
@dataclass(frozen=True)
class _ScoreRun:
    """Settings shared by every gene chunk of :func:`score_alleles`."""

    predictor: Predictor
    spec: WindowSpec
    local_flank: int
    motifs: Any
    p_threshold: float

    @property
    def has_wf(self) -> bool:
        """Whether the model gives weighted features (a CR model)."""
        return self.predictor.is_cr

    @property
    def what(self) -> tuple[str, ...]:
        """Model outputs to compute: weighted features too for a CR model."""
        return ("prediction", "contributions") if self.has_wf else ("prediction",)


@dataclass
class _PairScores:
    """Per-pair outputs of :func:`score_alleles`, filled chunk by chunk.

    ``(p,)`` arrays: ``ref_pred``, ``alt_pred``, ``local`` (float64, NaN until filled), ``offset``
    (int64), ``gained``/``lost`` (object, ``""`` until filled).
    """

    ref_pred: np.ndarray
    alt_pred: np.ndarray
    local: np.ndarray
    offset: np.ndarray
    gained: np.ndarray
    lost: np.ndarray

    @classmethod
    def empty(cls, n_pairs: int) -> _PairScores:
        """Unfilled scores of ``n_pairs`` pairs."""
        return cls(
            ref_pred=np.full(n_pairs, np.nan),
            alt_pred=np.full(n_pairs, np.nan),
            local=np.full(n_pairs, np.nan),
            offset=np.zeros(n_pairs, dtype=np.int64),
            gained=np.full(n_pairs, "", dtype=object),
            lost=np.full(n_pairs, "", dtype=object),
        )


def _chunk_edits(
    alleles: Alleles, pairs: np.ndarray, gsub: pd.DataFrame, local_row: np.ndarray, spec: WindowSpec
) -> list[Edit]:
    """The :class:`Edit` of each pair in ``pairs`` (``(p_c,)`` int64 pair indices), in window coordinates.

    ``gsub``: the chunk's gene rows; ``local_row``: ``(p_c,)`` int64 row of ``gsub`` of each pair.
    """
    minus = gsub["strand"].to_numpy()[local_row] == "-"
    start = gsub["start"].to_numpy(dtype=np.int64)[local_row]
    return [
        orient_edit(
            int(alleles.core_start[a]),
            int(alleles.core_end[a]),
            alleles.alt_core[a],
            int(start[i]),
            bool(minus[i]),
            spec,
        )
        for i, a in enumerate(alleles.pair_allele[pairs])
    ]


def _extended_windows(
    genome: Genome, gsub: pd.DataFrame, edits: Sequence[Edit], spec: WindowSpec
) -> tuple[np.ndarray, int]:
    """Reference windows of the genes ``gsub`` with ``ext`` extra genome bases on either side.

    Returns ``(extended, ext)``: ``(G, L + 2 ext)`` uint8 codes in window orientation, ``ext`` long
    enough for every edit (:func:`alt_window`).
    """
    ext = 1 + max((e.end - e.start) + len(e.alt) for e in edits)
    extended = extract_windows(
        genome,
        gsub["ref"].to_numpy(),
        gsub["tss"].to_numpy(),
        gsub["strand"].to_numpy(),
        spec.upstream + ext,
        spec.downstream + ext,
    )
    return extended, ext


def _substitutions(edits: Sequence[Edit], n_ref: int, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Substituted bases of ``edits`` (output row ``n_ref + i``), inside the window only.

    Returns ``(sub_idx, sub_pos, sub_code)``: ``(s,)`` int64 output rows, int64 window positions,
    uint8 new codes, sorted by output row.
    """
    sub_idx, sub_pos, sub_code = [], [], []
    for i, e in enumerate(edits):
        if not e.substitution:
            continue
        pos = np.arange(e.start, e.end)
        keep = (pos >= 0) & (pos < length)
        sub_idx.append(np.full(int(keep.sum()), n_ref + i, dtype=np.int64))
        sub_pos.append(pos[keep])
        sub_code.append(e.alt[keep])
    return (
        np.concatenate(sub_idx) if sub_idx else np.zeros(0, np.int64),
        np.concatenate(sub_pos).astype(np.int64) if sub_pos else np.zeros(0, np.int64),
        np.concatenate(sub_code).astype(np.uint8) if sub_code else np.zeros(0, np.uint8),
    )


def _chunk_plan(
    edits: Sequence[Edit], local_row: np.ndarray, replacement: Callable[[int], np.ndarray], n_ref: int, length: int
) -> EditPlan:
    """One padded run per chunk: the ``n_ref`` reference rows (unedited), then one row per edit.

    Each edit row is its gene's reference row (``local_row``, ``(n_edit,)`` int64) edited on the
    device, so padding is paid once per chunk; indels are replaced by ``replacement(i)`` (edit ``i``).
    """
    sub_idx, sub_pos, sub_code = _substitutions(edits, n_ref, length)
    return EditPlan(
        row=np.concatenate([np.arange(n_ref), local_row]),
        sub_idx=sub_idx,
        sub_pos=sub_pos,
        sub_code=sub_code,
        replace=np.concatenate([np.zeros(n_ref, bool), [not e.substitution for e in edits]]).astype(bool),
        replacement=lambda i, n_ref=n_ref, replacement=replacement: replacement(i - n_ref),
    )


def _edit_spans(edits: Sequence[Edit]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(starts, ends, alt_starts, alt_ends)``: ``(n_edit,)`` int64 changed spans in the reference
    window and allele spans in the alternative window."""
    starts = np.array([e.start for e in edits], dtype=np.int64)
    ends = np.array([e.end for e in edits], dtype=np.int64)
    alt_starts = np.array([e.alt_start for e in edits], dtype=np.int64)
    alt_ends = alt_starts + np.array([len(e.alt) for e in edits], dtype=np.int64)
    return starts, ends, alt_starts, alt_ends


def _predict_chunk(
    run: _ScoreRun,
    windows: np.ndarray,
    plan: EditPlan,
    gx: np.ndarray | None,
    n_ref: int,
    alt_spans: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Run the reference and edited rows of one chunk through the model.

    ``windows``: ``(G, L)`` uint8 reference windows (``G == n_ref``); ``alt_spans``: ``(n_edit,)``
    int64 allele starts/ends in the alternative windows. Returns ``(pred_all, r_cs, a_local)``:
    ``(n_ref + n_edit,)`` float64 predictions, ``(n_ref, L + 1)`` float64 cumulative weighted
    features of the reference rows (``None`` without weighted features) and ``(n_edit,)`` float64
    alternative local sums over the allele +- ``local_flank`` (NaN without weighted features).
    """
    length = run.spec.length
    alt_starts, alt_ends = alt_spans
    n_edit = len(plan.row) - n_ref
    pred_all = np.empty(n_ref + n_edit)
    r_cs = np.zeros((n_ref, length + 1)) if run.has_wf else None
    a_local = np.full(n_edit, np.nan)
    predictor = run.predictor
    if n_edit <= 50 * predictor.batch_size:
        predictor = replace(predictor, progress=False)
    for sl, out in predictor.batches(
        windows, rows=plan.row, extra=gx, what=run.what, mutate=plan.hook(predictor.device), pad=True, desc="variants"
    ):
        pred_all[sl] = out.prediction
        if run.has_wf:
            cs = _cumsum(out.contributions)
            idx = np.arange(sl.start, sl.stop)
            is_ref = idx < n_ref
            r_cs[idx[is_ref]] = cs[is_ref]
            j = idx[~is_ref] - n_ref
            a_local[j] = _local_sum(cs[~is_ref], alt_starts[j] - run.local_flank, alt_ends[j] + run.local_flank)
    return pred_all, r_cs, a_local


def _alt_window_getter(
    edits: Sequence[Edit],
    windows: np.ndarray,
    local_row: np.ndarray,
    replacement: Callable[[int], np.ndarray],
    length: int,
) -> Callable[[int], np.ndarray]:
    """``alt_of(i)``: the ``(L,)`` uint8 alternative window of edit ``i`` on the host (for the motif scan)."""

    def alt_of(i: int) -> np.ndarray:
        e = edits[i]
        if not e.substitution:
            return replacement(i)
        w = windows[local_row[i]].copy()
        pos = np.arange(e.start, e.end)
        keep = (pos >= 0) & (pos < length)
        w[pos[keep]] = e.alt[keep]
        return w

    return alt_of


def _score_chunk(
    run: _ScoreRun,
    alleles: Alleles,
    genes: pd.DataFrame,
    genome: Genome,
    cg: np.ndarray,
    pairs: np.ndarray,
    extra: np.ndarray | None,
    scores: _PairScores,
) -> None:
    """Score the pairs ``pairs`` (``(p_c,)`` int64 pair indices) of the genes ``cg`` (sorted gene rows) into ``scores``.

    The reference windows of ``cg`` are cut once and predicted once; the alternative windows are
    their rows edited on the device.
    """
    length, up, flank = run.spec.length, run.spec.upstream, run.local_flank
    local_row = np.searchsorted(cg, alleles.pair_gene[pairs])  # chunk row of each pair
    gsub = genes.iloc[cg]
    edits = _chunk_edits(alleles, pairs, gsub, local_row, run.spec)
    extended, ext = _extended_windows(genome, gsub, edits, run.spec)
    windows = np.ascontiguousarray(extended[:, ext : ext + length])
    gx = None if extra is None else np.ascontiguousarray(extra[cg], dtype=np.float32)

    def replacement(i: int) -> np.ndarray:
        return alt_window(extended[local_row[i]], ext, length, edits[i])

    n_ref = len(cg)
    plan = _chunk_plan(edits, local_row, replacement, n_ref, length)
    starts, ends, alt_starts, alt_ends = _edit_spans(edits)
    pred_all, r_cs, a_local = _predict_chunk(run, windows, plan, gx, n_ref, (alt_starts, alt_ends))
    r_pred, a_pred = pred_all[:n_ref], pred_all[n_ref:]
    scores.ref_pred[pairs] = r_pred[local_row]
    scores.alt_pred[pairs] = a_pred
    scores.offset[pairs] = starts - up
    if run.has_wf:
        ref_local = _local_sum(r_cs[local_row], starts - flank, ends + flank)
        scores.local[pairs] = a_local - ref_local
    if run.motifs:
        g_, l_ = motif_changes(
            windows,
            np.stack([starts, ends], 1),
            _alt_window_getter(edits, windows, local_row, replacement, length),
            np.stack([alt_starts, alt_ends], 1),
            local_row,
            run.motifs,
            p_threshold=run.p_threshold,
        )
        scores.gained[pairs] = g_
        scores.lost[pairs] = l_


def _variant_table(alleles: Alleles, genes: pd.DataFrame, scores: _PairScores) -> pd.DataFrame:
    """The variant table (:data:`VARIANT_COLUMNS`), one row per pair of ``alleles``, in pair order."""
    n_pairs = len(alleles.pair_allele)
    a = alleles.pair_allele
    g = alleles.pair_gene
    return pd.DataFrame(
        {
            "variant_id": np.asarray(alleles.variant_id, dtype=object)[a] if n_pairs else np.zeros(0, object),
            "chrom": np.asarray(alleles.chrom, dtype=object)[a] if n_pairs else np.zeros(0, object),
            "pos": alleles.pos[a] if n_pairs else np.zeros(0, np.int64),
            "ref": np.asarray(alleles.ref, dtype=object)[a] if n_pairs else np.zeros(0, object),
            "alt": np.asarray(alleles.alt, dtype=object)[a] if n_pairs else np.zeros(0, object),
            "kind": np.asarray(alleles.kind, dtype=object)[a] if n_pairs else np.zeros(0, object),
            "gene_id": genes["gene_id"].to_numpy(dtype=object)[g],
            "strand": genes["strand"].to_numpy(dtype=object)[g],
            "offset_to_tss": scores.offset,
            "ref_prediction": scores.ref_pred,
            "alt_prediction": scores.alt_pred,
            "delta": scores.alt_pred - scores.ref_pred,
            "local_contribution_change": scores.local,
            "motif_gained": scores.gained,
            "motif_lost": scores.lost,
            "ref_mismatch": alleles.ref_mismatch[a] if n_pairs else np.zeros(0, bool),
        },
        columns=VARIANT_COLUMNS,
    )


def score_alleles(
    predictor: Predictor,
    alleles: Alleles,
    genes: pd.DataFrame,
    genome: Genome,
    spec: WindowSpec,
    *,
    motifs,
    p_threshold: float,
    local_flank: int,
    extra: np.ndarray | None = None,
) -> pd.DataFrame:
    """Score every (allele, gene) pair of ``alleles``: the variant table (:data:`VARIANT_COLUMNS`).

    Genes are processed in chunks (bounded host memory); per chunk the reference windows are cut
    once and predicted once (with weighted features), the alternative windows stream through the
    model in padded batches of the predictor's batch size. ``extra``: ``(G, F)`` float32 per-gene features of
    ``genes`` rows (models trained with them), else ``None``. Rows come in VCF order, then gene-table
    order.
    """
    n_pairs = len(alleles.pair_allele)
    run = _ScoreRun(predictor=predictor, spec=spec, local_flank=local_flank, motifs=motifs, p_threshold=p_threshold)
    scores = _PairScores.empty(n_pairs)
    order = np.argsort(alleles.pair_gene, kind="stable")
    uniq_genes, first = np.unique(alleles.pair_gene[order], return_index=True)
    bounds = np.append(first, n_pairs)
    per_chunk = chunk_rows_for(spec.length, _CHUNK_BUDGET_MB, itemsize=1 + 4 + 8)
    for c0 in range(0, len(uniq_genes), per_chunk):
        cg = uniq_genes[c0 : c0 + per_chunk]
        pairs = order[bounds[c0] : bounds[min(c0 + per_chunk, len(uniq_genes))]]
        _score_chunk(run, alleles, genes, genome, cg, pairs, extra, scores)
    return _variant_table(alleles, genes, scores)


def score_variants(
    predictor: Predictor,
    vcf: str | Path,
    genes: pd.DataFrame,
    genome: Genome,
    spec: WindowSpec,
    *,
    regions: Sequence[str] | None,
    motifs,
    p_threshold: float,
    local_flank: int,
    on_ref_mismatch: str,
    missing_chromosome: str,
    extra: np.ndarray | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read ``vcf`` (:func:`read_alleles`) and score it (:func:`score_alleles`): ``(table, summary)``.

    ``genes`` from :func:`gene_windows` (same ``spec``); ``motifs``: a list of
    :class:`~promoter_cr.seq.motifs.Motif` or ``None`` (no motif columns filled).
    """
    model_length = getattr(predictor.model, "length", spec.length)
    if spec.length != model_length:
        raise ValueError(f"model takes {model_length} bp windows, spec gives {spec.length}")
    genes = genes.reset_index(drop=True)  # pairs index genes by row
    alleles = read_alleles(
        vcf,
        genes,
        genome,
        spec,
        regions=regions,
        on_ref_mismatch=on_ref_mismatch,
        missing_chromosome=missing_chromosome,
    )
    c = alleles.counts
    log.info(
        "%s: %d records, %d alleles; skipped %d symbolic/missing, %d "
        "ALT==REF, %d on unknown chromosomes, %d outside regions, "
        "%d outside every gene window, %d REF mismatches (%d skipped); scoring %d alleles x genes = %d rows",
        vcf,
        c["records"],
        c["alleles"],
        c["symbolic_or_missing"],
        c["same_as_ref"],
        c["unknown_chromosome"],
        c["outside_regions"],
        c["outside_windows"],
        c["ref_mismatch"],
        c["ref_mismatch_skipped"],
        c["alleles_scored"],
        c["pairs"],
    )
    if c["pairs"] == 0:
        log.warning("%s: no allele falls in a promoter window of the %d genes; the table is empty", vcf, len(genes))
    table = score_alleles(
        predictor, alleles, genes, genome, spec, motifs=motifs, p_threshold=p_threshold, local_flank=local_flank,
        extra=extra,
    )  # fmt: skip
    summary = {
        "vcf": str(vcf),
        "window": {"upstream": spec.upstream, "downstream": spec.downstream},
        "counts": c,
        "n_rows": int(len(table)),
        "n_genes_hit": int(table["gene_id"].nunique()),
        "n_motifs": len(motifs) if motifs else 0,
        "p_threshold": float(p_threshold),
        "local_flank": int(local_flank),
    }
    return table, summary


def score_vcf(
    checkpoint: str | Path,
    vcf: str | Path,
    genome_fasta: str | Path,
    tss: str | Path,
    out: str | Path,
    *,
    tss_options: Mapping[str, Any],
    upstream: int | None,
    downstream: int | None,
    regions: Sequence[str] | None,
    genes: Sequence[str] | None,
    motifs,
    p_threshold: float,
    local_flank: int,
    on_ref_mismatch: str,
    missing_chromosome: str,
    batch_size: int,
    device: str | None,
    summary_out: str | Path | None = None,
    extra_table: pd.DataFrame | None = None,
    index_dir: str | Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """End to end: checkpoint + VCF + genome + TSS table -> ``out`` (TSV, gzip if ``.gz``), atomically.

    Window from the checkpoint (:func:`window_spec`); TSS table read as in training (:func:`load_tss`
    with ``tss_options`` = the ``dataset.genome`` config); ``genes`` restricts the genes scored;
    ``summary_out`` (JSON) gets the counts. Nothing is written when anything fails. Returns the summary.
    """
    from promoter_cr.interpret.genome_inputs import open_gene_inputs

    with open_gene_inputs(
        checkpoint, genome_fasta, tss, gene_ids=genes, tss_options=tss_options, upstream=upstream,
        downstream=downstream, missing_chromosome=missing_chromosome, batch_size=batch_size, device=device,
        extra_table=extra_table, index_dir=index_dir, progress=progress,
    ) as g:  # fmt: skip
        table, summary = score_variants(
            g.predictor,
            vcf,
            g.genes,
            g.genome,
            g.spec,
            regions=regions,
            motifs=motifs,
            p_threshold=p_threshold,
            local_flank=local_flank,
            on_ref_mismatch=on_ref_mismatch,
            missing_chromosome=missing_chromosome,
            extra=g.extra,
        )
    summary["checkpoint"] = str(checkpoint)
    write_variant_table(out, table)
    if summary_out is not None:
        write_json(summary_out, summary)
    return summary


def write_variant_table(path: str | Path, table: pd.DataFrame) -> None:
    """Write the variant table as TSV atomically (floats at full precision, so ``delta`` round-trips)."""
    write_tsv(path, table[VARIANT_COLUMNS])


def read_variant_table(path: str | Path) -> pd.DataFrame:
    """Read a variant table written by :func:`write_variant_table` (motif columns as strings)."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(path, "variant table not found")
    df = pd.read_csv(
        path,
        sep="\t",
        dtype={
            "variant_id": str,
            "chrom": str,
            "ref": str,
            "alt": str,
            "gene_id": str,
            "motif_gained": str,
            "motif_lost": str,
        },
        keep_default_na=False,
        na_values={c: [""] for c in ("ref_prediction", "alt_prediction", "delta", "local_contribution_change")},
    )
    missing = [c for c in VARIANT_COLUMNS if c not in df.columns]
    if missing:
        raise InputDataError(path, f"not a variant table: missing columns {missing}")
    return df
