# Assembly (pipeline `assembly`, mgnify_db/pipelines/assembly.py): per run, MEGAHIT or metaSPAdes
# as the study's `assembler:` says (StudyPlan.assembler: metaSPAdes takes paired reads only),
# on its reads after QC (and decontamination, where the study has host or contaminant genomes),
# with threads and memory from the job; then the reads mapped back for coverage. A run that
# failed a gate short-circuits; too few contigs fail the assembly's own QC (qc.min_contigs).
# A co-assembly (study config `coassemblies:`; `{run}` is then its name) is assembled the same
# way from all its runs' reads, pooled.
# Each assembler writes its own folder: another assembler's contigs are another assembly.


rule assembly_megahit:
    input:
        qc=assembly_qc,
        reads=assembly_reads,
    output:
        contigs=P("contigs", assembler="megahit"),
        stats=P("assembly", assembler="megahit"),
        coverage=P("contig_coverage", assembler="megahit"),
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


rule assembly_metaspades:
    input:
        qc=assembly_qc,
        reads=assembly_reads,
    output:
        contigs=P("contigs", assembler="metaspades"),
        stats=P("assembly", assembler="metaspades"),
        coverage=P("contig_coverage", assembler="metaspades"),
    params:
        jobs=JOBS("assembly_metaspades"),
    log:
        LOG("assembly_metaspades"),
    benchmark:
        BENCH("assembly_metaspades")
    threads: threads("assembly_metaspades")
    resources:
        mem_mb=mem_mb("assembly_metaspades"),
        attempt=attempt,
        runtime=runtime("assembly_metaspades"),
    conda:
        "../envs/metaspades.yaml"
    script:
        "../scripts/assembly_metaspades.py"
