"""Checks of a complete grammar-generator config (``dataset.simulate.generator``, the ``hard`` preset).

The JSON schema fixes types and defaults; what it cannot say is checked here: ``[min, max]`` pairs in
order and in range, windows relative to the TSS, counts, option names and whether a Markov chain can
reach the requested composition. Every error is a :class:`ConfigError` naming the key.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from promoter_cr.data.sources.simulate.background import min_cpg_ratio
from promoter_cr.errors import ConfigError

KEY = "dataset.simulate.generator"
NULL_MODES = ("none", "permuted_labels", "independent_labels")
PAIR_MODES = ("cooperative", "additive")
CONFOUND_FEATURES = ("none", "gc", "cpg_ratio")
ORIENTATIONS = ("++", "+-", "-+", "--")
DECOY_KINDS = ("half_a", "half_b", "wrong_spacing", "wrong_orientation")

__all__ = [
    "CONFOUND_FEATURES",
    "DECOY_KINDS",
    "KEY",
    "NULL_MODES",
    "ORIENTATIONS",
    "PAIR_MODES",
    "check_generator_config",
    "config_error",
    "tss_window",
]


def config_error(key: str, msg: str) -> ConfigError:
    """The :class:`ConfigError` of generator key ``key`` (``dataset.simulate.generator.<key>``)."""
    return ConfigError(f"invalid config: key '{KEY}.{key}': {msg}")


def _interval(
    cfg: dict[str, Any], key: str, *, lo: float | None = None, hi: float | None = None, integer: bool = False
) -> tuple[float, float]:
    group, _, name = key.rpartition(".")
    v = cfg[group][name] if group else cfg[name]
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise config_error(key, f"{v!r} must be a [min, max] pair")
    a, b = v
    if integer and not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in v):
        raise config_error(key, f"{v!r} must hold integers")
    if a > b:
        raise config_error(key, f"minimum {a} above maximum {b}")
    if (lo is not None and a < lo) or (hi is not None and b > hi):
        raise config_error(key, f"{v!r} outside {lo}..{hi}")
    return a, b


def tss_window(v: Any, key: str) -> tuple[int, int] | None:
    """A window relative to the TSS, ``(start, end)`` bp with start < end, or ``None`` (anywhere)."""
    if v is None:
        return None
    if not isinstance(v, (list, tuple)) or len(v) != 2 or v[0] >= v[1]:
        raise config_error(key, f"{v!r} must be null or [start, end] (bp relative to the TSS, start < end)")
    return int(v[0]), int(v[1])


#: every key of a complete generator config, per group (top-level keys: :data:`_REQUIRED_TOP`)
_REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "motifs": (
        "collection",
        "tax_group",
        "width",
        "min_information",
        "tomtom_threshold",
        "n_activators",
        "n_repressors",
        "effect",
        "activator_windows",
        "repressor_windows",
    ),
    "synthetic": ("n", "method", "role", "width", "dirichlet_alpha", "window"),
    "occupancy": ("fraction", "sites"),
    "pairs": (
        "n",
        "mode",
        "effect",
        "sign",
        "fraction",
        "spacing",
        "orientation",
        "window",
        "decoys",
        "decoy_shift",
        "decoy_weights",
        "additive_spacing",
    ),
    "composition": ("gc", "cpg_ratio"),
    "confound": ("feature", "beta"),
}
_REQUIRED_TOP = ("r2_ceiling", "null")


def _check_required_keys(gen_cfg: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` for the first missing group or key (:data:`_REQUIRED_KEYS`, :data:`_REQUIRED_TOP`)."""
    for g, keys in _REQUIRED_KEYS.items():
        if not isinstance(gen_cfg.get(g), dict):
            raise ConfigError(f"invalid config: key '{KEY}.{g}' is missing")
        for k in keys:
            if k not in gen_cfg[g]:
                raise ConfigError(f"invalid config: key '{KEY}.{g}.{k}' is missing")
    for k in _REQUIRED_TOP:
        if k not in gen_cfg:
            raise ConfigError(f"invalid config: key '{KEY}.{k}' is missing")


def _check_intervals(gen_cfg: dict[str, Any]) -> None:
    """Check every ``[min, max]`` setting (bounds, integer-ness, order)."""
    _interval(gen_cfg, "motifs.width", lo=1, integer=True)
    _interval(gen_cfg, "motifs.effect", lo=0)
    _interval(gen_cfg, "synthetic.width", lo=1, integer=True)
    _interval(gen_cfg, "occupancy.sites", lo=1, integer=True)
    _interval(gen_cfg, "pairs.effect", lo=0)
    _interval(gen_cfg, "pairs.spacing", lo=1, integer=True)
    _interval(gen_cfg, "pairs.decoys", lo=0, integer=True)
    _interval(gen_cfg, "pairs.decoy_shift", lo=1, integer=True)
    _interval(gen_cfg, "pairs.additive_spacing", lo=1, integer=True)
    _interval(gen_cfg, "composition.gc", lo=0.1, hi=0.9)
    _interval(gen_cfg, "composition.cpg_ratio", lo=0.0, hi=1.5)


def _check_counts_and_windows(m: dict[str, Any], s: dict[str, Any], p: dict[str, Any]) -> None:
    """Check the motif counts and every TSS-relative window (motifs ``m``, synthetic ``s``, pairs ``p`` groups)."""
    for k in ("n_activators", "n_repressors"):
        if int(m[k]) < 0:
            raise config_error(f"motifs.{k}", f"{m[k]} must be >= 0")
    for k, n in (("activator_windows", m["n_activators"]), ("repressor_windows", m["n_repressors"])):
        if len(m[k]) > int(n):
            raise config_error(f"motifs.{k}", f"{len(m[k])} windows for {n} motifs")
        for i, w in enumerate(m[k]):
            tss_window(w, f"motifs.{k}[{i}]")
    tss_window(s["window"], "synthetic.window")
    tss_window(p["window"], "pairs.window")


def _check_motif_options(m: dict[str, Any], s: dict[str, Any], p: dict[str, Any]) -> None:
    """Check the Tomtom threshold, the synthetic / pair counts and the synthetic-motif options."""
    if not 0 < float(m["tomtom_threshold"]) < 1:
        raise config_error("motifs.tomtom_threshold", f"{m['tomtom_threshold']} must lie in (0, 1)")
    if int(s["n"]) < 0 or int(p["n"]) < 0:
        raise config_error("synthetic.n" if int(s["n"]) < 0 else "pairs.n", "must be >= 0")
    if s["method"] not in ("shuffle", "dirichlet"):
        raise config_error("synthetic.method", f"{s['method']!r} (allowed shuffle, dirichlet)")
    if s["role"] not in ("activator", "repressor"):
        raise config_error("synthetic.role", f"{s['role']!r} (allowed activator, repressor)")
    if float(s["dirichlet_alpha"]) <= 0:
        raise config_error("synthetic.dirichlet_alpha", "must be > 0")


def _check_pair_options(o: dict[str, Any], p: dict[str, Any]) -> None:
    """Check the occupancy / pair fractions and the pair mode, sign, orientation and decoy weights."""
    for k, v in (("occupancy.fraction", o["fraction"]), ("pairs.fraction", p["fraction"])):
        if not 0 <= float(v) <= 1:
            raise config_error(k, f"{v} must lie in 0..1")
    if p["mode"] not in PAIR_MODES:
        raise config_error("pairs.mode", f"{p['mode']!r} (allowed {', '.join(PAIR_MODES)})")
    if p["sign"] not in ("activating", "repressive"):
        raise config_error("pairs.sign", f"{p['sign']!r} (allowed activating, repressive)")
    if p["orientation"] is not None and p["orientation"] not in ORIENTATIONS:
        raise config_error("pairs.orientation", f"{p['orientation']!r} (allowed null, {', '.join(ORIENTATIONS)})")
    w = p["decoy_weights"]
    if set(w) - set(DECOY_KINDS) or any(float(x) < 0 for x in w.values()) or sum(float(x) for x in w.values()) <= 0:
        raise config_error(
            "pairs.decoy_weights", f"{w!r}: non-negative weights of {', '.join(DECOY_KINDS)}, not all zero"
        )


def _check_label_options(gen_cfg: dict[str, Any]) -> None:
    """Check the confound feature, the r^2 ceiling and the null mode."""
    if gen_cfg["confound"]["feature"] not in CONFOUND_FEATURES:
        raise config_error(
            "confound.feature", f"{gen_cfg['confound']['feature']!r} (allowed {', '.join(CONFOUND_FEATURES)})"
        )
    if not 0 < float(gen_cfg["r2_ceiling"]) <= 1:
        raise config_error("r2_ceiling", f"{gen_cfg['r2_ceiling']} must lie in (0, 1]")
    if gen_cfg["null"] not in NULL_MODES:
        raise config_error("null", f"{gen_cfg['null']!r} (allowed {', '.join(NULL_MODES)})")


def _check_composition(composition_cfg: dict[str, Any]) -> None:
    """Check that a Markov chain at the top GC fraction can reach the ``cpg_ratio`` maximum (both ways)."""
    gc, cpg = composition_cfg["gc"], composition_cfg["cpg_ratio"]
    lo_need = min_cpg_ratio(float(gc[1]))
    if lo_need > float(cpg[1]):
        raise config_error(
            "composition",
            f"at GC fraction {gc[1]} a Markov chain needs CpG o/e >= {lo_need:.3f}, "
            f"above the cpg_ratio maximum {cpg[1]}",
        )
    if float(cpg[1]) > 1.0 / float(gc[1]):
        raise config_error(
            "composition",
            f"at GC fraction {gc[1]} a Markov chain allows CpG o/e <= {1 / float(gc[1]):.3f}, "
            f"below the cpg_ratio maximum {cpg[1]}",
        )


def check_generator_config(gen_cfg: dict[str, Any]) -> None:
    """Check a complete generator config (every key present; see the module docstring).

    Raises :class:`ConfigError` naming the key.
    """
    _check_required_keys(gen_cfg)
    m, s, o, p = gen_cfg["motifs"], gen_cfg["synthetic"], gen_cfg["occupancy"], gen_cfg["pairs"]
    _check_intervals(gen_cfg)
    _check_counts_and_windows(m, s, p)
    _check_motif_options(m, s, p)
    _check_pair_options(o, p)
    _check_label_options(gen_cfg)
    _check_composition(gen_cfg["composition"])
