"""The state of a study's runs and records, derived from its plan, result files and job events.

Pure reading: nothing here writes. The catalogue's rows are made from these states
(mgnify_db.catalogue.rows), so they are a function of the files alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .config import RUN_ACCESSION
from .ena.eligibility import Decision
from .ids import AccessionKind, Ledger
from .io import read_json
from .jobs import EventKind, JobEvent, events_path, read_events
from .models import Status
from .paths import StudyPaths
from .pipelines import PIPELINES, RUN_RULES, Pipeline
from .plan import StudyPlan


@dataclass
class RecordState:
    """One assembly or analysis of a run, by one pipeline."""

    kind: AccessionKind
    pipeline: Pipeline
    key: str  # ledger key
    status: Status
    reason: str | None = None
    result: dict | None = None
    job_id: str | None = None
    suppressed: str | None = None  # why the record is no longer current (None: it is)
    assembler: str | None = None  # an assembly's assembler (its results' folder)


@dataclass
class RunState:
    run: str
    decision: Decision
    status: Status
    reason: str | None = None
    qc: dict | None = None
    job_id: str | None = None
    events: list[JobEvent] = field(default_factory=list)
    records: list[RecordState] = field(default_factory=list)
    suppressed: str | None = None
    # a co-assembly's state (`run` is its name), with the runs it is assembled from (none
    # when it is no longer made)
    coassembly: bool = False
    members: tuple[str, ...] = ()


def run_rules(pipelines: list[Pipeline]) -> list[str]:
    rules = list(RUN_RULES)
    for p in pipelines:
        rules += [r for r in p.rules if r not in rules]
    return rules


def run_events(paths: StudyPaths, run: str) -> list[JobEvent]:
    """Every job event of a run (of every rule any pipeline has), oldest first."""
    jobs_dir = paths.path("jobs", run)
    events: list[JobEvent] = []
    for rule in run_rules(list(PIPELINES.values())):
        events += read_events(events_path(jobs_dir, rule))
    return sorted(events, key=lambda e: e.time or "")


def _last(events: list[JobEvent], rules: tuple[str, ...] | list[str]) -> list[JobEvent]:
    """The latest event of each of `rules` (events are in time order)."""
    last: dict[str, JobEvent] = {}
    for e in events:
        if e.rule in rules:
            last[e.rule] = e
    return list(last.values())


def _job_id(events: list[JobEvent], rules) -> str | None:
    started = [e for e in events if e.rule in rules and e.event == EventKind.STARTED]
    return started[-1].job_id if started else None


def _from_events(events: list[JobEvent], rules) -> tuple[Status, str | None]:
    last = _last(events, rules)
    if failed := [e for e in last if e.event == EventKind.FAILED]:
        return Status.FAILED, f"{failed[-1].rule}: {failed[-1].message}"
    if any(e.event == EventKind.STARTED for e in last):
        return Status.RUNNING, None
    return Status.PENDING, None


def _records(
    paths: StudyPaths,
    run: str,
    pipeline: Pipeline,
    events: list[JobEvent],
    suppressed: str | None,
    ledger: Ledger | None,
    *,
    known_only: bool = False,
    assembler: str | None = None,
    unit_key: str | None = None,
) -> list[RecordState]:
    """The pipeline's records for a run, its assembly by `assembler` (default: the pipeline's
    first). Suppressed ones (and, with `known_only`, all) only if they were ever allocated: a
    record with an accession never disappears. An assembly by another assembler that was
    made once (the study's assembler changed) is kept, suppressed. `unit_key` names the unit
    in the ledger (default: the run; a co-assembly's is `<study>/<name>`)."""
    unit_key = unit_key or run
    assembler = assembler or (pipeline.assemblers[0] if pipeline.assemblers else None)
    out: list[RecordState] = []
    done: dict[AccessionKind, bool] = {}
    gate_failed: dict[AccessionKind, str] = {}
    for spec in pipeline.records:
        key = pipeline.key(unit_key, spec.kind, assembler)
        if (suppressed is not None or known_only) and (
            ledger is None or ledger.get(spec.kind, key) is None
        ):
            continue
        rules = pipeline.rules_for(spec, assembler)
        result = _results(paths, run, spec.results, assembler)
        if spec.after is not None and spec.after in gate_failed:
            status, reason = Status.QC_FAILED, gate_failed[spec.after]
        elif spec.after is not None and not done.get(spec.after):
            status, reason = Status.PENDING, None  # a result older than what it needs is stale
        elif result is not None and (failed := _failed_gate(result)):
            status, reason = Status.QC_FAILED, failed
        elif result is not None:
            status, reason = Status.COMPLETED, None
        else:
            status, reason = _from_events(events, rules)
        done[spec.kind] = status == Status.COMPLETED
        if status == Status.QC_FAILED:
            gate_failed[spec.kind] = f"{spec.kind.name.lower()} failed QC: {reason}"
        out.append(
            RecordState(
                spec.kind,
                pipeline,
                key,
                status,
                reason,
                result,
                _job_id(events, rules),
                suppressed,
                assembler if spec.kind == AccessionKind.ASSEMBLY else None,
            )
        )
    spec = pipeline.record(AccessionKind.ASSEMBLY)
    for other in pipeline.assemblers if spec is not None and ledger is not None else ():
        key = pipeline.key(unit_key, AccessionKind.ASSEMBLY, other)
        if other == assembler or ledger.get(AccessionKind.ASSEMBLY, key) is None:
            continue
        rules = pipeline.rules_for(spec, other)
        result = _results(paths, run, spec.results, other)
        status, reason = (
            (Status.COMPLETED, None) if result is not None else _from_events(events, rules)
        )
        why = suppressed or f"the study's assembler is now {assembler}"
        job = _job_id(events, rules)
        out.append(RecordState(spec.kind, pipeline, key, status, reason, result, job, why, other))
    return out


def _results(
    paths: StudyPaths, run: str, names: tuple[str, ...], assembler: str | None
) -> dict | None:
    """A record's result files ({path name: parsed JSON}), or None while one is missing or
    says its step short-circuited after a failed gate."""
    found = {name: read_json(paths.path(name, run, assembler=assembler or "")) for name in names}
    if any(d is None or d.get("gated") for d in found.values()):
        return None
    return found


def _failed_gate(result: dict) -> str | None:
    """Why a record's own QC gate failed (e.g. an assembly with too few contigs), or None."""
    for data in result.values():
        if isinstance(data, dict) and data.get("passed") is False:
            return str(data.get("reason") or "failed its QC gate")
    return None


def run_state(
    paths: StudyPaths, plan: StudyPlan, run: str, ledger: Ledger | None = None
) -> RunState:
    """A run's state; with a ledger, also the records it once had and no longer should."""
    decision = plan.decisions[run]
    assembler = plan.assembler(run)
    wanted = [PIPELINES[a] for a in plan.pipelines(run)]
    others = [p for p in PIPELINES.values() if p not in wanted]

    def records(p: Pipeline, events: list[JobEvent], why: str | None, **kw) -> list:
        return _records(paths, run, p, events, why, ledger, assembler=assembler, **kw)

    if not decision.eligible:
        state = RunState(run, decision, Status.SKIPPED, decision.reason)
        state.events = run_events(paths, run)
        for p in PIPELINES.values():
            state.records += records(p, state.events, f"run skipped: {decision.reason}")
        return state
    events = run_events(paths, run)
    qc = run_qc(paths, run)
    state = RunState(run, decision, Status.PENDING, qc=qc, events=events)
    state.job_id = _job_id(events, tuple(RUN_RULES))
    for p in others:
        state.records += records(p, events, plan.not_taken(p.name, run))
    if qc is None:
        state.status, state.reason = _from_events(events, tuple(RUN_RULES))
        for p in wanted:  # e.g. QC being redone: records already allocated stay
            state.records += records(p, events, None, known_only=True)
        return state
    if not qc.get("passed"):
        state.status, state.reason = Status.QC_FAILED, qc.get("reason")
        for p in wanted:
            state.records += records(p, events, f"run failed QC: {qc.get('reason')}")
        return state
    state.status = Status.COMPLETED
    for p in wanted:
        state.records += records(p, events, None)
    return state


def run_qc(paths: StudyPaths, run: str) -> dict | None:
    """The run's QC: fastp's summary (qc.json) and, when the run was decontaminated, the reads
    removed and kept under `decontamination`; its gates decide `passed` and `reason`."""
    qc = read_json(paths.path("qc_json", run))
    decon = read_json(paths.path("decontamination_json", run))
    if qc is None or not qc.get("passed") or not decon or decon.get("gated"):
        return qc
    return {
        **qc,
        "decontamination": decon,
        "passed": decon.get("passed"),
        "reason": decon.get("reason"),
    }


def withdrawn_run_state(paths: StudyPaths, run: str, ledger: Ledger | None) -> RunState:
    """A run ENA no longer lists: kept, suppressed, with whatever records it had."""
    reason = "no longer listed by ENA"
    state = RunState(
        run,
        Decision(run_accession=run, eligible=False, reason=reason),
        Status.SKIPPED,
        reason,
        suppressed=reason,
    )
    state.events = run_events(paths, run)
    for p in PIPELINES.values():
        state.records += _records(paths, run, p, state.events, f"run {reason}", ledger)
    return state


def coassembly_key(plan: StudyPlan, name: str) -> str:
    """A co-assembly's unit in the ledger (names are the study's own: the study is in it)."""
    return f"{plan.accession}/{name}"


def coassembly_state(
    paths: StudyPaths, plan: StudyPlan, name: str, ledger: Ledger | None = None
) -> RunState:
    """A co-assembly's state: pending until each of its runs has its QC, failed QC when none
    passed; a co-assembly no longer made (gone from the config, or none of its runs processed
    any more) keeps the records it had, suppressed."""
    members = tuple(plan.coassemblies.get(name, ()))
    events = run_events(paths, name)
    decision = Decision(run_accession=name, eligible=bool(members))
    state = RunState(
        name, decision, Status.PENDING, events=events, coassembly=True, members=members
    )
    wanted = [PIPELINES[a] for a in plan.pipelines(name)] if members else []
    assembler = plan.assembler(name) if members else None

    def records(p: Pipeline, why: str | None, **kw) -> list[RecordState]:
        key = coassembly_key(plan, name)
        return _records(
            paths, name, p, events, why, ledger, assembler=assembler, unit_key=key, **kw
        )

    if not members:
        why = (
            "none of the co-assembly's runs is processed"
            if name in plan.config.coassemblies
            else "the co-assembly is no longer in the study's config"
        )
        state.status, state.reason, state.suppressed = Status.SKIPPED, why, why
        for p in PIPELINES.values():
            state.records += records(p, why)
        return state
    for p in PIPELINES.values():
        if p not in wanted:
            state.records += records(p, plan.not_taken(p.name, name))
    qcs = {r: run_qc(paths, r) for r in members}
    if any(qc is None for qc in qcs.values()):
        state.status, state.reason = _from_events(events, ())
        for p in wanted:
            state.records += records(p, None, known_only=True)
        return state
    if not any(qc.get("passed") for qc in qcs.values()):
        state.status, state.reason = Status.QC_FAILED, "no run of the co-assembly passed QC"
        for p in wanted:
            state.records += records(p, state.reason)
        return state
    state.status = Status.COMPLETED
    for p in wanted:
        state.records += records(p, None)
    return state


def former_coassemblies(paths: StudyPaths, plan: StudyPlan) -> list[str]:
    """Co-assemblies with results that the plan no longer makes (names outside the config's,
    or whose runs are all excluded)."""
    found = (d.name for d in paths.path("runs").glob("*/") if not RUN_ACCESSION.match(d.name))
    return sorted(n for n in found if n not in plan.coassemblies)


def study_states(
    results: Path, plan: StudyPlan, ledger: Ledger | None, runs: list[str] | None = None
) -> list[RunState]:
    """Every run's state (or `runs`'), then every co-assembly's (with `runs` = None)."""
    paths = StudyPaths(Path(results), plan.accession)
    wanted = plan.decisions if runs is None else [r for r in runs if r in plan.decisions]
    states = [run_state(paths, plan, r, ledger) for r in wanted]
    if runs is None:
        states += [
            withdrawn_run_state(paths, r.run_accession, ledger)
            for r in plan.metadata.withdrawn_runs
        ]
        for name in [*plan.coassemblies, *former_coassemblies(paths, plan)]:
            states.append(coassembly_state(paths, plan, name, ledger))
    return states
