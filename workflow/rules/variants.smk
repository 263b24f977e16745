# Stage 8 (when the config names a VCF or saturation genes): promoter variant effects of the
# analysis model, and saturation mutagenesis of chosen genes.


rule score_variants:
    input:
        checkpoint=analysis_checkpoint(),
        vcf=config["variants"]["vcf"] or [],
        genome=variant_genome(),
        tss=variant_tss(),
    output:
        scores=report(
            s(LAYOUT.variants.scores),
            caption="../report/variants.rst",
            category="6. Variant effects",
        ),
        summary=s(LAYOUT.variants.summary),
    log:
        log_of("score_variants"),
    conda:
        "../../envs/promoter-cr.yaml"
    threads: train_resources("threads")
    resources:
        mem_mb=train_resources("mem_mb"),
        runtime=train_resources("runtime"),
        gpu=train_resources("gpus"),
    params:
        command="score-variants",
        args=lambda wc, input, output: [
            "--checkpoint",
            input.checkpoint,
            "--vcf",
            input.vcf,
            "--genome",
            input.genome,
            "--tss",
            input.tss,
            "--out",
            output.scores,
            "--summary",
            output.summary,
            "--no-progress",
        ],
        config=sections("variants", "motifs", "dataset", "figures"),
    script:
        JOB_SCRIPT


rule saturation:
    input:
        checkpoint=analysis_checkpoint(),
        genome=variant_genome(),
        tss=variant_tss(),
    output:
        table=s(LAYOUT.variants.saturation),
        figures=[
            s(FIGURES.saturation(g, f))
            for g in config["variants"]["saturation"]["genes"]
            for f in FIG_FORMATS
        ],
    log:
        log_of("saturation"),
    conda:
        "../../envs/promoter-cr.yaml"
    threads: train_resources("threads")
    resources:
        mem_mb=train_resources("mem_mb"),
        runtime=train_resources("runtime"),
        gpu=train_resources("gpus"),
    params:
        command="saturation",
        args=lambda wc, input, output: [
            "--checkpoint",
            input.checkpoint,
            "--genome",
            input.genome,
            "--tss",
            input.tss,
            "--genes",
            *config["variants"]["saturation"]["genes"],
            "--out",
            output.table,
            "--figures",
            s(FIGURES.stage_dir("variants")),
            "--no-progress",
        ],
        config=sections("variants", "motifs", "dataset", "figures"),
    script:
        JOB_SCRIPT
