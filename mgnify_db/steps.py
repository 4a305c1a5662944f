"""Job entry points, one per rule and named exactly as the rule; called with keyword arguments.

The rule scripts in workflow/scripts only call these. A step that finds its run gated out
upstream (QC failed) writes outputs that say so (`{"gated": ...}`) and returns: the DAG stays
static, and a re-run never depends on a checkpoint.
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import sys
import traceback
from pathlib import Path
from typing import Literal

from .config import GlobalConfig, StudyConfig
from .ena.client import EnaClient, StudyMetadata, fetch_study_metadata, refreshed
from .ena.download import ReadCheck, fetch_run
from .ena.models import FastqFile
from .io import read_fasta, read_json, read_reads, temp_path, write_json, write_text_atomic
from .jobs import Job, record
from .lineage import Lineage
from .paths import PATTERNS
from .pipelines import assembly as asm
from .pipelines.annotations import write_annotation_table
from .tools import attempt_dir, publish_dir
from .tools.bgzip import bgzip
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


def _write_gated_step(reason: str, out: dict[str, Path], tables: tuple[str, ...], log: Path):
    """Every output of a short-circuited step: its annotation tables with no rows (and their
    .gzi), the rest as _write_gated."""
    _write_gated(reason, *(v for k, v in out.items() if k not in tables))
    for name in tables:
        write_annotation_table(out[name], [], log=log)


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


def reference_pfam(*, cfg: GlobalConfig, out: Path) -> None:
    from .references import build_pfam

    m = build_pfam(cfg.references.pfam, out, cutoff=cfg.tools.pfam.cutoff)
    log.info("pfam: %s models from %s", m.details.get("n_models"), m.sources[0].location)


def reference_rfam(*, cfg: GlobalConfig, out: Path) -> None:
    from .references import build_rfam

    m = build_rfam(cfg.references.rfam, out)
    log.info("rfam: %d rRNA models from %s", len(m.details["models"]), m.sources[0].location)


def _reference_rrna(cfg: GlobalConfig, name: Literal["ssu", "lsu"], out: Path) -> None:
    from .references import build_rrna_reference

    source = getattr(cfg.references, name)
    if source is None:
        raise ValueError(f"references.{name} is not configured")
    m = build_rrna_reference(source, out, name)
    log.info("%s: %s from %s", name, m.details, m.sources[0].location)


def reference_ssu(*, cfg: GlobalConfig, out: Path) -> None:
    _reference_rrna(cfg, "ssu", out)


def reference_lsu(*, cfg: GlobalConfig, out: Path) -> None:
    _reference_rrna(cfg, "lsu", out)


def reference_kraken2(*, cfg: GlobalConfig, out: Path, threads: int, log_file: Path) -> None:
    from .references import build_kraken2

    if cfg.references.kraken2 is None:
        raise ValueError("references.kraken2 is not configured")
    build_kraken2(cfg.references.kraken2, out, threads=threads, log_file=log_file)


def reference_decontamination(
    *, cfg: GlobalConfig, genomes: str, out: Path, threads: int, log_file: Path
) -> None:
    from .references import build_decontamination

    build_decontamination(
        cfg.references.decontamination.genomes,
        genomes.split("+"),
        out,
        threads=threads,
        log_file=log_file,
    )


def reads_of(reads_dir: Path) -> list[Path]:
    """The cleaned reads of a run (QC's or decontamination's output dir), in mate order."""
    reads = sorted(reads_dir.glob("reads_*.fastq.gz"))
    if not 1 <= len(reads) <= 2:
        raise FileNotFoundError(f"{reads_dir}: expected 1 or 2 read files, found {len(reads)}")
    return reads


def qc_decontaminate(
    *,
    cfg: GlobalConfig,
    qc_dir: Path,
    index: Path,
    out_dir: Path,
    threads: int,
    log_file: Path,
    job: Job,
) -> None:
    """Remove the reads of the study's host and contaminant genomes; the gates of QC apply to
    what is kept (decontamination.json says passed/reason as qc.json does)."""
    from .references import read_manifest
    from .tools.decontam import check_gates, decontaminate

    summary = out_dir / Path(PATTERNS["decontamination_json"]).name
    if reason := _gate(qc_dir / "qc.json"):
        with attempt_dir(out_dir.parent, out_dir.name) as tmp:
            write_json(tmp / summary.name, {"gated": reason})
            publish_dir(tmp, out_dir)
        return
    manifest = read_manifest(index)
    with record(job) as extra, attempt_dir(out_dir.parent, out_dir.name) as tmp:
        result = decontaminate(reads_of(qc_dir), index, tmp, threads=threads, log=log_file)
        reason = check_gates(
            result, min_kept_ratio=cfg.qc.min_kept_ratio, min_reads=cfg.qc.min_reads
        )
        write_json(
            tmp / summary.name,
            {
                **result.model_dump(mode="json"),
                "genomes": manifest.details.get("genomes", []) if manifest else [],
                "passed": reason is None,
                "reason": reason,
            },
        )
        publish_dir(tmp, out_dir)
        extra["message"] = reason or (
            f"{result.reads_removed} of {result.reads_in} reads removed, {result.reads_kept} kept"
        )


def _assemble(
    assemble,
    *,
    cfg: GlobalConfig,
    qc_dirs: list[Path],
    reads_dirs: list[Path],
    contigs: Path,
    stats_out: Path,
    coverage_out: Path,
    min_contig_len: int,
    threads: int,
    log_file: Path,
    job: Job,
) -> AssemblyStats | None:
    """An assembler (`assemble(reads, out_dir)` -> AssemblyStats: contigs.fa.gz and
    assembly.json in out_dir) on the cleaned reads of a run, or of a co-assembly's runs (those
    that passed QC, pooled), then those reads mapped back for per-contig coverage (stored on
    the assembly); fewer contigs than `qc.min_contigs` fails the assembly's QC."""
    from .tools.coverage import contig_coverage

    kept, gated = [], []
    for qc_dir, reads_dir in zip(qc_dirs, reads_dirs, strict=True):
        gate = reads_dir / ("qc.json" if reads_dir == qc_dir else "decontamination.json")
        if reason := _gate(qc_dir / "qc.json") or _gate(gate):
            gated.append((qc_dir.parent.name, reason))
        else:
            kept.append((qc_dir.parent.name, qc_dir, reads_dir))
    if not kept:
        reason = (
            gated[0][1]
            if len(gated) == 1
            else "no run passed QC: " + "; ".join(f"{run}: {why}" for run, why in gated)
        )
        _write_gated(reason, contigs, stats_out, coverage_out)
        return None
    with record(job) as extra:
        pooled = contigs.parent / ".reads"
        reads = _pool_reads([reads_of(d) for _, _, d in kept], pooled)
        stats = assemble(reads, contigs.parent)
        produced = contigs.parent / "contigs.fa.gz"
        if produced != contigs:
            produced.replace(contigs)
        qcs = [read_json(d / "qc.json") or {} for _, d, _ in kept]
        before = [q.get("bases_before") for q in qcs]
        cov = contig_coverage(
            contigs,
            reads,
            coverage_out,
            threads=threads,
            bases_before_qc=None if None in before else sum(before),
            log=log_file,
        )
        shutil.rmtree(pooled, ignore_errors=True)
        stats = stats.model_copy(
            update={
                "coverage": cov.coverage,
                "coverage_depth": cov.coverage_depth,
                "covered_fraction": cov.covered_fraction,
                "runs": [run for run, _, _ in kept],
            }
        )
        if stats.n_contigs < cfg.qc.min_contigs:
            stats = stats.model_copy(
                update={
                    "passed": False,
                    "reason": f"{stats.n_contigs} contigs >= {min_contig_len} bp"
                    f" (at least {cfg.qc.min_contigs} needed)",
                }
            )
        write_json(stats_out, stats.model_dump(mode="json"))
        extra["message"] = stats.reason or f"{stats.n_contigs} contigs, N50 {stats.n50}"
        if gated:
            extra["message"] += f"; left out: {', '.join(run for run, _ in gated)} (failed QC)"
    return stats


def _pool_reads(runs: list[list[Path]], out_dir: Path) -> list[Path]:
    """One run's reads as they are; several runs' concatenated mate by mate into `out_dir`
    (gzip members concatenate into a valid gzip; metaSPAdes takes one library only)."""
    if len(runs) == 1:
        return runs[0]
    out_dir.mkdir(parents=True, exist_ok=True)
    pooled = []
    for mate, files in enumerate(zip(*runs, strict=True), start=1):
        target = out_dir / f"reads_{mate}.fastq.gz"
        with open(target, "wb") as out:
            for f in files:
                with open(f, "rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 20)
        pooled.append(target)
    return pooled


def assembly_megahit(
    *, cfg: GlobalConfig, run: str, mem_mb: int, threads: int, log_file: Path, **paths
) -> AssemblyStats | None:
    """MEGAHIT, then coverage (`_assemble`)."""
    p = cfg.tools.megahit

    def assemble(reads: list[Path], out_dir: Path) -> AssemblyStats:
        return run_megahit(
            reads,
            out_dir,
            threads=threads,
            mem_mb=mem_mb,
            k_list=p.k_list,
            min_contig_len=p.min_contig_len,
            extra_args=p.extra,
            log=log_file,
            contig_prefix=run,
        )

    return _assemble(
        assemble,
        cfg=cfg,
        min_contig_len=p.min_contig_len,
        threads=threads,
        log_file=log_file,
        **paths,
    )


def assembly_metaspades(
    *, cfg: GlobalConfig, run: str, mem_mb: int, threads: int, log_file: Path, **paths
) -> AssemblyStats | None:
    """metaSPAdes (paired reads only), then coverage (`_assemble`)."""
    from .tools.spades import run_metaspades

    p = cfg.tools.metaspades

    def assemble(reads: list[Path], out_dir: Path) -> AssemblyStats:
        return run_metaspades(
            reads,
            out_dir,
            threads=threads,
            mem_mb=mem_mb,
            k_list=p.k_list,
            min_contig_len=p.min_contig_len,
            extra_args=p.extra,
            log=log_file,
            contig_prefix=run,
        )

    return _assemble(
        assemble,
        cfg=cfg,
        min_contig_len=p.min_contig_len,
        threads=threads,
        log_file=log_file,
        **paths,
    )


def analysis_cds(
    *,
    cfg: GlobalConfig,
    assembly: Path,
    contigs: Path,
    hmms: Path,
    faa: Path,
    gff: Path,
    counts: Path,
    domains: Path,
    annotations: Path,
    threads: int,
    log_file: Path,
    job: Job,
) -> int:
    """CDS (pyrodigal, metagenome mode) and their Pfam domains (pyhmmer, the configured HMMs'
    GA cutoffs): the per-CDS domain table and the `pfams` annotation table."""
    from .tools.hmmer import domain_counts, hmmer_version, search_domains, write_domain_table

    if reason := _gate(assembly):
        _write_gated(reason, faa, gff, counts)
        _empty_bgzip(domains, log_file)
        write_annotation_table(annotations, [], log=log_file)
        return 0
    p = cfg.tools.pfam
    with record(job) as extra:
        n = predict_cds(contigs, faa, gff, threads=threads)
        hits = search_domains(faa, hmms, threads=threads, cutoff=p.cutoff, evalue=p.evalue)
        plain = domains.with_name(domains.name.removesuffix(".gz"))
        write_domain_table(hits, plain)
        bgzip(plain, domains, log=log_file)
        plain.unlink()
        found = domain_counts(hits)
        write_annotation_table(annotations, asm.pfam_annotations(found), log=log_file)
        write_json(
            counts,
            {
                "cds_count": n,
                "pfam_domains": len(hits),
                "cds_with_pfam": len({h.protein for h in hits}),
                "pfam_entries": len(found),
                "pfam_tool_version": hmmer_version(),
                "pfam_reference": _reference_source(hmms),
            },
        )
        extra["message"] = f"{n} CDS, {len(hits)} Pfam domains"
    return n


def analysis_taxonomy(
    *,
    cfg: GlobalConfig,
    assembly: Path,
    contigs: Path,
    cds_gff: Path,
    domains: Path,
    cm: Path,
    ssu_reference: Path,
    kraken2_db: Path | None,
    out: dict[str, Path],
    threads: int,
    log_file: Path,
    job: Job,
) -> dict[str, int]:
    """rRNA genes (Infernal cmsearch, Rfam's rRNA models, overlaps resolved across kingdoms),
    SSU/LSU sequences, SSU taxonomy (SINTAX), contig taxonomy (kraken2) and one GFF of all
    features. `out`: path name (mgnify_db.paths) -> file."""
    from .tools import infernal, sintax
    from .tools import kraken2 as k2

    tables = ("rrna_annotations", "ssu_annotations", "contig_annotations")
    indexed = ("contig_taxonomy", "annotation_gff")
    if reason := _gate(assembly):
        _write_gated(reason, *(v for k, v in out.items() if k not in (*tables, *indexed)))
        for name in tables:
            write_annotation_table(out[name], [], log=log_file)
        for name in indexed:
            _empty_bgzip(out[name], log_file)
        return {}
    with record(job) as extra, attempt_dir(out["rrna_counts"].parent, "taxonomy") as tmp:
        hits = infernal.run_cmsearch(
            contigs,
            cm,
            tmp / "cmsearch.tbl",
            threads=threads,
            hmmonly=cfg.tools.cmsearch.hmmonly,
            log=log_file,
        )
        hits = infernal.resolve_overlaps(hits)
        write_text_atomic(
            out["rrna_gff"],
            "##gff-version 3\n" + "".join(f"{ln}\n" for ln in infernal.rrna_gff_lines(hits)),
        )
        found = asm.rrna_counts(hits)
        write_annotation_table(out["rrna_annotations"], asm.rrna_annotations(hits), log=log_file)
        for name, kind in (("ssu_fasta", "SSU"), ("lsu_fasta", "LSU")):
            plain = tmp / f"{kind}.fasta"
            infernal.extract_rrna(contigs, hits, plain, kinds=(kind,))
            _gzip_to(plain, out[name])
        ssu_calls = (
            sintax.classify(
                tmp / "SSU.fasta",
                ssu_reference,
                tmp / "sintax.tsv",
                cutoff=cfg.tools.sintax.cutoff,
                threads=threads,
                log=log_file,
            )
            if found.get("SSU")
            else []
        )
        write_annotation_table(
            out["ssu_annotations"],
            asm.taxonomy_annotations(sintax.taxonomy_counts(ssu_calls)),
            log=log_file,
        )
        contig_rows = []
        if kraken2_db is not None:
            calls = k2.classify(
                contigs,
                kraken2_db,
                tmp / "kraken2.out",
                threads=threads,
                confidence=cfg.tools.kraken2.confidence,
                log=log_file,
            )
            taxonomy = k2.Taxonomy.load(kraken2_db / "taxonomy.tsv")
            contig_rows = k2.contig_taxonomy(calls, taxonomy)
        plain = tmp / "contig_taxonomy.tsv"
        k2.write_contig_table(contig_rows, plain)
        bgzip(plain, out["contig_taxonomy"], log=log_file)
        summary = k2.lineage_summary(contig_rows, rank="genus")
        write_annotation_table(
            out["contig_annotations"], asm.contig_taxonomy_annotations(summary), log=log_file
        )
        gff = tmp / "annotation_summary.gff"
        asm.write_annotation_gff(gff, cds_gff=cds_gff, domains=domains, rrna_gff=out["rrna_gff"])
        bgzip(gff, out["annotation_gff"], log=log_file)
        figures = {
            "rrna": found,
            "ssu_sequences": found.get("SSU", 0),
            "ssu_classified": sum(1 for c in ssu_calls if c.lineage.lowest() is not None),
            "contigs_classified": sum(1 for r in contig_rows if r.taxid),
            "contigs": len(contig_rows),
            "rrna_tool_version": infernal.infernal_version(),
            "ssu_tool_version": sintax.vsearch_version(),
            "contig_taxonomy_tool_version": k2.kraken2_version() if kraken2_db else None,
            **{
                f"{name}_reference": _reference_source(path)
                for name, path in (("rrna", cm), ("ssu", ssu_reference), ("kraken2", kraken2_db))
                if path is not None
            },
        }
        write_json(out["rrna_counts"], figures)
        extra["message"] = json.dumps(found, sort_keys=True)
    return found


def _reference_source(built: Path) -> dict | None:
    """What a reference database was built from (its first source: location, sha256...)."""
    from .references import read_manifest

    manifest = read_manifest(built)
    return manifest.sources[0].model_dump() if manifest and manifest.sources else None


def _empty_bgzip(dest: Path, log_file: Path) -> None:
    """An empty bgzipped file with its .gzi (the outputs of a step that short-circuits)."""
    plain = temp_path(dest.with_name(dest.name.removesuffix(".gz")))
    plain.write_text("")
    try:
        bgzip(plain, dest, log=log_file)
    finally:
        plain.unlink(missing_ok=True)


def _gzip_to(src: Path, dest: Path) -> None:
    """gzip `src` into `dest` (mtime 0: the bytes depend only on the content), atomically."""
    tmp = temp_path(dest)
    with open(src, "rb") as fh, open(tmp, "wb") as raw:
        with gzip.GzipFile("", "wb", 6, raw, mtime=0) as gz:
            shutil.copyfileobj(fh, gz)
    tmp.replace(dest)


# -- amplicon ------------------------------------------------------------------------------------
def amplicon_asv(
    *,
    cfg: GlobalConfig,
    qc_dir: Path,
    out: dict[str, Path],
    threads: int,
    log_file: Path,
    job: Job,
) -> dict:
    """Primers found at the reads' starts and removed (cutadapt), pairs merged and filtered by
    expected errors, ASVs (UNOISE3, UCHIME3 chimeras removed) and the reads of each. `out`:
    path name (pipelines.amplicon.ASV_OUTPUTS) -> file."""
    from .pipelines import amplicon as amp
    from .tools import cutadapt, vsearch

    if reason := _gate(qc_dir / "qc.json"):
        _write_gated(reason, *out.values())
        amp.write_asv_counts(out["asv_counts"], {})
        return {}
    p = cfg.tools.amplicon
    reads = sorted(qc_dir.glob("reads_*.fastq.gz"))
    with record(job) as extra, attempt_dir(out["asv_json"].parent, "asv") as tmp:
        found = cutadapt.detect_primers(
            reads,
            p.forward_primers,
            p.reverse_primers,
            tmp / "primers.json",
            min_fraction=p.min_primer_fraction,
            threads=threads,
            log=log_file,
        )
        trimmed = [tmp / f"trimmed_{i}.fastq.gz" for i in range(1, len(reads) + 1)]
        trim = cutadapt.trim_primers(reads, trimmed, found, tmp / "trim.json", threads=threads)
        figures: dict = {
            "primers": found.model_dump(exclude={"reads"}),
            "reads_in": found.reads,
            "reads_with_primers": trim.reads_out,
        }
        if len(reads) == 2:
            merged = tmp / "merged.fastq"
            figures["reads_merged"] = vsearch.merge_pairs(
                *trimmed, merged, threads=threads, log=log_file
            )
        else:
            merged = trimmed[0]
        filtered = tmp / "filtered.fasta"
        figures["reads_filtered"] = vsearch.filter_reads(
            merged,
            filtered,
            label="reads",
            max_ee=p.max_expected_errors,
            min_length=p.min_length,
            log=log_file,
        )
        write_text_atomic(out["primers_fasta"], cutadapt.primers_fasta(found))
        figures |= {
            "cutadapt_version": cutadapt.cutadapt_version(),
            "vsearch_version": vsearch.vsearch_version(),
        }
        if figures["reads_filtered"] < p.min_reads:
            reason = (
                f"{figures['reads_filtered']} reads left after primer removal, merging and"
                f" filtering (< {p.min_reads})"
            )
            for name in ("asv_fasta", "amplicon_uniques"):
                _write_gated(reason, out[name])
            amp.write_asv_counts(out["asv_counts"], {})
            write_json(out["asv_json"], {**figures, "passed": False, "reason": reason})
            extra["message"] = reason
            return figures
        uniques = tmp / "uniques.fasta"
        figures["unique_sequences"] = vsearch.dereplicate(filtered, uniques, log=log_file)
        denoised = tmp / "denoised.fasta"
        figures["denoised"] = vsearch.unoise(
            uniques, denoised, min_size=p.min_asv_size, alpha=p.unoise_alpha, log=log_file
        )
        kept = tmp / "nonchimeras.fasta"
        _, figures["chimeras"] = vsearch.remove_chimeras(
            denoised, kept, tmp / "chimeras.fasta", abskew=p.chimera_abskew, log=log_file
        )
        asvs = sorted(read_fasta(kept), key=lambda r: -vsearch.size_of(r[0]))
        named = out["asv_fasta"]
        write_text_atomic(
            named, "".join(f">seq_{i}\n{seq}\n" for i, (_, seq) in enumerate(asvs, 1))
        )
        counts = (
            vsearch.asv_counts(
                filtered,
                named,
                tmp / "otutab.tsv",
                identity=p.asv_identity,
                threads=threads,
                log=log_file,
            )
            if asvs
            else {}
        )
        counts = {f"seq_{i}": counts.get(f"seq_{i}", 0) for i in range(1, len(asvs) + 1)}
        figures |= {"asvs": len(asvs), "reads_in_asvs": sum(counts.values())}
        amp.write_asv_counts(out["asv_counts"], counts)
        _gzip_to(uniques, out["amplicon_uniques"])
        write_json(out["asv_json"], {**figures, "passed": True, "reason": None})
        extra["message"] = f"{len(asvs)} ASVs from {figures['reads_filtered']} reads"
    return figures


def amplicon_taxonomy(
    *,
    cfg: GlobalConfig,
    asv_json: Path,
    asv_fasta: Path,
    asv_counts: Path,
    uniques: Path,
    cm: Path,
    ssu_reference: Path,
    out: dict[str, Path],
    threads: int,
    log_file: Path,
    job: Job,
) -> dict:
    """The amplified region of each ASV (Infernal, Rfam's SSU models), closed-reference taxonomy
    of the reads and SINTAX taxonomy of the ASVs, both against the SSU reference. `out`: path
    name (pipelines.amplicon.TAXONOMY_OUTPUTS) -> file."""
    from .lineage import UNCLASSIFIED
    from .pipelines import amplicon as amp
    from .tools import infernal, sintax, vsearch

    tables = ("amplicon_ssu_annotations", "asv_annotations")
    if reason := _gate(asv_json):
        _write_gated_step(reason, out, tables, log_file)
        asv = read_json(asv_json) or {}
        if asv.get("passed") is False:
            # the analysis' own gate (too few reads): its QC failed, it is not pending
            write_json(out["amplicon_taxonomy_json"], {"passed": False, "reason": asv["reason"]})
        return {}
    p = cfg.tools.amplicon
    counts = amp.read_asv_counts(asv_counts)
    with record(job) as extra, attempt_dir(out["amplicon_taxonomy_json"].parent, "tax") as tmp:
        regions: dict[str, str | None] = {}
        lineages: dict = {}
        if counts:
            hits = infernal.run_cmsearch(
                asv_fasta,
                cm,
                tmp / "cmsearch.tbl",
                threads=threads,
                hmmonly=cfg.tools.cmsearch.hmmonly,
                log=log_file,
            )
            best: dict = {}
            for h in infernal.resolve_overlaps(hits):
                if h.kind == "SSU" and (h.seqid not in best or h.score > best[h.seqid].score):
                    best[h.seqid] = h
            regions = {
                asv: amp.amplified_region(h.model, h.mdl_from, h.mdl_to) if h else None
                for asv in counts
                for h in [best.get(asv)]
            }
            calls = sintax.classify(
                asv_fasta,
                ssu_reference,
                tmp / "sintax.tsv",
                cutoff=p.asv_cutoff,
                threads=threads,
                log=log_file,
            )
            lineages = {c.query: c.lineage for c in calls}
        lineages = {asv: lineages.get(asv) or Lineage() for asv in counts}
        amp.write_asv_taxonomy(out["asv_taxonomy"], lineages, regions)
        asv_summary = amp.asv_lineage_counts(lineages, counts)
        write_annotation_table(out["asv_annotations"], amp.taxonomy_rows(asv_summary), log=log_file)
        taxa = vsearch.closed_reference(
            uniques,
            ssu_reference,
            tmp / "hits.tsv",
            identity=p.closed_reference_identity,
            agreement=p.closed_reference_agreement,
            threads=threads,
            log=log_file,
        )
        closed = vsearch.lineage_counts(taxa)
        write_annotation_table(
            out["amplicon_ssu_annotations"], amp.taxonomy_rows(closed), log=log_file
        )
        amp.write_rank_counts(out["amplicon_rank_counts"], closed)
        by_region: dict[str, dict] = {}
        for asv, n in counts.items():
            region = regions.get(asv)
            if region is None:
                continue
            entry = by_region.setdefault(
                region,
                {
                    "marker_gene": region.split("-")[0],
                    "amplified_region": region,
                    "asv_count": 0,
                    "read_count": 0,
                },
            )
            entry["asv_count"] += 1
            entry["read_count"] += n
        regions_found = sorted(by_region.values(), key=lambda e: -e["read_count"])
        figures = {
            "amplified_region": regions_found[0]["amplified_region"] if regions_found else None,
            "asvs_not_ssu": sum(1 for asv in counts if regions.get(asv) is None),
            "reads_classified": sum(n for k, n in closed.items() if k != UNCLASSIFIED),
            "reads_unclassified": closed.get(UNCLASSIFIED, 0),
            "asvs_classified_genus": sum(1 for lin in lineages.values() if lin.get("genus")),
            "marker_gene_summary": amp.marker_gene_summary(closed, regions_found),
            "rrna_tool_version": infernal.infernal_version(),
            "ssu_tool_version": sintax.vsearch_version(),
            "rrna_reference": _reference_source(cm),
            "ssu_reference": _reference_source(ssu_reference),
        }
        write_json(out["amplicon_taxonomy_json"], figures)
        extra["message"] = f"region {figures['amplified_region']}, {len(closed)} lineages"
    return figures


# -- raw reads -----------------------------------------------------------------------------------
# Pfam on reads: translated pieces searched per chunk; E-values for this many pieces
READS_PFAM_CHUNK, READS_PFAM_Z = 200_000, 1_000_000


def _reads_fasta(reads: list[Path], out: Path) -> int:
    """The reads (both mates) as one FASTA, named `<read>/<mate>` (cmsearch reads FASTA)."""
    n = 0
    with open(out, "w") as fh:
        for mate, path in enumerate(reads, 1):
            for name, seq in read_reads(path):
                fh.write(f">{name}/{mate}\n{seq}\n")
                n += 1
    return n


def raw_reads_taxonomy(
    *,
    cfg: GlobalConfig,
    qc_dir: Path,
    reads_dir: Path,
    cm: Path,
    ssu_reference: Path,
    lsu_reference: Path | None,
    kraken2_db: Path | None,
    out: dict[str, Path],
    threads: int,
    log_file: Path,
    job: Job,
) -> dict:
    """SSU and LSU reads (Infernal cmsearch, Rfam's rRNA models), their closed-reference
    taxonomy (LSU's when an LSU reference is configured), and every read pair's kraken2
    taxonomy by genus (re-estimated). `out`: path name (pipelines.raw_reads.TAXONOMY_OUTPUTS)
    -> file."""
    from .lineage import UNCLASSIFIED
    from .pipelines import amplicon as amp
    from .pipelines import raw_reads as rr
    from .tools import infernal, vsearch
    from .tools import kraken2 as k2

    if reason := _gate(qc_dir / "qc.json") or _gate(reads_dir / "decontamination.json"):
        tables = ("reads_ssu_annotations", "reads_lsu_annotations", "reads_annotations")
        _write_gated_step(reason, out, tables, log_file)
        return {}
    p = cfg.tools.raw_reads
    reads = sorted(reads_dir.glob("reads_*.fastq.gz"))
    with record(job) as extra, attempt_dir(out["reads_taxonomy_json"].parent, "tax") as tmp:
        fasta = tmp / "reads.fasta"
        n_reads = _reads_fasta(reads, fasta)
        hits = infernal.resolve_overlaps(
            infernal.run_cmsearch(
                fasta,
                cm,
                tmp / "cmsearch.tbl",
                threads=threads,
                hmmonly=cfg.tools.cmsearch.hmmonly,
                log=log_file,
            )
        )
        kinds: dict[str, str] = {}
        for h in hits:
            if h.kind in ("SSU", "LSU"):
                kinds.setdefault(h.seqid, h.kind)
        with open(tmp / "SSU.fasta", "w") as ssu_fh, open(tmp / "LSU.fasta", "w") as lsu_fh:
            files = {"SSU": ssu_fh, "LSU": lsu_fh}
            for h, s in read_fasta(fasta):
                if h in kinds:
                    files[kinds[h]].write(f">{h}\n{s}\n")
        _gzip_to(tmp / "SSU.fasta", out["reads_ssu_fasta"])
        _gzip_to(tmp / "LSU.fasta", out["reads_lsu_fasta"])
        found = {kind: sum(1 for k in kinds.values() if k == kind) for kind in ("SSU", "LSU")}
        classified_rrna: dict[str, int | None] = {}  # None: no reference to classify against
        for kind, reference in (("SSU", ssu_reference), ("LSU", lsu_reference)):
            taxa = (
                vsearch.closed_reference(
                    tmp / f"{kind}.fasta",
                    reference,
                    tmp / f"{kind}_hits.tsv",
                    identity=p.rrna_identity,
                    agreement=p.rrna_agreement,
                    threads=threads,
                    log=log_file,
                )
                if found[kind] and reference is not None
                else []
            )
            counts = vsearch.lineage_counts(taxa)
            table = out[f"reads_{kind.lower()}_annotations"]
            write_annotation_table(table, amp.taxonomy_rows(counts), log=log_file)
            classified_rrna[f"{kind.lower()}_reads_classified"] = (
                sum(n for k, n in counts.items() if k != UNCLASSIFIED) if reference else None
            )
        ssu_reads = found["SSU"]
        genus: dict[str, int] = {}
        moved = classified = pairs = None
        if kraken2_db is not None:
            # counts per taxon from kraken2's report: its per-pair output is never held
            k2.classify(
                reads[0],
                kraken2_db,
                tmp / "kraken2.out",
                threads=threads,
                confidence=p.kraken2_confidence,
                paired=reads[1:] or None,
                report=out["reads_kraken2_report"],
                log=log_file,
                parse=False,
            )
            taxonomy = k2.Taxonomy.load(kraken2_db / "taxonomy.tsv")
            by_taxon = k2.report_counts(out["reads_kraken2_report"])
            lineages = [
                (taxonomy.lineage(t) if t != k2.UNCLASSIFIED_TAXID else Lineage(), n)
                for t, n in by_taxon.items()
            ]
            pairs = sum(by_taxon.values())
            classified = sum(n for lin, n in lineages if lin)  # at the root: not classified
            genus, moved = rr.genus_counts(lineages, reestimate=p.reestimate)
        else:
            write_text_atomic(out["reads_kraken2_report"], "")
        write_annotation_table(out["reads_annotations"], amp.taxonomy_rows(genus), log=log_file)
        figures = {
            "reads": n_reads,
            "ssu_reads": ssu_reads,
            "lsu_reads": found["LSU"],
            **classified_rrna,
            "lsu_taxonomy": None if lsu_reference else "no LSU reference configured",
            "read_pairs_classified": classified,
            "read_pairs": pairs,
            "read_pairs_reestimated": moved,
            "rrna_tool_version": infernal.infernal_version(),
            "rrna_taxonomy_tool_version": vsearch.vsearch_version(),
            "read_taxonomy_tool_version": k2.kraken2_version() if kraken2_db else None,
            "read_taxonomy": None if kraken2_db else "no kraken2 database configured",
            **{
                f"{name}_reference": _reference_source(path)
                for name, path in (
                    ("rrna", cm),
                    ("ssu", ssu_reference),
                    ("lsu", lsu_reference),
                    ("kraken2", kraken2_db),
                )
                if path is not None
            },
        }
        write_json(out["reads_taxonomy_json"], figures)
        extra["message"] = f"{ssu_reads} SSU reads, {classified}/{pairs} pairs classified"
    return figures


def raw_reads_function(
    *,
    cfg: GlobalConfig,
    qc_dir: Path,
    reads_dir: Path,
    hmms: Path,
    out: dict[str, Path],
    threads: int,
    log_file: Path,
    job: Job,
) -> dict:
    """Pfam domains in the reads' six-frame translations (pyhmmer, a domain E-value: Pfam's
    GA thresholds are for whole domains): reads per Pfam entry (`pfams`)."""
    from .tools.hmmer import hmmer_version, read_frames, search_domains

    if reason := _gate(qc_dir / "qc.json") or _gate(reads_dir / "decontamination.json"):
        _write_gated_step(reason, out, ("reads_pfam_annotations",), log_file)
        return {}
    p = cfg.tools.raw_reads
    reads = sorted(reads_dir.glob("reads_*.fastq.gz"))
    with record(job) as extra, attempt_dir(out["reads_function_json"].parent, "fn") as tmp:
        frames = tmp / "frames.faa"
        n_reads, n_pieces = read_frames(reads, frames, min_length=p.min_orf_length)
        # in chunks (memory bounded whatever the run's size), E-values on a fixed database
        # size (the same read scores the same in a small run and a large one)
        hits = search_domains(
            frames,
            hmms,
            threads=threads,
            cutoff="evalue",
            evalue=p.pfam_evalue,
            z=READS_PFAM_Z,
            chunk=READS_PFAM_CHUNK,
        )
        reads_per: dict[str, set[str]] = {}
        descriptions: dict[str, str] = {}
        for h in hits:
            read = h.protein.rsplit("_", 2)[0]  # <read>/<mate>
            reads_per.setdefault(h.accession, set()).add(read)
            descriptions[h.accession] = h.description
        rows = sorted(
            ((acc, descriptions[acc], len(r)) for acc, r in reads_per.items()),
            key=lambda t: (-t[2], t[0]),
        )
        from .pipelines.annotations import AnnotationRow

        write_annotation_table(
            out["reads_pfam_annotations"],
            [AnnotationRow(term=a, description=d, count=n) for a, d, n in rows],
            log=log_file,
        )
        by_read: dict[str, list[str]] = {}
        for acc, rs in sorted(reads_per.items()):
            for r in rs:
                by_read.setdefault(r, []).append(acc)
        plain = tmp / "pfam_reads.tsv"
        with open(plain, "w") as fh:
            fh.write("read\tpfam\n")
            fh.writelines(f"{r}\t{','.join(a)}\n" for r, a in sorted(by_read.items()))
        _gzip_to(plain, out["reads_pfam_hits"])
        figures = {
            "pfam_reads": len(by_read),
            "pfam_entries": len(rows),
            "translated_pieces": n_pieces,
            "pfam_tool_version": hmmer_version(),
            "pfam_reference": _reference_source(hmms),
        }
        write_json(out["reads_function_json"], figures)
        extra["message"] = f"{figures['pfam_reads']} of {n_reads} reads with a Pfam domain"
    return figures
