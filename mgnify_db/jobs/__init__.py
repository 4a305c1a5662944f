"""Jobs: one event log per job, failure causes, Slurm logs, and the memory decision.

* :mod:`.events` - ``<jobs_dir>/<rule>.jsonl``: the job appends ``started`` then ``completed`` or
  ``failed`` (:func:`record`); :func:`read_events` is how everyone reads it.
* :mod:`.failures` - :func:`classify_failure`: out of memory, timeout or other.
* :mod:`.slurm` - the Slurm plugin's job logs; :func:`reconcile_slurm` appends the failures only
  Slurm saw (OverMemoryKill) to the events file. The only other writer; readers never scan logs.
* :mod:`.memory` - :class:`MemoryPolicy`, :func:`start_memory` and the pure :func:`decide`.

Typical head-node use (the rule's ``mem_mb`` callable)::

    path = events_path(jobs_dir, rule)
    reconcile_slurm(path, slurm_logs, rule, wildcards)
    decide(read_events(path), base_mb, attempt, policy).mem_mb
"""

from .events import EventKind, Job, JobEvent, events_path, read_events, record
from .failures import FailureCause, classify_failure
from .memory import (
    MemoryDecision,
    MemoryPolicy,
    decide,
    lineage_match,
    memory_events,
    start_memory,
)
from .slurm import reconcile_slurm

__all__ = [
    "EventKind",
    "FailureCause",
    "Job",
    "JobEvent",
    "MemoryDecision",
    "MemoryPolicy",
    "classify_failure",
    "decide",
    "events_path",
    "lineage_match",
    "memory_events",
    "read_events",
    "reconcile_slurm",
    "record",
    "start_memory",
]
