"""Tomtom (memelite) comparisons of motif matrices, with a background large enough to be its own null.

Tomtom's p-values come from the columns of its target set, so the targets are always a whole
motif collection: the motif set at hand, plus the default JASPAR collection when that set is
too small. Used to merge redundant matrices into families (co-occurrence nodes, recovery
scoring), to annotate de novo patterns and to pick distinct families in the simulator.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

log = logging.getLogger(__name__)

MIN_TOMTOM_TARGETS = 50


def tomtom_background(motifs: Sequence) -> list:
    """Targets for Tomtom: ``motifs``, plus JASPAR 2024 CORE vertebrates when fewer than
    :data:`MIN_TOMTOM_TARGETS` (Tomtom's null comes from the target columns, and MEME's tomtom
    warns below 50 targets). Falls back to ``motifs`` alone if JASPAR cannot be loaded."""
    motifs = list(motifs)
    if len(motifs) >= MIN_TOMTOM_TARGETS:
        return motifs
    try:
        from promoter_cr.seq.motifs import default_collection

        have = {m.motif_id for m in motifs}
        return motifs + [m for m in default_collection() if m.motif_id not in have]
    except Exception as exc:  # pragma: no cover - pyjaspar ships its databases
        log.warning("Tomtom background limited to %d motifs (JASPAR unavailable: %s)", len(motifs), exc)
        return motifs


def tomtom_against(
    queries: Sequence, columns: Sequence, background: Sequence, keys: Sequence[int] = (0,)
) -> list[np.ndarray]:
    """Tomtom of ``queries`` against the background motif set, kept at the ``columns`` motifs.

    Tomtom's background is built from its targets, so the targets are the whole motif set
    (:func:`tomtom_background` of ``background``, with any of ``columns`` added when absent).
    Returns, for each index in ``keys`` of memelite's output (0 p-values, 2 offsets,
    4 strands), a ``(Q, C)`` array.
    """
    import warnings

    import memelite

    targets = tomtom_background(background)
    pos = {t.motif_id: i for i, t in enumerate(targets)}
    for mo in columns:
        if mo.motif_id not in pos:
            pos[mo.motif_id] = len(targets)
            targets.append(mo)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = memelite.tomtom([q.pwm for q in queries], [t.pwm for t in targets])
    cols = np.array([pos[mo.motif_id] for mo in columns])
    return [np.asarray(res[k])[:, cols] for k in keys]


def tomtom_similarity(motifs_sel: Sequence, motifs_all: Sequence, threshold: float) -> np.ndarray:
    """``(M, M)`` bool: Tomtom p < ``threshold`` between motifs (either direction; diagonal True).

    Every motif is compared with the whole motif set (``motifs_all``) as Tomtom's background.
    """
    if len(motifs_sel) == 0:
        return np.zeros((0, 0), bool)
    (pp,) = tomtom_against(motifs_sel, motifs_sel, motifs_all)
    sim = (pp < threshold) | (pp.T < threshold)
    np.fill_diagonal(sim, True)
    return sim


def motif_families(motifs: Sequence, background: Sequence, threshold: float) -> np.ndarray:
    """``(M,)`` int64 family of each motif: connected components of Tomtom similarity (p < ``threshold``)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    if len(motifs) == 0:
        return np.zeros(0, dtype=np.int64)
    sim = tomtom_similarity(list(motifs), list(background), threshold)
    _, labels = connected_components(csr_matrix(sim), directed=False)
    return labels.astype(np.int64)
