"""The demo's catalogue holds MGnify's model: both studies (one private), their links,
publications, super studies, annotations and downloads whose md5 and size are the files'."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlite_utils

from mgnify_db.catalogue.biomes import descendants_where
from mgnify_db.io import md5sum
from mgnify_db.models import EXPERIMENT_TYPE_LABELS, ExperimentType
from mgnify_db.pipelines.annotations import read_annotation_table

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def db(demo_run):
    return sqlite_utils.Database(demo_run / "results" / "catalogue.db")


def rows(db, sql, params=()):
    return [dict(r) for r in db.query(sql, params)]


def test_both_studies_and_privacy_reaching_every_record(db):
    studies = {s["accession"]: s for s in rows(db, "select * from studies")}
    private = [s for s in studies.values() if s["is_private"]]
    public = [s for s in studies.values() if not s["is_private"]]
    assert len(private) == 1 and public, studies
    (priv,) = private
    assert priv["webin_owner"].startswith("Webin-")
    for s in studies.values():
        assert json.loads(s["ena_accessions"])[0] == s["ena_accession"]
        assert json.loads(s["metadata"])["study_title"] == s["title"]
        assert s["created_at"] and s["updated_at"] >= s["created_at"]
    # privacy reaches everything under the private study
    for table in ("runs", "assemblies", "analyses", "downloads", "study_samples"):
        got = rows(
            db,
            f"select distinct is_private, webin_owner from {table} where study = ?",
            [priv["accession"]],
        )
        assert got == [{"is_private": 1, "webin_owner": priv["webin_owner"]}], table
    samples = rows(
        db,
        "select s.* from samples s join study_samples l on l.sample = s.accession"
        " where l.study = ?",
        [priv["accession"]],
    )
    assert samples and all(s["is_private"] for s in samples)
    # the private study's annotations are all under private analyses (its one run, phage
    # lambda, has no rRNA gene: there may be none)
    annotations = rows(
        db,
        "select distinct a.is_private from annotations n"
        " join analyses a on a.accession = n.analysis where a.study = ?",
        [priv["accession"]],
    )
    assert annotations in ([], [{"is_private": 1}])


def test_links_publications_super_studies_and_biomes(db):
    (pub_study,) = rows(db, "select * from studies where not is_private order by accession limit 1")
    pubs = rows(
        db,
        "select p.* from publications p join study_publications l on l.publication = p.pubmed_id"
        " where l.study = ?",
        [pub_study["accession"]],
    )
    assert pubs and all(p["title"] and p["published_year"] for p in pubs)
    supers = rows(
        db,
        "select s.*, l.is_flagship from super_studies s"
        " join super_study_studies l on l.super_study = s.slug where l.study = ?",
        [pub_study["accession"]],
    )
    assert supers and supers[0]["title"] and supers[0]["is_flagship"] == 1
    # every sample is linked to the study whose ENA record lists it
    assert rows(
        db,
        "select count(*) n from samples where accession not in (select sample from study_samples)",
    ) == [{"n": 0}]
    # "this lineage and its descendants" is one indexed condition on the biome path
    where, params = descendants_where("root:Environmental")
    lineages = {r["lineage"] for r in rows(db, f"select lineage from biomes where {where}", params)}
    assert pub_study["biome"] in lineages and "root:Engineered" not in lineages


def test_runs_assemblies_analyses_as_mgnify_has_them(db):
    for run in rows(db, "select * from runs where status = 'completed'"):
        assert run["experiment_type"] in {t.value for t in ExperimentType}
        assert (
            run["experiment_type_label"]
            == EXPERIMENT_TYPE_LABELS[ExperimentType(run["experiment_type"])]
        )
        fastq = json.loads(run["fastq"])
        assert fastq and all(f["md5"] and f["bytes"] for f in fastq)
    assemblies = rows(db, "select * from assemblies where status = 'completed'")
    assert assemblies
    for asm in assemblies:
        links = rows(db, "select run from assembly_runs where assembly = ?", [asm["accession"]])
        assert [r["run"] for r in links] == [asm["run"]]
        flags = json.loads(asm["status_flags"])
        assert flags["assembly_started"] and flags["assembly_completed"]
        assert not flags["assembly_failed"] and asm["assembler_version"]
    analyses = rows(db, "select * from analyses where status = 'completed'")
    assert analyses
    for ana in analyses:
        assert (ana["pipeline_version"], ana["experiment_type"]) == ("V6", "ASSEM")
        assert ana["experiment_type_label"] == "Assembly" and ana["is_ready"] == 1
        assert json.loads(ana["status_flags"])["analysis_annotations_imported"] is True
        qc = json.loads(ana["quality_control"])
        after, before = qc["after_filtering"], qc["before_filtering"]
        assert 0 < after["total_reads"] <= before["total_reads"]
    (failed_qc,) = rows(db, "select * from runs where status = 'qc_failed'")
    # QC failed before any assembly was allocated: a run that failed QC has none
    assert not rows(db, "select 1 from assemblies where run = ?", [failed_qc["accession"]])
    assert failed_qc["is_suppressed"] == 0 and failed_qc["status_reason"]


def test_downloads_state_the_files_md5_size_and_url(db, demo_run):
    results = demo_run / "results"
    downloads = rows(db, "select * from downloads where not is_suppressed")
    assert downloads
    for d in downloads:
        path = results / d["path"]
        assert path.stat().st_size == d["size_bytes"], d["id"]
        assert md5sum(path) == d["md5"], d["id"]
        owner = d["analysis"] or d["assembly"] or d["study"]
        assert d["url"] == f"/files/{owner}/{d['alias']}"
        assert d["short_description"] and d["long_description"]
        for index in json.loads(d["index_files"] or "[]"):
            assert (results / index["path"]).exists() and index[
                "url"
            ] == f"{d['url']}.{index['index_type']}"
    indexed = [d for d in downloads if d["index_files"]]
    assert indexed and {i["index_type"] for d in indexed for i in json.loads(d["index_files"])} == {
        "gzi"
    }


def test_annotations_are_the_tables_rows(db, demo_run):
    results = demo_run / "results"
    analyses = rows(db, "select * from analyses where status = 'completed'")
    total = 0
    for ana in analyses:
        (table,) = rows(
            db,
            "select path from downloads where analysis = ? and alias like '%rrna_summary.tsv.gz'",
            [ana["accession"]],
        )
        want = sorted(
            (r["term"], r["count"]) for r in read_annotation_table(results / table["path"])
        )
        got = rows(
            db,
            "select term, count from annotations where analysis = ? and type = 'rrnas'",
            [ana["accession"]],
        )
        assert sorted((r["term"], r["count"]) for r in got) == want
        total += len(want)
    assert total > 0  # the community's genomes carry rRNA operons: something must be found
    # one analysis' page of one type is one range of the primary key
    plan = rows(
        db,
        "explain query plan select * from annotations where analysis = ? and type = ? limit 10",
        ["x", "rrnas"],
    )
    assert any("PRIMARY KEY" in p["detail"] or "sqlite_autoindex" in p["detail"] for p in plan), (
        plan
    )


def test_paths_are_inside_results(db, demo_run):
    results = (demo_run / "results").resolve()
    for d in rows(db, "select path from downloads"):
        assert not Path(d["path"]).is_absolute() and ".." not in Path(d["path"]).parts
        assert (results / d["path"]).resolve().is_relative_to(results)
