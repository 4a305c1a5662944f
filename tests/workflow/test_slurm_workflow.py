"""The demo study as Slurm jobs (profiles/slurm) on the project's one-node cluster."""

from __future__ import annotations

import subprocess
import time

import pytest
import sqlite_utils
from support import (
    SLURM_SCRIPT,
    snakemake,
    snakemake_cmd,
    workflow_env,
    write_demo_variant,
    write_workdir,
)

from mgnify_db.catalogue import TABLES, dump

pytestmark = [pytest.mark.slurm, pytest.mark.e2e]
TOOL_STAGES = {"download", "qc", "assembly", "cds", "rrna"}


# MEGAHIT is not bit-reproducible across thread timings (2 threads sharing 2 cores with another
# job locally, alone under Slurm): the same contigs up to a few bases. Those values are compared
# with a tolerance, everything else exactly.
ASSEMBLY_DERIVED = {
    "assemblies": {"n_contigs", "total_length", "n50", "l50", "largest_contig", "gc_content"},
    "analyses": {"cds_count", "rrna_16s", "rrna_23s", "rrna_5s", "rrna_total"},
    "downloads": {"size_bytes"},
}


def canonical(db_path):
    """The catalogue without what differs by executor: job events and ids."""
    db = sqlite_utils.Database(db_path)
    return dump(db, [t for t in TABLES if t != "events"], canonical=True)


def assert_same_catalogue(one, two, rel=0.01):
    a, b = canonical(one), canonical(two)
    assert a.keys() == b.keys()
    for table in a:
        loose = ASSEMBLY_DERIVED.get(table, set())
        strict = [
            [{k: v for k, v in r.items() if k not in loose} for r in d[table]] for d in (a, b)
        ]
        assert strict[0] == strict[1], table
        for x, y in zip(a[table], b[table], strict=True):
            for k in loose:
                assert x[k] == pytest.approx(y[k], rel=rel), (table, k, x, y)


def slurm_state(job_id: str) -> str:
    out = subprocess.run(
        ["sacct", "-j", job_id, "-X", "-n", "-P", "-o", "state"], capture_output=True, text=True
    )
    return out.stdout.strip()


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory, mirror):
    workdir = write_workdir(tmp_path_factory.mktemp("slurm"), mirror.portal_url)
    t0 = time.monotonic()
    proc = snakemake(workdir, profile="slurm", timeout=1200)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return workdir, time.monotonic() - t0


def test_same_catalogue_as_the_local_executor(slurm_run, demo_run):
    workdir, _ = slurm_run
    assert_same_catalogue(workdir / "results/catalogue.db", demo_run / "results/catalogue.db")


def test_every_job_ran_under_slurm(slurm_run):
    workdir, _ = slurm_run
    db = sqlite_utils.Database(workdir / "results/catalogue.db")
    started = list(db.query("select stage, job_id, host from events where event = 'started'"))
    assert {e["stage"] for e in started} == TOOL_STAGES
    job_ids = {e["job_id"] for e in started}
    assert None not in job_ids and len(job_ids) == len(started)  # one Slurm job per attempt
    assert {slurm_state(j) for j in job_ids} == {"COMPLETED"}
    logs = list((workdir / "results/logs/slurm").rglob("*.log"))
    assert {p.stem for p in logs} >= job_ids


def test_slurmd_stopped_mid_run_then_a_rerun_completes(slurm_cluster, tmp_path, mirror, demo_run):
    workdir = write_workdir(tmp_path, mirror.portal_url)
    log = tmp_path / "snakemake.log"  # a file, not a pipe: a full pipe would block snakemake
    proc = subprocess.Popen(
        ["timeout", "-s", "INT", "900", *snakemake_cmd(workdir, profile="slurm")],
        cwd=workdir,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env=workflow_env(),
    )
    try:
        # wait until assemblies are running, then take the node's daemon away for a while
        jobs = workdir / "results/studies/PRJEB00001/runs"
        deadline = time.monotonic() + 600
        while not list(jobs.glob("*/jobs/assembly_megahit.jsonl")):
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "no assembly started"
            time.sleep(1)
        subprocess.run([SLURM_SCRIPT, "stop-slurmd"], check=True, timeout=120)
        time.sleep(15)
        subprocess.run([SLURM_SCRIPT, "start-slurmd"], check=True, timeout=120)
        proc.wait(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    first_rc = proc.returncode
    if first_rc != 0:  # allowed, but it must say why, and a re-run must finish the work
        out = log.read_text()
        assert "Error" in out or "error" in out, out[-3000:]
        again = snakemake(workdir, profile="slurm", timeout=900)
        assert again.returncode == 0, again.stderr[-4000:]
    assert_same_catalogue(workdir / "results/catalogue.db", demo_run / "results/catalogue.db")


def test_assembly_killed_for_memory_is_retried_with_more(slurm_cluster, tmp_path, mirror):
    """A real MEGAHIT job given too little memory: Slurm's OverMemoryKill, then more memory."""
    workdir = write_demo_variant(
        tmp_path, mirror.portal_url, include_runs=["ERR0000001"], assembly_mem_mb=300
    )
    proc = snakemake(workdir, profile="slurm", timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    db = sqlite_utils.Database(workdir / "results/catalogue.db")
    (asm,) = db["assemblies"].rows
    assert asm["status"] == "completed" and asm["n_contigs"] > 0
    events = list(
        db.query(
            "select event, attempt, mem_mb, cause, job_id, message from events "
            "where stage = 'assembly' order by time"
        )
    )
    kills = [e for e in events if e["event"] == "failed"]
    assert kills and all(e["cause"] == "out_of_memory" and e["job_id"] for e in kills)
    assert "exceeded memory limit" in kills[0]["message"]
    asked = [e["mem_mb"] for e in events if e["event"] == "memory"]
    assert asked[0] == 300 and asked == sorted(asked) and asked[-1] > 300
    (done,) = [e for e in events if e["event"] == "completed"]
    assert done["mem_mb"] == asked[-1] and done["attempt"] == len(kills) + 1
    assert slurm_state(kills[0]["job_id"]) == "FAILED"
