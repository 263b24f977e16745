"""Planted-grammar simulator: the embedded default data set (``dataset.source: simulate``).

Every gene is a promoter window of ``length`` bp with the TSS at ``tss_index``. Its sequence
is background DNA with planted JASPAR motif instances, and its label is a known function of
what was planted, plus Gaussian noise. The complete truth goes to ``ground_truth.json`` so
later stages can score how well they recover motifs, classes, cooperating pairs and spacings.

Background
----------
A strand-symmetric first-order Markov chain whose stationary base composition has GC
fraction ``gc`` and whose CpG observed/expected ratio is ``cpg_ratio``. The dinucleotide
table starts from independence, ``D[x, y] = pi_x pi_y``, and moves ``d = (1 - r) pi_C pi_G``
from CpG and TpA to CpA and TpG (the products of CpG deamination), which keeps both margins
at ``pi``; the transitions are ``D[x, y] / pi_x``. A CpG-island-like stretch around the TSS
(``island``, bp relative to the TSS) uses ``island_gc`` / ``island_cpg_ratio`` instead.

Planted sites
-------------
A site is sampled column by column from the motif's JASPAR matrix raised to the power
``sharpen`` (renormalised), and redrawn until its FIMO p-value (memelite's scoring:
log2((p + 1e-4) / 0.25), 0.1-bit score bins, uniform background) is below ``site_p`` and it
holds no match (p < ``scrub_p``, either strand) to another planted motif, so FIMO at
``site_p`` finds every planted site. Strand is random for activators, repressors and single
decoy halves (a ``-`` site is the reverse complement written at ``start..end``); pairs follow
their ``orientation``. Sites never overlap and separate elements keep ``MIN_GAP`` bp apart.

Classes (``n_classes``, balanced sizes; class ``c`` uses template ``c`` of :data:`CLASS_TEMPLATES`)
-----------------------------------------------------------------------------------------------
Regions, relative to the TSS (for windows with at least 400 bp upstream and 200 bp downstream;
shorter windows pull the region centres towards the TSS, widths fixed):

0. ``proximal_activation``: 2 activator sites (each drawn uniformly from ``activators``),
   in the proximal region -55..-15.
1. ``repressed``: 2 repressor sites (each drawn from ``repressors``) in the upstream region
   -295..-235.
2. ``cooperative``: one cooperating pair (drawn from ``pairs``) at its exact spacing and
   orientation, inside the mid region -175..-135.
3. ``basal``: no functional element.
4. ``proximal_activation+cooperative``, 5. ``proximal_activation+repressed``,
   6. ``repressed+cooperative``, 7. ``proximal_activation+repressed+cooperative``: the elements
   of the named classes, each in its own region; used only when ``n_classes`` > 4 (at most 8).
   With ``n_classes`` < 4 the first templates are used (2: proximal activation and repressed,
   the pairs then appear only as decoys; 3: adds cooperative).

The regions are compact (40-60 bp) and the site counts fixed so that each class has one
homogeneous attribution profile: k-means on smoothed, binned ideal tracks recovers the
classes exactly (see ``benchmarks/simulate_validation.py``).

Every gene, whatever its class, also carries ``n_decoys`` (uniform in the inclusive range)
decoy elements anywhere in the window: a pair's ``a`` half alone, its ``b`` half alone, both
halves at a wrong spacing (the true spacing +-2..20 bp, same orientation), or both at the true
spacing in another orientation. Decoys have role ``decoy``, ``active: false`` and no effect, so
a model must learn cooperativity, and spacing analyses have a real null.

Label (raw, not standardised; ``ground_truth.json`` holds the same units)
--------------------------------------------------------------------------
``label = sum(activator effects) + sum(repressor effects) + sum(pair effects) + N(0, noise_sd)``
where every planted activator site adds ``+activator_effect``, every repressor site adds
``-repressor_effect`` and a pair adds its ``effect`` only when a site of ``a`` and a site of
``b`` sit at exactly ``start_b - start_a == spacing`` with strands ``orientation`` (forward
coordinates of the promoter; a promoter is oriented, so the reverse-complemented arrangement
does not count). :func:`planted_function` evaluates this from the ground truth alone.

Nothing else carries signal: after planting, background matches to any planted motif with
FIMO p < ``scrub_p`` that do not overlap a plant of that motif are resampled away (or the
gene is regenerated), so the functional instances are exactly the recorded plants, and
decoys are placed so that they never complete a functional pair by accident.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.atomic import write_json
from promoter_cr.data.dataset import assign_split, write_dataset
from promoter_cr.data.encoding import reverse_complement_codes
from promoter_cr.errors import ConfigError
from promoter_cr.motifs.database import Motif, load_jaspar

log = logging.getLogger(__name__)

GROUND_TRUTH = "ground_truth.json"

#: class templates in class-id order: (name, elements); element kinds: activators, repressors, pair
CLASS_TEMPLATES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("proximal_activation", ("activators",)),
    ("repressed", ("repressors",)),
    ("cooperative", ("pair",)),
    ("basal", ()),
    ("proximal_activation+cooperative", ("activators", "pair")),
    ("proximal_activation+repressed", ("activators", "repressors")),
    ("repressed+cooperative", ("repressors", "pair")),
    ("proximal_activation+repressed+cooperative", ("activators", "repressors", "pair")),
)
MAX_CLASSES = len(CLASS_TEMPLATES)

#: element regions: (centre, width) in bp relative to the TSS. Widths are fixed; centres are
#: scaled towards the TSS when the window has less than REFERENCE_UPSTREAM bp upstream (or
#: REFERENCE_DOWNSTREAM bp downstream) of the TSS. Decoys go anywhere in the window.
REFERENCE_UPSTREAM = 400
REFERENCE_DOWNSTREAM = 200
REFERENCE_REGIONS: dict[str, tuple[int, int]] = {
    "repressors": (-265, 60),
    "pair": (-155, 40),
    "activators": (-35, 40),
}
#: sites per element kind (inclusive range) in a gene whose class has that kind. Fixed counts
#: and compact regions keep each class's attribution profile homogeneous (k-means on binned
#: ideal tracks: ARI 1.0 and the silhouette peaks at the true k; 110-150 bp regions with 1-3
#: sites gave ARI 0.63 and a silhouette rising to k = 8).
N_SITES: dict[str, tuple[int, int]] = {"activators": (2, 2), "repressors": (2, 2), "pair": (1, 1)}
#: minimum number of free bases between two separately placed elements
MIN_GAP = 2
#: decoy kinds and their probabilities
DECOY_KINDS: tuple[tuple[str, float], ...] = (("half_a", 0.35), ("half_b", 0.35), ("wrong_spacing", 0.2), ("wrong_orientation", 0.1))
#: wrong spacings of decoy pairs differ from the true one by 2..DECOY_MAX_SHIFT bp
DECOY_MIN_SHIFT = 2
DECOY_MAX_SHIFT = 20

# FIMO scoring as in memelite.fimo
_FIMO_EPS = 1e-4
_FIMO_BIN = 0.1
_BASE_A, _BASE_C, _BASE_G, _BASE_T = 0, 1, 2, 3


# --------------------------------------------------------------------------- background


def markov_chain(gc: float, cpg_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Strand-symmetric first-order Markov chain with GC fraction ``gc`` and CpG o/e ``cpg_ratio``.

    Returns
    -------
    pi
        ``(4,)`` float64 stationary composition (ACGT).
    trans
        ``(4, 4)`` float64 transitions ``P(next = y | current = x)``; rows sum to 1 and
        ``pi @ trans == pi``.

    Raises :class:`ConfigError` when no such chain exists (a CpG excess too large for ``gc``).
    """
    pi = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    dinuc = np.outer(pi, pi)
    d = (1.0 - cpg_ratio) * pi[_BASE_C] * pi[_BASE_G]
    dinuc[_BASE_C, _BASE_G] -= d
    dinuc[_BASE_T, _BASE_A] -= d
    dinuc[_BASE_C, _BASE_A] += d
    dinuc[_BASE_T, _BASE_G] += d
    if (dinuc < 0).any():
        raise ConfigError(f"invalid config: dataset.simulate: no Markov chain has GC fraction {gc} and CpG observed/expected {cpg_ratio}")
    return pi, dinuc / pi[:, None]


def composition(codes: np.ndarray) -> dict[str, float]:
    """GC fraction and CpG observed/expected ratio of ``(N, L)`` or ``(L,)`` uint8 codes (N bases ignored).

    CpG o/e = (CpG count / dinucleotide count) / (C fraction * G fraction).
    """
    codes = np.atleast_2d(np.asarray(codes))
    valid = codes < 4
    n = valid.sum()
    c = (codes == _BASE_C).sum() / n
    g = (codes == _BASE_G).sum() / n
    pairs = valid[:, :-1] & valid[:, 1:]
    cg = ((codes[:, :-1] == _BASE_C) & (codes[:, 1:] == _BASE_G)).sum() / max(int(pairs.sum()), 1)
    return {"gc": float(c + g), "cpg_ratio": float(cg / (c * g)) if c * g > 0 else float("nan")}


def _sample_chain(n: int, zones: np.ndarray, chains: Sequence[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator) -> np.ndarray:
    """Sample ``(n, L)`` uint8 codes; position ``j`` uses chain ``zones[j]`` (``(L,)`` int)."""
    L = len(zones)
    cum_pi = [np.cumsum(p) for p, _ in chains]
    cum_t = [np.cumsum(t, axis=1) for _, t in chains]
    u = rng.random((n, L))
    out = np.empty((n, L), dtype=np.uint8)
    out[:, 0] = (u[:, :1] > cum_pi[zones[0]][None, :]).sum(1)
    for j in range(1, L):
        cum = cum_t[zones[j]][out[:, j - 1]]  # (n, 4)
        out[:, j] = (u[:, j : j + 1] > cum).sum(1)
    np.minimum(out, 3, out=out)  # guard against cum[-1] rounding below 1
    return out


def _resample_positions(codes: np.ndarray, mask: np.ndarray, zones: np.ndarray, chains, rng: np.random.Generator) -> None:
    """Redraw ``codes[mask]`` in place from the chain, left to right, conditioned on the left neighbour.

    ``codes`` ``(N, L)`` uint8, ``mask`` ``(N, L)`` bool.
    """
    cum_pi = [np.cumsum(p) for p, _ in chains]
    cum_t = [np.cumsum(t, axis=1) for _, t in chains]
    for j in np.flatnonzero(mask.any(axis=0)):
        rows = np.flatnonzero(mask[:, j])
        u = rng.random(len(rows))[:, None]
        if j == 0:
            cum = np.broadcast_to(cum_pi[zones[0]], (len(rows), 4))
        else:
            cum = cum_t[zones[j]][codes[rows, j - 1]]
        codes[rows, j] = np.minimum((u > cum).sum(1), 3)


# --------------------------------------------------------------------------- FIMO-compatible scoring


def log_odds(pwm: np.ndarray) -> np.ndarray:
    """FIMO log-odds of a ``(4, w)`` probability matrix against a uniform background, as memelite: ``(4, w)``."""
    return np.log2(pwm + _FIMO_EPS) - math.log2(0.25)


def score_threshold(pwm: np.ndarray, p_value: float) -> float:
    """Smallest score whose p-value (uniform background, memelite's 0.1-bit bins) is below ``p_value``.

    Returns ``inf`` when no score reaches it.
    """
    lo = np.round(log_odds(pwm) / _FIMO_BIN).astype(np.int64)  # (4, w)
    offset = int(lo.min(axis=0).sum())
    dist = np.array([1.0])
    for col in lo.T:
        c = col - col.min()
        kernel = np.zeros(int(c.max()) + 1)
        np.add.at(kernel, c, 0.25)
        dist = np.convolve(dist, kernel)
    sf = np.cumsum(dist[::-1])[::-1]  # P(score >= bin)
    ok = np.flatnonzero(sf < p_value)
    if len(ok) == 0:
        return float("inf")
    return float((ok[0] + offset) * _FIMO_BIN)


def scan_scores(codes: np.ndarray, pwm: np.ndarray) -> np.ndarray:
    """FIMO scores of every window of ``codes`` ``(N, L)`` uint8 under ``pwm`` ``(4, w)``.

    Returns ``(N, L - w + 1)`` float64; window ``i`` covers ``codes[:, i:i + w]``; N bases score 0.
    For the reverse strand pass the reverse-complement matrix (the window start is unchanged).
    """
    lo = log_odds(pwm)
    w = lo.shape[1]
    table = np.vstack([lo, np.zeros((1, w))])  # (5, w)
    n_win = codes.shape[1] - w + 1
    out = np.zeros((codes.shape[0], n_win))
    for j in range(w):
        out += table[codes[:, j : j + n_win], j]
    return out


def _site_scores(sites: np.ndarray, pwm: np.ndarray) -> np.ndarray:
    """FIMO scores of ``(n, w)`` site codes in motif orientation: ``(n,)``."""
    lo = log_odds(pwm)
    return lo[sites, np.arange(sites.shape[1])[None, :]].sum(1)


class _SitePool:
    """Sites of one motif sampled from its sharpened matrix, redrawn until FIMO p < ``site_p``."""

    def __init__(
        self,
        motif: Motif,
        sharpen: float,
        site_p: float | None,
        rng: np.random.Generator,
        avoid: Sequence[tuple[np.ndarray, float]] = (),
    ):
        self.motif = motif
        # (matrix, score threshold) of other planted motifs a site must not contain (either strand)
        self.avoid = [(pwm, thr) for pwm, thr in avoid if pwm.shape[1] <= motif.width]
        probs = motif.pwm**sharpen
        self.cum = np.cumsum(probs / probs.sum(axis=0, keepdims=True), axis=0).T  # (w, 4)
        self.threshold = -np.inf if site_p is None else score_threshold(motif.pwm, site_p) + 1e-9
        best = float(log_odds(motif.pwm).max(axis=0).sum())
        if best < self.threshold:
            raise ConfigError(f"invalid config: dataset.simulate.site_p: motif {motif.motif_id} ({motif.name}) cannot reach p < {site_p}")
        self.rng = rng
        self._buf: list[np.ndarray] = []

    def _refill(self, n: int = 256) -> None:
        for _ in range(1000):
            u = self.rng.random((n, len(self.cum)))
            sites = (u[:, :, None] > self.cum[None]).sum(2).astype(np.uint8)
            np.minimum(sites, 3, out=sites)
            ok = _site_scores(sites, self.motif.pwm) >= self.threshold
            for pwm, thr in self.avoid:
                for mat in (pwm, pwm[::-1, ::-1]):
                    ok &= ~(scan_scores(sites, mat) >= thr).any(axis=1)
            keep = sites[ok]
            if len(keep):
                self._buf.extend(keep)
                return
        raise ConfigError(
            f"invalid config: dataset.simulate: sites of {self.motif.motif_id} ({self.motif.name}) almost never reach "
            "site_p; raise sharpen or site_p"
        )

    def draw(self) -> np.ndarray:
        """One site, ``(w,)`` uint8 codes in motif orientation."""
        if not self._buf:
            self._refill()
        return self._buf.pop()


# --------------------------------------------------------------------------- geometry and config


def resolve_geometry(sim_cfg: dict[str, Any]) -> tuple[int, int]:
    """``(length, tss_index)``; the TSS defaults to ``round(2 * length / 3)``."""
    L = int(sim_cfg["length"])
    tss = sim_cfg.get("tss_index")
    tss = int(round(2 * L / 3)) if tss is None else int(tss)
    if not 0 < tss < L:
        raise ConfigError(f"invalid config: key 'dataset.simulate.tss_index': {tss} must lie inside the window (1..{L - 1})")
    return L, tss


def class_regions(length: int, tss_index: int) -> dict[str, tuple[int, int]]:
    """Absolute ``[start, end)`` window positions of each element region and of ``decoys`` (the whole window).

    Regions have the widths of :data:`REFERENCE_REGIONS`; their centres are scaled by
    ``min(1, tss_index / 400)`` upstream and ``min(1, (length - tss_index) / 200)`` downstream.
    """
    up = min(1.0, tss_index / REFERENCE_UPSTREAM)
    down = min(1.0, (length - tss_index) / REFERENCE_DOWNSTREAM)
    out = {}
    for kind, (centre, width) in REFERENCE_REGIONS.items():
        c = tss_index + centre * (up if centre < 0 else down)
        a = int(round(c - width / 2))
        out[kind] = (max(a, 0), min(a + width, length))
    out["decoys"] = (0, length)
    return out


def class_definitions(sim_cfg: dict[str, Any], motifs: dict[str, Motif]) -> list[dict[str, Any]]:
    """The ``classes`` entries of the ground truth: class id, name, description (with regions)."""
    L, tss = resolve_geometry(sim_cfg)
    regions = class_regions(L, tss)

    def rel(kind: str) -> str:
        a, b = regions[kind]
        return f"{a - tss:+d}..{b - tss:+d} bp from the TSS (window {a}..{b})"

    def names(ids: Iterable[str]) -> str:
        return ", ".join(f"{motifs[i].name} {i}" for i in ids)

    def count(kind: str) -> str:
        lo, hi = N_SITES[kind]
        return f"{lo}" if lo == hi else f"{lo}-{hi}"

    parts = {
        "activators": lambda: f"{count('activators')} activator sites (each one of {names(sim_cfg['activators'])}; "
        f"+{sim_cfg['activator_effect']:g} each) at {rel('activators')}",
        "repressors": lambda: f"{count('repressors')} repressor sites (each one of {names(sim_cfg['repressors'])}; "
        f"-{sim_cfg['repressor_effect']:g} each) at {rel('repressors')}",
        "pair": lambda: "one cooperating pair ("
        + "; ".join(f"{motifs[p['a']].name}-{motifs[p['b']].name} spacing {p['spacing']} {p.get('orientation', '++')} +{p.get('effect', 1.5):g}" for p in sim_cfg["pairs"])
        + f") at {rel('pair')}",
    }
    out = []
    for c in range(int(sim_cfg["n_classes"])):
        name, kinds = CLASS_TEMPLATES[c]
        desc = "; ".join(parts[k]() for k in kinds) if kinds else "no functional element"
        out.append({"class": c, "name": name, "description": desc + "; plus decoys (pair halves alone or misarranged, no effect)"})
    return out


def motif_ids(sim_cfg: dict[str, Any]) -> list[str]:
    """All JASPAR ids the simulator plants, in config order, without repeats."""
    ids = list(sim_cfg.get("activators", [])) + list(sim_cfg.get("repressors", []))
    for p in sim_cfg.get("pairs", []):
        ids += [p["a"], p["b"]]
    return list(dict.fromkeys(ids))


def load_simulation_motifs(sim_cfg: dict[str, Any]) -> dict[str, Motif]:
    """The planted motifs from the bundled JASPAR release, keyed by the config's ids.

    Raises :class:`ConfigError` naming the id and the config key for an unknown id or release.
    """
    release = sim_cfg.get("jaspar_release", "JASPAR2024")
    out: dict[str, Motif] = {}
    for key in ("activators", "repressors"):
        for mid in sim_cfg.get(key, []):
            out.setdefault(mid, _fetch(release, mid, f"dataset.simulate.{key}"))
    for i, p in enumerate(sim_cfg.get("pairs", [])):
        for side in ("a", "b"):
            out.setdefault(p[side], _fetch(release, p[side], f"dataset.simulate.pairs[{i}].{side}"))
    return out


def _fetch(release: str, mid: str, key: str) -> Motif:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyjaspar warns before failing; the error below says it all
            (m,) = load_jaspar(release, ids=[mid])
    except Exception as exc:  # pyjaspar raises ValueError / AttributeError for unknown ids / releases
        raise ConfigError(f"invalid config: key '{key}': JASPAR matrix id {mid!r} could not be loaded from {release}: {exc}") from exc
    return Motif(mid, m.name, m.pwm)


def _check_config(sim_cfg: dict[str, Any], motifs: dict[str, Motif]) -> None:
    n_classes = int(sim_cfg["n_classes"])
    if not 2 <= n_classes <= MAX_CLASSES:
        raise ConfigError(f"invalid config: key 'dataset.simulate.n_classes': {n_classes} (allowed 2..{MAX_CLASSES})")
    missing = [i for i in motif_ids(sim_cfg) if i not in motifs]
    if missing:
        raise ConfigError(f"invalid config: dataset.simulate: no matrix given for motif(s) {missing}")
    roles: dict[str, str] = {}
    for key, ids in (("activators", sim_cfg["activators"]), ("repressors", sim_cfg["repressors"]), ("pairs", [x for p in sim_cfg["pairs"] for x in (p["a"], p["b"])])):
        for mid in ids:
            if roles.get(mid, key) != key:
                raise ConfigError(f"invalid config: dataset.simulate: motif {mid} appears in both '{roles[mid]}' and '{key}'; each motif has one role")
            roles[mid] = key
    used = {k for c in range(n_classes) for k in CLASS_TEMPLATES[c][1]}
    for kind, key in (("activators", "activators"), ("repressors", "repressors"), ("pair", "pairs")):
        if kind in used and not sim_cfg[key]:
            raise ConfigError(f"invalid config: key 'dataset.simulate.{key}' is empty but class(es) with {kind} are used (n_classes {n_classes})")
    for i, p in enumerate(sim_cfg["pairs"]):
        if p["spacing"] < motifs[p["a"]].width:
            raise ConfigError(
                f"invalid config: key 'dataset.simulate.pairs[{i}].spacing': {p['spacing']} is below the width of {p['a']} "
                f"({motifs[p['a']].width}); the two sites would overlap"
            )
    L, tss = resolve_geometry(sim_cfg)
    regions = class_regions(L, tss)
    need = {
        "activators": N_SITES["activators"][1] * (max((motifs[m].width for m in sim_cfg["activators"]), default=0) + MIN_GAP),
        "repressors": N_SITES["repressors"][1] * (max((motifs[m].width for m in sim_cfg["repressors"]), default=0) + MIN_GAP),
        "pair": max((p["spacing"] + motifs[p["b"]].width for p in sim_cfg["pairs"]), default=0) + MIN_GAP,
    }
    for kind in used:
        a, b = regions[kind]
        if b - a < 1.2 * need[kind]:
            raise ConfigError(
                f"invalid config: dataset.simulate: window of {L} bp (TSS at {tss}) leaves {b - a} bp for the {kind} region, "
                f"too little for its sites (need about {int(1.2 * need[kind])}); use a longer window"
            )
    spans = sorted(regions[k] for k in used)
    if any(a[1] > b[0] for a, b in zip(spans, spans[1:])):
        raise ConfigError(
            f"invalid config: dataset.simulate: window of {L} bp (TSS at {tss}) is too short to keep the class regions "
            f"apart ({', '.join(f'{k} {regions[k][0]}..{regions[k][1]}' for k in sorted(used))}); use a longer window"
        )
    lo, hi = sim_cfg["n_decoys"]
    if lo > hi:
        raise ConfigError(f"invalid config: key 'dataset.simulate.n_decoys': minimum {lo} above maximum {hi}")


# --------------------------------------------------------------------------- grammar


def pair_instances(plants: Sequence[dict[str, Any]], pair: dict[str, Any]) -> list[tuple[int, int]]:
    """Indices ``(i, j)`` of plants forming ``pair``: motif a at ``i``, b at ``j``, exact spacing and orientation."""
    orient = pair.get("orientation", "++")
    out = []
    for i, p in enumerate(plants):
        if p["motif_id"] != pair["a"] or p["strand"] != orient[0]:
            continue
        for j, q in enumerate(plants):
            if j != i and q["motif_id"] == pair["b"] and q["strand"] == orient[1] and q["start"] - p["start"] == pair["spacing"]:
                out.append((i, j))
    return out


def planted_function(plants: Sequence[dict[str, Any]], ground_truth: dict[str, Any]) -> float:
    """The noise-free label of a gene from its plants and the ground truth's grammar.

    Sum of the effects of planted activator and repressor motifs (``ground_truth["motifs"]``
    with role activator/repressor), plus each pair's effect for every instance at its exact
    spacing and orientation. Roles and ``active`` flags of the plants are not consulted:
    the arrangement alone decides, which is what a model sees.
    """
    effects = {m["motif_id"]: m["effect"] for m in ground_truth["motifs"] if m["role"] in ("activator", "repressor")}
    total = sum(effects.get(p["motif_id"], 0.0) for p in plants)
    for pair in ground_truth["pairs"]:
        total += pair["effect"] * len(pair_instances(plants, pair))
    return float(total)


def _decoy_elements(pair: dict[str, Any], motifs: dict[str, Motif], rng: np.random.Generator) -> list[tuple[str, int, str]]:
    """Sites ``(motif_id, offset, strand)`` of one decoy of ``pair`` (offsets from the element start)."""
    kinds = [k for k, _ in DECOY_KINDS]
    probs = np.array([p for _, p in DECOY_KINDS])
    kind = kinds[rng.choice(len(kinds), p=probs / probs.sum())]
    a, b, s = pair["a"], pair["b"], int(pair["spacing"])
    orient = pair.get("orientation", "++")
    strands = "+-"
    if kind == "half_a":
        return [(a, 0, strands[rng.integers(2)])]
    if kind == "half_b":
        return [(b, 0, strands[rng.integers(2)])]
    if kind == "wrong_spacing":
        wa = motifs[a].width
        shifts = [d for d in range(-DECOY_MAX_SHIFT, DECOY_MAX_SHIFT + 1) if abs(d) >= DECOY_MIN_SHIFT and s + d >= wa]
        s2 = s + int(shifts[rng.integers(len(shifts))])
        return [(a, 0, orient[0]), (b, s2, orient[1])]
    others = [o for o in ("++", "+-", "-+", "--") if o != orient]
    o = others[rng.integers(len(others))]
    return [(a, 0, o[0]), (b, s, o[1])]


def _plan_gene(kinds: tuple[str, ...], sim_cfg: dict[str, Any], motifs: dict[str, Motif], rng: np.random.Generator) -> list[dict[str, Any]]:
    """Elements of one gene: ``{"region", "sites": [(motif_id, offset, strand, role, active)], "functional_pair": bool}``."""
    elements: list[dict[str, Any]] = []
    strands = "+-"
    for kind in kinds:
        lo, hi = N_SITES[kind]
        n = int(rng.integers(lo, hi + 1))
        for _ in range(n):
            if kind == "pair":
                pair = sim_cfg["pairs"][rng.integers(len(sim_cfg["pairs"]))]
                o = pair.get("orientation", "++")
                sites = [(pair["a"], 0, o[0], "pair_a", True), (pair["b"], int(pair["spacing"]), o[1], "pair_b", True)]
                elements.append({"region": "pair", "sites": sites, "functional_pair": True})
            else:
                ids = sim_cfg[kind]
                mid = ids[rng.integers(len(ids))]
                role = "activator" if kind == "activators" else "repressor"
                elements.append({"region": kind, "sites": [(mid, 0, strands[rng.integers(2)], role, True)], "functional_pair": False})
    if sim_cfg["pairs"]:
        lo, hi = sim_cfg["n_decoys"]
        for _ in range(int(rng.integers(lo, hi + 1))):
            pair = sim_cfg["pairs"][rng.integers(len(sim_cfg["pairs"]))]
            sites = [(m, off, st, "decoy", False) for m, off, st in _decoy_elements(pair, motifs, rng)]
            elements.append({"region": "decoys", "sites": sites, "functional_pair": False})
    return elements


def _place_gene(
    elements: list[dict[str, Any]], sim_cfg: dict[str, Any], motifs: dict[str, Motif], regions: dict[str, tuple[int, int]], rng: np.random.Generator
) -> list[dict[str, Any]] | None:
    """Choose non-overlapping starts for the elements; ``None`` when they do not fit (re-plan)."""
    plants: list[dict[str, Any]] = []
    occupied: list[tuple[int, int]] = []  # element spans incl. gap
    n_functional = 0
    for el in elements:
        offs = [off for _, off, *_ in el["sites"]]
        ends = [off + motifs[m].width for m, off, *_ in el["sites"]]
        first, span = min(offs), max(ends) - min(offs)
        lo, hi = regions[el["region"]]
        if hi - lo < span:
            return None
        n_functional += el["functional_pair"]
        for _ in range(100):
            start = int(rng.integers(lo, hi - span + 1)) - first
            a, b = start + first, start + first + span
            if any(a < e + MIN_GAP and s < b + MIN_GAP for s, e in occupied):
                continue
            new = [
                {"motif_id": m, "start": start + off, "end": start + off + motifs[m].width, "strand": st, "role": role, "active": act}
                for m, off, st, role, act in el["sites"]
            ]
            trial = plants + new
            if sum(len(pair_instances(trial, p)) for p in sim_cfg["pairs"]) != n_functional:
                continue  # a decoy would complete (or a pair would add) a functional arrangement
            plants = trial
            occupied.append((a, b))
            break
        else:
            return None
    return sorted(plants, key=lambda p: (p["start"], p["motif_id"]))


class _GeneMaker:
    """Plans, places and writes the plants of one gene into a background row."""

    def __init__(self, sim_cfg, motifs, regions, pools, rng):
        self.sim_cfg, self.motifs, self.regions, self.pools, self.rng = sim_cfg, motifs, regions, pools, rng

    def make(self, kinds: tuple[str, ...], row: np.ndarray) -> list[dict[str, Any]]:
        """Plant into ``row`` ``(L,)`` uint8 (modified in place); return the plants."""
        for _ in range(200):
            plants = _place_gene(_plan_gene(kinds, self.sim_cfg, self.motifs, self.rng), self.sim_cfg, self.motifs, self.regions, self.rng)
            if plants is not None:
                break
        else:
            raise RuntimeError("could not place the planted elements of a gene without overlap; use a longer window or fewer decoys")
        for p in plants:
            site = self.pools[p["motif_id"]].draw()
            row[p["start"] : p["end"]] = site if p["strand"] == "+" else reverse_complement_codes(site)
        return plants


# --------------------------------------------------------------------------- scrubbing


def _overlaps(mask: np.ndarray, w: int) -> np.ndarray:
    """``(N, L - w + 1)`` bool: window ``i`` of width ``w`` touches a True of ``mask`` ``(N, L)``."""
    cs = np.zeros((mask.shape[0], mask.shape[1] + 1), dtype=np.int32)
    cs[:, 1:] = np.cumsum(mask, axis=1)
    n_win = mask.shape[1] - w + 1
    return (cs[:, w : w + n_win] - cs[:, :n_win]) > 0


def stray_matches(codes: np.ndarray, plants: Sequence[Sequence[dict[str, Any]]], motifs: dict[str, Motif], p_value: float) -> list[tuple[int, str, int, str]]:
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


# --------------------------------------------------------------------------- main entry points


def simulate(sim_cfg: dict[str, Any], motifs: dict[str, Motif]) -> tuple[np.ndarray, pd.DataFrame, dict[str, Any]]:
    """Simulate the planted-grammar data set.

    Parameters
    ----------
    sim_cfg
        The validated ``dataset.simulate`` section (all keys present).
    motifs
        Planted motifs by JASPAR id (:func:`load_simulation_motifs`).

    Returns
    -------
    codes
        ``(n_genes, length)`` uint8 sequence codes (A=0 C=1 G=2 T=3).
    genes
        DataFrame with ``gene_id`` (``sim00000``...), ``label`` (float64) and ``sim_class`` (int).
    ground_truth
        The dict written to ``ground_truth.json`` (format in the module docstring / CONTEXT).

    Deterministic given ``sim_cfg["seed"]``.
    """
    _check_config(sim_cfg, motifs)
    N = int(sim_cfg["n_genes"])
    L, tss = resolve_geometry(sim_cfg)
    n_classes = int(sim_cfg["n_classes"])
    regions = class_regions(L, tss)
    ss = np.random.SeedSequence(int(sim_cfg["seed"]))
    rng_class, rng_bg, rng_sites, rng_place, rng_noise, rng_scrub = (np.random.default_rng(s) for s in ss.spawn(6))

    # background zones: 0 = bulk, 1 = CpG island
    chains = [markov_chain(sim_cfg["gc"], sim_cfg["cpg_ratio"])]
    zones = np.zeros(L, dtype=np.int64)
    if sim_cfg.get("island_gc") is not None:
        chains.append(markov_chain(sim_cfg["island_gc"], sim_cfg["island_cpg_ratio"]))
        a, b = sim_cfg["island"]
        zones[max(tss + int(a), 0) : max(min(tss + int(b), L), 0)] = 1
    classes = np.empty(N, dtype=np.int64)
    classes[rng_class.permutation(N)] = np.arange(N) % n_classes

    codes = _sample_chain(N, zones, chains, rng_bg)
    scrub_p = sim_cfg.get("scrub_p")
    pools = {}
    for m in motif_ids(sim_cfg):
        avoid = [] if scrub_p is None else [(motifs[o].pwm, score_threshold(motifs[o].pwm, scrub_p)) for o in motif_ids(sim_cfg) if o != m]
        pools[m] = _SitePool(motifs[m], float(sim_cfg["sharpen"]), sim_cfg.get("site_p"), rng_sites, avoid)
    maker = _GeneMaker(sim_cfg, motifs, regions, pools, rng_place)
    plants = [maker.make(CLASS_TEMPLATES[c][1], codes[i]) for i, c in enumerate(classes)]

    planted_motifs = {m: motifs[m] for m in motif_ids(sim_cfg)}
    if sim_cfg.get("scrub_p") is not None:
        _scrub(codes, plants, classes, planted_motifs, float(sim_cfg["scrub_p"]), zones, chains, maker, rng_bg, rng_scrub)

    gt_motifs = _ground_truth_motifs(sim_cfg, motifs)
    ids = [f"sim{i:0{max(5, len(str(N - 1)))}d}" for i in range(N)]
    gt = {
        "length": L,
        "tss_index": tss,
        "seed": int(sim_cfg["seed"]),
        "noise_sd": float(sim_cfg["noise_sd"]),
        "jaspar_release": sim_cfg["jaspar_release"],
        "motifs": gt_motifs,
        "pairs": [
            {
                "a": p["a"],
                "b": p["b"],
                "a_name": motifs[p["a"]].name,
                "b_name": motifs[p["b"]].name,
                "spacing": int(p["spacing"]),
                "orientation": p.get("orientation", "++"),
                "effect": float(p.get("effect", 1.5)),
            }
            for p in sim_cfg["pairs"]
        ],
        "classes": class_definitions(sim_cfg, motifs),
        "genes": [{"gene_id": g, "class": int(c), "plants": ps} for g, c, ps in zip(ids, classes, plants)],
    }
    clean = np.array([planted_function(ps, gt) for ps in plants])
    labels = clean + rng_noise.normal(0.0, float(sim_cfg["noise_sd"]), N)
    genes = pd.DataFrame({"gene_id": ids, "label": labels, "sim_class": classes})
    return codes, genes, gt


def _ground_truth_motifs(sim_cfg: dict[str, Any], motifs: dict[str, Motif]) -> list[dict[str, Any]]:
    out = []
    for mid in sim_cfg["activators"]:
        out.append({"motif_id": mid, "name": motifs[mid].name, "role": "activator", "effect": float(sim_cfg["activator_effect"]), "width": motifs[mid].width})
    for mid in sim_cfg["repressors"]:
        out.append({"motif_id": mid, "name": motifs[mid].name, "role": "repressor", "effect": -float(sim_cfg["repressor_effect"]), "width": motifs[mid].width})
    seen = set()
    for p in sim_cfg["pairs"]:
        for mid in (p["a"], p["b"]):
            if mid not in seen:
                seen.add(mid)
                # a pair member has no effect alone; its effect is the pair's, realised only jointly
                out.append({"motif_id": mid, "name": motifs[mid].name, "role": "pair", "effect": float(p.get("effect", 1.5)), "width": motifs[mid].width})
    return out


def _scrub(codes, plants, classes, motifs, p_value, zones, chains, maker, rng_bg, rng_scrub, max_rounds: int = 60) -> None:
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
            log.info("scrub: clean after %d round(s); %d stray matches resampled, %d genes regenerated", rnd, n_resampled, n_regenerated)
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
        _resample_positions(sub, bad & keep[:, None], zones, chains, rng_scrub)
        codes[rows] = sub
        n_resampled += len(stray)
        for r in regen_arr:
            codes[r] = _sample_chain(1, zones, chains, rng_bg)[0]
            plants[r] = maker.make(CLASS_TEMPLATES[classes[r]][1], codes[r])
            plant_mask[r] = False
            for p in plants[r]:
                plant_mask[r, p["start"] : p["end"]] = True
            dirty_rounds[r] = 0
        n_regenerated += len(regen_arr)
        rows = touched
    raise RuntimeError(f"scrubbing stray motif matches did not converge in {max_rounds} rounds; raise dataset.simulate.scrub_p or lower gc")


def build(cfg: dict[str, Any], out_dir: Path) -> None:
    """Simulate the data set of ``cfg`` (full validated config) into ``out_dir``.

    Writes ``ground_truth.json`` then, via :func:`promoter_cr.data.dataset.write_dataset`,
    ``sequences.npy``, ``genes.tsv`` (gene_id, label, split, sim_class) and ``meta.json`` (last).
    """
    out_dir = Path(out_dir)
    sim_cfg = cfg["dataset"]["simulate"]
    motifs = load_simulation_motifs(sim_cfg)
    codes, genes, gt = simulate(sim_cfg, motifs)
    try:
        split = assign_split(genes, cfg["dataset"]["split"], has_source_split=False)
    except ValueError as exc:
        raise ConfigError(f"invalid config: key 'dataset.split': {exc}") from exc
    genes.insert(2, "split", split)
    L, tss = resolve_geometry(sim_cfg)
    comp = composition(codes)
    meta = {
        "source": "simulate",
        "tss_index": tss,
        "window": {"start": -tss, "end": L - tss, "relative_to": "TSS"},
        "simulate": {
            **sim_cfg,
            "tss_index": tss,
            "regions": {k: list(v) for k, v in class_regions(L, tss).items()},
            "classes": gt["classes"],
            "observed_composition": comp,
        },
        "annotation_columns": ["sim_class"],
        "ground_truth": GROUND_TRUTH,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / GROUND_TRUTH, gt)
    write_dataset(out_dir, codes, genes, meta)
    log.info("simulated %d genes x %d bp into %s (GC %.3f, CpG o/e %.3f)", len(genes), L, out_dir, comp["gc"], comp["cpg_ratio"])
