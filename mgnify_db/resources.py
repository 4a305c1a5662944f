"""Failure-aware memory requests for Snakemake rules.

Snakemake re-runs a failed job ``--retries`` times and evaluates resource callables again with
``attempt`` + 1, but it never says *why* the previous attempt failed. Multiplying memory by the
attempt number (nf-core style) also gives more memory to a job that failed for a bug or a bad
input. This module keeps a per-job JSON-lines file of failures and memory decisions and grows
memory only after out-of-memory failures:

* :func:`start_memory` picks the first request from a :class:`MemoryPolicy` (assembler x biome
  lineage, longest matching prefix, like emgapi-v2's compute-resource heuristic) plus size scaling.
* :func:`memory_for_attempt` returns ``base_mb`` on attempt 1 and ``base_mb * growth ** n`` later,
  where ``n`` is the number of out-of-memory failures of the current series of attempts.
* Failures are recorded by the job itself (:func:`mgnify_db.jobs.job_record`) or found
  by :func:`memory_for_attempt` in the Slurm logs of snakemake-executor-plugin-slurm: Slurm's
  OverMemoryKill kills the job before it can write anything, so the plugin's log is the only
  witness ("slurmstepd: error: StepId=7.batch exceeded memory limit ...").

Records (one JSON object per line, ``kind`` = ``failure`` or ``decision``)::

    {"kind": "failure", "time": "...", "attempt": 1, "cause": "out_of_memory", "mem_mb": 400,
     "job_id": "17", "source": "slurm_log", "log": ".../17.log", "message": "...exceeded memory..."}
    {"kind": "decision", "time": "...", "attempt": 2, "mem_mb": 600, "base_mb": 400,
     "oom_failures": 1, "capped": false, "rule": "assembly_megahit", "wildcards": {...},
     "reason": "attempt 2: 1 out-of-memory failure(s): 400 MB x 1.5^1"}

A failure nobody recorded (a plain ``shell:`` rule killed by the kernel outside Slurm) counts as
"not out of memory": the retry keeps the memory.

Where the plugin (2.8.0) writes its logs: ``<logdir>/rule_<rule>/<wildcards>/<jobid>.log``,
``<wildcards>`` being the wildcard *values* joined with ``_`` (``/`` replaced by ``_``), empty for
rules without wildcards; ``<logdir>`` defaults to ``<workdir>/.snakemake/slurm_logs`` and is set
with ``slurm-logdir``. Array jobs write ``<logdir>/rule_<rule>/<jobid>_<index>.log``. Logs of
successful jobs are deleted unless ``slurm-keep-successful-logs`` is set.

The workflow calls :func:`memory_for_attempt` from each rule's ``mem_mb`` callable
(``workflow/rules/common.smk``, through :func:`mgnify_db.workflow.memory_mb`).
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

__all__ = [
    "FailureCause",
    "FailureRecord",
    "MemoryDecision",
    "MemoryPolicy",
    "SlurmLog",
    "classify_failure",
    "failed_log_cause",
    "find_slurm_logs",
    "lineage_match",
    "memory_for_attempt",
    "read_records",
    "record_failure",
    "scan_slurm_logs",
    "slurm_log_failure",
    "slurm_wildcard_str",
    "start_memory",
]

MESSAGE_MAX_CHARS = 500
LOG_TAIL_BYTES = 64 * 1024


class FailureCause(StrEnum):
    OUT_OF_MEMORY = "out_of_memory"
    TIMEOUT = "timeout"
    OTHER = "other"


# --------------------------------------------------------------------------------------- policy


class MemoryPolicy(BaseModel):
    """Where memory requests start, how they grow and where they stop (all in MB)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_mb: dict[str, dict[str, PositiveInt]] = Field(
        default_factory=dict,
        description="assembler -> biome lineage prefix -> MB; every assembler needs a 'root' entry",
    )
    per_gbase_mb: float = Field(0.0, ge=0, description="extra MB per Gbase (1e9 bases) of input")
    growth: float = Field(1.5, gt=1.0, description="factor applied per out-of-memory failure")
    max_mb: PositiveInt | None = Field(None, description="cap: the largest node's memory")
    floor_mb: PositiveInt = Field(
        300, description="lower bound; the in-job snakemake alone needs ~140 MB under Slurm"
    )

    @model_validator(mode="after")
    def _check(self) -> MemoryPolicy:
        if self.max_mb is not None and self.max_mb < self.floor_mb:
            raise ValueError(f"max_mb {self.max_mb} < floor_mb {self.floor_mb}")
        for assembler, table in self.start_mb.items():
            if "root" not in {_norm_lineage(k) for k in table}:
                raise ValueError(f"start_mb[{assembler!r}] needs a 'root' entry (the fallback)")
        return self

    def clamp(self, mb: float) -> int:
        value = max(self.floor_mb, math.ceil(mb))
        return min(value, self.max_mb) if self.max_mb is not None else value


DEFAULT_POLICY = MemoryPolicy()


def _norm_lineage(lineage: str) -> str:
    return ":".join(part.strip().casefold() for part in lineage.strip().strip(":").split(":"))


def lineage_match(table: Mapping[str, int], biome_lineage: str | None) -> str:
    """The key of ``table`` that is the longest prefix (whole components) of ``biome_lineage``.

    ``root:Host-associated:Human:Digestive system`` tries itself, then ``...:Human``, then
    ``root:Host-associated``, then ``root``. Matching ignores case and spaces around ``:``.
    """
    keys = {_norm_lineage(k): k for k in table}
    parts = _norm_lineage(biome_lineage or "root").split(":")
    for n in range(len(parts), 0, -1):
        candidate = ":".join(parts[:n])
        if candidate in keys:
            return keys[candidate]
    if "root" in keys:
        return keys["root"]
    raise KeyError(f"no prefix of {biome_lineage!r} in {sorted(table)}")


def start_memory(
    policy: MemoryPolicy, assembler: str, biome_lineage: str | None, input_bases: int | float = 0
) -> int:
    """First-attempt MB: lineage start value + ``per_gbase_mb`` per Gbase, clamped to the policy."""
    try:
        table = policy.start_mb[assembler]
    except KeyError:
        raise KeyError(
            f"no memory policy for assembler {assembler!r}; known: {sorted(policy.start_mb)}"
        ) from None
    base = table[lineage_match(table, biome_lineage)]
    return policy.clamp(base + policy.per_gbase_mb * max(0.0, float(input_bases)) / 1e9)


# -------------------------------------------------------------------------------------- records


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class FailureRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: Literal["failure"] = "failure"
    time: str = Field(default_factory=_now)
    attempt: int | None = None
    cause: FailureCause
    mem_mb: int | None = None
    job_id: str | None = None
    source: str = "local"
    log: str | None = None
    message: str = ""


class MemoryDecision(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: Literal["decision"] = "decision"
    time: str = Field(default_factory=_now)
    attempt: int
    mem_mb: int
    base_mb: int
    oom_failures: int
    capped: bool = False
    reason: str
    rule: str | None = None
    wildcards: dict[str, str] | None = None


Record = FailureRecord | MemoryDecision


def _append(path: Path, record: BaseModel) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = record.model_dump_json() + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.write(line)
            fh.flush()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_records(path: Path) -> list[Record]:
    """All records of a failure file, oldest first. Missing file -> []; bad lines are skipped."""
    path = Path(path)
    if not path.exists():
        return []
    records: list[Record] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            data = json.loads(line)
            if data.get("kind", "failure") == "decision":
                records.append(MemoryDecision.model_validate(data))
            else:
                records.append(FailureRecord.model_validate(data))
        except (ValueError, TypeError, AttributeError):
            continue  # a torn or hand-edited line must not break scheduling
    return records


def record_failure(
    path: Path,
    *,
    attempt: int | None,
    cause: FailureCause | str,
    mem_mb: int | None,
    job_id: str | None,
    message: str,
    source: str = "local",
    log: Path | str | None = None,
) -> FailureRecord:
    """Append one failure to the job's JSON-lines file and return it."""
    record = FailureRecord(
        attempt=attempt,
        cause=FailureCause(cause),
        mem_mb=mem_mb,
        job_id=job_id,
        source=source,
        log=str(log) if log is not None else None,
        message=message.strip()[-MESSAGE_MAX_CHARS:],
    )
    _append(path, record)
    return record


# ------------------------------------------------------------------------------- classification

# Strong out-of-memory evidence, checked first.
_OOM_PATTERNS = [
    r"exceeded (?:job |step )?memory limit",  # Slurm OverMemoryKill (jobacct_gather)
    r"\boom[-_ ]?kill",  # cgroup/kernel OOM killer ("oom-kill event", "oom_kill")
    r"\bout[-_ ]of[-_ ]memory\b",  # OUT_OF_MEMORY state, "Out of memory: Killed process"
    r"std::bad_alloc",
    r"\bMemoryError\b",  # Python
    r"Cannot allocate memory",  # ENOMEM (SPAdes "mmap(2) failed", fork)
    # generic C/C++ tools: "failed to allocate 8 GB of memory", "unable to allocate memory"
    r"(?:fail(?:ed)? to|could not|cannot|unable to) allocate\b[^\n]{0,40}\b(?:memory|bytes)",
    r"not enough memory|insufficient memory|memory exhausted",
    r"java\.lang\.OutOfMemoryError",
]
_TIMEOUT_PATTERNS = [
    r"DUE TO TIME LIMIT",  # slurmstepd: *** JOB 7 ON node CANCELLED AT ... DUE TO TIME LIMIT ***
    r"\bTIMEOUT\b",  # Slurm job state (plugin: "SLURM status is: 'TIMEOUT'")
    r"time limit exceeded",
]
# SIGKILL without a stated reason: almost always the OOM killer (or OverMemoryKill).
_KILLED_PATTERNS = [
    r"(?:^|[\s:])Killed(?:\s|$)",  # bash "line 1: 123 Killed ...", srun "task 0: Killed"
    r"\[Exit code -9\]|Exit code -9\b",  # MEGAHIT's wrapper: its sub-process got SIGKILL
    r"signal 9\b|SIGKILL",
]
_OOM_RE = re.compile("|".join(_OOM_PATTERNS), re.IGNORECASE)
_TIMEOUT_RE = re.compile("|".join(_TIMEOUT_PATTERNS))
_KILLED_RE = re.compile("|".join(_KILLED_PATTERNS), re.MULTILINE)
_OOM_EXIT_CODES = {137, -9}


def classify_failure(exit_code: int | None, log_text: str) -> FailureCause:
    """Why did a tool/job fail? Memory evidence wins over time evidence, SIGKILL counts as OOM.

    ``exit_code`` may be a shell status (137 = 128 + SIGKILL) or a Python return code (-9).
    """
    text = log_text or ""
    if _OOM_RE.search(text):
        return FailureCause.OUT_OF_MEMORY
    if _TIMEOUT_RE.search(text):
        return FailureCause.TIMEOUT
    if exit_code in _OOM_EXIT_CODES or _KILLED_RE.search(text):
        return FailureCause.OUT_OF_MEMORY
    return FailureCause.OTHER


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
# Lines of a Snakemake log that echo the command (it may contain any word, e.g. "MemoryError").
_ECHO_LINE_RE = re.compile(r"^\s*(?:Shell command:|Command:|Command ')")


def _strip_echoed_commands(log_text: str) -> str:
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
            m = re.search(r"returned non-zero exit status -?\d+", line)
            if m:
                kept.append(m.group(0))
            continue
        kept.append(line)
    return "\n".join(kept)


def failed_log_cause(log_text: str) -> FailureCause | None:
    """Cause of failure told by a Slurm job log, or None when the log shows no failure.

    The job's own command lines (echoed by Snakemake) are ignored, so a successful job whose
    command mentions "MemoryError" is not a failure.
    """
    text = _strip_echoed_commands(log_text)
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


def _evidence(text: str, cause: FailureCause) -> str:
    """The log line that best explains ``cause`` (for the record's message)."""
    lines = [ln.strip() for ln in _strip_echoed_commands(text).splitlines() if ln.strip()]
    regexes = {
        FailureCause.OUT_OF_MEMORY: [_OOM_RE, _KILLED_RE],
        FailureCause.TIMEOUT: [_TIMEOUT_RE],
    }.get(cause, _OTHER_EVIDENCE_RES)
    for rx in regexes:
        hits = [ln for ln in lines if rx.search(ln)]
        if hits:
            return hits[0]
    return " | ".join(lines[-3:])


def _read_tail(path: Path, max_bytes: int = LOG_TAIL_BYTES) -> str:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - max_bytes))
        return fh.read().decode("utf-8", errors="replace")


# ------------------------------------------------------------------------------- slurm logs

_JOB_LOG_RE = re.compile(r"^(\d+)(?:_(\d+))?\.log$")


class SlurmLog(BaseModel):
    job_id: str
    path: Path
    mtime: float


def _wildcards_dict(wildcards: Any) -> dict[str, str]:
    if wildcards is None:
        return {}
    if hasattr(wildcards, "items"):
        return {str(k): str(v) for k, v in wildcards.items()}
    return {str(k): str(v) for k, v in dict(wildcards).items()}


def slurm_wildcard_str(wildcards: Mapping[str, Any] | None) -> str:
    """The plugin's directory name for a job's wildcards (values joined by '_', '/' -> '_')."""
    return "_".join(str(v) for v in _wildcards_dict(wildcards).values()).replace("/", "_")


def _job_id_key(job_id: str) -> tuple[int, int]:
    main, _, index = job_id.partition("_")
    return int(main), int(index or -1)


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
    dirs = [rule_dir / wc_str] if wc_str else [rule_dir]
    if wc_str:
        dirs.append(rule_dir)  # array-task logs
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            m = _JOB_LOG_RE.match(path.name)
            if not m or not path.is_file():
                continue
            is_array_in_rule_dir = wc_str and directory == rule_dir
            if is_array_in_rule_dir:
                if m.group(2) is None or not _mentions_wildcards(path, wc):
                    continue
            job_id = path.name[: -len(".log")]
            try:
                found[job_id] = SlurmLog(job_id=job_id, path=path, mtime=path.stat().st_mtime)
            except FileNotFoundError:  # deleted by the plugin meanwhile
                continue
    return sorted(found.values(), key=lambda log: _job_id_key(log.job_id))


def slurm_log_failure(
    slurm_log_dir: Path, rule: str, wildcards: Mapping[str, Any] | None, job_id: str
) -> FailureRecord | None:
    """What the Slurm log of job ``job_id`` says about its failure (None: no failure seen).

    Read-only: for the catalogue, which must show a job killed by OverMemoryKill as failed.
    """
    for log in find_slurm_logs(slurm_log_dir, rule, wildcards):
        if log.job_id == job_id:
            text = _read_tail(log.path)
            cause = failed_log_cause(text)
            if cause is None:
                return None
            when = datetime.fromtimestamp(log.mtime, UTC).isoformat(timespec="microseconds")
            return FailureRecord(
                time=when,
                cause=cause,
                job_id=job_id,
                source="slurm_log",
                log=str(log.path),
                message=_evidence(text, cause)[:MESSAGE_MAX_CHARS],
            )
    return None


def _mentions_wildcards(path: Path, wildcards: Mapping[str, str]) -> bool:
    try:
        with open(path, "rb") as fh:
            text = fh.read(LOG_TAIL_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return False
    # The in-job snakemake prints "    wildcards: sample=A, run=B" in the job summary.
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("wildcards:"):
            pairs = {p.strip() for p in line[len("wildcards:") :].split(",")}
            if all(f"{k}={v}" in pairs for k, v in wildcards.items()):
                return True
    return False


def _current_job_ids() -> set[str]:
    ids = set()
    if job := os.environ.get("SLURM_JOB_ID"):
        ids.add(job)
    if (array := os.environ.get("SLURM_ARRAY_JOB_ID")) and (
        task := os.environ.get("SLURM_ARRAY_TASK_ID")
    ):
        ids.add(f"{array}_{task}")
    return ids


def _parse_time(value: str) -> float:
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return 0.0


def _attempt_at(records: list[Record], when: float) -> int | None:
    """Attempt of the last memory decision taken before ``when`` (a log's mtime)."""
    attempt = None
    for rec in records:
        if isinstance(rec, MemoryDecision) and _parse_time(rec.time) <= when:
            attempt = rec.attempt
    return attempt


def _mem_at(records: list[Record], attempt: int | None) -> int | None:
    for rec in reversed(records):
        if isinstance(rec, MemoryDecision) and rec.attempt == attempt:
            return rec.mem_mb
    return None


def scan_slurm_logs(
    failures_path: Path,
    slurm_log_dir: Path,
    rule: str,
    wildcards: Mapping[str, Any] | None = None,
) -> list[FailureRecord]:
    """Record the failed Slurm jobs of this rule+wildcards that are not yet in ``failures_path``.

    Logs showing no failure (running jobs, kept logs of successful jobs) and the log of the job
    we are running in (``$SLURM_JOB_ID``) are ignored. The attempt of a newly found failure is
    that of the last memory decision recorded before the log was last written. Returns the new
    records.
    """
    records = read_records(failures_path)
    known = {r.job_id for r in records if isinstance(r, FailureRecord) and r.job_id}
    skip = known | _current_job_ids()
    new: list[FailureRecord] = []
    for log in find_slurm_logs(slurm_log_dir, rule, wildcards):
        if log.job_id in skip:
            continue
        try:
            text = _read_tail(log.path)
        except OSError:
            continue
        cause = failed_log_cause(text)
        if cause is None:
            continue
        attempt = _attempt_at(records, log.mtime)
        new.append(
            record_failure(
                failures_path,
                attempt=attempt,
                cause=cause,
                mem_mb=_mem_at(records, attempt),
                job_id=log.job_id,
                message=_evidence(text, cause),
                source="slurm_log",
                log=log.path,
            )
        )
    return new


# ------------------------------------------------------------------------------- escalation


def _current_series(records: list[Record]) -> list[Record]:
    """Records since the latest attempt-1 decision (a new run of the job starts a new series)."""
    for i in range(len(records) - 1, -1, -1):
        rec = records[i]
        if isinstance(rec, MemoryDecision) and rec.attempt == 1:
            return records[i:]
    return records


def memory_for_attempt(
    base_mb: int,
    attempt: int,
    failures_path: Path,
    slurm_log_dir: Path | None = None,
    rule: str | None = None,
    wildcards: Mapping[str, Any] | None = None,
    policy: MemoryPolicy | None = None,
    *,
    record: bool = True,
) -> int:
    """MB to request for ``attempt`` of a job whose failures are kept in ``failures_path``.

    Attempt 1 gets ``base_mb``. Attempt k > 1 gets ``base_mb * growth ** n``, ``n`` = number of
    out-of-memory failures recorded for attempts < k of the current series; timeouts and other
    failures keep the memory. Clamped to the policy's floor/max. With ``slurm_log_dir`` and
    ``rule``, failed Slurm logs of this job are classified and recorded first. The decision is
    appended to ``failures_path`` unless it repeats the last record (callables are evaluated
    several times per attempt: on the head node and again inside the Slurm job).
    """
    policy = policy or DEFAULT_POLICY
    failures_path = Path(failures_path)
    attempt = max(1, int(attempt))
    if slurm_log_dir is not None and rule:
        scan_slurm_logs(failures_path, Path(slurm_log_dir), rule, wildcards)
    records = read_records(failures_path)
    if attempt == 1:
        n_oom = 0
    else:
        n_oom = sum(
            1
            for r in _current_series(records)
            if isinstance(r, FailureRecord)
            and r.cause == FailureCause.OUT_OF_MEMORY
            and (r.attempt is None or r.attempt < attempt)
        )
    raw = base_mb * policy.growth**n_oom
    mem = policy.clamp(raw)
    capped = policy.max_mb is not None and math.ceil(raw) > policy.max_mb
    if attempt == 1:
        reason = f"attempt 1: base {base_mb} MB"
    elif n_oom == 0:
        causes = sorted(
            {r.cause.value for r in _current_series(records) if isinstance(r, FailureRecord)}
        )
        reason = (
            f"attempt {attempt}: no out-of-memory failure recorded"
            f" (causes: {', '.join(causes) or 'none'}); keeping {base_mb} MB"
        )
    else:
        reason = (
            f"attempt {attempt}: {n_oom} out-of-memory failure(s): "
            f"{base_mb} MB x {policy.growth}^{n_oom}"
        )
    if capped:
        reason += f"; capped at {policy.max_mb} MB"
    if record:
        decision = MemoryDecision(
            attempt=attempt,
            mem_mb=mem,
            base_mb=base_mb,
            oom_failures=n_oom,
            capped=capped,
            reason=reason,
            rule=rule,
            wildcards=_wildcards_dict(wildcards) or None,
        )
        last = records[-1] if records else None
        key = ("attempt", "mem_mb", "base_mb", "reason")
        repeated = isinstance(last, MemoryDecision) and all(
            getattr(last, k) == getattr(decision, k) for k in key
        )
        if not repeated:
            _append(failures_path, decision)
    return mem
