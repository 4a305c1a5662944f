# Assembly (pipeline `assembly`, mgnify_db/pipelines/assembly.py): MEGAHIT per run, with -t from
# threads and -m (bytes) from mem_mb. A run that failed QC short-circuits.


rule assembly_megahit:
    input:
        qc=P("qc"),
    output:
        contigs=P("contigs"),
        stats=P("assembly"),
    params:
        jobs=JOBS("assembly_megahit"),
    log:
        LOG("assembly_megahit"),
    benchmark:
        BENCH("assembly_megahit")
    threads: threads("assembly_megahit")
    resources:
        mem_mb=mem_mb("assembly_megahit"),
        attempt=attempt,
        runtime=runtime("assembly_megahit"),
    conda:
        "../envs/megahit.yaml"
    script:
        "../scripts/assembly_megahit.py"
