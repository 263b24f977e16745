# Stage 7: every figure, redrawn from the results tables alone (no retraining).
# One rule per figure family: `snakemake --cores 2 --forcerun figures_models` redraws one,
# `snakemake --cores 2 --forcerun $(snakemake --list-target-rules | grep figures_)` all.


for _stage in FIGURE_STAGES:

    rule:
        name:
            f"figures_{_stage}"
        input:
            figure_inputs(_stage),
        output:
            [
                report(
                    f,
                    caption=f"../report/figures_{_stage}.rst",
                    category="Figures",
                    subcategory=_stage,
                )
                for f in figure_files(_stage)
            ],
        log:
            log_of(f"figures_{_stage}"),
        priority: CRITICAL_PATH if _stage in ("motifs", "denovo") else 0
        localrule: True
        conda:
            "../../envs/promoter-cr.yaml"
        params:
            command="figures",
            args=[
                "--stage",
                _stage,
                "--results",
                s(LAYOUT.root),
                "--out",
                s(FIGURES.stage_dir(_stage)),
            ],
            config=sections("figures"),
        script:
            JOB_SCRIPT
