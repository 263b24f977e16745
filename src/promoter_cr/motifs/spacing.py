"""The spacing stage: cooperativity and preferred spacings of candidate pairs, measured on the model.

Co-occurrence (:mod:`promoter_cr.motifs.cooccurrence`) is the screen: its significant edges,
strongest first, are the candidate pairs. For each (at most ``grammar.insilico_max_pairs``),
the pair is written into dinucleotide-shuffled promoters of the data set at every spacing and
orientation and the analysis model's interaction ``f(AB) - f(A) - f(B) + f(0)`` is measured
(:mod:`promoter_cr.motifs.insilico`, which holds the design and the tests). A is written at
the median start of its sites in the promoters (:func:`pair_anchors`), so the experiment
happens where the motif is found.

The tests' margin is ``grammar.insilico_min_contrast`` times the standard deviation of the
model's predictions over the background genes (unshuffled): an interaction smaller than that
is not a grammar rule worth reporting, whatever its p-value.

Nothing is run for a model the grammar stage refused (:mod:`promoter_cr.motifs.gate`): the
tables are written empty and ``spacing_summary.json`` says why.

Outputs (:class:`promoter_cr.layout.MotifFiles`): ``spacing.tsv`` (one row per pair x
orientation x spacing: interaction with its 95 % CI over backgrounds, contrast, p, q),
``cooperativity.tsv`` (one row per pair: cooperative / antagonistic / helical-periodicity
tests) and ``spacing_summary.json``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from promoter_cr.atomic import write_json, write_tsv
from promoter_cr.errors import InputDataError
from promoter_cr.layout import DataFiles, MotifFiles
from promoter_cr.motifs.insilico import (
    INSILICO_COLUMNS,
    PAIR_COLUMNS,
    insilico_grammar,
    median_anchor,
    prediction_spread,
    preferred_spacings,
    sample_backgrounds,
)

log = logging.getLogger(__name__)


def candidate_pairs(cooccurrence: pd.DataFrame, max_pairs: int) -> list[tuple[str, str]]:
    """The significant co-occurrence edges as ``(motif_a, motif_b)``, by q then odds ratio, at most ``max_pairs``."""
    if cooccurrence.empty:
        return []
    sig = cooccurrence[cooccurrence["significant"].astype(bool)]
    sig = sig.sort_values(["q_value", "odds_ratio"], ascending=[True, False], kind="stable")
    return [(str(a), str(b)) for a, b in zip(sig["motif_a"], sig["motif_b"])][:max_pairs]


def pair_anchors(hits: pd.DataFrame, pairs: list[tuple[str, str]], widths: dict[str, int], length: int) -> list[int]:
    """Start of A for each pair: the median forward-strand start of A's hits (clipped to fit)."""
    starts = {m: g["start"].to_numpy() for m, g in hits.groupby("motif_id", observed=True)}
    out = []
    for a, _ in pairs:
        if a not in starts:
            raise InputDataError(None, f"motif {a} of a co-occurrence edge has no hit in hits.parquet")
        out.append(median_anchor(starts[a], length=length, width=widths[a]))
    return out


def _empty(out: MotifFiles, summary: dict[str, Any]) -> dict[str, Any]:
    write_tsv(out.spacing, pd.DataFrame(columns=INSILICO_COLUMNS))
    write_tsv(out.cooperativity, pd.DataFrame(columns=PAIR_COLUMNS))
    write_json(out.spacing_summary, summary)
    return summary


def run_spacing(
    data_dir: str | Path,
    motifs_dir: str | Path,
    checkpoint: str | Path,
    out_dir: str | Path,
    grammar_cfg: dict[str, Any],
    *,
    device: str | None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the insertion experiments for the candidate pairs and write the spacing tables."""
    from promoter_cr.data.dataset import load_dataset
    from promoter_cr.interpret.attribute import extra_matrix, model_extra_features
    from promoter_cr.models.checkpoint import load_model
    from promoter_cr.models.inference import Predictor
    from promoter_cr.motifs.scan import read_hits
    from promoter_cr.seq.motifs import read_meme

    g = dict(grammar_cfg)
    mdir, out = MotifFiles(motifs_dir), MotifFiles(out_dir)
    for path in (mdir.cooccurrence, mdir.grammar_summary, mdir.meme, mdir.hits):
        if not path.exists():
            raise InputDataError(path, "grammar output is missing (run `promoter-cr grammar` first)")
    out.dir.mkdir(parents=True, exist_ok=True)
    gsum = json.loads(mdir.grammar_summary.read_text())
    summary: dict[str, Any] = {"refused": bool(gsum["refused"]), "n_candidates": 0, "n_tested": 0, "settings": g}
    if gsum["refused"]:
        log.info("the grammar stage refused this model (it did not learn): no insertion experiment")
        return _empty(out, {**summary, "note": "model did not learn (see grammar_summary.json)"})
    cooc = pd.read_csv(mdir.cooccurrence, sep="\t")
    pairs = candidate_pairs(cooc, int(g["insilico_max_pairs"]))
    summary["n_candidates"] = int(cooc["significant"].astype(bool).sum()) if len(cooc) else 0
    if not pairs:
        log.info("no significant co-occurrence edge: no candidate pair to test")
        return _empty(out, {**summary, "note": "no candidate pair"})
    ds = load_dataset(data_dir)
    model, meta = load_model(checkpoint)
    predictor = Predictor(model, device, int(g["insilico_batch_size"]), progress)
    if int(meta["length"]) != ds.length:
        raise InputDataError(
            DataFiles(ds.root).sequences,
            f"sequences are {ds.length} bp but the model {checkpoint} was trained on {meta['length']} bp",
        )
    motifs = {m.motif_id: m for m in read_meme(mdir.meme)}
    hits = read_hits(mdir.hits, ["motif_id", "start"])
    anchors = pair_anchors(hits, pairs, {k: m.width for k, m in motifs.items()}, ds.length)
    backgrounds, rows = sample_backgrounds(
        ds.sequences, n_backgrounds=int(g["insilico_backgrounds"]), seed=int(g["seed"])
    )
    extra_all = extra_matrix(ds, model_extra_features(meta))
    extra = None if extra_all is None else extra_all[rows]
    spread = prediction_spread(predictor, ds.sequences, rows, extra=extra_all)
    margin = float(g["insilico_min_contrast"]) * spread
    log.info("in-silico grammar: %d pairs x %d backgrounds, margin %.4g (%.3g x prediction sd %.4g)",
             len(pairs), len(rows), margin, g["insilico_min_contrast"], spread)  # fmt: skip
    spacing, coop = insilico_grammar(
        predictor, backgrounds, motifs, pairs, anchors, max_spacing=int(g["insilico_max_spacing"]),
        spacing_step=int(g["insilico_spacing_step"]), min_gap=int(g["insilico_min_gap"]), max_pairs=len(pairs),
        min_contrast=margin, clash_gap=int(g["insilico_clash_gap"]), extra=extra,
    )  # fmt: skip
    write_tsv(out.spacing, spacing)
    write_tsv(out.cooperativity, coop)
    pref = preferred_spacings(spacing, float(g["fdr"]))
    summary.update(
        n_tested=len(pairs),
        n_backgrounds=len(rows),
        prediction_sd=spread,
        margin=margin,
        preferred_spacings=int(len(pref)),
        cooperative_pairs=int((coop["cooperative_q"] < float(g["fdr"])).sum()) if len(coop) else 0,
        periodic_pairs=int((coop["periodicity_q"] < float(g["fdr"])).sum()) if len(coop) else 0,
        clashing_pairs=int((coop["clash_q"] < float(g["fdr"])).sum()) if len(coop) else 0,
    )
    write_json(out.spacing_summary, summary)
    return summary
