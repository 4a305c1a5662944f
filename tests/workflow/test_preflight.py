"""Pre-flight: what would make jobs fail is found before the first job starts, in one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import snakemake, write_workdir

from mgnify_db.catalogue import dump, open_store, rebuild
from mgnify_db.config import load_global
from mgnify_db.dev.mirror import MirrorServer

pytestmark = pytest.mark.e2e


def no_jobs_ran(work: Path) -> bool:
    return not list((work / "results").glob("studies/*/runs/*/jobs/*.jsonl"))


def test_a_missing_tool_stops_the_workflow_before_any_job(tmp_path, mirror):
    work = write_workdir(tmp_path / "work", mirror.portal_url)
    # every program of /usr/bin but megahit
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for p in Path("/usr/bin").iterdir():
        if p.name != "megahit":
            (bin_dir / p.name).symlink_to(p)
    env_path = os.environ["PATH"]
    os.environ["PATH"] = ":".join(d for d in env_path.split(":") if d not in ("/usr/bin", "/bin"))
    try:
        proc = snakemake(work, path_first=bin_dir)
    finally:
        os.environ["PATH"] = env_path
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "error: not on PATH: megahit" in proc.stderr, proc.stderr[-2000:]
    assert no_jobs_ran(work), last


def test_an_unwritable_results_dir_is_one_line(tmp_path, mirror):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    work = write_workdir(tmp_path / "work", mirror.portal_url, results_dir=str(blocker / "results"))
    proc = snakemake(work)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {blocker / 'results'}: the results dir is not writable (Not a directory)"
    )


def test_an_unreachable_ena_is_found_before_any_job(tmp_path, demo_data):
    with MirrorServer(demo_data, port=0) as gone:
        work = write_workdir(tmp_path / "work", gone.portal_url)
        planned = snakemake(work, "-n")  # the metadata is fetched while ENA answers
        assert planned.returncode == 0, planned.stderr[-2000:]
    proc = snakemake(work)
    assert proc.returncode != 0
    assert "ENA's download host 127.0.0.1" in proc.stderr and "is unreachable" in proc.stderr
    assert no_jobs_ran(work)


def test_an_unreachable_ena_without_metadata_is_one_line(tmp_path, demo_data):
    with MirrorServer(demo_data, port=0) as gone:
        url = gone.portal_url
    work = write_workdir(tmp_path / "work", url)
    proc = snakemake(work)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert lines[-1] == "error: no study could be planned (see above); nothing to do"
    # one line per study (the demo has two)
    assert sorted(line.split(":")[1].strip() for line in lines[-3:-1]) == [
        "PRJEB00001",
        "PRJEB77777",
    ]
    assert all("ENA metadata: " in line for line in lines[-3:-1])
    # the failure is in the catalogue too: a stub study row and the failed fetch as an event
    db = work / "results" / "catalogue.db"
    with open_store(db, create=False) as store:
        (study,) = store.query("select * from studies where ena_accession = 'PRJEB00001'")
        events = list(
            store.query(
                "select rule, event, cause, message from events where study = ?",
                [study["accession"]],
            )
        )
    assert (study["ena_accession"], study["title"]) == ("PRJEB00001", None)
    assert [(e["rule"], e["event"]) for e in events if e["event"] != "memory"] == [
        ("ena_metadata", "started"),
        ("ena_metadata", "failed"),
    ]
    rebuilt = tmp_path / "rebuilt.db"
    rebuild(rebuilt, work / "results", load_global(work / "config" / "config.yaml"))
    with open_store(rebuilt) as a, open_store(db, create=False) as b:
        assert dump(a) == dump(b)


def test_a_config_error_names_the_configfile_given(tmp_path, mirror):
    work = write_workdir(tmp_path / "work", mirror.portal_url)
    extra = tmp_path / "site.yaml"
    extra.write_text("qc:\n  min_reads: -5\n")
    proc = snakemake(work, "-n", "--configfile", str(extra))
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {extra}") and "qc.min_reads" in last, last
