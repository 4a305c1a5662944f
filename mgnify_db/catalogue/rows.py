"""Catalogue rows from a study's plan, result files and job events: pure, apart from allocation.

`study_rows` gives every row a study owns; `run_rows` the rows of one run. Loading either twice,
or rebuilding from the files, gives the same rows.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from ..config import GlobalConfig, StudyConfig
from ..ids import AccessionKind, Ledger, accession
from ..jobs import JobEvent, MemoryPolicy, memory_events, read_events
from ..models import EXPERIMENT_TYPE_LABELS, Status
from ..paths import StudyPaths
from ..plan import StudyPlan
from ..state import RecordState, RunState, study_states
from .schema import TABLES

Rows = dict[str, list[dict]]


def empty() -> Rows:
    return {t: [] for t in TABLES}


def biome_path(lineage: str) -> str:
    """`root:Host-associated:Human` -> `root.host_associated.human` (MGnify's ltree labels)."""
    s = lineage.lower().encode("ascii", "ignore").decode().replace(":", ".")
    s = re.sub(r"[ ()\-]", "_", s)
    s = re.sub(r"_+", "_", s)
    s = re.sub(r"[^a-z0-9._]", "", s)
    return ".".join(part.strip("_") for part in s.split(".")).strip("._")


def biome_rows(lineage: str) -> list[dict]:
    parts = lineage.split(":")
    return [
        {
            "lineage": ":".join(parts[:depth]),
            "name": parts[depth - 1],
            "path": biome_path(":".join(parts[:depth])),
            "depth": depth,
            "parent": ":".join(parts[: depth - 1]) or None,
        }
        for depth in range(1, len(parts) + 1)
    ]


def study_accession(ena_accession: str, ledger: Ledger) -> str:
    """A study's MGYS, allocated once for its ENA accession."""
    return accession(AccessionKind.STUDY, ledger.allocate(AccessionKind.STUDY, ena_accession))


def _suppression(reason: str | None) -> dict:
    return {"is_suppressed": int(reason is not None), "suppression_reason": reason}


def sample_rows(plan: StudyPlan, mgys: str) -> list[dict]:
    withdrawn = [(s, "no longer listed by ENA") for s in plan.metadata.withdrawn_samples]
    return [
        {
            "accession": s.sample_accession,
            "secondary_accession": s.secondary_sample_accession,
            "study": mgys,
            "title": s.sample_title,
            "scientific_name": s.scientific_name,
            "tax_id": s.tax_id,
            "latitude": s.lat,
            "longitude": s.lon,
            "collection_date": s.collection_date,
            "country": s.country,
            "location": s.location,
            "environment_biome": s.environment_biome,
            "environment_feature": s.environment_feature,
            "environment_material": s.environment_material,
            "metadata": json.dumps(s.model_dump(exclude_none=True), sort_keys=True),
            **_suppression(reason),
        }
        for s, reason in [(s, None) for s in plan.metadata.samples] + withdrawn
    ]


def _event_id(e: dict) -> str:
    fields = ("study", "run", "rule", "event", "attempt", "time", "job_id")
    key = "|".join(str(e.get(k)) for k in fields)
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def event_rows(events: list[JobEvent], mgys: str, run: str, policy: MemoryPolicy) -> list[dict]:
    rows = []
    for e in events:
        rows.append(
            {
                "time": e.time,
                "study": mgys,
                "run": run,
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


def run_rows(
    plan: StudyPlan,
    state: RunState,
    results: Path,
    ledger: Ledger,
    mgys: str,
    policy: MemoryPolicy,
) -> Rows:
    """The rows of one run: the run, its assemblies, analyses, downloads and job events."""
    out = empty()
    paths = StudyPaths(Path(results), plan.accession)
    d, qc = state.decision, state.qc or {}
    r = plan.runs.get(state.run) or next(
        w for w in plan.metadata.withdrawn_runs if w.run_accession == state.run
    )
    out["runs"].append(
        {
            "accession": state.run,
            "study": mgys,
            "sample": r.sample_accession,
            "experiment_type": EXPERIMENT_TYPE_LABELS[d.experiment_type] if d.eligible else None,
            "library_strategy": r.library_strategy,
            "library_source": r.library_source,
            "library_layout": r.library_layout,
            "inferred_layout": d.layout if d.layout and d.layout != r.library_layout else None,
            "instrument_platform": r.instrument_platform,
            "instrument_model": r.instrument_model,
            "read_count": r.read_count,
            "base_count": r.base_count,
            "status": str(state.status),
            "status_reason": state.reason,
            "job_id": state.job_id,
            "qc_reads_before": qc.get("reads_before"),
            "qc_reads_after": qc.get("reads_after"),
            "qc_bases_after": qc.get("bases_after"),
            "qc_q30_rate": qc.get("q30_rate_after"),
            "qc_filtered_fraction": qc.get("filtered_fraction"),
            "fastq": json.dumps([f.url for f in r.fastq_files]),
            **_suppression(state.suppressed),
        }
    )
    out["events"] = event_rows(state.events, mgys, state.run, policy)
    # Allocation in a fixed order (assemblies first) keeps accessions stable across loaders.
    by_pipeline: dict[str, dict[AccessionKind, RecordState]] = {}
    for rec in state.records:
        by_pipeline.setdefault(rec.pipeline.name, {})[rec.kind] = rec
    for records in by_pipeline.values():
        asm = records.get(AccessionKind.ASSEMBLY)
        asm_acc = None
        if asm is not None:
            number = ledger.allocate(AccessionKind.ASSEMBLY, asm.key)
            asm_acc = accession(AccessionKind.ASSEMBLY, number)
            spec = asm.pipeline.record(AccessionKind.ASSEMBLY)
            out["assemblies"].append(
                {
                    "accession": asm_acc,
                    "id": number,
                    "ena_accession": None,
                    "run": state.run,
                    "study": mgys,
                    "sample": r.sample_accession,
                    "pipeline": asm.pipeline.name,
                    "assembler": asm.pipeline.tool,
                    "status": str(asm.status),
                    "status_reason": asm.reason,
                    "job_id": asm.job_id,
                    **spec.columns(asm.result or {}),
                    **_suppression(asm.suppressed),
                }
            )
        ana = records.get(AccessionKind.ANALYSIS)
        mgya = None
        if ana is not None:
            number = ledger.allocate(AccessionKind.ANALYSIS, ana.key)
            mgya = accession(AccessionKind.ANALYSIS, number)
            spec = ana.pipeline.record(AccessionKind.ANALYSIS)
            out["analyses"].append(
                {
                    "accession": mgya,
                    "id": number,
                    "study": mgys,
                    "sample": r.sample_accession,
                    "run": state.run,
                    "assembly": asm_acc,
                    "experiment_type": EXPERIMENT_TYPE_LABELS[d.experiment_type]
                    if d.eligible
                    else None,
                    "pipeline": ana.pipeline.name,
                    "status": str(ana.status),
                    "status_reason": ana.reason,
                    "job_id": ana.job_id,
                    **spec.columns(ana.result or {}),
                    **_suppression(ana.suppressed),
                }
            )
        pipeline = (asm or ana).pipeline
        owners = {AccessionKind.ASSEMBLY: (asm, asm_acc), AccessionKind.ANALYSIS: (ana, mgya)}
        for dl in pipeline.downloads:
            rec, acc = owners[dl.owner]
            if rec is None or rec.status != Status.COMPLETED:
                continue
            p = paths.path(dl.path, state.run)
            if not p.exists():
                continue
            alias = dl.alias.format(run=state.run, accession=acc)
            out["downloads"].append(
                {
                    "id": f"{acc}/{alias}",
                    "study": mgys,
                    "assembly": acc if dl.owner == AccessionKind.ASSEMBLY else None,
                    "analysis": acc if dl.owner == AccessionKind.ANALYSIS else None,
                    "alias": alias,
                    "path": paths.rel(dl.path, state.run),
                    "file_type": dl.file_type,
                    "download_type": dl.download_type,
                    "download_group": dl.download_group,
                    "description": dl.description,
                    "size_bytes": p.stat().st_size,
                    **_suppression(rec.suppressed),
                }
            )
    return out


def study_row(plan: StudyPlan, mgys: str) -> dict:
    ena = plan.metadata.study
    missing = plan.metadata.missing_fields
    return {
        "accession": mgys,
        "id": int(mgys[4:]),
        "ena_accession": ena.accession,
        "secondary_accessions": json.dumps(ena.secondary_accessions),
        "title": ena.study_title,
        "abstract": ena.study_description,
        "center_name": ena.center_name,
        "biome": plan.config.biome,
        "is_private": int(plan.config.is_private),
        "first_public": ena.first_public,
        "ena_missing_fields": json.dumps(missing) if missing else None,
    }


def study_rows(plan: StudyPlan, results: Path, ledger: Ledger, cfg: GlobalConfig) -> Rows:
    """Every row the study owns, from its plan, files and ledger."""
    mgys = study_accession(plan.accession, ledger)
    out = empty()
    out["biomes"] = biome_rows(plan.config.biome)
    out["studies"] = [study_row(plan, mgys)]
    out["samples"] = sample_rows(plan, mgys)
    study_jobs = StudyPaths(Path(results), plan.accession).path("study_jobs")
    study_events = [e for f in sorted(study_jobs.glob("*.jsonl")) for e in read_events(f)]
    out["events"] += event_rows(study_events, mgys, None, cfg.memory)
    for state in study_states(results, plan, ledger):
        for table, rows in run_rows(plan, state, results, ledger, mgys, cfg.memory).items():
            out[table] += rows
    return out


def pending_study_rows(
    config: StudyConfig, results: Path, ledger: Ledger, cfg: GlobalConfig
) -> Rows:
    """The rows of a study whose ENA metadata could not be fetched yet: a stub study row (no
    title) and its `ena_metadata` events, so that the failure shows in the catalogue."""
    mgys = study_accession(config.accession, ledger)
    out = empty()
    out["biomes"] = biome_rows(config.biome)
    out["studies"] = [
        {
            "accession": mgys,
            "id": int(mgys[4:]),
            "ena_accession": config.accession,
            "secondary_accessions": "[]",
            "biome": config.biome,
            "is_private": int(config.is_private),
        }
    ]
    study_jobs = StudyPaths(Path(results), config.accession).path("study_jobs")
    events = [e for f in sorted(study_jobs.glob("*.jsonl")) for e in read_events(f)]
    out["events"] = event_rows(events, mgys, None, cfg.memory)
    return out
