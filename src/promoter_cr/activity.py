"""Activating / repressive motifs and per-cluster motif enrichment.

Activity
--------
For every motif and every cluster (and ``'all'`` genes), the contributions of the motif's
hits (summed weighted features under each hit) are compared with a null by a two-sided
Mann-Whitney U test.

*Null.* Each hit carries the contribution of its own null window (written by the scan):
a window of the **same width in the same gene, shifted by a random ``width..null_max_shift``
bp** to either side. We chose this over (a) column-shuffled matrices, which need a second
full scan and whose hits land on different sequence/positions, and (b) uniformly placed
windows in the same gene, because CR weighted-feature tracks carry strong positional and
gene-level trends (promoter-proximal regions and CpG islands are broadly positive, silent
genes broadly negative). The local, gene-matched window controls for the gene (hence the
cluster and expression level), the distance to the TSS and the local composition, so what
remains is the motif's own effect. ``null_max_shift <= 0`` switches to uniform windows in
the gene.

*Effect size.* Rank-biserial correlation ``r = 2 U / (n_hits n_null) - 1`` in ``[-1, 1]``
(probability that a hit outranks a null window, rescaled): positive = activating.
``effect`` is ``activating`` / ``repressive`` by the sign of ``r`` when ``q < fdr``,
``|r| >= min_effect`` and ``n_hits >= min_hits``, else ``none``. q-values are
Benjamini-Hochberg over every motif x cluster test (``'all'`` included) that was run.

Enrichment
----------
Genes with at least one hit of a motif, inside a cluster versus the other genes:
hypergeometric (one-sided Fisher exact) tails in both directions, two-sided p = twice the
smaller tail (capped at 1), Haldane-corrected odds ratio, BH over motif x cluster.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .stats import bh_qvalues

log = logging.getLogger(__name__)

ALL = "all"
ACTIVITY_COLUMNS = [
    "motif_id", "motif_name", "cluster", "n_hits", "n_genes", "mean_contribution", "null_mean",
    "mean_difference", "effect_size", "p_value", "q_value", "effect", "note",
]


def rank_biserial_test(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Two-sided Mann-Whitney U of ``x`` vs ``y`` (asymptotic, tie-corrected).

    Returns ``(rank_biserial, p_value)``; ``rank_biserial > 0`` when ``x`` tends to exceed ``y``.
    A sample with no spread at all in either group (all values tied) gives ``(0.0, 1.0)``.
    """
    from scipy.stats import mannwhitneyu

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n1, n2 = x.size, y.size
    if n1 == 0 or n2 == 0:
        return float("nan"), float("nan")
    if np.ptp(np.concatenate([x, y])) == 0:
        return 0.0, 1.0
    res = mannwhitneyu(x, y, alternative="two-sided", method="asymptotic")
    r = 2.0 * float(res.statistic) / (n1 * n2) - 1.0
    return r, float(res.pvalue)


def call_effects(table: pd.DataFrame, fdr: float, min_effect: float, min_hits: int) -> pd.Series:
    """``activating`` / ``repressive`` / ``none`` per row of an activity table."""
    q = table["q_value"].to_numpy(dtype=float)
    r = table["effect_size"].to_numpy(dtype=float)
    n = table["n_hits"].to_numpy()
    sig = np.isfinite(q) & (q < fdr) & (np.abs(np.nan_to_num(r)) >= min_effect) & (n >= min_hits)
    out = np.where(sig & (r > 0), "activating", np.where(sig & (r < 0), "repressive", "none"))
    return pd.Series(out, index=table.index, dtype=object)


def motif_activity(
    motif_codes: np.ndarray,
    gene_index: np.ndarray,
    hit_cluster: np.ndarray,
    contribution: np.ndarray,
    null_contribution: np.ndarray,
    motif_ids: Sequence[str],
    motif_names: Sequence[str],
    clusters: Sequence[str],
    fdr: float = 0.05,
    min_hits: int = 10,
    min_effect: float = 0.0,
) -> pd.DataFrame:
    """Activity table for every motif x (``'all'`` + each cluster).

    Parameters
    ----------
    motif_codes
        ``(H,)`` int index into ``motif_ids`` of each hit.
    gene_index
        ``(H,)`` int gene row of each hit (only counted, for ``n_genes``).
    hit_cluster
        ``(H,)`` int index into ``clusters`` of each hit's gene.
    contribution, null_contribution
        ``(H,)`` float contribution of each hit and of its null window.
    clusters
        Cluster labels (a cluster without hits gets rows with ``n_hits = 0``); ``'all'`` is added.

    Returns a DataFrame with :data:`ACTIVITY_COLUMNS`; untested rows (fewer than
    ``min_hits`` hits) have NaN p/q and a ``note``.
    """
    motif_codes = np.asarray(motif_codes, dtype=np.int64)
    contribution = np.asarray(contribution, dtype=np.float64)
    null_contribution = np.asarray(null_contribution, dtype=np.float64)
    hit_cluster = np.asarray(hit_cluster, dtype=np.int64)
    gene_index = np.asarray(gene_index, dtype=np.int64)
    n_motifs = len(motif_ids)
    order = np.argsort(motif_codes, kind="stable")
    bounds = np.searchsorted(motif_codes[order], np.arange(n_motifs + 1))
    rows = []
    groups = [(ALL, -1)] + [(str(c), i) for i, c in enumerate(clusters) if str(c) != ALL]
    for m in range(n_motifs):
        idx = order[bounds[m] : bounds[m + 1]]
        for c, ci in groups:
            sel = idx if ci < 0 else idx[hit_cluster[idx] == ci]
            x, y = contribution[sel], null_contribution[sel]
            n = int(sel.size)
            row = {
                "motif_id": motif_ids[m], "motif_name": motif_names[m], "cluster": c, "n_hits": n,
                "n_genes": int(np.unique(gene_index[sel]).size),
                "mean_contribution": float(x.mean()) if n else np.nan,
                "null_mean": float(y.mean()) if n else np.nan,
                "effect_size": np.nan, "p_value": np.nan, "note": "",
            }
            row["mean_difference"] = row["mean_contribution"] - row["null_mean"] if n else np.nan
            if n == 0:
                row["note"] = "no hits"
            elif n < min_hits:
                row["note"] = f"fewer than min_hits={min_hits} hits; not tested"
            else:
                row["effect_size"], row["p_value"] = rank_biserial_test(x, y)
            rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=ACTIVITY_COLUMNS)
    table["q_value"] = bh_qvalues(table["p_value"].to_numpy())
    table["effect"] = call_effects(table, fdr, min_effect, min_hits)
    no_hits = table.loc[(table["cluster"] == ALL) & (table["n_hits"] == 0), "motif_id"]
    if len(no_hits):
        log.info("%d of %d motifs have no hit at all (rows kept with note 'no hits')", len(no_hits), n_motifs)
    return table[ACTIVITY_COLUMNS]


def motif_enrichment(
    motif_codes: np.ndarray,
    gene_index: np.ndarray,
    gene_clusters: np.ndarray,
    motif_ids: Sequence[str],
    motif_names: Sequence[str],
) -> pd.DataFrame:
    """Enrichment of genes with a hit of each motif in each cluster versus the other genes.

    ``gene_clusters`` is the ``(N,)`` cluster label of every gene of the data set (genes
    without hits count too). Returns columns motif_id, motif_name, cluster, genes_with_hit,
    cluster_size, rest_with_hit, rest_size, fraction_in, fraction_rest, odds_ratio,
    log2_enrichment, p_enriched, p_depleted, p_value, q_value, direction.
    """
    from scipy.stats import hypergeom

    gene_clusters = np.asarray(gene_clusters, dtype=object)
    levels, gcode = np.unique(gene_clusters.astype(str), return_inverse=True)
    n_genes, n_motifs, k = gene_clusters.size, len(motif_ids), len(levels)
    pairs = np.unique(np.asarray(gene_index, np.int64) * n_motifs + np.asarray(motif_codes, np.int64))
    g, m = pairs // n_motifs, pairs % n_motifs
    counts = np.zeros((n_motifs, k), dtype=np.int64)
    np.add.at(counts, (m, gcode[g]), 1)
    size = np.bincount(gcode, minlength=k).astype(np.int64)  # (k,)
    total = counts.sum(axis=1, keepdims=True)  # genes with a hit, per motif
    a = counts
    b = np.broadcast_to(size[None, :], a.shape) - a
    c = total - a
    d = (n_genes - size)[None, :] - c
    p_enr = hypergeom.sf(a - 1, n_genes, total, size[None, :])
    p_dep = hypergeom.cdf(a, n_genes, total, size[None, :])
    p = np.minimum(1.0, 2.0 * np.minimum(p_enr, p_dep))
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = ((a + 0.5) * (d + 0.5)) / ((b + 0.5) * (c + 0.5))
        f_in = a / np.maximum(size[None, :], 1)
        f_out = c / np.maximum((n_genes - size)[None, :], 1)
        l2 = np.log2((f_in + 1e-9) / (f_out + 1e-9))
    p = np.where(total > 0, p, np.nan)
    table = pd.DataFrame({
        "motif_id": np.repeat(np.asarray(motif_ids, dtype=object), k),
        "motif_name": np.repeat(np.asarray(motif_names, dtype=object), k),
        "cluster": np.tile(levels.astype(object), n_motifs),
        "genes_with_hit": a.ravel(), "cluster_size": np.tile(size, n_motifs),
        "rest_with_hit": c.ravel(), "rest_size": np.tile(n_genes - size, n_motifs),
        "fraction_in": f_in.ravel(), "fraction_rest": f_out.ravel(),
        "odds_ratio": odds.ravel(), "log2_enrichment": l2.ravel(),
        "p_enriched": p_enr.ravel(), "p_depleted": p_dep.ravel(), "p_value": p.ravel(),
    })
    table["q_value"] = bh_qvalues(table["p_value"].to_numpy())
    table["direction"] = np.where(table["fraction_in"] >= table["fraction_rest"], "enriched", "depleted")
    return table
