from pathlib import Path

from mgnify_db.steps import load_catalogue, setup_logging
from mgnify_db.workflow import load_config

setup_logging(snakemake.log[0])
run = snakemake.wildcards.get("run")
load_catalogue(
    load_config(snakemake.config),
    snakemake.wildcards.study,
    [run] if run else None,
    Path(snakemake.output[0]),
)
