"""Catalogue loading from a results tree: accessions, idempotence, rebuild, statuses."""

import json
from pathlib import Path

import pytest
import sqlite_utils

from mgnify_db.catalogue import Ledger, biome_path, biome_rows, dump, load, open_db, rebuild
from mgnify_db.jobs import append_record
from mgnify_db.results import StudyPaths, write_json


def make_study(results: Path, acc: str, n_runs: int, biome="root:Environmental:Aquatic:Marine"):
    paths = StudyPaths(results, acc)
    write_json(paths.path("study_config"), {"accession": acc, "biome": biome})
    runs = [
        {
            "run_accession": f"ERR{acc[-1]}{i:06d}",
            "sample_accession": f"SAMEA{acc[-1]}{i}",
            "library_strategy": "WGS",
            "library_source": "METAGENOMIC",
            "library_layout": "PAIRED",
            "read_count": 10,
            "fastq_ftp": "h/x_1.fastq.gz;h/x_2.fastq.gz",
            "fastq_md5": "a;b",
        }
        for i in range(1, n_runs + 1)
    ]
    runs.append({**runs[0], "run_accession": f"ERR{acc[-1]}999999", "library_source": "GENOMIC"})
    write_json(
        paths.path("ena"),
        {
            "study": {
                "study_accession": acc,
                "secondary_study_accession": f"ERP{acc[-1]}",
                "study_title": f"Study {acc} of the ocean",
                "study_description": "about",
            },
            "samples": [{"sample_accession": r["sample_accession"], "lat": 1.0} for r in runs],
            "runs": runs,
        },
    )
    return paths, [r["run_accession"] for r in runs[:-1]]


def finish_run(paths: StudyPaths, run: str, *, passed=True):
    write_json(
        paths.qc_json(run),
        {
            "passed": passed,
            "reads_before": 100,
            "reads_after": 90,
            "reason": None if passed else "9 reads left after QC (< 1000)",
        },
    )
    if passed:
        write_json(
            paths.path("assembly", run), {"n_contigs": 3, "n50": 1500, "assembler_version": "1.2.9"}
        )
        paths.path("contigs", run).write_bytes(b"x" * 10)
        write_json(paths.path("analysis", run), {"cds_count": 12, "rrna_total": 1, "rrna_16s": 1})


@pytest.fixture
def results(tmp_path):
    return tmp_path / "results"


def test_biome_lineage():
    assert (
        biome_path("root:Host-associated:Human:Digestive system (Gut)")
        == "root.host_associated.human.digestive_system_gut"
    )
    rows = biome_rows("root:Environmental:Aquatic")
    assert [(r["lineage"], r["parent"], r["depth"]) for r in rows] == [
        ("root", None, 1),
        ("root:Environmental", "root", 2),
        ("root:Environmental:Aquatic", "root:Environmental", 3),
    ]


def test_ledger_allocates_once(tmp_path):
    ledger = Ledger(tmp_path / "a.tsv")
    assert [ledger.allocate("study", k) for k in ("A", "B", "A")] == [1, 2, 1]
    again = Ledger(tmp_path / "a.tsv")
    assert again.allocate("study", "B") == 2 and again.allocate("study", "C") == 3
    assert again.allocate("analysis", "C") == 1


def test_load_twice_changes_nothing(results, tmp_path):
    paths, runs = make_study(results, "PRJEB1", 3)
    finish_run(paths, runs[0])
    finish_run(paths, runs[1], passed=False)
    db = open_db(tmp_path / "c.db")
    load(db, results, "PRJEB1")
    first = dump(db)
    load(db, results, "PRJEB1")
    assert dump(db) == first
    status = {r["accession"]: r["status"] for r in first["runs"]}
    assert status == {
        runs[0]: "completed",
        runs[1]: "qc_failed",
        runs[2]: "pending",
        "ERR1999999": "skipped",
    }
    (study,) = first["studies"]
    assert (
        study["accession"],
        study["runs_total"],
        study["runs_skipped"],
        study["runs_qc_failed"],
        study["analyses_completed"],
    ) == ("MGYS00000001", 4, 1, 1, 1)
    assert [a["accession"] for a in first["analyses"]] == ["MGYA00000001"]
    assert first["analyses"][0]["cds_count"] == 12


def test_accessions_stable_across_rebuild_whatever_the_order(results, tmp_path):
    p2, runs2 = make_study(results, "PRJEB2", 2)
    p1, runs1 = make_study(results, "PRJEB1", 2)
    db = open_db(tmp_path / "c.db")
    finish_run(p2, runs2[1])
    load(db, results, "PRJEB2")  # PRJEB2 first: it gets MGYS00000001
    finish_run(p1, runs1[0])
    finish_run(p2, runs2[0])
    load(db, results, "PRJEB1")
    load(db, results, "PRJEB2")
    before = dump(db)
    assert {s["ena_accession"]: s["accession"] for s in before["studies"]} == {
        "PRJEB2": "MGYS00000001",
        "PRJEB1": "MGYS00000002",
    }
    rebuilt = tmp_path / "rebuilt.db"
    rebuild(rebuilt, results)  # loads PRJEB1 first; the ledger keeps the numbers
    assert dump(sqlite_utils.Database(rebuilt)) == before


def test_running_and_failed_come_from_job_records(results, tmp_path):
    paths, runs = make_study(results, "PRJEB1", 2)
    write_json(paths.qc_json(runs[0]), {"passed": True})
    jobs = paths.path("jobs", runs[0])
    append_record(
        jobs / "assembly_megahit.jsonl",
        {"stage": "assembly", "event": "started", "attempt": 1, "time": "t1", "job_id": "42"},
    )
    db = open_db(tmp_path / "c.db")
    load(db, results, "PRJEB1")
    assert db["assemblies"].get(1)["status"] == "running"
    assert db["assemblies"].get(1)["job_id"] == "42"  # the running Slurm job
    append_record(
        jobs / "assembly_megahit.jsonl",
        {
            "stage": "assembly",
            "event": "failed",
            "attempt": 1,
            "time": "t2",
            "job_id": "42",
            "cause": "out_of_memory",
            "message": "killed",
        },
    )
    append_record(
        paths.path("jobs", runs[1]) / "ena_download.jsonl",
        {
            "stage": "download",
            "event": "failed",
            "attempt": 1,
            "time": "t3",
            "message": "md5 mismatch",
        },
    )
    load(db, results, "PRJEB1")
    asm = db["assemblies"].get(1)
    assert (asm["status"], asm["status_reason"]) == ("failed", "assembly: killed")
    assert db["runs"].get(runs[1])["status"] == "failed"
    events = list(db.query("select event, cause, job_id from events order by time"))
    assert [e["event"] for e in events] == ["started", "failed", "failed"]
    assert events[1]["cause"] == "out_of_memory" and events[1]["job_id"] == "42"


def test_fts_search(results, tmp_path):
    make_study(results, "PRJEB1", 1)
    db = open_db(tmp_path / "c.db")
    load(db, results, "PRJEB1")
    assert [r["ena_accession"] for r in db["studies"].search("ocean")] == ["PRJEB1"]
    assert json.loads(db["studies"].get("MGYS00000001")["secondary_accessions"]) == ["ERP1"]


def test_canonical_dump_ignores_allocation_order(results, tmp_path):
    paths, runs = make_study(results, "PRJEB1", 2)
    for run in runs:
        finish_run(paths, run)
    one = open_db(tmp_path / "one.db")
    load(one, results, "PRJEB1", [runs[0]])
    load(one, results, "PRJEB1", [runs[1]])
    other_results = tmp_path / "other"
    import shutil

    shutil.copytree(results, other_results)
    (other_results / "accessions.tsv").unlink()
    two = open_db(tmp_path / "two.db")
    load(two, other_results, "PRJEB1", [runs[1]])  # the other run first: other ids
    load(two, other_results, "PRJEB1", [runs[0]])
    assert dump(one)["analyses"] != dump(two)["analyses"]
    canonical = dump(one, canonical=True)
    assert canonical == dump(two, canonical=True)
    assert {a["accession"] for a in canonical["analyses"]} == {
        f"<analysis {r}/assembly>" for r in runs
    }
    # and content differences still show
    two.execute("update analyses set cds_count = 1")
    assert dump(two, canonical=True) != canonical


def test_every_facet_and_foreign_key_is_indexed(tmp_path):
    import yaml

    from mgnify_db.cli import METADATA

    db = open_db(tmp_path / "c.db")
    meta = yaml.safe_load(METADATA.read_text())["databases"]["catalogue"]["tables"]
    for table, spec in meta.items():
        indexed = {i.columns[0] for i in db[table].indexes} | {db[table].pks[0]}
        wanted = set(spec.get("facets", [])) | {fk.column for fk in db[table].foreign_keys}
        assert wanted <= indexed, f"{table}: no index on {wanted - indexed}"


def test_a_job_killed_by_slurm_is_failed_from_its_slurm_log(results, tmp_path):
    """OverMemoryKill leaves the job no chance to write; the plugin's job log tells."""
    paths, runs = make_study(results, "PRJEB1", 1)
    write_json(paths.qc_json(runs[0]), {"passed": True})
    append_record(
        paths.path("jobs", runs[0]) / "assembly_megahit.jsonl",
        {
            "stage": "assembly",
            "event": "started",
            "attempt": 3,
            "time": "2026-01-01T00:00:00+00:00",
            "job_id": "77",
            "mem_mb": 450,
        },
    )
    log = paths.path("slurm_logs") / "rule_assembly_megahit" / f"PRJEB1_{runs[0]}" / "77.log"
    log.parent.mkdir(parents=True)
    log.write_text(
        "rule assembly_megahit:\n    wildcards: study=PRJEB1, run=" + runs[0] + "\n"
        "slurmstepd-localhost: error: StepId=77.0 exceeded memory limit "
        "(483086336 > 471859200), being killed\n"
        "srun: error: localhost: task 0: Killed\n"
    )
    db = open_db(tmp_path / "c.db")
    load(db, results, "PRJEB1")
    asm = db["assemblies"].get(1)
    assert (asm["status"], asm["job_id"]) == ("failed", "77")
    (event,) = db.query("select * from events where event = 'failed'")
    assert (event["cause"], event["attempt"], event["mem_mb"]) == ("out_of_memory", 3, 450)
    assert "exceeded memory limit" in event["message"]
