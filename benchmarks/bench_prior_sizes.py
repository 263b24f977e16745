"""Leave-one-out r of the k-mer ridge on a data set's *training* rows, for several k-mer size sets.

A development check for CR's k-mer prior (``models.cr.kmer_prior``): it reads only the training
split of each data set (the ridge's exact leave-one-out predictions,
:func:`promoter_cr.models.kmer.fit_kmer_prior`), never a validation or test label. Data sets are
built by :mod:`bench_generalization` (its builders and folders), so the same ``--root`` can be
shared with a generalization run.

Usage::

    python benchmarks/bench_prior_sizes.py --root /tmp/pcr_prior --tasks liver yeast_genome dream_vaishnav hard
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_generalization as bg  # noqa: E402

SIZES = ([3, 4], [3, 4, 5], [4, 5, 6], [3, 4, 5, 6])


def builders(root: Path) -> dict:
    """Task name -> a function that builds (or finds) its data set and returns the folder."""
    return {
        "liver": lambda: bg.build_liver(root / "liver"),
        "yeast_genome": lambda: bg.build_yeast_genome(root / "yeast_genome"),
        "dream_vaishnav": lambda: bg.build_dream_vaishnav(root / "dream_vaishnav"),
        **{f"hard_s{s}": (lambda s=s: bg.build_hard(root / f"hard_s{s}", s)) for s in bg.DEV_HARD_SEEDS},
    }


def main(argv: list[str] | None = None) -> int:
    from promoter_cr.data.dataset import load_dataset
    from promoter_cr.models.kmer import fit_kmer_prior, kmer_features
    from promoter_cr.models.train import PRIOR_ALPHAS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--tasks", nargs="+", default=["liver", "yeast_genome", "dream_vaishnav", "hard"])
    args = ap.parse_args(argv)
    build = builders(args.root)
    names = [n for t in args.tasks for n in (sorted(k for k in build if k.startswith("hard_")) if t == "hard" else [t])]
    print("task\tlength\tn_train\tk\tfeatures\talpha\tloo_r\tseconds")
    for name in names:
        ds = load_dataset(build[name]())
        tr = ds.indices("train")
        y = ds.labels().astype(np.float64)[tr]
        for ks in SIZES:
            t0 = time.time()
            feats = kmer_features(ds.sequences, ks, canonical=True)[tr]
            _, alpha, loo = fit_kmer_prior(feats, y, PRIOR_ALPHAS)
            r = float(np.corrcoef(loo, y)[0, 1])
            print(f"{name}\t{ds.length}\t{len(tr)}\t{ks}\t{feats.shape[1]}\t{alpha:g}\t{r:.4f}\t{time.time() - t0:.0f}",
                  flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
