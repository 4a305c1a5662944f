# Assembly: MEGAHIT per run, with -t from threads and -m (bytes) from mem_mb.


rule assembly_megahit:
    input:
        qc=P("qc"),
    output:
        contigs=P("contigs"),
        stats=P("assembly"),
    params:
        jobs=lambda wc: jobs_file("assembly_megahit").format(**wc),
    log:
        f"{LOGS}/assembly_megahit/{{study}}/{{run}}.log",
    benchmark:
        f"{BENCH}/assembly_megahit/{{study}}/{{run}}.tsv"
    threads: CFG.threads.megahit
    resources:
        mem_mb=mem_mb("assembly_megahit"),
        attempt=attempt,
        runtime=runtime("assembly_megahit"),
    conda:
        "../envs/megahit.yaml"
    script:
        "../scripts/assembly_megahit.py"
