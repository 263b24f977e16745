"""The de novo stage: hypothetical-contribution export and TF-MoDISco-lite patterns, from files.

Two steps, two workflow rules (the export needs the model and a GPU if there is one; the
pattern search only CPUs, and a failure there must not redo the export):

* :func:`hypothetical_stage` writes ``attributions/hypothetical_weights.npy`` ``(n, 4, L)``: for
  every row of ``weighted_features.npy`` the contextual weights ``w(x)`` of the *same* model that
  gave that row its weighted features (with cross-fitting, the fold model that did not train on
  the gene; the fold of each row is the ``fold`` column of ``attributions.tsv``), through
  :func:`export_hypothetical` (the one exporter, :func:`promoter_cr.models.export.export_rows`,
  into a memory map published atomically);
* :func:`denovo_stage` runs :func:`run_denovo` on them (the kernels of
  :mod:`promoter_cr.motifs.denovo`), with the k-means clusters (``denovo.per_cluster``) and the
  scanned motif set (``motifs.meme``) for the Tomtom annotation, and writes ``patterns.meme``,
  ``patterns.tsv``, ``seqlets.tsv`` and ``denovo_summary.json`` into ``motifs/denovo/``
  (:func:`write_denovo`; names from :class:`promoter_cr.layout.DenovoFiles`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.atomic import atomic_memmap, write_text, write_tsv
from promoter_cr.data.dataset import load_dataset
from promoter_cr.errors import ConfigError, InputDataError
from promoter_cr.interpret.attribute import extra_matrix, load_attributions, load_cr_model, model_extra_features
from promoter_cr.layout import AttributionFiles, ClusterFiles, DataFiles, DenovoFiles, MotifFiles
from promoter_cr.models.export import DTYPES, export_rows
from promoter_cr.models.inference import Predictor
from promoter_cr.motifs.denovo import (
    ModiscoSettings,
    Pattern,
    annotate_patterns,
    check_inputs,
    meme_text,
    pattern_table,
    run_modisco,
    seqlet_table,
)
from promoter_cr.motifs.scan import load_clusters
from promoter_cr.seq.motifs import Motif, read_meme

log = logging.getLogger(__name__)


def attribution_rows(data_dir: str | Path, attr_dir: str | Path) -> tuple[Any, np.ndarray, Any]:
    """``(dataset, rows, table)``: the data-set row of every row of ``weighted_features.npy``.

    ``rows`` ``(n,)`` int64 in the attribution table's order; an id of the table that is not in
    ``genes.tsv`` is an :class:`InputDataError` naming the table.
    """
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


def export_hypothetical(
    predictor: Predictor | Sequence[Predictor],
    sequences: np.ndarray,
    rows: np.ndarray | None,
    out_path: str | Path,
    *,
    dtype: str,
    extra: np.ndarray | None = None,
    assignment: np.ndarray | None = None,
) -> Path:
    """Write a CR model's contextual weights ``w(x)`` over ``sequences[rows]`` to ``out_path``.

    Parameters
    ----------
    predictor
        The predictor of a CR model, or a list of them (cross-fitting: the fold models, fold ``k``
        at index ``k``) with ``assignment`` saying which model each output row comes from.
    sequences
        ``(N, L)`` uint8 codes (a memmap is read batch by batch).
    rows
        ``(n,)`` int rows in output order - the rows of ``weighted_features.npy``
        (``Dataset.indices(split)``); ``None``: all rows.
    out_path
        Destination ``.npy`` (``AttributionFiles(dir).hypothetical``): ``(n, 4, L)`` ``dtype``
        (``float16`` or ``float32``), filled batch by batch through a temporary memmap and
        renamed into place only when every batch is finite (and fits float16) and
        ``sum_b w_b(x) x_b`` equals the model's weighted features; else :class:`DenovoError`
        and nothing is written.
    extra
        ``(N, F)`` float32 extra features of models trained with them, else ``None``.
    assignment
        ``(n,)`` int: index into ``predictor`` (a list) of each output row; ``None``: all rows
        from the one model.
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    models = list(predictor) if isinstance(predictor, (list, tuple)) else [predictor]
    rows = np.arange(len(sequences), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    n, length = len(rows), int(sequences.shape[1])
    assignment = np.zeros(n, dtype=np.int64) if assignment is None else np.asarray(assignment, dtype=np.int64)
    if assignment.shape != (n,) or (n and (assignment.min() < 0 or assignment.max() >= len(models))):
        raise ValueError(f"assignment must be ({n},) ints in [0, {len(models)})")
    out_path = Path(out_path)
    with atomic_memmap(out_path, DTYPES[dtype], (n, 4, length)) as out:
        for k, m in enumerate(models):
            pos = np.flatnonzero(assignment == k)
            if len(pos):
                export_rows(m, sequences, rows[pos], pos, weights=out, extra=extra, desc="hypothetical contributions")
    log.info("wrote %s (%d x 4 x %d, %s, %d model%s)", out_path, n, length, dtype, len(models),
             "s" if len(models) > 1 else "")  # fmt: skip
    return out_path


def run_denovo(
    hypothetical: np.ndarray,
    sequences: np.ndarray,
    out_dir: str | Path,
    *,
    rows: np.ndarray | None,
    gene_ids: np.ndarray,
    clusters: np.ndarray | None,
    motifs: Sequence[Motif],
    settings: ModiscoSettings,
    match_q_threshold: float,
    hypothetical_path: str | Path | None,
    sequences_path: str | Path | None,
) -> DenovoFiles:
    """Patterns (all genes and per cluster), their Tomtom matches, and the four output files.

    ``hypothetical`` ``(n, 4, L)``, ``sequences`` ``(N, L)`` uint8, ``rows`` ``(n,)`` or ``None``,
    ``gene_ids`` and ``clusters`` ``(n,)``. Inputs are checked before anything runs; on any
    error nothing is written.
    """
    check_inputs(
        hypothetical,
        sequences,
        rows,
        clusters,
        gene_ids,
        hypothetical_path=hypothetical_path,
        sequences_path=sequences_path,
    )
    if not 0 < match_q_threshold <= 1:
        raise ConfigError(f"denovo: match_q_threshold must lie in (0, 1], got {match_q_threshold}")
    if not motifs:
        raise ConfigError("denovo: the motif collection to annotate patterns with is empty")
    patterns, summary = run_modisco(
        hypothetical,
        sequences,
        rows=rows,
        clusters=clusters,
        settings=settings,
        hypothetical_path=hypothetical_path,
        sequences_path=sequences_path,
    )
    annotation = annotate_patterns(patterns, motifs, match_q_threshold=match_q_threshold)
    summary["settings"] = asdict(settings)
    summary["match_q_threshold"] = match_q_threshold
    summary["n_motifs_scanned"] = len(motifs)
    return write_denovo(out_dir, patterns, annotation, gene_ids, summary)


def write_denovo(
    out_dir: str | Path,
    patterns: Sequence[Pattern],
    annotation: pd.DataFrame,
    gene_ids: np.ndarray,
    summary: dict[str, Any],
) -> DenovoFiles:
    """Write ``patterns.meme``, ``patterns.tsv``, ``seqlets.tsv`` and (last) ``denovo_summary.json``.

    The summary also holds every pattern's trimmed CWM (``cwm``: ``w x 4`` ACGT rows) for the
    figure.
    """
    files = DenovoFiles(out_dir)
    files.dir.mkdir(parents=True, exist_ok=True)
    table = pattern_table(patterns, annotation)
    write_text(files.patterns_meme, meme_text(patterns, table))
    write_tsv(files.patterns, table, float_format="%.6g")
    write_tsv(files.seqlets, seqlet_table(patterns, gene_ids), float_format="%.6g")
    info = dict(summary)
    info["n_patterns"] = len(patterns)
    info["n_novel"] = int(table["novel"].astype(bool).sum()) if len(table) else 0
    write_text(files.summary, summary_json(info, patterns))
    return files


def summary_json(info: dict[str, Any], patterns: Sequence[Pattern]) -> str:
    """``denovo_summary.json`` text: ``info`` indented, then ``patterns`` - one line per pattern
    with its trimmed CWM and sequence matrix (``w x 4`` rows, ACGT; 4 decimals) - so the file
    stays small and readable."""
    head = json.dumps(info, indent=2, default=_json_default)
    rows = [
        json.dumps(
            {"pattern_id": p.pattern_id, "cwm": np.round(p.cwm.T, 4).tolist(), "ppm": np.round(p.ppm.T, 4).tolist()},
            separators=(",", ":"),
        )
        for p in patterns
    ]
    body = ",\n    ".join(rows)
    return (
        head[:-2] + ',\n  "patterns": [\n    ' + body + "\n  ]\n}\n" if rows else head[:-2] + ',\n  "patterns": []\n}\n'
    )


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer | np.floating):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def load_hypothetical(attr_dir: str | Path) -> np.ndarray:
    """The ``(n, 4, L)`` hypothetical contributions of an attribution folder, memory-mapped."""
    path = AttributionFiles(attr_dir).hypothetical
    if not path.exists():
        raise InputDataError(path, "hypothetical contributions are missing (export them with export_hypothetical)")
    return np.load(path, mmap_mode="r")
