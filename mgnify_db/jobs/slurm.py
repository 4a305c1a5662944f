"""Slurm plugin logs: finding them, reading failures out of them, and reconciling job events.

Slurm's OverMemoryKill (and a time limit, or a kill at start-up) ends a job before it can write
its own ``failed`` event: the log of snakemake-executor-plugin-slurm is the only witness
("slurmstepd: error: StepId=7.batch exceeded memory limit ..."). :func:`reconcile_slurm` turns
such logs into ``failed`` events in the job's events file, once; everything else reads events.

Where the plugin (2.8.0) writes its logs: ``<logdir>/rule_<rule>/<wildcards>/<jobid>.log``,
``<wildcards>`` being the wildcard *values* joined with ``_`` (``/`` replaced by ``_``), empty for
rules without wildcards; ``<logdir>`` is ``slurm-logdir`` (profiles/slurm sets it to the
``slurm_logs`` path of mgnify_db.paths). Array tasks write
``<logdir>/rule_<rule>/<jobid>_<index>.log`` (though the plugin registers
``.../<wildcards>/<jobid>_<index>.log``: both places are searched).
Logs of successful jobs are deleted unless ``slurm-keep-successful-logs`` is set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .events import (
    MESSAGE_MAX_CHARS,
    SOURCE_SLURM_LOG,
    EventKind,
    JobEvent,
    append_event,
    read_events,
)
from .failures import KILLED_RE, OOM_RE, TIMEOUT_RE, FailureCause, classify_failure

__all__ = [
    "LOG_TAIL_BYTES",
    "SlurmLog",
    "current_job_ids",
    "evidence",
    "failed_log_cause",
    "find_slurm_logs",
    "log_header",
    "read_tail",
    "reconcile_slurm",
    "slurm_wildcard_str",
    "strip_echoed_commands",
]

# Failure evidence is at the end of a log; a job's own output may be long.
LOG_TAIL_BYTES = 64 * 1024

# --------------------------------------------------------------------------- reading a log

# Evidence that the in-job snakemake (or Slurm) reported a failure in the plugin's job log.
_FAILED_LOG_RE = re.compile(
    r"Error in rule |RuleException|CalledProcessError|non-zero exit status|Exiting because a job"
    r" execution failed|srun: error:|slurmstepd[^\n]*error:|\*\*\* (?:JOB|STEP) [\d.]+ ON \S+ "
    r"CANCELLED|Traceback \(most recent call last\)"
)
# Failures reported by Slurm itself (the step or job was killed/cancelled).
_SLURM_ERROR_RE = re.compile(
    r"srun: error:|slurmstepd[^\n]*error:|\*\*\* (?:JOB|STEP) [\d.]+ ON \S+ CANCELLED"
)
# Snakemake's last words when the job succeeded.
_SUCCESS_RE = re.compile(r"\d+ of \d+ steps \(100%\) done")
_EXIT_CODE_RE = re.compile(r"(?:exit (?:code|status)) (-?\d+)", re.IGNORECASE)
# Lines of a Snakemake log that echo a command (it may contain any word, e.g. "MemoryError").
_ECHO_LINE_RE = re.compile(r"^\s*(?:Shell command:|Command:|Command ')")
_EXIT_STATUS_RE = re.compile(r"returned non-zero exit status -?\d+")
# The in-job snakemake's banner and job summary: which attempt, with how much memory.
_ATTEMPT_RE = re.compile(r"^\s*Command:.*?--attempt[= ](\d+)", re.MULTILINE)
_MEM_RE = re.compile(r"^\s*resources:.*?\bmem_mb=(\d+)", re.MULTILINE)


def strip_echoed_commands(log_text: str) -> str:
    """Drop the lines where Snakemake repeats the job's command: they are not evidence."""
    kept: list[str] = []
    in_shell_block = False
    for line in log_text.splitlines():
        if in_shell_block:
            # The "    shell:" block of "Error in rule": 8-space lines, the command and
            # "(command exited with non-zero exit code)".
            if line.startswith("        "):
                continue
            in_shell_block = False
        if line.strip() == "shell:":
            in_shell_block = True
            continue
        if _ECHO_LINE_RE.match(line):
            # Keep the exit status of "Command '...' returned non-zero exit status 3."
            if m := _EXIT_STATUS_RE.search(line):
                kept.append(m.group(0))
            continue
        kept.append(line)
    return "\n".join(kept)


def failed_log_cause(log_text: str) -> FailureCause | None:
    """Cause of failure told by a Slurm job log, or None when the log shows no failure.

    The job's own command lines (echoed by Snakemake) are ignored, so a successful job whose
    command mentions "MemoryError" is not a failure; nor is a running job's log (banner only).
    """
    text = strip_echoed_commands(log_text)
    if not _FAILED_LOG_RE.search(text):
        return None
    if _SUCCESS_RE.search(text) and not _SLURM_ERROR_RE.search(text):
        return None  # e.g. a script that printed a handled traceback, then finished
    codes = [int(c) for c in _EXIT_CODE_RE.findall(text)]
    exit_code = next((c for c in codes if c != 0), None)
    return classify_failure(exit_code, text)


_OTHER_EVIDENCE_RES = [
    re.compile(r"non-zero exit status -?\d+"),
    re.compile(r"Exited with exit code|exit (?:code|status) -?\d+", re.IGNORECASE),
    re.compile(r"Error|Exception|error:"),
]


def evidence(log_text: str, cause: FailureCause) -> str:
    """The log line that best explains ``cause`` (an event's message), echoed commands aside."""
    lines = [ln.strip() for ln in strip_echoed_commands(log_text).splitlines() if ln.strip()]
    regexes = {
        FailureCause.OUT_OF_MEMORY: [OOM_RE, KILLED_RE],
        FailureCause.TIMEOUT: [TIMEOUT_RE],
    }.get(cause, _OTHER_EVIDENCE_RES)
    for rx in regexes:
        if hits := [ln for ln in lines if rx.search(ln)]:
            return hits[0][:MESSAGE_MAX_CHARS]
    return " | ".join(lines[-3:])[:MESSAGE_MAX_CHARS]


def log_header(log_text: str) -> tuple[int | None, int | None]:
    """(attempt, mem_mb) from the in-job snakemake's banner and job summary, None if absent.

    For a job killed before it wrote ``started``, the log is the only record of either.
    """
    attempt, mem = _ATTEMPT_RE.search(log_text), _MEM_RE.search(log_text)
    return (int(attempt.group(1)) if attempt else None, int(mem.group(1)) if mem else None)


def read_tail(path: Path, max_bytes: int = LOG_TAIL_BYTES) -> str:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - max_bytes))
        return fh.read().decode("utf-8", errors="replace")


def _read_head(path: Path, max_bytes: int = LOG_TAIL_BYTES) -> str:
    with open(path, "rb") as fh:
        return fh.read(max_bytes).decode("utf-8", errors="replace")


# --------------------------------------------------------------------------- finding logs

_JOB_LOG_RE = re.compile(r"^(\d+)(?:_(\d+))?\.log$")


class SlurmLog(BaseModel):
    job_id: str
    path: Path
    mtime: float


def _wildcards_dict(wildcards: Mapping[str, Any] | None) -> dict[str, str]:
    # Snakemake's Wildcards object has items() but is not a Mapping.
    return {str(k): str(v) for k, v in (wildcards.items() if wildcards else [])}


def slurm_wildcard_str(wildcards: Mapping[str, Any] | None) -> str:
    """The plugin's directory name for a job's wildcards (values joined by '_', '/' -> '_')."""
    return "_".join(_wildcards_dict(wildcards).values()).replace("/", "_")


def _job_id_key(job_id: str) -> tuple[int, int]:
    main, _, index = job_id.partition("_")
    return int(main), int(index or -1)


def _mentions_wildcards(path: Path, wildcards: Mapping[str, str]) -> bool:
    """Whether an array task's log is this job's: its summary names all the wildcard values."""
    try:
        text = _read_head(path)
    except OSError:
        return False
    # The in-job snakemake prints "    wildcards: study=A, run=B" in the job summary.
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("wildcards:"):
            pairs = {p.strip() for p in line[len("wildcards:") :].split(",")}
            if all(f"{k}={v}" in pairs for k, v in wildcards.items()):
                return True
    return False


def find_slurm_logs(
    slurm_log_dir: Path, rule: str, wildcards: Mapping[str, Any] | None = None
) -> list[SlurmLog]:
    """Logs of ``rule`` + ``wildcards`` under the plugin's log dir, oldest Slurm job id first.

    Regular jobs: ``rule_<rule>/<wildcard_str>/<jobid>.log``. Array tasks are written to
    ``rule_<rule>/<jobid>_<index>.log`` whatever the wildcards; for rules with wildcards such a
    log is kept only if its text names all of this job's wildcard values.
    """
    rule_dir = Path(slurm_log_dir) / f"rule_{rule}"
    wc = _wildcards_dict(wildcards)
    wc_str = slurm_wildcard_str(wc)
    found: dict[str, SlurmLog] = {}
    dirs = [rule_dir / wc_str, rule_dir] if wc_str else [rule_dir]
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            m = _JOB_LOG_RE.match(path.name)
            if not m or not path.is_file():
                continue
            if wc_str and directory == rule_dir:  # array tasks of every wildcard combination
                if m.group(2) is None or not _mentions_wildcards(path, wc):
                    continue
            job_id = path.name.removesuffix(".log")
            try:
                found[job_id] = SlurmLog(job_id=job_id, path=path, mtime=path.stat().st_mtime)
            except FileNotFoundError:  # deleted by the plugin meanwhile
                continue
    return sorted(found.values(), key=lambda log: _job_id_key(log.job_id))


def current_job_ids() -> set[str]:
    """Ids of the Slurm job we run in (a job's own log shows no end yet, or a running one)."""
    ids = set()
    if job := os.environ.get("SLURM_JOB_ID"):
        ids.add(job)
    if (array := os.environ.get("SLURM_ARRAY_JOB_ID")) and (
        task := os.environ.get("SLURM_ARRAY_TASK_ID")
    ):
        ids.add(f"{array}_{task}")
    return ids


# ----------------------------------------------------------------------------- reconciling


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="microseconds")


def _later(a: str, b: str) -> str:
    try:
        return max(a, b, key=datetime.fromisoformat)
    except (TypeError, ValueError):  # unparseable or naive vs aware: keep the log's time
        return a


def reconcile_slurm(
    path: Path, slurm_logs: Path, rule: str, wildcards: Mapping[str, Any] | None
) -> list[JobEvent]:
    """Append the failures only Slurm saw to the job's events file; return the new events.

    Every log of this rule + wildcards whose job id has no ``failed`` event yet is read (also
    after ``completed``: Slurm may kill the step while the in-job snakemake stores the outputs,
    and Snakemake then retries the job); if it shows a failure, a ``failed`` event is appended:
    ``source="slurm_log"``, cause classified, message = the evidence line, ``log`` = its path.
    Its attempt and memory are copied from the job's ``started`` event; a job killed before
    writing one (or a plain ``shell:`` rule, which writes no events) gets them from the log's
    banner (``--attempt N``, ``mem_mb=M``), else None. Its time is the log's mtime (when the job
    died; never before its ``started``): readers sort it where it happened, however late found.

    Idempotent: a reconciled job id has failed and is not read again. Logs showing no failure
    (running jobs, kept logs of successful ones) and the job we run in are skipped.
    """
    path = Path(path)
    events = read_events(path)
    started = {e.job_id: e for e in events if e.event == EventKind.STARTED and e.job_id}
    failed = {e.job_id for e in events if e.event == EventKind.FAILED and e.job_id}
    skip = failed | current_job_ids()
    new: list[JobEvent] = []
    for log in find_slurm_logs(slurm_logs, rule, wildcards):
        if log.job_id in skip:
            continue
        try:
            text = read_tail(log.path)
        except OSError:  # deleted by the plugin meanwhile
            continue
        cause = failed_log_cause(text)
        if cause is None:
            continue
        when = _iso(log.mtime)
        if start := started.get(log.job_id):
            who = start.model_dump(include={"attempt", "mem_mb", "threads", "host"})
            when = _later(when, start.time)
        else:
            try:
                attempt, mem_mb = log_header(_read_head(log.path))
            except OSError:
                attempt, mem_mb = None, None
            who = {"attempt": attempt, "mem_mb": mem_mb}
        event = JobEvent(
            event=EventKind.FAILED,
            rule=rule,
            time=when,
            job_id=log.job_id,
            cause=cause,
            message=evidence(text, cause),
            source=SOURCE_SLURM_LOG,
            log=str(log.path),
            **who,
        )
        append_event(path, event)
        new.append(event)
    return new
