"""The results tree (the source of truth) and the catalogue records derived from it.

Every catalogue row is a pure function of the files under `results/`, so loading twice changes
nothing and `mgnify-db catalogue rebuild` gives the same rows.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .config import StudyConfig
from .eligibility import Decision, decide_all
from .ena import StudyMetadata
from .models import Status

# One pattern per file kind; the Snakemake rules use the same patterns (common.smk).
PATTERNS = {
    "study_config": "{results}/studies/{study}/study.json",
    "ena": "{results}/studies/{study}/ena.json",
    "raw": "{results}/studies/{study}/runs/{run}/raw",
    "qc": "{results}/studies/{study}/runs/{run}/qc",
    "assembly_dir": "{results}/studies/{study}/runs/{run}/assembly",
    "contigs": "{results}/studies/{study}/runs/{run}/assembly/contigs.fa.gz",
    "assembly": "{results}/studies/{study}/runs/{run}/assembly/assembly.json",
    "cds_faa": "{results}/studies/{study}/runs/{run}/analysis/cds.faa",
    "cds_gff": "{results}/studies/{study}/runs/{run}/analysis/cds.gff",
    "rrna_gff": "{results}/studies/{study}/runs/{run}/analysis/rrna.gff",
    "rrna_counts": "{results}/studies/{study}/runs/{run}/analysis/rrna.json",
    "analysis": "{results}/studies/{study}/runs/{run}/analysis/analysis.json",
    "jobs": "{results}/studies/{study}/runs/{run}/jobs",
    "study_jobs": "{results}/studies/{study}/jobs",
    "loaded_study": "{results}/studies/{study}/loaded/study.json",
    "loaded_run": "{results}/studies/{study}/loaded/{run}.json",
    # the Slurm plugin's job logs: profiles/slurm sets `slurm-logdir` to this
    "slurm_logs": "{results}/logs/slurm",
    "log": "{results}/logs/{rule}/{study}/{run}.log",
    "benchmark": "{results}/benchmarks/{rule}/{study}/{run}.tsv",
}
ASSEMBLER = "megahit"
ANALYSIS_PIPELINE = "assembly"


def pattern(name: str, results: str | Path) -> str:
    """A path pattern with `{study}`/`{run}` left as Snakemake wildcards."""
    return PATTERNS[name].replace("{results}", str(results))


@dataclass
class StudyPaths:
    results: Path
    study: str

    def path(self, name: str, run: str = "") -> Path:
        return Path(PATTERNS[name].format(results=self.results, study=self.study, run=run))

    def qc_json(self, run: str) -> Path:
        return self.path("qc", run) / "qc.json"


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def write_json(path: Path, data) -> None:
    """Write atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")
    tmp.replace(path)


RULE_STAGE = {
    "ena_download": "download",
    "qc_fastp": "qc",
    "assembly_megahit": "assembly",
    "analysis_cds": "cds",
    "analysis_rrna": "rrna",
}


def _jsonl(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a kill is not an event
    return out


def job_records(
    jobs_dir: Path, slurm_logs: Path | None = None, wildcards: dict | None = None
) -> list[dict]:
    """Every attempt event of a run's jobs, oldest first.

    From `<rule>.jsonl` (written by the job: started, completed, failed), `<rule>.memory.jsonl`
    (mgnify_db.resources: memory decisions, failures found in Slurm logs) and, for a job that
    started and never ended, its Slurm log: OverMemoryKill leaves its message only there.
    """
    out: list[dict] = []
    for rule, stage in RULE_STAGE.items():
        own = _jsonl(jobs_dir / f"{rule}.jsonl")
        ended = {r.get("job_id") for r in own if r.get("event") == "failed" and r.get("job_id")}
        extra = []
        for rec in _jsonl(jobs_dir / f"{rule}.memory.jsonl"):
            common = {
                "stage": stage,
                "attempt": rec.get("attempt"),
                "time": rec.get("time"),
                "mem_mb": rec.get("mem_mb"),
                "job_id": rec.get("job_id"),
            }
            if rec.get("kind") == "decision":
                extra.append({**common, "event": "memory", "message": rec.get("reason")})
            elif rec.get("source") != "local" and rec.get("job_id") not in ended:
                # local failures were written by the job itself into `own` as well
                ended.add(rec.get("job_id"))
                extra.append(
                    {
                        **common,
                        "event": "failed",
                        "cause": rec.get("cause"),
                        "message": rec.get("message"),
                    }
                )
        records = sorted(own + extra, key=lambda r: r.get("time") or "")
        last = next((r for r in reversed(records) if r.get("event") != "memory"), None)
        if (
            slurm_logs
            and last
            and last.get("event") == "started"
            and last.get("job_id")
            and last["job_id"] not in ended
        ):
            if killed := _slurm_failure(slurm_logs, rule, wildcards or {}, last):
                records.append(killed)
        out += records
    return sorted(out, key=lambda r: r.get("time") or "")


def _slurm_failure(slurm_logs: Path, rule: str, wildcards: dict, started: dict) -> dict | None:
    """A failure event for a job whose Slurm log says it failed (read-only)."""
    from .resources import slurm_log_failure

    failure = slurm_log_failure(slurm_logs, rule, wildcards, started["job_id"])
    if failure is None:
        return None
    return {
        **started,
        "event": "failed",
        "cause": str(failure.cause),
        "message": failure.message,
        "time": failure.time,
    }


@dataclass
class RunState:
    run: str
    decision: Decision
    status: Status
    reason: str | None = None
    qc: dict | None = None
    assembly: dict | None = None
    assembly_status: Status | None = None
    assembly_reason: str | None = None
    analysis: dict | None = None
    analysis_status: Status | None = None
    analysis_reason: str | None = None
    jobs: list[dict] = field(default_factory=list)
    job_id: str | None = None
    assembly_job_id: str | None = None
    analysis_job_id: str | None = None


def run_state(paths: StudyPaths, decision: Decision) -> RunState:
    run = decision.run_accession
    if not decision.eligible:
        return RunState(run, decision, Status.SKIPPED, decision.reason)
    jobs = job_records(
        paths.path("jobs", run),
        paths.path("slurm_logs"),
        {"study": paths.study, "run": run},
    )
    qc = read_json(paths.qc_json(run))
    state = RunState(run, decision, Status.PENDING, qc=qc, jobs=jobs)
    state.job_id = last_job_id(jobs, "download", "qc")
    if qc is None:
        state.status, state.reason = _stage_status(None, jobs, "download", "qc")
        return state
    if not qc.get("passed"):
        state.status, state.reason = Status.QC_FAILED, qc.get("reason")
        return state
    state.status = Status.COMPLETED
    state.assembly = read_json(paths.path("assembly", run))
    state.assembly_status, state.assembly_reason = _stage_status(state.assembly, jobs, "assembly")
    state.assembly_job_id = last_job_id(jobs, "assembly")
    state.analysis = read_json(paths.path("analysis", run))
    state.analysis_job_id = last_job_id(jobs, "cds", "rrna")
    if state.assembly_status == Status.COMPLETED:
        state.analysis_status, state.analysis_reason = _stage_status(
            state.analysis, jobs, "cds", "rrna"
        )
    else:
        state.analysis_status = Status.PENDING
    return state


def _last_events(jobs: list[dict], stages: tuple[str, ...]) -> list[dict]:
    """The latest started/failed/completed event of each stage (jobs are in time order)."""
    last: dict[str, dict] = {}
    for j in jobs:
        if j.get("stage") in stages and j.get("event") in {"started", "failed", "completed"}:
            last[j["stage"]] = j
    return list(last.values())


def last_job_id(jobs: list[dict], *stages: str) -> str | None:
    started = [j for j in jobs if j.get("stage") in stages and j.get("event") == "started"]
    return started[-1].get("job_id") if started else None


def _stage_status(result: dict | None, jobs: list[dict], *stages: str) -> tuple[Status, str | None]:
    if result is not None:
        return Status.COMPLETED, None
    last = _last_events(jobs, stages)
    if failed := [j for j in last if j["event"] == "failed"]:
        return Status.FAILED, f"{failed[-1]['stage']}: {failed[-1].get('message')}"
    if any(j["event"] == "started" for j in last):
        return Status.RUNNING, None
    return Status.PENDING, None


@dataclass
class StudyState:
    config: StudyConfig
    metadata: StudyMetadata
    runs: list[RunState]


def study_state(results: Path, study: str, runs: list[str] | None = None) -> StudyState:
    """Everything known about a study from its result files (optionally only some runs)."""
    paths = StudyPaths(results, study)
    cfg_data = read_json(paths.path("study_config"))
    meta_data = read_json(paths.path("ena"))
    if cfg_data is None or meta_data is None:
        raise FileNotFoundError(f"{paths.path('ena').parent}: study.json or ena.json missing")
    config = StudyConfig.model_validate(cfg_data)
    metadata = StudyMetadata.model_validate(meta_data)
    decisions = decide_all(metadata.runs, config)
    wanted = set(runs) if runs is not None else None
    states = [run_state(paths, d) for d in decisions if wanted is None or d.run_accession in wanted]
    return StudyState(config, metadata, states)


def studies_in(results: Path) -> list[str]:
    return sorted(p.parent.name for p in (results / "studies").glob("*/ena.json"))
