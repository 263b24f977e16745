"""Grammar generator: a FRESH planted grammar drawn from a seed (``dataset.simulate.preset: hard``).

The ``easy`` preset (:func:`promoter_cr.data.sources.simulate.simulate`) plants a fixed,
hand-tuned grammar. This generator draws the grammar itself from the seed, so models and
motif statistics are scored on grammars nobody tuned for. One config dict (``gen_cfg``,
the ``dataset.simulate.generator`` section; every key explicit) decides:

Motifs (``motifs``, ``synthetic``; see :mod:`.families`)
    ``n_activators`` + ``n_repressors`` single motifs and ``2 * pairs.n`` pair partners,
    drawn from the JASPAR collection (``collection``, ``tax_group``), all from pairwise
    distinct Tomtom families (p >= ``tomtom_threshold``). Single motifs get unequal effects,
    ``|effect| ~ U(effect)``, sign by role. ``synthetic.n`` extra single motifs are matrices
    that match nothing in the collection (role ``synthetic.role``); the ground truth holds
    their full matrix (``pwm``, ``(4, w)`` ACGT rows).
Sites
    Sampled column by column from the matrix itself (no sharpening, no redraw until a scan
    threshold passes: some sites are weak), on a random strand; background matches are NOT
    scrubbed. A ``-`` site is the reverse complement written at ``start..end``; each plant
    records its ``site`` (the bases in motif orientation, ``ACGT`` string).
Occupancy (``occupancy``)
    Every single motif is present in a gene with probability ``fraction``, then with
    ``sites`` (inclusive range, uniform) sites, anywhere in the window or, per motif, inside
    a window relative to the TSS (``motifs.activator_windows[i]``,
    ``motifs.repressor_windows[i]``, ``synthetic.window``; ``null`` = anywhere).
Pairs (``pairs``)
    ``cooperative``: partners ``a``, ``b`` act ONLY together, at a fixed start-to-start
    ``spacing`` (uniform in ``spacing``, at least the width of ``a``) and relative
    ``orientation`` (drawn when ``null``); a gene carries the pair with probability
    ``fraction``. Every gene also gets ``decoys`` (inclusive range) inert decoys: ``a`` alone,
    ``b`` alone, both at a wrong spacing (true +- ``decoy_shift``) or at the true spacing in
    another orientation (kind weights ``decoy_weights``); decoys never complete a functional
    arrangement. ``additive``: ``a`` and ``b`` each add their own effect per site, wherever
    they are; a gene with the "pair" gets both at a random start-to-start spacing uniform in
    ``additive_spacing`` (either order, random strands) - the null of spacing statistics -
    and the ``decoys`` become lone partners that DO count.
Background (``composition``)
    A strand-symmetric first-order Markov chain per gene
    (:func:`promoter_cr.data.sources.simulate.background.markov_chain`) whose GC fraction
    is drawn uniformly from ``gc`` and CpG observed/expected ratio uniformly from
    ``cpg_ratio`` truncated to what such a chain allows at that GC (:func:`min_cpg_ratio`),
    so composition varies between genes.
Label
    ``clean = sum(single-site effects) + sum(pair effects) + beta * z(feature)``: the
    planted function of the easy preset (:func:`.grammar.planted_function`: every planted
    activator / repressor site adds its motif's effect, a cooperative pair adds its effect
    per instance at exact spacing and orientation), plus each site of an additive partner
    its own effect, plus the composition confound (``confound.feature`` ``gc`` or
    ``cpg_ratio`` of the whole promoter, z-scored over the genes with the mean and sd
    recorded in the ground truth; ``none``: off). ``label = clean + N(0, noise_sd)`` with
    ``noise_sd = sqrt(var(clean) * (1 - c) / c)``, ``c = r2_ceiling`` the target
    ``(Pearson r)^2`` of clean label vs label; the realised value is recorded.
    :func:`clean_labels` recomputes ``clean`` from the ground truth and the sequences.
Nulls (``null``)
    ``permuted_labels``: the labels are permuted across genes after generation (the
    permutation is recorded); ``independent_labels``: labels are drawn
    ``N(mean(clean), var(clean) + noise_sd^2)`` independently of the sequence. Either way
    the motifs, plants and ``clean_label`` of every gene are those of the grammar as planted
    (what the sequence holds); only ``label`` loses its link to them, and the realised
    ``r2_ceiling`` (clean vs label) is about 0.

The ground truth has the format of the easy preset (``motifs``, ``pairs``, ``genes`` with
``plants``, ``length``, ``tss_index``, ``seed``, ``noise_sd``, ``jaspar_release``,
``classes``) plus a ``grammar`` block with everything else (preset, the full config, the
JASPAR selection, confound mean/sd, null mode and permutation, target and realised r^2
ceiling, variance of the clean labels). Additions: ``motifs[*].window`` (null or bp relative
to the TSS), synthetic motifs' ``synthetic``, ``source`` and ``pwm``; ``pairs[*].mode`` and
``window`` (additive pairs: ``spacing`` and ``orientation`` null, ``effect`` the joint effect
``effect_a + effect_b``, and ``spacing_range``); ``genes[*].clean_label`` and
``genes[*].background`` (the drawn GC / CpG o/e of its chain); ``plants[*].site``. Gene classes summarise the signs of
the active plants: 0 ``basal`` (none), 1 ``activated``, 2 ``repressed``, 3 ``mixed``.

Deterministic from the seed: one :class:`numpy.random.SeedSequence` child per concern
(motif choice, effects and arrangement, synthetic motifs, composition, background, sites,
placement, noise, null).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.data.sources.simulate.background import composition, gene_backgrounds, gene_composition
from promoter_cr.data.sources.simulate.families import draw_distinct, family_table, synthetic_motifs
from promoter_cr.data.sources.simulate.generator_config import (
    KEY,
    ORIENTATIONS,
    check_generator_config,
    config_error,
    tss_window,
)
from promoter_cr.data.sources.simulate.grammar import pair_instances, planted_function
from promoter_cr.data.sources.simulate.placement import check_pair_windows, cooperative_specs, plant_genes
from promoter_cr.errors import ConfigError
from promoter_cr.seq.motifs import Motif

log = logging.getLogger(__name__)

CLASSES = (
    (0, "basal", "no active planted site"),
    (1, "activated", "active planted sites all with positive effects"),
    (2, "repressed", "active planted sites all with negative effects"),
    (3, "mixed", "active planted sites with positive and negative effects"),
)

__all__ = [
    "CLASSES",
    "clean_labels",
    "generate",
    "generate_from_config",
    "generator_function",
    "generator_meta",
    "planted_matrices",
]


# ----------------------------------------------------------------------------- label function
def _feature(codes: np.ndarray, feature: str) -> np.ndarray:
    gc, cpg = gene_composition(codes)
    return gc if feature == "gc" else cpg


def generator_function(
    plants: Sequence[dict[str, Any]], ground_truth: dict[str, Any], feature_value: float | None = None
) -> float:
    """The noise-free label of one gene of a generated grammar.

    :func:`~promoter_cr.data.sources.simulate.grammar.planted_function` over the
    cooperative pairs (single-site effects plus pair effects at exact spacing and
    orientation), plus the effect of every plant of an ``additive`` pair partner (its
    ``motifs`` entry), plus ``beta * (feature_value - mean) / sd`` when the ground truth's
    ``grammar.confound.feature`` is not ``none`` (``feature_value``: the gene's promoter GC
    fraction or CpG o/e, see :func:`gene_composition`).
    """
    pairs = ground_truth["pairs"]
    coop = [p for p in pairs if p["mode"] == "cooperative"]
    total = planted_function(plants, {**ground_truth, "pairs": coop})
    additive = {m for p in pairs if p["mode"] == "additive" for m in (p["a"], p["b"])}
    if additive:
        eff = {m["motif_id"]: float(m["effect"]) for m in ground_truth["motifs"] if m["motif_id"] in additive}
        total += sum(eff.get(p["motif_id"], 0.0) for p in plants)
    conf = ground_truth.get("grammar", {}).get("confound", {"feature": "none"})
    if conf["feature"] != "none":
        if feature_value is None:
            raise ValueError(f"the grammar has a {conf['feature']} confound: pass the gene's feature_value")
        total += float(conf["beta"]) * (float(feature_value) - float(conf["mean"])) / float(conf["sd"])
    return float(total)


def clean_labels(ground_truth: dict[str, Any], codes: np.ndarray) -> np.ndarray:
    """``(N,)`` float64 noise-free labels of all genes, from the ground truth and ``(N, L)`` uint8 codes
    (rows in ``ground_truth["genes"]`` order)."""
    genes = ground_truth["genes"]
    if len(genes) != codes.shape[0]:
        raise ValueError(f"ground truth lists {len(genes)} genes, codes have {codes.shape[0]} rows")
    feature = ground_truth.get("grammar", {}).get("confound", {"feature": "none"})["feature"]
    values = _feature(codes, feature) if feature != "none" else np.full(len(genes), np.nan)
    return np.array(
        [
            generator_function(g["plants"], ground_truth, None if feature == "none" else v)
            for g, v in zip(genes, values, strict=True)
        ]
    )


# ----------------------------------------------------------------------------- grammar draw
def _uniform(rng: np.random.Generator, r: Sequence[float]) -> float:
    return float(rng.uniform(float(r[0]), float(r[1])))


def _single_specs(
    chosen: Sequence[Motif], m: dict[str, Any], n_act: int, n_rep: int, rng_effect: np.random.Generator
) -> list[dict[str, Any]]:
    """Specs of the single activators (``chosen[:n_act]``) and repressors (the next ``n_rep``).

    Each ``{"motif", "role", "effect", "window"}``: effect ``+-U(m["effect"])`` drawn from
    ``rng_effect`` in motif order, window from ``m["activator_windows"]`` / ``m["repressor_windows"]``
    (``None`` past the end of the list).
    """
    specs: list[dict[str, Any]] = []
    for i, mo in enumerate(chosen[: n_act + n_rep]):
        act = i < n_act
        wins = m["activator_windows"] if act else m["repressor_windows"]
        k = i if act else i - n_act
        win = (
            tss_window(wins[k], f"motifs.{'activator' if act else 'repressor'}_windows[{k}]") if k < len(wins) else None
        )
        specs.append(
            {
                "motif": mo,
                "role": "activator" if act else "repressor",
                "effect": (1 if act else -1) * _uniform(rng_effect, m["effect"]),
                "window": win,
            }
        )
    return specs


def _draw_pair(
    a: Motif, b: Motif, p: dict[str, Any], sign: float, rng_effect: np.random.Generator
) -> tuple[dict[str, Any], float, float]:
    """One pair's ground-truth entry and its partners' effects ``(entry, effect_a, effect_b)``.

    ``cooperative``: spacing, orientation (when not fixed) and the joint effect drawn from
    ``rng_effect``, both partners carrying the joint effect; ``additive``: one effect per partner,
    ``entry["effect"]`` their sum, spacing and orientation ``None``.
    """
    entry: dict[str, Any] = {
        "a": a.motif_id,
        "b": b.motif_id,
        "a_name": a.name,
        "b_name": b.name,
        "mode": p["mode"],
        "window": tss_window(p["window"], "pairs.window"),
    }
    if p["mode"] == "cooperative":
        lo, hi = max(int(p["spacing"][0]), a.width), max(int(p["spacing"][1]), a.width)
        entry["spacing"] = int(rng_effect.integers(lo, hi + 1))
        entry["orientation"] = (
            p["orientation"] if p["orientation"] is not None else ORIENTATIONS[int(rng_effect.integers(4))]
        )
        entry["effect"] = sign * _uniform(rng_effect, p["effect"])
        ea = eb = entry["effect"]
    else:
        ea, eb = sign * _uniform(rng_effect, p["effect"]), sign * _uniform(rng_effect, p["effect"])
        # the joint effect of one site of each partner, at any spacing; each partner's own effect is in ``motifs``
        entry.update(
            spacing=None,
            orientation=None,
            effect=ea + eb,
            effect_a=ea,
            effect_b=eb,
            spacing_range=[int(x) for x in p["additive_spacing"]],
        )
    return entry, ea, eb


def _synthetic_specs(
    m: dict[str, Any],
    s: dict[str, Any],
    cands: Sequence[Motif],
    collection: Sequence[Motif],
    threshold: float,
    rng_synth: np.random.Generator,
    rng_effect: np.random.Generator,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Specs of the ``s["n"]`` synthetic motifs (matrices from ``rng_synth``, then one effect each from
    ``rng_effect``) and ``{motif_id: how it was made}``; both empty when ``s["n"]`` is 0."""
    specs: list[dict[str, Any]] = []
    synth_info: dict[str, Any] = {}
    if not int(s["n"]):
        return specs, synth_info
    made = synthetic_motifs(
        int(s["n"]),
        method=s["method"],
        sources=cands,
        collection=collection,
        threshold=threshold,
        width=s["width"],
        alpha=float(s["dirichlet_alpha"]),
        min_information=float(m["min_information"]),
        rng=rng_synth,
    )
    for mo, how in made:
        e = (1 if s["role"] == "activator" else -1) * _uniform(rng_effect, m["effect"])
        specs.append(
            {
                "motif": mo,
                "role": s["role"],
                "effect": e,
                "window": tss_window(s["window"], "synthetic.window"),
                "synthetic": how,
            }
        )
        synth_info[mo.motif_id] = how
    return specs, synth_info


def _draw_grammar(
    gen_cfg: dict[str, Any], release: str, rng_motif, rng_effect, rng_synth
) -> tuple[list[dict], list[dict], dict[str, Motif], dict]:
    """Planted motifs (specs), pairs (ground-truth entries) and the matrices by id."""
    m, s, p = gen_cfg["motifs"], gen_cfg["synthetic"], gen_cfg["pairs"]
    thr = float(m["tomtom_threshold"])
    collection, cands, similar = family_table(
        release,
        m["collection"],
        tuple(m["tax_group"]) if m["tax_group"] else None,
        (int(m["width"][0]), int(m["width"][1])),
        float(m["min_information"]),
        thr,
    )
    n_act, n_rep, n_pairs = int(m["n_activators"]), int(m["n_repressors"]), int(p["n"])
    n_total = n_act + n_rep + 2 * n_pairs
    chosen = draw_distinct(cands, similar, n_total, rng_motif) if n_total else []
    specs = _single_specs(chosen, m, n_act, n_rep, rng_effect)
    sign = 1.0 if p["sign"] == "activating" else -1.0
    pairs: list[dict[str, Any]] = []
    for k in range(n_pairs):
        a, b = chosen[n_act + n_rep + 2 * k], chosen[n_act + n_rep + 2 * k + 1]
        entry, ea, eb = _draw_pair(a, b, p, sign, rng_effect)
        pairs.append(entry)
        for mo, e in ((a, ea), (b, eb)):
            specs.append({"motif": mo, "role": "pair", "effect": e, "window": entry["window"]})
    synth_specs, synth_info = _synthetic_specs(m, s, cands, collection, thr, rng_synth, rng_effect)
    specs.extend(synth_specs)
    info = {"n_collection": len(collection), "n_candidates": len(cands), "synthetic": synth_info}
    return specs, pairs, {sp["motif"].motif_id: sp["motif"] for sp in specs}, info


# ----------------------------------------------------------------------------- ground truth and labels
def _gene_class(plants: Sequence[dict[str, Any]], effects: dict[str, float], pair_effect: dict[str, float]) -> int:
    signs = set()
    for p in plants:
        if not p["active"]:
            continue
        e = pair_effect.get(p["motif_id"]) if p["role"] in ("pair_a", "pair_b") else effects.get(p["motif_id"])
        if e:
            signs.add(e > 0)
    if not signs:
        return 0
    return 3 if len(signs) == 2 else (1 if True in signs else 2)


def _geometry(n_genes: int, length: int, tss_index: int | None) -> tuple[int, int, int]:
    """``(N, L, tss)``: gene count, window length and 0-based TSS index (``None``: ``round(2 L / 3)``), checked."""
    N, L = int(n_genes), int(length)
    tss = int(round(2 * L / 3)) if tss_index is None else int(tss_index)
    if not 0 < tss < L:
        raise ConfigError(
            f"invalid config: key 'dataset.simulate.tss_index': {tss} must lie inside the window (1..{L - 1})"
        )
    if N < 2:
        raise ConfigError(
            f"invalid config: n_genes {N}: at least 2 genes are needed (the noise is set from the label variance)"
        )
    return N, L, tss


def _confound(conf_cfg: dict[str, Any], gc_real: np.ndarray, cpg_real: np.ndarray) -> dict[str, Any]:
    """The ground truth's ``grammar.confound`` block: feature, beta and (when on) the feature's mean and sd
    over the genes (``gc_real`` / ``cpg_real``: ``(N,)`` float64 realised composition)."""
    confound: dict[str, Any] = {"feature": conf_cfg["feature"], "beta": float(conf_cfg["beta"])}
    if conf_cfg["feature"] != "none":
        f = gc_real if conf_cfg["feature"] == "gc" else cpg_real
        confound.update(mean=float(np.mean(f)), sd=float(np.std(f)))
        if not confound["sd"] > 0:
            raise config_error(
                "confound.feature", f"{conf_cfg['feature']} does not vary between genes; widen 'composition'"
            )
    return confound


def _gt_motifs(specs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ground truth's ``motifs`` entries (synthetic ones with their ``(4, w)`` ``pwm`` as nested lists)."""
    gt_motifs = []
    for sp in specs:
        mo = sp["motif"]
        entry = {
            "motif_id": mo.motif_id,
            "name": mo.name,
            "role": sp["role"],
            "effect": float(sp["effect"]),
            "width": mo.width,
            "window": list(sp["window"]) if sp["window"] else None,
        }
        if "synthetic" in sp:
            entry.update(synthetic=True, source=sp["synthetic"], pwm=[[float(x) for x in row] for row in mo.pwm])
        gt_motifs.append(entry)
    return gt_motifs


def _gt_genes(
    ids: Sequence[str],
    plants_all: Sequence[list[dict[str, Any]]],
    specs: Sequence[dict[str, Any]],
    bg_gc: np.ndarray,
    bg_cpg: np.ndarray,
) -> list[dict[str, Any]]:
    """The ground truth's ``genes`` entries: id, class (:func:`_gene_class`), plants and background
    (``bg_gc`` / ``bg_cpg``: ``(N,)`` float64 drawn chain composition)."""
    effects = {sp["motif"].motif_id: sp["effect"] for sp in specs if sp["role"] != "pair"}
    pair_effect = {sp["motif"].motif_id: sp["effect"] for sp in specs if sp["role"] == "pair"}
    return [
        {
            "gene_id": g,
            "class": _gene_class(ps, effects, pair_effect),
            "plants": ps,
            "background": {"gc": float(bg), "cpg_ratio": float(br)},
        }
        for g, ps, bg, br in zip(ids, plants_all, bg_gc, bg_cpg, strict=True)
    ]


def _grammar_block(
    gen_cfg: dict[str, Any], preset: str | None, jaspar_release: str, info: dict[str, Any], confound: dict[str, Any]
) -> dict[str, Any]:
    """The ground truth's ``grammar`` block before the labels are drawn (generator, preset, config,
    JASPAR selection, confound, null mode)."""
    return {
        "generator": __name__,
        "preset": preset,
        "config": copy.deepcopy(gen_cfg),
        "collection": {
            "release": jaspar_release,
            "collection": gen_cfg["motifs"]["collection"],
            "tax_group": gen_cfg["motifs"]["tax_group"],
            **{k: v for k, v in info.items() if k != "synthetic"},
        },
        "confound": confound,
        "null": gen_cfg["null"],
    }


def _draw_labels(
    clean: np.ndarray, gen_cfg: dict[str, Any], n: int, rng_noise: np.random.Generator, rng_null: np.random.Generator
) -> tuple[np.ndarray, float, float, np.ndarray | None]:
    """Noisy labels from the ``(n,)`` float64 clean labels: ``(labels, noise_sd, var_clean, permutation)``.

    ``noise_sd`` sets the ``r2_ceiling`` target; the noise comes from ``rng_noise``, the null
    (permutation ``(n,)`` int64, else ``None``; or independent labels) from ``rng_null``.
    """
    c = float(gen_cfg["r2_ceiling"])
    var_clean = float(np.var(clean))
    if not var_clean > 0:
        raise ConfigError(
            f"invalid config: {KEY}: every gene has the same clean label; raise occupancy.fraction or pairs.fraction"
        )
    sd = float(np.sqrt(var_clean * (1.0 - c) / c))
    labels = clean + rng_noise.normal(0.0, sd, n)
    null = gen_cfg["null"]
    perm = None
    if null == "permuted_labels":
        perm = rng_null.permutation(n)
        labels = labels[perm]
    elif null == "independent_labels":
        labels = rng_null.normal(float(np.mean(clean)), float(np.sqrt(var_clean + sd**2)), n)
    return labels, sd, var_clean, perm


def _genes_table(
    ids: Sequence[str],
    labels: np.ndarray,
    gt: dict[str, Any],
    plants_all: Sequence[list[dict[str, Any]]],
    pairs: Sequence[dict[str, Any]],
    gc_real: np.ndarray,
    cpg_real: np.ndarray,
) -> pd.DataFrame:
    """The ``genes`` DataFrame of :func:`generate` (labels ``(N,)``, counts of plants and cooperative
    instances per gene, realised composition ``gc_real`` / ``cpg_real`` ``(N,)`` float64)."""
    coop, _ = cooperative_specs(pairs)
    n_inst = [sum(len(pair_instances(ps, p)) for p in coop) for ps in plants_all]
    return pd.DataFrame(
        {
            "gene_id": ids,
            "label": labels.astype(np.float64),
            "sim_class": np.array([g["class"] for g in gt["genes"]], dtype=np.int64),
            "n_sites": np.array([len(ps) for ps in plants_all], dtype=np.int64),
            "n_active_sites": np.array([sum(p["active"] for p in ps) for ps in plants_all], dtype=np.int64),
            "n_pair_instances": np.array(n_inst, dtype=np.int64),
            "gc": gc_real,
            "cpg_ratio": cpg_real,
        }
    )


# ----------------------------------------------------------------------------- main entry
def generate(
    gen_cfg: dict[str, Any],
    *,
    n_genes: int,
    length: int,
    tss_index: int | None,
    seed: int,
    jaspar_release: str,
    preset: str | None = None,
) -> tuple[np.ndarray, pd.DataFrame, dict[str, Any]]:
    """Draw a fresh planted grammar from ``seed`` and simulate a data set with it.

    Parameters
    ----------
    gen_cfg
        The complete generator config (:func:`check_generator_config`; the
        ``dataset.simulate.generator`` section); the geometry comes from the keywords.
    n_genes, length
        Genes and window length (bp).
    tss_index
        0-based TSS position; ``None``: ``round(2 * length / 3)``.
    seed
        Everything (the grammar included) is deterministic from it.
    jaspar_release
        pyjaspar release the motifs are drawn from (``"JASPAR2024"``).
    preset
        Name recorded in ``ground_truth["grammar"]["preset"]`` (not a setting).

    Returns
    -------
    codes
        ``(n_genes, length)`` uint8 (A=0 C=1 G=2 T=3).
    genes
        DataFrame: ``gene_id`` (``sim00000``...), ``label`` (float64), ``sim_class`` (int,
        :data:`CLASSES`), ``n_sites`` (plants incl. decoys), ``n_active_sites``,
        ``n_pair_instances`` (functional cooperative instances), ``gc``, ``cpg_ratio``
        (realised promoter composition).
    ground_truth
        The ``ground_truth.json`` dict (module docstring); JSON-serialisable.
    """
    check_generator_config(gen_cfg)
    N, L, tss = _geometry(n_genes, length, tss_index)
    ss = np.random.SeedSequence(int(seed))
    r_motif, r_effect, r_synth, r_comp, r_bg, r_sites, r_place, r_noise, r_null = (
        np.random.default_rng(x) for x in ss.spawn(9)
    )

    specs, pairs, matrices, info = _draw_grammar(gen_cfg, jaspar_release, r_motif, r_effect, r_synth)
    widths = {mid: mo.width for mid, mo in matrices.items()}
    check_pair_windows(pairs, widths, L, tss)
    codes, bg_gc, bg_cpg = gene_backgrounds(gen_cfg["composition"], N, L, r_comp, r_bg)
    plants_all = plant_genes(codes, specs, pairs, matrices, gen_cfg, tss, widths, r_sites, r_place)

    # ground truth
    gc_real, cpg_real = gene_composition(codes)
    confound = _confound(gen_cfg["confound"], gc_real, cpg_real)
    ids = [f"sim{i:0{max(5, len(str(N - 1)))}d}" for i in range(N)]
    gt_motifs = _gt_motifs(specs)
    gt_pairs = [
        {**p, "window": list(p["window"]) if p["window"] else None, "effect": float(p["effect"])} for p in pairs
    ]
    gt: dict[str, Any] = {
        "length": L,
        "tss_index": tss,
        "seed": int(seed),
        "noise_sd": 0.0,
        "jaspar_release": jaspar_release,
        "motifs": gt_motifs,
        "pairs": gt_pairs,
        "classes": [{"class": c, "name": n, "description": d} for c, n, d in CLASSES],
        "genes": _gt_genes(ids, plants_all, specs, bg_gc, bg_cpg),
        "grammar": _grammar_block(gen_cfg, preset, jaspar_release, info, confound),
    }

    # labels
    clean = clean_labels(gt, codes)
    c = float(gen_cfg["r2_ceiling"])
    labels, sd, var_clean, perm = _draw_labels(clean, gen_cfg, N, r_noise, r_null)
    if perm is not None:
        gt["grammar"]["permutation"] = [int(x) for x in perm]
    realised = float(np.corrcoef(clean, labels)[0, 1] ** 2)
    gt["noise_sd"] = sd
    for g, v in zip(gt["genes"], clean, strict=True):
        g["clean_label"] = float(v)
    gt["grammar"].update(r2_ceiling_target=c, r2_ceiling=realised, clean_variance=var_clean)
    genes = _genes_table(ids, labels, gt, plants_all, pairs, gc_real, cpg_real)
    log.info(
        "generated grammar (seed %d): %s; pairs %s; realised r^2 ceiling %.3f (target %.3f), noise sd %.3f",
        int(seed),
        ", ".join(f"{m['name']} {m['role']} {m['effect']:+.2f}" for m in gt_motifs),
        ", ".join(f"{p['a_name']}-{p['b_name']} {p['mode']} {p['spacing']} {p['orientation']}" for p in gt_pairs),
        realised,
        c,
        sd,
    )
    return codes, genes, gt


def generate_from_config(sim_cfg: dict[str, Any]) -> tuple[np.ndarray, pd.DataFrame, dict[str, Any]]:
    """:func:`generate` for the validated ``dataset.simulate`` section with ``preset: hard``.

    The grammar from ``generator``; ``n_genes``, ``length``, ``tss_index``, ``seed``,
    ``jaspar_release`` and ``preset`` from the section itself.
    """
    return generate(
        sim_cfg["generator"],
        n_genes=int(sim_cfg["n_genes"]),
        length=int(sim_cfg["length"]),
        tss_index=sim_cfg["tss_index"],
        seed=int(sim_cfg["seed"]),
        jaspar_release=sim_cfg["jaspar_release"],
        preset=sim_cfg["preset"],
    )


def generator_meta(gt: dict[str, Any], codes: np.ndarray) -> dict[str, Any]:
    """The ``meta.json`` ``simulate`` block of a generated data set (grammar summary, composition)."""
    grammar = {k: v for k, v in gt["grammar"].items() if k != "permutation"}
    return {
        **grammar,
        "length": gt["length"],
        "tss_index": gt["tss_index"],
        "seed": gt["seed"],
        "jaspar_release": gt["jaspar_release"],
        "noise_sd": gt["noise_sd"],
        "motifs": [{k: v for k, v in m.items() if k != "pwm"} for m in gt["motifs"]],
        "pairs": gt["pairs"],
        "classes": gt["classes"],
        "observed_composition": composition(codes),
    }


def planted_matrices(gt: dict[str, Any]) -> list[Motif]:
    """The matrices of every planted motif of a ground truth: JASPAR ids from its release,
    synthetic motifs from their recorded ``pwm`` (``(4, w)``)."""
    from promoter_cr.seq.motifs import load_jaspar

    synth = [m for m in gt["motifs"] if m.get("pwm") is not None]
    jaspar_ids = [m["motif_id"] for m in gt["motifs"] if m.get("pwm") is None]
    found = (
        load_jaspar(release=gt["jaspar_release"], collection=None, tax_group=None, ids=jaspar_ids, non_redundant=False)
        if jaspar_ids
        else []
    )
    out = {m.motif_id: m for m in found}
    for m in synth:
        out[m["motif_id"]] = Motif(m["motif_id"], m.get("name", m["motif_id"]), np.asarray(m["pwm"], dtype=np.float64))
    return [out[m["motif_id"]] for m in gt["motifs"]]
