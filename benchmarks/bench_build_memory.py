"""Peak memory and time of building an Xpresso-sized data set (18,377 genes x 10,500 bp).

Writes synthetic inputs to a temporary folder (deleted afterwards; nothing goes into
the repository), then builds the data set in a child process and reports the
child's peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss``), its tracemalloc peak
(Python + numpy heap allocations) and the wall time. For scale: a float32 one-hot
of the same set would take 18377 * 10500 * 4 * 4 bytes = 3.1 GB.

Sources:

* ``xpresso``: train/valid/test.h5 in Xpresso's layout (16,377 / 1,000 / 1,000 genes,
  ``promoter`` (N, 20000, 4) bool, ``data`` (N, 8), ``label``, ``geneName``).
* ``genome``: a random genome (24 contigs), a BED6 TSS table and an expression table.

Usage::

    python benchmarks/bench_build_memory.py                   # xpresso, full size
    python benchmarks/bench_build_memory.py --source genome
    python benchmarks/bench_build_memory.py --n-genes 2000    # quick check
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FULL = 18377
STORED = 20000

_CHILD = r"""
import json, resource, sys, time, tracemalloc, logging
logging.basicConfig(level=logging.WARNING)
import pandas, h5py, pysam
from promoter_cr.config import validate_config
from promoter_cr.data.sources import build_dataset, genome, xpresso
cfg = validate_config(json.loads(sys.argv[1]), semantics=False)
trace = sys.argv[3] == "trace"
if trace:
    tracemalloc.start()
t0 = time.perf_counter()
build_dataset(cfg, sys.argv[2])
dt = time.perf_counter() - t0
peak = tracemalloc.get_traced_memory()[1] if trace else 0
print(json.dumps({"seconds": dt, "tracemalloc_peak_mb": peak / 2**20, "self_maxrss_mb":
resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_xpresso(root: Path, n_genes: int, seed: int, compression: str | None) -> dict:
    """Write train/valid/test.h5 with ``n_genes`` genes in total; returns the dataset config."""
    import h5py

    rng = np.random.default_rng(seed)
    n_valid = n_test = min(1000, n_genes // 10)
    sizes = {"train": n_genes - n_valid - n_test, "valid": n_valid, "test": n_test}
    eye = np.concatenate([np.eye(4, dtype=bool), np.zeros((1, 4), dtype=bool)])
    block = 256
    for split, n in sizes.items():
        with h5py.File(root / f"{split}.h5", "w") as h5:
            prom = h5.create_dataset(
                "promoter", shape=(n, STORED, 4), dtype=bool, chunks=(16, STORED, 4), compression=compression
            )
            for s in range(0, n, block):
                e = min(s + block, n)
                codes = rng.integers(0, 4, size=(e - s, STORED), dtype=np.uint8)
                codes[:, :50] = 4
                prom[s:e] = eye[codes]
            h5["data"] = rng.normal(size=(n, 8)).astype(np.float32)
            h5["label"] = rng.normal(size=n).astype(np.float32)
            h5["geneName"] = np.array([f"ENSG{split[:2]}{i:09d}".encode() for i in range(n)])
    return {
        "source": "xpresso",
        "xpresso": {"local_dir": str(root), "window_start": -7000, "window_end": 3500, "half_life": True},
    }


def write_genome(root: Path, n_genes: int, seed: int) -> dict:
    """Write a random genome (24 contigs) with one gene every 12 kb, a BED and an expression table."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    spacing, n_chrom = 12_000, 24
    per = -(-n_genes // n_chrom)
    bed_lines, expr_lines = [], []
    with open(root / "genome.fa", "wb") as fh:
        g = 0
        for c in range(n_chrom):
            name = f"chr{c + 1}"
            length = per * spacing + 20_000
            seq = letters[rng.integers(0, 4, size=length)]
            fh.write(f">{name}\n".encode())
            width = 60
            n_full = length // width
            body = np.concatenate(
                [seq[: n_full * width].reshape(n_full, width), np.full((n_full, 1), 10, np.uint8)], axis=1
            )
            fh.write(body.tobytes())
            if length % width:
                fh.write(seq[n_full * width :].tobytes() + b"\n")
            for k in range(per):
                if g >= n_genes:
                    break
                tss = 10_000 + k * spacing
                strand = "+" if rng.random() < 0.5 else "-"
                bed_lines.append(f"{c + 1}\t{tss - 10000}\t{tss + 10000}\tG{g:07d}\t0\t{strand}\n")
                expr_lines.append(f"G{g:07d}.1\t{rng.normal():.4f}\n")
                g += 1
    (root / "tss.bed").write_text("".join(bed_lines))
    (root / "expr.tsv").write_text("".join(expr_lines))
    return {
        "source": "genome",
        "genome": {
            "fasta": str(root / "genome.fa"),
            "tss": str(root / "tss.bed"),
            "bed_tss": "center",
            "expression": str(root / "expr.tsv"),
            "expression_has_header": False,
            "upstream": 7000,
            "downstream": 3500,
        },
    }


def run(source: str, n_genes: int, seed: int, compression: str | None, tmp_root: str | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench_build_", dir=tmp_root) as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        ds_cfg = (
            write_xpresso(root, n_genes, seed, compression)
            if source == "xpresso"
            else write_genome(root, n_genes, seed)
        )
        t_inputs = time.perf_counter() - t0
        input_mb = sum(p.stat().st_size for p in root.iterdir()) / 2**20
        cfg = {"dataset": ds_cfg, "download": {"cache_dir": str(root / "cache")}}
        # run 1: time and peak RSS; run 2 (tracemalloc on, slower): peak of traced heap allocations
        child = _child(cfg, root / "out", trace=False)
        peak_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        traced = _child(cfg, root / "out_traced", trace=True)
        seqs = np.load(root / "out" / "sequences.npy", mmap_mode="r")
        return {
            "source": source,
            "n_genes": int(seqs.shape[0]),
            "length": int(seqs.shape[1]),
            "inputs_mb": round(input_mb, 1),
            "inputs_write_s": round(t_inputs, 1),
            "build_s": round(child["seconds"], 1),
            "peak_rss_mb": round(peak_rss / 1024, 1),
            "tracemalloc_peak_mb": round(traced["tracemalloc_peak_mb"], 1),
            "sequences_npy_mb": round((root / "out" / "sequences.npy").stat().st_size / 2**20, 1),
            "float32_onehot_mb": round(seqs.shape[0] * seqs.shape[1] * 4 * 4 / 2**20, 1),
            "h5_compression": compression if source == "xpresso" else None,
            "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} "
            f"cpu, python {platform.python_version()}",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }


def _child(cfg: dict, out: Path, trace: bool) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(cfg), str(out), "trace" if trace else "plain"],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"build failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", choices=["xpresso", "genome"], default="xpresso")
    ap.add_argument("--n-genes", type=int, default=FULL)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--compression",
        choices=["none", "lzf", "gzip"],
        default="none",
        help="h5 compression of the synthetic promoter dataset",
    )
    ap.add_argument("--tmp", default=None, help="folder for the temporary inputs (default: system temp)")
    args = ap.parse_args()
    res = run(args.source, args.n_genes, args.seed, None if args.compression == "none" else args.compression, args.tmp)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
