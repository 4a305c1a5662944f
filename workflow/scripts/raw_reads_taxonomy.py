from pathlib import Path

from mgnify_db.jobs import Job
from mgnify_db.pipelines.raw_reads import TAXONOMY_OUTPUTS
from mgnify_db.smk import load_config
from mgnify_db.steps import raw_reads_taxonomy, run_step

inputs = snakemake.input
run_step(
    snakemake,
    raw_reads_taxonomy,
    cfg=load_config(snakemake.config),
    qc_dir=Path(inputs.qc),
    reads_dir=Path(inputs.reads),
    cm=Path(inputs.cm),
    ssu_reference=Path(inputs.ssu),
    lsu_reference=Path(inputs.lsu) if "lsu" in inputs.keys() else None,
    kraken2_db=Path(inputs.kraken2) if "kraken2" in inputs.keys() else None,
    out={name: Path(snakemake.output[name]) for name in TAXONOMY_OUTPUTS},
    threads=snakemake.threads,
    log_file=Path(snakemake.log[0]),
    job=Job.of(snakemake),
)
