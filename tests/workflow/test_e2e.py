"""The demo study end to end with the local executor, then the catalogue over HTTP."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
import sqlite_utils
from support import snakemake, write_demo_variant, write_workdir

from mgnify_db.catalogue import dump, open_store, rebuild
from mgnify_db.config import load_global

pytestmark = pytest.mark.e2e


def rows(db, sql, params=()):
    return [dict(r) for r in db.query(sql, params)]


def test_catalogue_statuses(demo_run):
    db = sqlite_utils.Database(demo_run / "results" / "catalogue.db")
    (study,) = rows(db, "select * from studies where ena_accession = 'PRJEB00001'")
    assert re.fullmatch(r"MGYS\d{8}", study["accession"])
    assert study["biome"] == "root:Environmental:Aquatic:Marine"
    links = rows(db, "select * from study_samples where study = ?", [study["accession"]])
    assert len(links) == 3
    status = {
        r["accession"]: r
        for r in rows(db, "select * from runs where study = ?", [study["accession"]])
    }
    assert {k: v["status"] for k, v in status.items()} == {
        "ERR0000001": "completed",
        "ERR0000002": "completed",
        "ERR0000003": "completed",
        "ERR0000004": "skipped",
        "ERR0000005": "qc_failed",
    }
    assert "TRANSCRIPTOMIC" in status["ERR0000004"]["status_reason"]
    assert "< 1000" in status["ERR0000005"]["status_reason"]
    assert status["ERR0000003"]["library_layout"] == "SINGLE"
    mgys = [study["accession"]]
    assemblies = rows(db, "select * from assemblies where study = ? order by run", mgys)
    assert len({a["accession"] for a in assemblies}) == 3
    assert [a["run"] for a in assemblies] == ["ERR0000001", "ERR0000002", "ERR0000003"]
    for a in assemblies:
        assert a["status"] == "completed" and a["n_contigs"] > 0 and a["n50"] > 500
    # lambda (48.5 kb) alone, single-end: a few long contigs
    assert assemblies[2]["largest_contig"] > 20000
    analyses = rows(db, "select * from analyses where study = ? order by run", mgys)
    # allocated in the order analyses were first loaded, once: any order, no gaps
    every = sorted(a["accession"] for a in rows(db, "select accession from analyses"))
    assert every == [f"MGYA{i:08d}" for i in range(1, len(every) + 1)]
    assert len(analyses) == 3
    for a in analyses:
        assert a["status"] == "completed" and a["cds_count"] > 40
    # the archaeon and the corynebacterium carry rRNA operons; phage lambda has none
    assert analyses[2]["rrna_total"] == 0
    assert sum(a["rrna_total"] for a in analyses[:2]) > 0
    downloads = rows(db, "select * from downloads")
    # MGnify's groups: contigs and fastp under quality_control, rRNA under taxonomy
    groups = {
        "quality_control",
        "coding_sequences",
        "taxonomy",
        "taxonomies.closed_reference.ssu",
        "functional_annotation.pfam",
        "annotation_summary",
    }
    assert {d["download_group"] for d in downloads} == groups
    for d in downloads:
        assert (demo_run / "results" / d["path"]).stat().st_size == d["size_bytes"]
    events = rows(db, "select * from events where event = 'completed'")
    assert {e["rule"] for e in events} >= {
        "ena_download",
        "qc_fastp",
        "assembly_megahit",
        "analysis_cds",
        "analysis_taxonomy",
    }


def test_rerun_does_nothing_and_loads_nothing_twice(demo_run, demo_data):
    from mgnify_db.dev.mirror import MirrorServer

    db_path = demo_run / "results" / "catalogue.db"
    with open_store(db_path, create=False) as store:
        before = dump(store)
    # the same ENA on another port (as each demo run gets) must not make anything re-run
    with MirrorServer(demo_data, port=0) as other:
        write_workdir(demo_run, other.portal_url)
        proc = snakemake(demo_run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Nothing to be done" in proc.stdout + proc.stderr
    with open_store(db_path, create=False) as store:
        assert dump(store) == before


def test_rebuild_gives_the_same_rows(demo_run, tmp_path):
    with open_store(demo_run / "results" / "catalogue.db", create=False) as store:
        before = dump(store)
    rebuilt = tmp_path / "rebuilt.db"
    cfg = load_global(demo_run / "config" / "config.yaml")  # publications, super studies
    rebuild(rebuilt, demo_run / "results", cfg)
    with open_store(rebuilt) as store:
        assert dump(store) == before


def test_datasette_serves_the_catalogue(site):
    with urllib.request.urlopen(f"{site}/public/studies.json?_shape=array") as resp:
        studies = json.load(resp)
    assert [s["ena_accession"] for s in studies] == ["PRJEB00001"]  # not the private one
    with urllib.request.urlopen(f"{site}/public/studies.json?_shape=array&_search=mock") as r:
        assert len(json.load(r)) == 1
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{site}/catalogue/studies.json")
    assert err.value.code == 403


def test_failed_download_is_visible_and_a_rerun_resumes(tmp_path, mirror):
    workdir = write_demo_variant(
        tmp_path, mirror.portal_url, include_runs=["ERR0000003", "ERR0000005"]
    )
    mirror.add_fault(status=404, count=1000, path_prefix="/vol1/fastq/ERR000/ERR0000003/")
    try:
        proc = snakemake(workdir)
    finally:
        mirror.clear_faults()
    assert proc.returncode != 0
    db = sqlite_utils.Database(workdir / "results" / "catalogue.db")
    runs = {r["accession"]: r for r in rows(db, "select * from runs")}
    assert runs["ERR0000003"]["status"] == "failed"
    assert "HTTP 404" in runs["ERR0000003"]["status_reason"]
    assert runs["ERR0000005"]["status"] == "qc_failed"  # the other run went on (keep-going)
    assert runs["ERR0000001"]["status"] == "skipped"

    proc = snakemake(workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = {r["accession"]: r for r in rows(db, "select * from runs")}
    assert runs["ERR0000003"]["status"] == "completed"
    downloads = rows(
        db,
        "select event, cause from events where run = 'ERR0000003' "
        "and rule = 'ena_download' and event != 'memory' order by time",
    )
    # each invocation counts attempts from 1; the failure was not about memory
    assert downloads == [
        {"event": "started", "cause": None},
        {"event": "failed", "cause": "other"},
        {"event": "started", "cause": None},
        {"event": "completed", "cause": None},
    ]
    assert db["analyses"].count == 1 and db["studies"].count == 1


def test_every_tool_rule_has_benchmarks(demo_run):
    from mgnify_db.ops.timings import rule_timings

    timings = {t.rule: t for t in rule_timings(demo_run / "results" / "benchmarks")}
    assert set(timings) == {
        "ena_metadata",
        "ena_download",
        "qc_fastp",
        "assembly_megahit",
        "analysis_cds",
        "analysis_taxonomy",
        # the reference databases, built once per results dir
        "reference_pfam",
        "reference_rfam",
        "reference_ssu",
        "reference_kraken2",
    }
    # the QC-failed run's assembly job only short-circuits, but is a job (with a benchmark)
    # the public study's 4 downloaded runs (3 assembled) and the private study's one
    assert timings["ena_download"].jobs == 5 and timings["assembly_megahit"].jobs == 5
    assert all(t.total_s > 0 for t in timings.values())
