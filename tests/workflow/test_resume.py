"""A re-run always finishes the work: after a failure or a kill at any stage, one plain re-run
completes exactly the missing work, and the catalogue converges to a clean run's."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from support import (
    assert_same_catalogue,
    failing_tools,
    job_counts,
    snakemake,
    snakemake_cmd,
    workflow_env,
)

from mgnify_db.catalogue import open_store

pytestmark = pytest.mark.e2e
RUN = "results/studies/PRJEB00001/runs/{}"
LOADED = "results/studies/PRJEB00001/loaded/{}.json"


def copy_of(demo_run: Path, tmp_path: Path) -> Path:
    work = tmp_path / "work"
    shutil.copytree(demo_run, work, symlinks=True)
    return work


def remove(work: Path, *paths: str) -> None:
    for rel in paths:
        p = work / rel
        shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)


def statuses(db: Path) -> dict[str, tuple]:
    with open_store(db, create=False) as store:
        runs = {r["accession"]: r["status"] for r in store.query("select * from runs")}
        asm = {r["run"]: r["status"] for r in store.query("select * from assemblies")}
        ana = {r["run"]: r["status"] for r in store.query("select * from analyses")}
    return {run: (runs[run], asm.get(run), ana.get(run)) for run in runs}


def test_failures_at_every_stage_then_one_plain_rerun(demo_run, tmp_path):
    """QC (ERR5), assembly (ERR3) and rRNA analysis (ERR2) fail in one invocation (a failed
    download and its resume: test_e2e). The smallest runs redo the most, to keep it quick."""
    work = copy_of(demo_run, tmp_path)
    r = RUN.format
    remove(work, LOADED.format("ERR0000005"), r("ERR0000005") + "/qc")
    remove(work, r("ERR0000005") + "/assembly", r("ERR0000005") + "/analysis")
    remove(work, LOADED.format("ERR0000003"), r("ERR0000003") + "/assembly")
    remove(work, r("ERR0000003") + "/analysis")
    remove(work, r("ERR0000002") + "/analysis/rrna.json", r("ERR0000002") + "/analysis/rrna.gff")
    remove(work, LOADED.format("ERR0000002"))
    fakes = failing_tools(tmp_path / "bin", fastp="ERR0000005", megahit="ERR0000003", cmsearch="")
    failed = snakemake(work, path_first=fakes)
    assert failed.returncode != 0
    db = work / "results" / "catalogue.db"
    got = statuses(db)
    assert got["ERR0000005"][0] == "failed"
    assert got["ERR0000003"][1:] == ("failed", "pending")
    assert got["ERR0000002"][1:] == ("completed", "failed")
    assert got["ERR0000001"] == ("completed", "completed", "completed")
    with open_store(db, create=False) as store:
        reasons = {r["accession"]: r["status_reason"] for r in store.query("select * from runs")}
    assert "qc_fastp:" in reasons["ERR0000005"] and "fastp" in reasons["ERR0000005"]
    # the operator's summary: one line per failure (study/run, rule, cause), at the end of the
    # output (after it only Snakemake's own last words)
    lines = failed.stderr.strip().splitlines()
    reloaded = max(i for i, ln in enumerate(lines) if ln.startswith("catalogue: reloaded"))
    tail = [ln for ln in lines[reloaded + 1 :] if ln.startswith("error: ")]
    assert [ln.split(": ")[:3] for ln in sorted(tail)] == [
        ["error", "PRJEB00001/ERR0000002", "analysis_taxonomy"],
        ["error", "PRJEB00001/ERR0000003", "assembly_megahit"],
        ["error", "PRJEB00001/ERR0000005", "qc_fastp"],
    ], tail
    # and each job said it in one line; the traceback is in the rule's log, not lost
    assert "error: PRJEB00001/ERR0000003: assembly_megahit: ToolError: megahit failed" in (
        failed.stderr
    )
    assert "ToolError" in (work / "results/logs/qc_fastp/PRJEB00001/ERR0000005.log").read_text()

    rerun = snakemake(work)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    # exactly the missing work (a QC-failed run's later jobs only short-circuit)
    assert job_counts(rerun.stdout + rerun.stderr) == {
        "qc_fastp": 1,
        "assembly_megahit": 2,
        "analysis_cds": 2,
        "analysis_taxonomy": 3,
        "catalogue_load_run": 3,
        "catalogue_publish": 1,
        "all": 1,
    }
    assert_same_catalogue(db, demo_run / "results" / "catalogue.db")
    again = snakemake(work)
    assert "Nothing to be done" in again.stdout + again.stderr


def test_deleted_marker_and_assembly_are_redone(demo_run, tmp_path):
    work = copy_of(demo_run, tmp_path)
    remove(work, LOADED.format("ERR0000003"), RUN.format("ERR0000003") + "/assembly")
    rerun = snakemake(work)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    counts = job_counts(rerun.stdout + rerun.stderr)
    assert counts["assembly_megahit"] == 1 and counts["catalogue_load_run"] == 1
    assert_same_catalogue(work / "results" / "catalogue.db", demo_run / "results" / "catalogue.db")


def _descendants(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,sid="], capture_output=True, text=True)
    found = {pid}
    rows = [tuple(map(int, ln.split())) for ln in out.stdout.splitlines() if ln.strip()]
    changed = True
    while changed:
        changed = False
        for p, pp, _ in rows:
            if pp in found and p not in found:
                found.add(p)
                changed = True
    return found - {pid}


def _megahit_pids() -> set[int]:
    out = subprocess.run(["pgrep", "-f", "megahit"], capture_output=True, text=True)
    return {int(p) for p in out.stdout.split()}


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_a_killed_workflow_leaves_no_tool_and_resumes(demo_run, tmp_path, how):
    work = copy_of(demo_run, tmp_path)
    run = "ERR0000003"  # phage lambda: the shortest assembly
    remove(work, RUN.format(run) + "/assembly", RUN.format(run) + "/analysis", LOADED.format(run))
    before = _megahit_pids()
    proc = subprocess.Popen(
        snakemake_cmd(work),
        cwd=work,
        env=workflow_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not (_megahit_pids() - before):
        assert proc.poll() is None and time.monotonic() < deadline, "MEGAHIT never started"
        time.sleep(0.05)
    os.kill(proc.pid, getattr(signal, how))
    proc.wait(60)
    deadline = time.monotonic() + 30
    while _megahit_pids() - before:
        assert time.monotonic() < deadline, "MEGAHIT outlived the killed workflow"
        time.sleep(0.2)
    if how == "SIGKILL":
        unlock = snakemake(work, "--unlock")
        assert unlock.returncode == 0, unlock.stderr[-2000:]
    rerun = snakemake(work)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert_same_catalogue(work / "results" / "catalogue.db", demo_run / "results" / "catalogue.db")
