from pathlib import Path

from mgnify_db.jobs import Job
from mgnify_db.smk import load_config
from mgnify_db.steps import ena_download, run_step, setup_logging

setup_logging(snakemake.log[0])
run_step(
    snakemake,
    ena_download,
    cfg=load_config(snakemake.config),
    run=snakemake.wildcards.run,
    fastq=snakemake.params.fastq,
    read_count=snakemake.params.read_count,
    layout=snakemake.params.layout,
    out_dir=Path(snakemake.output.raw),
    job=Job.of(snakemake),
)
