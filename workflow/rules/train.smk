# Stage 3: train every configured model (CR, Xpresso CNN, k-mer ridge) on the same split.


rule train_model:
    input:
        data=data_outputs(),
    output:
        predictions=f"{MODELS}/{{model}}/predictions.tsv",
        metrics=f"{MODELS}/{{model}}/metrics.json",
    log:
        f"{LOGS}/train_{{model}}.log",
    wildcard_constraints:
        model="|".join(MODEL_NAMES),
    conda:
        "../../envs/promoter-cr.yaml"
    threads: train_resources("threads")
    resources:
        mem_mb=train_resources("mem_mb"),
        runtime=train_resources("runtime"),
        gpu=train_resources("gpus"),
    params:
        cfg=lambda wc: cfg_json("train", models={wc.model: config["models"][wc.model]}),
        data=dir_of("data"),
        out=dir_of("predictions", "output"),
    shell:
        "promoter-cr train --config {params.cfg:q} --data {params.data:q} "
        "--model {wildcards.model} --out {params.out:q} > {log:q} 2>&1"


rule collect_metrics:
    input:
        metrics=expand(f"{MODELS}/{{model}}/metrics.json", model=MODEL_NAMES),
    output:
        report(
            f"{MODELS}/metrics.tsv",
            caption="../report/metrics.rst",
            category="1. Models",
        ),
    log:
        f"{LOGS}/collect_metrics.log",
    conda:
        "../../envs/promoter-cr.yaml"
    params:
        models_dir=dir_of(0, "output"),
        names=MODEL_NAMES,
    shell:
        "promoter-cr metrics --models-dir {params.models_dir:q} --names {params.names} "
        "--out {output:q} > {log:q} 2>&1"
