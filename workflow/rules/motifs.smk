# Stage 6: FIMO scanning with contributions, activating/repressive calls, co-occurrence
# communities, distance constraints, and (simulated sets) recovery of the planted grammar.


rule scan_motifs:
    input:
        data=data_outputs(),
        tracks=rules.attribute.output.tracks,
        assignments=rules.cluster.output.assignments,
    output:
        hits=f"{MOTIFS}/hits.parquet",
        meme=f"{MOTIFS}/motifs.meme",
    log:
        f"{LOGS}/scan_motifs.log",
    conda:
        "../../envs/promoter-cr.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        cfg=lambda wc: cfg_json("motifs", grammar=scan_grammar_keys()),
        data=dir_of("data"),
        attr=dir_of("tracks"),
        clusters=dir_of("assignments"),
        out=dir_of("hits", "output"),
    shell:
        "promoter-cr scan --config {params.cfg:q} --data {params.data:q} "
        "--attributions {params.attr:q} --clusters {params.clusters:q} "
        "--out {params.out:q} > {log:q} 2>&1"


rule grammar:
    input:
        data=data_outputs(),
        hits=rules.scan_motifs.output.hits,
    output:
        activity=report(
            f"{MOTIFS}/activity.tsv",
            caption="../report/activity.rst",
            category="4. Motif grammar",
        ),
        enrichment=f"{MOTIFS}/enrichment.tsv",
        cooccurrence=report(
            f"{MOTIFS}/cooccurrence.tsv",
            caption="../report/cooccurrence.rst",
            category="4. Motif grammar",
        ),
        communities=f"{MOTIFS}/communities.tsv",
        spacing=report(
            f"{MOTIFS}/spacing.tsv",
            caption="../report/spacing.rst",
            category="4. Motif grammar",
        ),
        periodicity=f"{MOTIFS}/periodicity.tsv",
    log:
        f"{LOGS}/grammar.log",
    conda:
        "../../envs/promoter-cr.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        cfg=lambda wc: cfg_json("grammar", "motifs"),
        data=dir_of("data"),
        motifs=dir_of("hits"),
    shell:
        "promoter-cr grammar --config {params.cfg:q} --data {params.data:q} "
        "--motifs-dir {params.motifs:q} --out {params.motifs:q} > {log:q} 2>&1"


rule recovery:
    input:
        data=data_outputs(),
        activity=rules.grammar.output.activity,
        spacing=rules.grammar.output.spacing,
        cooccurrence=rules.grammar.output.cooccurrence,
    output:
        report(
            f"{MOTIFS}/recovery.tsv",
            caption="../report/recovery.rst",
            category="5. Ground-truth recovery",
        ),
    log:
        f"{LOGS}/recovery.log",
    conda:
        "../../envs/promoter-cr.yaml"
    params:
        cfg=lambda wc: cfg_json("grammar", "motifs"),
        data=dir_of("data"),
        motifs=dir_of("activity"),
    shell:
        "promoter-cr recovery --config {params.cfg:q} --data {params.data:q} "
        "--motifs-dir {params.motifs:q} --out {params.motifs:q} > {log:q} 2>&1"
