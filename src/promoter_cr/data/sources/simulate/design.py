"""The planted grammar of the default (``easy``) simulator: class templates, element regions,
site counts, decoys, window geometry, the motifs it plants and the checks of its config."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from promoter_cr.errors import ConfigError
from promoter_cr.seq.motifs import Motif, load_jaspar_ids

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
DECOY_KINDS: tuple[tuple[str, float], ...] = (
    ("half_a", 0.35),
    ("half_b", 0.35),
    ("wrong_spacing", 0.2),
    ("wrong_orientation", 0.1),
)
#: wrong spacings of decoy pairs differ from the true one by 2..DECOY_MAX_SHIFT bp
DECOY_MIN_SHIFT = 2
DECOY_MAX_SHIFT = 20


def resolve_geometry(sim_cfg: dict[str, Any]) -> tuple[int, int]:
    """``(length, tss_index)``; the TSS defaults to ``round(2 * length / 3)``."""
    L = int(sim_cfg["length"])
    tss = sim_cfg.get("tss_index")
    tss = int(round(2 * L / 3)) if tss is None else int(tss)
    if not 0 < tss < L:
        raise ConfigError(
            f"invalid config: key 'dataset.simulate.tss_index': {tss} must lie inside the window (1..{L - 1})"
        )
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
        "activators": lambda: (
            f"{count('activators')} activator sites (each one of {names(sim_cfg['activators'])}; "
            f"+{sim_cfg['activator_effect']:g} each) at {rel('activators')}"
        ),
        "repressors": lambda: (
            f"{count('repressors')} repressor sites (each one of {names(sim_cfg['repressors'])}; "
            f"-{sim_cfg['repressor_effect']:g} each) at {rel('repressors')}"
        ),
        "pair": lambda: (
            "one cooperating pair ("
            + "; ".join(
                f"{motifs[p['a']].name}-{motifs[p['b']].name} spacing "
                f"{p['spacing']} {p['orientation']} +{p['effect']:g}"
                for p in sim_cfg["pairs"]
            )
            + f") at {rel('pair')}"
        ),
    }
    out = []
    for c in range(int(sim_cfg["n_classes"])):
        name, kinds = CLASS_TEMPLATES[c]
        desc = "; ".join(parts[k]() for k in kinds) if kinds else "no functional element"
        out.append(
            {
                "class": c,
                "name": name,
                "description": desc + "; plus decoys (pair halves alone or misarranged, no effect)",
            }
        )
    return out


def motif_ids(sim_cfg: dict[str, Any]) -> list[str]:
    """All JASPAR ids the simulator plants, in config order, without repeats."""
    ids = list(sim_cfg["activators"]) + list(sim_cfg["repressors"])
    for p in sim_cfg["pairs"]:
        ids += [p["a"], p["b"]]
    return list(dict.fromkeys(ids))


def load_simulation_motifs(sim_cfg: dict[str, Any]) -> dict[str, Motif]:
    """The planted motifs from the bundled JASPAR release, keyed by the config's ids.

    Raises :class:`ConfigError` naming the id and the config key for an unknown id or release.
    """
    release = sim_cfg["jaspar_release"]
    out: dict[str, Motif] = {}
    for key in ("activators", "repressors"):
        for mid in sim_cfg.get(key, []):
            out.setdefault(mid, _fetch(release, mid, f"dataset.simulate.{key}"))
    for i, p in enumerate(sim_cfg["pairs"]):
        for side in ("a", "b"):
            out.setdefault(p[side], _fetch(release, p[side], f"dataset.simulate.pairs[{i}].{side}"))
    return out


def _fetch(release: str, mid: str, key: str) -> Motif:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyjaspar warns before failing; the error below says it all
            (m,) = load_jaspar_ids(release, [mid])
    except Exception as exc:  # pyjaspar raises ValueError / AttributeError for unknown ids / releases
        raise ConfigError(
            f"invalid config: key '{key}': JASPAR matrix id {mid!r} could not be loaded from {release}: {exc}"
        ) from exc
    return Motif(mid, m.name, m.pwm)


def check_config(sim_cfg: dict[str, Any], motifs: dict[str, Motif]) -> None:
    n_classes = int(sim_cfg["n_classes"])
    if not 2 <= n_classes <= MAX_CLASSES:
        raise ConfigError(f"invalid config: key 'dataset.simulate.n_classes': {n_classes} (allowed 2..{MAX_CLASSES})")
    missing = [i for i in motif_ids(sim_cfg) if i not in motifs]
    if missing:
        raise ConfigError(f"invalid config: dataset.simulate: no matrix given for motif(s) {missing}")
    roles: dict[str, str] = {}
    for key, ids in (
        ("activators", sim_cfg["activators"]),
        ("repressors", sim_cfg["repressors"]),
        ("pairs", [x for p in sim_cfg["pairs"] for x in (p["a"], p["b"])]),
    ):
        for mid in ids:
            if roles.get(mid, key) != key:
                raise ConfigError(
                    f"invalid config: dataset.simulate: motif {mid} appears in both "
                    f"'{roles[mid]}' and '{key}'; each motif has one role"
                )
            roles[mid] = key
    used = {k for c in range(n_classes) for k in CLASS_TEMPLATES[c][1]}
    for kind, key in (("activators", "activators"), ("repressors", "repressors"), ("pair", "pairs")):
        if kind in used and not sim_cfg[key]:
            raise ConfigError(
                f"invalid config: key 'dataset.simulate.{key}' is empty but "
                f"class(es) with {kind} are used (n_classes {n_classes})"
            )
    for i, p in enumerate(sim_cfg["pairs"]):
        if p["spacing"] < motifs[p["a"]].width:
            raise ConfigError(
                f"invalid config: key 'dataset.simulate.pairs[{i}].spacing': "
                f"{p['spacing']} is below the width of {p['a']} "
                f"({motifs[p['a']].width}); the two sites would overlap"
            )
    L, tss = resolve_geometry(sim_cfg)
    regions = class_regions(L, tss)
    need = {
        "activators": N_SITES["activators"][1]
        * (max((motifs[m].width for m in sim_cfg["activators"]), default=0) + MIN_GAP),
        "repressors": N_SITES["repressors"][1]
        * (max((motifs[m].width for m in sim_cfg["repressors"]), default=0) + MIN_GAP),
        "pair": max((p["spacing"] + motifs[p["b"]].width for p in sim_cfg["pairs"]), default=0) + MIN_GAP,
    }
    for kind in used:
        a, b = regions[kind]
        if b - a < 1.2 * need[kind]:
            raise ConfigError(
                f"invalid config: dataset.simulate: window of {L} bp (TSS at "
                f"{tss}) leaves {b - a} bp for the {kind} region, "
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
