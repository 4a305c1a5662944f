# QC: fastp, then the gate. The gate's verdict is an ordinary output (qc.json): later rules of a
# run that failed it short-circuit, so the DAG never waits on a checkpoint.


rule qc_fastp:
    input:
        raw=P("raw"),
    output:
        qc=directory(P("qc")),
    params:
        jobs=JOBS("qc_fastp"),
    log:
        LOG("qc_fastp"),
    benchmark:
        BENCH("qc_fastp")
    threads: threads("qc_fastp")
    resources:
        mem_mb=mem_mb("qc_fastp"),
        attempt=attempt,
        runtime=runtime("qc_fastp"),
    conda:
        "../envs/fastp.yaml"
    script:
        "../scripts/qc_fastp.py"
