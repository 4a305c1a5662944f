# ENA: the study's config as recorded, and each eligible run's reads. The study's metadata
# (ena.json) is fetched when the workflow starts (common.smk); `mgnify-db ena refresh STUDY`
# fetches it again.


rule study_config:
    output:
        config=P("study_config"),
        references=P("study_references"),
    params:
        study=lambda wc: STUDIES[wc.study].model_dump(mode="json"),
        # publications and super studies as config.yaml describes them: an edit reloads
        references=lambda wc: study_references(CFG, STUDIES[wc.study]),
    log:
        LOG("study_config", run=False),
    localrule: True
    conda:
        "../envs/mgnify-db.yaml"
    script:
        "../scripts/study_config.py"


rule ena_download:
    output:
        raw=directory(P("raw")),
    params:
        # a change of the run's files in ENA (urls, md5s, sizes) re-downloads it
        fastq=run_fastq,
        read_count=run_read_count,
        layout=run_layout,
        jobs=JOBS("ena_download"),
    log:
        LOG("ena_download"),
    benchmark:
        BENCH("ena_download")
    threads: threads("ena_download")
    resources:
        mem_mb=mem_mb("ena_download"),
        attempt=attempt,
        runtime=runtime("ena_download"),
    conda:
        "../envs/mgnify-db.yaml"
    script:
        "../scripts/ena_download.py"
