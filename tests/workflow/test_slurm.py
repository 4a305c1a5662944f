"""Slurm integration: profiles/slurm + mgnify_db.jobs on the one-node cluster.

Run with ``pytest -m slurm`` as root. The session fixture starts the cluster with
``scripts/slurm-cluster start`` (installing Slurm/munge/MariaDB with apt on a fresh machine) and
stops it at the end only if it started it. One toy workflow run (~70 s) serves both tests.

The toy rules are plain ``shell:`` rules: they write no job events, so every failure in their
events files comes from the Slurm plugin's job logs (``reconcile_slurm``), attempt and memory
from the in-job snakemake's banner. Their resource callable is the workflow's, in three lines.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from support import REPO

from mgnify_db.jobs import (
    EventKind,
    FailureCause,
    MemoryPolicy,
    decide,
    events_path,
    read_events,
    reconcile_slurm,
)

pytestmark = pytest.mark.slurm

WORKFLOW_TIMEOUT_S = 600
# growth 3: 400 MB -> 1200 MB. The step's limit also counts the in-job snakemake (~140 MB).
POLICY = MemoryPolicy(growth=3, max_mb=4000)


def _snakemake() -> str:
    """snakemake of the running interpreter's environment (project venv), else from PATH."""
    candidate = Path(sys.executable).parent / "snakemake"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("snakemake")
    if not found:
        pytest.skip("snakemake executable not found next to python or on PATH")
    return found


SNAKEFILE = """\
import sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from mgnify_db.jobs import MemoryPolicy, decide, events_path, read_events, reconcile_slurm

POLICY = MemoryPolicy(growth={growth}, max_mb={max_mb})
SLURM_LOGS = {slurm_logdir!r}


def mem_mb(base):
    def resource(wildcards, attempt, rulename):
        path = events_path(Path(f"results/jobs/{{wildcards.s}}"), rulename)
        reconcile_slurm(path, SLURM_LOGS, rulename, wildcards)
        return decide(read_events(path), base, attempt, POLICY).mem_mb
    return resource


rule all:
    input: "results/hungry/a.txt", "results/broken/a.txt"


rule hungry:
    output: "results/hungry/{{s}}.txt"
    resources: mem_mb=mem_mb(400), runtime=5
    shell:
        "{python} -c 'import time; b = b\\"x\\" * (700 * 2**20); time.sleep(2)' && "
        "echo $SLURM_JOB_ID {{resources.mem_mb}} > {{output}}"


rule broken:
    output: "results/broken/{{s}}.txt"
    resources: mem_mb=mem_mb(400), runtime=5
    shell: "echo broken input; exit 3"
"""


@pytest.fixture(scope="module")
def toy_run(slurm_cluster, tmp_path_factory):
    work = tmp_path_factory.mktemp("slurm_toy")
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    profile["jobs"] = 4
    (work / "profile").mkdir()
    (work / "profile" / "config.yaml").write_text(yaml.safe_dump(profile))
    slurm_logdir = profile["slurm-logdir"]
    (work / "Snakefile").write_text(
        SNAKEFILE.format(
            repo=str(REPO),
            slurm_logdir=slurm_logdir,
            python=sys.executable,
            growth=POLICY.growth,
            max_mb=POLICY.max_mb,
        )
    )
    cmd = [
        "timeout", "-s", "INT", str(WORKFLOW_TIMEOUT_S),
        _snakemake(), "--profile", str(work / "profile"), "--directory", str(work),
    ]  # fmt: skip
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    elapsed = time.monotonic() - t0
    log = f"rc={proc.returncode} after {elapsed:.0f} s\n{proc.stdout}\n{proc.stderr}"
    assert proc.returncode != 124, f"snakemake timed out\n{log}"
    return work, proc, log, Path(work / slurm_logdir)


def _sacct(job_id: str, field: str = "state") -> str:
    out = subprocess.run(
        ["sacct", "-j", job_id, "-X", "-n", "-P", "-o", field], capture_output=True, text=True
    )
    return out.stdout.strip()


def _slurm_jobs(slurm_logdir: Path, rule: str) -> list[str]:
    """Slurm job ids of `rule` for wildcard s=a, oldest first (the plugin keeps every log)."""
    ids = [p.stem for p in (slurm_logdir / f"rule_{rule}" / "a").glob("*.log")]
    return sorted(ids, key=int)


def test_oom_kill_is_retried_with_more_memory(toy_run):
    work, proc, log, slurm_logdir = toy_run
    # "broken" fails for good, so snakemake fails; keep-going let "hungry" finish anyway.
    assert proc.returncode == 1, log
    output = (work / "results" / "hungry" / "a.txt").read_text().split()
    assert output[1:] == ["1200"], log  # mem_mb of the successful job
    success_job = output[0]

    events = read_events(events_path(work / "results" / "jobs" / "a", "hungry"))
    (oom,) = events  # a shell rule writes nothing: its one event is the reconciled kill
    assert (oom.event, oom.attempt, oom.cause, oom.mem_mb, oom.source) == (
        EventKind.FAILED,
        1,
        FailureCause.OUT_OF_MEMORY,
        400,
        "slurm_log",
    ), log
    assert "exceeded memory limit" in oom.message
    assert oom.job_id and oom.job_id != success_job
    assert Path(work / oom.log) == slurm_logdir / "rule_hungry" / "a" / f"{oom.job_id}.log"

    # What the resource callable decided for attempt 2, from those events
    decision = decide(events, 400, 2, POLICY)
    assert (decision.mem_mb, decision.oom_failures) == (1200, 1), decision
    # ... and what Slurm was asked for. ($SLURM_MEM_PER_NODE is not set inside the plugin's
    # srun step; ask Slurm instead.) Exactly two jobs: the killed one, then the retry.
    assert _slurm_jobs(slurm_logdir, "hungry") == [oom.job_id, success_job]
    assert [_sacct(j, "reqmem") for j in (oom.job_id, success_job)] == ["400M", "1200M"]
    # Slurm's own view: OverMemoryKill ends the job FAILED (never OUT_OF_MEMORY without cgroups)
    assert _sacct(oom.job_id) == "FAILED"
    assert _sacct(success_job) == "COMPLETED"


def test_other_failure_keeps_memory(toy_run):
    work, proc, log, slurm_logdir = toy_run
    path = events_path(work / "results" / "jobs" / "a", "broken")
    failures = read_events(path)
    # retries: 2 in the profile -> 3 attempts. The third failure is not in the events yet:
    # nothing evaluates attempt 4 (the workflow's onerror reconciles it; see below).
    assert [(f.event, f.attempt, f.cause, f.mem_mb, f.source) for f in failures] == [
        (EventKind.FAILED, 1, FailureCause.OTHER, 400, "slurm_log"),
        (EventKind.FAILED, 2, FailureCause.OTHER, 400, "slurm_log"),
    ], log
    assert all(f.job_id and "exit status 3" in f.message for f in failures)
    assert len({f.job_id for f in failures}) == 2

    # The decisions for attempts 2 and 3: no out-of-memory failure, so the same memory
    for attempt in (2, 3):
        d = decide(failures[: attempt - 1], 400, attempt, POLICY)
        assert (d.mem_mb, d.oom_failures) == (400, 0), d
        assert "keeping 400 MB" in d.reason
    # ... and Slurm was asked for the same memory three times
    jobs = _slurm_jobs(slurm_logdir, "broken")
    assert len(jobs) == 3 and jobs[:2] == [f.job_id for f in failures], log
    assert [_sacct(j, "reqmem") for j in jobs] == ["400M"] * 3
    assert {_sacct(j) for j in jobs} == {"FAILED"}

    # Reconciling once more finds the third failure (attempt and memory from the log's
    # banner), once: a second pass adds nothing.
    (third,) = reconcile_slurm(path, slurm_logdir, "broken", {"s": "a"})
    assert (third.job_id, third.attempt, third.cause, third.mem_mb) == (
        jobs[2],
        3,
        FailureCause.OTHER,
        400,
    )
    assert reconcile_slurm(path, slurm_logdir, "broken", {"s": "a"}) == []
    assert [e.job_id for e in read_events(path)] == jobs
