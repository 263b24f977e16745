"""Motif co-occurrence: which motif families sit close together in the same promoters, more than
chance allows, and the communities of that network.

*Nodes: one representative per motif family.* JASPAR holds many near-identical matrices
(SP/KLF, ETS, AP-1, ...); they match the same sites and would "co-occur" trivially. Motifs are
ordered (conditional activity calls in any cluster by smallest q, then marginal calls, then the
rest by smallest activity p; motifs with sites in fewer than ``cooccurrence_min_genes`` genes
dropped) and collapsed greedily: a motif whose Tomtom p against an already chosen
representative is below ``grammar.tomtom_threshold`` becomes a *member* of that family. At
most ``cooccurrence_max_motifs`` representatives form the network.

*One test unit per gene.* For a pair ``(a, b)`` the statistic is the number of genes holding a
site of ``a`` and a site of ``b`` that do not overlap and start at most
``cooccurrence_max_distance`` bp apart (sites: overlapping same-motif hits collapsed,
:mod:`promoter_cr.motifs.sites`).

*Null: keep what is not under test.* Each motif's sites are moved, as whole per-gene sets, to
another gene of the same *stratum* (the same cluster and the same tertile of promoter GC
content), independently per motif (``cooccurrence_permutations`` seeded permutations). This keeps
every motif's positions relative to the TSS, its per-gene site counts and its dependence on
composition and on the gene's cluster, and breaks only the link between the sites of ``a`` and
``b`` in one promoter. The observed count is compared with the permutation counts through a
negative binomial with their mean and variance (a Poisson when they are not overdispersed): an
analytic tail, so q-values are not limited by the number of permutations. BH over every pair
tested (pairs seen in fewer than ``cooccurrence_min_genes`` genes are not tested). An edge is
*significant* when ``q < fdr`` and the count exceeds its expectation.

Co-occurrence is a screen: it proposes the candidate pairs whose cooperativity and spacing the
in-silico experiments then measure on the model (:mod:`promoter_cr.motifs.insilico`).

*Communities.* Louvain (networkx ``louvain_communities``, seeded) on the significant edges,
weight ``log(observed / expected)``. Representatives without a significant edge get community
``-1``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from promoter_cr.motifs.sites import nearby_pairs
from promoter_cr.stats.fdr import bh_qvalues

log = logging.getLogger(__name__)

COOC_COLUMNS = [
    "motif_a", "motif_b", "motif_a_name", "motif_b_name", "n_a", "n_b", "observed", "expected",
    "null_sd", "odds_ratio", "p_value", "q_value", "significant",
]  # fmt: skip
#: permutations per chunk of the vectorised null
PERMUTATION_CHUNK = 16


def motif_priority(activity: pd.DataFrame) -> list[str]:
    """Motif ids ordered for the network: conditional calls (any cluster, by min q), then
    marginal calls, then the rest by smallest activity p-value; untested motifs dropped."""
    if activity.empty:
        return []
    a = activity.copy()
    a["called"] = a["effect"].isin(["activating", "repressive"])
    marg = a["marginal_effect"] if "marginal_effect" in a.columns else a["effect"]
    a["marginal"] = marg.isin(["activating", "repressive"])
    agg = a.groupby("motif_id", sort=False).agg(
        called=("called", "max"), marginal=("marginal", "max"), min_q=("q_value", "min"), min_p=("p_value", "min")
    )
    agg = agg[np.isfinite(agg["min_p"].to_numpy(dtype=float))]
    agg = agg.sort_values(["called", "marginal", "min_q", "min_p"], ascending=[False, False, True, True], kind="stable")
    return list(agg.index)


def select_representatives(
    priority: Sequence[str], similar: np.ndarray, max_motifs: int
) -> tuple[list[int], dict[int, int]]:
    """Greedy Tomtom-family collapse.

    ``priority`` is in order; ``similar`` ``(P, P)`` bool over the same order. A motif joins
    the network unless it is similar to an already chosen representative, in which case it is
    recorded as a member of that representative's family. Returns (chosen positions,
    ``{member position: representative position}``), at most ``max_motifs`` chosen.
    """
    chosen: list[int] = []
    member_of: dict[int, int] = {}
    for i in range(len(priority)):
        reps = [c for c in chosen if similar[i, c]]
        if reps:
            member_of[i] = reps[0]
            continue
        if len(chosen) < max_motifs:
            chosen.append(i)
    return chosen, member_of


def gene_strata(clusters: np.ndarray, gc: np.ndarray, n_bins: int = 3) -> np.ndarray:
    """``(N,)`` int64 stratum of each gene: its cluster crossed with its tertile (``n_bins``) of GC."""
    edges = np.quantile(gc, np.linspace(0, 1, n_bins + 1)[1:-1]) if len(gc) else []
    gc_bin = np.searchsorted(edges, gc, side="right")
    _, cl = np.unique(np.asarray(clusters).astype(str), return_inverse=True)
    return cl.astype(np.int64) * n_bins + gc_bin


def close_pair_genes(
    gene: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    motif: np.ndarray,
    n_motifs: int,
    max_distance: int,
    group: np.ndarray | None = None,
    n_groups: int = 1,
) -> np.ndarray:
    """``(n_groups, M, M)`` int64 counts of genes with a close, non-overlapping site pair of each motif pair.

    Sites are swept in (group, gene, start) order (:func:`promoter_cr.stats.fdr.nearby_pairs`);
    a gene counts once per motif pair however many close pairs it holds. Symmetric, zero diagonal.
    """
    grp = np.zeros(gene.size, np.int64) if group is None else np.asarray(group, np.int64)
    order = np.lexsort((start, gene, grp))
    g, s, e, m, gr = gene[order], start[order], end[order], motif[order], grp[order]
    keys = []
    n_genes = int(g.max()) + 1 if g.size else 1
    for idx, j in nearby_pairs(g, s, max_distance, group=gr):
        ok = (s[j] >= e[idx]) & (m[j] != m[idx])
        i2, j2 = idx[ok], j[ok]
        lo, hi = np.minimum(m[i2], m[j2]), np.maximum(m[i2], m[j2])
        keys.append(((gr[i2] * n_motifs + lo) * n_motifs + hi) * n_genes + g[i2])
    out = np.zeros(n_groups * n_motifs * n_motifs, dtype=np.int64)
    if keys:
        k = np.sort(np.concatenate(keys))
        first = np.ones(k.size, dtype=bool)
        first[1:] = k[1:] != k[:-1]
        out += np.bincount(k[first] // n_genes, minlength=out.size)
    c = out.reshape(n_groups, n_motifs, n_motifs)
    return c + c.transpose(0, 2, 1)


def permuted_genes(
    gene: np.ndarray, motif: np.ndarray, strata: np.ndarray, n_motifs: int, rng: np.random.Generator
) -> np.ndarray:
    """The new gene of every site when each motif's per-gene site sets move to random genes of the
    same stratum (an independent within-stratum permutation of the genes per motif)."""
    n_genes = strata.size
    perm = np.empty((n_motifs, n_genes), dtype=np.int64)
    order = np.argsort(strata, kind="stable")
    bounds = np.flatnonzero(np.diff(strata[order])) + 1
    for m in range(n_motifs):
        p = np.empty(n_genes, dtype=np.int64)
        for blk in np.split(order, bounds):
            p[blk] = rng.permutation(blk)
        perm[m] = p
    return perm[motif, gene]


def negative_binomial_sf(observed: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """``P(X >= observed)`` for X negative binomial with ``mean``/``var`` (Poisson when ``var <= mean``).

    ``mean`` is floored at 0.05 so a count never seen under the null still gets a finite p-value."""
    from scipy.stats import nbinom, poisson

    mean = np.maximum(mean, 0.05)
    over = var > mean * 1.0001
    p = poisson.sf(observed - 1, mean)
    if over.any():
        r = mean[over] ** 2 / (var[over] - mean[over])
        p[over] = nbinom.sf(observed[over] - 1, r, r / (r + mean[over]))
    return p


def cooccurrence_test(
    gene: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    motif: np.ndarray,
    strata: np.ndarray,
    motif_ids: Sequence[str],
    motif_names: Sequence[str],
    *,
    max_distance: int,
    permutations: int,
    min_genes: int,
    fdr: float,
    seed: int,
) -> pd.DataFrame:
    """Gene-level co-occurrence test of every pair of the ``M`` motifs (see the module docstring).

    ``gene``, ``start``, ``end``, ``motif`` are ``(S,)`` site arrays (motif: index into
    ``motif_ids``); ``strata`` ``(N,)`` the stratum of every gene (:func:`gene_strata`).
    Returns one row per pair with :data:`COOC_COLUMNS`, significant edges first.
    """
    m = len(motif_ids)
    if m < 2:
        return pd.DataFrame(columns=COOC_COLUMNS)
    gene, start, end, motif = (np.asarray(a, np.int64) for a in (gene, start, end, motif))
    observed = close_pair_genes(gene, start, end, motif, m, max_distance)[0]
    rng = np.random.default_rng(seed)
    total = np.zeros((m, m))
    total_sq = np.zeros((m, m))
    for s0 in range(0, permutations, PERMUTATION_CHUNK):
        n = min(PERMUTATION_CHUNK, permutations - s0)
        genes = np.concatenate([permuted_genes(gene, motif, strata, m, rng) for _ in range(n)])
        counts = close_pair_genes(
            genes,
            np.tile(start, n),
            np.tile(end, n),
            np.tile(motif, n),
            m,
            max_distance,
            group=np.repeat(np.arange(n), gene.size),
            n_groups=n,
        ).astype(np.float64)
        total += counts.sum(0)
        total_sq += (counts**2).sum(0)
    mean = total / max(permutations, 1)
    var = np.maximum(total_sq / max(permutations, 1) - mean**2, 0.0) * permutations / max(permutations - 1, 1)
    genes_with = np.bincount(np.unique(gene * m + motif) % m, minlength=m)
    ia, ib = np.triu_indices(m, k=1)
    obs, mu, vv = observed[ia, ib], mean[ia, ib], var[ia, ib]
    tested = obs >= min_genes
    p = np.full(obs.shape, np.nan)
    p[tested] = negative_binomial_sf(obs[tested], mu[tested], vv[tested])
    q = bh_qvalues(p)
    ids, names = np.asarray(motif_ids, dtype=object), np.asarray(motif_names, dtype=object)
    table = pd.DataFrame({
        "motif_a": ids[ia], "motif_b": ids[ib], "motif_a_name": names[ia], "motif_b_name": names[ib],
        "n_a": genes_with[ia], "n_b": genes_with[ib], "observed": obs, "expected": mu, "null_sd": np.sqrt(vv),
        "odds_ratio": obs / np.maximum(mu, 0.05), "p_value": p, "q_value": q,
    })  # fmt: skip
    table["significant"] = (np.nan_to_num(q, nan=1.0) < fdr) & (obs > mu)
    return table.sort_values(
        ["significant", "q_value", "odds_ratio"], ascending=[False, True, False], na_position="last", kind="stable"
    ).reset_index(drop=True)


def communities(
    cooc: pd.DataFrame,
    motif_ids: Sequence[str],
    motif_names: Sequence[str],
    *,
    seed: int,
    members: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Louvain communities on significant edges: motif_id, motif_name, community, degree,
    family_members (``;``-joined ids merged into each representative, if given).

    Motifs without a significant edge get community ``-1``; communities are numbered by
    decreasing size from 0.
    """
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(motif_ids)
    sig = cooc[cooc["significant"]] if len(cooc) else cooc
    for a, b, o, e in zip(
        sig.get("motif_a", []), sig.get("motif_b", []), sig.get("observed", []), sig.get("expected", [])
    ):
        g.add_edge(a, b, weight=float(np.log(max(o, 1e-9) / max(e, 1e-9))))
    comm = {mid: -1 for mid in motif_ids}
    connected = g.subgraph([n for n in g.nodes if g.degree(n) > 0])
    if connected.number_of_edges() > 0:
        parts = nx.community.louvain_communities(connected, weight="weight", seed=seed)
        parts = sorted(parts, key=lambda s: (-len(s), sorted(s)[0]))
        for i, part in enumerate(parts):
            for mid in part:
                comm[mid] = i
    return pd.DataFrame(
        {
            "motif_id": list(motif_ids),
            "motif_name": list(motif_names),
            "community": [comm[m] for m in motif_ids],
            "degree": [int(g.degree(m)) for m in motif_ids],
            "family_members": list(members) if members is not None else [""] * len(motif_ids),
        }
    )
