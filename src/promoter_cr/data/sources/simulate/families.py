"""Motifs of a generated grammar: JASPAR matrices from distinct Tomtom families, and synthetic
matrices that match nothing in the collection.

*Candidates.* The JASPAR collection (``collection``, ``tax_group``; latest version of each base
id) filtered by width and total information content (bits, uniform background). The filter
keeps planted motifs recognisable at all: JASPAR vertebrates with under 8 bits or 6-7 columns
are FIMO-findable (p < 1e-4) in fewer than a quarter of the sites sampled from their own
matrix, while 8-20 columns and >= 10 bits give about 80 % (see :func:`information_content`).

*Distinct families.* Tomtom (memelite, via :func:`promoter_cr.seq.tomtom.tomtom_similarity`)
of every candidate against the whole collection as target set; two matrices are the same
family when ``p < tomtom_threshold`` in either direction. Motifs are drawn greedily from a
seeded permutation of the candidates, skipping any matrix similar to (or sharing a TF name,
heterodimer halves included, with) one already drawn.

*Synthetic motifs* (not in JASPAR): ``shuffle`` takes a random candidate, permutes its
columns and relabels its bases by a random non-identity permutation of ACGT (keeping its
width and information content); ``dirichlet`` draws each column from a symmetric Dirichlet
(``alpha``) with a width uniform in ``width``, redrawn until it has ``min_information``
bits. Either is redrawn until Tomtom finds no matrix of the collection (nor an earlier
synthetic motif) with ``p < tomtom_threshold``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence

import numpy as np

from promoter_cr.errors import ConfigError
from promoter_cr.seq.motifs import Motif, load_jaspar

#: how many synthetic matrices are tried before giving up
SYNTHETIC_TRIES = 200
#: id prefix of synthetic motifs (``SYN0001``...); never a JASPAR id
SYNTHETIC_PREFIX = "SYN"


def information_content(pwm: np.ndarray) -> float:
    """Total information content (bits, uniform background) of a ``(4, w)`` probability matrix."""
    p = np.clip(np.asarray(pwm, dtype=np.float64), 1e-12, 1.0)
    return float((2.0 + (p * np.log2(p)).sum(axis=0)).sum())


def load_collection(release: str, collection: str | None, tax_group: Sequence[str] | None) -> list[Motif]:
    """The JASPAR collection (latest version of each base id: JASPAR's non-redundant rule), sorted by id.

    Raises :class:`ConfigError` for an unknown release or an empty selection.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_jaspar(
                release=release,
                collection=collection,
                tax_group=list(tax_group) if tax_group else None,
                ids=None,
                non_redundant=True,
            )
    except Exception as exc:  # pyjaspar raises ValueError / AttributeError
        raise ConfigError(
            f"invalid config: dataset.simulate.generator.motifs: JASPAR {release} collection={collection} "
            f"tax_group={tax_group} could not be loaded: {exc}"
        ) from exc


def candidates(collection: Sequence[Motif], *, width: Sequence[int], min_information: float) -> list[Motif]:
    """Motifs of ``collection`` with ``width[0] <= w <= width[1]`` and at least ``min_information`` bits."""
    lo, hi = int(width[0]), int(width[1])
    return [m for m in collection if lo <= m.width <= hi and information_content(m.pwm) >= min_information]


def similarity(motifs: Sequence[Motif], collection: Sequence[Motif], threshold: float) -> np.ndarray:
    """``(M, M)`` bool: Tomtom p < ``threshold`` (either direction) with ``collection`` as target set."""
    from promoter_cr.seq.tomtom import tomtom_similarity

    return tomtom_similarity(list(motifs), list(collection), threshold)


def name_parts(name: str) -> set[str]:
    """Upper-case TF names of a JASPAR matrix name; a heterodimer ``A::B`` gives ``{A, B}``."""
    return {p.strip().upper() for p in name.split("::") if p.strip()}


@functools.lru_cache(maxsize=4)
def family_table(
    release: str,
    collection: str | None,
    tax_group: tuple[str, ...] | None,
    width: tuple[int, int],
    min_information: float,
    threshold: float,
) -> tuple[tuple[Motif, ...], tuple[Motif, ...], np.ndarray]:
    """``(collection, candidates, similar)``: :func:`load_collection`, :func:`candidates` and their
    ``(M, M)`` bool :func:`similarity`. Cached (JASPAR releases do not change; loading and the
    all-against-all Tomtom take about 3 s for JASPAR 2024 CORE vertebrates); treat as read-only."""
    coll = tuple(load_collection(release, collection, tax_group))
    cands = tuple(candidates(coll, width=width, min_information=min_information))
    similar = similarity(cands, coll, threshold) if cands else np.zeros((0, 0), bool)
    similar.setflags(write=False)
    return coll, cands, similar


def draw_distinct(motifs: Sequence[Motif], similar: np.ndarray, n: int, rng: np.random.Generator) -> list[Motif]:
    """``n`` motifs from pairwise distinct families, drawn greedily from a seeded permutation.

    ``similar`` is ``(M, M)`` bool over ``motifs`` (:func:`similarity`). Two motifs sharing a
    TF name (:func:`name_parts`: ETV5::HOXA2 and ETV5::FOXI1 share ETV5, which Tomtom does not
    see, p ~ 0.1) also count as one family. Raises :class:`ConfigError`
    when the candidates hold fewer than ``n`` distinct families.
    """
    chosen: list[int] = []
    names: set[str] = set()
    for i in rng.permutation(len(motifs)):
        if len(chosen) == n:
            break
        parts = name_parts(motifs[i].name)
        if parts & names or any(similar[i, j] for j in chosen):
            continue
        chosen.append(int(i))
        names |= parts
    if len(chosen) < n:
        raise ConfigError(
            f"invalid config: dataset.simulate.generator.motifs: only {len(chosen)} distinct Tomtom families among "
            f"{len(motifs)} candidate matrices, {n} needed; widen 'width', "
            f"lower 'min_information' or raise 'tomtom_threshold'"
        )
    return [motifs[i] for i in chosen]


def collection_pvalues(queries: Sequence[Motif], collection: Sequence[Motif]) -> np.ndarray:
    """``(Q, C)`` Tomtom p-values of ``queries`` against every matrix of ``collection`` (also the target set)."""
    from promoter_cr.seq.tomtom import tomtom_against

    (p,) = tomtom_against(list(queries), list(collection), list(collection))
    return np.asarray(p, dtype=np.float64)


def _shuffled(source: Motif, rng: np.random.Generator) -> np.ndarray:
    perm = rng.permutation(4)
    while (perm == np.arange(4)).all():
        perm = rng.permutation(4)
    return source.pwm[perm][:, rng.permutation(source.width)].copy()


def _dirichlet(width: Sequence[int], alpha: float, min_information: float, rng: np.random.Generator) -> np.ndarray:
    for _ in range(SYNTHETIC_TRIES):
        w = int(rng.integers(int(width[0]), int(width[1]) + 1))
        pwm = rng.dirichlet(np.full(4, float(alpha)), size=w).T  # (4, w)
        if information_content(pwm) >= min_information:
            return pwm
    raise ConfigError(
        f"invalid config: dataset.simulate.generator.synthetic: Dirichlet "
        f"matrices (alpha {alpha}, width {list(width)}) "
        f"almost never reach {min_information} bits; lower 'dirichlet_alpha' or widen 'width'"
    )


def synthetic_motifs(
    n: int,
    *,
    method: str,
    sources: Sequence[Motif],
    collection: Sequence[Motif],
    threshold: float,
    width: Sequence[int],
    alpha: float,
    min_information: float,
    rng: np.random.Generator,
) -> list[tuple[Motif, str]]:
    """``n`` synthetic motifs that match no matrix of ``collection`` nor each other (Tomtom p >= ``threshold``).

    Returns ``(motif, provenance)`` pairs; ids ``SYN0001``..., provenance e.g.
    ``"shuffle of MA0079.5"`` or ``"dirichlet alpha 0.3"``.
    """
    out: list[tuple[Motif, str]] = []
    for k in range(n):
        for _ in range(SYNTHETIC_TRIES):
            if method == "shuffle":
                src = sources[int(rng.integers(len(sources)))]
                pwm, how = _shuffled(src, rng), f"shuffle of {src.motif_id}"
            elif method == "dirichlet":
                pwm, how = _dirichlet(width, alpha, min_information, rng), f"dirichlet alpha {alpha:g}"
            else:
                raise ConfigError(
                    f"invalid config: key "
                    f"'dataset.simulate.generator.synthetic.method': {method!r} (allowed shuffle, dirichlet)"
                )
            mid = f"{SYNTHETIC_PREFIX}{k + 1:04d}"
            cand = Motif(mid, f"synthetic_{k + 1}", pwm)
            targets = list(collection) + [m for m, _ in out]
            if (collection_pvalues([cand], targets) >= threshold).all():
                out.append((cand, how))
                break
        else:
            raise ConfigError(
                f"invalid config: dataset.simulate.generator.synthetic: no {method} matrix unlike every JASPAR matrix "
                f"(Tomtom p >= {threshold}) in {SYNTHETIC_TRIES} tries"
            )
    return out
