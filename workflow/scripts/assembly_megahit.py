from pathlib import Path

from mgnify_db.jobs import Job
from mgnify_db.steps import assemble
from mgnify_db.workflow import load_config

assemble(
    load_config(snakemake.config),
    snakemake.wildcards.run,
    Path(snakemake.input.qc),
    Path(snakemake.output.contigs),
    Path(snakemake.output.stats),
    snakemake.threads,
    snakemake.resources.mem_mb,
    Path(snakemake.log[0]),
    Job.of(snakemake),
)
