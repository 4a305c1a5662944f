from pathlib import Path

from mgnify_db.jobs import Job
from mgnify_db.steps import download, setup_logging
from mgnify_db.workflow import load_config

setup_logging(snakemake.log[0])
download(
    load_config(snakemake.config),
    snakemake.wildcards.run,
    snakemake.params.fastq,
    Path(snakemake.output.raw),
    Job.of(snakemake),
)
