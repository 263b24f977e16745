"""De novo motifs from a Contextual Regression model's own weights (TF-MoDISco-lite).

A CR model gives, in one forward pass, the contextual weights ``w(x)`` ``(B, 4, L)`` - the
*hypothetical contributions* TF-MoDISco needs (what each base would contribute at each
position, in this context) - and the weighted features ``w(x) . x`` ``(B, L)``, the *actual
contributions*. The stage (:mod:`promoter_cr.motifs.denovo_stage`) exports ``w(x)`` through the
one exporter (:func:`promoter_cr.models.export.export_rows`) and writes the files; this module holds
the array kernels:

1. seqlets are called with TF-MoDISco-lite's own seqlet caller (``modiscolite.extract_seqlets``:
   window sums of the actual contributions, Laplace null, isotonic FDR) over chunks of genes
   (:func:`call_seqlets`);
2. the seqlets of every gene group (all genes, then each cluster) and sign are clustered into
   patterns with ``modiscolite.tfmodisco.seqlets_to_patterns`` (:func:`find_patterns`,
   :func:`run_modisco`);
3. every pattern is matched against a motif collection with memelite's Tomtom
   (:func:`annotate_patterns`) - a pattern without a match at ``q < match_q_threshold`` is
   reported as *novel*, never dropped;
4. the tables of ``patterns.tsv``, ``seqlets.tsv`` and the text of ``patterns.meme``
   (:func:`pattern_table`, :func:`seqlet_table`, :func:`meme_text`).

Memory at Xpresso scale (18,377 x 10,500 bp)
--------------------------------------------
TF-MoDISco-lite's entry point ``TFMoDISco(one_hot, hypothetical)`` wants ``(N, L, 4)`` float32
arrays - 3.1 GB each at that size, three of them plus float64 smoothing copies, which is
well over the 8 GB budget. Two steps of its pipeline are therefore driven here, with its own
functions and unchanged maths:

* *Seqlet calling* runs on chunks of whole genes read from the memory maps (``chunk_mb`` of
  float64 window sums per chunk). TF-MoDISco estimates its thresholds from (at most) 1 M
  window sums of all genes; here each chunk gets its own estimate (chunks are of equal
  size, each far above the 1 M windows TF-MoDISco subsamples to at that scale). When one
  chunk holds all genes (e.g. 2,400 x 600 bp) the calls are TF-MoDISco's exactly.
* *Clustering* sees only the kept seqlets: each is copied, with ``pad`` = 50 bases either side
  (room for a pattern of TF-MoDISco's largest working width, 30 + 2 x 10 bp, anywhere over
  the seqlet; the region is moved inside the gene at its edges, and is the whole gene when
  the gene is shorter), into a small ``(S, R, 4)`` float32 track set, so memory grows with
  ``max_seqlets_per_metacluster`` and
  not with ``N x L``. Where TF-MoDISco keeps the *first* ``max_seqlets_per_metacluster``
  seqlets (those of the first genes), a seeded uniform sample over all genes is kept.

Seqlets are called once, over all genes (one null); each gene group then clusters its own
seqlets, so the per-cluster patterns and the all-gene patterns come from the same calls.

Orientation and units: pattern matrices are ``(4, w)`` in ``ACGT`` order (the
:class:`promoter_cr.seq.motifs.Motif` convention); coordinates are 0-based, half-open,
in the gene's window (``sequences.npy`` columns); a ``-`` seqlet is the reverse complement
of ``[start, end)``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.errors import ConfigError, InputDataError
from promoter_cr.models.export import DenovoError, actual_contributions
from promoter_cr.seq.motifs import Motif
from promoter_cr.seq.motifs import meme_text as database_meme_text
from promoter_cr.stats.fdr import bh_qvalues

log = logging.getLogger(__name__)

SIGNS = {1: "positive", -1: "negative"}
ALL = "all"
#: the best-match columns of :func:`annotate_patterns`
MATCH_COLUMNS = [
    "pattern_id",
    "best_match_id",
    "best_match_name",
    "match_p_value",
    "match_q_value",
    "match_offset",
    "match_strand",
    "novel",
]
#: the columns of ``patterns.tsv``: the pattern, then its best match
PATTERN_COLUMNS = ["pattern_id", "cluster", "sign", "n_seqlets", "n_genes", "mean_contribution", "width"]
PATTERN_COLUMNS += MATCH_COLUMNS[1:]
SEQLET_COLUMNS = ["gene", "start", "end", "strand", "pattern_id", "contribution"]
#: the TF-MoDISco-lite settings not exposed in the config: the values its entry point
#: ``TFMoDISco()`` passes to ``seqlets_to_patterns``
MODISCO_FIXED = {
    "min_overlap_while_sliding": 0.7,
    "affmat_correlation_threshold": 0.15,
    "tsne_perplexity": 10.0,
    "n_leiden_iterations": -1,
    "frac_support_to_trim_to": 0.2,
    "min_num_to_trim_to": 30,
    "trim_to_window_size": 30,
    "initial_flank_to_add": 10,
    "final_flank_to_add": 0,
    "subcluster_perplexity": 50,
    "merging_max_seqlets_subsample": 1000,
    "ppm_pseudocount": 0.001,
}
# ----------------------------------------------------------------------------------------
# settings


@dataclass(frozen=True, kw_only=True)
class ModiscoSettings:
    """TF-MoDISco-lite settings (every one explicit; defaults live in the config schema).

    Seqlet calling: ``sliding_window_size`` (bp summed per window), ``flank_size`` (bp added
    either side of a seqlet), ``target_seqlet_fdr``, ``min_passing_windows_frac`` /
    ``max_passing_windows_frac`` (bounds on the fraction of windows called),
    ``weak_threshold_for_counting_sign`` (quantile of |window sum| a seqlet's sum must pass to
    get a sign). Clustering: ``min_metacluster_size`` (a sign's seqlets in a group must exceed
    this to be clustered), ``max_seqlets_per_metacluster`` (seeded sample cap per group and
    sign), ``n_leiden_runs``, ``nearest_neighbors``, ``final_min_cluster_size`` (seqlets a
    pattern needs), ``min_ic_in_window``/``min_ic_windowsize`` (information content a pattern
    needs in its best window). Output: ``trim_threshold`` (a pattern is trimmed to the span
    of columns whose information content is at least this fraction of its most informative
    column's, :func:`trim_span`). ``chunk_mb``: float64 window sums per seqlet-calling chunk
    (peak memory of the calling step is about 5x this). ``seed``: seqlet sampling.
    """

    sliding_window_size: int
    flank_size: int
    target_seqlet_fdr: float
    min_passing_windows_frac: float
    max_passing_windows_frac: float
    weak_threshold_for_counting_sign: float
    min_metacluster_size: int
    max_seqlets_per_metacluster: int
    n_leiden_runs: int
    nearest_neighbors: int
    final_min_cluster_size: int
    min_ic_in_window: float
    min_ic_windowsize: int
    trim_threshold: float
    chunk_mb: float
    seed: int

    def __post_init__(self) -> None:
        if self.sliding_window_size < 1 or self.flank_size < 0:
            raise ConfigError(
                "denovo: sliding_window_size must be >= 1 and flank_size >= 0, "
                f"got {self.sliding_window_size}, {self.flank_size}"
            )
        if not 0 < self.target_seqlet_fdr < 1:
            raise ConfigError(f"denovo: target_seqlet_fdr must lie in (0, 1), got {self.target_seqlet_fdr}")
        if not 0 <= self.min_passing_windows_frac <= self.max_passing_windows_frac <= 1:
            raise ConfigError("denovo: need 0 <= min_passing_windows_frac <= max_passing_windows_frac <= 1")
        if self.max_seqlets_per_metacluster <= self.min_metacluster_size:
            raise ConfigError("denovo: max_seqlets_per_metacluster must exceed min_metacluster_size")
        if self.n_leiden_runs < 1 or self.nearest_neighbors < 2:
            raise ConfigError("denovo: n_leiden_runs must be >= 1 and nearest_neighbors >= 2")
        if not 0 <= self.trim_threshold < 1:
            raise ConfigError(f"denovo: trim_threshold must lie in [0, 1), got {self.trim_threshold}")

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> ModiscoSettings:
        """From the validated ``denovo`` config section (its other keys are ignored; a missing
        setting is a :class:`ConfigError`)."""
        names = [f.name for f in fields(cls)]
        missing = [k for k in names if k not in section]
        if missing:
            raise ConfigError(f"denovo settings missing: {missing}")
        return cls(**{k: section[k] for k in names})

    @property
    def seqlet_length(self) -> int:
        return self.sliding_window_size + 2 * self.flank_size

    @property
    def pad(self) -> int:
        """Bases copied either side of a seqlet for the clustering track set: room for a pattern
        of TF-MoDISco's largest working width (``trim_to_window_size + 2 initial_flank_to_add``)
        placed anywhere over the seqlet."""
        return MODISCO_FIXED["trim_to_window_size"] + 2 * MODISCO_FIXED["initial_flank_to_add"]


# ----------------------------------------------------------------------------------------
# inputs


def check_inputs(
    hypothetical: np.ndarray,
    sequences: np.ndarray,
    rows: np.ndarray | None,
    clusters: np.ndarray | None,
    gene_ids: np.ndarray | None,
    *,
    hypothetical_path: str | Path | None,
    sequences_path: str | Path | None,
) -> np.ndarray:
    """Check shapes; return the ``(n,)`` int64 rows of ``sequences`` behind the ``n`` hypothetical rows.

    ``hypothetical`` must be ``(n, 4, L)`` with ``L`` the sequence length; ``rows`` ``(n,)`` in
    ``[0, N)`` (``None``: ``n`` must equal ``N``); ``clusters`` and ``gene_ids`` ``(n,)``.
    Raises :class:`InputDataError` naming the file.
    """
    if hypothetical.ndim != 3 or hypothetical.shape[1] != 4:
        raise InputDataError(
            hypothetical_path,
            f"hypothetical contributions have shape {hypothetical.shape}, expected (genes, 4, length)",
        )
    if sequences.ndim != 2:
        raise InputDataError(sequences_path, f"sequences have shape {sequences.shape}, expected (genes, length)")
    n, _, length = hypothetical.shape
    if length != sequences.shape[1]:
        raise InputDataError(
            hypothetical_path,
            f"hypothetical contributions are {length} bp long"
            f" but the sequences ({sequences_path}) are {sequences.shape[1]} bp",
        )
    if rows is None:
        if n != len(sequences):
            raise InputDataError(
                hypothetical_path,
                f"{n} rows of hypothetical contributions"
                f" but {len(sequences)} sequences ({sequences_path}) and no row map",
            )
        rows = np.arange(n, dtype=np.int64)
    rows = np.asarray(rows, dtype=np.int64)
    if rows.shape != (n,):
        raise InputDataError(hypothetical_path, f"{n} rows of hypothetical contributions but {rows.size} row indices")
    if n and (rows.min() < 0 or rows.max() >= len(sequences)):
        raise InputDataError(sequences_path, f"row indices outside [0, {len(sequences)})")
    for name, arr in (("cluster labels", clusters), ("gene ids", gene_ids)):
        if arr is not None and len(arr) != n:
            raise InputDataError(hypothetical_path, f"{n} rows of hypothetical contributions but {len(arr)} {name}")
    if length < 1 or n < 1:
        raise InputDataError(hypothetical_path, "no hypothetical contributions")
    return rows


# ----------------------------------------------------------------------------------------
# seqlet calling


def call_seqlets(
    hypothetical: np.ndarray,
    sequences: np.ndarray,
    rows: np.ndarray,
    *,
    settings: ModiscoSettings,
) -> pd.DataFrame:
    """Seqlets of every gene, called by TF-MoDISco-lite's caller over chunks of genes.

    ``hypothetical`` ``(n, 4, L)`` (memmap), ``sequences`` ``(N, L)`` uint8, ``rows`` ``(n,)``.
    Returns one row per seqlet: ``row`` (index into the ``n`` genes), ``start``, ``end``
    (``end - start = sliding_window_size + 2 flank_size``), ``score`` (sum of the actual
    contributions over the central window) and ``sign`` (+1, -1, or 0 when ``|score|`` is under
    the chunk's sign threshold, as TF-MoDISco drops them).
    """
    from modiscolite import extract_seqlets

    n, _, length = hypothetical.shape
    s = settings
    if length < s.seqlet_length + 2 * s.flank_size:
        raise ConfigError(
            f"denovo: sequences of {length} bp are too short for seqlets of"
            f" sliding_window_size + 2 flank_size = {s.seqlet_length} bp (and flanks)"
        )
    chunk = _chunk_rows(n, length, s.chunk_mb)
    block = max(1, min(chunk, int(s.chunk_mb * 1e6 // (4 * length * 4 * 4))))  # float32 (b, 4, L) read blocks
    frames = []
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        contrib = np.empty((stop - start, length), dtype=np.float32)
        for b0 in range(start, stop, block):
            b1 = min(stop, b0 + block)
            contrib[b0 - start : b1 - start] = actual_contributions(hypothetical[b0:b1], sequences[rows[b0:b1]])
        if not np.isfinite(contrib).all():
            raise DenovoError(
                f"row {start + int(np.flatnonzero(~np.isfinite(contrib).all(1))[0])}:"
                " non-finite hypothetical contributions"
            )
        if not np.any(contrib):
            continue
        seqlets, threshold = extract_seqlets.extract_seqlets(
            attribution_scores=contrib,
            window_size=s.sliding_window_size,
            flank=s.flank_size,
            suppress=int(0.5 * s.sliding_window_size) + s.flank_size,
            target_fdr=s.target_seqlet_fdr,
            min_passing_windows_frac=s.min_passing_windows_frac,
            max_passing_windows_frac=s.max_passing_windows_frac,
            weak_threshold_for_counting_sign=s.weak_threshold_for_counting_sign,
        )
        if not seqlets:
            continue
        r = np.array([q.example_idx for q in seqlets], dtype=np.int64)
        st = np.array([q.start for q in seqlets], dtype=np.int64)
        window = st[:, None] + s.flank_size + np.arange(s.sliding_window_size)[None, :]
        score = contrib[r[:, None], window].astype(np.float64).sum(axis=1)
        sign = np.where(score > threshold, 1, np.where(score < -threshold, -1, 0))
        frames.append(
            pd.DataFrame({"row": r + start, "start": st, "end": st + s.seqlet_length, "score": score, "sign": sign})
        )
        del contrib
    if not frames:
        return pd.DataFrame(
            {
                "row": np.zeros(0, np.int64),
                "start": np.zeros(0, np.int64),
                "end": np.zeros(0, np.int64),
                "score": np.zeros(0),
                "sign": np.zeros(0, np.int64),
            }
        )
    return pd.concat(frames, ignore_index=True)


def _chunk_rows(n: int, length: int, chunk_mb: float) -> int:
    """Genes per seqlet-calling chunk: equal chunks, each at most ``chunk_mb`` of float64 windows."""
    from promoter_cr.chunks import chunk_rows_for

    most = chunk_rows_for(length, chunk_mb, itemsize=8)
    n_chunks = max(1, math.ceil(n / most))
    return math.ceil(n / n_chunks)


# ----------------------------------------------------------------------------------------
# clustering seqlets into patterns


@dataclass
class Pattern:
    """One de novo pattern.

    ``ppm``, ``cwm``, ``hcwm``: ``(4, w)`` float64 sequence matrix (columns sum to 1),
    contribution-weighted matrix (mean actual contributions) and mean hypothetical
    contributions, trimmed by ``trim_threshold`` (:func:`trim_span`). ``seqlets``: gene row (into the ``n``
    genes), start, end (the trimmed span), strand, contribution (sum of the actual
    contributions over the span), one row per distinct site.
    """

    pattern_id: str
    cluster: str
    sign: str
    ppm: np.ndarray
    cwm: np.ndarray
    hcwm: np.ndarray
    seqlets: pd.DataFrame

    @property
    def width(self) -> int:
        return int(self.ppm.shape[1])

    def motif(self, name: str | None = None) -> Motif:
        return Motif(self.pattern_id, name or self.pattern_id, self.ppm)


def region_starts(seq_start: np.ndarray, *, length: int, region: int, pad: int) -> np.ndarray:
    """``(S,)`` gene coordinate where each seqlet's region begins: ``pad`` bases before the
    seqlet, moved inside the gene (``region <= length``), so an expansion past the gene's edge
    leaves the region and TF-MoDISco drops it, as it would on the whole gene."""
    return np.clip(np.asarray(seq_start, np.int64) - pad, 0, max(0, length - region))


def region_tracks(
    hypothetical: np.ndarray,
    sequences: np.ndarray,
    rows: np.ndarray,
    seq_row: np.ndarray,
    origin: np.ndarray,
    *,
    region: int,
    chunk_mb: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per seqlet, ``region`` bases from ``origin``: one-hot, actual and hypothetical
    contributions, each ``(S, region, 4)`` float32 (zero beyond the gene; :func:`region_starts`
    keeps regions inside it).

    ``seq_row`` indexes the ``n`` hypothetical rows; genes are read in row order, about
    ``chunk_mb`` of float32 at a time, so a memmap is read once.
    """
    n_seq = len(seq_row)
    _, _, length = hypothetical.shape
    one_hot = np.zeros((n_seq, region, 4), dtype=np.float32)
    hyp_out = np.zeros((n_seq, region, 4), dtype=np.float32)
    order = np.argsort(seq_row, kind="stable")
    uniq = np.unique(seq_row)
    per = max(1, int(chunk_mb * 1e6 // max(1, 4 * length * 4)))
    offs = np.arange(region)
    for c in range(0, len(uniq), per):
        genes = uniq[c : c + per]
        hyp = np.asarray(hypothetical[genes], dtype=np.float32)  # (g, 4, L)
        codes = np.asarray(sequences[rows[genes]], dtype=np.uint8)
        lo, hi = np.searchsorted(seq_row[order], [genes[0], genes[-1] + 1])
        idx = order[lo:hi]
        g = np.searchsorted(genes, seq_row[idx])
        pos = origin[idx, None] + offs[None, :]  # (k, region)
        inside = (pos >= 0) & (pos < length)
        posc = np.clip(pos, 0, length - 1)
        code = np.where(inside, codes[g[:, None], posc], 4)
        h = hyp[g[:, None], :, posc]  # (k, region, 4)
        h[~inside] = 0.0
        hyp_out[idx] = h
        oh = np.zeros((len(idx), region, 5), dtype=np.float32)
        np.put_along_axis(oh, code[..., None].astype(np.intp), 1.0, axis=2)
        one_hot[idx] = oh[..., :4]
    return one_hot, one_hot * hyp_out, hyp_out


def find_patterns(
    hypothetical: np.ndarray,
    sequences: np.ndarray,
    rows: np.ndarray,
    seqlets: pd.DataFrame,
    *,
    sign: int,
    cluster: str,
    settings: ModiscoSettings,
) -> tuple[list[Pattern], dict[str, int]]:
    """TF-MoDISco-lite patterns of one gene group and sign from its called seqlets.

    ``seqlets``: rows of :func:`call_seqlets` already restricted to the group and sign. At
    most ``max_seqlets_per_metacluster`` are kept (seeded uniform sample); fewer than
    ``min_metacluster_size + 1`` give no patterns (TF-MoDISco's rule). Returns the patterns
    (largest first, ids ``<cluster>.<pos|neg>.<k>``) and counts (seqlets called, used).
    """
    from modiscolite import core, tfmodisco

    s = settings
    stats = {"seqlets_called": int(len(seqlets)), "seqlets_used": 0}
    if len(seqlets) <= s.min_metacluster_size:
        return [], stats
    if len(seqlets) > s.max_seqlets_per_metacluster:
        rng = np.random.default_rng([s.seed, sign % 3, _stable_hash(cluster)])
        keep = np.sort(rng.choice(len(seqlets), size=s.max_seqlets_per_metacluster, replace=False))
        seqlets = seqlets.iloc[keep]
    stats["seqlets_used"] = int(len(seqlets))
    seq_row = seqlets["row"].to_numpy(np.int64)
    seq_start = seqlets["start"].to_numpy(np.int64)
    region = min(hypothetical.shape[2], s.seqlet_length + 2 * s.pad)
    origin = region_starts(seq_start, length=hypothetical.shape[2], region=region, pad=s.pad)
    one_hot, contrib, hyp = region_tracks(
        hypothetical, sequences, rows, seq_row, origin, region=region, chunk_mb=s.chunk_mb
    )
    start_modisco()
    track_set = core.TrackSet(one_hot=one_hot, contrib_scores=contrib, hypothetical_contribs=hyp)
    local = (seq_start - origin).tolist()
    objs = track_set.create_seqlets(
        [core.Seqlet(example_idx=i, start=a, end=a + s.seqlet_length, is_revcomp=False) for i, a in enumerate(local)]
    )
    found = tfmodisco.seqlets_to_patterns(
        seqlets=objs,
        track_set=track_set,
        track_signs=sign,
        n_leiden_runs=s.n_leiden_runs,
        nearest_neighbors_to_compute=s.nearest_neighbors,
        final_min_cluster_size=s.final_min_cluster_size,
        min_ic_in_window=s.min_ic_in_window,
        min_ic_windowsize=s.min_ic_windowsize,
        **MODISCO_FIXED,
    )
    patterns = []
    for k, pat in enumerate(found or []):
        pid = f"{cluster}.{'pos' if sign > 0 else 'neg'}.{k}"
        patterns.append(
            _to_pattern(pat, pid, cluster, sign, seq_row, origin, contrib, s.trim_threshold, hypothetical.shape[2])
        )
    return patterns, stats


def start_modisco() -> None:
    """Start TF-MoDISco-lite as its own entry point does: fork the children that compile its
    numba kernels into numba's cache (a no-op after the first call, or where forking is not
    safe) and import its lazily imported dependencies. Call before any numba work."""
    import importlib

    from modiscolite import tfmodisco

    try:  # modisco-lite >= 3.0 only
        importlib.import_module("modiscolite.precompile").start()
    except ImportError:
        pass
    getattr(tfmodisco, "_import_dependencies", lambda: None)()


def _stable_hash(text: str) -> int:
    import zlib

    return zlib.crc32(str(text).encode())


def information_content(ppm: np.ndarray) -> np.ndarray:
    """``(w,)`` bits of each column of a ``(4, w)`` probability matrix against a uniform background."""
    p = np.clip(np.asarray(ppm, dtype=np.float64), 1e-12, 1.0)
    return 2.0 + (p * np.log2(p)).sum(axis=0)


def trim_span(ppm: np.ndarray, threshold: float) -> tuple[int, int]:
    """``[a, b)``: the columns of a ``(4, w)`` sequence matrix from the first to the last whose
    information content is at least ``threshold`` times the largest column's.

    TF-MoDISco's report trims by ``sum|CWM|`` instead; CR weighted features concentrate on one
    to three bases of a motif (on the simulated set the CWM of the NF-Y pattern passes 30 % of
    its maximum at one base while its sequence matrix carries > 0.5 bit over 8 bases), so the
    CWM rule cuts motifs to a few bases that Tomtom cannot match. Trimming by the sequence
    matrix keeps the bound site, which is what ``patterns.meme`` and Tomtom use.
    """
    ic = information_content(ppm)
    if ic.size == 0 or not np.any(ic > 0):
        return 0, int(ic.size)
    ok = np.flatnonzero(ic >= threshold * ic.max())
    return int(ok[0]), int(ok[-1]) + 1


def _to_pattern(
    pat, pid: str, cluster: str, sign: int, seq_row, origin, contrib: np.ndarray, trim: float, length: int
) -> Pattern:
    """A modiscolite SeqletSet as a :class:`Pattern` in gene coordinates."""
    cwm_full = np.asarray(pat.contrib_scores, dtype=np.float64).T  # (4, W)
    ppm_full = np.asarray(pat.sequence, dtype=np.float64).T
    ppm_full = ppm_full / np.clip(ppm_full.sum(axis=0, keepdims=True), 1e-12, None)
    a, b = trim_span(ppm_full, trim)
    ppm = ppm_full[:, a:b]
    hcwm = np.asarray(pat.hypothetical_contribs, dtype=np.float64).T[:, a:b]
    recs = []
    csum = np.concatenate(
        [np.zeros((len(contrib), 1)), np.cumsum(contrib.sum(axis=2), axis=1, dtype=np.float64)], axis=1
    )
    for q in pat.seqlets:
        i = int(q.example_idx)
        lo, hi = (q.start + a, q.start + b) if not q.is_revcomp else (q.end - b, q.end - a)
        lo_c, hi_c = max(lo, 0), min(hi, contrib.shape[1])
        val = csum[i, hi_c] - csum[i, lo_c] if hi_c > lo_c else 0.0
        g0 = int(origin[i])
        gs, ge = max(0, g0 + lo), min(length, g0 + hi)
        if ge <= gs:
            continue
        recs.append((int(seq_row[i]), gs, ge, "-" if q.is_revcomp else "+", val))
    sq = pd.DataFrame(recs, columns=["row", "start", "end", "strand", "contribution"])
    sq = (
        sq.drop_duplicates(["row", "start", "end", "strand"])
        .sort_values(["row", "start"], kind="stable")
        .reset_index(drop=True)
    )
    return Pattern(pid, cluster, SIGNS[sign], ppm, cwm_full[:, a:b], hcwm, sq)


def run_modisco(
    hypothetical: np.ndarray,
    sequences: np.ndarray,
    *,
    rows: np.ndarray | None,
    clusters: np.ndarray | None,
    settings: ModiscoSettings,
    hypothetical_path: str | Path | None,
    sequences_path: str | Path | None,
) -> tuple[list[Pattern], dict[str, Any]]:
    """De novo patterns of all genes and of each cluster, both signs.

    Parameters
    ----------
    hypothetical
        ``(n, 4, L)`` float16/float32 hypothetical contributions (a memmap).
    sequences
        ``(N, L)`` uint8 codes; ``rows`` ``(n,)`` maps hypothetical rows to them (``None``: same rows).
    clusters
        ``(n,)`` cluster label per gene, or ``None`` (all genes only).

    Returns the patterns (group ``all`` first, then clusters in sorted label order; positive
    before negative) and a summary dict (seqlet counts per group and sign).
    """
    rows = check_inputs(
        hypothetical,
        sequences,
        rows,
        clusters,
        None,
        hypothetical_path=hypothetical_path,
        sequences_path=sequences_path,
    )
    start_modisco()
    t0 = time.perf_counter()
    calls = call_seqlets(hypothetical, sequences, rows, settings=settings)
    call_s = time.perf_counter() - t0
    log.info(
        "called %d seqlets (%d positive, %d negative)",
        len(calls),
        int((calls["sign"] > 0).sum()),
        int((calls["sign"] < 0).sum()),
    )
    groups: list[tuple[str, np.ndarray | None]] = [(ALL, None)]
    if clusters is not None:
        labels = np.asarray(clusters).astype(str)
        for lab in sorted(set(labels), key=_label_key):
            groups.append((lab, np.flatnonzero(labels == lab)))
    patterns: list[Pattern] = []
    summary: dict[str, Any] = {
        "n_genes": int(len(rows)),
        "length": int(hypothetical.shape[2]),
        "seqlets_called": int(len(calls)),
        "seqlets_positive": int((calls["sign"] > 0).sum()),
        "seqlets_negative": int((calls["sign"] < 0).sum()),
        "call_seqlets_s": round(call_s, 1),
        "groups": {},
    }
    for name, members in groups:
        sel = calls if members is None else calls[np.isin(calls["row"].to_numpy(), members)]
        summary["groups"][name] = {"n_genes": int(len(rows) if members is None else len(members))}
        for sign in (1, -1):
            t0 = time.perf_counter()
            pats, st = find_patterns(
                hypothetical, sequences, rows, sel[sel["sign"] == sign], sign=sign, cluster=name, settings=settings
            )
            st["patterns"] = len(pats)
            st["seconds"] = round(time.perf_counter() - t0, 1)
            summary["groups"][name][SIGNS[sign]] = st
            log.info("group %s, %s: %d seqlets -> %d patterns", name, SIGNS[sign], st["seqlets_used"], len(pats))
            patterns.extend(pats)
    return patterns, summary


def _label_key(label: str) -> tuple[int, Any]:
    try:
        return (0, int(label))
    except ValueError:
        return (1, label)


# ----------------------------------------------------------------------------------------
# annotation


def annotate_patterns(
    patterns: Sequence[Pattern], motifs: Sequence[Motif], *, match_q_threshold: float
) -> pd.DataFrame:
    """Best Tomtom match of every pattern's (trimmed) sequence matrix in ``motifs``.

    Tomtom (memelite, through :func:`promoter_cr.seq.tomtom.tomtom_against`: the
    collection, plus JASPAR CORE vertebrates when it has fewer than 50 matrices, as targets)
    gives a p-value for each pattern against each motif of the collection; the q-values are
    Benjamini-Hochberg over that pattern's tests (Tomtom's own per-query q-value). The best
    match is the smallest p; ``novel`` when its q is not below ``match_q_threshold``.

    Returns one row per pattern: pattern_id, best_match_id, best_match_name, match_p_value,
    match_q_value, match_offset, match_strand (``+``/``-``: the match's orientation against
    the pattern; it starts at column ``-offset`` of the pattern), novel.
    """
    cols = MATCH_COLUMNS
    if not patterns:
        return pd.DataFrame(columns=cols)
    if not motifs:
        raise ValueError("annotate_patterns needs a non-empty motif collection")
    from promoter_cr.seq.tomtom import tomtom_against

    queries = [p.motif() for p in patterns]
    p, off, strand = (a.astype(np.float64) for a in tomtom_against(queries, list(motifs), list(motifs), keys=(0, 2, 4)))
    out = []
    for i, pat in enumerate(patterns):
        pi = np.where(np.isfinite(p[i]), p[i], np.nan)
        q = bh_qvalues(pi)
        if not np.isfinite(pi).any():
            out.append((pat.pattern_id, "", "", np.nan, np.nan, np.nan, "", True))
            continue
        j = int(np.nanargmin(pi))
        out.append(
            (
                pat.pattern_id,
                motifs[j].motif_id,
                motifs[j].name,
                float(pi[j]),
                float(q[j]),
                int(round(off[i, j])),
                "+" if int(round(strand[i, j])) == 0 else "-",
                not bool(q[j] < match_q_threshold),
            )
        )
    return pd.DataFrame(out, columns=cols)


# ----------------------------------------------------------------------------------------
# output tables


def pattern_table(patterns: Sequence[Pattern], annotation: pd.DataFrame) -> pd.DataFrame:
    """``patterns.tsv``: one row per pattern (:data:`PATTERN_COLUMNS`)."""
    base = pd.DataFrame(
        {
            "pattern_id": [p.pattern_id for p in patterns],
            "cluster": [p.cluster for p in patterns],
            "sign": [p.sign for p in patterns],
            "n_seqlets": [len(p.seqlets) for p in patterns],
            "n_genes": [int(p.seqlets["row"].nunique()) for p in patterns],
            "mean_contribution": [
                float(p.seqlets["contribution"].mean()) if len(p.seqlets) else np.nan for p in patterns
            ],
            "width": [p.width for p in patterns],
        }
    )
    if len(base) == 0:
        return pd.DataFrame(columns=PATTERN_COLUMNS)
    return base.merge(annotation, on="pattern_id", how="left")[PATTERN_COLUMNS]


def seqlet_table(patterns: Sequence[Pattern], gene_ids: np.ndarray) -> pd.DataFrame:
    """``seqlets.tsv``: gene, start, end, strand, pattern_id, contribution (every pattern's sites)."""
    frames = []
    for p in patterns:
        s = p.seqlets
        frames.append(
            pd.DataFrame(
                {
                    "gene": np.asarray(gene_ids)[s["row"].to_numpy(np.int64)],
                    "start": s["start"].to_numpy(),
                    "end": s["end"].to_numpy(),
                    "strand": s["strand"].to_numpy(),
                    "pattern_id": p.pattern_id,
                    "contribution": s["contribution"].to_numpy(),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=SEQLET_COLUMNS)
    return pd.concat(frames, ignore_index=True)[SEQLET_COLUMNS]


def meme_text(patterns: Sequence[Pattern], table: pd.DataFrame) -> str:
    """MEME v4 text of the patterns' sequence matrices: ``MOTIF <pattern_id> <best match name | novel>``."""
    label = (
        dict(
            zip(
                table["pattern_id"],
                np.where(table["novel"].astype(bool), "novel", table["best_match_name"].astype(str)),
            )
        )
        if len(table)
        else {}
    )
    return database_meme_text(
        (p.pattern_id, str(label.get(p.pattern_id, "novel")).replace(" ", "_") or "novel", p.ppm, len(p.seqlets))
        for p in patterns
    )
