from pathlib import Path

from mgnify_db.jobs import Job
from mgnify_db.steps import cds, setup_logging

setup_logging(snakemake.log[0])
cds(
    Path(snakemake.input.contigs),
    Path(snakemake.output.faa),
    Path(snakemake.output.gff),
    Path(snakemake.output.counts),
    snakemake.threads,
    Job.of(snakemake),
)
