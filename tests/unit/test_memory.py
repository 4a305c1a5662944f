"""The memory decision: policy, start memory, and `decide` as a pure function of events."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mgnify_db.jobs import (
    EventKind,
    FailureCause,
    JobEvent,
    MemoryDecision,
    MemoryPolicy,
    decide,
    lineage_match,
    memory_events,
    start_memory,
)
from mgnify_db.jobs.memory import DEFAULT_POLICY, current_series

OOM = FailureCause.OUT_OF_MEMORY
TIMEOUT = FailureCause.TIMEOUT
OTHER = FailureCause.OTHER

# ------------------------------------------------------------------------------------ policy

POLICY = MemoryPolicy(
    start_mb={
        "megahit": {
            "root": 2000,
            "root:Environmental:Terrestrial:Soil": 4000,
            "root:Host-associated:Human": 1500,
        },
        "metaspades": {"root": 8000},
    },
    per_gbase_mb=500,
    growth=1.5,
    max_mb=20000,
    floor_mb=300,
)


@pytest.mark.parametrize(
    ("lineage", "expected"),
    [
        ("root:Environmental:Terrestrial:Soil", 4000),
        ("root:Environmental:Terrestrial:Soil:Forest soil", 4000),
        ("ROOT : environmental:terrestrial:soil:", 4000),  # case and spaces ignored
        ("root:Environmental:Terrestrial:Soils", 2000),  # whole components only
        ("root:Host-associated:Human:Digestive system:Large intestine", 1500),
        ("root:Host-associated:Mammals", 2000),
        ("root:Engineered:Wastewater", 2000),
        ("root", 2000),
        (None, 2000),
        ("", 2000),
    ],
)
def test_start_memory_walks_up_the_lineage(lineage, expected):
    assert start_memory(POLICY, "megahit", lineage, 0) == expected


def test_lineage_match_returns_the_key():
    table = POLICY.start_mb["megahit"]
    assert lineage_match(table, "root:Host-associated:Human:Skin") == "root:Host-associated:Human"
    with pytest.raises(KeyError):
        lineage_match({"root:Engineered": 1}, "root:Environmental")


def test_start_memory_scales_with_input_and_clamps():
    assert start_memory(POLICY, "megahit", "root:Engineered", 3e9) == 2000 + 1500
    assert start_memory(POLICY, "megahit", "root", 2_500_000) == 2002  # ceil(2001.25)
    assert start_memory(POLICY, "metaspades", "root", 100e9) == 20000  # capped at max_mb
    tiny = MemoryPolicy(start_mb={"megahit": {"root": 50}}, floor_mb=300)
    assert start_memory(tiny, "megahit", "root:x") == 300
    with pytest.raises(KeyError, match="flye"):
        start_memory(POLICY, "flye", "root")


def test_policy_validation():
    with pytest.raises(ValidationError, match="root"):
        MemoryPolicy(start_mb={"megahit": {"root:Engineered": 1000}})
    with pytest.raises(ValidationError):
        MemoryPolicy(max_mb=100, floor_mb=300)
    with pytest.raises(ValidationError):
        MemoryPolicy(growth=1.0)
    with pytest.raises(ValidationError):
        MemoryPolicy(unknown=1)
    # loads from a config mapping
    policy = MemoryPolicy.model_validate({"start_mb": {"megahit": {"root": 2000}}, "max_mb": 9000})
    assert policy.growth == 1.5 and policy.floor_mb == 300


def test_config_imports_the_policy_from_jobs_memory():
    from mgnify_db.jobs import MemoryPolicy as exported
    from mgnify_db.jobs.memory import MemoryPolicy as by_module

    assert exported is by_module


# ---------------------------------------------------------------------------------- decide

_clock = iter(range(10_000))


def ev(kind: str, attempt: int | None, cause=None, mem_mb=None, job_id=None, **kw) -> JobEvent:
    """An event with an increasing time (the order read_events returns)."""
    t = next(_clock)
    return JobEvent(
        event=EventKind(kind),
        rule="big",
        attempt=attempt,
        cause=cause,
        mem_mb=mem_mb,
        job_id=job_id,
        time=f"2026-01-01T00:{t // 60 % 60:02d}:{t % 60:02d}.000000+00:00",
        **kw,
    )


def attempt_failed(attempt: int, cause: FailureCause, mem_mb: int = 400) -> list[JobEvent]:
    return [ev("started", attempt, mem_mb=mem_mb), ev("failed", attempt, cause, mem_mb=mem_mb)]


def test_attempt_one_is_the_base():
    d = decide([], 400, 1, POLICY)
    assert d == MemoryDecision(
        attempt=1, mem_mb=400, base_mb=400, oom_failures=0, capped=False, reason=d.reason
    )
    assert d.reason == "attempt 1: base 400 MB"
    # old out-of-memory failures do not matter to a first attempt
    assert decide(attempt_failed(1, OOM), 400, 1, POLICY).mem_mb == 400
    assert decide([], 400, 0, POLICY).attempt == 1  # nonsense attempts are attempt 1


def test_oom_failures_grow_memory():
    events = attempt_failed(1, OOM)
    d = decide(events, 400, 2, POLICY)
    assert (d.mem_mb, d.oom_failures) == (600, 1)
    assert d.reason == "attempt 2: 1 out-of-memory failure(s): 400 MB x 1.5^1"
    events += attempt_failed(2, OOM, 600)
    d = decide(events, 400, 3, POLICY)
    assert (d.attempt, d.mem_mb, d.oom_failures) == (3, 900, 2)
    assert "1.5^2" in d.reason


def test_non_oom_failures_keep_memory():
    events = attempt_failed(1, OTHER)
    d = decide(events, 400, 2, POLICY)
    assert d.mem_mb == 400
    assert (
        d.reason == "attempt 2: no out-of-memory failure recorded (causes: other); keeping 400 MB"
    )
    events += attempt_failed(2, OOM)
    assert decide(events, 400, 3, POLICY).mem_mb == 600
    events += attempt_failed(3, TIMEOUT, 600)
    assert decide(events, 400, 4, POLICY).mem_mb == 600


def test_no_failure_recorded_keeps_memory():
    d = decide([], 400, 2, POLICY)
    assert d.mem_mb == 400 and "(causes: none)" in d.reason
    # a shell rule killed outside Slurm: started, never ended
    assert decide([ev("started", 1, mem_mb=400)], 400, 2, POLICY).mem_mb == 400


def test_failures_of_later_attempts_are_not_counted():
    events = [ev("started", 1), ev("completed", 1), ev("started", 2), ev("failed", 2, OOM)]
    assert decide(events, 400, 2, POLICY).mem_mb == 400


def test_failures_of_unknown_attempt_count():
    events = [ev("started", 1), ev("failed", None, OOM, job_id="77", source="slurm_log")]
    assert decide(events, 400, 2, POLICY).mem_mb == 600


def test_cap_and_floor():
    policy = MemoryPolicy(growth=4, max_mb=1000)
    d = decide(attempt_failed(1, OOM), 400, 2, policy)
    assert (d.mem_mb, d.capped) == (1000, True)
    assert d.reason.endswith("; capped at 1000 MB")
    assert decide([], 100, 1, policy).mem_mb == 300  # floor
    assert decide([], 5000, 1, policy).capped
    # default policy: growth 1.5, floor 300, no cap
    assert decide(attempt_failed(1, OOM), 10_000, 2, DEFAULT_POLICY).mem_mb == 15_000
    assert decide(attempt_failed(1, OOM), 333, 2, DEFAULT_POLICY).mem_mb == 500  # ceil(499.5)


def test_a_new_invocation_starts_a_new_series():
    events = attempt_failed(1, OOM) + attempt_failed(2, OOM, 600)
    assert decide(events, 400, 3, POLICY).mem_mb == 900
    # the workflow is run again: attempt 1 starts a new series, old OOMs no longer count
    events += [ev("started", 1, mem_mb=400), ev("failed", 1, OTHER)]
    assert decide(events, 400, 2, POLICY).mem_mb == 400
    events += attempt_failed(2, OOM)
    assert decide(events, 400, 3, POLICY).mem_mb == 600
    assert current_series(events)[0].attempt == 1 and len(current_series(events)) == 4


def test_a_job_killed_at_start_opens_its_series():
    """Attempt 1 of a new invocation killed before `started`: its log gave the attempt."""
    events = attempt_failed(1, OOM) + attempt_failed(2, OOM, 600)
    events.append(ev("failed", 1, OTHER, job_id="31", source="slurm_log"))
    assert decide(events, 400, 2, POLICY).mem_mb == 400
    # ... but the reconciled failure of a job that did start does not open a series
    events = [ev("started", 1, job_id="40"), ev("failed", 1, OOM, job_id="40")]
    events += [ev("started", 2, job_id="41"), ev("failed", 2, OOM, job_id="41")]
    assert decide(events, 400, 3, POLICY).mem_mb == 900


def test_decide_is_pure(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    events = attempt_failed(1, OOM)
    before = [e.model_copy() for e in events]
    first = decide(events, 400, 2, POLICY)
    assert decide(events, 400, 2, POLICY) == first  # same input, same answer
    assert events == before  # nothing mutated
    assert list(tmp_path.iterdir()) == []  # nothing written
    assert decide(tuple(events), 400, 2, POLICY) == first  # any sequence


# --------------------------------------------------------------------------- memory_events


def test_memory_events_explain_each_attempt():
    events = [ev("started", 1, mem_mb=400, job_id="4")]
    events.append(ev("failed", 1, OOM, mem_mb=400, job_id="4", source="slurm_log"))
    events += [ev("started", 2, mem_mb=600, job_id="5"), ev("failed", 2, OTHER, job_id="5")]
    events += [ev("started", 3, mem_mb=600, job_id="6"), ev("completed", 3, job_id="6")]
    memory = memory_events(events, POLICY)
    assert [(m["event"], m["attempt"], m["mem_mb"], m["job_id"]) for m in memory] == [
        ("memory", 1, 400, "4"),
        ("memory", 2, 600, "5"),
        ("memory", 3, 600, "6"),
    ]
    assert [m["message"] for m in memory] == [
        "attempt 1: base 400 MB",
        "attempt 2: 1 out-of-memory failure(s): 400 MB x 1.5^1",
        "attempt 3: 1 out-of-memory failure(s): 400 MB x 1.5^1",  # the other one keeps it
    ]
    assert memory[2]["time"] == events[4].time and memory[2]["rule"] == "big"
    assert (memory[1]["base_mb"], memory[1]["oom_failures"], memory[1]["capped"]) == (400, 1, False)


def test_memory_events_per_series_and_mismatches():
    events = attempt_failed(1, OOM) + [ev("started", 2, mem_mb=600)]
    # next invocation: attempt 1 with a new base, then a retry run with hand-set memory
    events += attempt_failed(1, OOM, 1000) + [ev("started", 2, mem_mb=5000)]
    messages = [m["message"] for m in memory_events(events, POLICY)]
    assert messages[2] == "attempt 1: base 1000 MB"
    assert messages[3] == (
        "attempt 2: 1 out-of-memory failure(s): 1000 MB x 1.5^1; the job ran with 5000 MB"
    )


def test_memory_events_without_an_attempt_one():
    events = [ev("started", 3, mem_mb=900), ev("started", None, mem_mb=1), ev("started", 1)]
    (memory,) = memory_events(events, POLICY)  # unknown attempt or memory: nothing to explain
    assert memory["message"] == "attempt 3: 900 MB (no attempt-1 record of this series)"
    assert "base_mb" not in memory
    assert memory_events([], POLICY) == []
