from pathlib import Path

from mgnify_db.jobs import Job
from mgnify_db.smk import load_config
from mgnify_db.steps import qc_fastp, run_step

run_step(
    snakemake,
    qc_fastp,
    cfg=load_config(snakemake.config),
    raw_dir=Path(snakemake.input.raw),
    out_dir=Path(snakemake.output.qc),
    threads=snakemake.threads,
    log_file=Path(snakemake.log[0]),
    job=Job.of(snakemake),
)
