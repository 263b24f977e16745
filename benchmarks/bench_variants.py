"""Benchmark: promoter variants scored per second (VCF -> variant table), at 10.5 kb and 2 kb windows.

A synthetic genome (one random chromosome, GC 0.5), a BED TSS table of ``--genes`` genes (half on
each strand, windows apart) and a VCF of ``--variants-per-gene`` alleles per gene at random
window positions (``--indel-fraction`` of them 1-10 bp insertions/deletions, the rest SNVs) are
written to a temporary folder under ``--tmp``. The model is a random-weight CR with the schema's
defaults (``promoter_cr.config.model_defaults("cr")`` + ``build_model``) for each window length.
:func:`promoter_cr.interpret.variants.score_variants` reads the VCF and scores every allele; the
reference window of each gene is predicted once, alternative windows go through the model in
batches of ``--batch-size`` (device-side edits via the ``mutate`` hook). Timed separately: the
same call with JASPAR motif gain/loss (``--motifs``: all JASPAR 2024 CORE vertebrate matrices,
non-redundant, FIMO p < 1e-4 on local slices; memelite's JIT compile done before timing), and a
bare forward pass over as many random windows (the model's own throughput: the ceiling). Each
measurement is repeated ``--repeats`` times and the fastest kept (the dev VM is shared).

Usage::

    python benchmarks/bench_variants.py --threads 2 --genes 8 --variants-per-gene 32
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from promoter_cr.models.inference import Predictor

WINDOWS = {"10.5 kb": (7000, 3500), "2 kb": (1500, 500)}


def write_inputs(
    root: Path, up: int, down: int, n_genes: int, per_gene: int, indel_fraction: float, seed: int
) -> tuple[Path, Path, Path]:
    """Genome FASTA, BED TSS table and a sorted VCF in ``root``; returns their paths."""
    rng = np.random.default_rng(seed)
    length = up + down
    spacing = 2 * length  # windows of neighbouring genes never overlap: one row per allele
    chrom_len = spacing * (n_genes + 1)
    seq = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, chrom_len)].tobytes().decode()
    fa = root / "genome.fa"
    fa.write_text(">chr1\n" + "\n".join(seq[i : i + 80] for i in range(0, chrom_len, 80)) + "\n")
    bed_rows, records = [], []
    for g in range(n_genes):
        strand = "+" if g % 2 == 0 else "-"
        tss = spacing * (g + 1)
        bed_rows.append(f"chr1\t{tss}\t{tss + 1}\tgene{g:04d}\t0\t{strand}\n")
        w0 = tss - up if strand == "+" else tss - down + 1
        for p0 in np.sort(rng.choice(np.arange(w0 + 12, w0 + length - 12), per_gene, replace=False)):
            ref = seq[p0]
            if rng.random() < indel_fraction:
                k = int(rng.integers(1, 11))
                if rng.random() < 0.5:  # deletion of k bases after the anchor
                    records.append((int(p0), seq[p0 : p0 + k + 1], ref))
                else:
                    records.append((int(p0), ref, ref + "".join(rng.choice(list("ACGT"), k))))
            else:
                records.append((int(p0), ref, "ACGT"[(("ACGT".index(ref)) + int(rng.integers(1, 4))) % 4]))
    bed = root / "tss.bed"
    bed.write_text("".join(bed_rows))
    vcf = root / "variants.vcf"
    header = (
        f"##fileformat=VCFv4.2\n##contig=<ID=chr1,length={chrom_len}>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    )
    vcf.write_text(header + "".join(f"chr1\t{p + 1}\t.\t{r}\t{a}\t.\t.\t.\n" for p, r, a in sorted(records)))
    return fa, bed, vcf


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genes", type=int, default=8)
    ap.add_argument("--variants-per-gene", type=int, default=32)
    ap.add_argument("--indel-fraction", type=float, default=0.1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--motifs", action="store_true", help="also time motif gain/loss with all JASPAR CORE vertebrate matrices"
    )
    ap.add_argument("--windows", nargs="+", default=list(WINDOWS), choices=list(WINDOWS))
    ap.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="timed runs of each measurement; the fastest is reported (shared machines)",
    )
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--tmp", default="/tmp")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from promoter_cr.runtime import limit_threads

    limit_threads(args.threads)
    import torch

    from promoter_cr.config import model_defaults
    from promoter_cr.data import windows as W
    from promoter_cr.data.sources.genome import Genome
    from promoter_cr.interpret import variants as V
    from promoter_cr.models.registry import build_model
    from promoter_cr.runtime import resolve_device

    dev = resolve_device(args.device)
    motifs = None
    if args.motifs:
        from promoter_cr.seq.fimo import scan_codes
        from promoter_cr.seq.motifs import load_jaspar

        motifs = load_jaspar(
            release="JASPAR2024", collection="CORE", tax_group=["vertebrates"], ids=None, non_redundant=True
        )
        scan_codes(np.zeros((2, 64), np.uint8), motifs, 1e-4)  # numba JIT compile outside the timings
    print(
        f"# {platform.node()} {platform.machine()}, torch {torch.__version__}, "
        f"{args.threads} threads, device {dev}, batch {args.batch_size}"
    )
    rows = []
    for name in args.windows:
        up, down = WINDOWS[name]
        spec = W.WindowSpec(up, down)
        torch.manual_seed(args.seed)
        model = build_model(model_defaults("cr"), spec.length, 0).to(dev).eval()
        with tempfile.TemporaryDirectory(dir=args.tmp, prefix="bench_variants_") as tmp:
            fa, bed, vcf = write_inputs(
                Path(tmp), up, down, args.genes, args.variants_per_gene, args.indel_fraction, args.seed
            )
            genome = Genome(fa)
            try:
                tss = W.load_tss(
                    bed,
                    {
                        "tss_format": "bed",
                        "bed_tss": "start",
                        "gtf_feature": "gene",
                        "gtf_id_attribute": "gene_id",
                        "strip_version": False,
                    },
                    None,
                )
                genes = W.gene_windows(tss, genome, spec, tss_path=bed, missing_chromosome="error")
                kw = dict(
                    regions=None,
                    p_threshold=1e-4,
                    local_flank=10,
                    on_ref_mismatch="error",
                    missing_chromosome="error",
                )
                predictor = Predictor(model, dev, args.batch_size)
                # warm-up (allocator, oneDNN kernels) on one gene's worth of variants
                V.predict_windows(predictor, np.zeros((args.batch_size, spec.length), np.uint8))
                t_plain, t_motif = float("inf"), float("inf")
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    table, summary = V.score_variants(predictor, vcf, genes, genome, spec, motifs=None, **kw)
                    t_plain = min(t_plain, time.perf_counter() - t0)
                    if motifs:
                        t0 = time.perf_counter()
                        V.score_variants(predictor, vcf, genes, genome, spec, motifs=motifs, **kw)
                        t_motif = min(t_motif, time.perf_counter() - t0)
            finally:
                genome.close()
        n = len(table)
        rng = np.random.default_rng(args.seed)
        windows = rng.integers(0, 4, size=(n, spec.length), dtype=np.uint8)
        t_fwd = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            V.predict_windows(Predictor(model, dev, args.batch_size), windows)
            t_fwd = min(t_fwd, time.perf_counter() - t0)
        kinds = table["kind"].value_counts().to_dict()
        rows.append(
            (
                name,
                spec.length,
                args.genes,
                n,
                kinds,
                t_plain,
                n / t_plain,
                n / t_motif if motifs else float("nan"),
                n / t_fwd,
            )
        )
    print()
    print(
        "| window | L (bp) | genes | variants (kinds) | time | variants/s | "
        "variants/s with JASPAR gain/loss | bare forward windows/s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, length, g, n, kinds, t, vps, vps_m, fwd in rows:
        kind_s = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        motif_s = f"{vps_m:.1f}" if np.isfinite(vps_m) else "-"
        print(f"| {name} | {length:,} | {g} | {n} ({kind_s}) | {t:.1f} s | {vps:.1f} | {motif_s} | {fwd:.1f} |")


if __name__ == "__main__":
    main()
