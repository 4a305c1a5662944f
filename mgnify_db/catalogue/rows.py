"""Catalogue rows from a study's plan, result files and job events: pure, apart from allocation.

`study_rows` gives every row a study owns; `run_rows` the rows of one run. Loading either twice,
or rebuilding from the files, gives the same rows. Times (`created_at`, `updated_at`) come from
the files too (job events, the config history), never from the clock of the load.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..config import GlobalConfig, StudyConfig
from ..ids import AccessionKind, Ledger, accession
from ..io import md5_cached, read_json, read_jsonl
from ..jobs import JobEvent, MemoryPolicy, memory_events, read_events
from ..models import EXPERIMENT_TYPE_LABELS, ExperimentType, Status
from ..paths import PATTERNS, StudyPaths
from ..plan import StudyPlan
from ..state import RecordState, RunState, study_states
from .biomes import biome_path, lineage_rows
from .schema import TABLES, Rows

__all__ = ["biome_path", "biome_rows", "study_rows", "run_rows", "pending_study_rows"]


def empty() -> Rows:
    return {t: [] for t in TABLES}


def biome_rows(lineage: str) -> list[dict]:
    """A lineage and its ancestors as biome rows."""
    return lineage_rows(lineage)


def study_accession(ena_accession: str, ledger: Ledger) -> str:
    """A study's MGYS, allocated once for its ENA accession."""
    return accession(AccessionKind.STUDY, ledger.allocate(AccessionKind.STUDY, ena_accession))


def _js(value) -> str | None:
    """Canonical JSON (sorted keys) of a value; None stays None."""
    return None if value is None else json.dumps(value, sort_keys=True)


def _visibility(config: StudyConfig, reason: str | None) -> dict:
    """Privacy from the study; suppression from the record itself."""
    return {
        "is_private": int(config.is_private),
        "is_suppressed": int(reason is not None),
        "suppression_reason": reason,
        "webin_owner": config.webin_owner,
    }


def _latest(times) -> str | None:
    times = [t for t in times if t]
    return max(times) if times else None


def _id(*parts: str | None) -> str:
    return "/".join(str(p) for p in parts)


# -- samples ---------------------------------------------------------------------------------
def sample_rows(plan: StudyPlan, mgys: str) -> tuple[list[dict], list[dict]]:
    """(samples, study_samples): a sample may be shared with other studies, so the link carries
    this study's view of it (privacy, withdrawal); the store derives the sample's own flags."""
    withdrawn = [(s, "no longer listed by ENA") for s in plan.metadata.withdrawn_samples]
    samples, links = [], []
    for s, reason in [(s, None) for s in plan.metadata.samples] + withdrawn:
        samples.append(
            {
                "accession": s.sample_accession,
                "ena_accessions": _js(
                    [a for a in (s.sample_accession, s.secondary_sample_accession) if a]
                ),
                "secondary_accession": s.secondary_sample_accession,
                "title": s.sample_title,
                "scientific_name": s.scientific_name,
                "tax_id": s.tax_id,
                "latitude": s.lat,
                "longitude": s.lon,
                "collection_date": s.collection_date,
                "country": s.country,
                "location": s.location,
                "depth": s.depth,
                "temperature": s.temperature,
                "environment_biome": s.environment_biome,
                "environment_feature": s.environment_feature,
                "environment_material": s.environment_material,
                "host_scientific_name": s.host_scientific_name,
                "biome": plan.config.biome,
                "metadata": _js(s.model_dump(exclude_none=True)),
                **_visibility(plan.config, reason),
            }
        )
        links.append(
            {
                "id": _id(mgys, s.sample_accession),
                "study": mgys,
                "sample": s.sample_accession,
                "biome": plan.config.biome,
                **_visibility(plan.config, reason),
            }
        )
    return samples, links


# -- events ----------------------------------------------------------------------------------
def _event_id(e: dict) -> str:
    fields = ("study", "run", "rule", "event", "attempt", "time", "job_id", "cause", "message")
    key = "|".join(str(e.get(k)) for k in fields)
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def event_rows(
    events: list[JobEvent],
    mgys: str,
    run: str | None,
    policy: MemoryPolicy,
    coassembly: str | None = None,
) -> list:
    rows = []
    for e in events:
        rows.append(
            {
                "time": e.time,
                "study": mgys,
                "run": run,
                "coassembly": coassembly,
                "rule": e.rule,
                "event": str(e.event),
                "attempt": e.attempt,
                "mem_mb": e.mem_mb,
                "threads": e.threads,
                "job_id": e.job_id,
                "host": e.host,
                "cause": str(e.cause) if e.cause else None,
                "message": e.message,
            }
        )
    by_rule: dict[str, list[JobEvent]] = {}
    for e in events:
        by_rule.setdefault(e.rule, []).append(e)
    for rule, evs in by_rule.items():
        for m in memory_events(evs, policy):
            rows.append(
                {
                    "time": m.get("time"),
                    "study": mgys,
                    "run": run,
                    "coassembly": coassembly,
                    "rule": rule,
                    "event": "memory",
                    "attempt": m.get("attempt"),
                    "mem_mb": m.get("mem_mb"),
                    "threads": None,
                    "job_id": m.get("job_id"),
                    "host": None,
                    "cause": None,
                    "message": m.get("reason") or m.get("message"),
                }
            )
    for r in rows:
        r["id"] = _event_id(r)
    return rows


def change_rows(history: list[dict], mgys: str) -> list[dict]:
    """Operator changes (config edits that changed what the study processes), as events, from
    the study's config history."""
    from .changes import change_events

    rows = []
    for e in change_events(history):
        row = {k: None for k in TABLES["events"].columns}
        # `run` stays empty: an excluded run's row may not exist; the message names it
        row.update({k: v for k, v in e.items() if k != "run"}, study=mgys, run=None)
        row["id"] = _event_id(row)
        rows.append(row)
    return rows


# -- runs and their records ------------------------------------------------------------------
def _status_flags(prefix: str, rec: RecordState | None, run: RunState) -> dict:
    """MGnify's independent status flags (reference §1.9) from our one status."""
    qc_failed = run.status == Status.QC_FAILED
    status = rec.status if rec else Status.PENDING
    flags = {
        f"{prefix}_started": status in (Status.RUNNING, Status.COMPLETED, Status.FAILED),
        f"{prefix}_completed": status == Status.COMPLETED,
        f"{prefix}_failed": status == Status.FAILED,
        f"{prefix}_blocked": run.status == Status.SKIPPED,
    }
    if prefix == "assembly":
        post_qc = rec is not None and rec.status == Status.QC_FAILED
        flags |= {
            "pre_assembly_qc_failed": qc_failed,
            "post_assembly_qc_failed": post_qc,
            "assembly_uploaded": False,
            "assembly_upload_failed": False,
            "assembly_upload_blocked": False,
        }
    else:
        flags |= {
            "analysis_qc_failed": qc_failed,
            "analysis_annotations_imported": status == Status.COMPLETED,
        }
    if status == Status.FAILED and rec is not None:
        flags[f"{prefix}_failed_reason"] = rec.reason
    if qc_failed:
        flags[("pre_assembly" if prefix == "assembly" else prefix) + "_qc_failed_reason"] = (
            run.reason
        )
    elif rec is not None and rec.status == Status.QC_FAILED:
        flags[("post_assembly" if prefix == "assembly" else prefix) + "_qc_failed_reason"] = (
            rec.reason
        )
        if prefix == "analysis":
            flags["analysis_qc_failed"] = True
    if run.status == Status.SKIPPED:
        flags[f"{prefix}_blocked_reason"] = run.reason
    return flags


def quality_control(qc: dict | None) -> dict | None:
    """The QC summary in MGnify's shape (fastp's before/after filtering) plus our gate."""
    if not qc:
        return None
    return {
        "before_filtering": {
            "total_reads": qc.get("reads_before"),
            "total_bases": qc.get("bases_before"),
            "q30_rate": qc.get("q30_rate_before"),
        },
        "after_filtering": {
            "total_reads": qc.get("reads_after"),
            "total_bases": qc.get("bases_after"),
            "q30_rate": qc.get("q30_rate_after"),
            "gc_content": qc.get("gc_content_after"),
        },
        "duplication_rate": qc.get("duplication_rate"),
        "filtered_fraction": qc.get("filtered_fraction"),
        "passed": qc.get("passed"),
        "reason": qc.get("reason"),
        "tool": "fastp",
        "tool_version": qc.get("tool_version"),
        **({"decontamination": _decontamination(d)} if (d := qc.get("decontamination")) else {}),
    }


def _decontamination(d: dict) -> dict:
    """Reads removed before assembly: by which genomes (hosts and contaminants), and kept."""
    keys = ("reads_in", "reads_removed", "reads_kept", "kept_ratio", "removed_by_label", "genomes")
    return {k: d.get(k) for k in keys} | {"passed": d.get("passed"), "reason": d.get("reason")}


def annotations_digest(rec: RecordState, paths: StudyPaths, run: str) -> str | None:
    """A digest of the analysis' annotation tables (their md5s, cached beside the files): the
    store keeps the rows of an analysis whose digest did not change."""
    parts = []
    for spec in rec.pipeline.annotations:
        path = paths.path(spec.path, run)
        parts.append(f"{spec.type}:{md5_cached(path) if path.exists() else '-'}")
    return hashlib.md5("|".join(parts).encode()).hexdigest() if parts else None


def _annotation_rows(rec: RecordState, paths: StudyPaths, run: str, mgya: str) -> list[dict]:
    """The analysis' annotation rows (a table's terms are unique: write_annotation_table)."""
    from ..pipelines.annotations import run_annotations

    tables = run_annotations(rec.pipeline, paths, run)
    return [{"analysis": mgya, "type": t, **r} for t, rows in tables.items() for r in rows]


def _download_rows(
    rec: RecordState,
    acc: str,
    dl,
    paths: StudyPaths,
    run: str,
    mgys: str,
    config: StudyConfig,
    files_url: str,
) -> list[dict]:
    assembler = rec.assembler or ""
    p = paths.path(dl.path, run, assembler=assembler)
    if not p.exists():
        return []
    rel = paths.rel(dl.path, run, assembler)
    alias = dl.alias.format(run=run, accession=acc)
    url = f"{files_url.rstrip('/')}/{acc}/{alias}"
    index_files = [
        {
            "index_type": t,
            "path": f"{rel}.{t}",
            "url": f"{url}.{t}",
        }
        for t in dl.index_types
        if Path(f"{p}.{t}").exists()
    ]
    is_assembly = dl.owner == AccessionKind.ASSEMBLY
    return [
        {
            "id": _id(acc, alias),
            "study": mgys,
            "assembly": acc if is_assembly else None,
            "analysis": None if is_assembly else acc,
            "alias": alias,
            "path": rel,
            "file_type": dl.file_type,
            "download_type": dl.download_type,
            "download_group": dl.download_group,
            "short_description": dl.short_description,
            "long_description": dl.long_description,
            "size_bytes": p.stat().st_size,
            "md5": md5_cached(p),
            "url": url,
            "index_files": _js(index_files) if index_files else None,
            **_visibility(config, rec.suppressed),
        }
    ]


def _experiment_type(state: RunState) -> ExperimentType | None:
    return state.decision.experiment_type if state.decision.eligible else None


def run_rows(
    plan: StudyPlan,
    state: RunState,
    results: Path,
    ledger: Ledger,
    mgys: str,
    cfg: GlobalConfig,
) -> Rows:
    """The rows of one run: the run, its assemblies (+ their runs), analyses (+ annotations),
    downloads and job events."""
    out = empty()
    config = plan.config
    paths = StudyPaths(Path(results), plan.accession)
    run_dir = str(Path(paths.rel("qc", state.run)).parent)
    events_by_rule: dict[str, list[str]] = {}
    for e in state.events:
        events_by_rule.setdefault(e.rule, []).append(e.time)
    if state.coassembly:
        return _record_rows(out, plan, state, paths, ledger, mgys, cfg, events_by_rule, run_dir)
    d, qc = state.decision, state.qc or {}
    r = plan.runs.get(state.run) or next(
        w for w in plan.metadata.withdrawn_runs if w.run_accession == state.run
    )
    etype = _experiment_type(state)
    out["runs"].append(
        {
            "accession": state.run,
            "study": mgys,
            "sample": r.sample_accession,
            "experiment_type": str(etype) if etype else None,
            "experiment_type_label": EXPERIMENT_TYPE_LABELS[etype] if etype else None,
            "library_strategy": r.library_strategy,
            "library_source": r.library_source,
            "library_layout": r.library_layout,
            "inferred_layout": d.layout if d.layout and d.layout != r.library_layout else None,
            "instrument_platform": r.instrument_platform,
            "instrument_model": r.instrument_model,
            "read_count": r.read_count,
            "base_count": r.base_count,
            "fastq": _js([f.model_dump() for f in r.fastq_files]),
            "status": str(state.status),
            "status_reason": state.reason,
            "job_id": state.job_id,
            "qc_reads_before": qc.get("reads_before"),
            "qc_reads_after": qc.get("reads_after"),
            "qc_bases_after": qc.get("bases_after"),
            "qc_q30_rate": qc.get("q30_rate_after"),
            "qc_filtered_fraction": qc.get("filtered_fraction"),
            "metadata": _js(
                {
                    k: v
                    for k, v in {
                        "library_strategy": r.library_strategy,
                        "library_layout": r.library_layout,
                        "library_source": r.library_source,
                        "scientific_name": r.scientific_name,
                        "host_tax_id": r.host_tax_id,
                        "host_scientific_name": r.host_scientific_name,
                        "instrument_platform": r.instrument_platform,
                        "instrument_model": r.instrument_model,
                        "fastq_ftps": [f.url for f in r.fastq_files],
                        "inferred_library_layout": str(d.layout) if d.layout else None,
                    }.items()
                    if v not in (None, [])
                }
            ),
            "updated_at": _latest(e.time for e in state.events),
            **_visibility(config, state.suppressed),
        }
    )
    out["events"] = event_rows(state.events, mgys, state.run, cfg.memory)
    return _record_rows(out, plan, state, paths, ledger, mgys, cfg, events_by_rule, run_dir)


def _record_rows(
    out: Rows,
    plan: StudyPlan,
    state: RunState,
    paths: StudyPaths,
    ledger: Ledger,
    mgys: str,
    cfg: GlobalConfig,
    events_by_rule: dict[str, list[str]],
    run_dir: str,
) -> Rows:
    """The rows of a unit's records (a run's, or a co-assembly's: its `run` is empty, its
    `coassembly` is its name, its assembly links each run it was made from)."""
    config = plan.config
    co = state.coassembly
    if co:
        unit_run, coassembly, etype = None, state.run, None
        out["events"] = event_rows(state.events, mgys, None, cfg.memory, coassembly=state.run)
        samples = {plan.runs[m].sample_accession for m in state.members if m in plan.runs}
        sample = samples.pop() if len(samples) == 1 else None  # MGnify: a virtual sample
    else:
        unit_run, coassembly, etype = state.run, None, _experiment_type(state)
        r = plan.runs.get(state.run) or next(
            w for w in plan.metadata.withdrawn_runs if w.run_accession == state.run
        )
        sample = r.sample_accession

    def linked_runs(asm: RecordState) -> list[str]:
        made_from = ((asm.result or {}).get("assembly") or {}).get("runs")
        return made_from or list(state.members) or [state.run]

    # Allocation in a fixed order (assemblies first) keeps accessions stable across loaders.
    by_pipeline: dict[str, list[RecordState]] = {}
    for rec in state.records:
        by_pipeline.setdefault(rec.pipeline.name, []).append(rec)

    def assembly_row(asm: RecordState) -> str:
        number = ledger.allocate(AccessionKind.ASSEMBLY, asm.key)
        acc = accession(AccessionKind.ASSEMBLY, number)
        spec = asm.pipeline.record(AccessionKind.ASSEMBLY)
        cols = spec.columns(asm.result or {})
        out["assemblies"].append(
            {
                "accession": acc,
                "id": number,
                "ena_accession": None,
                "ena_accessions": "[]",
                "run": unit_run,
                "coassembly": coassembly,
                "study": mgys,
                "assembly_study": mgys,
                "sample": sample,
                "pipeline": asm.pipeline.name,
                "assembler": asm.assembler,
                "status": str(asm.status),
                "status_reason": asm.reason,
                "status_flags": _js(_status_flags("assembly", asm, state)),
                "job_id": asm.job_id,
                **cols,
                "metadata": _js(
                    {
                        k: cols.get(k)
                        for k in ("coverage", "coverage_depth", "n_contigs")
                        if cols.get(k) is not None
                    }
                    | _contaminant_reference(state.qc)
                    | ({"runs": linked_runs(asm)} if co else {})
                ),
                "results_dir": str(
                    Path(paths.rel("assembly", state.run, asm.assembler or "")).parent
                ),
                "updated_at": _latest(
                    t
                    for rl in asm.pipeline.rules_for(spec, asm.assembler)
                    for t in events_by_rule.get(rl, [])
                ),
                **_visibility(config, asm.suppressed),
            }
        )
        out["assembly_runs"] += [
            {"id": _id(acc, run), "assembly": acc, "run": run, "study": mgys}
            for run in linked_runs(asm)
        ]
        return acc

    for group in by_pipeline.values():
        assemblies = [rec for rec in group if rec.kind == AccessionKind.ASSEMBLY]
        records = {rec.kind: rec for rec in group if rec.kind != AccessionKind.ASSEMBLY}
        # the run's current assembly first; one by an assembler the study no longer uses after
        asm = assemblies[0] if assemblies else None
        asm_acc = assembly_row(asm) if asm is not None else None
        owned = [(asm, asm_acc)] if asm is not None else []
        owned += [(other, assembly_row(other)) for other in assemblies[1:]]
        ana = records.get(AccessionKind.ANALYSIS)
        mgya = None
        if ana is not None:
            number = ledger.allocate(AccessionKind.ANALYSIS, ana.key)
            mgya = accession(AccessionKind.ANALYSIS, number)
            spec = ana.pipeline.record(AccessionKind.ANALYSIS)
            # MGnify: an analysis of an assembly is ASSEM; otherwise the run's type
            a_type = ExperimentType.ASSEMBLY if asm is not None else etype
            out["analyses"].append(
                {
                    "accession": mgya,
                    "id": number,
                    "study": mgys,
                    "sample": sample,
                    "run": unit_run,
                    "coassembly": coassembly,
                    "assembly": asm_acc,
                    "experiment_type": str(a_type) if a_type else None,
                    "experiment_type_label": EXPERIMENT_TYPE_LABELS[a_type] if a_type else None,
                    "pipeline": ana.pipeline.name,
                    "pipeline_version": ana.pipeline.version,
                    "status": str(ana.status),
                    "status_reason": ana.reason,
                    "status_flags": _js(_status_flags("analysis", ana, state)),
                    "is_ready": int(ana.status == Status.COMPLETED),
                    "annotations_digest": annotations_digest(ana, paths, state.run)
                    if ana.status == Status.COMPLETED
                    else None,
                    "job_id": ana.job_id,
                    **(columns := spec.columns(ana.result or {})),
                    "quality_control": _js(quality_control(state.qc)),
                    "metadata": _js(columns.get("metadata")),
                    "results_dir": run_dir,
                    "updated_at": _latest(
                        t for rl in spec.rules for t in events_by_rule.get(rl, [])
                    ),
                    **_visibility(config, ana.suppressed),
                }
            )
            if ana.status == Status.COMPLETED:
                out["annotations"] += _annotation_rows(ana, paths, state.run, mgya)
        pipeline = (asm or ana).pipeline
        for dl in pipeline.downloads:
            owners = owned if dl.owner == AccessionKind.ASSEMBLY else [(ana, mgya)]
            for rec, acc in owners:
                if rec is None or rec.status != Status.COMPLETED:
                    continue
                out["downloads"] += _download_rows(
                    rec, acc, dl, paths, state.run, mgys, config, cfg.publish.files_url
                )
    return out


def _contaminant_reference(qc: dict | None) -> dict:
    """MGnify's `contaminant_reference` of an assembly: the genomes removed before it."""
    genomes = ((qc or {}).get("decontamination") or {}).get("genomes")
    return {"contaminant_reference": ",".join(genomes)} if genomes else {}


# -- the study ---------------------------------------------------------------------------------
STUDY_METADATA_KEYS = (
    "study_title",
    "study_description",
    "center_name",
    "secondary_study_accession",
    "study_name",
)


def study_row(plan: StudyPlan, mgys: str, created_at: str | None) -> dict:
    ena = plan.metadata.study
    missing = plan.metadata.missing_fields
    record = ena.model_dump(exclude_none=True)
    # MGnify's five keys first (always present), then the rest of ENA's record
    metadata = {k: record.get(k) for k in STUDY_METADATA_KEYS} | record
    return {
        "accession": mgys,
        "id": int(mgys[4:]),
        "ena_accession": ena.accession,
        "ena_accessions": _js([ena.accession, *ena.secondary_accessions]),
        "title": ena.study_title,
        "abstract": ena.study_description,
        "center_name": ena.center_name,
        "metadata": _js(metadata),
        "biome": plan.config.biome,
        "first_public": ena.first_public,
        "results_dir": f"studies/{plan.accession}",
        "created_at": created_at,
        "ena_missing_fields": _js(missing) if missing else None,
        **_visibility(plan.config, None),
    }


def reference_rows(refs: dict, mgys: str) -> Rows:
    """Publications and super studies (and the study's links to them) from its recorded
    references (`references.json`, written with its config)."""
    out: Rows = {"publications": [], "study_publications": []}
    out |= {"super_studies": [], "super_study_studies": []}
    for pmid, p in sorted(refs.get("publications", {}).items(), key=lambda kv: int(kv[0])):
        meta = {k: v for k, v in p.items() if k not in ("title", "published_year") and v}
        out["publications"].append(
            {
                "pubmed_id": int(pmid),
                "title": p.get("title"),
                "published_year": p.get("published_year"),
                "doi": p.get("doi"),
                "authors": p.get("authors"),
                "metadata": _js(meta),
            }
        )
        out["study_publications"].append(
            {"id": _id(mgys, pmid), "study": mgys, "publication": int(pmid)}
        )
    for slug, s in sorted(refs.get("super_studies", {}).items()):
        out["super_studies"].append(
            {
                "slug": slug,
                "title": s.get("title"),
                "description": s.get("description"),
                "logo_url": s.get("logo_url"),
            }
        )
        out["super_study_studies"].append(
            {
                "id": _id(slug, mgys),
                "super_study": slug,
                "study": mgys,
                "is_flagship": int(bool(s.get("is_flagship"))),
            }
        )
    return out


def _study_common(
    config: StudyConfig, results: Path, cfg: GlobalConfig, mgys: str
) -> tuple[Rows, str | None]:
    """Rows every study has, fetched from ENA or not (biomes, publications, super studies,
    study-level job events and operator changes), and when the study was first recorded: its
    first config record, else its first event."""
    out = empty()
    out["biomes"] = biome_rows(config.biome)
    refs = read_json(
        Path(PATTERNS["study_references"].format(results=results, study=config.accession))
    )
    out |= reference_rows(refs or {}, mgys)
    study_jobs = StudyPaths(Path(results), config.accession).path("study_jobs")
    events = [e for f in sorted(study_jobs.glob("*.jsonl")) for e in read_events(f)]
    out["events"] = event_rows(events, mgys, None, cfg.memory)
    history = read_jsonl(
        Path(PATTERNS["config_history"].format(results=results, study=config.accession))
    )
    out["events"] += change_rows(history, mgys)
    first = history[0].get("time") if history else None
    return out, first or min((e["time"] for e in out["events"] if e.get("time")), default=None)


def study_rows(plan: StudyPlan, results: Path, ledger: Ledger, cfg: GlobalConfig) -> Rows:
    """Every row the study owns, from its plan, files and ledger."""
    mgys = study_accession(plan.accession, ledger)
    out, created_at = _study_common(plan.config, results, cfg, mgys)
    out["studies"] = [study_row(plan, mgys, created_at)]
    out["samples"], out["study_samples"] = sample_rows(plan, mgys)
    for state in study_states(results, plan, ledger):
        for table, rows in run_rows(plan, state, results, ledger, mgys, cfg).items():
            out[table] += rows
    return out


def pending_study_rows(
    config: StudyConfig, results: Path, ledger: Ledger, cfg: GlobalConfig
) -> Rows:
    """The rows of a study whose ENA metadata could not be fetched yet: a stub study row (no
    title) and its `ena_metadata` events, so that the failure shows in the catalogue."""
    mgys = study_accession(config.accession, ledger)
    out, created_at = _study_common(config, results, cfg, mgys)
    out["studies"] = [
        {
            "accession": mgys,
            "id": int(mgys[4:]),
            "ena_accession": config.accession,
            "ena_accessions": _js([config.accession]),
            "biome": config.biome,
            "created_at": created_at,
            **_visibility(config, None),
        }
    ]
    return out
