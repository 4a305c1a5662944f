# QC: fastp, then the gate; for studies with host or contaminant genomes (config references:
# decontamination), their reads removed, with the same gates on what is kept. A gate's verdict
# is an ordinary output (qc.json, decontamination.json): later rules of a run that failed it
# short-circuit, so the DAG never waits on a checkpoint.


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


rule qc_decontaminate:
    input:
        qc=P("qc"),
        index=decontamination_index,
    output:
        reads=directory(P("decontaminated")),
    params:
        jobs=JOBS("qc_decontaminate"),
    log:
        LOG("qc_decontaminate"),
    benchmark:
        BENCH("qc_decontaminate")
    threads: threads("qc_decontaminate")
    resources:
        mem_mb=mem_mb("qc_decontaminate"),
        attempt=attempt,
        runtime=runtime("qc_decontaminate"),
    conda:
        "../envs/decontamination.yaml"
    script:
        "../scripts/qc_decontaminate.py"
