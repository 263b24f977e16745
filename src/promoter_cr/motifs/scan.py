"""Motif scanning: FIMO (memelite) over every promoter, each hit scored by its contribution.

For every gene batch (``motifs.batch_genes`` genes) the ``(B, L)`` uint8 codes are one-hot
encoded (``(B, 4, L)`` bool; N = all zero, which FIMO scores as 0 in every column), scanned
with :func:`memelite.fimo` on both strands, and every hit gets

* ``contribution`` = sum of the weighted-feature track under the hit,
  ``cs[g, end] - cs[g, start]`` with ``cs`` the per-gene cumulative sum (vectorised);
* ``null_contribution`` = the mean of the same sum over ``null_windows`` *null windows*: windows
  of the same width in the same gene, within ``null_max_shift`` bp, matched for G/C and CpG
  content and bias-corrected for what matching leaves (:mod:`promoter_cr.motifs.nulls`). This local, gene- and
  composition-matched background
  is what :mod:`promoter_cr.motifs.activity` tests each motif's sites against.

Coordinates are 0-based, end-exclusive, on the forward strand of the promoter window for
both strands (memelite scans the reverse-complement matrix along the forward sequence);
``strand`` is ``-`` for a reverse-complement match.

Hits stream to ``hits.parquet`` one row group per gene batch (pyarrow ``ParquetWriter``,
written to a temporary file and renamed into place), so memory stays flat however many
hits there are. Columns::

    gene_id, gene_index (row in genes.tsv), cluster, motif_id, motif_name, start, end,
    strand, score, p_value, contribution, null_contribution
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from promoter_cr.atomic import atomic_path
from promoter_cr.errors import InputDataError
from promoter_cr.motifs.nulls import matched_null_contributions
from promoter_cr.seq.fimo import BatchHits, scan_codes
from promoter_cr.seq.motifs import Motif

log = logging.getLogger(__name__)

HIT_COLUMNS = [
    "gene_id",
    "gene_index",
    "cluster",
    "motif_id",
    "motif_name",
    "start",
    "end",
    "strand",
    "score",
    "p_value",
    "contribution",
    "null_contribution",
]


def cumulative_track(track: np.ndarray) -> np.ndarray:
    """``(B, L)`` weighted features -> ``(B, L + 1)`` float64 cumulative sums with a leading 0."""
    track = np.asarray(track, dtype=np.float64)
    cs = np.zeros((track.shape[0], track.shape[1] + 1), dtype=np.float64)
    np.cumsum(track, axis=1, out=cs[:, 1:])
    return cs


def window_sums(cs: np.ndarray, gene: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Sum of the track over ``[start, end)`` of row ``gene``: ``(n,)`` float64 (vectorised)."""
    return cs[gene, end] - cs[gene, start]


def _dict_array(codes: np.ndarray, values: Sequence[str]):
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(codes, dtype=np.int32)), pa.array(list(values), type=pa.string())
    )


def hits_schema():
    """The pyarrow schema of ``hits.parquet``."""
    import pyarrow as pa

    d = pa.dictionary(pa.int32(), pa.string())
    return pa.schema(
        [
            ("gene_id", d),
            ("gene_index", pa.int32()),
            ("cluster", d),
            ("motif_id", d),
            ("motif_name", d),
            ("start", pa.int32()),
            ("end", pa.int32()),
            ("strand", d),
            ("score", pa.float32()),
            ("p_value", pa.float64()),
            ("contribution", pa.float32()),
            ("null_contribution", pa.float32()),
        ]
    )


def _check_scan_inputs(
    sequences: np.ndarray, weighted_features: np.ndarray, gene_ids: Sequence[str], clusters: Sequence[str]
) -> tuple[int, int]:
    """Validate the ``(N, L)`` sequences/weighted features and the ``(N,)`` labels; return ``(N, L)``."""
    n, length = sequences.shape
    if weighted_features.shape != (n, length):
        raise InputDataError(
            None, f"weighted features have shape {weighted_features.shape}, sequences {sequences.shape}"
        )
    if len(gene_ids) != n or len(clusters) != n:
        raise ValueError("gene_ids and clusters must have one entry per sequence row")
    return n, length


def _batch_contributions(
    sequences: np.ndarray,
    weighted_features: np.ndarray,
    hits: BatchHits,
    widths: np.ndarray,
    gene_ids: Sequence[str],
    i0: int,
    i1: int,
    b: int,
    *,
    null_max_shift: int,
    null_windows: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Observed and null contributions of the hits of batch ``b`` (rows ``i0:i1``).

    ``widths`` is the ``(n_motifs,)`` int64 motif widths. Returns two ``(n_hits,)`` float64
    arrays: ``contribution`` and ``null_contribution``; raises :class:`InputDataError` on a
    non-finite observed contribution.
    """
    cs = cumulative_track(np.asarray(weighted_features[i0:i1]))
    contrib = window_sums(cs, hits.gene, hits.start, hits.end)
    if not np.isfinite(contrib).all():
        bad = int(hits.gene[~np.isfinite(contrib)][0]) + i0
        raise InputDataError(None, "non-finite weighted features", record=f"gene {gene_ids[bad]}")
    rng = np.random.default_rng([seed, b])
    w = widths[hits.motif]
    null = matched_null_contributions(
        np.asarray(sequences[i0:i1]),
        np.asarray(weighted_features[i0:i1]),
        hits.gene,
        hits.start,
        w,
        max_shift=null_max_shift,
        n_null=null_windows,
        rng=rng,
    )
    return contrib, null


def _hits_table(
    hits: BatchHits,
    gidx: np.ndarray,
    contrib: np.ndarray,
    null: np.ndarray,
    gene_ids: Sequence[str],
    cluster_codes: np.ndarray,
    cluster_levels: Sequence[str],
    motif_ids: Sequence[str],
    motif_names: Sequence[str],
    schema,
):
    """One batch's hits as a pyarrow table with ``schema`` (:func:`hits_schema`).

    ``gidx`` is the ``(n_hits,)`` int64 row in the data set; ``contrib``/``null`` the
    ``(n_hits,)`` float64 contributions; ``cluster_codes`` the ``(N,)`` int cluster code per row.
    """
    import pyarrow as pa

    ugene, ginv = np.unique(gidx, return_inverse=True)
    return pa.Table.from_arrays(
        [
            _dict_array(ginv, [gene_ids[g] for g in ugene]),
            pa.array(gidx.astype(np.int32)),
            _dict_array(cluster_codes[gidx], list(cluster_levels)),
            _dict_array(hits.motif, motif_ids),
            _dict_array(hits.motif, motif_names),
            pa.array(hits.start.astype(np.int32)),
            pa.array(hits.end.astype(np.int32)),
            _dict_array(hits.minus.astype(np.int32), ["+", "-"]),
            pa.array(hits.score.astype(np.float32)),
            pa.array(hits.p_value),
            pa.array(contrib.astype(np.float32)),
            pa.array(null.astype(np.float32)),
        ],
        schema=schema,
    )


def _scan_summary(
    n: int,
    length: int,
    motif_ids: Sequence[str],
    per_motif: np.ndarray,
    threshold: float,
    null_max_shift: int,
    null_windows: int,
    seed: int,
) -> dict:
    """The summary dict of :func:`scan_dataset`; ``per_motif`` is the ``(n_motifs,)`` int64 hit count."""
    return {
        "n_genes": int(n),
        "length": int(length),
        "n_motifs": len(motif_ids),
        "n_hits": int(per_motif.sum()),
        "p_threshold": float(threshold),
        "null_max_shift": int(null_max_shift),
        "null_windows": int(null_windows),
        "seed": int(seed),
        "hits_per_motif": {mid: int(c) for mid, c in zip(motif_ids, per_motif)},
    }


def scan_dataset(
    sequences: np.ndarray,
    weighted_features: np.ndarray,
    gene_ids: Sequence[str],
    clusters: Sequence[str],
    motifs: Sequence[Motif],
    out_path: str | Path,
    *,
    threshold: float,
    batch_genes: int,
    null_max_shift: int,
    null_windows: int,
    seed: int,
    progress: bool = True,
) -> dict:
    """Scan every gene, score hits, and stream them to ``out_path`` (parquet).

    Parameters
    ----------
    sequences
        ``(N, L)`` uint8 codes (a memmap is fine: read one batch at a time).
    weighted_features
        ``(N, L)`` float16/float32 weighted features, same row order.
    gene_ids, clusters
        ``(N,)`` gene ids and cluster labels (strings) per row.
    motifs
        The motif set; ``motif_id`` must be unique.

    Returns a summary dict (n_genes, n_motifs, n_hits, hits per motif as a list).
    """
    import pyarrow.parquet as pq
    from tqdm import tqdm

    n, length = _check_scan_inputs(sequences, weighted_features, gene_ids, clusters)
    gene_ids = [str(g) for g in gene_ids]
    cluster_codes, cluster_levels = pd.factorize(pd.Series([str(c) for c in clusters], dtype=object), sort=True)
    motif_ids = [m.motif_id for m in motifs]
    motif_names = [m.name for m in motifs]
    widths = np.array([m.width for m in motifs], dtype=np.int64)
    schema = hits_schema()
    per_motif = np.zeros(len(motifs), dtype=np.int64)
    batch_genes = max(1, int(batch_genes))
    starts = range(0, n, batch_genes)
    with atomic_path(out_path) as tmp:
        writer = pq.ParquetWriter(str(tmp), schema, compression="zstd")
        try:
            for b, i0 in enumerate(tqdm(starts, desc="scan", unit="batch", disable=not progress)):
                i1 = min(n, i0 + batch_genes)
                hits = scan_codes(np.asarray(sequences[i0:i1]), motifs, threshold)
                if len(hits) == 0:
                    continue
                contrib, null = _batch_contributions(
                    sequences,
                    weighted_features,
                    hits,
                    widths,
                    gene_ids,
                    i0,
                    i1,
                    b,
                    null_max_shift=null_max_shift,
                    null_windows=null_windows,
                    seed=seed,
                )
                gidx = hits.gene + i0
                per_motif += np.bincount(hits.motif, minlength=len(motifs))
                table = _hits_table(
                    hits, gidx, contrib, null, gene_ids, cluster_codes, cluster_levels, motif_ids, motif_names, schema
                )
                writer.write_table(table)
                log.debug("batch %d: genes %d-%d, %d hits", b, i0, i1, len(hits))
        finally:
            writer.close()
    return _scan_summary(n, length, motif_ids, per_motif, threshold, null_max_shift, null_windows, seed)


def read_hits(path: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read ``hits.parquet`` (all columns or a subset); dictionary columns come back categorical."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        raise InputDataError(path, "hits file is missing (run `promoter-cr scan` first)")
    table = pq.read_table(path, columns=list(columns) if columns else None)
    return table.to_pandas()


def load_clusters(path: str | Path, gene_ids: Sequence[str]) -> np.ndarray:
    """Cluster label (string) of each gene in ``gene_ids`` order from ``assignments.tsv``.

    Genes without an assignment get ``"unassigned"`` (logged); a table without the columns
    ``gene_id`` and ``cluster`` or with duplicate ids raises :class:`InputDataError`.
    """
    path = Path(path)
    if not path.exists():
        raise InputDataError(path, "cluster assignments are missing (run the cluster stage first)")
    tab = pd.read_csv(path, sep="\t", dtype={"gene_id": str, "cluster": str}, keep_default_na=False)
    for col in ("gene_id", "cluster"):
        if col not in tab.columns:
            raise InputDataError(path, f"missing column {col!r}")
    dup = tab["gene_id"].duplicated()
    if dup.any():
        raise InputDataError(path, "duplicate gene id", record=f"gene {tab['gene_id'][dup].iloc[0]}")
    mapping = dict(zip(tab["gene_id"], tab["cluster"].astype(str)))
    out = np.array([mapping.get(str(g), "unassigned") for g in gene_ids], dtype=object)
    missing = int((out == "unassigned").sum())
    if missing:
        log.warning("%s: %d of %d genes have no cluster assignment (labelled 'unassigned')", path, missing, len(out))
    if missing == len(out):
        raise InputDataError(path, "no gene of the data set has a cluster assignment (gene ids do not match genes.tsv)")
    return out


def promoter_gc(sequences: np.ndarray, batch: int = 4096) -> np.ndarray:
    """``(N,)`` float64 G/C fraction of each promoter (N bases ignored; 0.5 for an all-N row)."""
    out = np.empty(len(sequences), dtype=np.float64)
    for s in range(0, len(sequences), batch):
        codes = np.asarray(sequences[s : s + batch])
        gc = ((codes == 1) | (codes == 2)).sum(1)
        called = (codes < 4).sum(1)
        out[s : s + len(codes)] = np.where(called > 0, gc / np.maximum(called, 1), 0.5)
    return out


def scan_stage(
    data_dir: str | Path,
    attr_dir: str | Path,
    clusters_dir: str | Path | None,
    out_dir: str | Path,
    motif_cfg: dict,
    grammar_cfg: dict,
) -> dict:
    """The scan stage: motif set, gene clusters and hits of every gene, written to ``out_dir``.

    Writes (:class:`promoter_cr.layout.MotifFiles`) ``motifs.meme`` (the scanned set),
    ``gene_clusters.tsv`` (each gene's cluster; ``"0"`` for all without ``clusters_dir``),
    ``hits.parquet`` and ``scan_summary.json``; returns the summary. ``motif_cfg`` is the
    validated ``motifs`` section, ``grammar_cfg`` the ``grammar`` one (null windows, seed).
    """
    from promoter_cr.atomic import all_or_none, write_json, write_tsv
    from promoter_cr.data.dataset import load_dataset
    from promoter_cr.layout import AttributionFiles, ClusterFiles, MotifFiles
    from promoter_cr.seq.motifs import load_motifs, write_meme

    out = MotifFiles(out_dir)
    ds = load_dataset(data_dir)
    wf_path = AttributionFiles(attr_dir).weighted_features
    if not wf_path.exists():
        raise InputDataError(wf_path, "weighted features are missing (run `promoter-cr attribute` first)")
    wf = np.load(wf_path, mmap_mode="r")
    if wf.shape != ds.sequences.shape:
        raise InputDataError(wf_path, f"shape {wf.shape} does not match sequences.npy {ds.sequences.shape}")
    gene_ids = ds.genes["gene_id"].astype(str).tolist()
    if clusters_dir is not None:
        clusters = load_clusters(ClusterFiles(clusters_dir).assignments, gene_ids)
    else:
        clusters = np.array(["0"] * len(gene_ids), dtype=object)
    motifs = load_motifs(motif_cfg)  # a malformed motif file fails here, before anything is written
    out.dir.mkdir(parents=True, exist_ok=True)
    with all_or_none(out.scan_outputs()):
        write_meme(motifs, out.meme)
        write_tsv(
            out.gene_clusters,
            pd.DataFrame({"gene_id": gene_ids, "cluster": clusters, "gc": promoter_gc(ds.sequences)}),
            float_format="%.5g",
        )
        log.info(
            "scanning %d genes x %d bp with %d motifs (p < %g)", ds.n, ds.length, len(motifs), motif_cfg["p_threshold"]
        )
        summary = scan_dataset(
            ds.sequences,
            wf,
            gene_ids,
            clusters,
            motifs,
            out.hits,
            threshold=float(motif_cfg["p_threshold"]),
            batch_genes=int(motif_cfg["batch_genes"]),
            null_max_shift=int(grammar_cfg["null_max_shift"]),
            null_windows=int(grammar_cfg["null_windows"]),
            seed=int(grammar_cfg["seed"]),
        )
        write_json(out.scan_summary, summary)
    log.info("%d hits written to %s", summary["n_hits"], out.hits)
    return summary
