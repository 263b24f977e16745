"""FIMO (memelite) over ``(B, L)`` uint8 codes on both strands: the one motif-scanning kernel.

Arrays in, flat hit arrays out (:class:`BatchHits`); the motif stage
(:mod:`promoter_cr.motifs.scan`), variant scoring and the install warm-up all scan through
:func:`scan_codes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from promoter_cr.seq.motifs import Motif


@dataclass
class BatchHits:
    """Hits of one gene batch as flat arrays (one entry per hit).

    ``gene`` is the row index inside the batch (int64), ``motif`` the index into the motif
    list (int64), ``start``/``end`` int64 forward-strand coordinates (end exclusive),
    ``minus`` bool (reverse-complement match), ``score``/``p_value`` float64.
    """

    gene: np.ndarray
    motif: np.ndarray
    start: np.ndarray
    end: np.ndarray
    minus: np.ndarray
    score: np.ndarray
    p_value: np.ndarray

    def __len__(self) -> int:
        return int(self.gene.shape[0])


def scan_codes(codes: np.ndarray, motifs: Sequence[Motif], threshold: float) -> BatchHits:
    """Scan ``(B, L)`` uint8 codes (A=0 C=1 G=2 T=3 N=4) with FIMO on both strands.

    Returns a :class:`BatchHits`; N positions score 0 in every motif column.
    """
    import memelite

    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be (B, L), got shape {codes.shape}")
    if len(motifs) == 0:
        raise ValueError("no motifs to scan")
    ids = [m.motif_id for m in motifs]
    if len(set(ids)) != len(ids):
        dup = pd.Series(ids)[pd.Series(ids).duplicated()].iloc[0]
        raise ValueError(f"duplicate motif id {dup!r} in the motif set")
    eye = np.concatenate([np.eye(4, dtype=bool), np.zeros((1, 4), dtype=bool)])
    x = np.ascontiguousarray(np.moveaxis(eye[codes], -1, -2))  # (B, 4, L) bool
    pwms = {m.motif_id: np.asarray(m.pwm, dtype=np.float64) for m in motifs}
    frames = memelite.fimo(pwms, x, threshold=threshold, reverse_complement=True, dim=0)
    counts = np.array([len(f) for f in frames], dtype=np.int64)
    if counts.sum() == 0:
        z = np.zeros(0, dtype=np.int64)
        return BatchHits(z, z.copy(), z.copy(), z.copy(), np.zeros(0, bool), np.zeros(0), np.zeros(0))
    df = pd.concat([f for f in frames if len(f)], ignore_index=True)
    return BatchHits(
        gene=df["sequence_name"].to_numpy(dtype=np.int64),
        motif=np.repeat(np.arange(len(motifs), dtype=np.int64), counts),
        start=df["start"].to_numpy(dtype=np.int64),
        end=df["end"].to_numpy(dtype=np.int64),
        minus=df["strand"].to_numpy(dtype=object) == "-",
        score=df["score"].to_numpy(dtype=np.float64),
        p_value=df["p-value"].to_numpy(dtype=np.float64),
    )
