from pathlib import Path

from mgnify_db.smk import load_config
from mgnify_db.steps import reference_decontamination, run_step, setup_logging

setup_logging(snakemake.log[0])
run_step(
    snakemake,
    reference_decontamination,
    cfg=load_config(snakemake.config),
    genomes=snakemake.wildcards.genomes,
    out=Path(snakemake.output.index),
    threads=snakemake.threads,
    log_file=Path(snakemake.log[0]),
)
