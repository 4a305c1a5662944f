from pathlib import Path

from mgnify_db.config import StudyConfig
from mgnify_db.steps import run_step, setup_logging, study_config

setup_logging(snakemake.log[0])
run_step(
    snakemake,
    study_config,
    study=StudyConfig.model_validate(snakemake.params.study),
    out=Path(snakemake.output.config),
    references=snakemake.params.references,
    references_out=Path(snakemake.output.references),
)
