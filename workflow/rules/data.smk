# Stages 1-2: download inputs and build the on-disk data set (sequences.npy, genes.tsv, meta.json).


rule download_xpresso:
    output:
        s(download_path(DOWNLOADS, "xpresso", "{file}")),
    log:
        s(download_log(DOWNLOADS, "xpresso", "{file}")),
    wildcard_constraints:
        file="|".join(f.replace(".", "\\.") for f in XPRESSO_FILES.values()),
    conda:
        "../../envs/promoter-cr.yaml"
    params:
        command="download",
        args=lambda wc, output: ["--url", xpresso_url(wc), "--out", output[0]]
        + checksum_args(config["dataset"]["xpresso"]["checksums"].get(wc.file)),
        config=sections("download"),
    script:
        JOB_SCRIPT


rule download_genome:
    output:
        s(download_path(DOWNLOADS, "genome", "{fasta}")),
    log:
        s(download_log(DOWNLOADS, "genome", "{fasta}")),
    conda:
        "../../envs/promoter-cr.yaml"
    params:
        command="download",
        args=lambda wc, output: [
            "--url",
            config["dataset"]["genome"]["fasta_url"],
            "--out",
            output[0],
        ]
        + checksum_args(config["dataset"]["genome"]["fasta_sha256"]),
        config=sections("download"),
    script:
        JOB_SCRIPT


rule build_data:
    input:
        data_inputs,
    output:
        data=data_outputs(),
    log:
        log_of("build_data"),
    conda:
        "../../envs/promoter-cr.yaml"
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        command="build-data",
        args=["--out", s(DATA.dir)],
        config=dataset_config(),
    script:
        JOB_SCRIPT
