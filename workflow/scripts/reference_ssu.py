from pathlib import Path

from mgnify_db.smk import load_config
from mgnify_db.steps import reference_ssu, run_step, setup_logging

setup_logging(snakemake.log[0])
run_step(snakemake, reference_ssu, cfg=load_config(snakemake.config), out=Path(snakemake.output[0]))
