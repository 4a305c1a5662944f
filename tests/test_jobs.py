"""Job records: what a failing job writes drives both the catalogue and the next memory."""

import pytest

from mgnify_db.jobs import Job, job_record, memory_log
from mgnify_db.resources import DEFAULT_POLICY, memory_for_attempt
from mgnify_db.results import job_records


def fail_with(job: Job, exc: BaseException) -> None:
    with pytest.raises(type(exc)), job_record(job, "assembly"):
        raise exc


def test_out_of_memory_seen_by_the_job_grows_the_next_attempt(tmp_path):
    records = tmp_path / "jobs" / "assembly_megahit.jsonl"
    assert memory_for_attempt(1000, 1, memory_log(records)) == 1000
    fail_with(Job(records, attempt=1, mem_mb=1000), MemoryError("std::bad_alloc"))
    assert memory_for_attempt(1000, 2, memory_log(records)) == 1000 * DEFAULT_POLICY.growth
    # one failed event in the catalogue's view, not two
    events = [r for r in job_records(tmp_path / "jobs") if r["event"] != "memory"]
    assert [(e["event"], e.get("cause")) for e in events] == [
        ("started", None),
        ("failed", "out_of_memory"),
    ]


def test_other_failures_keep_the_memory(tmp_path):
    records = tmp_path / "jobs" / "assembly_megahit.jsonl"
    memory_for_attempt(1000, 1, memory_log(records))
    fail_with(Job(records, attempt=1, mem_mb=1000), ValueError("bad input file"))
    assert memory_for_attempt(1000, 2, memory_log(records)) == 1000
    (failed,) = [r for r in job_records(tmp_path / "jobs") if r["event"] == "failed"]
    assert (failed["cause"], failed["message"]) == ("other", "ValueError: bad input file")
