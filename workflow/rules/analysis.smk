# Analysis of each assembly: CDS (pyrodigal), rRNA (barrnap), and a summary.


rule analysis_cds:
    input:
        contigs=P("contigs"),
    output:
        faa=P("cds_faa"),
        gff=P("cds_gff"),
        counts=P("cds_faa").replace("cds.faa", "cds.json"),
    params:
        jobs=lambda wc: jobs_file("analysis_cds").format(**wc),
    log:
        f"{LOGS}/analysis_cds/{{study}}/{{run}}.log",
    benchmark:
        f"{BENCH}/analysis_cds/{{study}}/{{run}}.tsv"
    threads: CFG.threads.cds
    resources:
        mem_mb=mem_mb("analysis_cds"),
        attempt=attempt,
        runtime=runtime("analysis_cds"),
    conda:
        "../envs/pyrodigal.yaml"
    script:
        "../scripts/analysis_cds.py"


rule analysis_rrna:
    input:
        contigs=P("contigs"),
    output:
        gff=P("rrna_gff"),
        counts=P("rrna_counts"),
    params:
        jobs=lambda wc: jobs_file("analysis_rrna").format(**wc),
    log:
        f"{LOGS}/analysis_rrna/{{study}}/{{run}}.log",
    benchmark:
        f"{BENCH}/analysis_rrna/{{study}}/{{run}}.tsv"
    threads: CFG.threads.rrna
    resources:
        mem_mb=mem_mb("analysis_rrna"),
        attempt=attempt,
        runtime=runtime("analysis_rrna"),
    conda:
        "../envs/barrnap.yaml"
    script:
        "../scripts/analysis_rrna.py"


rule analysis_summary:
    input:
        assembly=P("assembly"),
        cds=rules.analysis_cds.output.counts,
        rrna=P("rrna_counts"),
    output:
        P("analysis"),
    log:
        f"{LOGS}/analysis_summary/{{study}}/{{run}}.log",
    localrule: True
    conda:
        "../envs/mgnify-db.yaml"
    script:
        "../scripts/analysis_summary.py"
