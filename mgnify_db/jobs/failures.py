"""Why did a job fail? Out of memory, out of time, or anything else.

Only the first matters for scheduling (:func:`mgnify_db.jobs.memory.decide` grows memory after
out-of-memory failures only), so the rules lean towards finding memory evidence: SIGKILL without
a stated reason counts as out of memory (the kernel's OOM killer and Slurm's OverMemoryKill both
send it), unless a time limit was reported.
"""

from __future__ import annotations

import re
from enum import StrEnum

__all__ = ["FailureCause", "classify_failure", "KILLED_RE", "OOM_RE", "TIMEOUT_RE"]


class FailureCause(StrEnum):
    OUT_OF_MEMORY = "out_of_memory"
    TIMEOUT = "timeout"
    OTHER = "other"


# Strong out-of-memory evidence, checked first.
_OOM_PATTERNS = [
    r"exceeded (?:job |step )?memory limit",  # Slurm OverMemoryKill (jobacct_gather)
    r"\boom[-_ ]?kill",  # cgroup/kernel OOM killer ("oom-kill event", "oom_kill")
    r"\bout[-_ ]of[-_ ]memory\b",  # OUT_OF_MEMORY state, "Out of memory: Killed process"
    r"std::bad_alloc",
    r"\bMemoryError\b",  # Python
    r"Cannot allocate memory",  # ENOMEM (SPAdes "mmap(2) failed", its mimalloc, fork)
    # generic C/C++ tools: "failed to allocate 8 GB of memory", "unable to allocate memory"
    r"(?:fail(?:ed)? to|could not|cannot|unable to) allocate\b[^\n]{0,40}\b(?:memory|bytes)",
    r"not enough memory|insufficient memory|memory exhausted",  # "Not enough memory to run SPAdes"
    r"memory allocation fail|error allocating memory",  # HMMER and SSW inside spades-core
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
    r"OS return value: -9\b",  # spades.py: "system call for: ... finished abnormally, ..."
]
OOM_RE = re.compile("|".join(_OOM_PATTERNS), re.IGNORECASE)
# Case-sensitive: "TIMEOUT" is Slurm's state name; a tool's "timeout" option is no evidence.
TIMEOUT_RE = re.compile("|".join(_TIMEOUT_PATTERNS))
# Case-sensitive too: "was being killed by the user" is not a SIGKILL report.
KILLED_RE = re.compile("|".join(_KILLED_PATTERNS), re.MULTILINE)
# 137 = 128 + SIGKILL (shell status); -9 = SIGKILL (Python's subprocess returncode).
OOM_EXIT_CODES = frozenset({137, -9})


def classify_failure(exit_code: int | None, text: str) -> FailureCause:
    """Why a tool or job failed, from its exit code and the text it (or Slurm) left behind.

    Memory evidence wins over time evidence; a bare SIGKILL counts as out of memory, except
    after a reported time limit (Slurm kills a job that ignores SIGTERM at its time limit).
    """
    text = text or ""
    if OOM_RE.search(text):
        return FailureCause.OUT_OF_MEMORY
    if TIMEOUT_RE.search(text):
        return FailureCause.TIMEOUT
    if exit_code in OOM_EXIT_CODES or KILLED_RE.search(text):
        return FailureCause.OUT_OF_MEMORY
    return FailureCause.OTHER
