# Assembly analysis (pipeline `assembly`): CDS (pyrodigal) and rRNA genes (barrnap). The analysis
# is complete with both counts; its catalogue row is derived from them (mgnify_db/pipelines).
# analysis_rrna also writes the `rrnas` annotation table (bgzipped TSV and its .gzi index).


rule analysis_cds:
    input:
        assembly=P("assembly"),
        contigs=P("contigs"),
    output:
        faa=P("cds_faa"),
        gff=P("cds_gff"),
        counts=P("cds_counts"),
    params:
        jobs=JOBS("analysis_cds"),
    log:
        LOG("analysis_cds"),
    benchmark:
        BENCH("analysis_cds")
    threads: threads("analysis_cds")
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
        assembly=P("assembly"),
        contigs=P("contigs"),
    output:
        gff=P("rrna_gff"),
        counts=P("rrna_counts"),
        annotations=P("rrna_annotations"),
        annotations_gzi=P("rrna_annotations") + ".gzi",
    params:
        jobs=JOBS("analysis_rrna"),
    log:
        LOG("analysis_rrna"),
    benchmark:
        BENCH("analysis_rrna")
    threads: threads("analysis_rrna")
    resources:
        mem_mb=mem_mb("analysis_rrna"),
        attempt=attempt,
        runtime=runtime("analysis_rrna"),
    conda:
        "../envs/barrnap.yaml"
    script:
        "../scripts/analysis_rrna.py"
