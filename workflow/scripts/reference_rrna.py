from pathlib import Path

from mgnify_db.smk import load_config
from mgnify_db.steps import reference_rrna, run_step, setup_logging

setup_logging(snakemake.log[0])
run_step(
    snakemake,
    reference_rrna,
    cfg=load_config(snakemake.config),
    name=snakemake.params.name,
    out=Path(snakemake.output[0]),
)
