from pathlib import Path

from mgnify_db.jobs import Job
from mgnify_db.smk import TAXONOMY_OUTPUTS, load_config
from mgnify_db.steps import analysis_taxonomy, run_step

inputs = snakemake.input
run_step(
    snakemake,
    analysis_taxonomy,
    cfg=load_config(snakemake.config),
    assembly=Path(inputs.assembly),
    contigs=Path(inputs.contigs),
    cds_gff=Path(inputs.cds_gff),
    domains=Path(inputs.domains),
    cm=Path(inputs.cm),
    ssu_reference=Path(inputs.ssu),
    kraken2_db=Path(inputs.kraken2) if "kraken2" in inputs.keys() else None,
    out={name: Path(snakemake.output[name]) for name in TAXONOMY_OUTPUTS},
    threads=snakemake.threads,
    log_file=Path(snakemake.log[0]),
    job=Job.of(snakemake),
)
