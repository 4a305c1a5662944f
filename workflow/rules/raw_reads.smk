# Raw-reads analysis (pipeline `raw-reads`, METAG and METAT runs): the reads after QC (and
# decontamination, for studies with genomes to remove), not assembled. SSU/LSU reads (Infernal)
# and their taxonomy (LSU's with an LSU reference), read pairs' taxonomy (kraken2, re-estimated
# at genus); Pfam on the reads' six-frame translations (pyhmmer). Two jobs per run.


rule raw_reads_taxonomy:
    input:
        unpack(raw_reads_references),
        qc=P("qc"),
        reads=clean_reads,
        cm=P("reference_rfam"),
        ssu=P("reference_ssu"),
    output:
        **{name: P(name) for name in raw_reads.TAXONOMY_OUTPUTS},
    params:
        jobs=JOBS("raw_reads_taxonomy"),
    log:
        LOG("raw_reads_taxonomy"),
    benchmark:
        BENCH("raw_reads_taxonomy")
    threads: threads("raw_reads_taxonomy")
    resources:
        mem_mb=mem_mb("raw_reads_taxonomy"),
        attempt=attempt,
        runtime=runtime("raw_reads_taxonomy"),
    conda:
        "../envs/taxonomy.yaml"
    script:
        "../scripts/raw_reads_taxonomy.py"


rule raw_reads_function:
    input:
        qc=P("qc"),
        reads=clean_reads,
        hmms=P("reference_pfam"),
    output:
        **{name: P(name) for name in raw_reads.FUNCTION_OUTPUTS},
    params:
        jobs=JOBS("raw_reads_function"),
    log:
        LOG("raw_reads_function"),
    benchmark:
        BENCH("raw_reads_function")
    threads: threads("raw_reads_function")
    resources:
        mem_mb=mem_mb("raw_reads_function"),
        attempt=attempt,
        runtime=runtime("raw_reads_function"),
    conda:
        "../envs/pyrodigal.yaml"
    script:
        "../scripts/raw_reads_function.py"
