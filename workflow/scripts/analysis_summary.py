from pathlib import Path

from mgnify_db.steps import analysis_summary, run_step, setup_logging

setup_logging(snakemake.log[0])
run_step(
    snakemake,
    analysis_summary,
    assembly=Path(snakemake.input.assembly),
    cds=Path(snakemake.input.cds),
    rrna=Path(snakemake.input.rrna),
    out=Path(snakemake.output[0]),
)
