"""``promoter-cr score-variants`` and ``promoter-cr saturation``: promoter variant effects (stage 8)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from promoter_cr.commands import Command, arg, checkpoint, config, device, path, progress, read_config

console = logging.getLogger("promoter_cr.console")


def _extra(path: Path | None):
    if path is None:
        return None
    from promoter_cr.data import readers

    return readers.read_table(readers.require_file(path, "extra-feature table"), has_header=True)


def _window_settings(args: argparse.Namespace, cfg: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments both commands pass: the TSS-table options, the window, the chromosome rule,
    batch size, device, extra features and progress."""
    v = cfg["variants"]
    return {
        "tss_options": cfg["dataset"]["genome"],
        "upstream": v["upstream"],
        "downstream": v["downstream"],
        "missing_chromosome": v["missing_chromosome"],
        "batch_size": v["batch_size"],
        "device": args.device,
        "extra_table": _extra(args.extra_features),
        "progress": not args.no_progress,
    }


def run_score_variants(args: argparse.Namespace) -> int:
    from promoter_cr.interpret.variants import score_vcf
    from promoter_cr.seq.motifs import load_motifs

    cfg = read_config(args.config)
    v = cfg["variants"]
    summary = score_vcf(
        args.checkpoint,
        args.vcf,
        args.genome,
        args.tss,
        args.out,
        regions=v["regions"],
        genes=v["genes"],
        motifs=load_motifs(cfg["motifs"]) if v["motif_changes"] else None,
        p_threshold=v["p_threshold"],
        local_flank=v["local_flank"],
        on_ref_mismatch=v["on_ref_mismatch"],
        summary_out=args.summary,
        **_window_settings(args, cfg),
    )
    console.info("%s rows written to %s", summary.get("n_rows", "?"), args.out)
    return 0


def run_saturation(args: argparse.Namespace) -> int:
    from promoter_cr.interpret.saturation import saturation_from_checkpoint
    from promoter_cr.layout import saturation_stem
    from promoter_cr.plots.variants import plot_saturation

    cfg = read_config(args.config)
    v = cfg["variants"]
    table = saturation_from_checkpoint(
        args.checkpoint,
        args.genome,
        args.tss,
        args.out,
        args.genes,
        start=v["saturation"]["start"],
        end=v["saturation"]["end"],
        **_window_settings(args, cfg),
    )
    if args.figures is not None:
        for gene in args.genes:
            plot_saturation(table, gene, saturation_stem(args.figures, gene), cfg["figures"])
    console.info("%d substitutions of %d genes written to %s", len(table), len(args.genes), args.out)
    return 0


#: the genome, TSS table and extra features both commands cut their windows from
WINDOW_INPUTS = [
    path("--genome", "FASTA", "genome FASTA (plain or bgzip; indexed with pysam)", required=True),
    path(
        "--tss",
        "TABLE",
        "TSS table (BED6, GTF or GFF3), read with the dataset.genome options of --config",
        required=True,
    ),
    path(
        "--extra-features",
        "TABLE",
        "per-gene extra features (gene_id + the model's feature columns) for models trained with them",
    ),
]

COMMANDS = (
    Command(
        "score-variants",
        help="score the variants of a VCF in every promoter window they fall in",
        description="For every VCF allele inside a gene's promoter window (the window the checkpoint was trained "
        "on: upstream/downstream around the TSS, strand-aware, N past chromosome ends), predict the reference and "
        "the alternative window and report delta = alt - ref, the change of the weighted features near the variant "
        "and the motifs gained or lost. SNVs, MNVs and small indels (the window keeps its length, anchored at the "
        "TSS); multi-allelic records are split; symbolic alleles are skipped and counted. Settings from the "
        "'variants' section of --config.",
        examples=[
            "promoter-cr score-variants --checkpoint results/hg38/models/cr/best.ckpt --vcf "
            "eqtl.vcf.gz --genome hg38.fa.gz --tss tss.bed --out variant_effects.tsv"
        ],
        options=[
            checkpoint("a trained model (CR gives weighted-feature changes too)"),
            path("--vcf", "VCF", "VCF or BCF (plain or bgzip; indexed: region queries)", required=True),
            *WINDOW_INPUTS,
            path("--out", "TSV", "output table, one row per allele and gene", required=True),
            path("--summary", "JSON", "also write the counts (variants read, skipped, scored) here"),
            config(required=False),
            device,
            progress,
        ],
        run=run_score_variants,
    ),
    Command(
        "saturation",
        help="saturation mutagenesis of chosen genes (every SNV in a region), table and heat maps",
        description="Predict every single-base substitution in a region around the TSS of each gene (variants."
        "saturation.start/end of --config) and write a long table (gene, position, ref, alt, delta, reference "
        "weighted feature); with --figures, one heat map per gene beside its weighted-feature track.",
        examples=[
            "promoter-cr saturation --checkpoint results/hg38/models/cr/best.ckpt --genome "
            "hg38.fa.gz --tss tss.bed --genes ENSG00000141510 --out sat.tsv --figures figs/"
        ],
        options=[
            checkpoint("a trained model"),
            *WINDOW_INPUTS,
            arg("--genes", nargs="+", required=True, metavar="GENE", help="gene ids of the TSS table"),
            path("--out", "TSV", "output table", required=True),
            path("--figures", "DIR", "write saturation_<gene>.<format> heat maps here"),
            config(required=False),
            device,
            progress,
        ],
        run=run_saturation,
    ),
)
