"""Planning and placing the planted elements of one gene (functional sites, pairs, decoys)."""

from __future__ import annotations

from typing import Any

import numpy as np

from promoter_cr.data.sources.simulate.design import DECOY_KINDS, DECOY_MAX_SHIFT, DECOY_MIN_SHIFT, N_SITES
from promoter_cr.data.sources.simulate.placement import place_gene
from promoter_cr.seq.encoding import reverse_complement_codes
from promoter_cr.seq.motifs import Motif


def _decoy_elements(
    pair: dict[str, Any], motifs: dict[str, Motif], rng: np.random.Generator
) -> list[tuple[str, int, str]]:
    """Sites ``(motif_id, offset, strand)`` of one decoy of ``pair`` (offsets from the element start)."""
    kinds = [k for k, _ in DECOY_KINDS]
    probs = np.array([p for _, p in DECOY_KINDS])
    kind = kinds[rng.choice(len(kinds), p=probs / probs.sum())]
    a, b, s = pair["a"], pair["b"], int(pair["spacing"])
    orient = pair["orientation"]
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


def _plan_gene(
    kinds: tuple[str, ...], sim_cfg: dict[str, Any], motifs: dict[str, Motif], rng: np.random.Generator
) -> list[dict[str, Any]]:
    """Elements of one gene: ``{"region", "sites": [(motif_id, offset, strand, role, active)], "pair": k | None}``
    (``k``: the functional pair's index in ``sim_cfg["pairs"]``)."""
    elements: list[dict[str, Any]] = []
    strands = "+-"
    for kind in kinds:
        lo, hi = N_SITES[kind]
        n = int(rng.integers(lo, hi + 1))
        for _ in range(n):
            if kind == "pair":
                k = int(rng.integers(len(sim_cfg["pairs"])))
                pair = sim_cfg["pairs"][k]
                o = pair["orientation"]
                sites = [(pair["a"], 0, o[0], "pair_a", True), (pair["b"], int(pair["spacing"]), o[1], "pair_b", True)]
                elements.append({"region": "pair", "sites": sites, "pair": k})
            else:
                ids = sim_cfg[kind]
                mid = ids[rng.integers(len(ids))]
                role = "activator" if kind == "activators" else "repressor"
                elements.append(
                    {
                        "region": kind,
                        "sites": [(mid, 0, strands[rng.integers(2)], role, True)],
                        "pair": None,
                    }
                )
    if sim_cfg["pairs"]:
        lo, hi = sim_cfg["n_decoys"]
        for _ in range(int(rng.integers(lo, hi + 1))):
            pair = sim_cfg["pairs"][rng.integers(len(sim_cfg["pairs"]))]
            sites = [(m, off, st, "decoy", False) for m, off, st in _decoy_elements(pair, motifs, rng)]
            elements.append({"region": "decoys", "sites": sites, "pair": None})
    return elements


def _place_gene(
    elements: list[dict[str, Any]],
    sim_cfg: dict[str, Any],
    motifs: dict[str, Motif],
    regions: dict[str, tuple[int, int]],
    rng: np.random.Generator,
) -> list[dict[str, Any]] | None:
    """Non-overlapping starts for the elements (the simulators' one placement,
    :func:`~promoter_cr.data.sources.simulate.placement.place_gene`, with each element's window its
    region); ``None`` when they do not fit or a decoy would complete a functional arrangement (re-plan)."""
    pairs = sim_cfg["pairs"]
    placed = [{**el, "window": regions[el["region"]]} for el in elements]
    widths = {mid: motifs[mid].width for el in elements for mid, *_ in el["sites"]}
    return place_gene(placed, pairs, {k: k for k in range(len(pairs))}, widths, rng)


class GeneMaker:
    """Plans, places and writes the plants of one gene into a background row."""

    def __init__(self, sim_cfg, motifs, regions, pools, rng):
        self.sim_cfg, self.motifs, self.regions, self.pools, self.rng = sim_cfg, motifs, regions, pools, rng

    def make(self, kinds: tuple[str, ...], row: np.ndarray) -> list[dict[str, Any]]:
        """Plant into ``row`` ``(L,)`` uint8 (modified in place); return the plants."""
        for _ in range(200):
            plants = _place_gene(
                _plan_gene(kinds, self.sim_cfg, self.motifs, self.rng),
                self.sim_cfg,
                self.motifs,
                self.regions,
                self.rng,
            )
            if plants is not None:
                break
        else:
            raise RuntimeError(
                "could not place the planted elements of a gene without overlap; use a longer window or fewer decoys"
            )
        for p in plants:
            site = self.pools[p["motif_id"]].draw()
            row[p["start"] : p["end"]] = site if p["strand"] == "+" else reverse_complement_codes(site)
        return plants
