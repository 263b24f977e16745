# Stages 4-5: weighted-feature export, faithfulness checks, k-means clustering of genes.


rule attribute:
    input:
        data=data_outputs(),
        checkpoints=attribution_checkpoints(),
    output:
        tracks=s(ATTR.weighted_features),
        table=s(ATTR.table),
        meta=s(ATTR.meta),
    log:
        log_of("attribute"),
    priority: CRITICAL_PATH
    conda:
        "../../envs/promoter-cr.yaml"
    threads: train_resources("threads")
    resources:
        mem_mb=train_resources("mem_mb"),
        runtime=train_resources("runtime"),
        gpu=train_resources("gpus"),
    params:
        command="attribute",
        args=lambda wc, input: [
            "--checkpoint",
            *input.checkpoints,
            "--data",
            s(DATA.dir),
            "--out",
            s(ATTR.dir),
        ],
        config=sections("attribution"),
    script:
        JOB_SCRIPT


if CLUSTER_ATTR is not ATTR:

    rule attribute_analysis:
        input:
            data=data_outputs(),
            checkpoint=analysis_checkpoint(),
        output:
            tracks=s(CLUSTER_ATTR.weighted_features),
            table=s(CLUSTER_ATTR.table),
            meta=s(CLUSTER_ATTR.meta),
        log:
            log_of("attribute_analysis"),
        priority: CRITICAL_PATH
        conda:
            "../../envs/promoter-cr.yaml"
        threads: train_resources("threads")
        resources:
            mem_mb=train_resources("mem_mb"),
            runtime=train_resources("runtime"),
            gpu=train_resources("gpus"),
        params:
            command="attribute",
            args=lambda wc, input: [
                "--checkpoint",
                input.checkpoint,
                "--data",
                s(DATA.dir),
                "--out",
                s(CLUSTER_ATTR.dir),
            ],
            config=sections("attribution"),
        script:
            JOB_SCRIPT


rule faithfulness:
    input:
        data=data_outputs(),
        checkpoint=analysis_checkpoint(),
        tracks=rules.attribute.output.tracks,
        table=rules.attribute.output.table,
    output:
        **({"planted": s(ATTR.planted_mass)} if SIMULATED else {}),
        table=s(ATTR.faithfulness),
        summary=report(
            s(ATTR.faithfulness_summary),
            caption="../report/faithfulness.rst",
            category="2. Attributions",
        ),
    log:
        log_of("faithfulness"),
    conda:
        "../../envs/promoter-cr.yaml"
    threads: train_resources("threads")
    resources:
        mem_mb=train_resources("mem_mb"),
        runtime=train_resources("runtime"),
        gpu=train_resources("gpus"),
    params:
        command="faithfulness",
        args=lambda wc, input: [
            "--checkpoint",
            input.checkpoint,
            "--data",
            s(DATA.dir),
            "--attributions",
            s(ATTR.dir),
            "--out",
            s(ATTR.dir),
        ],
        config=sections("attribution"),
    script:
        JOB_SCRIPT


rule cluster:
    input:
        data=data_outputs(),
        tracks=s(CLUSTER_ATTR.weighted_features),
        table=s(CLUSTER_ATTR.table),
    output:
        assignments=s(CLUSTERS.assignments),
        centroids=s(CLUSTERS.centroids),
        profiles=s(CLUSTERS.profiles),
        stats=report(
            s(CLUSTERS.stats),
            caption="../report/cluster_stats.rst",
            category="3. Clusters",
        ),
        summary=s(CLUSTERS.summary),
        k_selection=s(CLUSTERS.k_selection),
        pairwise=s(CLUSTERS.pairwise),
    log:
        log_of("cluster"),
    priority: CRITICAL_PATH
    conda:
        "../../envs/promoter-cr.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        command="cluster",
        args=[
            "--data",
            s(DATA.dir),
            "--attributions",
            s(CLUSTER_ATTR.dir),
            "--out",
            s(CLUSTERS.dir),
        ],
        config=sections("cluster"),
    script:
        JOB_SCRIPT
