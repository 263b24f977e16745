# Stage 6: FIMO scanning with contributions, activating/repressive calls, co-occurrence
# communities, cooperativity and preferred spacings measured on the model by insertion, and
# (simulated sets) recovery of the planted grammar.


rule scan_motifs:
    input:
        data=data_outputs(),
        tracks=rules.attribute.output.tracks,
        assignments=rules.cluster.output.assignments,
    output:
        hits=s(MOTIFS.hits),
        meme=s(MOTIFS.meme),
        gene_clusters=s(MOTIFS.gene_clusters),
        summary=s(MOTIFS.scan_summary),
    log:
        log_of("scan_motifs"),
    priority: CRITICAL_PATH
    conda:
        "../../envs/promoter-cr.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        command="scan",
        args=[
            "--data",
            s(DATA.dir),
            "--attributions",
            s(ATTR.dir),
            "--clusters",
            s(CLUSTERS.dir),
            "--out",
            s(MOTIFS.dir),
        ],
        config=sections("motifs", grammar=scan_grammar_keys()),
    script:
        JOB_SCRIPT


rule grammar:
    input:
        attributions=rules.attribute.output.table,
        hits=rules.scan_motifs.output.hits,
        meme=rules.scan_motifs.output.meme,
        gene_clusters=rules.scan_motifs.output.gene_clusters,
        summary=rules.scan_motifs.output.summary,
    output:
        activity=report(
            s(MOTIFS.activity),
            caption="../report/activity.rst",
            category="4. Motif grammar",
        ),
        enrichment=s(MOTIFS.enrichment),
        cooccurrence=report(
            s(MOTIFS.cooccurrence),
            caption="../report/cooccurrence.rst",
            category="4. Motif grammar",
        ),
        communities=s(MOTIFS.communities),
        summary=s(MOTIFS.grammar_summary),
    log:
        log_of("grammar"),
    priority: CRITICAL_PATH
    conda:
        "../../envs/promoter-cr.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        command="grammar",
        args=[
            "--motifs-dir",
            s(MOTIFS.dir),
            "--attributions",
            s(ATTR.dir),
            "--out",
            s(MOTIFS.dir),
        ],
        config=sections("grammar", "motifs"),
    script:
        JOB_SCRIPT


rule spacing:
    input:
        data=data_outputs(),
        checkpoint=analysis_checkpoint(),
        hits=rules.scan_motifs.output.hits,
        meme=rules.scan_motifs.output.meme,
        cooccurrence=rules.grammar.output.cooccurrence,
        summary=rules.grammar.output.summary,
    output:
        spacing=report(
            s(MOTIFS.spacing),
            caption="../report/spacing.rst",
            category="4. Motif grammar",
        ),
        cooperativity=s(MOTIFS.cooperativity),
        summary=s(MOTIFS.spacing_summary),
    log:
        log_of("spacing"),
    priority: CRITICAL_PATH
    conda:
        "../../envs/promoter-cr.yaml"
    threads: train_resources("threads")
    resources:
        mem_mb=train_resources("mem_mb"),
        runtime=train_resources("runtime"),
        gpu=train_resources("gpus"),
    params:
        command="spacing",
        args=lambda wc, input: [
            "--data",
            s(DATA.dir),
            "--motifs-dir",
            s(MOTIFS.dir),
            "--checkpoint",
            input.checkpoint,
            "--out",
            s(MOTIFS.dir),
        ],
        config=sections("grammar"),
    script:
        JOB_SCRIPT


rule recovery:
    input:
        data=data_outputs(),
        meme=rules.scan_motifs.output.meme,
        activity=rules.grammar.output.activity,
        spacing=rules.spacing.output.spacing,
        cooccurrence=rules.grammar.output.cooccurrence,
    output:
        recovery=report(
            s(MOTIFS.recovery),
            caption="../report/recovery.rst",
            category="5. Ground-truth recovery",
        ),
        matches=s(MOTIFS.recovery_matches),
    log:
        log_of("recovery"),
    priority: CRITICAL_PATH
    conda:
        "../../envs/promoter-cr.yaml"
    params:
        command="recovery",
        args=[
            "--data",
            s(DATA.dir),
            "--motifs-dir",
            s(MOTIFS.dir),
            "--out",
            s(MOTIFS.dir),
        ],
        config=sections("grammar", "motifs"),
    script:
        JOB_SCRIPT


# De novo motifs (optional: denovo.enabled): the analysis model's contextual weights, then
# TF-MoDISco-lite patterns matched to the scanned motif set.
rule hypothetical:
    input:
        data=data_outputs(),
        checkpoints=attribution_checkpoints(),
        tracks=rules.attribute.output.tracks,
        table=rules.attribute.output.table,
    output:
        hypothetical=s(ATTR.hypothetical),
    log:
        log_of("hypothetical"),
    priority: CRITICAL_PATH
    conda:
        "../../envs/promoter-cr.yaml"
    threads: train_resources("threads")
    resources:
        mem_mb=train_resources("mem_mb"),
        runtime=train_resources("runtime"),
        gpu=train_resources("gpus"),
    params:
        command="hypothetical",
        args=lambda wc, input: [
            "--checkpoint",
            *input.checkpoints,
            "--data",
            s(DATA.dir),
            "--attributions",
            s(ATTR.dir),
        ],
        config=sections("denovo"),
    script:
        JOB_SCRIPT


rule denovo:
    input:
        data=data_outputs(),
        hypothetical=rules.hypothetical.output.hypothetical,
        table=rules.attribute.output.table,
        clusters=s(CLUSTERS.assignments),
        meme=rules.scan_motifs.output.meme,
    output:
        patterns=report(
            s(MOTIFS.denovo.patterns),
            caption="../report/denovo.rst",
            category="4. Motif grammar",
        ),
        meme=s(MOTIFS.denovo.patterns_meme),
        seqlets=s(MOTIFS.denovo.seqlets),
        summary=s(MOTIFS.denovo.summary),
    log:
        log_of("denovo"),
    priority: CRITICAL_PATH
    conda:
        "../../envs/promoter-cr.yaml"
    threads: train_resources("threads")
    resources:
        mem_mb=train_resources("mem_mb"),
        runtime=train_resources("runtime"),
    params:
        command="denovo",
        args=[
            "--data",
            s(DATA.dir),
            "--attributions",
            s(ATTR.dir),
            "--clusters",
            s(CLUSTERS.dir),
            "--motifs-dir",
            s(MOTIFS.dir),
            "--out",
            s(MOTIFS.denovo.dir),
        ],
        config=sections("denovo"),
    script:
        JOB_SCRIPT
