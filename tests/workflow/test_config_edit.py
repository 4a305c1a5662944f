"""A config edit after a completed study: the catalogue follows it, keeps what it no longer
includes (suppressed, with reasons), and equals a rebuild from the files."""

from __future__ import annotations

import shutil

import pytest
from support import catalogue_dump, job_counts, snakemake, write_demo_variant

from mgnify_db.catalogue import open_store, rebuild
from mgnify_db.config import GlobalConfig

pytestmark = pytest.mark.e2e


def test_exclude_a_run_change_the_biome_set_a_sample_limit(demo_run, mirror, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(demo_run, work, symlinks=True)
    db = work / "results" / "catalogue.db"
    with open_store(db, create=False) as store:
        before = {a["run"]: a["accession"] for a in store.query("select * from analyses")}
    write_demo_variant(
        work,
        mirror.portal_url,
        exclude_runs=["ERR0000001"],
        biome="root:Engineered:Bioreactor",
        sample_limit=2,
    )
    proc = snakemake(work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # a config edit needs no tool job: only the recorded config and the study's load
    assert job_counts(proc.stdout + proc.stderr) == {
        "study_config": 1,
        "catalogue_load_study": 1,
        "catalogue_publish": 1,
        "all": 1,
    }
    with open_store(db, create=False) as store:
        runs = {r["accession"]: r for r in store.query("select * from runs")}
        analyses = {a["run"]: a for a in store.query("select * from analyses")}
        assemblies = {a["run"]: a for a in store.query("select * from assemblies")}
        (study,) = store.query("select * from studies where ena_accession = 'PRJEB00001'")
        biomes = {b["lineage"] for b in store.query("select * from biomes")}
        downloads = list(store.query("select * from downloads"))
        changes = list(store.query("select * from events where event = 'config_changed'"))
    assert runs["ERR0000001"]["status"] == "skipped"
    assert runs["ERR0000001"]["status_reason"] == "in exclude_runs"
    limited = [r for r in runs.values() if r["status_reason"] == "beyond sample_limit 2"]
    assert limited, runs
    kept = [
        run
        for run, a in analyses.items()
        if not a["is_suppressed"] and a["study"] == study["accession"]
    ]
    assert len(kept) == 1
    assert analyses["ERR0000001"]["is_suppressed"] == 1
    assert analyses["ERR0000001"]["suppression_reason"] == "run skipped: in exclude_runs"
    assert assemblies["ERR0000001"]["suppression_reason"] == "run skipped: in exclude_runs"
    for r in limited:
        assert analyses[r["accession"]]["suppression_reason"].endswith("beyond sample_limit 2")
    # accessions never change or get reused
    assert {run: a["accession"] for run, a in analyses.items()} == before
    assert (study["analyses_completed"], study["assemblies_completed"]) == (1, 1)
    assert study["biome"] == "root:Engineered:Bioreactor"
    assert {"root", "root:Engineered", "root:Engineered:Bioreactor"} <= biomes
    # the edit is recorded as operator changes, each with its time and cause
    causes = {(c["cause"], c["message"]) for c in changes}
    assert ("run_excluded", "run ERR0000001 excluded") in causes
    assert any(c == "biome_changed" and "root:Engineered:Bioreactor" in m for c, m in causes)
    assert any(c == "sample_limit_changed" for c, _ in causes)
    assert all(c["time"] and c["rule"] == "study_config" for c in changes)
    suppressed = {d["analysis"] or d["assembly"] for d in downloads if d["is_suppressed"]}
    assert suppressed >= {analyses["ERR0000001"]["accession"]}

    rebuilt = tmp_path / "rebuilt.db"
    rebuild(rebuilt, work / "results", GlobalConfig())
    assert catalogue_dump(rebuilt) == catalogue_dump(db)
    with open_store(rebuilt) as a, open_store(db, create=False) as b:
        events = "select * from events order by id"
        assert list(a.query(events)) == list(b.query(events))

    again = snakemake(work)
    assert "Nothing to be done" in again.stdout + again.stderr
