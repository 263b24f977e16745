# Stages 4-5: weighted-feature export, faithfulness checks, k-means clustering of genes.


rule attribute:
    input:
        data=data_outputs(),
        predictions=f"{MODELS}/{ANALYSIS_MODEL}/predictions.tsv",
    output:
        tracks=f"{ATTR}/weighted_features.npy",
        table=f"{ATTR}/attributions.tsv",
    log:
        f"{LOGS}/attribute.log",
    conda:
        "../../envs/promoter-cr.yaml"
    threads: train_resources("threads")
    resources:
        mem_mb=train_resources("mem_mb"),
        runtime=train_resources("runtime"),
        gpu=train_resources("gpus"),
    params:
        cfg=lambda wc: cfg_json("attribution"),
        ckpt=lambda wc, input: str(Path(input.predictions).parent / "best.ckpt"),
        data=dir_of("data"),
        out=dir_of("tracks", "output"),
    shell:
        "promoter-cr attribute --config {params.cfg:q} --checkpoint {params.ckpt:q} "
        "--data {params.data:q} --out {params.out:q} > {log:q} 2>&1"


rule faithfulness:
    input:
        data=data_outputs(),
        tracks=rules.attribute.output.tracks,
        predictions=f"{MODELS}/{ANALYSIS_MODEL}/predictions.tsv",
    output:
        **({"planted": f"{ATTR}/planted_mass.tsv"} if SIMULATED else {}),
        table=f"{ATTR}/faithfulness.tsv",
        summary=report(
            f"{ATTR}/faithfulness_summary.tsv",
            caption="../report/faithfulness.rst",
            category="2. Attributions",
        ),
    log:
        f"{LOGS}/faithfulness.log",
    conda:
        "../../envs/promoter-cr.yaml"
    threads: train_resources("threads")
    resources:
        mem_mb=train_resources("mem_mb"),
        runtime=train_resources("runtime"),
        gpu=train_resources("gpus"),
    params:
        cfg=lambda wc: cfg_json("attribution"),
        ckpt=lambda wc, input: str(Path(input.predictions).parent / "best.ckpt"),
        data=dir_of("data"),
        attr=dir_of("tracks"),
    shell:
        "promoter-cr faithfulness --config {params.cfg:q} --checkpoint {params.ckpt:q} "
        "--data {params.data:q} --attributions {params.attr:q} --out {params.attr:q} "
        "> {log:q} 2>&1"


rule cluster:
    input:
        data=data_outputs(),
        tracks=rules.attribute.output.tracks,
    output:
        assignments=f"{CLUSTERS}/assignments.tsv",
        stats=report(
            f"{CLUSTERS}/cluster_stats.tsv",
            caption="../report/cluster_stats.rst",
            category="3. Clusters",
        ),
        summary=f"{CLUSTERS}/summary.json",
        k_selection=f"{CLUSTERS}/k_selection.tsv",
        pairwise=f"{CLUSTERS}/pairwise_tests.tsv",
    log:
        f"{LOGS}/cluster.log",
    conda:
        "../../envs/promoter-cr.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        cfg=lambda wc: cfg_json("cluster"),
        data=dir_of("data"),
        attr=dir_of("tracks"),
        out=dir_of("assignments", "output"),
    shell:
        "promoter-cr cluster --config {params.cfg:q} --data {params.data:q} "
        "--attributions {params.attr:q} --out {params.out:q} > {log:q} 2>&1"
