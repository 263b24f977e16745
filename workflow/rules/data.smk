# Stage 1-2: download inputs and build the on-disk data set (sequences.npy, genes.tsv, meta.json).


rule download_xpresso:
    output:
        f"{DOWNLOADS}/xpresso/{{file}}",
    log:
        f"{DOWNLOADS}/logs/xpresso_{{file}}.log",
    wildcard_constraints:
        file="(train|valid|test)\\.h5",
    conda:
        "../../envs/promoter-cr.yaml"
    params:
        url=xpresso_url,
        checksum=lambda wc: checksum_args(
            config["dataset"]["xpresso"]["checksums"].get(wc.file)
        ),
        retries=config["download"]["retries"],
    shell:
        "promoter-cr download --url {params.url:q} --out {output:q} "
        "{params.checksum} --retries {params.retries} > {log:q} 2>&1"


rule download_genome:
    output:
        f"{DOWNLOADS}/genome/{{fasta}}",
    log:
        f"{DOWNLOADS}/logs/genome_{{fasta}}.log",
    conda:
        "../../envs/promoter-cr.yaml"
    params:
        url=lambda wc: config["dataset"]["genome"]["fasta_url"],
        checksum=lambda wc: checksum_args(config["dataset"]["genome"]["fasta_sha256"]),
        retries=config["download"]["retries"],
    shell:
        "promoter-cr download --url {params.url:q} --out {output:q} "
        "{params.checksum} --retries {params.retries} > {log:q} 2>&1"


rule build_data:
    input:
        data_inputs,
    output:
        data=data_outputs(),
    log:
        f"{LOGS}/build_data.log",
    conda:
        "../../envs/promoter-cr.yaml"
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        cfg=lambda wc: dataset_config(),
        out=dir_of("data", "output"),
    shell:
        "promoter-cr build-data --config {params.cfg:q} --out {params.out:q} > {log:q} 2>&1"
