from pathlib import Path

from mgnify_db.smk import load_config
from mgnify_db.steps import reference_lsu, run_step, setup_logging

setup_logging(snakemake.log[0])
run_step(snakemake, reference_lsu, cfg=load_config(snakemake.config), out=Path(snakemake.output[0]))
