"""The de novo stage: hypothetical-contribution export and TF-MoDISco-lite patterns, from files.

Two steps, two workflow rules (the export needs the model and a GPU if there is one; the
pattern search only CPUs, and a failure there must not redo the export):

* :func:`hypothetical_stage` writes ``attributions/hypothetical_weights.npy`` ``(n, 4, L)``: for
  every row of ``weighted_features.npy`` the contextual weights ``w(x)`` of the *same* model that
  gave that row its weighted features (with cross-fitting, the fold model that did not train on
  the gene; the fold of each row is the ``fold`` column of ``attributions.tsv``);
* :func:`denovo_stage` runs :func:`promoter_cr.motifs.denovo.run_denovo` on them, with the
  k-means clusters (``denovo.per_cluster``) and the scanned motif set (``motifs.meme``) for the
  Tomtom annotation, into ``motifs/denovo/`` (:class:`promoter_cr.layout.DenovoFiles`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from promoter_cr.errors import InputDataError
from promoter_cr.layout import AttributionFiles, ClusterFiles, DataFiles, DenovoFiles, MotifFiles

log = logging.getLogger(__name__)


def attribution_rows(data_dir: str | Path, attr_dir: str | Path) -> tuple[Any, np.ndarray, Any]:
    """``(dataset, rows, table)``: the data-set row of every row of ``weighted_features.npy``.

    ``rows`` ``(n,)`` int64 in the attribution table's order; an id of the table that is not in
    ``genes.tsv`` is an :class:`InputDataError` naming the table.
    """
    from promoter_cr.data.dataset import load_dataset
    from promoter_cr.interpret.attribute import load_attributions

    ds = load_dataset(data_dir)
    _, table = load_attributions(attr_dir)
    position = {g: i for i, g in enumerate(ds.genes["gene_id"].astype(str))}
    missing = [g for g in table["gene_id"] if g not in position]
    if missing:
        raise InputDataError(
            AttributionFiles(attr_dir).table, f"gene {missing[0]!r} is not in {DataFiles(data_dir).genes}"
        )
    rows = np.array([position[g] for g in table["gene_id"]], dtype=np.int64)
    return ds, rows, table


def hypothetical_stage(
    checkpoints: Sequence[str | Path],
    data_dir: str | Path,
    attr_dir: str | Path,
    denovo_cfg: dict[str, Any],
    *,
    device: str | None,
    progress: bool = True,
) -> Path:
    """Export the hypothetical contributions of every attribution row; returns the file.

    ``checkpoints``: the checkpoints the weighted features came from (one model, or the
    ``attribution.crossfit_folds`` fold models, fold ``k`` at index ``k``); ``denovo_cfg`` the
    validated ``denovo`` section (``dtype``, ``batch_size``).
    """
    from promoter_cr.interpret.attribute import extra_matrix, load_cr_model, model_extra_features
    from promoter_cr.models.inference import Predictor
    from promoter_cr.motifs.denovo import export_hypothetical

    ds, rows, table = attribution_rows(data_dir, attr_dir)
    checkpoints = list(checkpoints)
    if len(checkpoints) > 1:
        if "fold" not in table.columns:
            raise InputDataError(
                AttributionFiles(attr_dir).table,
                f"{len(checkpoints)} checkpoints given but the weighted features are not cross-fitted (no fold column)",
            )
        assignment = table["fold"].to_numpy(dtype=np.int64)
        if assignment.min() < 0 or assignment.max() >= len(checkpoints):
            raise InputDataError(AttributionFiles(attr_dir).table, f"fold column outside 0..{len(checkpoints) - 1}")
    else:
        assignment = None
    loaded = [load_cr_model(c, ds) for c in checkpoints]
    features = model_extra_features(loaded[0][1])
    return export_hypothetical(
        [Predictor(m, device, int(denovo_cfg["batch_size"]), progress) for m, _ in loaded],
        ds.sequences,
        rows,
        AttributionFiles(attr_dir).hypothetical,
        dtype=denovo_cfg["dtype"],
        extra=extra_matrix(ds, features),
        assignment=assignment,
    )


def denovo_stage(
    data_dir: str | Path,
    attr_dir: str | Path,
    clusters_dir: str | Path | None,
    motifs_dir: str | Path,
    out_dir: str | Path,
    denovo_cfg: dict[str, Any],
) -> dict[str, Any]:
    """Patterns of all genes (and of each cluster), annotated against ``motifs.meme``.

    Returns the summary written to ``denovo_summary.json`` (without the per-pattern matrices).
    """
    import json

    from promoter_cr.motifs.denovo import ModiscoSettings, load_hypothetical, run_denovo
    from promoter_cr.motifs.scan import load_clusters
    from promoter_cr.seq.motifs import read_meme

    ds, rows, table = attribution_rows(data_dir, attr_dir)
    hyp = load_hypothetical(attr_dir)
    gene_ids = table["gene_id"].astype(str).to_numpy()
    clusters = None
    if clusters_dir is not None and denovo_cfg["per_cluster"]:
        clusters = load_clusters(ClusterFiles(clusters_dir).assignments, list(gene_ids))
    meme = MotifFiles(motifs_dir).meme
    if not meme.exists():
        raise InputDataError(meme, "the scanned motif set is missing (run `promoter-cr scan` first)")
    files = run_denovo(
        hyp,
        ds.sequences,
        out_dir,
        rows=rows,
        gene_ids=gene_ids,
        clusters=clusters,
        motifs=read_meme(meme),
        settings=ModiscoSettings.from_config(denovo_cfg),
        match_q_threshold=float(denovo_cfg["match_q_threshold"]),
        hypothetical_path=AttributionFiles(attr_dir).hypothetical,
        sequences_path=DataFiles(data_dir).sequences,
    )
    summary = json.loads(DenovoFiles(files.dir).summary.read_text())
    summary.pop("patterns", None)
    return summary
