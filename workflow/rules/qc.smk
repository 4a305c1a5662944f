# QC: fastp, then the gate (a checkpoint: whether a run is assembled depends on its result).


checkpoint qc_fastp:
    input:
        raw=P("raw"),
    output:
        qc=directory(P("qc")),
    params:
        jobs=lambda wc: jobs_file("qc_fastp").format(**wc),
    log:
        f"{LOGS}/qc_fastp/{{study}}/{{run}}.log",
    benchmark:
        f"{BENCH}/qc_fastp/{{study}}/{{run}}.tsv"
    threads: CFG.threads.fastp
    resources:
        mem_mb=mem_mb("qc_fastp"),
        attempt=attempt,
        runtime=runtime("qc_fastp"),
    conda:
        "../envs/fastp.yaml"
    script:
        "../scripts/qc_fastp.py"
