"""Scrubbing: background matches of the planted motifs are resampled away, so the functional
instances are exactly the recorded plants."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from promoter_cr.data.sources.simulate.background import resample_positions, sample_chain
from promoter_cr.data.sources.simulate.design import CLASS_TEMPLATES
from promoter_cr.data.sources.simulate.scoring import scan_scores, score_threshold
from promoter_cr.seq.motifs import Motif

log = logging.getLogger(__name__)


def _overlaps(mask: np.ndarray, w: int) -> np.ndarray:
    """``(N, L - w + 1)`` bool: window ``i`` of width ``w`` touches a True of ``mask`` ``(N, L)``."""
    cs = np.zeros((mask.shape[0], mask.shape[1] + 1), dtype=np.int32)
    cs[:, 1:] = np.cumsum(mask, axis=1)
    n_win = mask.shape[1] - w + 1
    return (cs[:, w : w + n_win] - cs[:, :n_win]) > 0


def stray_matches(
    codes: np.ndarray, plants: Sequence[Sequence[dict[str, Any]]], motifs: dict[str, Motif], p_value: float
) -> list[tuple[int, str, int, str]]:
    """Matches (FIMO p < ``p_value``) of the planted motifs that overlap no plant of the same motif.

    ``codes`` ``(N, L)`` uint8, ``plants`` one list per row. Returns ``(row, motif_id, start, strand)``.
    """
    own = {m: np.zeros(codes.shape, dtype=bool) for m in motifs}
    for r, ps in enumerate(plants):
        for p in ps:
            if p["motif_id"] in own:
                own[p["motif_id"]][r, p["start"] : p["end"]] = True
    out = []
    for mid, m in motifs.items():
        thr = score_threshold(m.pwm, p_value)
        for strand, pwm in (("+", m.pwm), ("-", m.reverse_complement())):
            hit = (scan_scores(codes, pwm) >= thr) & ~_overlaps(own[mid], m.width)
            out += [(int(r), mid, int(i), strand) for r, i in zip(*np.nonzero(hit))]
    return out


def scrub(
    codes, plants, classes, motifs, p_value, zones, chains, maker, rng_bg, rng_scrub, max_rounds: int = 60
) -> None:
    """Remove stray matches of the planted motifs (see :func:`stray_matches`) in place.

    A stray match is resampled where it covers background bases; a gene whose stray match
    lies entirely on planted bases, or that is still dirty after 10 rounds, is regenerated.
    """
    N, L = codes.shape
    plant_mask = np.zeros((N, L), dtype=bool)
    for r, ps in enumerate(plants):
        for p in ps:
            plant_mask[r, p["start"] : p["end"]] = True
    rows = np.arange(N)
    dirty_rounds = np.zeros(N, dtype=np.int64)
    n_resampled = n_regenerated = 0
    for rnd in range(max_rounds):
        sub = codes[rows]
        stray = stray_matches(sub, [plants[r] for r in rows], motifs, p_value)
        if not stray:
            log.info(
                "scrub: clean after %d round(s); %d stray matches resampled, %d genes regenerated",
                rnd,
                n_resampled,
                n_regenerated,
            )
            return
        bad = np.zeros(sub.shape, dtype=bool)
        regen: set[int] = set()
        for r, mid, i, _ in stray:
            w = motifs[mid].width
            free = ~plant_mask[rows[r], i : i + w]
            if free.any():
                bad[r, i : i + w] |= free
            else:
                regen.add(int(rows[r]))
        touched = np.unique(rows[[r for r, *_ in stray]])
        dirty_rounds[touched] += 1
        regen |= set(touched[dirty_rounds[touched] > 10].tolist())
        regen_arr = np.array(sorted(regen), dtype=np.int64)
        keep = ~np.isin(rows, regen_arr)
        resample_positions(sub, bad & keep[:, None], zones, chains, rng_scrub)
        codes[rows] = sub
        n_resampled += len(stray)
        for r in regen_arr:
            codes[r] = sample_chain(1, zones, chains, rng_bg)[0]
            plants[r] = maker.make(CLASS_TEMPLATES[classes[r]][1], codes[r])
            plant_mask[r] = False
            for p in plants[r]:
                plant_mask[r, p["start"] : p["end"]] = True
            dirty_rounds[r] = 0
        n_regenerated += len(regen_arr)
        rows = touched
    raise RuntimeError(
        f"scrubbing stray motif matches did not converge in {max_rounds} "
        f"rounds; raise dataset.simulate.scrub_p or lower gc"
    )
