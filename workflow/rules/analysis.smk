# Assembly analysis (pipeline `assembly`): CDS (pyrodigal) and their Pfam domains (pyhmmer,
# GA cutoffs); then rRNA genes (Infernal cmsearch), SSU taxonomy (vsearch SINTAX), contig
# taxonomy (kraken2) and one GFF of every feature. The analysis is complete with both; its
# catalogue row and annotation tables are derived from their files (mgnify_db/pipelines).
# Two jobs per run, not one per tool, and the tables' .gzi indexes written beside them by the
# steps, undeclared: at 5,000 runs every job and every declared output costs planning time.


rule analysis_cds:
    input:
        unpack(run_assembly),
        hmms=P("reference_pfam"),
    output:
        faa=P("cds_faa"),
        gff=P("cds_gff"),
        counts=P("cds_counts"),
        domains=P("pfam_domains"),
        annotations=P("pfam_annotations"),
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


rule analysis_taxonomy:
    input:
        unpack(taxonomy_references),
        unpack(run_assembly),
        cds_gff=P("cds_gff"),
        domains=P("pfam_domains"),
    output:
        **TAXONOMY_OUTPUTS,
    params:
        jobs=JOBS("analysis_taxonomy"),
    log:
        LOG("analysis_taxonomy"),
    benchmark:
        BENCH("analysis_taxonomy")
    threads: threads("analysis_taxonomy")
    resources:
        mem_mb=mem_mb("analysis_taxonomy"),
        attempt=attempt,
        runtime=runtime("analysis_taxonomy"),
    conda:
        "../envs/taxonomy.yaml"
    script:
        "../scripts/analysis_taxonomy.py"
