from pathlib import Path

from mgnify_db.jobs import Job
from mgnify_db.pipelines.amplicon import ASV_OUTPUTS
from mgnify_db.smk import load_config
from mgnify_db.steps import amplicon_asv, run_step

run_step(
    snakemake,
    amplicon_asv,
    cfg=load_config(snakemake.config),
    qc_dir=Path(snakemake.input.qc),
    out={name: Path(snakemake.output[name]) for name in ASV_OUTPUTS},
    threads=snakemake.threads,
    log_file=Path(snakemake.log[0]),
    job=Job.of(snakemake),
)
