"""Benchmark: de novo motifs (TF-MoDISco-lite) at Xpresso scale, speed and peak memory.

Synthetic promoters (``--genes`` x ``--length`` uint8 codes, uniform bases) and hypothetical
contributions ``(genes, 4, length)`` float16 memory maps in a temporary folder under
``--tmp``: Gaussian noise (sd ``--noise``) plus, in every gene, ``--sites`` planted sites drawn
from four JASPAR matrices - two activating (NRF1 MA0506.3, CTCF MA0139.2; effect +1) and two
repressive (REST MA0138.3, YY1 MA0095.4; effect -1) - on either strand, whose hypothetical
contributions are the matrix's log-odds times the effect (the bases are sampled from it).

The de novo step (:func:`promoter_cr.motifs.denovo_stage.run_denovo`: seqlet calling over all genes,
clustering of all genes and of ``--clusters`` random gene clusters, both signs, Tomtom
against JASPAR CORE vertebrates, outputs written) runs in a child process limited to
``--threads`` threads; its peak RSS is read with ``getrusage(RUSAGE_CHILDREN)`` (it includes
the file-backed pages of the memory maps that were touched). Settings are the schema's
defaults (:func:`schema_defaults`) unless overridden on the command line (``--set key=value``).

With ``--genes`` below 18,377 the seqlet-calling time (linear in genes x length) is
extrapolated to the full size; the clustering time depends on the seqlet cap
(``max_seqlets_per_metacluster``), not on the number of genes, once the cap is reached.

Usage::

    python benchmarks/bench_denovo.py --threads 2                  # full 18,377 x 10,500
    python benchmarks/bench_denovo.py --genes 2000 --threads 2     # a fraction, extrapolated
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

FULL_GENES, FULL_LENGTH = 18377, 10500
PLANTED = {"MA0506.3": 1.0, "MA0139.2": 1.0, "MA0138.3": -1.0, "MA0095.4": -1.0}


#: proposed schema defaults (denovo section)
def schema_defaults() -> dict:
    """The ``denovo`` section's TF-MoDISco settings as the schema's defaults give them."""
    from promoter_cr.config import validate_config
    from promoter_cr.motifs.denovo import ModiscoSettings

    return asdict(ModiscoSettings.from_config(validate_config({})["denovo"]))


def make_data(root: Path, n: int, length: int, sites: int, noise: float, batch: int, seed: int) -> dict:
    """Write ``sequences.npy`` (n, L) uint8 and ``hyp.npy`` (n, 4, L) float16 under ``root``."""
    from promoter_cr.seq.motifs import load_jaspar_ids

    rng = np.random.default_rng(seed)
    pwms = {m.motif_id: m.pwm for m in load_jaspar_ids("JASPAR2024", list(PLANTED))}
    ids = list(PLANTED)
    seqs = np.lib.format.open_memmap(root / "sequences.npy", mode="w+", dtype=np.uint8, shape=(n, length))
    hyp = np.lib.format.open_memmap(root / "hyp.npy", mode="w+", dtype=np.float16, shape=(n, 4, length))
    planted = 0
    for i in range(0, n, batch):
        j = min(n, i + batch)
        s = rng.integers(0, 4, size=(j - i, length), dtype=np.uint8)
        h = rng.standard_normal(size=(j - i, 4, length), dtype=np.float32) * noise
        for g in range(j - i):
            pos = np.sort(rng.choice(length // 60 - 2, size=sites, replace=False) + 1) * 60  # >= 60 bp apart
            for p in pos:
                mid = ids[int(rng.integers(len(ids)))]
                pwm = pwms[mid] if rng.random() < 0.5 else pwms[mid][::-1, ::-1]
                w = pwm.shape[1]
                cum = np.cumsum(pwm / pwm.sum(0, keepdims=True), axis=0)
                s[g, p : p + w] = (rng.random(w)[None, :] > cum).sum(0).clip(0, 3)
                h[g, :, p : p + w] += PLANTED[mid] * np.maximum(np.log2(np.clip(pwm, 1e-3, 1) / 0.25), -2.0)
                planted += 1
        seqs[i:j] = s
        hyp[i:j] = h.astype(np.float16)
    seqs.flush()
    hyp.flush()
    del seqs, hyp
    return {"planted_sites": planted}


def _child(root: str, settings: dict, clusters: int, threads: int, out: str, conn) -> None:
    from promoter_cr.runtime import limit_threads

    limit_threads(threads)
    from promoter_cr.motifs import denovo, denovo_stage
    from promoter_cr.seq.motifs import default_collection

    denovo.start_modisco()  # before any numba work, as the pipeline would

    hyp = np.load(Path(root) / "hyp.npy", mmap_mode="r")
    seqs = np.load(Path(root) / "sequences.npy", mmap_mode="r")
    n = len(seqs)
    labels = None if clusters < 1 else np.random.default_rng(1).integers(0, clusters, size=n)
    motifs = default_collection()
    t = time.perf_counter()
    files = denovo_stage.run_denovo(
        hyp,
        seqs,
        out,
        rows=None,
        gene_ids=np.array([f"g{i}" for i in range(n)]),
        clusters=labels,
        motifs=motifs,
        settings=denovo.ModiscoSettings(**settings),
        match_q_threshold=0.05,
        hypothetical_path=Path(root) / "hyp.npy",
        sequences_path=Path(root) / "sequences.npy",
    )
    wall = time.perf_counter() - t
    summary = json.loads(files.summary.read_text())
    # CPU of this process and of the workers TF-MoDISco-lite forks (Leiden runs, subclustering)
    ru, ruc = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    conn.send(
        {
            "run_denovo_s": round(wall, 1),
            "cpu_s": round(ru.ru_utime + ru.ru_stime + ruc.ru_utime + ruc.ru_stime, 1),
            "call_seqlets_s": summary["call_seqlets_s"],
            "seqlets": {k: summary[k] for k in ("seqlets_called", "seqlets_positive", "seqlets_negative")},
            "groups": summary["groups"],
            "n_patterns": summary["n_patterns"],
            "n_novel": summary["n_novel"],
        }
    )
    conn.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--genes", type=int, default=FULL_GENES)
    ap.add_argument("--length", type=int, default=FULL_LENGTH)
    ap.add_argument("--sites", type=int, default=6, help="planted sites per gene")
    ap.add_argument("--noise", type=float, default=0.05, help="sd of the hypothetical-contribution noise")
    ap.add_argument("--clusters", type=int, default=4, help="random gene clusters also analysed (0: all genes only)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tmp", default="/tmp")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting, e.g. max_seqlets_per_metacluster=20000",
    )
    ap.add_argument("--out", default=None, help="write the result JSON here too")
    args = ap.parse_args(argv)
    settings = schema_defaults()
    for kv in args.set:
        k, v = kv.split("=", 1)
        settings[k] = type(settings[k])(float(v)) if isinstance(settings[k], (int, float)) else v

    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="bench_denovo_") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        info = make_data(root, args.genes, args.length, args.sites, args.noise, batch=500, seed=args.seed)
        make_s = time.perf_counter() - t
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        os.environ.update(
            {
                v: str(args.threads)
                for v in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
            }
        )
        p = ctx.Process(
            target=_child, args=(str(root), settings, args.clusters, args.threads, str(root / "denovo"), child)
        )
        p.start()
        child.close()
        try:
            res = parent.recv()
        except EOFError:
            p.join()
            print(f"the benchmark child failed (exit code {p.exitcode})", file=sys.stderr)
            return 1
        p.join()
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        import pandas as pd

        table = pd.read_csv(root / "denovo" / "patterns.tsv", sep="\t", keep_default_na=False, na_values=[""])
    frac = args.genes * args.length / (FULL_GENES * FULL_LENGTH)
    rest_s = res["run_denovo_s"] - res["call_seqlets_s"]
    result = {
        "genes": args.genes,
        "length": args.length,
        "threads": args.threads,
        "clusters": args.clusters,
        "settings": settings,
        "make_data_s": round(make_s, 1),
        **info,
        **res,
        "peak_rss_mb": round(peak_mb, 1),
        "clustering_and_annotation_s": round(rest_s, 1),
        "extrapolated_full_s": round(res["call_seqlets_s"] / frac + rest_s, 1) if frac < 1 else None,
        "load_average_start_end": [load_start, os.getloadavg()],  # other jobs on the machine inflate wall times
        "planted_found": {
            mid: table[(table["cluster"] == "all") & (table["best_match_id"] == mid) & ~table["novel"].astype(bool)][
                "sign"
            ].tolist()
            for mid in PLANTED
        },
    }
    print(json.dumps(result, indent=2, default=str))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
