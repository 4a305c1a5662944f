# ENA: the study's metadata (a checkpoint: the runs are known only afterwards) and its reads.
# The metadata is fetched once; `--forcerun ena_metadata` refreshes it.


rule study_config:
    output:
        P("study_config"),
    params:
        study=lambda wc: STUDIES[wc.study].model_dump(mode="json"),
    log:
        f"{LOGS}/study_config/{{study}}.log",
    localrule: True
    conda:
        "../envs/mgnify-db.yaml"
    script:
        "../scripts/study_config.py"


checkpoint ena_metadata:
    output:
        P("ena"),
    log:
        f"{LOGS}/ena_metadata/{{study}}.log",
    benchmark:
        f"{BENCH}/ena_metadata/{{study}}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb("ena_metadata"),
        attempt=attempt,
        runtime=runtime("ena_metadata"),
    conda:
        "../envs/mgnify-db.yaml"
    script:
        "../scripts/ena_metadata.py"


rule ena_download:
    input:
        # ancient: refreshing the metadata (--forcerun ena_metadata) re-downloads a run only if
        # its files changed in ENA (the fastq param: urls, md5s, sizes).
        ena=ancient(P("ena")),
    output:
        raw=directory(P("raw")),
    params:
        fastq=run_fastq,
        jobs=lambda wc: jobs_file("ena_download").format(**wc),
    log:
        f"{LOGS}/ena_download/{{study}}/{{run}}.log",
    benchmark:
        f"{BENCH}/ena_download/{{study}}/{{run}}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb("ena_download"),
        attempt=attempt,
        runtime=runtime("ena_download"),
    conda:
        "../envs/mgnify-db.yaml"
    script:
        "../scripts/ena_download.py"
