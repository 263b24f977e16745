"""Benchmark: CR against the baselines on data nobody tuned them on, every model at package defaults.

Every model (``cr``, ``cnn``, ``xpresso_cnn``, ``kmer_ridge``) trains with its type's schema defaults
(architecture and recipe); only ``train.seed`` changes between replicates. Each training runs as its
own ``promoter-cr train`` process with one thread, ``--workers`` at a time. Test Pearson r is read
from each model's ``metrics.json``; the table gives mean and sd over replicates and the mean
training wall time per model.

Tasks (data from ``../shared/data``, built into ``--out``; see its README):

``hard``
    Three fresh ``hard`` simulator grammars, 8,000 x 1 kb (seeds 7301, 7302, 7303, never used in
    development; settings were chosen on seeds 3001/3002), each with training seeds 0, 1, 2: nine
    replicates per model. The simulator's default split (random 80/10/10).
``yeast_genome``
    The S. cerevisiae genome through the ``genome`` source: STRIPE-seq TSSs, RNA-seq log2 TPM,
    windows -1000..+100 around the TSS, whole chromosomes held out (valid X and XI, test XIII and
    XIV; written down before any test figure was read). Training seeds 0, 1, 2.
``native_tiles``
    62,897 native yeast promoter tiles (de Boer 2020, 120 bp), ``missing_label: drop`` (1,661 rows
    without a label), seeded random 80/10/10. Training seeds 0, 1, 2.
``dream_vaishnav``
    Trained on the 6,332 DREAM random promoters of at most 110 bp (of 6,370; padded to 110 bp with N,
    centred), validated and
    tested on the 3,782 Vaishnav native promoter fragments (110 bp) split by native gene (199
    genes; a seeded third of the genes valid, the rest test), so no gene's fragments are on both
    sides. Labels of the two assays are on different scales; Pearson r is scale-free. Seeds 0, 1, 2.
``liver``
    Human liver promoters (2,048 bp, ln(1 + TPM)): ``a`` + ``b_train`` + ``b_dev`` pooled,
    de-duplicated by sequence (mean label), seeded random 70/10/20. Seeds 0, 1, 2.

The k-mer ridge is deterministic (its penalty comes from leave-one-out cross-validation on the
training split); it runs once per data set.

Usage::

    python benchmarks/bench_generalization.py --out /tmp/pcr_gen [--tasks hard liver ...] [--workers 2]

Development mode (how settings are chosen, never reading a test figure): ``--dev`` uses the
development grammars (seeds 3001, 3002) for ``hard`` and reports the *validation* r only (the test
split's r is not read); for ``liver`` it trains on three re-splits of the non-test genes
(:func:`build_liver_dev`) and also reports r on their held-out part;
``--override '{"model type": {"key": value}}'`` overrides a model type's settings and ``--tag`` names the
variant's model folders::

    python benchmarks/bench_generalization.py --dev --out /tmp/pcr_dev --models cr kmer_ridge \
        --override '{"cr": {"kmer_prior": []}}' --tag noprior

Writes ``<out>/results.tsv`` (one row per task, model, replicate) and ``<out>/summary.tsv``, and prints
the summary as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HARD_SEEDS = (7301, 7302, 7303)
DEV_HARD_SEEDS = (3001, 3002)  # development grammars: settings are chosen on their validation splits
DEV_LIVER_SEEDS = (1, 2, 3)  # re-splits of the liver set's non-test rows (``--dev``)
TRAIN_SEEDS = (0, 1, 2)
MODELS = ("cr", "cnn", "xpresso_cnn", "kmer_ridge")
TASKS = ("hard", "yeast_genome", "native_tiles", "dream_vaishnav", "liver")


def _build(cfg: dict, out: Path) -> Path:
    from promoter_cr.config import validate_config
    from promoter_cr.data.sources import build_dataset

    if not (out / "meta.json").exists():
        build_dataset(validate_config(cfg, semantics=False), out)
    return out


def _resplit(data_dir: Path, split: np.ndarray, note: dict) -> None:
    """Replace the split column of a built data set (the split record goes into meta.json)."""
    from promoter_cr.data.dataset import load_dataset, write_dataset

    ds = load_dataset(data_dir)
    genes = ds.genes.copy()
    genes["split"] = split
    keep = ("n_genes", "length", "split_counts", "encoding", "promoter_cr_version", "created")
    meta = {k: v for k, v in ds.meta.items() if k not in keep}
    meta["split"] = note
    write_dataset(data_dir, None, genes, meta, sequences_written=True)


def build_hard(root: Path, seed: int) -> Path:
    return _build({"dataset": {"name": f"hard_s{seed}", "simulate": {"preset": "hard", "seed": seed}}}, root)


def build_yeast_genome(root: Path) -> Path:
    d = SHARED / "yeast_genome"
    cfg = {
        "dataset": {
            "name": "yeast_genome",
            "source": "genome",
            "genome": {
                "fasta": str(d / "Saccharomyces_cerevisiae.R64-1-1.dna.toplevel.fa.gz"),
                "tss": str(d / "tss_stripeseq.bed"),
                "bed_tss": "start",
                "expression": str(d / "expression_rnaseq.tsv"),
                "expression_id_column": "gene_id",
                "expression_column": "log2_tpm",
                "upstream": 1000,
                "downstream": 100,
            },
            "split": {"method": "chromosome", "valid_chromosomes": ["X", "XI"], "test_chromosomes": ["XIII", "XIV"]},
        }
    }
    return _build(cfg, root)


def build_native_tiles(root: Path) -> Path:
    cfg = {
        "dataset": {
            "name": "native_tiles",
            "source": "fasta",
            "fasta": {
                "sequences": str(SHARED / "yeast" / "deboer2020_native80_ypd.tsv.gz"),
                "sequence_column": "sequence",
                "label_column": "expression",
                "missing_label": "drop",
            },
            "split": {"method": "random", "valid_fraction": 0.1, "test_fraction": 0.1, "seed": 0},
        }
    }
    return _build(cfg, root)


def build_dream_vaishnav(root: Path) -> Path:
    data = root / "data"
    if (data / "meta.json").exists():
        return data
    dream = pd.read_csv(SHARED / "yeast" / "dream2022_random_promoters_train.txt.gz", sep="\t", header=None)
    dream = dream[dream[0].str.len() <= 110].reset_index(drop=True)  # 38 of 6,370 are longer (up to 135 bp)
    native = pd.read_csv(SHARED / "yeast" / "vaishnav2022_native_promoters.csv.gz")
    table = pd.concat(
        [
            pd.DataFrame(
                {"id": [f"dream{i:05d}" for i in range(len(dream))], "sequence": dream[0], "label": dream[1]}
            ).assign(gene=""),
            pd.DataFrame(
                {
                    "id": [f"native{i:05d}" for i in range(len(native))],
                    "sequence": native["seq110"],
                    "label": native["meanEL"],
                    "gene": native["nativeGene"].astype(str),
                }
            ),
        ],
        ignore_index=True,
    )
    root.mkdir(parents=True, exist_ok=True)
    csv = root / "dream_vaishnav.csv"
    table[["id", "sequence", "label"]].to_csv(csv, index=False)
    cfg = {
        "dataset": {
            "name": "dream_vaishnav",
            "source": "fasta",
            "fasta": {"sequences": str(csv), "id_column": "id", "label_column": "label", "pad_to": 110},
            "split": {"method": "random", "seed": 0},
        }
    }
    _build(cfg, data)
    genes = sorted(set(table.loc[table["gene"] != "", "gene"]))
    rng = np.random.default_rng(0)
    valid_genes = set(rng.permutation(genes)[: len(genes) // 3])
    split = np.where(table["gene"] == "", "train", np.where(table["gene"].isin(valid_genes), "valid", "test"))
    note = {
        "method": "benchmark: DREAM random promoters train; Vaishnav native fragments split by nativeGene, "
        "a seeded third of the genes valid, the rest test",
        "seed": 0,
        "valid_genes": len(valid_genes),
        "test_genes": len(genes) - len(valid_genes),
    }
    _resplit(data, split, note)
    return data


def build_liver(root: Path) -> Path:
    from promoter_cr.data.splits import random_split

    data = root / "data"
    if (data / "meta.json").exists():
        return data
    d = SHARED / "human_liver"
    pool = pd.concat(
        [
            pd.read_csv(d / f)
            for f in ("liver_promoters_a.csv.gz", "liver_promoters_b_train.csv.gz", "liver_promoters_b_dev.csv.gz")
        ],
        ignore_index=True,
    )
    agg = pool.groupby("sequence", sort=False).agg(label=("label", "mean")).reset_index()
    agg["id"] = [f"liver{i:05d}" for i in range(len(agg))]
    root.mkdir(parents=True, exist_ok=True)
    csv = root / "liver.csv"
    agg[["id", "sequence", "label"]].to_csv(csv, index=False)
    cfg = {
        "dataset": {
            "name": "liver",
            "source": "fasta",
            "fasta": {"sequences": str(csv), "id_column": "id", "label_column": "label"},
            "split": {"method": "random", "seed": 0},
        }
    }
    _build(cfg, data)
    note = {"method": "benchmark: a + b_train + b_dev pooled, de-duplicated, seeded random 70/10/20", "seed": 0}
    _resplit(data, random_split(len(agg), 0.1, 0.2, 0), note)
    return data


def build_liver_dev(root: Path, liver: Path, seed: int) -> Path:
    """A development copy of the liver set: its test rows removed, the rest re-split 70/10/20 (``seed``).

    Its ``test`` split is a held-out part of the *non-test* genes, so reading it chooses settings
    without touching a test figure; 294 validation genes alone are too few to rank variants.
    """
    from promoter_cr.data.dataset import load_dataset, write_dataset
    from promoter_cr.data.splits import random_split

    if (root / "meta.json").exists():
        return root
    ds = load_dataset(liver)
    keep = np.flatnonzero(ds.genes["split"].to_numpy() != "test")
    genes = ds.genes.iloc[keep].reset_index(drop=True)
    genes["split"] = random_split(len(keep), 0.1, 0.2, seed)
    drop = ("n_genes", "length", "split_counts", "encoding", "promoter_cr_version", "created")
    meta = {k: v for k, v in ds.meta.items() if k not in drop}
    meta["split"] = {"method": "development: liver test rows removed, the rest seeded random 70/10/20", "seed": seed}
    write_dataset(root, np.asarray(ds.sequences[keep]), genes, meta)
    return root


def datasets(out: Path, tasks: list[str], dev: bool = False) -> dict[str, list[Path]]:
    """Build (or reuse) the data sets of ``tasks``: ``{task: [data dirs]}`` (``dev``: the development grammars)."""
    sets: dict[str, list[Path]] = {}
    if "hard" in tasks:
        sets["hard"] = [build_hard(out / "data" / f"hard_s{s}", s) for s in (DEV_HARD_SEEDS if dev else HARD_SEEDS)]
    if "yeast_genome" in tasks:
        sets["yeast_genome"] = [build_yeast_genome(out / "data" / "yeast_genome")]
    if "native_tiles" in tasks:
        sets["native_tiles"] = [build_native_tiles(out / "data" / "native_tiles")]
    if "dream_vaishnav" in tasks:
        sets["dream_vaishnav"] = [build_dream_vaishnav(out / "data" / "dream_vaishnav")]
    if "liver" in tasks:
        liver = build_liver(out / "data" / "liver")
        sets["liver"] = (
            [build_liver_dev(out / "data" / f"liver_dev{s}", liver, s) for s in DEV_LIVER_SEEDS] if dev else [liver]
        )
    return sets


def jobs(sets: dict[str, list[Path]], models: list[str]) -> list[dict]:
    out = []
    for task, dirs in sets.items():
        for data in dirs:
            for model in models:
                for seed in (0,) if model == "kmer_ridge" else TRAIN_SEEDS:
                    out.append({"task": task, "data": data, "model": model, "seed": seed})
    # longest first, so the two workers finish together
    order = {"native_tiles": 0, "hard": 1, "yeast_genome": 2, "liver": 3, "dream_vaishnav": 4}
    return sorted(out, key=lambda j: (order[j["task"]], MODELS.index(j["model"])))


def run_job(job: dict, out: Path, dev: bool = False, override: dict | None = None, tag: str = "") -> dict:
    """Train one model (unless its metrics exist) and return its row (``dev``: validation r only)."""
    data_name = job["data"].parent.name if job["data"].name == "data" else job["data"].name
    changed = (override or {}).get(job["model"], {})
    variant = f"_{tag}" if tag and changed else ""
    name = f"{data_name}_{job['model']}{variant}_s{job['seed']}"
    model_dir = out / "models" / name
    metrics = model_dir / "metrics.json"
    if not metrics.exists():
        settings = {"type": job["model"], **changed}
        cfg = {
            "models": {job["model"]: settings},
            "train": {"seed": job["seed"], "accelerator": "cpu", "devices": 1},
        }
        cmd = [
            sys.executable,
            "-m",
            "promoter_cr",
            "--threads",
            "1",
            "--log",
            str(model_dir) + ".log",
            "train",
            "--config",
            json.dumps(cfg),
            "--data",
            str(job["data"]),
            "--model",
            job["model"],
            "--out",
            str(model_dir),
        ]
        t0 = time.time()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ)
        wall = time.time() - t0
        (model_dir / "wall_seconds.txt").write_text(f"{wall:.1f}\n")
    m = json.loads(metrics.read_text())
    wall = float((model_dir / "wall_seconds.txt").read_text())
    row = {
        "task": job["task"],
        "data": data_name,
        "model": job["model"],
        "seed": job["seed"],
        **({} if dev else {"test_r": m["splits"]["test"]["pearson_r"]}),
        "valid_r": m["splits"]["valid"]["pearson_r"],
        **({"dev_heldout_r": m["splits"]["test"]["pearson_r"]} if dev and "_dev" in data_name else {}),
        **({} if dev else {"test_n": m["splits"]["test"]["n"]}),
        "epochs": m.get("epochs_trained"),
        "best_epoch": m.get("best_epoch"),
        "wall_seconds": wall,
    }
    print(json.dumps(row), flush=True)
    return row


def summarise(results: pd.DataFrame, column: str = "test_r") -> pd.DataFrame:
    """Mean and sd of ``column`` (``test_r``, or ``valid_r`` in development) per task and model."""
    g = results.groupby(["task", "model"], sort=False)
    s = g.agg(
        test_r_mean=(column, "mean"),
        test_r_sd=(column, "std"),
        replicates=(column, "size"),
        wall_seconds_mean=("wall_seconds", "mean"),
    ).reset_index()
    s["test_r_sd"] = s["test_r_sd"].fillna(0.0)
    return s


def markdown(summary: pd.DataFrame) -> str:
    lines = ["| task | " + " | ".join(MODELS) + " |", "|---|" + "---|" * len(MODELS)]
    for task, grp in summary.groupby("task", sort=False):
        cells = []
        for m in MODELS:
            r = grp[grp["model"] == m]
            cells.append(
                ""
                if r.empty
                else f"{r.test_r_mean.iloc[0]:.3f} +- {r.test_r_sd.iloc[0]:.3f} ({r.wall_seconds_mean.iloc[0]:.0f} s)"
            )
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dev", action="store_true", help="development grammars, validation r only")
    ap.add_argument("--override", type=json.loads, default=None, help='JSON {"model type": {settings}}')
    ap.add_argument("--tag", default="", help="name of the variant (model folder suffix of the overridden types)")
    ap.add_argument("--seeds", type=int, nargs="+", default=list(TRAIN_SEEDS), help="training seeds")
    args = ap.parse_args()
    t0 = time.time()
    sets = datasets(args.out, args.tasks, dev=args.dev)
    print(f"data sets ready in {time.time() - t0:.0f} s", flush=True)
    todo = [j for j in jobs(sets, args.models) if j["model"] == "kmer_ridge" or j["seed"] in args.seeds]
    with ThreadPoolExecutor(args.workers) as pool:
        rows = list(pool.map(lambda j: run_job(j, args.out, args.dev, args.override, args.tag), todo))
    results = pd.DataFrame(rows)
    stem = f"results{'_dev' if args.dev else ''}{'_' + args.tag if args.tag else ''}"
    results.to_csv(args.out / f"{stem}.tsv", sep="\t", index=False)
    summary = summarise(results, "valid_r" if args.dev else "test_r")
    summary.to_csv(args.out / f"{stem.replace('results', 'summary')}.tsv", sep="\t", index=False)
    if args.dev:
        print("development: validation Pearson r (no test figure read)")
    print(markdown(summary))
    if args.dev and "dev_heldout_r" in results:
        held = summarise(results.dropna(subset=["dev_heldout_r"]), "dev_heldout_r")
        held.to_csv(args.out / f"{stem.replace('results', 'summary')}_heldout.tsv", sep="\t", index=False)
        print("development: Pearson r on held-out non-test genes (liver re-splits)")
        print(markdown(held))
    print(f"total wall time {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
