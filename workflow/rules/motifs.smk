# Stage 6: FIMO scanning with contributions, activating/repressive calls, co-occurrence
# communities, distance constraints, and (simulated sets) recovery of the planted grammar.


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
    conda:
        "../../envs/promoter-cr.yaml"
    threads: 2
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
        spacing=report(
            s(MOTIFS.spacing),
            caption="../report/spacing.rst",
            category="4. Motif grammar",
        ),
        periodicity=s(MOTIFS.periodicity),
        summary=s(MOTIFS.grammar_summary),
    log:
        log_of("grammar"),
    conda:
        "../../envs/promoter-cr.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        command="grammar",
        args=["--motifs-dir", s(MOTIFS.dir), "--out", s(MOTIFS.dir)],
        config=sections("grammar", "motifs"),
    script:
        JOB_SCRIPT


rule recovery:
    input:
        data=data_outputs(),
        meme=rules.scan_motifs.output.meme,
        activity=rules.grammar.output.activity,
        spacing=rules.grammar.output.spacing,
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
