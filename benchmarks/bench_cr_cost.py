"""Benchmark: CR training cost per Adam step against the baselines, in one process; 1-bp shift stability.

Cost (``--cost``): every model with the schema's defaults (CR, the plain ``cnn``, the Xpresso CNN), batch
64, random one-hot input, one full training step (forward, MSE, backward, optimiser step), timed
``--steps`` times after ``--warmup`` steps; the models alternate step by step (A B A B ...) so machine
noise hits them alike. Each model is timed with the one-hot as a channels-last view
(``one_hot(codes).permute(0, 2, 1)``, what :func:`promoter_cr.seq.encoding.one_hot_torch` returns) and as
a contiguous ``(B, 4, L)`` tensor, and its faster layout is reported. The process uses the package's
allocator setting (:func:`promoter_cr.runtime.keep_freed_memory`); ``--no-keep-freed`` measures glibc's
default for comparison. Ratios: CR / plain CNN at 1 kb (target <= 3), CR / Xpresso CNN at 10.5 kb
(target <= 2).

Shift (``--shift``): trains a CR with the schema's defaults on a ``hard`` simulated set of
``--shift-genes`` x 10,500 bp (``--shift-epochs`` epochs), then compares the contributions of each test
gene's window with those of the same window shifted by 1 bp (aligned by genomic position, 100 bp
trimmed at both ends): Pearson r per gene (target >= 0.95). Also checks the decomposition
(``sum(contributions) + bias == prediction``).

Usage::

    python benchmarks/bench_cr_cost.py --cost --threads 2
    python benchmarks/bench_cr_cost.py --shift --threads 2 --out /tmp/pcr_shift
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np


def _models(length: int):
    from promoter_cr.config import model_defaults
    from promoter_cr.models.registry import build_model

    return {t: build_model(model_defaults(t), length, 0) for t in ("cr", "cnn", "xpresso_cnn")}


def _step_fn(model, mtype: str, codes, y, contiguous: bool):
    import torch

    from promoter_cr.config import model_defaults
    from promoter_cr.seq.encoding import one_hot_torch

    cfg = model_defaults(mtype)
    opt_cls = torch.optim.AdamW if cfg["optimizer"] == "adamw" else torch.optim.Adam
    opt = opt_cls(model.parameters(), lr=float(cfg["lr"]), weight_decay=float(cfg["weight_decay"]))
    model.train()

    def step() -> float:
        t0 = time.perf_counter()
        x = one_hot_torch(codes)
        if contiguous:
            x = x.contiguous()
        out = model(x)
        pred = getattr(out, "prediction", out)
        loss = torch.nn.functional.mse_loss(pred, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return time.perf_counter() - t0

    return step


def cost(lengths: list[int], batch: int, steps: int, warmup: int, seed: int) -> list[dict]:
    import torch

    rows = []
    for length in lengths:
        g = torch.Generator().manual_seed(seed)
        codes = torch.randint(0, 4, (batch, length), generator=g, dtype=torch.uint8)
        y = torch.randn(batch, generator=g)
        models = _models(length)
        fns = {
            (t, lay): _step_fn(m, t, codes, y, lay == "contiguous")
            for t, m in models.items()
            for lay in ("channels_last_view", "contiguous")
        }
        times = {k: [] for k in fns}
        for i in range(warmup + steps):
            for k, fn in fns.items():
                dt = fn()
                if i >= warmup:
                    times[k].append(dt)
        for t in models:
            best = min(("channels_last_view", "contiguous"), key=lambda lay: statistics.median(times[(t, lay)]))
            for lay in ("channels_last_view", "contiguous"):
                ts = times[(t, lay)]
                rows.append(
                    {
                        "length": length,
                        "model": t,
                        "layout": lay,
                        "faster_layout": lay == best,
                        "median_s": statistics.median(ts),
                        "min_s": min(ts),
                        "max_s": max(ts),
                        "n_parameters": int(sum(p.numel() for p in models[t].parameters())),
                    }
                )
    return rows


def ratios(rows: list[dict]) -> dict[str, float]:
    best = {(r["length"], r["model"]): r["median_s"] for r in rows if r["faster_layout"]}
    out = {}
    for length in sorted({r["length"] for r in rows}):
        out[f"cr/cnn at {length} bp"] = best[(length, "cr")] / best[(length, "cnn")]
        out[f"cr/xpresso_cnn at {length} bp"] = best[(length, "cr")] / best[(length, "xpresso_cnn")]
    return out


def shift(out: Path, n_genes: int, epochs: int, seed: int) -> dict:
    import torch

    from promoter_cr.config import validate_config
    from promoter_cr.data.dataset import load_dataset
    from promoter_cr.data.sources.simulate import build as build_simulated
    from promoter_cr.models.checkpoint import load_model
    from promoter_cr.models.train import train_model

    length = 10500
    cfg = validate_config(
        {
            "dataset": {
                "name": "shift",
                "simulate": {"preset": "hard", "seed": seed, "n_genes": n_genes + 1, "length": length + 1},
            },
            "models": {"cr": {"type": "cr", "max_epochs": epochs}},
            "train": {"accelerator": "cpu", "devices": 1},
        },
        semantics=False,
    )
    data_long = out / "data_long"
    if not (data_long / "meta.json").exists():
        build_simulated(cfg, data_long)
    long = load_dataset(data_long)
    # the model trains on the first L bases of every window
    from promoter_cr.data.dataset import write_dataset

    data = out / "data"
    if not (data / "meta.json").exists():
        meta = {"source": "benchmark", "note": "hard preset windows cut to their first 10,500 bp"}
        write_dataset(data, np.ascontiguousarray(long.sequences[:, :length]), long.genes, meta)
    t0 = time.time()
    metrics = train_model(cfg, "cr", data, out / "cr")
    train_s = time.time() - t0
    model, _ = load_model(out / "cr" / "best.ckpt")
    test = long.indices("test")[:64]
    rs, errs = [], []
    with torch.inference_mode():
        from promoter_cr.seq.encoding import one_hot_torch

        codes = torch.from_numpy(np.ascontiguousarray(long.sequences[test]))
        for s in range(0, len(test), 16):
            blk = codes[s : s + 16]
            a = model(one_hot_torch(blk[:, :length]))
            b = model(one_hot_torch(blk[:, 1:]))
            errs.append(float((a.contributions.sum(1) + a.bias - a.prediction).abs().max()))
            ca, cb = a.contributions[:, 101:-100].numpy(), b.contributions[:, 100:-101].numpy()
            rs += [float(np.corrcoef(ca[i], cb[i])[0, 1]) for i in range(len(ca))]
    return {
        "genes": n_genes,
        "length": length,
        "epochs": epochs,
        "train_seconds": round(train_s, 1),
        "valid_r": metrics["splits"]["valid"]["pearson_r"],
        "test_genes_compared": len(rs),
        "shift_r_median": float(np.median(rs)),
        "shift_r_min": float(np.min(rs)),
        "decomposition_max_abs_error": max(errs),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cost", action="store_true")
    ap.add_argument("--shift", action="store_true")
    ap.add_argument("--lengths", type=int, nargs="+", default=[1000, 10500])
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-keep-freed", action="store_true", help="glibc's default allocator behaviour")
    ap.add_argument("--shift-genes", type=int, default=1500)
    ap.add_argument("--shift-epochs", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("/tmp/pcr_bench_cost"))
    args = ap.parse_args()
    from promoter_cr.runtime import keep_freed_memory, limit_threads

    kept = False if args.no_keep_freed else keep_freed_memory()
    limit_threads(args.threads, torch_pools=True)
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"threads": args.threads, "batch_size": args.batch_size, "keep_freed_memory": kept}
    if args.cost:
        rows = cost(args.lengths, args.batch_size, args.steps, args.warmup, args.seed)
        for r in rows:
            print(
                f"{r['length']:>6} bp  {r['model']:<12} {r['layout']:<19} median {r['median_s']:.4f} s "
                f"(min {r['min_s']:.4f}, max {r['max_s']:.4f}){'  *' if r['faster_layout'] else ''}"
            )
        result["cost"] = rows
        result["ratios"] = ratios(rows)
        for k, v in result["ratios"].items():
            print(f"{k}: {v:.2f}")
    if args.shift:
        result["shift"] = shift(args.out, args.shift_genes, args.shift_epochs, args.seed)
        print(json.dumps(result["shift"], indent=2))
    (args.out / "bench_cr_cost.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
