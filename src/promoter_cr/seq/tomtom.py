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


#: two groups of matrices join one family only when more than this fraction of their cross pairs match
FAMILY_MIN_MATCHING = 0.5


def families_from_similarity(sim: np.ndarray, min_matching: float = FAMILY_MIN_MATCHING) -> np.ndarray:
    """``(M,)`` int64 family of each matrix from a ``(M, M)`` bool match matrix, by average linkage.

    Families are the groups of average-linkage (UPGMA) clustering of the match/no-match distance
    ``1 - sim``, cut so that two groups join only when more than ``min_matching`` of their cross
    pairs match (a chain A~B~C with A and C unrelated stays two families: half of its cross pairs
    match; ties between equally matching pairs are broken by how many matches the two share, plus
    at most 0.001). Why not single linkage (connected components): one matrix that matches two unrelated
    families (a composite or a long zinc-finger matrix) chains them into one, so an ETS and an
    E-box family, or PAX5 and the E-box, become one "family" and one call stands for two planted
    motifs. Why not complete linkage: Tomtom misses some pairs inside a true family (a short and a
    long member, a half-site), and one miss would split the family. Labels are numbered by the
    first member of each family in input order.
    """
    m = sim.shape[0]
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    if m == 1:
        return np.zeros(1, dtype=np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    match = np.asarray(sim, dtype=bool)
    match = match | match.T
    np.fill_diagonal(match, True)
    # ties (many pairs at distance 0) are broken by shared matches: two matrices that match the
    # same others join first, so a bridge matrix cannot pull one member out of its family
    nb = match.astype(np.float64)
    inter = nb @ nb.T
    union = nb.sum(1)[:, None] + nb.sum(1)[None, :] - inter
    dist = (1.0 - nb) + 1e-3 * (1.0 - inter / union)
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), method="average")
    # merge heights are mean cross distances; "more than min_matching match" is "height < 1 - min_matching"
    raw = fcluster(tree, t=np.nextafter(1.0 - float(min_matching), -np.inf), criterion="distance")
    order: dict[int, int] = {}
    return np.array([order.setdefault(int(r), len(order)) for r in raw], dtype=np.int64)


def motif_families(motifs: Sequence, background: Sequence, threshold: float) -> np.ndarray:
    """``(M,)`` int64 family of each motif: average-linkage groups of Tomtom matches (p < ``threshold``),
    see :func:`families_from_similarity`."""
    if len(motifs) == 0:
        return np.zeros(0, dtype=np.int64)
    return families_from_similarity(tomtom_similarity(list(motifs), list(background), threshold))
