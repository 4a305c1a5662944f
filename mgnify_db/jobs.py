"""Job records: what each attempt of a stage did, as JSON lines beside the run's results.

Rule scripts wrap their work in `job_record(...)`; the loader turns the lines into catalogue
events and into the running/failed states of runs, assemblies and analyses.
"""

from __future__ import annotations

import json
import os
import socket
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def append_record(path: Path, record: dict) -> None:
    """One line per event; O_APPEND keeps concurrent writers from interleaving."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, sort_keys=True, default=str) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def job_id() -> str | None:
    return os.environ.get("SLURM_JOB_ID")


def attempts(path: Path, stage: str) -> int:
    """How many attempts of `stage` were started before (across workflow invocations)."""
    if not path.exists():
        return 0
    return sum(
        '"event": "started"' in ln and f'"stage": "{stage}"' in ln
        for ln in path.read_text().splitlines()
    )


@dataclass
class Job:
    """Who is running: the job record file and the attempt's resources (from Snakemake)."""

    records: Path
    attempt: int | None = None
    mem_mb: int | None = None
    threads: int | None = None

    @classmethod
    def of(cls, smk) -> Job:
        """From a rule script's `snakemake` object (params.jobs, resources.attempt/mem_mb)."""
        res = smk.resources
        return cls(Path(smk.params.jobs), res.get("attempt"), res.get("mem_mb"), smk.threads)


def memory_log(records: Path) -> Path:
    """`<rule>.memory.jsonl` beside `<rule>.jsonl`: mgnify_db.resources' decisions and failures."""
    return records.with_name(records.name.removesuffix(".jsonl") + ".memory.jsonl")


@contextmanager
def job_record(job: Job, stage: str) -> Iterator[dict]:
    """Record `started`, then `completed` or `failed` (with a classified cause) for one attempt.

    The attempt is Snakemake's (it restarts at 1 in each workflow invocation); without one,
    attempts are counted from the records.
    """
    path, mem_mb, threads = job.records, job.mem_mb, job.threads
    attempt = job.attempt or attempts(path, stage) + 1
    base = {
        "stage": stage,
        "attempt": attempt,
        "mem_mb": mem_mb,
        "threads": threads,
        "job_id": job_id(),
        "host": socket.gethostname(),
    }
    append_record(path, {**base, "event": "started", "time": now()})
    extra: dict = {}
    try:
        yield extra
    except BaseException as e:
        from .resources import classify_failure, record_failure

        # ToolError messages carry the tool's log tail, so the text is enough to classify.
        text = "".join(traceback.format_exception_only(e)).strip()
        cause = classify_failure(getattr(e, "returncode", None), text)
        # The memory decisions read this file: an out-of-memory failure the job saw itself
        # (bad_alloc, exit 137 on the local executor) grows the next attempt's memory.
        record_failure(
            memory_log(path),
            attempt=attempt,
            cause=cause,
            mem_mb=mem_mb,
            job_id=base["job_id"],
            message=text.splitlines()[-1],
        )
        append_record(
            path,
            {
                **base,
                "event": "failed",
                "time": now(),
                "cause": str(cause),
                "message": text.splitlines()[-1][:500],
            },
        )
        raise
    append_record(path, {**base, "event": "completed", "time": now(), **extra})
