"""Slurm plugin logs: layout, reading failures, and reconciling them into job events."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mgnify_db.jobs import (
    EventKind,
    FailureCause,
    Job,
    JobEvent,
    MemoryPolicy,
    decide,
    events_path,
    read_events,
    reconcile_slurm,
    record,
)
from mgnify_db.jobs.events import append_event
from mgnify_db.jobs.slurm import (
    evidence,
    failed_log_cause,
    find_slurm_logs,
    log_header,
    slurm_wildcard_str,
    strip_echoed_commands,
)

OOM = FailureCause.OUT_OF_MEMORY
TIMEOUT = FailureCause.TIMEOUT
OTHER = FailureCause.OTHER
STARTED, COMPLETED, FAILED = EventKind.STARTED, EventKind.COMPLETED, EventKind.FAILED
POLICY = MemoryPolicy(growth=1.5, max_mb=20000)


@pytest.fixture(autouse=True)
def _no_slurm_env(monkeypatch):
    """Tests may run inside a Slurm job; the current job id must not leak into them."""
    for var in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
        monkeypatch.delenv(var, raising=False)


# ------------------------------------------------------------------------- fake plugin logs
# Shaped like the logs snakemake-executor-plugin-slurm 2.8.0 + Snakemake 9.27 write (banner,
# job summary, then the in-job snakemake's and Slurm's messages), shortened.


def banner(rule: str, wildcards: str, attempt: int, mem_mb: int) -> str:
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
Shell command: python3 -c 'b = b"x" * (700 * 2**20)  # MemoryError? Killed? --attempt 9'
"""


def oom_log(job: int, rule="big", wc="s=a", attempt=1, mem_mb=400) -> str:
    return (
        banner(rule, wc, attempt, mem_mb)
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
        banner(rule, wc, attempt, mem_mb)
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
    return banner(rule, wc, 1, 400) + (
        f"slurmstepd-localhost: error: *** JOB {job} ON localhost CANCELLED AT "
        "2026-11-25T09:06:11 DUE TO TIME LIMIT ***\n"
    )


def success_log(rule="big", wc="s=a") -> str:
    return (
        banner(rule, wc, 3, 900)
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


# ----------------------------------------------------------------------------- reading a log


def test_failed_log_cause_on_plugin_logs():
    assert failed_log_cause(oom_log(4)) is OOM
    # the echoed command says "MemoryError TIMEOUT": not evidence
    assert failed_log_cause(exit3_log(5)) is OTHER
    assert failed_log_cause(timeout_log(3)) is TIMEOUT
    assert failed_log_cause(success_log()) is None
    # a running job's log (banner only) is not a failure, whatever its command says
    assert failed_log_cause(banner("big", "s=a", 1, 400)) is None
    # success, but Slurm killed the step while snakemake was storing output
    assert failed_log_cause(success_log() + "srun: error: localhost: task 0: Killed\n") is OOM
    # a handled traceback in a job that then finished is no failure
    assert failed_log_cause("Traceback (most recent call last):\n" + success_log()) is None


def test_echoed_commands_are_not_evidence():
    text = strip_echoed_commands(exit3_log(5))
    assert "MemoryError" not in text and "TIMEOUT" not in text
    assert "returned non-zero exit status 3" in text  # the exit status is kept
    assert "Killed?" not in strip_echoed_commands(banner("big", "s=a", 1, 400))


def test_evidence_is_the_line_that_explains_the_cause():
    assert evidence(oom_log(4), OOM).startswith("slurmstepd-localhost: error: StepId=4.0 exceeded")
    assert "DUE TO TIME LIMIT" in evidence(timeout_log(3), TIMEOUT)
    assert evidence(exit3_log(5), OTHER) == "returned non-zero exit status 3"
    assert evidence("a\nb\nc\nd", OTHER) == "b | c | d"
    assert len(evidence("slurmstepd: error: exceeded memory limit " + "x" * 900, OOM)) == 500


def test_log_header():
    assert log_header(oom_log(4, attempt=2, mem_mb=600)) == (2, 600)
    # the user's command mentions "--attempt 9": only the banner's Command line counts
    assert log_header(banner("big", "s=a", 3, 900)) == (3, 900)
    assert log_header("slurmstepd: error: *** JOB 3 ON n1 CANCELLED ***") == (None, None)


# ------------------------------------------------------------------------------ finding logs


def test_slurm_wildcard_str():
    assert slurm_wildcard_str({"study": "ERP1", "run": "ERR2"}) == "ERP1_ERR2"
    assert slurm_wildcard_str({"path": "a/b"}) == "a_b"
    assert slurm_wildcard_str({}) == slurm_wildcard_str(None) == ""


@pytest.fixture
def log_tree(tmp_path):
    """<logdir>/rule_<rule>/<wildcard values>/<jobid>.log, as the plugin writes them."""
    root = tmp_path / "results" / "logs" / "slurm"
    wc2, wc3 = "study=ERP1, run=ERR2", "study=ERP1, run=ERR3"
    write_log(root / "rule_big" / "ERP1_ERR2" / "4.log", oom_log(4, wc=wc2))
    write_log(root / "rule_big" / "ERP1_ERR2" / "10.log", success_log(wc=wc2))
    write_log(root / "rule_big" / "ERP1_ERR2" / "9.log", oom_log(9, wc=wc2, attempt=2))
    write_log(root / "rule_big" / "ERP1_ERR2" / "notes.txt", "not a job log")
    write_log(root / "rule_big" / "ERP1_ERR3" / "5.log", oom_log(5, wc=wc3))
    # array tasks land directly in rule_<rule>/, whatever the wildcards
    write_log(root / "rule_big" / "12_1.log", oom_log(12, wc=wc2))
    write_log(root / "rule_big" / "12_2.log", oom_log(12, wc=wc3))
    write_log(root / "rule_big" / "13.log", oom_log(13, wc=wc2))  # not an array task: ignored
    # a rule without wildcards
    write_log(root / "rule_gather" / "7.log", exit3_log(7, rule="gather", wc=""))
    return root


class Wildcards:
    """Like Snakemake's Wildcards: items() but no Mapping."""

    def __init__(self, **kw):
        self._kw = kw

    def items(self):
        return self._kw.items()


def test_find_slurm_logs(log_tree):
    wc = {"study": "ERP1", "run": "ERR2"}
    logs = find_slurm_logs(log_tree, "big", wc)
    assert [log.job_id for log in logs] == ["4", "9", "10", "12_1"]  # numeric order
    assert logs[0].path == log_tree / "rule_big" / "ERP1_ERR2" / "4.log"
    assert logs[0].mtime == logs[0].path.stat().st_mtime
    err3 = find_slurm_logs(log_tree, "big", Wildcards(study="ERP1", run="ERR3"))
    assert [x.job_id for x in err3] == ["5", "12_2"]
    assert [x.job_id for x in find_slurm_logs(log_tree, "gather")] == ["7"]
    assert find_slurm_logs(log_tree, "nosuchrule", wc) == []
    assert find_slurm_logs(log_tree / "missing", "big", wc) == []


def test_array_logs_in_the_wildcard_folder_are_found(tmp_path):
    """The plugin registers array logs under <wildcards>/ too: either place is searched."""
    write_log(tmp_path / "rule_big" / "ERP1_ERR2" / "20_3.log", oom_log(20))
    assert [x.job_id for x in find_slurm_logs(tmp_path, "big", {"s": "ERP1", "r": "ERR2"})] == [
        "20_3"
    ]


# ------------------------------------------------------------------------------- reconciling

WC = {"study": "ERP1", "run": "ERR2"}


def started(path: Path, job_id: str, attempt: int, mem_mb: int, t: float) -> None:
    when = time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime(t))
    append_event(
        path,
        JobEvent(
            event=STARTED, rule="big", attempt=attempt, mem_mb=mem_mb, job_id=job_id, time=when
        ),
    )


def test_reconcile_appends_what_only_slurm_saw_once(log_tree, tmp_path):
    path = events_path(tmp_path / "jobs", "big")
    t0 = os.path.getmtime(log_tree / "rule_big" / "ERP1_ERR2" / "4.log") - 60
    started(path, "4", 1, 400, t0)  # OverMemoryKill: no end of its own
    started(path, "9", 2, 600, t0 + 10)
    append_event(path, JobEvent(event=FAILED, rule="big", job_id="9", cause=OTHER, message="x"))
    started(path, "10", 3, 900, t0 + 20)
    append_event(path, JobEvent(event=COMPLETED, rule="big", job_id="10"))
    new = reconcile_slurm(path, log_tree, "big", WC)
    # 9 ended by itself, 10 completed; 12_1 never started (killed at start): from its banner
    assert [(e.job_id, e.attempt, e.mem_mb, e.cause, e.source) for e in new] == [
        ("4", 1, 400, OOM, "slurm_log"),
        ("12_1", 1, 400, OOM, "slurm_log"),
    ]
    assert new[0].event is FAILED and new[0].rule == "big"
    assert "exceeded memory limit" in new[0].message
    assert new[0].log.endswith("rule_big/ERP1_ERR2/4.log")
    assert reconcile_slurm(path, log_tree, "big", WC) == []  # idempotent
    events = read_events(path)
    assert len(events) == 7
    assert sum(e.source == "slurm_log" for e in events) == 2
    assert {e.job_id for e in events if e.source == "slurm_log"} == {"4", "12_1"}


def test_reconcile_rule_without_wildcards(log_tree, tmp_path):
    (other,) = reconcile_slurm(tmp_path / "gather.jsonl", log_tree, "gather", {})
    assert other.cause is OTHER and "exit status 3" in other.message
    assert (other.rule, other.attempt, other.mem_mb) == ("gather", 1, 400)


def test_reconcile_skips_the_current_job(log_tree, tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "9")
    new = reconcile_slurm(tmp_path / "big.jsonl", log_tree, "big", WC)
    assert [e.job_id for e in new] == ["4", "12_1"]
    monkeypatch.setenv("SLURM_JOB_ID", "99")
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "12")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")
    assert [e.job_id for e in reconcile_slurm(tmp_path / "b.jsonl", log_tree, "big", WC)] == [
        "4",
        "9",
    ]


def test_reconcile_ignores_running_and_successful_jobs(tmp_path):
    logs = tmp_path / "slurm"
    write_log(logs / "rule_big" / "a" / "3.log", banner("big", "s=a", 1, 400))  # running
    write_log(logs / "rule_big" / "a" / "4.log", success_log())  # kept log, shell rule
    path = tmp_path / "big.jsonl"
    started(path, "3", 1, 400, time.time())
    assert reconcile_slurm(path, logs, "big", {"s": "a"}) == []
    assert reconcile_slurm(path, tmp_path / "no_logs", "big", {"s": "a"}) == []
    assert [e.event for e in read_events(path)] == [STARTED]


def test_reconciled_failure_is_stamped_when_it_happened(tmp_path):
    """Found late (after the next invocation started), it still belongs to its own series."""
    logs, path = tmp_path / "slurm", tmp_path / "big.jsonl"
    now = time.time()
    started(path, "4", 1, 400, now - 100)
    write_log(logs / "rule_big" / "a" / "4.log", oom_log(4), mtime=now - 90)
    started(path, "8", 1, 400, now - 10)  # a new invocation, before anyone reconciled
    (failed,) = reconcile_slurm(path, logs, "big", {"s": "a"})
    assert [e.job_id for e in read_events(path)] == ["4", "4", "8"]
    assert decide(read_events(path), 400, 2, POLICY).mem_mb == 400  # old series' OOM
    # a log whose mtime is older than its job's start (clock skew) sorts after the start
    started(path, "11", 1, 400, now)
    write_log(logs / "rule_big" / "a" / "11.log", oom_log(11), mtime=now - 1000)
    reconcile_slurm(path, logs, "big", {"s": "a"})
    assert [(e.event, e.job_id) for e in read_events(path)][-2:] == [
        (STARTED, "11"),
        (FAILED, "11"),
    ]


def test_the_slurm_flow(tmp_path, monkeypatch):
    """OverMemoryKill leaves its message only in the plugin's log: reconcile, then decide."""
    logs = tmp_path / "slurm_logs"
    path = events_path(tmp_path / "jobs", "big")
    wc = {"s": "a"}

    def run_job(job_id: str, attempt: int, mem_mb: int, log: str | None) -> None:
        monkeypatch.setenv("SLURM_JOB_ID", job_id)
        if log is None:  # succeeds
            with record(Job("big", path, attempt, mem_mb)):
                pass
        else:  # killed by Slurm after `started`: only the plugin's log tells
            append_event(
                path,
                JobEvent(event=STARTED, rule="big", attempt=attempt, mem_mb=mem_mb, job_id=job_id),
            )
            write_log(logs / "rule_big" / "a" / f"{job_id}.log", log)
        monkeypatch.delenv("SLURM_JOB_ID")

    def next_mb(attempt: int) -> int:
        reconcile_slurm(path, logs, "big", wc)  # the head process, before deciding
        return decide(read_events(path), 400, attempt, POLICY).mem_mb

    assert next_mb(1) == 400
    run_job("4", 1, 400, oom_log(4))
    assert next_mb(2) == 600
    run_job("6", 2, 600, exit3_log(6, rule="big", attempt=2, mem_mb=600))
    assert next_mb(3) == 600  # not out of memory: keep
    run_job("7", 3, 600, timeout_log(7))
    assert next_mb(4) == 600
    run_job("8", 4, 600, None)  # succeeded
    failures = [e for e in read_events(path) if e.event == FAILED]
    assert [(e.job_id, e.attempt, e.cause, e.mem_mb) for e in failures] == [
        ("4", 1, OOM, 400),
        ("6", 2, OTHER, 600),
        ("7", 3, TIMEOUT, 600),
    ]
    assert read_events(path)[-1].event is COMPLETED


def test_shell_rules_without_events_are_reconciled_from_their_logs(tmp_path):
    """A plain shell: rule writes no events; its logs alone drive its memory."""
    logs, path = tmp_path / "slurm", tmp_path / "hungry.jsonl"
    write_log(logs / "rule_hungry" / "a" / "4.log", oom_log(4, rule="hungry", wc="s=a"))
    reconcile_slurm(path, logs, "hungry", {"s": "a"})
    assert decide(read_events(path), 400, 2, POLICY).mem_mb == 600


def test_a_step_killed_after_its_job_completed_is_a_failure(tmp_path):
    """Slurm killed the step while the in-job snakemake stored outputs: Snakemake retries."""
    logs, path = tmp_path / "slurm", tmp_path / "big.jsonl"
    started(path, "4", 1, 400, time.time() - 10)
    append_event(path, JobEvent(event=COMPLETED, rule="big", attempt=1, job_id="4"))
    killed = success_log() + "srun: error: localhost: task 0: Killed\n"
    write_log(logs / "rule_big" / "a" / "4.log", killed)
    (failed,) = reconcile_slurm(path, logs, "big", {"s": "a"})
    assert (failed.cause, failed.attempt, failed.message) == (
        OOM,
        1,
        "srun: error: localhost: task 0: Killed",
    )
    assert [e.event for e in read_events(path)] == [STARTED, COMPLETED, FAILED]
    assert decide(read_events(path), 400, 2, POLICY).mem_mb == 600
    assert reconcile_slurm(path, logs, "big", {"s": "a"}) == []
