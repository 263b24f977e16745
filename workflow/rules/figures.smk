# Stage 7: every figure, redrawn from the results tables alone (no retraining).
# One rule per figure family: `snakemake --cores 2 --forcerun figures_models` redraws one,
# `snakemake --cores 2 --forceall $(snakemake --list-target-rules | grep figures_)` all.


for _stage, _names in FIGURE_NAMES.items():

    rule:
        name:
            f"figures_{_stage}"
        input:
            **figure_inputs(_stage),
        output:
            [
                report(
                    f,
                    caption=f"../report/figures_{_stage}.rst",
                    category="Figures",
                    subcategory=_stage,
                )
                for f in figure_files(_stage, _names)
            ],
        log:
            f"{LOGS}/figures_{_stage}.log",
        localrule: True
        conda:
            "../../envs/promoter-cr.yaml"
        params:
            stage=_stage,
            cfg=cfg_json("figures"),
            results=lambda wc, input: str(Path(input.data[0]).parent.parent),
            out=dir_of(0, "output"),
        shell:
            "promoter-cr figures --stage {params.stage} --config {params.cfg:q} "
            "--results {params.results:q} --out {params.out:q} > {log:q} 2>&1"
