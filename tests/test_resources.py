"""Unit tests for mgnify_db.resources (failure-aware memory)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from mgnify_db.resources import (
    FailureCause,
    FailureRecord,
    MemoryDecision,
    MemoryPolicy,
    classify_failure,
    failed_log_cause,
    find_slurm_logs,
    lineage_match,
    memory_for_attempt,
    read_records,
    record_failure,
    scan_slurm_logs,
    slurm_wildcard_str,
    start_memory,
)

OOM = FailureCause.OUT_OF_MEMORY
TIMEOUT = FailureCause.TIMEOUT
OTHER = FailureCause.OTHER


@pytest.fixture(autouse=True)
def _no_slurm_env(monkeypatch):
    """Tests may run inside a Slurm job; the current job id must not leak into them."""
    for var in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
        monkeypatch.delenv(var, raising=False)


# ------------------------------------------------------------------------- fake plugin logs
# Shaped like the logs snakemake-executor-plugin-slurm 2.8.0 + Snakemake 9.27 write (banner,
# job summary, then the in-job snakemake's and Slurm's messages), shortened.


def _banner(rule: str, wildcards: str, attempt: int, mem_mb: int) -> str:
    return f"""
SNAKEMAKE
=========
  Snakemake version: 9.27.1
  Command: /venv/.../snakemake/__main__.py --target-jobs {rule}:{wildcards} --attempt {attempt}
  Working directory: /work

Building DAG of jobs...
Select jobs to execute...
Execute 1 jobs...

[Wed Nov 25 09:07:37 2026]
localrule {rule}:
    output: results/{rule}/a.txt
    jobid: 0
    wildcards: {wildcards.replace(":", "=")}
    resources: tmpdir=/tmp, mem_mb={mem_mb}, runtime=5
Shell command: python3 -c 'b = b"x" * (700 * 2**20)  # MemoryError? Killed?'
"""


def oom_log(job: int, rule="big", wc="s=a", attempt=1, mem_mb=400) -> str:
    return (
        _banner(rule, wc, attempt, mem_mb)
        + f"""\
slurmstepd-localhost: error: StepId={job}.0 exceeded memory limit (586186 > 419430), being killed
slurmstepd-localhost: error: Exceeded job memory limit
slurmstepd-localhost: error: *** STEP {job}.0 ON localhost CANCELLED AT 2026-11-25T09:07:38 ***
srun: error: localhost: task 0: Killed
[Wed Nov 25 09:07:38 2026]
Error in rule {rule}:
    message: None
    jobid: 0
    shell:
        python3 -c 'b = b"x" * (700 * 2**20)'
        (command exited with non-zero exit code)
Exiting because a job execution failed. Look above for error messages
WorkflowError:
At least one job did not complete successfully.
"""
    )


def exit3_log(job: int, rule="bad", wc="s=a", attempt=1, mem_mb=400) -> str:
    return (
        _banner(rule, wc, attempt, mem_mb)
        + """\
failing
RuleException:
CalledProcessError in file "/work/Snakefile", line 26:
Command 'set -euo pipefail;  echo MemoryError TIMEOUT; exit 3' returned non-zero exit status 3.
Error in rule bad:
    message: None
    shell:
        echo MemoryError TIMEOUT; exit 3
        (command exited with non-zero exit code)
Exiting because a job execution failed. Look above for error messages
WorkflowError:
At least one job did not complete successfully.
srun: error: localhost: task 0: Exited with exit code 1
"""
    )


def timeout_log(job: int, rule="big", wc="s=a") -> str:
    return _banner(rule, wc, 1, 400) + (
        f"slurmstepd-localhost: error: *** JOB {job} ON localhost CANCELLED AT "
        "2026-11-25T09:06:11 DUE TO TIME LIMIT ***\n"
    )


def success_log(rule="big", wc="s=a") -> str:
    return (
        _banner(rule, wc, 3, 900)
        + """\
[Wed Nov 25 09:08:18 2026]
Finished jobid: 0 (Rule: big)
1 of 1 steps (100%) done
Elapsed time: 0:00:04.929525
"""
    )


def write_log(path: Path, text: str, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


# ------------------------------------------------------------------------------ classification


@pytest.mark.parametrize(
    ("exit_code", "text", "expected"),
    [
        (None, "slurmstepd-vm: error: StepId=4.0 exceeded memory limit (5 > 4), being killed", OOM),
        (None, "slurmstepd: error: Exceeded job memory limit", OOM),
        (137, "", OOM),
        (-9, "", OOM),
        (1, "terminate called after throwing an instance of 'std::bad_alloc'", OOM),
        (1, "Traceback (most recent call last):\n  ...\nMemoryError", OOM),
        (
            1,
            'Error occurs when running "sdbg_builder count", please refer to log\n[Exit code -9]',
            OOM,
        ),  # MEGAHIT wrapper, sub-process SIGKILLed
        (1, "megahit_core assemble ...; Exit code -9", OOM),
        (1, "/bin/bash: line 1:  1234 Killed                  megahit -1 r1.fq", OOM),
        (1, "srun: error: localhost: task 0: Killed", OOM),
        (1, "mmap(2) failed. Reason: Cannot allocate memory. Error code: 12", OOM),  # SPAdes
        (1, "ERROR: failed to allocate 8 GB of memory", OOM),
        (0, "slurmstepd: error: Detected 1 oom-kill event(s) in StepId=7.batch", OOM),
        (None, "SLURM status is: 'OUT_OF_MEMORY'", OOM),
        (1, "Exception in thread main java.lang.OutOfMemoryError: Java heap space", OOM),
        (
            None,
            "slurmstepd: error: *** JOB 3 ON localhost CANCELLED AT 2026-11-25T09:06:11 "
            "DUE TO TIME LIMIT ***",
            TIMEOUT,
        ),
        (None, "SLURM status is: 'TIMEOUT'. Reason: Unknown", TIMEOUT),
        # memory evidence wins; SIGKILL after a time limit is still a timeout
        (None, "DUE TO TIME LIMIT\nexceeded memory limit", OOM),
        (137, "*** JOB 3 ON n1 CANCELLED AT 2026-11-25T09:06:11 DUE TO TIME LIMIT ***", TIMEOUT),
        (3, "Command 'exit 3' returned non-zero exit status 3.", OTHER),
        (-7, 'Error occurs when running "builder build" for k = 29 [Exit code -7]', OTHER),
        (-6, "[Exit code -6]", OTHER),
        (1, "", OTHER),
        (None, "", OTHER),
        (1, "task was being killed by the user", OTHER),  # lowercase "killed" is no evidence
        (1, "could not allocate port 8080", OTHER),
    ],
)
def test_classify_failure(exit_code, text, expected):
    assert classify_failure(exit_code, text) is expected


def test_failed_log_cause_on_plugin_logs():
    assert failed_log_cause(oom_log(4)) is OOM
    # the echoed command says "MemoryError TIMEOUT": not evidence
    assert failed_log_cause(exit3_log(5)) is OTHER
    assert failed_log_cause(timeout_log(3)) is TIMEOUT
    assert failed_log_cause(success_log()) is None
    # a running job's log (banner only) is not a failure
    assert failed_log_cause(_banner("big", "s=a", 1, 400)) is None
    # success, but Slurm killed the step while snakemake was storing output
    assert failed_log_cause(success_log() + "srun: error: localhost: task 0: Killed\n") is OOM


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


# ----------------------------------------------------------------------------------- records


def test_record_failure_round_trip(tmp_path):
    path = tmp_path / "deep" / "megahit.failures.jsonl"
    rec = record_failure(
        path, attempt=1, cause="out_of_memory", mem_mb=400, job_id="17", message="x" * 2000
    )
    assert rec.cause is OOM and len(rec.message) == 500
    record_failure(path, attempt=2, cause=OTHER, mem_mb=600, job_id=None, message=" boom ")
    with open(path, "a") as fh:
        fh.write('{"kind": "failure", "cause": "out_of_mem')  # torn write
        fh.write("\nnot json\n")
        fh.write('{"cause": "timeout", "attempt": 3}\n')  # no kind: a failure
        fh.write('{"cause": "bogus"}\n')  # invalid cause: skipped
    records = read_records(path)
    assert [(r.attempt, r.cause, r.job_id) for r in records] == [
        (1, OOM, "17"),
        (2, OTHER, None),
        (3, TIMEOUT, None),
    ]
    assert records[1].message == "boom"
    first = json.loads(path.read_text().splitlines()[0])
    assert first["kind"] == "failure" and first["cause"] == "out_of_memory"
    assert read_records(tmp_path / "missing.jsonl") == []


# -------------------------------------------------------------------------------- escalation


def _decisions(path: Path) -> list[MemoryDecision]:
    return [r for r in read_records(path) if isinstance(r, MemoryDecision)]


def test_attempt_one_is_base_and_recorded_once(tmp_path):
    path = tmp_path / "f.jsonl"
    for _ in range(3):  # head node, in-job snakemake, srun step: one decision line
        assert memory_for_attempt(400, 1, path, policy=POLICY) == 400
    (decision,) = _decisions(path)
    assert (decision.attempt, decision.mem_mb, decision.oom_failures) == (1, 400, 0)
    assert "base" in decision.reason


def test_oom_failures_grow_memory(tmp_path):
    path = tmp_path / "f.jsonl"
    assert memory_for_attempt(400, 1, path, policy=POLICY) == 400
    record_failure(path, attempt=1, cause=OOM, mem_mb=400, job_id="1", message="")
    assert memory_for_attempt(400, 2, path, policy=POLICY) == 600
    record_failure(path, attempt=2, cause=OOM, mem_mb=600, job_id="2", message="")
    assert memory_for_attempt(400, 3, path, policy=POLICY) == 900
    decision = _decisions(path)[-1]
    assert (decision.attempt, decision.mem_mb, decision.oom_failures) == (3, 900, 2)
    assert "1.5^2" in decision.reason


def test_non_oom_failures_keep_memory(tmp_path):
    path = tmp_path / "f.jsonl"
    memory_for_attempt(400, 1, path, policy=POLICY)
    record_failure(path, attempt=1, cause=OTHER, mem_mb=400, job_id="1", message="exit 3")
    assert memory_for_attempt(400, 2, path, policy=POLICY) == 400
    assert "other" in _decisions(path)[-1].reason
    record_failure(path, attempt=2, cause=OOM, mem_mb=400, job_id="2", message="")
    assert memory_for_attempt(400, 3, path, policy=POLICY) == 600
    record_failure(path, attempt=3, cause=TIMEOUT, mem_mb=600, job_id="3", message="")
    assert memory_for_attempt(400, 4, path, policy=POLICY) == 600


def test_no_failure_recorded_keeps_memory(tmp_path):
    assert memory_for_attempt(400, 2, tmp_path / "f.jsonl", policy=POLICY) == 400


def test_failures_of_later_attempts_are_not_counted(tmp_path):
    path = tmp_path / "f.jsonl"
    memory_for_attempt(400, 1, path, policy=POLICY)
    record_failure(path, attempt=2, cause=OOM, mem_mb=600, job_id="2", message="")
    assert memory_for_attempt(400, 2, path, policy=POLICY) == 400


def test_cap_and_floor(tmp_path):
    policy = MemoryPolicy(growth=4, max_mb=1000)
    path = tmp_path / "f.jsonl"
    memory_for_attempt(400, 1, path, policy=policy)
    record_failure(path, attempt=1, cause=OOM, mem_mb=400, job_id="1", message="")
    assert memory_for_attempt(400, 2, path, policy=policy) == 1000
    decision = _decisions(path)[-1]
    assert decision.capped and "capped at 1000" in decision.reason
    assert memory_for_attempt(100, 1, tmp_path / "g.jsonl", policy=policy) == 300
    # default policy: growth 1.5, floor 300, no cap
    path = tmp_path / "h.jsonl"
    record_failure(path, attempt=1, cause=OOM, mem_mb=400, job_id="1", message="")
    assert memory_for_attempt(10_000, 2, path) == 15_000


def test_a_new_run_starts_a_new_series(tmp_path):
    path = tmp_path / "f.jsonl"
    memory_for_attempt(400, 1, path, policy=POLICY)
    record_failure(path, attempt=1, cause=OOM, mem_mb=400, job_id="1", message="")
    assert memory_for_attempt(400, 2, path, policy=POLICY) == 600
    record_failure(path, attempt=2, cause=OOM, mem_mb=600, job_id="2", message="")
    # the workflow is run again: attempt 1 starts a new series, old OOMs no longer count
    assert memory_for_attempt(400, 1, path, policy=POLICY) == 400
    assert memory_for_attempt(400, 2, path, policy=POLICY) == 400
    record_failure(path, attempt=2, cause=OOM, mem_mb=400, job_id="9", message="")
    assert memory_for_attempt(400, 3, path, policy=POLICY) == 600


def test_record_false_writes_nothing(tmp_path):
    path = tmp_path / "f.jsonl"
    assert memory_for_attempt(400, 1, path, policy=POLICY, record=False) == 400
    assert not path.exists()


# ------------------------------------------------------------------------------- slurm logs


def test_slurm_wildcard_str():
    assert slurm_wildcard_str({"study": "ERP1", "run": "ERR2"}) == "ERP1_ERR2"
    assert slurm_wildcard_str({"path": "a/b"}) == "a_b"
    assert slurm_wildcard_str({}) == slurm_wildcard_str(None) == ""


@pytest.fixture
def log_tree(tmp_path):
    """<logdir>/rule_<rule>/<wildcard values>/<jobid>.log, as the plugin writes them."""
    root = tmp_path / "results" / "logs" / "slurm"
    write_log(root / "rule_big" / "ERP1_ERR2" / "4.log", oom_log(4, wc="study=ERP1, run=ERR2"))
    write_log(root / "rule_big" / "ERP1_ERR2" / "10.log", success_log(wc="study=ERP1, run=ERR2"))
    write_log(root / "rule_big" / "ERP1_ERR2" / "9.log", oom_log(9, wc="study=ERP1, run=ERR2"))
    write_log(root / "rule_big" / "ERP1_ERR2" / "notes.txt", "not a job log")
    write_log(root / "rule_big" / "ERP1_ERR3" / "5.log", oom_log(5, wc="study=ERP1, run=ERR3"))
    # array tasks land directly in rule_<rule>/, whatever the wildcards
    write_log(root / "rule_big" / "12_1.log", oom_log(12, wc="study=ERP1, run=ERR2"))
    write_log(root / "rule_big" / "12_2.log", oom_log(12, wc="study=ERP1, run=ERR3"))
    # a rule without wildcards
    write_log(root / "rule_gather" / "7.log", exit3_log(7, rule="gather", wc=""))
    return root


def test_find_slurm_logs(log_tree):
    wc = {"study": "ERP1", "run": "ERR2"}
    logs = find_slurm_logs(log_tree, "big", wc)
    assert [log.job_id for log in logs] == ["4", "9", "10", "12_1"]  # numeric order
    assert logs[0].path == log_tree / "rule_big" / "ERP1_ERR2" / "4.log"
    assert [
        x.job_id for x in find_slurm_logs(log_tree, "big", {"study": "ERP1", "run": "ERR3"})
    ] == [
        "5",
        "12_2",
    ]
    assert [x.job_id for x in find_slurm_logs(log_tree, "gather")] == ["7"]
    assert find_slurm_logs(log_tree, "nosuchrule", wc) == []
    assert find_slurm_logs(log_tree / "missing", "big", wc) == []


def test_scan_records_new_failures_once(log_tree, tmp_path):
    path = tmp_path / "big.failures.jsonl"
    wc = {"study": "ERP1", "run": "ERR2"}
    new = scan_slurm_logs(path, log_tree, "big", wc)
    assert [(r.job_id, r.cause, r.source) for r in new] == [
        ("4", OOM, "slurm_log"),
        ("9", OOM, "slurm_log"),
        ("12_1", OOM, "slurm_log"),
    ]
    assert "exceeded memory limit" in new[0].message
    assert new[0].log.endswith("rule_big/ERP1_ERR2/4.log")
    assert scan_slurm_logs(path, log_tree, "big", wc) == []  # already recorded
    assert len(read_records(path)) == 3
    (other,) = scan_slurm_logs(tmp_path / "gather.jsonl", log_tree, "gather")
    assert other.cause is OTHER and "exit status 3" in other.message


def test_scan_skips_the_current_job(log_tree, tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "9")
    new = scan_slurm_logs(tmp_path / "f.jsonl", log_tree, "big", {"study": "ERP1", "run": "ERR2"})
    assert [r.job_id for r in new] == ["4", "12_1"]


def test_memory_for_attempt_finds_slurm_oom_kills(tmp_path):
    """The Slurm flow: OverMemoryKill leaves its message only in the plugin's log."""
    logdir = tmp_path / "slurm_logs"
    path = tmp_path / "results" / "failures" / "big" / "a.jsonl"
    wc = {"s": "a"}
    kw = dict(slurm_log_dir=logdir, rule="big", wildcards=wc, policy=POLICY)
    assert memory_for_attempt(400, 1, path, **kw) == 400
    now = time.time()
    write_log(logdir / "rule_big" / "a" / "4.log", oom_log(4), mtime=now + 5)
    assert memory_for_attempt(400, 2, path, **kw) == 600
    write_log(logdir / "rule_big" / "a" / "6.log", exit3_log(6, rule="big"), mtime=now + 10)
    assert memory_for_attempt(400, 3, path, **kw) == 600
    records = read_records(path)
    failures = [r for r in records if isinstance(r, FailureRecord)]
    # attempt and memory are inferred from the decision taken before the log was written
    assert [(f.job_id, f.attempt, f.cause, f.mem_mb) for f in failures] == [
        ("4", 1, OOM, 400),
        ("6", 2, OTHER, 600),
    ]
    assert [(d.attempt, d.mem_mb, d.rule, d.wildcards) for d in _decisions(path)] == [
        (1, 400, "big", wc),
        (2, 600, "big", wc),
        (3, 600, "big", wc),
    ]
