from pathlib import Path

from mgnify_db.jobs import Job
from mgnify_db.steps import rrna
from mgnify_db.workflow import load_config

rrna(
    load_config(snakemake.config),
    Path(snakemake.input.contigs),
    Path(snakemake.output.gff),
    Path(snakemake.output.counts),
    snakemake.threads,
    Path(snakemake.log[0]),
    Job.of(snakemake),
)
