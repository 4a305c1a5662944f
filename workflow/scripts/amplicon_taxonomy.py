from pathlib import Path

from mgnify_db.jobs import Job
from mgnify_db.pipelines.amplicon import TAXONOMY_OUTPUTS
from mgnify_db.smk import load_config
from mgnify_db.steps import amplicon_taxonomy, run_step

inputs = snakemake.input
run_step(
    snakemake,
    amplicon_taxonomy,
    cfg=load_config(snakemake.config),
    asv_json=Path(inputs.asv_json),
    asv_fasta=Path(inputs.asv_fasta),
    asv_counts=Path(inputs.asv_counts),
    uniques=Path(inputs.uniques),
    cm=Path(inputs.cm),
    ssu_reference=Path(inputs.ssu),
    out={name: Path(snakemake.output[name]) for name in TAXONOMY_OUTPUTS},
    threads=snakemake.threads,
    log_file=Path(snakemake.log[0]),
    job=Job.of(snakemake),
)
