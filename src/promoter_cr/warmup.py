"""Compile memelite's numba kernels once per install (``python -m promoter_cr.warmup``, run by ``make install``).

memelite's FIMO and Tomtom kernels are ``numba.njit(cache=True)``: compiled on first use and cached
beside the installed package, so only the first run after an install pays for compiling them (the
grammar stage took 134 s cold and 17 s warm on 2 cores, the scan 37 s and 15 s:
benchmarks/README.md). This runs the package's own scan and Tomtom calls on a few random
promoters and two motifs, which compiles the same specialisations the pipeline uses, so that cost
moves into the install and every run, the first included, starts warm.
"""

from __future__ import annotations

import time

import numpy as np


def compile_kernels() -> float:
    """Run one FIMO scan and one Tomtom comparison on tiny inputs; returns the seconds it took."""
    from promoter_cr.seq.fimo import scan_codes
    from promoter_cr.seq.motifs import Motif
    from promoter_cr.seq.tomtom import tomtom_against

    t0 = time.perf_counter()
    rng = np.random.default_rng(20261202)  # any random inputs compile the same kernels
    motifs = []
    for i, w in enumerate((8, 12)):
        pwm = rng.dirichlet(np.full(4, 0.3), size=w).T
        motifs.append(Motif(f"warmup{i}", f"warmup{i}", pwm))
    codes = rng.integers(0, 5, size=(4, 300)).astype(np.uint8)
    scan_codes(codes, motifs, threshold=1e-3)
    tomtom_against(motifs, motifs, motifs)
    return time.perf_counter() - t0


def main() -> None:
    seconds = compile_kernels()
    print(f"memelite kernels compiled or found in numba's cache in {seconds:.1f} s")


if __name__ == "__main__":
    main()
