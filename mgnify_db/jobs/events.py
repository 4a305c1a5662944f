"""Job events: one JSON-lines file per job, `<jobs_dir>/<rule>.jsonl`, one line per event.

A rule script wraps its work in :func:`record`, which appends ``started``, then ``completed`` or
``failed`` (with a classified cause). A job that Slurm kills (OverMemoryKill, time limit) cannot
write its own ``failed``: :func:`mgnify_db.jobs.slurm.reconcile_slurm` appends it from the Slurm
plugin's log (``source="slurm_log"``). Nothing else writes these files, and readers never look
at Slurm logs: the memory decision and the catalogue both read the same events.

Lines are appended under a lock (:func:`mgnify_db.io.append_jsonl`), so concurrent writers
never interleave. Readers skip torn lines (a job killed mid-write) and sort by time: a failure
reconciled late is stamped with the time its Slurm log was last written, not the time it was
found.
"""

from __future__ import annotations

import os
import socket
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..io import append_jsonl, now, read_jsonl
from .failures import FailureCause, classify_failure

__all__ = [
    "EventKind",
    "Job",
    "JobEvent",
    "MESSAGE_MAX_CHARS",
    "SOURCE_JOB",
    "SOURCE_SLURM_LOG",
    "append_event",
    "current_job_id",
    "events_path",
    "read_events",
    "record",
]

MESSAGE_MAX_CHARS = 500
SOURCE_JOB = "job"
SOURCE_SLURM_LOG = "slurm_log"


class EventKind(StrEnum):
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"


class JobEvent(BaseModel):
    """One line of a job's events file. Steps may add fields (e.g. read counts) to `completed`."""

    # Numbers in job_id (a hand-written line) become strings rather than dropping the line.
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    event: EventKind
    rule: str
    attempt: int | None = None
    time: str = Field(default_factory=now)
    mem_mb: int | None = None
    threads: int | None = None
    job_id: str | None = None
    host: str | None = None
    cause: FailureCause | None = None
    message: str | None = None
    source: str = SOURCE_JOB  # "job" (the job wrote it) or "slurm_log" (reconcile_slurm did)

    @property
    def ended(self) -> bool:
        return self.event in (EventKind.COMPLETED, EventKind.FAILED)

    def as_record(self) -> dict[str, Any]:
        """The JSON line's content (None fields left out; extra fields kept)."""
        return self.model_dump(exclude_none=True)


def events_path(jobs_dir: Path, rule: str) -> Path:
    return Path(jobs_dir) / f"{rule}.jsonl"


def append_event(path: Path, event: JobEvent) -> None:
    append_jsonl(Path(path), event.as_record())


def _timestamp(value: str) -> float:
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return 0.0
    if when.tzinfo is None:  # our times are UTC; a hand-written naive one is taken as UTC
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def read_events(path: Path) -> list[JobEvent]:
    """The events of one job file, oldest first. Missing file -> []; torn or invalid lines skipped.

    Lines without a ``rule`` (written before events had one) take it from the file name; lines
    without a ``time`` are invalid. A job id fails once: a ``slurm_log`` failure of a job that
    recorded its own failure (or a second one, from two reconcilers racing) is dropped.
    """
    path = Path(path)
    rule = path.name.removesuffix(".jsonl")
    events: list[JobEvent] = []
    for data in read_jsonl(path):
        if "time" not in data:
            continue  # the default (now) would make reading depend on when one reads
        data.setdefault("rule", rule)
        try:
            events.append(JobEvent.model_validate(data))
        except ValidationError:
            continue  # a hand-edited or foreign line must not break scheduling or loading
    events.sort(key=lambda e: _timestamp(e.time))  # stable: equal times keep file order
    return _one_failure_per_job(events)


def _one_failure_per_job(events: list[JobEvent]) -> list[JobEvent]:
    own = {e.job_id for e in events if e.event == EventKind.FAILED and e.source != SOURCE_SLURM_LOG}
    seen: set[str] = set()
    out = []
    for e in events:
        if e.event == EventKind.FAILED and e.job_id and e.source == SOURCE_SLURM_LOG:
            if e.job_id in own or e.job_id in seen:
                continue
            seen.add(e.job_id)
        out.append(e)
    return out


def current_job_id() -> str | None:
    """The Slurm job we run in, as the plugin names its log: `<array>_<task>` for array tasks."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID") or None


@dataclass
class Job:
    """Who is running: the rule, its events file and the attempt's resources (from Snakemake)."""

    rule: str
    events: Path
    attempt: int | None = None
    mem_mb: int | None = None
    threads: int | None = None

    @classmethod
    def of(cls, smk: Any) -> Job:
        """From a rule script's `snakemake` object (rule, params.jobs, resources, threads)."""
        res = smk.resources
        return cls(
            smk.rule, Path(smk.params.jobs), res.get("attempt"), res.get("mem_mb"), smk.threads
        )


@contextmanager
def record(job: Job) -> Iterator[dict[str, Any]]:
    """Append `started`, then `completed` (with the yielded dict merged in) or `failed`.

    The attempt is Snakemake's (it restarts at 1 in each workflow invocation); without one,
    attempts are counted from the file. A failure is classified from the exception's text
    (ToolError messages carry the tool's log tail) and its ``returncode``, then re-raised.
    """
    path = Path(job.events)
    attempt = job.attempt
    if attempt is None:
        attempt = sum(e.event == EventKind.STARTED for e in read_events(path)) + 1
    base = {
        "rule": job.rule,
        "attempt": attempt,
        "mem_mb": job.mem_mb,
        "threads": job.threads,
        "job_id": current_job_id(),
        "host": socket.gethostname(),
    }
    append_event(path, JobEvent(**base, event=EventKind.STARTED))
    extra: dict[str, Any] = {}
    try:
        yield extra
    except BaseException as e:  # SIGTERM (SystemExit) and Ctrl-C end the attempt too
        text = "".join(traceback.format_exception_only(e)).strip()
        cause = classify_failure(getattr(e, "returncode", None), text)
        message = text.splitlines()[-1][:MESSAGE_MAX_CHARS] if text else type(e).__name__
        append_event(path, JobEvent(**base, event=EventKind.FAILED, cause=cause, message=message))
        raise
    # Reserved fields win over the step's extras: the step cannot rewrite who ran or when.
    fields = {**extra, **base, "event": EventKind.COMPLETED, "time": now()}
    append_event(path, JobEvent.model_validate(fields))
