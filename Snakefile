# promoter-cr: predict mRNA abundance from promoter sequence with an interpretable
# Contextual Regression model, then mine the motif grammar behind it.
#
#   snakemake --cores all                                # embedded default (config/config.yaml)
#   snakemake --cores all --configfile config/xpresso.yaml   # that file, on the schema's defaults
#   snakemake --profile profiles/slurm --configfile ...  # SLURM, GPU training
#   snakemake --report results/report.html               # report after a run


from snakemake.utils import min_version

min_version("9.0")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/attribute.smk"
include: "workflow/rules/motifs.smk"
include: "workflow/rules/figures.smk"


if SCORE_VARIANTS or SATURATION:

    include: "workflow/rules/variants.smk"


onstart:
    take_run_lock()


localrules:
    all,
    download_xpresso,
    download_genome,
    collect_metrics,


rule all:
    default_target: True
    input:
        all_targets(),
