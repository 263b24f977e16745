"""Faithfulness of CR weighted features against classic attributions of the same model.

On a seeded sample of genes the exported weighted features (one number per position)
are compared with two attributions of the *same* model's prediction:

``ism_mean`` / ``ism_max``
    In-silico mutagenesis. For every position with a base (not N), the three
    alternative bases are substituted one at a time (``3 L`` mutants per sequence,
    batched over genes and positions). The score of the reference base is
    ``pred(ref) - mean_alt pred(alt)`` (``ism_mean``) or ``pred(ref) - pred(alt*)`` for
    the alternative ``alt*`` whose change is largest in magnitude (``ism_max``); both
    are positive where the base present raises the prediction, the sign convention of
    the weighted features. N positions score 0 (their weighted feature is 0 as well).
``grad_x_input``
    Gradient of the prediction with respect to the one-hot input, times the input,
    summed over the four bases (one backward pass per batch).

tangermeme's ``saturation_mutagenesis`` centres the substitution effects over all four
characters and its hooks expect a tensor output; the two definitions above are what the
comparison needs and are a few vectorised torch lines, so they are implemented here.

Per gene and method: Pearson and Spearman correlation of the per-position tracks and the
top-k overlap (the fraction of CR's top-k ``|contribution|`` positions that are also in
the method's top-k ``|score|`` positions; ``k / P`` is its expectation for random
tracks). For sequences longer than ``ism_max_positions`` the comparison (all methods)
uses the window of that many positions centred on the TSS (each mutant is still a full
sequence).

On the simulated set (``ground_truth.json`` in the data folder) :func:`planted_mass`
measures, per gene, the fraction of absolute contribution inside the ACTIVE planted
sites against those sites' share of the sequence length.

Outputs (``out_dir``): ``faithfulness.tsv`` (gene_id, method, pearson, spearman,
topk_overlap), ``faithfulness_summary.tsv`` (method, metric, n, mean, median, sd, q25,
q75), and for the simulator ``planted_mass.tsv`` (gene_id, class,
site_fraction_of_length, contribution_fraction, n_active_sites).
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.atomic import write_tsv
from promoter_cr.chunks import iter_chunks
from promoter_cr.data.dataset import Dataset, load_dataset
from promoter_cr.errors import InputDataError
from promoter_cr.interpret.attribute import extra_matrix, load_attributions, model_extra_features
from promoter_cr.layout import AttributionFiles, DataFiles
from promoter_cr.models.inference import Predictor

log = logging.getLogger(__name__)

METHODS = ("ism_mean", "ism_max", "grad_x_input")


# ----------------------------------------------------------------------------- model calls
def ism(
    predictor: Predictor, codes: np.ndarray, positions: np.ndarray | None = None, *, extra: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """In-silico mutagenesis of every position in ``positions``.

    Parameters
    ----------
    codes
        ``(G, L)`` uint8 sequence codes.
    positions
        ``(P,)`` int positions to mutate (default: all ``L``).
    extra
        ``(G, F)`` float32 extra features or ``None``.

    The mutants run through :func:`promoter_cr.interpret.saturation.snv_scan`, the package's one
    mutagenesis: the same mutant gives the same number here and in saturation mutagenesis.

    Returns
    -------
    (ism_mean, ism_max)
        Two ``(G, P)`` float64 arrays: ``pred(ref) - mean over the 3 alternatives`` and
        ``pred(ref) - pred(alternative with the largest |change|)``; 0 at N positions.
    """
    from promoter_cr.interpret.saturation import snv_scan

    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    g, length = codes.shape
    positions = np.arange(length) if positions is None else np.asarray(positions, dtype=np.int64)
    scan = snv_scan(predictor, codes, positions, extra=extra, desc="ISM")
    d = scan.delta.reshape(-1, 3)  # (n_mutable, 3): pred(alt) - pred(ref)
    gi, pi = scan.gene[::3], scan.pidx[::3]
    ism_mean = np.zeros((g, len(positions)), dtype=np.float64)
    ism_max = np.zeros((g, len(positions)), dtype=np.float64)
    ism_mean[gi, pi] = -d.mean(1)
    ism_max[gi, pi] = -d[np.arange(len(d)), np.abs(d).argmax(1)]
    return ism_mean, ism_max


def grad_x_input(predictor: Predictor, codes: np.ndarray, *, extra: np.ndarray | None = None) -> np.ndarray:
    """Gradient x input of the prediction, summed over the 4 bases.

    Needs gradients, so it runs its own loop (not :meth:`Predictor.batches`, which is inference
    only), in batches of a quarter of the predictor's batch size (the backward pass holds the
    activations).

    Parameters
    ----------
    codes
        ``(G, L)`` uint8 codes.

    Returns
    -------
    np.ndarray
        ``(G, L)`` float64: ``sum_b x_b,i * d pred / d x_b,i`` (the gradient at the base present).
    """
    import torch

    from promoter_cr.models.inference import prediction_of
    from promoter_cr.seq.encoding import one_hot_torch

    dev, model = predictor.device, predictor.model
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    out = np.empty(codes.shape, dtype=np.float64)
    with torch.inference_mode(False), torch.enable_grad():
        for s in iter_chunks(len(codes), max(1, predictor.batch_size // 4)):
            x = one_hot_torch(torch.from_numpy(codes[s]).to(dev)).requires_grad_(True)
            h = None if extra is None else torch.from_numpy(np.ascontiguousarray(extra[s], dtype=np.float32)).to(dev)
            pred = prediction_of(model(x, h))
            (grad,) = torch.autograd.grad(pred.sum(), x)
            out[s] = (grad * x).sum(1).detach().double().cpu().numpy()
    return out


# ----------------------------------------------------------------------------- statistics
def _rowwise_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of matching rows of two ``(G, P)`` arrays; NaN for a constant row."""
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    den = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b).sum(1) / den
    r[den == 0] = np.nan
    return np.clip(r, -1.0, 1.0)


def rowwise_correlations(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pearson, spearman), each ``(G,)``, of matching rows of ``(G, P)`` arrays (average ranks for ties)."""
    from scipy.stats import rankdata

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return _rowwise_pearson(a, b), _rowwise_pearson(rankdata(a, axis=1), rankdata(b, axis=1))


def topk_overlap(reference: np.ndarray, other: np.ndarray, k: int) -> np.ndarray:
    """Fraction of the top-``k`` ``|reference|`` positions that are among the top-``k`` ``|other|`` ones.

    ``reference``, ``other``: ``(G, P)``; ``k`` is capped at ``P``. Returns ``(G,)`` in [0, 1]
    (``k / P`` expected for unrelated tracks). Ties are broken by position (stable sort).
    """
    g, p = reference.shape
    k = min(k, p)
    if k == 0:
        return np.full(g, np.nan)
    top_a = np.argsort(-np.abs(reference), axis=1, kind="stable")[:, :k]
    top_b = np.argsort(-np.abs(other), axis=1, kind="stable")[:, :k]
    mask_b = np.zeros((g, p), dtype=bool)
    np.put_along_axis(mask_b, top_b, True, axis=1)
    return np.take_along_axis(mask_b, top_a, axis=1).sum(1) / k


def compare_tracks(gene_ids: np.ndarray, cr: np.ndarray, others: dict[str, np.ndarray], top_k: int) -> pd.DataFrame:
    """Per gene and method: pearson, spearman, topk_overlap of ``cr`` ``(G, P)`` against each ``(G, P)`` track."""
    frames = []
    for method, track in others.items():
        pr, sr = rowwise_correlations(cr, track)
        frames.append(
            pd.DataFrame(
                {
                    "gene_id": gene_ids,
                    "method": method,
                    "pearson": pr,
                    "spearman": sr,
                    "topk_overlap": topk_overlap(cr, track, top_k),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def summarise(values: pd.Series | np.ndarray) -> dict[str, float]:
    """n, mean, median, sd, q25, q75 of the finite values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"n": 0, "mean": np.nan, "median": np.nan, "sd": np.nan, "q25": np.nan, "q75": np.nan}
    return {
        "n": int(v.size),
        "mean": float(v.mean()),
        "median": float(np.median(v)),
        "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0,
        "q25": float(np.quantile(v, 0.25)),
        "q75": float(np.quantile(v, 0.75)),
    }


def summary_table(
    per_gene: pd.DataFrame, top_k: int, n_positions: int, planted: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Long summary: one row per (method, metric) with n, mean, median, sd, q25, q75."""
    rows = []
    for method, sub in per_gene.groupby("method", sort=False):
        for metric in ("pearson", "spearman", "topk_overlap"):
            rows.append({"method": method, "metric": metric, **summarise(sub[metric])})
        chance = min(top_k, n_positions) / n_positions if n_positions else np.nan
        rows.append(
            {
                "method": method,
                "metric": "topk_overlap_chance",
                "n": len(sub),
                "mean": chance,
                "median": chance,
                "sd": 0.0,
                "q25": chance,
                "q75": chance,
            }
        )
    if planted is not None and len(planted):
        has = planted[planted["n_active_sites"] > 0]
        ratio = has["contribution_fraction"] / has["site_fraction_of_length"]
        for metric, vals in (
            ("site_fraction_of_length", has["site_fraction_of_length"]),
            ("contribution_fraction", has["contribution_fraction"]),
            ("enrichment", ratio),
            ("fraction_genes_enriched", (has["contribution_fraction"] > has["site_fraction_of_length"]).astype(float)),
        ):
            rows.append({"method": "planted_mass", "metric": metric, **summarise(vals)})
    return pd.DataFrame(rows, columns=["method", "metric", "n", "mean", "median", "sd", "q25", "q75"])


# ----------------------------------------------------------------------------- planted sites
def active_site_mask(plants: list[list[tuple[int, int]]], length: int) -> np.ndarray:
    """``(G, L)`` bool mask of the union of ``[start, end)`` intervals per gene (clipped to the window)."""
    g = len(plants)
    diff = np.zeros((g, length + 1), dtype=np.int32)
    rows = [i for i, sites in enumerate(plants) for _ in sites]
    if rows:
        starts = np.clip([s for sites in plants for s, _ in sites], 0, length)
        ends = np.clip([e for sites in plants for _, e in sites], 0, length)
        np.add.at(diff, (rows, starts), 1)
        np.add.at(diff, (rows, ends), -1)
    return np.cumsum(diff[:, :length], axis=1) > 0


def planted_mass(
    tracks: np.ndarray,
    gene_ids: np.ndarray,
    ground_truth: dict[str, Any],
    chunk: int = 512,
    path: str | Path | None = None,
) -> pd.DataFrame:
    """Fraction of absolute contribution inside the active planted sites of each gene.

    Parameters
    ----------
    tracks
        ``(n, L)`` weighted features (a memmap is read in chunks of ``chunk`` rows).
    gene_ids
        ``(n,)`` ids of the rows; genes absent from ``ground_truth["genes"]`` are skipped.
    ground_truth
        The simulator's ground_truth.json (``genes[*].plants[*]`` with start, end, active).

    Returns
    -------
    pd.DataFrame
        gene_id, class, site_fraction_of_length, contribution_fraction (NaN when the
        track is all zero), n_active_sites.
    """
    length = tracks.shape[1]
    if "genes" not in ground_truth:
        raise InputDataError(path, "ground truth lists no genes")
    truth = {str(g["gene_id"]): g for g in ground_truth["genes"]}
    if not truth:
        raise InputDataError(path, "ground truth lists no genes")
    out = []
    ids = np.asarray(gene_ids).astype(str)
    for s in iter_chunks(len(ids), chunk):
        keep = [i for i in range(s.start, s.stop) if ids[i] in truth]
        if not keep:
            continue
        genes = [truth[ids[i]] for i in keep]
        sites = [
            [(int(p["start"]), int(p["end"])) for p in g.get("plants", []) if p.get("active", False)] for g in genes
        ]
        mask = active_site_mask(sites, length)
        a = np.abs(np.asarray(tracks[keep], dtype=np.float64))
        total = a.sum(1)
        inside = (a * mask).sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(total > 0, inside / total, np.nan)
        out.append(
            pd.DataFrame(
                {
                    "gene_id": ids[keep],
                    "class": [g.get("class") for g in genes],
                    "site_fraction_of_length": mask.sum(1) / length,
                    "contribution_fraction": frac,
                    "n_active_sites": [len(x) for x in sites],
                }
            )
        )
    if not out:
        raise InputDataError(path, "no exported gene appears in the ground truth")
    return pd.concat(out, ignore_index=True)


# ----------------------------------------------------------------------------- driver
def comparison_positions(length: int, tss_index: int | None, max_positions: int | None) -> np.ndarray:
    """Positions compared: all of them, or ``max_positions`` centred on the TSS (or the window centre)."""
    if max_positions is None or max_positions >= length:
        return np.arange(length)
    centre = length // 2 if tss_index is None else int(tss_index)
    start = int(np.clip(centre - max_positions // 2, 0, length - max_positions))
    return np.arange(start, start + max_positions)


def sample_genes(n: int, n_genes: int, seed: int) -> np.ndarray:
    """Seeded sample of ``min(n, n_genes)`` row indices, sorted."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=min(n, n_genes), replace=False))


def faithfulness_from_model(
    predictor: Predictor,
    codes: np.ndarray,
    cr_tracks: np.ndarray,
    gene_ids: np.ndarray,
    *,
    top_k: int,
    extra: np.ndarray | None = None,
    positions: np.ndarray | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Compare ``cr_tracks`` ``(G, L)`` with ISM and gradient x input of the model on ``codes`` ``(G, L)``.

    Returns the per-gene table (gene_id, method, pearson, spearman, topk_overlap) and the
    ``(G, P)`` tracks by method (``cr`` included) over ``positions``.
    """
    length = codes.shape[1]
    positions = np.arange(length) if positions is None else np.asarray(positions)
    im, ix = ism(predictor, codes, positions, extra=extra)
    gx = grad_x_input(predictor, codes, extra=extra)[:, positions]
    cr = np.asarray(cr_tracks, dtype=np.float64)[:, positions]
    tracks = {"ism_mean": im, "ism_max": ix, "grad_x_input": gx}
    return compare_tracks(np.asarray(gene_ids), cr, tracks, top_k), {"cr": cr, **tracks}


def cr_contributions(predictor: Predictor, codes: np.ndarray, extra: np.ndarray | None) -> np.ndarray:
    """``(G, L)`` float64 weighted features of ``codes`` under the predictor's CR model (one batched pass)."""
    out = np.empty(codes.shape, dtype=np.float64)
    for sl, res in predictor.batches(codes, extra=extra, what=("prediction", "contributions")):
        out[sl] = res.contributions
    return out


def _data_rows_of(ds: Dataset, wf: np.ndarray, table: pd.DataFrame, attr: AttributionFiles) -> pd.Series:
    """Row in the data set (int64) of each gene id, after checking the ``(n, L)`` tracks and the
    attribution table against the data set (:class:`InputDataError` otherwise)."""
    if wf.shape[1] != ds.length:
        raise InputDataError(
            attr.weighted_features, f"tracks are {wf.shape[1]} bp but the data set's sequences are {ds.length} bp"
        )
    row_of = pd.Series(np.arange(ds.n), index=ds.genes["gene_id"].astype(str).to_numpy())
    missing = ~table["gene_id"].isin(row_of.index)
    if missing.any():
        raise InputDataError(attr.table, "gene not in the data set", record=f"gene {table['gene_id'][missing].iloc[0]}")
    return row_of


def _write_planted_mass(
    data: DataFiles, out: AttributionFiles, wf: np.ndarray, table: pd.DataFrame
) -> pd.DataFrame | None:
    """On the simulator (``ground_truth.json`` present): write and log ``planted_mass.tsv`` of the
    exported ``(n, L)`` tracks and return it; ``None`` otherwise."""
    if not data.ground_truth.exists():
        return None
    planted = planted_mass(
        wf, table["gene_id"].to_numpy(), json.loads(data.ground_truth.read_text()), path=data.ground_truth
    )
    write_tsv(out.planted_mass, planted, float_format="%.6g")
    has = planted[planted["n_active_sites"] > 0]
    log.info(
        "planted mass: active sites cover %.1f%% of the sequence on average and "
        "hold %.1f%% of the absolute contribution (%d genes)",
        100 * has["site_fraction_of_length"].mean(),
        100 * has["contribution_fraction"].mean(),
        len(has),
    )
    return planted


def _log_faithfulness(per_gene: pd.DataFrame, top_k: int) -> None:
    """Log the median pearson, spearman and top-k overlap of each method."""
    for method, sub in per_gene.groupby("method", sort=False):
        log.info(
            "faithfulness %s: median pearson %.3f, spearman %.3f, top-%d overlap %.3f",
            method,
            sub["pearson"].median(),
            sub["spearman"].median(),
            top_k,
            sub["topk_overlap"].median(),
        )


def evaluate_faithfulness(
    checkpoint: str | Path,
    data_dir: str | Path,
    attr_dir: str | Path,
    out_dir: str | Path,
    attr_cfg: dict[str, Any],
    *,
    device: str | None,
    progress: bool = True,
) -> dict[str, Path]:
    """Write faithfulness.tsv, faithfulness_summary.tsv (and planted_mass.tsv for the simulator).

    Faithfulness is a property of one model: the CR weighted features, ISM and gradient x input
    all come from ``checkpoint`` on a seeded sample of the exported genes (the exported features
    may be cross-fitted, i.e. from other models). ``planted_mass`` measures the exported features
    (what the later stages read). ``attr_cfg`` is the validated ``attribution`` section
    (faithfulness_genes, top_k, seed, batch_size, ism_max_positions).
    """
    from promoter_cr.models.checkpoint import load_model

    data, attr, out = DataFiles(data_dir), AttributionFiles(attr_dir), AttributionFiles(out_dir)
    top_k = int(attr_cfg["top_k"])
    ds = load_dataset(data_dir)
    wf, table = load_attributions(attr_dir)
    row_of = _data_rows_of(ds, wf, table, attr)
    model, meta = load_model(checkpoint)
    extra_all = extra_matrix(ds, model_extra_features(meta))
    pick = sample_genes(len(table), int(attr_cfg["faithfulness_genes"]), int(attr_cfg["seed"]))
    data_rows = row_of.loc[table["gene_id"].to_numpy()[pick]].to_numpy()
    positions = comparison_positions(ds.length, ds.meta.get("tss_index"), attr_cfg["ism_max_positions"])
    log.info(
        "faithfulness: %d genes, %d positions each (%d ISM mutants)",
        len(pick),
        len(positions),
        3 * len(pick) * len(positions),
    )
    codes = np.asarray(ds.sequences[data_rows])
    extra = None if extra_all is None else extra_all[data_rows]
    predictor = Predictor(model, device, int(attr_cfg["batch_size"]), progress)
    per_gene, _ = faithfulness_from_model(
        predictor,
        codes,
        cr_contributions(replace(predictor, progress=False), codes, extra),
        table["gene_id"].to_numpy()[pick],
        extra=extra,
        positions=positions,
        top_k=top_k,
    )
    out.dir.mkdir(parents=True, exist_ok=True)
    paths = {"faithfulness": out.faithfulness, "summary": out.faithfulness_summary}
    planted = _write_planted_mass(data, out, wf, table)
    if planted is not None:
        paths["planted_mass"] = out.planted_mass
    write_tsv(out.faithfulness, per_gene, float_format="%.6g")
    write_tsv(out.faithfulness_summary, summary_table(per_gene, top_k, len(positions), planted), float_format="%.6g")
    _log_faithfulness(per_gene, top_k)
    return paths
