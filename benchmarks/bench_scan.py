"""Benchmark: full-scale motif scanning with contributions streamed to disk.

Synthetic promoters (``--genes`` x ``--length`` uint8 codes, GC 0.5, in a temporary
folder, memory-mapped as the pipeline reads them) and random float16 weighted features; the
schema's default motif set and scan settings (``motifs`` and ``grammar`` sections; ``--threshold``
and ``--batch`` override them); :func:`promoter_cr.motifs.scan.scan_dataset` writes hits.parquet
with contributions and composition-matched null contributions. Reports wall time, hits, peak
RSS, and the extrapolation to 18,377 genes when fewer were scanned.

``--grammar`` also times :func:`promoter_cr.motifs.grammar.run_grammar` with the schema's
``grammar`` defaults on those hits. The attributions table gives every gene a prediction equal
to its label, so the model gate opens and every statistic (co-occurrence included) is timed; the
tracks are noise, so the calls are not the point.

Optionally (``--memesuite N``) times MEME's own C FIMO through ``pymemesuite`` (not a
project dependency: ``pip install pymemesuite``) on the first N genes with the same motifs
and p-value threshold, next to memelite on the same N genes.

Usage::

    python benchmarks/bench_scan.py --genes 1000 --threads 2 --memesuite 20 --grammar
    python benchmarks/bench_scan.py               # full 18,377 x 10,500
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FULL_GENES = 18377


def make_data(root: Path, n: int, length: int, batch: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    seqs = np.lib.format.open_memmap(root / "codes.npy", mode="w+", dtype=np.uint8, shape=(n, length))
    wf = np.lib.format.open_memmap(root / "wf.npy", mode="w+", dtype=np.float16, shape=(n, length))
    for i in range(0, n, batch):
        j = min(n, i + batch)
        seqs[i:j] = rng.integers(0, 4, size=(j - i, length), dtype=np.uint8)
        wf[i:j] = rng.normal(0, 0.01, size=(j - i, length)).astype(np.float16)
    seqs.flush()
    wf.flush()
    return np.load(root / "codes.npy", mmap_mode="r"), np.load(root / "wf.npy", mmap_mode="r")


def bench_memesuite(seqs: np.ndarray, motifs, threshold: float) -> tuple[float, int]:
    """Time pymemesuite FIMO (MEME's C code) over ``seqs`` for every motif; (seconds, hits)."""
    from pymemesuite.common import Alphabet, Array, Background, Matrix, Motif, Sequence
    from pymemesuite.fimo import FIMO

    from promoter_cr.seq.encoding import decode

    alphabet = Alphabet.dna()
    seq_objs = [Sequence(decode(s), name=f"g{i}".encode()) for i, s in enumerate(seqs)]
    bg = Background(alphabet, Array([0.25, 0.25, 0.25, 0.25]))
    fimo = FIMO(both_strands=True, threshold=threshold)
    mm = [Motif(alphabet, name=m.motif_id.encode(), frequencies=Matrix(m.pwm.T.tolist())) for m in motifs]
    t = time.perf_counter()
    n_hits = 0
    for m in mm:
        pattern = fimo.score_motif(m, seq_objs, bg)
        n_hits += len(pattern.matched_elements)
    return time.perf_counter() - t, n_hits


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genes", type=int, default=FULL_GENES)
    ap.add_argument("--length", type=int, default=10500)
    ap.add_argument("--batch", type=int, default=None, help="genes per scan batch (default: motifs.batch_genes)")
    ap.add_argument("--threshold", type=float, default=None, help="FIMO p-value (default: motifs.p_threshold)")
    ap.add_argument("--threads", type=int, default=None, help="numba threads (default: all cores)")
    ap.add_argument("--memesuite", type=int, default=0, help="also time pymemesuite FIMO on this many genes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the result JSON here")
    ap.add_argument(
        "--grammar", action="store_true", help="also time `grammar` (run_grammar, schema defaults) on the hits"
    )
    ap.add_argument("--keep", default=None, help="copy hits.parquet into this folder (to benchmark `grammar` on it)")
    args = ap.parse_args(argv)

    if args.threads:
        import numba

        numba.set_num_threads(args.threads)
    import numba

    from promoter_cr.config import validate_config
    from promoter_cr.layout import MotifFiles
    from promoter_cr.motifs.scan import scan_dataset
    from promoter_cr.seq.fimo import scan_codes
    from promoter_cr.seq.motifs import load_motifs

    cfg = validate_config({}, semantics=False)
    if args.threshold is None:
        args.threshold = float(cfg["motifs"]["p_threshold"])
    if args.batch is None:
        args.batch = int(cfg["motifs"]["batch_genes"])
    g = cfg["grammar"]
    motifs = load_motifs(cfg["motifs"])
    result: dict = {
        "genes": args.genes,
        "length": args.length,
        "motifs": len(motifs),
        "threshold": args.threshold,
        "batch_genes": args.batch,
        "numba_threads": numba.get_num_threads(),
        "cpus": os.cpu_count(),
    }
    # compile numba kernels on a tiny input so the timing is the scan itself
    t = time.perf_counter()
    scan_codes(np.zeros((1, 200), np.uint8), motifs, args.threshold)
    result["warmup_s"] = round(time.perf_counter() - t, 2)
    with tempfile.TemporaryDirectory(prefix="bench_scan_") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        seqs, wf = make_data(root, args.genes, args.length, args.batch, args.seed)
        result["make_data_s"] = round(time.perf_counter() - t, 2)
        ids = [f"g{i}" for i in range(args.genes)]
        clusters = [str(i % 5) for i in range(args.genes)]
        t = time.perf_counter()
        cpu0 = time.process_time()
        summary = scan_dataset(
            seqs,
            wf,
            ids,
            clusters,
            motifs,
            MotifFiles(root).hits,
            threshold=args.threshold,
            batch_genes=args.batch,
            null_max_shift=int(g["null_max_shift"]),
            null_windows=int(g["null_windows"]),
            seed=int(g["seed"]),
            progress=True,
        )
        dt = time.perf_counter() - t
        cpu = time.process_time() - cpu0
        result.update(
            {
                "scan_s": round(dt, 2),
                "scan_cpu_s": round(cpu, 2),
                "hits": summary["n_hits"],
                "hits_per_gene": round(summary["n_hits"] / args.genes, 1),
                "parquet_mb": round(MotifFiles(root).hits.stat().st_size / 2**20, 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
        if args.genes < FULL_GENES:
            result["extrapolated_full_scan_s"] = round(dt * FULL_GENES / args.genes, 1)
            result["extrapolated_full_cpu_s"] = round(cpu * FULL_GENES / args.genes, 1)
        if args.grammar:
            import pandas as pd

            from promoter_cr.atomic import write_json
            from promoter_cr.layout import AttributionFiles
            from promoter_cr.motifs.grammar import run_grammar
            from promoter_cr.motifs.scan import promoter_gc
            from promoter_cr.seq.motifs import write_meme

            files, attr = MotifFiles(root), AttributionFiles(root / "attributions")
            write_meme(motifs, files.meme)
            pd.DataFrame({"gene_id": ids, "cluster": clusters, "gc": promoter_gc(seqs)}).to_csv(
                files.gene_clusters, sep="\t", index=False
            )
            write_json(files.scan_summary, summary)
            attr.dir.mkdir()
            os.replace(root / "wf.npy", attr.weighted_features)
            label = np.random.default_rng(args.seed).normal(size=args.genes)
            pd.DataFrame({"gene_id": ids, "label": label, "prediction": label, "split": "test"}).to_csv(
                attr.table, sep="\t", index=False
            )
            t = time.perf_counter()
            cpu0 = time.process_time()
            gsum = run_grammar(root, attr.dir, root / "grammar", g)
            result["grammar_s"] = round(time.perf_counter() - t, 2)
            result["grammar_cpu_s"] = round(time.process_time() - cpu0, 2)
            result["grammar_calls_all"] = gsum["calls_all"]
            result["grammar_significant_edges"] = gsum["significant_edges"]
            result["peak_rss_mb_after_grammar"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        if args.keep:
            import shutil

            Path(args.keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(MotifFiles(root).hits, MotifFiles(args.keep).hits)
        if args.memesuite:
            n = min(args.memesuite, args.genes)
            sample = np.asarray(seqs[:n])
            t = time.perf_counter()
            h = scan_codes(sample, motifs, args.threshold)
            result["memelite_sample_s"] = round(time.perf_counter() - t, 2)
            result["memelite_sample_hits"] = len(h)
            try:
                sec, hits = bench_memesuite(sample, motifs, args.threshold)
                result["memesuite_sample_genes"] = n
                result["memesuite_sample_s"] = round(sec, 2)
                result["memesuite_sample_hits"] = hits
                result["memesuite_extrapolated_full_s"] = round(sec * FULL_GENES / n, 1)
            except ImportError as exc:
                result["memesuite"] = f"not installed ({exc})"
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
