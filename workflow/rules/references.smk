# Reference databases, built once per results dir from config `references:` (a URL or a path,
# checksum checked; mgnify_db/references.py). A changed source rebuilds its database (params:
# its checksum when given, so a mirror that moves rebuilds nothing).


rule reference_pfam:
    output:
        hmms=P("reference_pfam"),
    params:
        source=lambda wc: smk.source_identity(CFG.references.pfam),
    log:
        REF_LOG("reference_pfam", "pfam"),
    benchmark:
        REF_BENCH("reference_pfam", "pfam")
    resources:
        mem_mb=ref_resource("reference_pfam", "mem_mb"),
        runtime=ref_resource("reference_pfam", "runtime"),
    conda:
        "../envs/mgnify-db.yaml"
    script:
        "../scripts/reference_pfam.py"


rule reference_rfam:
    output:
        cm=P("reference_rfam"),
    params:
        source=lambda wc: smk.source_identity(CFG.references.rfam),
    log:
        REF_LOG("reference_rfam", "rfam"),
    benchmark:
        REF_BENCH("reference_rfam", "rfam")
    resources:
        mem_mb=ref_resource("reference_rfam", "mem_mb"),
        runtime=ref_resource("reference_rfam", "runtime"),
    conda:
        "../envs/infernal.yaml"
    script:
        "../scripts/reference_rfam.py"


rule reference_ssu:
    output:
        fasta=P("reference_ssu"),
    params:
        source=lambda wc: smk.source_identity(CFG.references.ssu),
    log:
        REF_LOG("reference_ssu", "ssu"),
    benchmark:
        REF_BENCH("reference_ssu", "ssu")
    resources:
        mem_mb=ref_resource("reference_ssu", "mem_mb"),
        runtime=ref_resource("reference_ssu", "runtime"),
    conda:
        "../envs/mgnify-db.yaml"
    script:
        "../scripts/reference_ssu.py"


rule reference_lsu:
    output:
        fasta=P("reference_lsu"),
    params:
        source=lambda wc: smk.source_identity(CFG.references.lsu),
    log:
        REF_LOG("reference_lsu", "lsu"),
    benchmark:
        REF_BENCH("reference_lsu", "lsu")
    resources:
        mem_mb=ref_resource("reference_lsu", "mem_mb"),
        runtime=ref_resource("reference_lsu", "runtime"),
    conda:
        "../envs/mgnify-db.yaml"
    script:
        "../scripts/reference_lsu.py"


rule reference_kraken2:
    output:
        db=directory(P("reference_kraken2")),
    params:
        source=lambda wc: smk.source_identity(CFG.references.kraken2),
    log:
        REF_LOG("reference_kraken2", "kraken2"),
    benchmark:
        REF_BENCH("reference_kraken2", "kraken2")
    threads: threads("reference_kraken2")
    resources:
        mem_mb=ref_resource("reference_kraken2", "mem_mb"),
        runtime=ref_resource("reference_kraken2", "runtime"),
    conda:
        "../envs/kraken2.yaml"
    script:
        "../scripts/reference_kraken2.py"


rule reference_decontamination:
    output:
        index=P("reference_decontamination"),
    params:
        sources=lambda wc: {
            name: smk.source_identity(CFG.references.decontamination.genomes[name])
            for name in wc.genomes.split("+")
        },
    log:
        REF_LOG("reference_decontamination", "{genomes}"),
    benchmark:
        REF_BENCH("reference_decontamination", "{genomes}")
    threads: threads("reference_decontamination")
    resources:
        mem_mb=ref_resource("reference_decontamination", "mem_mb"),
        runtime=ref_resource("reference_decontamination", "runtime"),
    conda:
        "../envs/decontamination.yaml"
    script:
        "../scripts/reference_decontamination.py"
