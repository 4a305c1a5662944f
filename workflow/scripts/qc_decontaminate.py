from pathlib import Path

from mgnify_db.jobs import Job
from mgnify_db.smk import load_config
from mgnify_db.steps import qc_decontaminate, run_step, setup_logging

setup_logging(snakemake.log[0])
run_step(
    snakemake,
    qc_decontaminate,
    cfg=load_config(snakemake.config),
    qc_dir=Path(snakemake.input.qc),
    index=Path(snakemake.input.index),
    out_dir=Path(snakemake.output.reads),
    threads=snakemake.threads,
    log_file=Path(snakemake.log[0]),
    job=Job.of(snakemake),
)
