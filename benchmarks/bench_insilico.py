"""Benchmark: cost of the in-silico pair insertion experiment per pair (promoter_cr.motifs.insilico).

For each window length (``--lengths``, default 600 bp, 1 kb and 10.5 kb) a random-weight CR
with the schema's defaults (``promoter_cr.config.model_defaults("cr")`` +
``promoter_cr.models.registry.build_model``) is run on ``--measure-backgrounds`` dinucleotide-
shuffled random sequences (one number per length) for one pair of JASPAR-like motifs (widths
9 and 10, consensus sites) anchored in the middle of the window, at the proposed defaults
(``--max-spacing`` 50, ``--spacing-step`` 1, ``--min-gap`` 2, ``--batch-size``). The cost is exactly linear in
the backgrounds (every background gets the same ``2 + 6 S`` rows), so the seconds per pair at
``--n-backgrounds`` (the proposed default, 32) are extrapolated from the measured run when
fewer backgrounds were measured; the table says which. ``f(0)`` (one forward per background,
shared by all pairs) is not counted per pair.

The full run at a length also reports what the random network's test calls at margin 0 and at
``--margin`` x the prediction spread (a random network is no null of "no spacing rule": it
couples nearby sites through its convolutions; see the module docstring).

Usage::

    python benchmarks/bench_insilico.py --threads 2 --lengths 600 1000 10500 --measure-backgrounds 32 8 1
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from promoter_cr.models.inference import Predictor


def _pwm(codes: np.ndarray, p: float = 0.85) -> np.ndarray:
    m = np.full((4, codes.size), (1 - p) / 3)
    m[codes, np.arange(codes.size)] = p
    return m


def run_length(length: int, args, n_measure: int) -> dict:
    import torch

    from promoter_cr.config import model_defaults
    from promoter_cr.models.registry import build_model
    from promoter_cr.motifs.insilico import pair_experiment, pair_rows, prediction_spread, sample_backgrounds
    from promoter_cr.seq.encoding import encode
    from promoter_cr.seq.motifs import Motif
    from promoter_cr.stats.fdr import bh_qvalues

    torch.manual_seed(args.seed)
    model = build_model(model_defaults("cr"), length, 0).eval()
    rng = np.random.default_rng(args.seed)
    genes = rng.integers(0, 4, size=(max(n_measure, 2) * 2, length), dtype=np.uint8)
    a = Motif("MA_A", "A", _pwm(encode("GATTACAGG")))
    b = Motif("MA_B", "B", _pwm(encode("CCATAGGCAA")))
    bg, rows = sample_backgrounds(genes, n_backgrounds=n_measure, seed=args.seed)
    anchor = length // 2
    # warm-up (allocator, threads) on one background, not timed
    pair_experiment(
        Predictor(model, "cpu", args.batch_size),
        bg[:1],
        a,
        b,
        anchor,
        max_spacing=min(args.max_spacing, 12),
        spacing_step=args.spacing_step,
        min_gap=args.min_gap,
    )
    f0 = np.zeros(n_measure)
    t = time.perf_counter()
    exp = pair_experiment(
        Predictor(model, "cpu", args.batch_size),
        bg,
        a,
        b,
        anchor,
        max_spacing=args.max_spacing,
        spacing_step=args.spacing_step,
        min_gap=args.min_gap,
        f0=f0,
    )
    dt = time.perf_counter() - t
    s = exp.spacings.size
    forwards = n_measure * (2 + 6 * s)
    out = {
        "length": length,
        "spacings": int(s),
        "forwards_per_background": 2 + 6 * int(s),
        "backgrounds_measured": n_measure,
        "seconds_measured": round(dt, 2),
        "sequences_per_s": round(forwards / dt, 1),
        "n_backgrounds": args.n_backgrounds,
        "seconds_per_pair": round(dt * args.n_backgrounds / n_measure, 1),
        "extrapolated": n_measure != args.n_backgrounds,
    }
    if n_measure >= 8:
        exp.f0[:] = 0.0

        exp.f0[:] = Predictor(model, "cpu", args.batch_size).predict(bg)[0]
        spread = prediction_spread(Predictor(model, "cpu", args.batch_size), genes, rows)
        for margin in (0.0, args.margin):
            # every gap (clash_gap 0), as this random-network check measured before the contact zone
            t0 = pair_rows(exp, min_contrast=margin * spread, clash_gap=0)
            q = bh_qvalues(t0["p_value"].to_numpy())
            called = t0[q < 0.05]
            out[f"random_net_calls_margin_{margin:g}"] = int(len(called))
            out[f"random_net_call_gaps_margin_{margin:g}"] = sorted({int(g) for g in called["gap"]})
        out["receptive_field"] = int(model.receptive_field())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", type=int, nargs="+", default=[600, 1000, 10500])
    ap.add_argument(
        "--measure-backgrounds",
        type=int,
        nargs="+",
        default=[32, 8, 1],
        help="backgrounds actually run at each length (cost is linear in them)",
    )
    ap.add_argument("--n-backgrounds", type=int, default=32, help="proposed default the cost is reported for")
    ap.add_argument("--max-spacing", type=int, default=50)
    ap.add_argument("--spacing-step", type=int, default=1)
    ap.add_argument("--min-gap", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--margin", type=float, default=0.05, help="margin as a fraction of the prediction spread")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()

    import torch

    from promoter_cr.runtime import limit_threads

    limit_threads(args.threads)
    measure = list(args.measure_backgrounds) + [args.measure_backgrounds[-1]] * len(args.lengths)
    results = []
    print(
        f"# {platform.machine()} {platform.python_version()} torch {torch.__version__}, {args.threads} threads; "
        f"max_spacing {args.max_spacing}, step {args.spacing_step}, min_gap {args.min_gap}, batch {args.batch_size}"
    )
    print("| length | spacings | forwards/background | backgrounds run | s run | seq/s | s per pair at n_backgrounds |")
    print("|---|---|---|---|---|---|---|")
    for length, n in zip(args.lengths, measure):
        r = run_length(length, args, n)
        results.append(r)
        ext = " (extrapolated)" if r["extrapolated"] else ""
        print(
            f"| {length} | {r['spacings']} | {r['forwards_per_background']} | {n} | {r['seconds_measured']} | "
            f"{r['sequences_per_s']} | {r['seconds_per_pair']} at {args.n_backgrounds}{ext} |",
            flush=True,
        )
    for r in results:
        extra = {k: v for k, v in r.items() if k.startswith("random_net") or k == "receptive_field"}
        if extra:
            print(f"# {r['length']} bp random-weight CR: {extra}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
