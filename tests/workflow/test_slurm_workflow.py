"""The demo study as Slurm jobs (profiles/slurm) on the project's one-node cluster."""

from __future__ import annotations

import math
import subprocess
import time

import pytest
import support
from support import (
    SLURM_SCRIPT,
    snakemake,
    snakemake_cmd,
    workflow_env,
    write_demo_variant,
    write_workdir,
)

from mgnify_db.catalogue import TABLES, dump, open_store

pytestmark = [pytest.mark.slurm, pytest.mark.e2e]
# The rules that run as Slurm jobs (the others are local rules of the head snakemake).
SLURM_RULES = {"ena_download", "qc_fastp", "assembly_megahit", "analysis_cds", "analysis_taxonomy"}


# MEGAHIT is not bit-reproducible across thread timings (2 threads sharing 2 cores with another
# job locally, alone under Slurm): the same contigs up to a few bases. Those values are compared
# with a tolerance, everything else exactly.
ASSEMBLY_DERIVED = {
    "assemblies": {"n_contigs", "total_length", "n50", "l50", "largest_contig", "gc_content"},
    "analyses": {"cds_count", "rrna_16s", "rrna_23s", "rrna_5s", "rrna_total"},
    # md5: every file is assembly-derived or a report stamped with its run's time and paths
    # (fastp.html); each md5 is checked against its file's bytes in test_demo_site
    "downloads": {"size_bytes", "md5"},
}


def query(db_path, sql, params=()):
    with open_store(db_path, create=False) as store:
        return list(store.query(sql, params))


# When a record was made or changed says when the run happened, not what it holds.
TIMES = {"created_at", "updated_at"}


def canonical(db_path):
    """The catalogue without what differs by executor: job events, ids and times."""
    with open_store(db_path, create=False) as store:
        out = dump(store, [t for t in TABLES if t != "events"], canonical=True)
    for rows in out.values():
        for row in rows:
            for col in TIMES & row.keys():
                del row[col]
    return out


def assert_same_catalogue(one, two, rel=0.01):
    """Equal but for what MEGAHIT's thread timing changes (support.assert_same_catalogue:
    assembly-derived numbers, inside JSON too, and the annotation terms they give)."""
    support.assert_same_catalogue(one, two, rel=rel)


def slurm_jobs(job_ids) -> dict[str, dict]:
    """Slurm's accounting of jobs: id -> {state, reqmem}, in one sacct call."""
    out = subprocess.run(
        ["sacct", "-j", ",".join(sorted(job_ids)), "-X", "-n", "-P", "-o", "jobid,state,reqmem"],
        capture_output=True,
        text=True,
    )
    jobs = {}
    for line in out.stdout.splitlines():
        job_id, state, reqmem = line.split("|")
        jobs[job_id] = {"state": state, "reqmem": reqmem}
    return jobs


def slurm_state(job_id: str) -> str:
    return slurm_jobs([job_id]).get(job_id, {}).get("state", "")


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
    db = workdir / "results/catalogue.db"
    events = query(
        db, "select run, rule, event, attempt, mem_mb, job_id from events where run is not null"
    )
    started = [e for e in events if e["event"] == "started"]
    assert {e["rule"] for e in started} == SLURM_RULES
    job_ids = {e["job_id"] for e in started}
    assert None not in job_ids and len(job_ids) == len(started)  # one Slurm job per attempt
    jobs = slurm_jobs(job_ids)
    assert {j["state"] for j in jobs.values()} == {"COMPLETED"} and jobs.keys() == job_ids
    logs = list((workdir / "results/logs/slurm").rglob("*.log"))
    assert {p.stem for p in logs} >= job_ids
    # Each attempt's memory is explained in the catalogue (one `memory` event per job), and it
    # is what Slurm was asked for.
    key = ("run", "rule", "attempt", "mem_mb", "job_id")
    memory = sorted(tuple(e[k] for k in key) for e in events if e["event"] == "memory")
    assert memory == sorted(tuple(e[k] for k in key) for e in started)
    for e in started:
        assert jobs[e["job_id"]]["reqmem"] == f"{e['mem_mb']}M", e


def test_records_show_their_slurm_jobs(slurm_run):
    """runs, assemblies and analyses name the Slurm job that last worked on them."""
    workdir, _ = slurm_run
    db = workdir / "results/catalogue.db"
    last: dict[tuple[str, str], str] = {}  # (run, rule) -> job id of its latest attempt
    sql = "select run, rule, job_id from events where event = 'started' order by time"
    for e in query(db, sql):
        last[e["run"], e["rule"]] = e["job_id"]
    runs = {r["accession"]: r for r in query(db, "select * from runs")}
    for acc, r in runs.items():
        if r["status"] == "skipped":  # never downloaded: no job
            assert r["job_id"] is None, r
        else:  # the run's last job before any pipeline: QC
            assert r["job_id"] == last[acc, "qc_fastp"], r
    assemblies = query(db, "select * from assemblies where status = 'completed'")
    analyses = query(db, "select * from analyses where status = 'completed'")
    assert len(assemblies) == len(analyses) == 4  # the public demo study's 3, the private one
    for a in assemblies:
        assert a["job_id"] == last[a["run"], "assembly_megahit"], a
    for a in analyses:
        assert a["job_id"] in {
            last[a["run"], "analysis_cds"],
            last[a["run"], "analysis_taxonomy"],
        }, a
    shown = {r["job_id"] for r in [*runs.values(), *assemblies, *analyses]} - {None}
    assert {j["state"] for j in slurm_jobs(shown).values()} == {"COMPLETED"}


def test_slurmd_stopped_mid_run_then_a_rerun_completes(slurm_cluster, tmp_path, mirror, demo_run):
    """The node's daemon goes away while an assembly runs (the demo's lambda run alone: the
    whole demo under Slurm is slurm_run's): the workflow fails or waits, and a re-run finishes
    with the records the local executor made."""
    run = "ERR0000003"
    workdir = write_demo_variant(tmp_path, mirror.portal_url, include_runs=[run])
    log = tmp_path / "snakemake.log"  # a file, not a pipe: a full pipe would block snakemake
    proc = subprocess.Popen(
        ["timeout", "-s", "INT", "900", *snakemake_cmd(workdir, profile="slurm")],
        cwd=workdir,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env=workflow_env(local=False),
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
    got, want = (
        {
            table: query(
                w / "results/catalogue.db", f"select * from {table} where {key} = ?", [run]
            )
            for table, key in (("runs", "accession"), ("assemblies", "run"), ("analyses", "run"))
        }
        for w in (workdir, demo_run)
    )
    for table, (row,) in got.items():
        (expected,) = want[table]
        assert row["status"] == expected["status"] == "completed", (table, row)
        for col in set(ASSEMBLY_DERIVED.get(table, ())) | ({"qc_reads_after"} & row.keys()):
            x, y = row[col], expected[col]
            assert (x is None) == (y is None), (table, col, x, y)
            assert x is None or abs(x - y) <= max(2, 0.01 * abs(y)), (table, col, x, y)


BASE_MB = 250


def test_assembly_killed_for_memory_is_retried_with_more(slurm_cluster, tmp_path, mirror):
    """A real MEGAHIT job given too little memory: Slurm's OverMemoryKill, then more memory.

    The job's step holds the in-job snakemake (~170 MB), the step's Python and MEGAHIT: ~290 MB
    at its peak for this run. 250 MB (below the default 300 MB floor, lowered here) is too little.
    """
    workdir = write_demo_variant(tmp_path, mirror.portal_url, include_runs=["ERR0000001"])
    write_workdir(
        workdir,
        mirror.portal_url,
        studies_dir=str(workdir / "studies"),
        memory={"floor_mb": 200},
        resources={"assembly_megahit": {"mem_mb": BASE_MB}},
    )
    proc = snakemake(workdir, profile="slurm", timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    db = workdir / "results/catalogue.db"
    (asm,) = query(db, "select * from assemblies")
    assert asm["status"] == "completed" and asm["n_contigs"] > 0
    events = query(
        db,
        "select event, attempt, mem_mb, cause, job_id, message from events "
        "where rule = 'assembly_megahit' order by time",
    )
    kills = [e for e in events if e["event"] == "failed"]
    assert kills and all(e["cause"] == "out_of_memory" and e["job_id"] for e in kills), events
    assert "exceeded memory limit" in kills[0]["message"]
    # BASE_MB, then x1.5 (the default policy's growth) after each out-of-memory kill
    asked = [e["mem_mb"] for e in events if e["event"] == "memory"]
    assert asked == [math.ceil(BASE_MB * 1.5**i) for i in range(len(kills) + 1)], events
    assert [k["mem_mb"] for k in kills] == asked[:-1]
    (done,) = [e for e in events if e["event"] == "completed"]
    assert done["mem_mb"] == asked[-1] and done["attempt"] == len(kills) + 1
    assert asm["job_id"] == done["job_id"]
    jobs = slurm_jobs([e["job_id"] for e in kills + [done]])
    assert [jobs[k["job_id"]]["state"] for k in kills] == ["FAILED"] * len(kills)
    assert jobs[done["job_id"]]["state"] == "COMPLETED"
    assert [jobs[e["job_id"]]["reqmem"] for e in kills + [done]] == [f"{m}M" for m in asked]
