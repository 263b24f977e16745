"""Benchmark: the whole default pipeline at user scale, with time and peak memory of every job.

``--set tiles``: the 62,897 native yeast promoter tiles of ``../shared/data/yeast`` (de Boer 2020,
120 bp) through the ``fasta`` source with ``missing_label: drop``, JASPAR fungi, every other setting
at the schema's defaults. ``--set hard``: a fresh ``hard`` simulated grammar of 8,000 x 1 kb
(``--seed``), schema defaults throughout. The run is ``snakemake --cores N`` in ``--out``; each job
logs its wall time, CPU time and peak RSS (``promoter_cr.cli``), which this script collects into
``<out>/jobs.tsv`` and prints as a Markdown table with the run's total wall time.

``--numba``: cold and warm start of memelite's kernels: ``python -m promoter_cr.warmup`` in an empty
``NUMBA_CACHE_DIR`` (cold) and again (warm).

Usage::

    python benchmarks/bench_scale.py --set tiles --out /tmp/pcr_scale --cores 2
    python benchmarks/bench_scale.py --set hard --seed 7401 --out /tmp/pcr_hard8000 --cores 2
    python benchmarks/bench_scale.py --numba --out /tmp/pcr_numba
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
LINE = re.compile(r"resources: (\S+) took ([\d.]+) s wall, ([\d.]+) s CPU, peak RSS (\d+) MB")


def config(which: str, seed: int) -> dict:
    if which == "tiles":
        return {
            "dataset": {
                "name": "native_tiles",
                "source": "fasta",
                "fasta": {
                    "sequences": str(SHARED / "yeast" / "deboer2020_native80_ypd.tsv.gz"),
                    "sequence_column": "sequence",
                    "label_column": "expression",
                    "missing_label": "drop",
                },
            },
            "motifs": {"tax_group": ["fungi"]},
        }
    return {"dataset": {"name": f"hard_s{seed}", "simulate": {"preset": "hard", "seed": seed}}}


def jobs_table(results: Path) -> pd.DataFrame:
    rows = []
    for log in sorted((results / "logs").rglob("*.log")):
        for m in LINE.finditer(log.read_text(errors="replace")):
            rows.append(
                {
                    "job": str(log.relative_to(results / "logs")).removesuffix(".log"),
                    "command": m.group(1),
                    "wall_s": float(m.group(2)),
                    "cpu_s": float(m.group(3)),
                    "peak_rss_mb": int(m.group(4)),
                }
            )
    return pd.DataFrame(rows).sort_values("wall_s", ascending=False)


def run_pipeline(which: str, seed: int, out: Path, cores: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(config(which, seed)))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--cores", str(cores),
           "--configfile", str(cfg_path), "-d", str(out)]  # fmt: skip
    t0 = time.time()
    with open(out / "snakemake.log", "w") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
    total = time.time() - t0
    name = config(which, seed)["dataset"]["name"]
    table = jobs_table(out / "results" / name)
    table.to_csv(out / "jobs.tsv", sep="\t", index=False)
    print(f"total wall time {total:.0f} s ({total / 60:.1f} min) on {cores} cores; largest peak RSS "
          f"{table.peak_rss_mb.max()} MB ({table.loc[table.peak_rss_mb.idxmax(), 'job']})")  # fmt: skip
    print("| job | wall s | CPU s | peak RSS MB |\n|---|---|---|---|")
    for r in table.itertuples():
        print(f"| {r.job} | {r.wall_s:.0f} | {r.cpu_s:.0f} | {r.peak_rss_mb} |")


def numba_cold_warm() -> None:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for what in ("cold (empty numba cache)", "warm (second run)"):
            t0 = time.time()
            subprocess.run([sys.executable, "-m", "promoter_cr.warmup"], check=True, env=env, capture_output=True)
            print(f"python -m promoter_cr.warmup, {what}: {time.time() - t0:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=["tiles", "hard"])
    ap.add_argument("--seed", type=int, default=7401)
    ap.add_argument("--numba", action="store_true")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cores", type=int, default=2)
    args = ap.parse_args()
    if args.numba:
        numba_cold_warm()
    if args.set:
        run_pipeline(args.set, args.seed, args.out, args.cores)


if __name__ == "__main__":
    main()
