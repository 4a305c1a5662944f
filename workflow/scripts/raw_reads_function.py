from pathlib import Path

from mgnify_db.jobs import Job
from mgnify_db.pipelines.raw_reads import FUNCTION_OUTPUTS
from mgnify_db.smk import load_config
from mgnify_db.steps import raw_reads_function, run_step

inputs = snakemake.input
run_step(
    snakemake,
    raw_reads_function,
    cfg=load_config(snakemake.config),
    qc_dir=Path(inputs.qc),
    reads_dir=Path(inputs.reads),
    hmms=Path(inputs.hmms),
    out={name: Path(snakemake.output[name]) for name in FUNCTION_OUTPUTS},
    threads=snakemake.threads,
    log_file=Path(snakemake.log[0]),
    job=Job.of(snakemake),
)
