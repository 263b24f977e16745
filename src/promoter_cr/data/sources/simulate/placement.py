"""Placement of a generated grammar's sites in each gene (the ``hard`` preset's planting).

Each gene's plan (:func:`plan_gene`: functional singles, pair instances, decoys) is placed without
overlap (:func:`place_gene`, ``MIN_GAP`` free bases between elements, no decoy completing a
functional arrangement), re-planned up to :data:`PLAN_TRIES` times, and its sites are sampled from
the matrices and written into the codes (:func:`plant_genes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from promoter_cr.data.sources.simulate.design import MIN_GAP
from promoter_cr.data.sources.simulate.generator_config import KEY, ORIENTATIONS, config_error
from promoter_cr.data.sources.simulate.grammar import pair_instances
from promoter_cr.data.sources.simulate.scoring import SitePool
from promoter_cr.errors import ConfigError
from promoter_cr.seq.encoding import decode, reverse_complement_codes
from promoter_cr.seq.motifs import Motif

#: placement attempts per element, and re-plans per gene, before giving up
PLACE_TRIES = 100
PLAN_TRIES = 200

__all__ = ["PLACE_TRIES", "PLAN_TRIES", "abs_window", "check_pair_windows", "cooperative_specs", "plant_genes"]


def abs_window(w: tuple[int, int] | None, length: int, tss: int) -> tuple[int, int]:
    """The absolute ``[lo, hi)`` bp of a TSS-relative window in a ``length`` bp row (``None``: the whole row)."""
    if w is None:
        return 0, length
    return max(tss + w[0], 0), min(tss + w[1], length)


def plan_gene(specs, pairs, gen_cfg, length, tss, widths, rng) -> list[dict[str, Any]]:
    """Elements of one gene:
    ``{"window": (lo, hi), "sites": [(motif_id, offset, strand, role, active)], "pair": k | None}``.

    Functional elements come first (windowed before free), decoys last.
    """
    o, pc = gen_cfg["occupancy"], gen_cfg["pairs"]
    strands = "+-"
    functional: list[dict[str, Any]] = []
    for sp in specs:
        if sp["role"] == "pair" or rng.random() >= float(o["fraction"]):
            continue
        mid = sp["motif"].motif_id
        for _ in range(int(rng.integers(int(o["sites"][0]), int(o["sites"][1]) + 1))):
            functional.append(
                {
                    "window": abs_window(sp["window"], length, tss),
                    "sites": [(mid, 0, strands[rng.integers(2)], sp["role"], True)],
                    "pair": None,
                    "free": sp["window"] is None,
                }
            )
    for k, pr in enumerate(pairs):
        if rng.random() >= float(pc["fraction"]):
            continue
        win = abs_window(pr["window"], length, tss)
        if pr["mode"] == "cooperative":
            o2 = pr["orientation"]
            sites = [(pr["a"], 0, o2[0], "pair_a", True), (pr["b"], pr["spacing"], o2[1], "pair_b", True)]
            functional.append({"window": win, "sites": sites, "pair": k, "free": pr["window"] is None})
        else:
            first, second = ("a", "b") if rng.random() < 0.5 else ("b", "a")
            lo = max(int(pr["spacing_range"][0]), widths[pr[first]])
            hi = int(pr["spacing_range"][1])
            sp_ = int(rng.integers(lo, max(hi, lo) + 1))
            sites = [
                (pr[first], 0, strands[rng.integers(2)], f"pair_{first}", True),
                (pr[second], sp_, strands[rng.integers(2)], f"pair_{second}", True),
            ]
            functional.append({"window": win, "sites": sites, "pair": None, "free": pr["window"] is None})
    functional.sort(key=lambda el: el["free"])  # windowed first (stable)
    decoys: list[dict[str, Any]] = []
    if pairs:
        kinds = list(pc["decoy_weights"])
        probs = np.array([float(pc["decoy_weights"][k]) for k in kinds])
        shift_lo, shift_hi = int(pc["decoy_shift"][0]), int(pc["decoy_shift"][1])
        for _ in range(int(rng.integers(int(pc["decoys"][0]), int(pc["decoys"][1]) + 1))):
            pr = pairs[int(rng.integers(len(pairs)))]
            if pr["mode"] == "additive":  # lone partners, which count
                side = "a" if rng.random() < 0.5 else "b"
                decoys.append(
                    {
                        "window": (0, length),
                        "sites": [(pr[side], 0, strands[rng.integers(2)], f"pair_{side}", True)],
                        "pair": None,
                        "free": True,
                    }
                )
                continue
            kind = kinds[int(rng.choice(len(kinds), p=probs / probs.sum()))]
            a, b, s_, orient = pr["a"], pr["b"], int(pr["spacing"]), pr["orientation"]
            if kind == "half_a":
                sites = [(a, 0, strands[rng.integers(2)])]
            elif kind == "half_b":
                sites = [(b, 0, strands[rng.integers(2)])]
            elif kind == "wrong_spacing":
                shifts = [d for d in range(-shift_hi, shift_hi + 1) if abs(d) >= shift_lo and s_ + d >= widths[a]]
                sites = (
                    [(a, 0, orient[0]), (b, s_ + int(shifts[rng.integers(len(shifts))]), orient[1])]
                    if shifts
                    else [(a, 0, strands[rng.integers(2)])]
                )
            else:
                other = [x for x in ORIENTATIONS if x != orient][int(rng.integers(3))]
                sites = [(a, 0, other[0]), (b, s_, other[1])]
            decoys.append(
                {
                    "window": (0, length),
                    "sites": [(mid, off, st, "decoy", False) for mid, off, st in sites],
                    "pair": None,
                    "free": True,
                }
            )
    return functional + decoys


def place_gene(
    elements, coop: list[dict[str, Any]], coop_index: dict[int, int], widths: dict[str, int], rng
) -> list[dict[str, Any]] | None:
    """Non-overlapping starts for the elements (``MIN_GAP`` free bases between elements), each inside its
    ``window`` (``(lo, hi)`` bp); ``None`` when they do not fit or a decoy would complete a functional
    arrangement: after every element, each cooperative pair of ``coop`` (:func:`~.grammar.pair_instances`
    specs) must have exactly as many instances as elements placed for it (``el["pair"]``, mapped by
    ``coop_index``). Both presets place through it."""
    plants: list[dict[str, Any]] = []
    occupied: list[tuple[int, int]] = []
    n_func = [0] * len(coop)
    for el in elements:
        offs = [off for _, off, *_ in el["sites"]]
        first = min(offs)
        span = max(off + widths[mid] for mid, off, *_ in el["sites"]) - first
        lo, hi = el["window"]
        if hi - lo < span:
            return None
        if el["pair"] is not None:
            n_func[coop_index[el["pair"]]] += 1
        for _ in range(PLACE_TRIES):
            start = int(rng.integers(lo, hi - span + 1)) - first
            a, b = start + first, start + first + span
            if any(a < e + MIN_GAP and s < b + MIN_GAP for s, e in occupied):
                continue
            trial = plants + [
                {
                    "motif_id": mid,
                    "start": start + off,
                    "end": start + off + widths[mid],
                    "strand": st,
                    "role": role,
                    "active": act,
                }
                for mid, off, st, role, act in el["sites"]
            ]
            if any(len(pair_instances(trial, p)) != n for p, n in zip(coop, n_func, strict=True)):
                continue
            plants = trial
            occupied.append((a, b))
            break
        else:
            return None
    return sorted(plants, key=lambda p: (p["start"], p["motif_id"]))


def check_pair_windows(pairs: Sequence[dict[str, Any]], widths: dict[str, int], length: int, tss: int) -> None:
    """Raise :class:`ConfigError` when a pair's window (absolute) cannot hold the pair at its (smallest) spacing."""
    for pr in pairs:
        need = (
            pr["spacing"]
            if pr["mode"] == "cooperative"
            else max(pr["spacing_range"][0], widths[pr["a"]], widths[pr["b"]])
        ) + max(widths[pr["a"]], widths[pr["b"]])
        lo, hi = abs_window(pr["window"], length, tss)
        if hi - lo < need:
            raise config_error(
                "pairs.window",
                f"{hi - lo} bp of the {length} bp window hold no pair {pr['a_name']}-{pr['b_name']} ({need} bp)",
            )


def cooperative_specs(pairs: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """The cooperative pairs as :func:`~.grammar.pair_instances` specs, and ``{pair index: index among them}``."""
    coop = [
        {"a": p["a"], "b": p["b"], "spacing": p["spacing"], "orientation": p["orientation"]}
        for p in pairs
        if p["mode"] == "cooperative"
    ]
    coop_index = {k: i for i, k in enumerate(k for k, p in enumerate(pairs) if p["mode"] == "cooperative")}
    return coop, coop_index


def _plan_and_place(
    specs: list[dict[str, Any]],
    pairs: list[dict[str, Any]],
    gen_cfg: dict[str, Any],
    length: int,
    tss: int,
    widths: dict[str, int],
    coop: list[dict[str, Any]],
    coop_index: dict[int, int],
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """The placed plants of one gene (:func:`plan_gene` + :func:`place_gene`, up to ``PLAN_TRIES`` re-plans)."""
    for _ in range(PLAN_TRIES):
        plants = place_gene(plan_gene(specs, pairs, gen_cfg, length, tss, widths, rng), coop, coop_index, widths, rng)
        if plants is not None:
            return plants
    raise ConfigError(
        f"invalid config: {KEY}: could not place the planted elements of a gene without overlap; "
        "use a longer window, wider motif windows or fewer sites"
    )


def _write_sites(row: np.ndarray, plants: list[dict[str, Any]], pools: dict[str, SitePool]) -> None:
    """Draw one site per plant from its motif's pool and write it into ``row`` (``(L,)`` uint8, in place).

    A ``-`` plant gets the reverse complement; each plant records its ``site`` (motif orientation, ACGT string).
    """
    for p in plants:
        site = pools[p["motif_id"]].draw()
        row[p["start"] : p["end"]] = site if p["strand"] == "+" else reverse_complement_codes(site)
        p["site"] = decode(site)


def plant_genes(
    codes: np.ndarray,
    specs: list[dict[str, Any]],
    pairs: list[dict[str, Any]],
    matrices: dict[str, Motif],
    gen_cfg: dict[str, Any],
    tss: int,
    widths: dict[str, int],
    rng_sites: np.random.Generator,
    rng_place: np.random.Generator,
) -> list[list[dict[str, Any]]]:
    """Plan, place and write the plants of every gene into ``codes`` (``(N, L)`` uint8, in place).

    Sites come from one :class:`SitePool` per motif (``rng_sites``), placement from ``rng_place``.
    Returns the plants of each gene (sorted by start).
    """
    pools = {mid: SitePool(mo, 1.0, None, rng_sites) for mid, mo in matrices.items()}
    coop, coop_index = cooperative_specs(pairs)
    length = codes.shape[1]
    plants_all: list[list[dict[str, Any]]] = []
    for i in range(codes.shape[0]):
        plants = _plan_and_place(specs, pairs, gen_cfg, length, tss, widths, coop, coop_index, rng_place)
        _write_sites(codes[i], plants, pools)
        plants_all.append(plants)
    return plants_all
