"""Job entry points, one per rule and named exactly as the rule; called with keyword arguments.

The rule scripts in workflow/scripts only call these. A step that finds its run gated out
upstream (QC failed) writes outputs that say so (`{"gated": ...}`) and returns: the DAG stays
static, and a re-run never depends on a checkpoint.
"""

from __future__ import annotations

import gzip
import json
import logging
import sys
import traceback
from pathlib import Path

from .config import GlobalConfig, StudyConfig
from .ena.client import EnaClient, StudyMetadata, fetch_study_metadata, refreshed
from .ena.download import ReadCheck, fetch_run
from .ena.models import FastqFile
from .io import read_json, write_json
from .jobs import Job, record
from .paths import PATTERNS
from .pipelines.annotations import write_annotation_table
from .pipelines.assembly import rrna_annotations
from .tools import attempt_dir, publish_dir
from .tools.barrnap import parse_barrnap_gff, rrna_kinds, run_barrnap
from .tools.fastp import run_fastp
from .tools.megahit import AssemblyStats, run_megahit
from .tools.pyrodigal import predict_cds

log = logging.getLogger(__name__)


def setup_logging(log_file: str | Path | None) -> None:
    logging.basicConfig(
        filename=log_file,
        level=logging.INFO,
        force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def one_line(e: BaseException) -> str:
    """An exception as one line: its type, first line and, if longer, its last line."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()] or [""]
    text = lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"
    return f"{type(e).__name__}: {text}"[:500]


def run_step(smk, step, **kwargs):
    """Run a rule's step from its script: on failure the traceback goes to the rule's log and
    one line naming the study/run, the rule and the cause to stderr; exit 1 (no traceback)."""
    try:
        return step(**kwargs)
    except Exception as e:  # noqa: BLE001 - reported, then the job fails
        where = "/".join(v for v in (smk.wildcards.get("study"), smk.wildcards.get("run")) if v)
        if smk.log:
            with open(smk.log[0], "a") as fh:
                fh.write(traceback.format_exc())
        print(f"error: {where}: {smk.rule}: {one_line(e)}", file=sys.stderr)
        sys.exit(1)


def _gate(upstream: Path) -> str | None:
    """Why the run is gated out, from an upstream result (QC report or gated marker)."""
    data = read_json(upstream) or {}
    if data.get("gated"):
        return str(data["gated"])
    if "passed" in data and not data["passed"]:
        return f"qc_failed: {data.get('reason')}"
    return None


def _write_gated(reason: str, *outputs: Path) -> None:
    for out in outputs:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".json":
            write_json(out, {"gated": reason})
        elif out.suffix == ".gz":
            with gzip.GzipFile(out, "wb", mtime=0):
                pass
        else:
            out.write_text("")


def study_config(
    *,
    study: StudyConfig,
    out: Path,
    history: Path | None = None,
    references: dict | None = None,
    references_out: Path | None = None,
) -> None:
    """Record the study's config (study.json) and, when it differs from the last one recorded,
    append it to `history` (default: PATTERNS' `config_history` beside `out`), never rewritten:
    the catalogue's operator-change events come from it."""
    from .catalogue.changes import record_config  # not for every step: the catalogue is big

    config = study.model_dump(mode="json")
    write_json(out, config)
    if references_out is not None:
        write_json(references_out, references or {})
    if history is None:
        history = out.with_name(Path(PATTERNS["config_history"]).name)
    if record_config(history, config):
        log.info("%s: config recorded in %s", study.accession, history)


def ena_metadata(
    *, cfg: GlobalConfig, study: str, out: Path, job: Job, private: bool | None = None
) -> StudyMetadata:
    """Fetch the study's metadata; an existing ena.json is refreshed (withdrawn records kept)."""
    with record(job) as extra:
        meta = fetch_study_metadata(EnaClient(cfg.ena), study, private=private)
        if (old := read_json(out)) is not None:
            meta = refreshed(StudyMetadata.model_validate(old), meta)
        write_json(out, meta.model_dump(mode="json"))
        extra["message"] = f"{len(meta.samples)} samples, {len(meta.runs)} runs"
    log.info("%s: %d samples, %d runs", study, len(meta.samples), len(meta.runs))
    return meta


def ena_download(
    *,
    cfg: GlobalConfig,
    run: str,
    fastq: list[dict],
    read_count: int | None,
    layout: str | None,
    out_dir: Path,
    job: Job,
) -> None:
    files = [FastqFile.model_validate(f) for f in fastq]
    # this attempt's own claimed dir: an orphan or a second attempt never writes here
    with record(job) as extra, attempt_dir(out_dir.parent, out_dir.name) as tmp:
        fetch_run(
            files, [tmp / f.name for f in files], cfg.ena, expected_reads=read_count, layout=layout
        )
        publish_dir(tmp, out_dir)
        extra["message"] = f"{len(files)} file(s)"
    log.info("%s: downloaded %s", run, [f.name for f in files])


def reads_in(raw_dir: Path) -> list[Path]:
    """The run's FASTQ files in mate order (`_1` before `_2`)."""
    reads = sorted(raw_dir.glob("*.fastq.gz"))
    if not 1 <= len(reads) <= 2:
        raise FileNotFoundError(f"{raw_dir}: expected 1 or 2 FASTQ files, found {len(reads)}")
    return reads


def qc_fastp(
    *, cfg: GlobalConfig, raw_dir: Path, out_dir: Path, threads: int, log_file: Path, job: Job
) -> None:
    check = read_json(raw_dir / "reads.json")
    with record(job) as extra:
        result = run_fastp(
            reads_in(raw_dir),
            out_dir,
            threads=threads,
            expected_reads=ReadCheck.model_validate(check).total_reads if check else None,
            min_reads=cfg.qc.min_reads,
            max_filtered_fraction=cfg.qc.max_filtered_fraction,
            extra_args=cfg.tools.fastp.extra,
            log=log_file,
        )
        extra["message"] = result.reason or f"{result.reads_after} reads passed QC"


def assembly_megahit(
    *,
    cfg: GlobalConfig,
    run: str,
    qc_dir: Path,
    contigs: Path,
    stats_out: Path,
    threads: int,
    mem_mb: int,
    log_file: Path,
    job: Job,
) -> AssemblyStats | None:
    if reason := _gate(qc_dir / "qc.json"):
        _write_gated(reason, contigs, stats_out)
        return None
    p = cfg.tools.megahit
    with record(job) as extra:
        stats = run_megahit(
            sorted(qc_dir.glob("reads_*.fastq.gz")),
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


def analysis_cds(
    *, assembly: Path, contigs: Path, faa: Path, gff: Path, counts: Path, threads: int, job: Job
) -> int:
    if reason := _gate(assembly):
        _write_gated(reason, faa, gff, counts)
        return 0
    with record(job) as extra:
        n = predict_cds(contigs, faa, gff, threads=threads)
        write_json(counts, {"cds_count": n})
        extra["message"] = f"{n} CDS"
    return n


def analysis_rrna(
    *,
    cfg: GlobalConfig,
    assembly: Path,
    contigs: Path,
    gff: Path,
    counts: Path,
    threads: int,
    log_file: Path,
    job: Job,
    annotations: Path | None = None,
) -> dict[str, int]:
    """barrnap's rRNA genes (GFF), their counts (JSON) and the `rrnas` annotation table
    (`annotations`, with its .gzi; default: PATTERNS' `rrna_annotations` beside `counts`)."""
    if annotations is None:
        annotations = counts.with_name(Path(PATTERNS["rrna_annotations"]).name)
    if reason := _gate(assembly):
        _write_gated(reason, gff, counts)
        write_annotation_table(annotations, [], log=log_file)
        return {}
    p = cfg.tools.barrnap
    with record(job) as extra:
        found = run_barrnap(
            contigs, gff, kingdoms=p.kingdoms, threads=threads, evalue=p.evalue, log=log_file
        )
        kinds = rrna_kinds(parse_barrnap_gff(gff))
        write_annotation_table(annotations, rrna_annotations(kinds), log=log_file)
        write_json(counts, found)
        extra["message"] = json.dumps(found, sort_keys=True)
    return found
