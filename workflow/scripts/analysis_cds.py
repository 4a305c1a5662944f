from pathlib import Path

from mgnify_db.jobs import Job
from mgnify_db.steps import analysis_cds, run_step, setup_logging

setup_logging(snakemake.log[0])
run_step(
    snakemake,
    analysis_cds,
    assembly=Path(snakemake.input.assembly),
    contigs=Path(snakemake.input.contigs),
    faa=Path(snakemake.output.faa),
    gff=Path(snakemake.output.gff),
    counts=Path(snakemake.output.counts),
    threads=snakemake.threads,
    job=Job.of(snakemake),
)
