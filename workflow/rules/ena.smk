# ENA: the study's metadata (a checkpoint: the runs are known only afterwards) and its reads.


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
    params:
        portal_url=CFG.ena.portal_url,
    log:
        f"{LOGS}/ena_metadata/{{study}}.log",
    benchmark:
        f"{BENCH}/ena_metadata/{{study}}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb("ena_metadata"),
        runtime=runtime("ena_metadata"),
    conda:
        "../envs/mgnify-db.yaml"
    script:
        "../scripts/ena_metadata.py"


rule ena_download:
    input:
        ena=P("ena"),
    output:
        raw=directory(P("raw")),
    params:
        fastq=run_fastq,
        jobs=lambda wc: jobs_file("download").format(**wc),
    log:
        f"{LOGS}/ena_download/{{study}}/{{run}}.log",
    benchmark:
        f"{BENCH}/ena_download/{{study}}/{{run}}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb("ena_download"),
        runtime=runtime("ena_download"),
    conda:
        "../envs/mgnify-db.yaml"
    script:
        "../scripts/ena_download.py"
