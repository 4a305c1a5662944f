"""Job events: what a job writes (record), how everyone reads it (read_events)."""

from __future__ import annotations

import json
import multiprocessing
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest

from mgnify_db.io import read_jsonl
from mgnify_db.jobs import (
    EventKind,
    FailureCause,
    Job,
    JobEvent,
    MemoryPolicy,
    decide,
    events_path,
    read_events,
    record,
)
from mgnify_db.jobs.events import append_event
from mgnify_db.proc import ToolError

STARTED, COMPLETED, FAILED = EventKind.STARTED, EventKind.COMPLETED, EventKind.FAILED
RULE = "assembly_megahit"


@pytest.fixture(autouse=True)
def _no_slurm_env(monkeypatch):
    """Tests may run inside a Slurm job; the current job id must not leak into them."""
    for var in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def path(tmp_path) -> Path:
    return events_path(tmp_path / "jobs", RULE)


def fail_with(job: Job, exc: BaseException) -> None:
    with pytest.raises(type(exc)), record(job):
        raise exc


def test_events_path(tmp_path):
    assert events_path(tmp_path, "qc_fastp") == tmp_path / "qc_fastp.jsonl"


def test_record_success(path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    with record(Job(RULE, path, attempt=2, mem_mb=900, threads=4)) as extra:
        extra |= {"reads": 10, "message": "fine", "event": "bogus", "rule": "other"}
    started, completed = read_events(path)
    assert (started.event, completed.event) == (STARTED, COMPLETED)
    for e in (started, completed):
        assert (e.rule, e.attempt, e.mem_mb, e.threads, e.job_id, e.source) == (
            RULE,
            2,
            900,
            4,
            "42",
            "job",
        )
        assert e.host == socket.gethostname()
        assert e.cause is None
    # the step's extras are kept, but cannot rewrite who ran or what happened
    assert (completed.reads, completed.message) == (10, "fine")
    assert completed.time >= started.time
    # None fields are left out of the line; enums are written as their values
    first = json.loads(path.read_text().splitlines()[0])
    assert first["event"] == "started" and "cause" not in first and "message" not in first


def test_record_failure_is_classified_and_reraised(path):
    job = Job(RULE, path, attempt=1, mem_mb=1000)
    fail_with(job, ValueError("bad input file"))
    fail_with(job, ToolError("megahit failed (exit 1)\n...\n[Exit code -9]", returncode=1))
    fail_with(job, ToolError("fastp: killed", returncode=-9))
    fail_with(job, MemoryError("std::bad_alloc"))
    fail_with(job, ToolError("x" * 2000, returncode=3))
    failed = [e for e in read_events(path) if e.event == FAILED]
    assert [(e.cause, e.message) for e in failed[:4]] == [
        (FailureCause.OTHER, "ValueError: bad input file"),
        (FailureCause.OUT_OF_MEMORY, "[Exit code -9]"),  # the last line of the message
        (FailureCause.OUT_OF_MEMORY, "mgnify_db.proc.ToolError: fastp: killed"),
        (FailureCause.OUT_OF_MEMORY, "MemoryError: std::bad_alloc"),
    ]
    assert failed[4].cause is FailureCause.OTHER and len(failed[4].message) == 500
    assert all(e.attempt == 1 and e.mem_mb == 1000 for e in failed)


def test_interrupt_ends_the_attempt_too(path):
    fail_with(Job(RULE, path, attempt=1), KeyboardInterrupt())
    assert [(e.event, e.message) for e in read_events(path)] == [
        (STARTED, None),
        (FAILED, "KeyboardInterrupt"),
    ]


def test_attempts_are_counted_without_snakemake(path):
    for _ in range(2):
        with record(Job(RULE, path)):
            pass
    fail_with(Job(RULE, path), RuntimeError("x"))
    assert [e.attempt for e in read_events(path) if e.event == STARTED] == [1, 2, 3]


def test_job_id_of_array_tasks_is_the_plugin_log_name(path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "15")
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "12")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")
    with record(Job(RULE, path, attempt=1)):
        pass
    assert {e.job_id for e in read_events(path)} == {"12_1"}


def test_out_of_memory_seen_by_the_job_grows_the_next_attempt(path):
    policy = MemoryPolicy()
    assert decide(read_events(path), 1000, 1, policy).mem_mb == 1000
    fail_with(Job(RULE, path, attempt=1, mem_mb=1000), MemoryError("std::bad_alloc"))
    assert decide(read_events(path), 1000, 2, policy).mem_mb == 1500
    fail_with(Job(RULE, path, attempt=2, mem_mb=1500), ValueError("bad input"))
    assert decide(read_events(path), 1000, 3, policy).mem_mb == 1500  # other: keep


def test_job_of_snakemake():
    resources = {"attempt": 2, "mem_mb": 600, "runtime": 5}
    smk = SimpleNamespace(
        rule="qc_fastp",
        params=SimpleNamespace(jobs="results/x/jobs/qc_fastp.jsonl"),
        resources=resources,
        threads=8,
    )
    assert Job.of(smk) == Job("qc_fastp", Path("results/x/jobs/qc_fastp.jsonl"), 2, 600, 8)
    smk.resources = {}
    assert Job.of(smk).attempt is None and Job.of(smk).mem_mb is None


# ---------------------------------------------------------------------------------- reading


def test_read_events_skips_torn_and_invalid_lines(path):
    assert read_events(path) == []  # missing file
    append_event(path, JobEvent(event=STARTED, rule=RULE, attempt=1, time="2026-01-01T00:00:00"))
    with open(path, "a") as fh:
        fh.write('{"event": "failed", "rule": "x", "cause": "out_of_mem')  # torn by a kill
        fh.write("\nnot json\n[1, 2]\n")
        fh.write('{"event": "exploded", "rule": "x"}\n')  # invalid kind
        fh.write('{"event": "failed", "cause": "bogus"}\n')  # invalid cause
        fh.write('{"event": "started", "rule": "x"}\n')  # no time
        fh.write('{"event": "failed", "job_id": 17, "cause": "timeout", "time": "2026-01-02"}\n')
    events = read_events(path)
    assert [(e.event, e.job_id, e.cause) for e in events] == [
        (STARTED, None, None),
        (FAILED, "17", FailureCause.TIMEOUT),
    ]


def test_read_events_reads_lines_written_before_events_had_a_rule(path):
    """`<rule>.jsonl` lines of the previous format: a `stage`, no `rule`, no `source`."""
    legacy = {
        "event": "failed",
        "stage": "assembly",
        "attempt": 1,
        "mem_mb": 400,
        "threads": 1,
        "job_id": None,
        "host": "n1",
        "time": "2026-01-01T00:00:01.000000+00:00",
        "cause": "out_of_memory",
        "message": "MemoryError",
    }
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(legacy) + "\n")
    (event,) = read_events(path)
    assert (event.rule, event.stage, event.source, event.cause) == (
        RULE,
        "assembly",
        "job",
        FailureCause.OUT_OF_MEMORY,
    )


def test_read_events_sorts_by_time(path):
    """A failure reconciled late carries the time it happened, and is read there."""
    for t, kind in [("02", STARTED), ("04", STARTED), ("03", FAILED), ("01", STARTED)]:
        append_event(path, JobEvent(event=kind, rule=RULE, time=f"2026-01-01T00:00:{t}+00:00"))
    assert [e.time[-8:-6] for e in read_events(path)] == ["01", "02", "03", "04"]


def test_a_job_fails_once(path):
    """Slurm-log failures of a job that failed by itself, or found twice, are dropped."""

    def add(event: EventKind, job_id: str, source: str = "job", t: int = 0) -> None:
        append_event(
            path,
            JobEvent(
                event=event, rule=RULE, job_id=job_id, source=source, time=f"2026-01-01T00:0{t}"
            ),
        )

    add(STARTED, "1", t=1)
    add(FAILED, "1", "slurm_log", t=3)
    add(FAILED, "1", t=2)  # the job's own, found first in time
    add(STARTED, "2", t=4)
    add(FAILED, "2", "slurm_log", t=5)
    add(FAILED, "2", "slurm_log", t=6)  # two reconcilers raced
    events = read_events(path)
    assert [(e.event, e.job_id, e.source) for e in events] == [
        (STARTED, "1", "job"),
        (FAILED, "1", "job"),
        (STARTED, "2", "job"),
        (FAILED, "2", "slurm_log"),
    ]
    assert events[-1].time.endswith("05")


# ------------------------------------------------------------------------------ concurrency

N_EVENTS = 150
PAYLOAD = "x" * 20_000  # larger than a pipe buffer: one write() alone would not be atomic


def _writer(path: str, who: str) -> None:
    for i in range(N_EVENTS):
        append_event(
            Path(path), JobEvent(event=STARTED, rule=RULE, job_id=f"{who}{i}", pad=PAYLOAD)
        )


def _recorder(path: str) -> None:
    for _ in range(20):
        with record(Job(RULE, Path(path), attempt=1)) as extra:
            extra["pad"] = PAYLOAD


def test_concurrent_writers_never_interleave(path):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(path), w)) for w in "ab"]
    procs += [ctx.Process(target=_recorder, args=(str(path),)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    lines = path.read_text().splitlines()
    assert len(lines) == 2 * N_EVENTS + 2 * 20 * 2
    assert len(read_jsonl(path)) == len(lines)  # every line is whole JSON
    events = read_events(path)
    assert len(events) == len(lines)
    assert {e.job_id for e in events if e.job_id} == {f"{w}{i}" for w in "ab" for i in range(150)}
