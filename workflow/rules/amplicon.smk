# Amplicon analysis (pipeline `amplicon`, AMPLI runs): primers found and removed (cutadapt),
# pairs merged, ASVs (vsearch UNOISE3, UCHIME3 chimeras removed) and their reads; then the
# amplified region (Infernal), closed-reference taxonomy of the reads and SINTAX taxonomy of the
# ASVs against the SSU reference. Two jobs per run; each table's .gzi index is made by its step.


rule amplicon_asv:
    input:
        qc=P("qc"),
    output:
        **{name: P(name) for name in amplicon.ASV_OUTPUTS},
    params:
        jobs=JOBS("amplicon_asv"),
    log:
        LOG("amplicon_asv"),
    benchmark:
        BENCH("amplicon_asv")
    threads: threads("amplicon_asv")
    resources:
        mem_mb=mem_mb("amplicon_asv"),
        attempt=attempt,
        runtime=runtime("amplicon_asv"),
    conda:
        "../envs/amplicon.yaml"
    script:
        "../scripts/amplicon_asv.py"


rule amplicon_taxonomy:
    input:
        asv_json=P("asv_json"),
        asv_fasta=P("asv_fasta"),
        asv_counts=P("asv_counts"),
        uniques=P("amplicon_uniques"),
        cm=P("reference_rfam"),
        ssu=P("reference_ssu"),
    output:
        **{name: P(name) for name in amplicon.TAXONOMY_OUTPUTS},
    params:
        jobs=JOBS("amplicon_taxonomy"),
    log:
        LOG("amplicon_taxonomy"),
    benchmark:
        BENCH("amplicon_taxonomy")
    threads: threads("amplicon_taxonomy")
    resources:
        mem_mb=mem_mb("amplicon_taxonomy"),
        attempt=attempt,
        runtime=runtime("amplicon_taxonomy"),
    conda:
        "../envs/amplicon.yaml"
    script:
        "../scripts/amplicon_taxonomy.py"
