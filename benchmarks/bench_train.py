"""Benchmark: training throughput on 10.5 kb inputs and peak memory on an Xpresso-sized set.

1. Throughput: training steps (forward + backward + AdamW) of the default CR model and the
   Xpresso CNN on synthetic one-hot batches of ``--length`` bp; reports sequences / s.
2. Peak RSS: writes an ``--n-genes x --length`` uint8 memmap data set (18,377 x 10,500 =
   193 MB, Xpresso's size) to a temp dir and runs ``train_model`` end to end (Lightning fit
   limited to ``--steps`` training batches for one epoch, validation on the 1,000-gene valid
   split, then prediction of every gene), reporting the peak resident set size of the process.
   The memmap is never loaded whole: the peak must stay far below 4 GB.

Usage::

    python benchmarks/bench_train.py [--threads 2] [--steps 20] [--batch-size 16] [--rss-channels 32]
    python benchmarks/bench_train.py --skip-rss        # throughput only
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def throughput(length: int, batch: int, steps: int, kind: str) -> dict:
    import torch

    from promoter_cr.config import model_defaults
    from promoter_cr.models.inference import prediction_of
    from promoter_cr.models.registry import build_model, n_parameters

    torch.manual_seed(0)
    model = build_model(model_defaults(kind), length, 0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    codes = torch.randint(0, 4, (batch, length), dtype=torch.uint8)
    from promoter_cr.seq.encoding import one_hot_torch

    y = torch.randn(batch)

    def step() -> None:
        x = one_hot_torch(codes)
        loss = torch.nn.functional.mse_loss(prediction_of(model(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = time.perf_counter() - t0
    model.eval()
    with torch.inference_mode():
        t1 = time.perf_counter()
        for _ in range(steps):
            prediction_of(model(one_hot_torch(codes)))
        di = time.perf_counter() - t1
    return {
        "model": kind,
        "length": length,
        "batch": batch,
        "steps": steps,
        "params": n_parameters(model),
        "train_seq_per_s": round(batch * steps / dt, 2),
        "infer_seq_per_s": round(batch * steps / di, 2),
    }


def peak_rss(n_genes: int, length: int, steps: int, batch: int, keep: Path | None, channels: int) -> dict:
    from promoter_cr.config import validate_config
    from promoter_cr.data.dataset import write_dataset
    from promoter_cr.models.train import train_model

    tmp = Path(tempfile.mkdtemp(prefix="pcr_bench_train_", dir=keep))
    data = tmp / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    arr = np.lib.format.open_memmap(data / "sequences.npy", mode="w+", dtype=np.uint8, shape=(n_genes, length))
    for s in range(0, n_genes, 1024):
        arr[s : s + 1024] = rng.integers(0, 4, size=(min(1024, n_genes - s), length), dtype=np.uint8)
    arr.flush()
    del arr
    split = np.array(["train"] * (n_genes - 2000) + ["valid"] * 1000 + ["test"] * 1000, dtype=object)
    genes = pd.DataFrame(
        {"gene_id": [f"g{i:05d}" for i in range(n_genes)], "label": rng.normal(size=n_genes), "split": split}
    )
    write_dataset(data, None, genes, {"source": "benchmark"}, sequences_written=True)
    cfg = validate_config(
        {
            "models": {"cr": {"type": "cr", "channels": channels, "max_epochs": 1, "batch_size": batch}},
            "train": {"limit_train_batches": steps, "accelerator": "cpu", "devices": 1},
        },
        semantics=False,
    )
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.time()
    m = train_model(cfg, "cr", data, tmp / "cr")
    return {
        "n_genes": n_genes,
        "length": length,
        "channels": channels,
        "train_steps": steps,
        "batch": batch,
        "seconds": round(time.time() - t0, 1),
        "peak_rss_mb_before": round(rss0, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "global_step": m["global_step"],
        "dir": str(tmp),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--length", type=int, default=10500)
    ap.add_argument("--n-genes", type=int, default=18377)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--steps", type=int, default=20, help="training batches (throughput and the RSS run)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument(
        "--rss-channels", type=int, default=32, help="CR channels in the end-to-end RSS run (it predicts all genes)"
    )
    ap.add_argument("--tmp", type=Path, default=None, help="parent folder of the temporary data set")
    args = ap.parse_args()
    import logging

    import torch

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    res = {"torch_threads": args.threads, "python": sys.version.split()[0]}
    for kind in ("cr", "xpresso_cnn"):
        r = throughput(args.length, args.batch_size, max(3, args.steps // 4), kind)
        print(json.dumps(r), flush=True)
        res[f"throughput_{kind}"] = r
    if not args.skip_rss:
        r = peak_rss(args.n_genes, args.length, args.steps, 64, args.tmp, args.rss_channels)
        print(json.dumps(r), flush=True)
        res["rss"] = r
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
