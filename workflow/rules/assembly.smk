# Assembly (pipeline `assembly`, mgnify_db/pipelines/assembly.py): MEGAHIT per run on its reads
# after QC (and decontamination, where the study has host or contaminant genomes), with -t from
# threads and -m (bytes) from mem_mb; then the reads mapped back for coverage. A run that failed
# a gate short-circuits; too few contigs fail the assembly's own QC (qc.min_contigs).


rule assembly_megahit:
    input:
        qc=P("qc"),
        reads=assembly_reads,
    output:
        contigs=P("contigs"),
        stats=P("assembly"),
        coverage=P("contig_coverage"),
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
