"""Per-cluster motif enrichment: genes with a site of a motif inside a cluster versus the other genes.

Hypergeometric (one-sided Fisher exact) tails in both directions, two-sided p = twice the
smaller tail (capped at 1), Haldane-corrected odds ratio, BH over motif x cluster. The clusters
come from the weighted features, so enrichment describes the clusters; it is reported as
descriptive, like the expression differences between clusters.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from promoter_cr.stats.fdr import bh_qvalues


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
    table = pd.DataFrame(
        {
            "motif_id": np.repeat(np.asarray(motif_ids, dtype=object), k),
            "motif_name": np.repeat(np.asarray(motif_names, dtype=object), k),
            "cluster": np.tile(levels.astype(object), n_motifs),
            "genes_with_hit": a.ravel(),
            "cluster_size": np.tile(size, n_motifs),
            "rest_with_hit": c.ravel(),
            "rest_size": np.tile(n_genes - size, n_motifs),
            "fraction_in": f_in.ravel(),
            "fraction_rest": f_out.ravel(),
            "odds_ratio": odds.ravel(),
            "log2_enrichment": l2.ravel(),
            "p_enriched": p_enr.ravel(),
            "p_depleted": p_dep.ravel(),
            "p_value": p.ravel(),
        }
    )
    table["q_value"] = bh_qvalues(table["p_value"].to_numpy())
    table["direction"] = np.where(table["fraction_in"] >= table["fraction_rest"], "enriched", "depleted")
    return table
