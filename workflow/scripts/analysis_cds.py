from pathlib import Path

from mgnify_db.jobs import Job
from mgnify_db.smk import load_config
from mgnify_db.steps import analysis_cds, run_step

run_step(
    snakemake,
    analysis_cds,
    cfg=load_config(snakemake.config),
    assembly=Path(snakemake.input.assembly),
    contigs=Path(snakemake.input.contigs),
    hmms=Path(snakemake.input.hmms),
    faa=Path(snakemake.output.faa),
    gff=Path(snakemake.output.gff),
    counts=Path(snakemake.output.counts),
    domains=Path(snakemake.output.domains),
    annotations=Path(snakemake.output.annotations),
    threads=snakemake.threads,
    log_file=Path(snakemake.log[0]),
    job=Job.of(snakemake),
)
