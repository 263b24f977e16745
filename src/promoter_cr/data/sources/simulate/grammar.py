"""The label function of planted grammars: sums of site effects plus cooperating pairs that act
only at their exact spacing and orientation. Evaluated from the ground truth alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def pair_instances(plants: Sequence[dict[str, Any]], pair: dict[str, Any]) -> list[tuple[int, int]]:
    """Indices ``(i, j)`` of plants forming ``pair``: motif a at ``i``, b at ``j``, exact spacing and orientation."""
    orient = pair["orientation"]
    out = []
    for i, p in enumerate(plants):
        if p["motif_id"] != pair["a"] or p["strand"] != orient[0]:
            continue
        for j, q in enumerate(plants):
            if (
                j != i
                and q["motif_id"] == pair["b"]
                and q["strand"] == orient[1]
                and q["start"] - p["start"] == pair["spacing"]
            ):
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
