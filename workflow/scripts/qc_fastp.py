from pathlib import Path

from mgnify_db.jobs import Job
from mgnify_db.steps import qc
from mgnify_db.workflow import load_config

qc(
    load_config(snakemake.config),
    Path(snakemake.input.raw),
    Path(snakemake.output.qc),
    snakemake.threads,
    Path(snakemake.log[0]),
    Job.of(snakemake),
)
