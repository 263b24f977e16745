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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.atomic import atomic_dir, write_json
from promoter_cr.data.dataset import write_dataset
from promoter_cr.data.sources.simulate.background import composition, markov_chain, sample_chain
from promoter_cr.data.sources.simulate.design import (
    CLASS_TEMPLATES,
    MAX_CLASSES,
    N_SITES,
    REFERENCE_REGIONS,
    check_config,
    class_definitions,
    class_regions,
    load_simulation_motifs,
    motif_ids,
    resolve_geometry,
)
from promoter_cr.data.sources.simulate.grammar import pair_instances, planted_function
from promoter_cr.data.sources.simulate.planting import GeneMaker
from promoter_cr.data.sources.simulate.scoring import SitePool, scan_scores, score_threshold, site_scores
from promoter_cr.data.sources.simulate.scrub import scrub, stray_matches
from promoter_cr.data.splits import apply_split
from promoter_cr.layout import DataFiles
from promoter_cr.seq.motifs import Motif

log = logging.getLogger(__name__)

__all__ = [
    "CLASS_TEMPLATES",
    "MAX_CLASSES",
    "N_SITES",
    "REFERENCE_REGIONS",
    "build",
    "class_definitions",
    "class_regions",
    "composition",
    "load_simulation_motifs",
    "markov_chain",
    "motif_ids",
    "pair_instances",
    "planted_function",
    "resolve_geometry",
    "scan_scores",
    "score_threshold",
    "simulate",
    "site_scores",
    "stray_matches",
]


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
    check_config(sim_cfg, motifs)
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

    codes = sample_chain(N, zones, chains, rng_bg)
    scrub_p = sim_cfg.get("scrub_p")
    pools = {}
    for m in motif_ids(sim_cfg):
        avoid = (
            []
            if scrub_p is None
            else [(motifs[o].pwm, score_threshold(motifs[o].pwm, scrub_p)) for o in motif_ids(sim_cfg) if o != m]
        )
        pools[m] = SitePool(motifs[m], float(sim_cfg["sharpen"]), sim_cfg.get("site_p"), rng_sites, avoid)
    maker = GeneMaker(sim_cfg, motifs, regions, pools, rng_place)
    plants = [maker.make(CLASS_TEMPLATES[c][1], codes[i]) for i, c in enumerate(classes)]

    planted_motifs = {m: motifs[m] for m in motif_ids(sim_cfg)}
    if sim_cfg.get("scrub_p") is not None:
        scrub(
            codes, plants, classes, planted_motifs, float(sim_cfg["scrub_p"]), zones, chains, maker, rng_bg, rng_scrub
        )

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
                "orientation": p["orientation"],
                "effect": float(p["effect"]),
                "mode": "cooperative",
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
    """The ground truth's ``motifs`` entries: activators, repressors, then each pair member once."""

    def entry(mid: str, role: str, effect: float) -> dict[str, Any]:
        return {"motif_id": mid, "name": motifs[mid].name, "role": role, "effect": effect, "width": motifs[mid].width}

    out = [entry(mid, "activator", float(sim_cfg["activator_effect"])) for mid in sim_cfg["activators"]]
    out += [entry(mid, "repressor", -float(sim_cfg["repressor_effect"])) for mid in sim_cfg["repressors"]]
    seen = set()
    for p in sim_cfg["pairs"]:
        for mid in (p["a"], p["b"]):
            if mid not in seen:
                seen.add(mid)
                # a pair member has no effect alone; its effect is the pair's, realised only jointly
                out.append(entry(mid, "pair", float(p["effect"])))
    return out


def _easy(sim_cfg: dict[str, Any]) -> tuple[np.ndarray, pd.DataFrame, dict[str, Any], dict[str, Any], list[str]]:
    """The easy preset: codes, genes, ground truth, meta.json ``simulate`` block, annotation columns."""
    codes, genes, gt = simulate(sim_cfg, load_simulation_motifs(sim_cfg))
    L, tss = resolve_geometry(sim_cfg)
    sim_meta = {
        **{k: v for k, v in sim_cfg.items() if k != "generator"},
        "tss_index": tss,
        "regions": {k: list(v) for k, v in class_regions(L, tss).items()},
        "classes": gt["classes"],
        "observed_composition": composition(codes),
    }
    return codes, genes, gt, sim_meta, ["sim_class"]


def _hard(sim_cfg: dict[str, Any]) -> tuple[np.ndarray, pd.DataFrame, dict[str, Any], dict[str, Any], list[str]]:
    """The hard preset: a fresh grammar drawn from the seed (:mod:`.generator`)."""
    from promoter_cr.data.sources.simulate.generator import generate_from_config, generator_meta

    codes, genes, gt = generate_from_config(sim_cfg)
    return codes, genes, gt, generator_meta(gt, codes), [c for c in genes.columns if c not in ("gene_id", "label")]


def build(cfg: dict[str, Any], out_dir: Path) -> None:
    """Simulate the data set of ``cfg`` (full validated config) into ``out_dir``.

    ``dataset.simulate.preset`` picks the fixed (easy) grammar or a fresh one drawn from the
    seed (hard). Writes ``ground_truth.json`` and, via :func:`promoter_cr.data.dataset.write_dataset`,
    ``sequences.npy``, ``genes.tsv`` (gene_id, label, split, annotation columns such as
    ``sim_class``) and ``meta.json`` (last), all into a folder that appears complete or not at all.
    """
    out_dir = Path(out_dir)
    sim_cfg = cfg["dataset"]["simulate"]
    codes, genes, gt, sim_meta, annotation = (_hard if sim_cfg["preset"] == "hard" else _easy)(sim_cfg)
    split, split_record = apply_split(genes, cfg["dataset"]["split"], has_source_split=False, path=None)
    genes.insert(2, "split", split)
    L, tss = int(gt["length"]), int(gt["tss_index"])
    meta = {
        "source": "simulate",
        "preset": sim_cfg["preset"],
        "tss_index": tss,
        "window": {"start": -tss, "end": L - tss, "relative_to": "TSS"},
        "simulate": sim_meta,
        "annotation_columns": annotation,
        "ground_truth": DataFiles(out_dir).ground_truth.name,
        "split": split_record,
    }
    with atomic_dir(out_dir) as tmp:
        write_json(DataFiles(tmp).ground_truth, gt)
        write_dataset(tmp, codes, genes, meta)
    comp = sim_meta["observed_composition"]
    log.info(
        "simulated (%s) %d genes x %d bp into %s (GC %.3f, CpG o/e %.3f)",
        sim_cfg["preset"],
        len(genes),
        L,
        out_dir,
        comp["gc"],
        comp["cpg_ratio"],
    )
