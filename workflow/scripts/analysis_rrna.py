from pathlib import Path

from mgnify_db.jobs import Job
from mgnify_db.smk import load_config
from mgnify_db.steps import analysis_rrna, run_step

run_step(
    snakemake,
    analysis_rrna,
    cfg=load_config(snakemake.config),
    assembly=Path(snakemake.input.assembly),
    contigs=Path(snakemake.input.contigs),
    gff=Path(snakemake.output.gff),
    counts=Path(snakemake.output.counts),
    annotations=Path(snakemake.output.annotations),
    threads=snakemake.threads,
    log_file=Path(snakemake.log[0]),
    job=Job.of(snakemake),
)
