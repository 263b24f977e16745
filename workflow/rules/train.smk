# Stage 3: train every configured model (CR, Xpresso CNN, k-mer ridge) on the same split.
# A network's last.ckpt and training_done.json are its resume state: deliberately not declared
# as outputs, so a failed or interrupted job keeps them and the next run resumes.


rule train_network:
    input:
        data=data_outputs(),
    output:
        predictions=s(MODELS.model("{model}").predictions),
        metrics=s(MODELS.model("{model}").metrics),
        history=s(MODELS.model("{model}").history),
        checkpoint=s(MODELS.model("{model}").best),
    log:
        log_of("train_{model}"),
    wildcard_constraints:
        model="|".join(NETWORK_MODELS) or "^$",
    priority: training_priority
    conda:
        "../../envs/promoter-cr.yaml"
    threads: train_resources("threads")
    resources:
        mem_mb=train_resources("mem_mb"),
        runtime=train_resources("runtime"),
        gpu=train_resources("gpus"),
    params:
        command="train",
        args=lambda wc: [
            "--data",
            s(DATA.dir),
            "--model",
            wc.model,
            "--out",
            s(MODELS.model(wc.model).dir),
        ],
        config=lambda wc: sections(
            "train", models={wc.model: config["models"][wc.model]}
        ),
    script:
        JOB_SCRIPT


rule train_kmer:
    input:
        data=data_outputs(),
    output:
        predictions=s(MODELS.model("{model}").predictions),
        metrics=s(MODELS.model("{model}").metrics),
        history=s(MODELS.model("{model}").history),
        model=s(MODELS.model("{model}").kmer_model),
    log:
        log_of("train_{model}"),
    wildcard_constraints:
        model="|".join(KMER_MODELS) or "^$",
    conda:
        "../../envs/promoter-cr.yaml"
    threads: train_resources("threads")
    resources:
        mem_mb=train_resources("mem_mb"),
        runtime=train_resources("runtime"),
    params:
        command="train",
        args=lambda wc: [
            "--data",
            s(DATA.dir),
            "--model",
            wc.model,
            "--out",
            s(MODELS.model(wc.model).dir),
        ],
        config=lambda wc: sections(
            "train", models={wc.model: config["models"][wc.model]}
        ),
    script:
        JOB_SCRIPT


rule train_fold:
    input:
        data=data_outputs(),
    output:
        predictions=s(MODELS.model(ANALYSIS_MODEL).fold("{fold}").predictions),
        metrics=s(MODELS.model(ANALYSIS_MODEL).fold("{fold}").metrics),
        history=s(MODELS.model(ANALYSIS_MODEL).fold("{fold}").history),
        checkpoint=s(MODELS.model(ANALYSIS_MODEL).fold("{fold}").best),
    log:
        log_of(f"train_{ANALYSIS_MODEL}_fold{{fold}}"),
    wildcard_constraints:
        fold="\\d+",
    priority: CRITICAL_PATH
    conda:
        "../../envs/promoter-cr.yaml"
    threads: train_resources("threads")
    resources:
        mem_mb=train_resources("mem_mb"),
        runtime=train_resources("runtime"),
        gpu=train_resources("gpus"),
    params:
        command="train",
        args=lambda wc: [
            "--data",
            s(DATA.dir),
            "--model",
            ANALYSIS_MODEL,
            "--fold",
            wc.fold,
            "--out",
            s(MODELS.model(ANALYSIS_MODEL).fold(wc.fold).dir),
        ],
        config=lambda wc: sections(
            "train",
            "attribution",
            models={ANALYSIS_MODEL: config["models"][ANALYSIS_MODEL]},
        ),
    script:
        JOB_SCRIPT


rule collect_metrics:
    input:
        metrics=[s(MODELS.model(n).metrics) for n in MODEL_NAMES],
    output:
        report(
            s(MODELS.metrics_table),
            caption="../report/metrics.rst",
            category="1. Models",
        ),
    log:
        log_of("collect_metrics"),
    conda:
        "../../envs/promoter-cr.yaml"
    params:
        command="metrics",
        args=lambda wc, output: [
            "--models-dir",
            s(MODELS.dir),
            "--names",
            *MODEL_NAMES,
            "--out",
            output[0],
        ],
        config=None,
    script:
        JOB_SCRIPT
