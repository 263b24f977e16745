"""Speed of CR weighted features against ISM and gradient x input on the same model.

Times, on random 10.5 kb promoters and a CRModel with the package defaults for that
length (the schema's ``models`` defaults for type ``cr``; position bins derived from the length),
random weights:

* CR export: :func:`promoter_cr.interpret.attribute.compute_weighted_features` (one forward pass per
  batch, one-hot on the device, tracks written to an .npy memmap, decomposition checked);
* gradient x input: :func:`promoter_cr.interpret.faithfulness.grad_x_input` (forward + backward);
* ISM: :func:`promoter_cr.interpret.faithfulness.ism` on ``--ism-seqs`` sequences and the first
  ``--ism-positions`` positions only (3 mutants each), then extrapolated linearly to all
  ``3 L`` mutants per sequence (ISM cost is exactly proportional to the number of mutants,
  every mutant being one full-length forward pass in batches of ``--batch-size``).

Prints sequences/s for each and the speed ratios. Example::

    python benchmarks/bench_attribution_speed.py --n-seqs 32 --ism-positions 100 --threads 2
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from promoter_cr.config import model_defaults
from promoter_cr.interpret.attribute import compute_weighted_features
from promoter_cr.interpret.faithfulness import grad_x_input, ism
from promoter_cr.models.inference import Predictor
from promoter_cr.models.registry import build_model, model_kwargs
from promoter_cr.runtime import resolve_device


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--length", type=int, default=10500)
    ap.add_argument("--n-seqs", type=int, default=32, help="sequences for CR export and gradient x input")
    ap.add_argument("--ism-seqs", type=int, default=1)
    ap.add_argument(
        "--ism-positions", type=int, default=100, help="positions mutated per ISM sequence (extrapolated to L)"
    )
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--device", default=None, help="default: GPU when available")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--channels", type=int, default=None, help="override the schema's CR channels")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    torch.manual_seed(args.seed)
    cfg = model_defaults("cr")
    if args.channels:
        cfg["channels"] = args.channels
    kw = model_kwargs(cfg)
    model = build_model(cfg, args.length, 0).to(dev).eval()
    rng = np.random.default_rng(args.seed)
    codes = rng.integers(0, 4, size=(args.n_seqs, args.length)).astype(np.uint8)
    L = args.length

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "wf.npy"
        # warm-up (kernel selection, allocator)
        compute_weighted_features(
            Predictor(model, dev, args.batch_size, False),
            codes[: min(2, len(codes))],
            np.arange(min(2, len(codes))),
            out,
            dtype="float32",
        )
        sync()
        t0 = time.perf_counter()
        compute_weighted_features(
            Predictor(model, dev, args.batch_size, False), codes, np.arange(len(codes)), out, dtype="float32"
        )
        sync()
        t_cr = time.perf_counter() - t0

    grad_x_input(Predictor(model, dev, args.batch_size), codes[:2])
    sync()
    t0 = time.perf_counter()
    grad_x_input(Predictor(model, dev, args.batch_size), codes)
    sync()
    t_gx = time.perf_counter() - t0

    positions = np.arange(min(args.ism_positions, L))
    ism(Predictor(model, dev, args.batch_size), codes[:1], positions[:2])
    sync()
    t0 = time.perf_counter()
    ism(Predictor(model, dev, args.batch_size), codes[: args.ism_seqs], positions)
    sync()
    t_ism_part = time.perf_counter() - t0
    n_mut = 3 * len(positions) * args.ism_seqs
    t_ism_full = t_ism_part * (L / len(positions))  # per ism_seqs sequences, all 3L mutants

    cr_rate = args.n_seqs / t_cr
    gx_rate = args.n_seqs / t_gx
    ism_rate = args.ism_seqs / t_ism_full
    print(
        f"machine: {platform.node()} {platform.processor() or platform.machine()}, device {dev}"
        + (
            f" ({torch.cuda.get_device_name(dev)})"
            if dev.type == "cuda"
            else f", torch threads {torch.get_num_threads()}"
        )
    )
    print(
        f"model: CRModel(L={L}, {kw}, position bins of {model.bin} bp), "
        f"batch {args.batch_size}, torch {torch.__version__}"
    )
    print(f"CR weighted features : {args.n_seqs} seqs in {t_cr:.3f} s -> {cr_rate:.2f} seqs/s")
    print(f"gradient x input     : {args.n_seqs} seqs in {t_gx:.3f} s -> {gx_rate:.2f} seqs/s")
    print(
        f"ISM (measured)       : {n_mut} mutants ({args.ism_seqs} seq x "
        f"{len(positions)} positions x 3) in {t_ism_part:.3f} s"
        f" -> {n_mut / t_ism_part:.1f} mutants/s"
    )
    print(
        f"ISM (extrapolated)   : {3 * L} mutants per sequence -> "
        f"{t_ism_full / args.ism_seqs:.1f} s/seq -> {ism_rate:.5f} seqs/s"
    )
    print(f"speed ratio CR / ISM : {cr_rate / ism_rate:,.0f}x   (CR / gradient x input: {cr_rate / gx_rate:.2f}x)")


if __name__ == "__main__":
    main()
