from pathlib import Path

from mgnify_db.steps import analysis_summary, setup_logging

setup_logging(snakemake.log[0])
analysis_summary(
    Path(snakemake.input.assembly),
    Path(snakemake.input.cds),
    Path(snakemake.input.rrna),
    Path(snakemake.output[0]),
)
