"""Slurm integration: profiles/slurm + mgnify_db.jobs.memory on the one-node cluster.

Run with ``pytest -m slurm`` as root. The session fixture starts the cluster with
``scripts/slurm-cluster start`` (installing Slurm/munge/MariaDB with apt on a fresh machine) and
stops it at the end only if it started it. One toy workflow run (~70 s) serves both tests.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mgnify_db.jobs.memory import FailureCause, FailureRecord, MemoryDecision, read_records

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_TIMEOUT_S = 600


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
from mgnify_db.jobs.memory import MemoryPolicy, memory_for_attempt

# growth 3: 400 MB -> 1200 MB. The step's limit also counts the in-job snakemake (~140 MB).
POLICY = MemoryPolicy(growth=3, max_mb=4000)
SLURM_LOGS = {slurm_logdir!r}


def mem_mb(base):
    def resource(wildcards, attempt, rulename):
        return memory_for_attempt(
            base, attempt, Path(f"results/failures/{{rulename}}/{{wildcards.s}}.jsonl"),
            slurm_log_dir=SLURM_LOGS, rule=rulename, wildcards=wildcards, policy=POLICY,
        )
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
        SNAKEFILE.format(repo=str(REPO), slurm_logdir=slurm_logdir, python=sys.executable)
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


def _split(path: Path) -> tuple[list[FailureRecord], list[MemoryDecision]]:
    records = read_records(path)
    return (
        [r for r in records if isinstance(r, FailureRecord)],
        [r for r in records if isinstance(r, MemoryDecision)],
    )


def _sacct(job_id: str, field: str = "state") -> str:
    out = subprocess.run(
        ["sacct", "-j", job_id, "-X", "-n", "-P", "-o", field], capture_output=True, text=True
    )
    return out.stdout.strip()


def test_oom_kill_is_retried_with_more_memory(toy_run):
    work, proc, log, slurm_logdir = toy_run
    # "broken" fails for good, so snakemake fails; keep-going let "hungry" finish anyway.
    assert proc.returncode == 1, log
    output = (work / "results" / "hungry" / "a.txt").read_text().split()
    assert output[1:] == ["1200"], log  # mem_mb of the successful job
    success_job = output[0]
    # ($SLURM_MEM_PER_NODE is not set inside the plugin's srun step; ask Slurm instead)
    assert _sacct(success_job, "reqmem") == "1200M"

    failures, decisions = _split(work / "results" / "failures" / "hungry" / "a.jsonl")
    assert [(d.attempt, d.mem_mb, d.oom_failures) for d in decisions] == [
        (1, 400, 0),
        (2, 1200, 1),
    ], log
    (oom,) = failures
    assert (oom.attempt, oom.cause, oom.mem_mb, oom.source) == (
        1,
        FailureCause.OUT_OF_MEMORY,
        400,
        "slurm_log",
    )
    assert "exceeded memory limit" in oom.message
    assert oom.job_id and oom.job_id != success_job
    assert Path(work / oom.log) == slurm_logdir / "rule_hungry" / "a" / f"{oom.job_id}.log"
    # Slurm's own view: OverMemoryKill ends the job FAILED (never OUT_OF_MEMORY without cgroups)
    assert _sacct(oom.job_id) == "FAILED"
    assert _sacct(success_job) == "COMPLETED"


def test_other_failure_keeps_memory(toy_run):
    work, proc, log, _ = toy_run
    failures, decisions = _split(work / "results" / "failures" / "broken" / "a.jsonl")
    # retries: 2 in the profile -> 3 attempts, all with the same memory
    assert [(d.attempt, d.mem_mb, d.oom_failures) for d in decisions] == [
        (1, 400, 0),
        (2, 400, 0),
        (3, 400, 0),
    ], log
    assert "keeping 400 MB" in decisions[1].reason
    # the third failure is found by the next run of the workflow (nothing evaluates attempt 4)
    assert [(f.attempt, f.cause, f.mem_mb) for f in failures] == [
        (1, FailureCause.OTHER, 400),
        (2, FailureCause.OTHER, 400),
    ], log
    assert all(f.job_id and "exit status 3" in f.message for f in failures)
    assert len({f.job_id for f in failures}) == 2
