"""Failure-aware memory requests: a pure function of a job's recorded events.

Snakemake re-runs a failed job ``--retries`` times and evaluates resource callables again with
``attempt`` + 1, but it never says *why* the previous attempt failed. Multiplying memory by the
attempt number (nf-core style) also gives more memory to a job that failed for a bug or a bad
input. Here memory grows only after out-of-memory failures:

* :func:`start_memory` picks the first request from a :class:`MemoryPolicy` (assembler x biome
  lineage, longest matching prefix, like emgapi-v2's compute-resource heuristic) plus size scaling.
* :func:`decide` returns ``base_mb`` on attempt 1 and ``base_mb * growth ** n`` later, ``n`` being
  the number of out-of-memory failures of the current series of attempts, clamped to the policy.
  It reads only the events it is given: the caller first brings the events file up to date
  with :func:`mgnify_db.jobs.slurm.reconcile_slurm` (OverMemoryKill leaves its evidence only in
  the Slurm log), then reads it with :func:`mgnify_db.jobs.events.read_events`.
* :func:`memory_events` explains, for the catalogue, the memory each attempt ran with.

A failure nobody recorded (a plain ``shell:`` rule killed by the kernel outside Slurm) counts as
"not out of memory": the retry keeps the memory.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from .events import EventKind, JobEvent
from .failures import FailureCause

__all__ = [
    "DEFAULT_POLICY",
    "MemoryDecision",
    "MemoryPolicy",
    "current_series",
    "decide",
    "lineage_match",
    "memory_events",
    "start_memory",
]

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


# ------------------------------------------------------------------------------------ decision


class MemoryDecision(BaseModel):
    """The memory of one attempt and why."""

    attempt: int
    mem_mb: int
    base_mb: int
    oom_failures: int
    capped: bool = False
    reason: str


def _series_start(events: Sequence[JobEvent]) -> int | None:
    """Index of the latest attempt-1 event that opens a series, None if there is none.

    Snakemake restarts attempts at 1 in each invocation, so the latest attempt 1 opens the
    current series. An attempt-1 ``failed`` event of a job id that never ``started`` (killed
    at start-up, found by reconcile_slurm) opens one too: its attempt came from the Slurm log.
    """
    started = {e.job_id for e in events if e.event == EventKind.STARTED and e.job_id}
    for i in range(len(events) - 1, -1, -1):
        e = events[i]
        if e.attempt != 1:
            continue
        if e.event == EventKind.STARTED or (
            e.event == EventKind.FAILED and e.job_id and e.job_id not in started
        ):
            return i
    return None


def current_series(events: Sequence[JobEvent]) -> list[JobEvent]:
    """The events since the latest attempt 1 (all of them if there is none)."""
    start = _series_start(events)
    return list(events[start or 0 :])


def decide(
    events: Sequence[JobEvent], base_mb: int, attempt: int, policy: MemoryPolicy
) -> MemoryDecision:
    """MB to request for ``attempt`` of a job, from its events (oldest first). No I/O.

    Attempt 1 gets ``base_mb``. Attempt k > 1 gets ``base_mb * growth ** n``, ``n`` = number of
    out-of-memory ``failed`` events of the current series for attempts < k (or of unknown
    attempt); timeouts and other failures keep the memory. Clamped to the policy's floor/max.
    """
    attempt = max(1, int(attempt))
    failures = []
    if attempt > 1:
        failures = [
            e
            for e in current_series(events)
            if e.event == EventKind.FAILED and (e.attempt is None or e.attempt < attempt)
        ]
    n_oom = sum(e.cause == FailureCause.OUT_OF_MEMORY for e in failures)
    raw = base_mb * policy.growth**n_oom
    mem = policy.clamp(raw)
    capped = policy.max_mb is not None and math.ceil(raw) > policy.max_mb
    if attempt == 1:
        reason = f"attempt 1: base {base_mb} MB"
    elif n_oom == 0:
        causes = sorted({str(e.cause or FailureCause.OTHER) for e in failures})
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
    return MemoryDecision(
        attempt=attempt,
        mem_mb=mem,
        base_mb=base_mb,
        oom_failures=n_oom,
        capped=capped,
        reason=reason,
    )


def memory_events(events: Sequence[JobEvent], policy: MemoryPolicy) -> list[dict[str, Any]]:
    """One ``memory`` event per ``started`` event of one job file, explaining its ``mem_mb``.

    Each is :func:`decide` over the events before it, the base being the ``mem_mb`` of the
    series' attempt-1 event. The event carries the memory the job actually ran with; when the
    decision differs (config changed, resources set by hand), the message says both.
    """
    out: list[dict[str, Any]] = []
    for i, e in enumerate(events):
        if e.event != EventKind.STARTED or e.attempt is None or e.mem_mb is None:
            continue
        before = events[:i]
        if e.attempt == 1:
            base = e.mem_mb
        else:
            start = _series_start(before)
            base = before[start].mem_mb if start is not None else None
        memory: dict[str, Any] = {
            "event": "memory",
            "rule": e.rule,
            "attempt": e.attempt,
            "time": e.time,
            "mem_mb": e.mem_mb,
            "job_id": e.job_id,
        }
        if base is None:
            memory["message"] = (
                f"attempt {e.attempt}: {e.mem_mb} MB (no attempt-1 record of this series)"
            )
        else:
            d = decide(before, base, e.attempt, policy)
            message = d.reason
            if d.mem_mb != e.mem_mb:
                message += f"; the job ran with {e.mem_mb} MB"
            memory |= {
                "message": message,
                "base_mb": d.base_mb,
                "oom_failures": d.oom_failures,
                "capped": d.capped,
            }
        out.append(memory)
    return out
