from pathlib import Path

from mgnify_db.jobs import Job
from mgnify_db.smk import load_config, paths_of
from mgnify_db.steps import assembly_metaspades, run_step

run_step(
    snakemake,
    assembly_metaspades,
    cfg=load_config(snakemake.config),
    run=snakemake.wildcards.run,
    qc_dirs=paths_of(snakemake.input.qc),
    reads_dirs=paths_of(snakemake.input.reads),
    contigs=Path(snakemake.output.contigs),
    stats_out=Path(snakemake.output.stats),
    coverage_out=Path(snakemake.output.coverage),
    threads=snakemake.threads,
    mem_mb=snakemake.resources.mem_mb,
    log_file=Path(snakemake.log[0]),
    job=Job.of(snakemake),
)
