"""Activating and repressive motifs: a paired test per gene, against composition-matched nulls.

For every motif and every cluster (and ``'all'`` genes):

*Sites.* FIMO hits of one motif that overlap in one gene are one site
(:mod:`promoter_cr.motifs.sites`). A site's *contribution* is the sum of the weighted features
under it; its *null* is the mean contribution of windows of the same width in the same gene,
within ``grammar.null_max_shift`` bp and matched for G/C and CpG content
(:mod:`promoter_cr.motifs.nulls`).

*One test unit per gene.* For each gene with at least one site, ``d_g`` = mean site contribution
minus mean null contribution. The genes' ``d_g`` are tested against 0 with the two-sided Wilcoxon
signed-rank test (paired: each gene is its own control); the effect size is the matched-pairs
rank-biserial correlation ``r = (W+ - W-) / (W+ + W-)`` in ``[-1, 1]`` (positive: the motif's
sites carry more contribution than matched windows of the same genes). A motif needs sites in at
least ``min_genes`` genes of the group to be tested. q-values: Benjamini-Hochberg over every
motif x cluster test made (``'all'`` included).

*Calls.* ``activating`` / ``repressive`` by the sign of ``r`` when ``q < fdr``,
``|r| >= min_effect``, the mean difference has the sign of ``r``, is at least
``min_label_fraction`` of the label's standard deviation (an effect size that matters for
expression) and at least ``min_relative_contribution`` of the largest one in the cluster
(significance alone calls weak passengers of the model on large sets).
Calls are then made *conditional* (:func:`conditional_calls`): within each
group and sign, from the strongest call down, a motif is re-tested on its sites that overlap no
site of an already accepted motif; a matrix whose signal comes only from the sites of a stronger,
overlapping call (a composite matrix on ELK1 sites, EGR on SP1 sites) is reported as
``explained_by`` that motif. ``fdr``, ``min_effect``, ``min_label_fraction`` and
``min_relative_contribution`` are schema settings (see benchmarks/README.md for how they were
chosen); nothing here is tuned to the data it scores.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from promoter_cr.stats.fdr import bh_qvalues

log = logging.getLogger(__name__)

ALL = "all"
ACTIVITY_COLUMNS = [
    "motif_id", "motif_name", "cluster", "n_hits", "n_genes", "mean_contribution", "null_mean",
    "mean_difference", "effect_size", "p_value", "q_value", "marginal_effect", "conditional_n_genes",
    "conditional_effect_size", "conditional_p_value", "explained_by", "effect", "note",
]  # fmt: skip


def paired_test(d: np.ndarray) -> tuple[float, float]:
    """Two-sided Wilcoxon signed-rank test of ``(n,)`` paired differences against 0.

    Returns ``(matched-pairs rank-biserial r, p)``; ``(0.0, 1.0)`` when every difference is 0.
    Exact p-values for small ``n`` (no ties), the normal approximation otherwise (scipy).
    """
    from scipy.stats import rankdata, wilcoxon

    d = np.asarray(d, dtype=np.float64)
    nz = d[d != 0]
    if nz.size == 0:
        return 0.0, 1.0
    ranks = rankdata(np.abs(nz))
    w_plus, w_minus = ranks[nz > 0].sum(), ranks[nz < 0].sum()
    r = float((w_plus - w_minus) / (w_plus + w_minus))
    p = float(wilcoxon(nz, alternative="two-sided", zero_method="wilcox").pvalue)
    return r, p


def gene_differences(
    gene: np.ndarray, contribution: np.ndarray, null: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per gene with sites: ``(genes (g,), mean site contribution (g,), mean null (g,))`` float64."""
    genes, inv = np.unique(np.asarray(gene), return_inverse=True)
    count = np.bincount(inv).astype(np.float64)
    c = np.bincount(inv, weights=np.asarray(contribution, dtype=np.float64)) / count
    n = np.bincount(inv, weights=np.asarray(null, dtype=np.float64)) / count
    return genes, c, n


def call_effects(
    table: pd.DataFrame, fdr: float, min_effect: float, min_relative: float, min_difference: float
) -> pd.Series:
    """``activating`` / ``repressive`` / ``none`` per row.

    A call needs ``q < fdr``, ``|effect_size| >= min_effect``, a ``mean_difference`` of the sign of
    the effect size (the call's sign agrees with the contributions), ``|mean_difference| >=
    min_difference`` (in label units: an effect that matters for expression; the grammar stage
    passes ``grammar.min_label_fraction`` times the label's standard deviation) and
    ``|mean_difference|`` at least ``min_relative`` times the largest ``|mean_difference|`` among
    the tested motifs of the same cluster (:func:`relative_difference`): with hundreds of genes a
    motif whose sites carry a consistent but tiny share of the model's contribution is significant,
    yet it is not a motif the model's predictions rest on.
    """
    q = table["q_value"].to_numpy(dtype=float)
    r = table["effect_size"].to_numpy(dtype=float)
    d = np.nan_to_num(table["mean_difference"].to_numpy(dtype=float))
    rel = relative_difference(table).to_numpy(dtype=float)
    sig = np.isfinite(q) & (q < fdr) & (np.abs(np.nan_to_num(r)) >= min_effect) & (np.nan_to_num(rel) >= min_relative)
    sig &= (np.sign(d) == np.sign(np.nan_to_num(r))) & (np.abs(d) >= min_difference)
    out = np.where(sig & (r > 0), "activating", np.where(sig & (r < 0), "repressive", "none"))
    return pd.Series(out, index=table.index, dtype=object)


def relative_difference(table: pd.DataFrame) -> pd.Series:
    """``|mean_difference|`` over the largest one among the tested rows (finite p) of each cluster."""
    diff = table["mean_difference"].abs().where(np.isfinite(table["p_value"].to_numpy(dtype=float)))
    top = diff.groupby(table["cluster"]).transform("max")
    return (diff / top.where(top > 0)).astype(float)


def _groups(clusters: Sequence[str]) -> list[tuple[str, int]]:
    return [(ALL, -1)] + [(str(c), i) for i, c in enumerate(clusters) if str(c) != ALL]


def motif_activity(
    motif_codes: np.ndarray,
    gene_index: np.ndarray,
    site_cluster: np.ndarray,
    contribution: np.ndarray,
    null_contribution: np.ndarray,
    motif_ids: Sequence[str],
    motif_names: Sequence[str],
    clusters: Sequence[str],
    *,
    fdr: float,
    min_genes: int,
    min_effect: float,
    min_relative: float,
    min_difference: float,
    start: np.ndarray | None = None,
    end: np.ndarray | None = None,
    n_genes: int | None = None,
    length: int | None = None,
) -> pd.DataFrame:
    """Activity table for every motif x (``'all'`` + each cluster), from *sites* (collapsed hits).

    Parameters
    ----------
    motif_codes, gene_index, site_cluster
        ``(S,)`` int: motif (index into ``motif_ids``), gene row and cluster (index into
        ``clusters``) of each site.
    contribution, null_contribution
        ``(S,)`` float: contribution of each site and of its matched null windows.
    start, end, n_genes, length
        With these, marginal calls are made conditional (:func:`conditional_calls`).

    Returns a DataFrame with :data:`ACTIVITY_COLUMNS`: ``n_hits`` counts sites, ``n_genes``
    genes with a site, ``mean_contribution`` / ``null_mean`` the means over those genes of the
    per-gene site and null means; untested rows have NaN p/q and a ``note``.
    """
    motif_codes = np.asarray(motif_codes)
    site_cluster = np.asarray(site_cluster)
    gene_index = np.asarray(gene_index)
    contribution = np.asarray(contribution)
    null_contribution = np.asarray(null_contribution)
    n_motifs = len(motif_ids)
    order = np.argsort(motif_codes, kind="stable")
    bounds = np.searchsorted(motif_codes[order], np.arange(n_motifs + 1))
    groups = _groups(clusters)
    rows = []
    for m in range(n_motifs):
        idx = order[bounds[m] : bounds[m + 1]]
        for c, ci in groups:
            sel = idx if ci < 0 else idx[site_cluster[idx] == ci]
            rows.append(
                {
                    "motif_id": motif_ids[m],
                    "motif_name": motif_names[m],
                    "cluster": c,
                    **_test_sites(gene_index[sel], contribution[sel], null_contribution[sel], min_genes),
                }
            )
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=ACTIVITY_COLUMNS)
    table["q_value"] = bh_qvalues(table["p_value"].to_numpy())
    table["marginal_effect"] = call_effects(table, fdr, min_effect, min_relative, min_difference)
    table["effect"] = table["marginal_effect"]
    for col in ("conditional_n_genes", "conditional_effect_size", "conditional_p_value"):
        table[col] = np.nan
    table["explained_by"] = ""
    if start is not None and end is not None and n_genes is not None and length is not None:
        conditional_calls(
            table,
            motif_codes,
            gene_index,
            site_cluster,
            np.asarray(start),
            np.asarray(end),
            contribution,
            null_contribution,
            list(motif_ids),
            groups,
            n_genes,
            length,
            fdr,
            min_genes,
            min_effect,
        )
    no_sites = table.loc[(table["cluster"] == ALL) & (table["n_hits"] == 0), "motif_id"]
    if len(no_sites):
        log.info("%d of %d motifs have no site at all (rows kept with note 'no sites')", len(no_sites), n_motifs)
    return table[ACTIVITY_COLUMNS]


def _test_sites(gene: np.ndarray, contribution: np.ndarray, null: np.ndarray, min_genes: int) -> dict:
    """The per-gene paired test of one motif in one group of genes (one activity row, without q)."""
    row = {
        "n_hits": int(gene.size),
        "n_genes": 0,
        "mean_contribution": np.nan,
        "null_mean": np.nan,
        "mean_difference": np.nan,
        "effect_size": np.nan,
        "p_value": np.nan,
        "note": "",
    }
    if gene.size == 0:
        row["note"] = "no sites"
        return row
    genes, c, n = gene_differences(gene, contribution, null)
    row.update(
        n_genes=int(genes.size),
        mean_contribution=float(c.mean()),
        null_mean=float(n.mean()),
        mean_difference=float((c - n).mean()),
    )
    if genes.size < min_genes:
        row["note"] = f"sites in fewer than min_genes={min_genes} genes; not tested"
    else:
        row["effect_size"], row["p_value"] = paired_test(c - n)
    return row


def conditional_calls(
    table: pd.DataFrame,
    motif_codes: np.ndarray,
    gene_index: np.ndarray,
    site_cluster: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    contribution: np.ndarray,
    null_contribution: np.ndarray,
    motif_ids: list[str],
    groups: list[tuple[str, int]],
    n_genes: int,
    length: int,
    fdr: float,
    min_genes: int,
    min_effect: float,
) -> None:
    """Keep only calls not explained by an overlapping, stronger call (in place on ``table``).

    Within each group (``'all'``, each cluster) and sign, the marginal calls are visited by
    decreasing ``|effect_size|`` (then p); each is re-tested (per gene, paired) on its sites that
    overlap no site of an already *accepted* motif of the same sign in the same gene. It is
    accepted when that conditional test still has ``min_genes`` genes, ``p < fdr``, ``|r| >=
    min_effect`` and the same sign; otherwise its ``effect`` becomes ``none`` and
    ``explained_by`` names the accepted motif it overlaps most. ``marginal_effect`` keeps the
    unconditional call. One ``(n_genes, length)`` owner mask is reused per group and sign.
    """
    order = np.argsort(motif_codes, kind="stable")
    bounds = np.searchsorted(motif_codes[order], np.arange(len(motif_ids) + 1))
    pos = {m: i for i, m in enumerate(motif_ids)}
    max_w = int((end - start).max()) if end.size else 0
    owner = np.full((n_genes, length), -1, dtype=np.int32)
    cols = {
        c: table.columns.get_loc(c)
        for c in ("effect", "explained_by", "conditional_n_genes", "conditional_effect_size", "conditional_p_value")
    }
    ci_of = dict(groups)
    offs = np.arange(max_w)
    for all_group in (True, False):
        for sign, label in ((1, "activating"), (-1, "repressive")):
            owner[:] = -1
            sel_rows = table[(table["marginal_effect"] == label) & ((table["cluster"] == ALL) == all_group)]
            sel_rows = sel_rows.assign(_abs=-sel_rows["effect_size"].abs()).sort_values(
                ["_abs", "p_value"], kind="stable"
            )
            for ridx, row in sel_rows.iterrows():
                m = pos[row["motif_id"]]
                idx = order[bounds[m] : bounds[m + 1]]
                ci = ci_of[row["cluster"]]
                if ci >= 0:
                    idx = idx[site_cluster[idx] == ci]
                g, s, e = gene_index[idx], start[idx], end[idx]
                cover = s[:, None] + offs[None, :]
                valid = cover < e[:, None]
                cover = np.minimum(cover, length - 1)
                held = np.where(valid, owner[g[:, None], cover], -1)
                overl = (held >= 0).any(axis=1)
                keep = idx[~overl]
                res = _test_sites(gene_index[keep], contribution[keep], null_contribution[keep], min_genes)
                r, p = res["effect_size"], res["p_value"]
                ok = np.isfinite(p) and p < fdr and abs(r) >= min_effect and np.sign(r) == sign
                i = table.index.get_loc(ridx)
                table.iat[i, cols["conditional_n_genes"]] = res["n_genes"]
                table.iat[i, cols["conditional_effect_size"]] = r
                table.iat[i, cols["conditional_p_value"]] = p
                if ok:
                    owner[g[:, None], cover] = np.where(valid, m, owner[g[:, None], cover])
                else:
                    table.iat[i, cols["effect"]] = "none"
                    o = held[held >= 0]
                    if o.size:
                        table.iat[i, cols["explained_by"]] = motif_ids[int(np.bincount(o).argmax())]
