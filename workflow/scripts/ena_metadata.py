from pathlib import Path

from mgnify_db.steps import ena_metadata, setup_logging
from mgnify_db.workflow import load_config

setup_logging(snakemake.log[0])
ena_metadata(load_config(snakemake.config), snakemake.wildcards.study, Path(snakemake.output[0]))
