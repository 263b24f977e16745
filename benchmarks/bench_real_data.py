"""Benchmark: CR vs Xpresso CNN vs k-mer ridge on real promoter data (held-out test Pearson r).

Data (../shared/data, see its README):

* ``liver``: EN-TEx liver promoters (2,048 bp, label ln(1 + TPM)). ``liver_promoters_a``,
  ``_b_train`` and ``_b_dev`` pooled and de-duplicated by sequence (144 sequences occur in
  both a and b; their mean label is kept): 2,936 promoters. Held-out split: **seeded random
  70 / 10 / 20 % (train / valid / test) of the pool**. (The files differ in label
  distribution: ``b`` was selected for liver-specific genes, mean label 3.1 vs 1.4 in ``a``,
  and CpG content predicts expression in ``a`` but not in ``b``; training on a + b and testing
  on a-only held-out genes, the first design tried, leaves every model near r = 0.15 with
  train and test drawn from different populations, so the pooled random split is used.)
* ``yeast``: Vaishnav et al. 2022 native yeast promoters (110 bp, ``meanEL``). The 3,782
  fragments are tiles / variants of only 199 native genes (~19 each), so a random split would
  leak near-identical sequences; the split is **grouped by ``nativeGene``**: 20 % of the genes
  test, 10 % valid, 70 % train (seeded).

CR tuning on liver (selection by validation r only; test r read once per variant), all
with GroupNorm, 1/sqrt(L) weight scale: 16 ch x 6 layers d=8 (valid r ~0.08, stopped);
``_b`` dropout 0, lr 5e-3 (valid 0.061, test 0.001); ``_c`` 2 layers, l1 0.01 (0.086 / 0.035);
``_d`` 6 layers, l1 0.05 (0.067 / -0.004); ``_e`` 64 ch x 2 layers d=16, lr 3e-3 (0.086 / 0.035);
``_f`` = the config below, stem 128 / context 32 ch (0.144 / 0.095; resumed to 30 epochs it
early-stopped at epoch 19 with the same best epoch 14). Second round (2026-11-25, shallow
CR, reasoning that a stem conv of kernel k with little context is already a linear model
on k-mer counts like the ridge; all full resolution (downsample auto = 1), rc_augment,
l1 1e-4, dropout 0.3, weight_decay 0.1, batch 64 unless said; valid r of the best-val-loss
checkpoint): ``_g`` 16 ch x 1 layer, stem 8, lr 2e-3, batch 32, wd 0.05 (0.174); ``_h``
32 ch x 1 layer, stem 6, lr 3e-3, l1 0, dropout 0.2 (0.11 at epoch 10, stopped);
``_i`` 16 ch x 2 layers, stem 10, lr 1e-3, 60 epochs (0.192); ``_j`` as ``_i`` with lr 2e-3,
100 epochs, patience 12 (0.2196); ``_k`` as ``_i`` with a 48-channel stem (0.172); ``_l`` as
``_j`` with lr 3e-3 (0.164); ``_m`` as ``_j`` with 3 layers (**0.2200**, chosen: the config
below); ``_n`` as ``_j`` with 4 layers (0.194). Variants are run with
``--tag _x --cr-override '{...}'``.

Measured 2026-11-25 on the shared 2-core CPU container (load average 4-8 from other jobs),
test Pearson r: yeast CR 0.595, k-mer ridge 0.574, Xpresso CNN 0.539 (CR wins on r, loses on
Spearman 0.572 vs 0.585 and R^2 0.305 vs 0.329); liver k-mer ridge 0.154, CR 0.095 (``_f``),
Xpresso CNN 0.048. After the second round, the chosen liver CR (``_m``, 3,989 parameters,
best epoch 27 of 40, 377 s) reaches test r 0.213 (Spearman 0.210, R^2 0.041) vs k-mer
ridge 0.154 (0.182, 0.019) and Xpresso CNN 0.048 (0.126, 0.001); same data and split
(valid r 0.220 / 0.220 / 0.195; valid n = 294, test n = 587, so differences of ~0.05 are
within sampling noise).

Data sets are built with the project's ``fasta`` source (``promoter_cr.data.sources.fasta.build``)
from a small CSV the script writes, then the split column is replaced by the one above.

Usage::

    python benchmarks/bench_real_data.py --out /tmp/pcr_bench_real [--sets liver yeast] [--threads 2]

Writes ``<out>/<set>/models/<name>/`` (the usual training outputs) and prints / writes
``<out>/summary.tsv`` (set, model, split, n, pearson_r, ...).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

#: models compared per data set (the CR settings are the tuned ones reported)
MODELS = {
    "liver": {
        # chosen by VALID r among the variants tried (see the module docstring)
        # (``_m``; the previous choice ``_f`` was stem 128 / 32 ch x 4 layers, downsample 16, l1 1e-3, lr 1e-3, wd 1e-2,
        # 15 epochs)
        "cr": {
            "type": "cr",
            "channels": 16,
            "n_layers": 3,
            "kernel_size": 3,
            "stem_kernel": 10,
            "dropout": 0.3,
            "downsample": None,
            "l1": 1e-4,
            "lr": 2e-3,
            "weight_decay": 1e-1,
            "batch_size": 64,
            "max_epochs": 100,
            "patience": 12,
            "rc_augment": True,
        },
        "xpresso_cnn": {
            "type": "xpresso_cnn",
            "lr": 1e-3,
            "batch_size": 128,
            "max_epochs": 30,
            "patience": 5,
            "optimizer": "adam",
        },
        "kmer_ridge": {
            "type": "kmer_ridge",
            "k": [4, 5, 6],
            "alphas": [10.0, 100.0, 1000.0, 3000.0, 10000.0, 30000.0, 100000.0],
        },
    },
    "yeast": {
        "cr": {
            "type": "cr",
            "channels": 32,
            "n_layers": 6,
            "kernel_size": 3,
            "stem_kernel": 9,
            "dropout": 0.2,
            "l1": 1e-3,
            "lr": 2e-3,
            "weight_decay": 1e-2,
            "batch_size": 64,
            "max_epochs": 25,
            "patience": 5,
        },
        "xpresso_cnn": {
            "type": "xpresso_cnn",
            "lr": 1e-3,
            "batch_size": 128,
            "max_epochs": 40,
            "patience": 6,
            "optimizer": "adam",
        },
        "kmer_ridge": {
            "type": "kmer_ridge",
            "k": [4, 5, 6],
            "alphas": [1.0, 10.0, 100.0, 1000.0, 3000.0, 10000.0, 30000.0],
        },
    },
}


def _build_fasta_source(csv: Path, out_dir: Path, name: str) -> None:
    from promoter_cr.config import validate_config
    from promoter_cr.data.sources.fasta import build

    cfg = validate_config(
        {
            "dataset": {
                "name": name,
                "source": "fasta",
                "fasta": {
                    "sequences": str(csv),
                    "id_column": "id",
                    "sequence_column": "sequence",
                    "label_column": "label",
                },
                "split": {"method": "random", "seed": 0},
            }
        },
        semantics=False,
    )
    build(cfg, out_dir)


def _resplit(data_dir: Path, split: np.ndarray, note: dict) -> None:
    from promoter_cr.data.dataset import load_dataset, write_dataset

    ds = load_dataset(data_dir)
    genes = ds.genes.copy()
    genes["split"] = split
    meta = {
        k: v
        for k, v in ds.meta.items()
        if k not in ("n_genes", "length", "split_counts", "encoding", "promoter_cr_version", "created")
    }
    meta["split"] = note
    write_dataset(data_dir, None, genes, meta, sequences_written=True)


def build_liver(root: Path, seed: int = 0) -> Path:
    from promoter_cr.data.splits import random_split

    d = SHARED / "human_liver"
    a = pd.read_csv(d / "liver_promoters_a.csv.gz").assign(origin="a")
    bt = pd.read_csv(d / "liver_promoters_b_train.csv.gz").assign(origin="b_train")
    bd = pd.read_csv(d / "liver_promoters_b_dev.csv.gz").assign(origin="b_dev")
    pool = pd.concat([a, bt, bd], ignore_index=True)
    agg = (
        pool.groupby("sequence", sort=False)
        .agg(label=("label", "mean"), origins=("origin", lambda s: ",".join(sorted(set(s)))))
        .reset_index()
    )
    agg["id"] = [f"liver{i:05d}" for i in range(len(agg))]
    csv = root / "liver_input.csv"
    root.mkdir(parents=True, exist_ok=True)
    agg[["id", "sequence", "label"]].to_csv(csv, index=False)
    out = root / "data"
    _build_fasta_source(csv, out, "liver")
    split = random_split(len(agg), 0.1, 0.2, seed)
    _resplit(
        out,
        split,
        {"method": "benchmark: pooled a + b_train + b_dev, de-duplicated, seeded random 70/10/20", "seed": seed},
    )
    return out


def build_yeast(root: Path, seed: int = 0) -> Path:
    y = pd.read_csv(SHARED / "yeast" / "vaishnav2022_native_promoters.csv.gz")
    df = pd.DataFrame(
        {
            "id": [f"y{i:05d}" for i in range(len(y))],
            "sequence": y["seq110"],
            "label": y["meanEL"],
            "group": y["nativeGene"].astype(str),
        }
    )
    root.mkdir(parents=True, exist_ok=True)
    csv = root / "yeast_input.csv"
    df[["id", "sequence", "label"]].to_csv(csv, index=False)
    out = root / "data"
    _build_fasta_source(csv, out, "yeast")
    genes = np.array(sorted(df["group"].unique()))
    rng = np.random.default_rng(seed)
    perm = rng.permutation(genes)
    n_test, n_valid = int(round(0.2 * len(genes))), int(round(0.1 * len(genes)))
    which = {g: "test" for g in perm[:n_test]} | {g: "valid" for g in perm[n_test : n_test + n_valid]}
    split = df["group"].map(lambda g: which.get(g, "train")).to_numpy(dtype=object)
    _resplit(out, split, {"method": "benchmark: grouped by nativeGene (20% test, 10% valid genes)", "seed": seed})
    return out


def run(
    out: Path, sets: list[str], only: list[str] | None = None, cr_override: dict | None = None, tag: str = ""
) -> pd.DataFrame:
    from promoter_cr.config import validate_config
    from promoter_cr.models.train import train_model

    rows = []
    for name in sets:
        root = out / name
        data = root / "data"
        if not (data / "meta.json").exists():
            (build_liver if name == "liver" else build_yeast)(root)
        spec = {k: dict(v) for k, v in MODELS[name].items()}
        if cr_override or tag:  # a tuning variant of the CR model, trained under its own name
            spec[f"cr{tag}"] = {**spec.pop("cr"), **(cr_override or {})}
        models = {k: v for k, v in spec.items() if not only or k in only or (k.startswith("cr") and "cr" in only)}
        cfg = validate_config(
            {
                "models": spec,
                "analysis_model": next(k for k in spec if k.startswith("cr")),
                "train": {"accelerator": "cpu", "devices": 1, "seed": 0},
            },
            semantics=False,
        )
        for model in models:
            t0 = time.time()
            m = train_model(cfg, model, data, root / "models" / model)
            for split in ("valid", "test"):
                rows.append(
                    {
                        "set": name,
                        "model": model,
                        "split": split,
                        **m["splits"][split],
                        "seconds": round(time.time() - t0, 1),
                        "epochs": m.get("epochs_trained"),
                    }
                )
            print(
                f"{name} {model}: test r = {m['splits']['test']['pearson_r']:.4f} valid r = "
                f"{m['splits']['valid']['pearson_r']:.4f} ({time.time() - t0:.0f} s)",
                flush=True,
            )
    table = pd.DataFrame(rows)
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/pcr_bench_real"))
    ap.add_argument("--sets", nargs="+", default=["yeast", "liver"], choices=["liver", "yeast"])
    ap.add_argument("--models", nargs="+", default=None, help="subset of models (default: all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--cr-override", type=json.loads, default=None, help="JSON dict of CR settings to try (tuning; pick by VALID r)"
    )
    ap.add_argument("--tag", default="", help="suffix of the tuned CR model's name")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    if not SHARED.exists():
        raise SystemExit(f"shared data not found at {SHARED}")
    table = run(args.out, args.sets, args.models, args.cr_override, args.tag)
    summary = args.out / "summary.tsv"
    if summary.exists() and args.models:
        old = pd.read_csv(summary, sep="\t")
        keep = ~(old["set"].isin(table["set"]) & old["model"].isin(table["model"]))
        table = pd.concat([old[keep], table], ignore_index=True)
    table.to_csv(summary, sep="\t", index=False)
    test = table[table["split"] == "test"].pivot(index="model", columns="set", values="pearson_r")
    print(test.round(4).to_string())
    print(json.dumps({"summary": str(summary)}))


if __name__ == "__main__":
    main()
