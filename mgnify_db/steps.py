"""One function per workflow step; the rule scripts in workflow/scripts only call these."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .analysis import predict_cds, run_barrnap, summarise_analysis
from .assembly import AssemblyStats, run_megahit
from .catalogue import load, open_db
from .config import GlobalConfig, StudyConfig
from .download import fetch_run
from .ena import EnaClient, fetch_study_metadata
from .jobs import Job, job_record
from .models import FastqFile
from .qc import run_fastp
from .results import read_json, write_json

log = logging.getLogger(__name__)


def setup_logging(log_file: str | Path | None) -> None:
    logging.basicConfig(
        filename=log_file,
        level=logging.INFO,
        force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def study_config(study: StudyConfig, out: Path) -> None:
    write_json(out, study.model_dump(mode="json"))


def ena_metadata(cfg: GlobalConfig, accession: str, out: Path) -> None:
    meta = fetch_study_metadata(EnaClient(cfg.ena), accession)
    log.info("%s: %d samples, %d runs", accession, len(meta.samples), len(meta.runs))
    write_json(out, meta.model_dump(mode="json"))


def download(cfg: GlobalConfig, run: str, fastq: list[dict], out_dir: Path, job: Job) -> None:
    files = [FastqFile.model_validate(f) for f in fastq]
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)  # kept across attempts: not a Snakemake output
    with job_record(job, "download"):
        fetch_run(files, [tmp / f.name for f in files], cfg.ena)
        tmp.replace(out_dir)
    log.info("%s: downloaded %s", run, [f.name for f in files])


def reads_in(raw_dir: Path) -> list[Path]:
    """The run's FASTQ files in mate order (`_1` before `_2`)."""
    reads = sorted(raw_dir.glob("*.fastq.gz"))
    if not 1 <= len(reads) <= 2:
        raise FileNotFoundError(f"{raw_dir}: expected 1 or 2 FASTQ files, found {len(reads)}")
    return reads


def qc(
    cfg: GlobalConfig, raw_dir: Path, out_dir: Path, threads: int, log_file: Path, job: Job
) -> None:
    with job_record(job, "qc") as extra:
        result = run_fastp(
            reads_in(raw_dir),
            out_dir,
            threads=threads,
            min_reads=cfg.qc.min_reads,
            max_filtered_fraction=cfg.qc.max_filtered_fraction,
            extra_args=cfg.tools.fastp.extra,
            log=log_file,
        )
        extra["message"] = result.reason or f"{result.reads_after} reads passed QC"


def qc_reads(qc_dir: Path) -> list[Path]:
    return sorted(qc_dir.glob("reads_*.fastq.gz"))


def assemble(
    cfg: GlobalConfig,
    run: str,
    qc_dir: Path,
    contigs: Path,
    stats_out: Path,
    threads: int,
    mem_mb: int,
    log_file: Path,
    job: Job,
) -> AssemblyStats:
    p = cfg.tools.megahit
    with job_record(job, "assembly") as extra:
        stats = run_megahit(
            qc_reads(qc_dir),
            contigs.parent,
            threads=threads,
            mem_mb=mem_mb,
            k_list=p.k_list,
            min_contig_len=p.min_contig_len,
            extra_args=p.extra,
            log=log_file,
            contig_prefix=run,
        )
        extra["message"] = f"{stats.n_contigs} contigs, N50 {stats.n50}"
    for produced, wanted in (
        (contigs.parent / "contigs.fa.gz", contigs),
        (contigs.parent / "assembly.json", stats_out),
    ):
        if produced != wanted:
            produced.replace(wanted)
    return stats


def cds(contigs: Path, faa: Path, gff: Path, counts: Path, threads: int, job: Job) -> int:
    with job_record(job, "cds") as extra:
        n = predict_cds(contigs, faa, gff, threads=threads)
        write_json(counts, {"cds_count": n})
        extra["message"] = f"{n} CDS"
    return n


def rrna(
    cfg: GlobalConfig,
    contigs: Path,
    gff: Path,
    counts: Path,
    threads: int,
    log_file: Path,
    job: Job,
) -> dict[str, int]:
    p = cfg.tools.barrnap
    with job_record(job, "rrna") as extra:
        found = run_barrnap(
            contigs, gff, kingdoms=p.kingdoms, threads=threads, evalue=p.evalue, log=log_file
        )
        write_json(counts, found)
        extra["message"] = json.dumps(found, sort_keys=True)
    return found


def analysis_summary(assembly_json: Path, cds_json: Path, rrna_json: Path, out: Path) -> None:
    stats = AssemblyStats.model_validate(read_json(assembly_json))
    summary = summarise_analysis(read_json(cds_json)["cds_count"], read_json(rrna_json), stats)
    write_json(out, summary.model_dump(mode="json"))


def load_catalogue(cfg: GlobalConfig, study: str, runs: list[str] | None, marker: Path) -> None:
    results = Path(cfg.results_dir)
    db = open_db(cfg.catalogue_path)
    try:
        counts = load(db, results, study, runs)
    finally:
        db.close()
    write_json(marker, {"study": study, "runs": runs, "rows": counts})
