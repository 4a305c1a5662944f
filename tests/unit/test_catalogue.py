"""Catalogue loads from a results tree: accessions, idempotence, consistency, rebuild, states."""

import json
import shutil
from pathlib import Path

import pytest
from support import finish_run, make_study, new_database, set_study_config

from mgnify_db.catalogue import (
    CatalogueError,
    SqliteStore,
    biome_path,
    biome_rows,
    dump,
    open_store,
    rebuild,
)
from mgnify_db.catalogue import load_run as _load_run
from mgnify_db.catalogue import load_study as _load_study
from mgnify_db.catalogue.biomes import biome_tree
from mgnify_db.catalogue.schema import SCHEMA_VERSION
from mgnify_db.config import GlobalConfig
from mgnify_db.io import append_jsonl
from mgnify_db.jobs import reconcile_slurm
from mgnify_db.plan import recorded_plan

CFG = GlobalConfig()


def load(store, results: Path, study: str, runs=None):
    if runs is None:
        return _load_study(store, results, CFG, study=study)
    plan = recorded_plan(results, study)
    for run in runs:
        _load_run(store, results, CFG, plan, run)


def rows(store, sql, params=()):
    return list(store.query(sql, params))


@pytest.fixture
def results(tmp_path):
    return tmp_path / "results"


@pytest.fixture
def store(tmp_path, store_kind, request):
    """A new catalogue in each store: the tests that take it run on SQLite and PostgreSQL."""
    if store_kind == "sqlite":
        url = tmp_path / "c.db"
    else:
        url = new_database(request.getfixturevalue("postgres_url"))
    with open_store(url) as s:
        yield s


def searchable(store, tmp_path: Path):
    """The catalogue as Datasette serves it (a PostgreSQL one exported, as publish does):
    a sqlite-utils Database, full-text search included."""
    import sqlite_utils

    from mgnify_db.catalogue.move import export

    if isinstance(store, SqliteStore):
        return store.db
    export(store, tmp_path / "exported" / "catalogue.db")
    return sqlite_utils.Database(tmp_path / "exported" / "catalogue.db")


def test_biome_lineage():
    assert (
        biome_path("root:Host-associated:Human:Digestive system (Gut)")
        == "root.host_associated.human.digestive_system_gut"
    )
    got = biome_rows("root:Environmental:Aquatic")
    assert [(r["lineage"], r["parent"], r["depth"]) for r in got] == [
        ("root", None, 1),
        ("root:Environmental", "root", 2),
        ("root:Environmental:Aquatic", "root:Environmental", 3),
    ]


def test_load_twice_changes_nothing(results, store):
    paths, runs = make_study(results, "PRJEB1", 3)
    finish_run(paths, runs[0])
    finish_run(paths, runs[1], passed=False)
    load(store, results, "PRJEB1")
    first = dump(store)
    load(store, results, "PRJEB1")
    assert dump(store) == first
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
    (asm,) = first["assemblies"]
    assert asm["accession"] == "LZ00000001" and first["analyses"][0]["assembly"] == "LZ00000001"


def test_run_loads_then_study_load_equal_one_study_load(results, tmp_path):
    paths, runs = make_study(results, "PRJEB1", 3)
    with open_store(tmp_path / "a.db") as a:
        load(a, results, "PRJEB1")  # the study load runs first, on an unfinished study
        for run in runs:
            finish_run(paths, run)
            load(a, results, "PRJEB1", [run])
        incremental = dump(a)
    with open_store(tmp_path / "b.db") as b:
        load(b, results, "PRJEB1")
        assert dump(b) == incremental


def test_accessions_stable_across_rebuild_whatever_the_order(results, store, tmp_path):
    p2, runs2 = make_study(results, "PRJEB2", 2)
    p1, runs1 = make_study(results, "PRJEB1", 2)
    finish_run(p2, runs2[1])
    load(store, results, "PRJEB2")  # PRJEB2 first: it gets MGYS00000001
    finish_run(p1, runs1[0])
    finish_run(p2, runs2[0])
    load(store, results, "PRJEB1")
    load(store, results, "PRJEB2")
    before = dump(store)
    assert {s["ena_accession"]: s["accession"] for s in before["studies"]} == {
        "PRJEB2": "MGYS00000001",
        "PRJEB1": "MGYS00000002",
    }
    rebuilt = tmp_path / "rebuilt.db"
    rebuild(rebuilt, results, CFG)  # loads PRJEB1 first; the ledger keeps the numbers
    with open_store(rebuilt) as again:
        assert dump(again) == before


def test_a_config_edit_suppresses_what_it_no_longer_includes(results, store, tmp_path):
    """Exclude a completed run, change the biome, set a sample limit: the catalogue follows,
    keeps the dropped records (suppressed, with reasons), and a rebuild gives the same rows."""
    paths, runs = make_study(results, "PRJEB1", 3)
    for run in runs:
        finish_run(paths, run)
    load(store, results, "PRJEB1")
    before = dump(store)
    assert {a["status"] for a in before["analyses"]} == {"completed"}
    set_study_config(
        paths, exclude_runs=[runs[0]], biome="root:Engineered:Wastewater", sample_limit=1
    )
    load(store, results, "PRJEB1")
    after = dump(store)
    run_rows = {r["accession"]: r for r in after["runs"]}
    assert run_rows[runs[0]]["status"] == "skipped"
    assert run_rows[runs[0]]["status_reason"] == "in exclude_runs"
    assert run_rows[runs[2]]["status_reason"] == "beyond sample_limit 1"
    analyses = {a["run"]: a for a in after["analyses"]}
    assert analyses[runs[0]]["is_suppressed"] == 1
    assert analyses[runs[0]]["suppression_reason"] == "run skipped: in exclude_runs"
    assert analyses[runs[1]]["is_suppressed"] == 0
    assert analyses[runs[2]]["suppression_reason"] == "run skipped: beyond sample_limit 1"
    # accessions never change or get reused
    assert {a["accession"] for a in after["analyses"]} == {
        a["accession"] for a in before["analyses"]
    }
    downloads = {d["id"]: d for d in after["downloads"]}
    assert all(d["is_suppressed"] for d in downloads.values() if runs[0] in d["path"])
    (study,) = after["studies"]
    assert (study["biome"], study["analyses_completed"], study["assemblies_completed"]) == (
        "root:Engineered:Wastewater",
        1,
        1,
    )
    # the shipped tree stays; a lineage outside it lives only while a study uses it
    tree = {b["lineage"] for b in biome_tree()}
    assert {b["lineage"] for b in after["biomes"]} == tree
    set_study_config(paths, biome="root:Engineered:Wastewater:Made up branch")
    load(store, results, "PRJEB1")
    grown = {b["lineage"] for b in dump(store)["biomes"]}
    assert grown == tree | {"root:Engineered:Wastewater:Made up branch"}
    set_study_config(paths, biome="root:Engineered:Wastewater")
    load(store, results, "PRJEB1")
    rebuilt = tmp_path / "rebuilt.db"
    rebuild(rebuilt, results, CFG)
    with open_store(rebuilt) as again:
        assert dump(again, canonical=True) == dump(store, canonical=True)
        assert dump(again) == after


def test_another_assembler_makes_another_assembly_and_keeps_the_old(results, store):
    """A study switched to metaSPAdes: each run's MEGAHIT assembly is kept, suppressed; the
    metaSPAdes one is a new assembly; the analysis keeps its MGYA and follows it."""
    paths, runs = make_study(results, "PRJEB1", 2)
    for run in runs:
        finish_run(paths, run)
    load(store, results, "PRJEB1")
    before = dump(store)
    set_study_config(paths, assembler="metaspades")
    for run in runs:
        finish_run(paths, run, assembler="metaspades")
    load(store, results, "PRJEB1")
    after = dump(store)
    assemblies = {(a["run"], a["assembler"]): a for a in after["assemblies"]}
    assert len(assemblies) == 4
    for run in runs:
        old, new = assemblies[run, "megahit"], assemblies[run, "metaspades"]
        assert old["is_suppressed"] and old["suppression_reason"] == (
            "the study's assembler is now metaspades"
        )
        assert not new["is_suppressed"] and new["status"] == "completed"
        assert new["results_dir"].endswith(f"{run}/assembly/metaspades")
    analyses = {a["run"]: a for a in after["analyses"]}
    assert {a["accession"] for a in after["analyses"]} == {
        a["accession"] for a in before["analyses"]
    }
    assert {analyses[r]["assembly"] for r in runs} == {
        assemblies[r, "metaspades"]["accession"] for r in runs
    }
    # each assembly offers its own contigs, from its own folder
    contigs = {d["assembly"]: d["path"] for d in after["downloads"] if d["assembly"]}
    for (run, assembler), a in assemblies.items():
        assert contigs[a["accession"]] == (
            f"studies/PRJEB1/runs/{run}/assembly/{assembler}/contigs.fa.gz"
        )


def finish_coassembly(paths, name: str, runs: list[str]) -> None:
    """A co-assembly's result files (as assembly_megahit and the analysis write them)."""
    from mgnify_db.io import write_json

    stats = {"n_contigs": 5, "total_length": 9000, "n50": 2500, "l50": 2, "largest_contig": 3000}
    stats |= {"gc_content": 0.5, "assembler": "megahit", "runs": runs}
    write_json(paths.path("assembly", name, assembler="megahit"), stats)
    paths.path("contigs", name, assembler="megahit").write_bytes(b"x" * 10)
    write_json(paths.path("cds_counts", name), {"cds_count": 20})
    write_json(paths.path("rrna_counts", name), {"rrna": {"SSU": 1, "rRNA_16S": 1}})


def test_a_coassembly_links_its_runs_and_outlives_their_reloads_and_its_config(results, store):
    """A co-assembly is one assembly (no run of its own) linking each run it was made from,
    with one analysis; loading one of its runs again leaves its links; loaded alone or with
    the study, its rows are the same; dropped from the config, it is kept, suppressed."""
    paths, runs = make_study(results, "PRJEB1", 3)
    set_study_config(paths, coassemblies={"pool": runs[:2]})
    for run in runs:
        finish_run(paths, run)
    load(store, results, "PRJEB1", runs)  # the runs first: the co-assembly is still pending
    load(store, results, "PRJEB1", ["pool"])
    (pending,) = rows(store, "select * from assemblies where coassembly = 'pool'")
    assert pending["status"] == "pending" and pending["run"] is None
    finish_coassembly(paths, "pool", runs[:2])
    load(store, results, "PRJEB1", ["pool"])
    (asm,) = rows(store, "select * from assemblies where coassembly = 'pool'")
    assert asm["accession"] == pending["accession"] and asm["status"] == "completed"
    assert asm["sample"] is None  # the runs are of two samples (MGnify: a virtual sample)
    links = "select run from assembly_runs where assembly = ? order by run"
    assert [r["run"] for r in rows(store, links, [asm["accession"]])] == runs[:2]
    (ana,) = rows(store, "select * from analyses where coassembly = 'pool'")
    assert ana["run"] is None and ana["assembly"] == asm["accession"] and ana["cds_count"] == 20
    assert len(rows(store, "select * from assemblies")) == 4  # 3 runs' own + the co-assembly
    load(store, results, "PRJEB1", [runs[0]])
    assert [r["run"] for r in rows(store, links, [asm["accession"]])] == runs[:2]
    by_units = dump(store, canonical=True)
    load(store, results, "PRJEB1")
    assert dump(store, canonical=True) | {"events": []} == by_units | {"events": []}
    set_study_config(paths, coassemblies={})
    load(store, results, "PRJEB1")
    (dropped,) = rows(store, "select * from assemblies where coassembly = 'pool'")
    assert dropped["accession"] == asm["accession"] and dropped["is_suppressed"]
    assert dropped["suppression_reason"] == "the co-assembly is no longer in the study's config"
    (ana,) = rows(store, "select * from analyses where coassembly = 'pool'")
    assert ana["is_suppressed"]


def test_coassembly_config_and_plan_problems(results):
    from mgnify_db.config import StudyConfig

    base = {"accession": "PRJEB1", "biome": "root"}
    for bad, says in (
        ({"ERR1000001": ["ERR1000002", "ERR1000003"]}, "not a co-assembly name"),
        ({"pool": ["ERR1000002"]}, "two or more runs"),
        ({"pool": ["ERR1000002", "ERR1000002"]}, "two or more runs"),
        ({"pool": ["ERR1000002", "sample-2"]}, "not an ENA run accession"),
    ):
        with pytest.raises(ValueError, match=says):
            StudyConfig(**base, coassemblies=bad)
    with pytest.raises(ValueError, match="neither a run accession nor a co-assembly"):
        StudyConfig(**base, run_assemblers={"pool": "metaspades"})
    paths, runs = make_study(results, "PRJEB1", 2)
    set_study_config(paths, coassemblies={"pool": [*runs, "ERR1000009"]})
    plan = recorded_plan(results, "PRJEB1")
    assert plan.coassembly_problem() == (
        "coassemblies.pool: ERR1000009 is not a run of PRJEB1 in ENA"
    )
    set_study_config(paths, coassemblies={"pool": runs}, run_assemblers={"pool": "metaspades"})
    plan = recorded_plan(results, "PRJEB1")
    assert plan.coassembly_problem() is None and plan.units == [*runs, "pool"]
    assert plan.assembler("pool") == "metaspades" and plan.members("pool") == runs


def test_a_run_assembler_and_single_end_runs(results):
    from dataclasses import replace

    from mgnify_db.plan import recorded_plan

    paths, runs = make_study(results, "PRJEB1", 2)
    set_study_config(paths, assembler="auto", run_assemblers={runs[1]: "megahit"})
    plan = recorded_plan(results, "PRJEB1")
    assert [plan.assembler(r) for r in runs] == ["metaspades", "megahit"]
    set_study_config(paths, assembler="metaspades", run_assemblers={})
    plan = recorded_plan(results, "PRJEB1")
    single = plan.decisions[runs[0]].model_copy(update={"layout": "SINGLE"})
    plan = replace(plan, decisions=plan.decisions | {runs[0]: single})
    assert [plan.assembler(r) for r in runs] == ["megahit", "metaspades"]


def test_withdrawn_runs_and_samples_are_kept_suppressed(results, store):
    from mgnify_db.ena.client import StudyMetadata, refreshed
    from mgnify_db.io import read_json, write_json

    paths, runs = make_study(results, "PRJEB1", 2)
    finish_run(paths, runs[0])
    load(store, results, "PRJEB1")
    old = StudyMetadata.model_validate(read_json(paths.path("ena")))
    new = old.model_copy(
        update={
            "runs": [r for r in old.runs if r.run_accession != runs[0]],
            "samples": [s for s in old.samples if s.sample_accession != "SAMEA11"],
        }
    )
    write_json(paths.path("ena"), refreshed(old, new).model_dump(mode="json"))
    load(store, results, "PRJEB1")
    run = next(store.query("select * from runs where accession = ?", [runs[0]]))
    assert (run["is_suppressed"], run["suppression_reason"]) == (1, "no longer listed by ENA")
    sample = next(store.query("select * from samples where accession = 'SAMEA11'"))
    assert sample["is_suppressed"] == 1
    (analysis,) = rows(store, "select * from analyses where run = ?", [runs[0]])
    assert analysis["is_suppressed"] == 1 and analysis["accession"] == "MGYA00000001"


def test_running_and_failed_come_from_job_events(results, store):
    paths, runs = make_study(results, "PRJEB1", 2)
    finish_run(paths, runs[0], assembled=False)
    jobs = paths.path("jobs", runs[0])
    t = "2026-01-01T00:00:0{}+00:00"
    started = {"rule": "assembly_megahit", "event": "started", "attempt": 1, "job_id": "42"}
    append_jsonl(jobs / "assembly_megahit.jsonl", {**started, "time": t.format(1)})
    load(store, results, "PRJEB1")
    (asm,) = rows(store, "select * from assemblies")
    assert (asm["status"], asm["job_id"]) == ("running", "42")  # the running Slurm job
    append_jsonl(
        jobs / "assembly_megahit.jsonl",
        {
            **started,
            "event": "failed",
            "time": t.format(2),
            "cause": "out_of_memory",
            "message": "killed",
        },
    )
    append_jsonl(
        paths.path("jobs", runs[1]) / "ena_download.jsonl",
        {
            "rule": "ena_download",
            "event": "failed",
            "attempt": 1,
            "time": t.format(3),
            "message": "md5 mismatch",
        },
    )
    load(store, results, "PRJEB1")
    (asm,) = rows(store, "select * from assemblies")
    assert (asm["status"], asm["status_reason"]) == ("failed", "assembly_megahit: killed")
    (run,) = rows(store, "select status from runs where accession = ?", [runs[1]])
    assert run["status"] == "failed"
    events = rows(
        store, "select event, cause, job_id from events where event != 'memory' order by time"
    )
    assert [e["event"] for e in events] == ["started", "failed", "failed"]
    assert events[1]["cause"] == "out_of_memory" and events[1]["job_id"] == "42"


def test_fts_search(results, store, tmp_path):
    make_study(results, "PRJEB1", 1)
    load(store, results, "PRJEB1")
    db = searchable(store, tmp_path)
    assert [r["ena_accession"] for r in db["studies"].search("ocean")] == ["PRJEB1"]
    (study,) = rows(store, "select ena_accessions from studies")
    assert json.loads(study["ena_accessions"]) == ["PRJEB1", "ERP1"]


def test_canonical_dump_ignores_allocation_order(results, tmp_path):
    paths, runs = make_study(results, "PRJEB1", 2)
    for run in runs:
        finish_run(paths, run)
    other_results = tmp_path / "other"
    shutil.copytree(results, other_results)
    # another catalogue whose ledger allocated the runs' analyses the other way round
    (other_results / "accessions.tsv").write_text(
        "".join(f"analysis\t{i}\t{r}/assembly\n" for i, r in enumerate(reversed(runs), 1))
    )
    with open_store(tmp_path / "one.db") as one, open_store(tmp_path / "two.db") as two:
        load(one, results, "PRJEB1")
        load(two, other_results, "PRJEB1")
        assert dump(one)["analyses"] != dump(two)["analyses"]
        canonical = dump(one, canonical=True)
        assert canonical == dump(two, canonical=True)
        assert {a["accession"] for a in canonical["analyses"]} == {
            f"<analysis {r}/assembly>" for r in runs
        }
        two.db.execute("update analyses set cds_count = 1")  # content differences still show
        assert dump(two, canonical=True) != canonical


def test_every_facet_and_foreign_key_is_indexed(store, tmp_path):
    import yaml

    from mgnify_db.cli import METADATA

    meta = yaml.safe_load(METADATA.read_text())["databases"]["catalogue"]["tables"]
    db = searchable(store, tmp_path)
    for table, spec in meta.items():
        indexed = {i.columns[0] for i in db[table].indexes} | {db[table].pks[0]}
        wanted = set(spec.get("facets", [])) | {fk.column for fk in db[table].foreign_keys}
        assert wanted <= indexed, f"{table}: no index on {wanted - indexed}"


def test_a_job_killed_by_slurm_is_failed_from_its_slurm_log(results, store):
    """OverMemoryKill leaves the job no chance to write; the plugin's job log tells, and the
    head process records it as the job's failure (the loader never reads Slurm logs)."""
    paths, runs = make_study(results, "PRJEB1", 1)
    finish_run(paths, runs[0], assembled=False)
    events = paths.path("jobs", runs[0]) / "assembly_megahit.jsonl"
    append_jsonl(
        events,
        {
            "rule": "assembly_megahit",
            "event": "started",
            "attempt": 3,
            "job_id": "77",
            "mem_mb": 450,
            "time": "2026-01-01T00:00:00+00:00",
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
    load(store, results, "PRJEB1")
    (asm,) = rows(store, "select * from assemblies")
    assert asm["status"] == "running"  # nothing recorded yet: the loader does not scan logs
    reconcile_slurm(
        events, paths.path("slurm_logs"), "assembly_megahit", {"study": "PRJEB1", "run": runs[0]}
    )
    load(store, results, "PRJEB1")
    (asm,) = rows(store, "select * from assemblies")
    assert (asm["status"], asm["job_id"]) == ("failed", "77")
    (event,) = rows(store, "select * from events where event = 'failed'")
    assert (event["cause"], event["attempt"], event["mem_mb"]) == ("out_of_memory", 3, 450)
    assert "exceeded memory limit" in event["message"]


def test_rebuild_refuses_an_empty_results_dir(results, tmp_path):
    paths, runs = make_study(results, "PRJEB1", 1)
    db = tmp_path / "c.db"
    rebuild(db, results, CFG)
    size = db.stat().st_size
    with pytest.raises(CatalogueError, match="no study results found"):
        rebuild(db, tmp_path / "resutls", CFG)
    assert db.stat().st_size == size
    with open_store(db, create=False) as s:
        assert rows(s, "select count(*) n from runs")[0]["n"] == 2


def test_a_study_not_yet_fetched_is_a_stub_then_the_full_study(results, store):
    from mgnify_db.config import StudyConfig
    from mgnify_db.io import write_json
    from mgnify_db.paths import StudyPaths

    pending = StudyPaths(results, "PRJEB1").path("pending_config")
    config = StudyConfig(accession="PRJEB1", biome="root:Engineered")
    write_json(pending, config.model_dump(mode="json"))
    load(store, results, "PRJEB1")
    (stub,) = rows(store, "select * from studies")
    assert (stub["accession"], stub["title"], stub["runs_total"]) == ("MGYS00000001", None, 0)
    make_study(results, "PRJEB1", 1)  # the metadata arrives later
    load(store, results, "PRJEB1")
    (study,) = rows(store, "select * from studies")
    assert (study["accession"], study["title"]) == ("MGYS00000001", "Study PRJEB1 of the ocean")


def test_publications_and_super_studies_come_from_the_recorded_references(results, store, tmp_path):
    """A study's publications and super studies are loaded from references.json (recorded with
    its config), so a rebuild needs no config.yaml to give the same rows."""
    from mgnify_db.config import GlobalConfig, StudyConfig, study_references
    from mgnify_db.io import write_json
    from mgnify_db.paths import StudyPaths

    paths, _ = make_study(results, "PRJEB1", 1)
    cfg = GlobalConfig(
        publications={123: {"title": "A paper", "published_year": 2024, "doi": "10.1/x"}},
        super_studies={
            "atlas": {"title": "Atlas", "flagship_studies": ["PRJEB1"]},
            "other": {"title": "Other"},
        },
    )
    study = StudyConfig(accession="PRJEB1", biome="root", publications=[123])
    write_json(StudyPaths(results, "PRJEB1").path("study_references"), study_references(cfg, study))
    load(store, results, "PRJEB1")
    got = dump(store)
    assert [(p["pubmed_id"], p["title"]) for p in got["publications"]] == [(123, "A paper")]
    assert [(s["slug"], s["title"]) for s in got["super_studies"]] == [("atlas", "Atlas")]
    (link,) = got["super_study_studies"]
    assert link["is_flagship"] == 1 and link["study"] == got["studies"][0]["accession"]
    assert len(got["study_publications"]) == 1
    rebuilt = tmp_path / "rebuilt.db"
    rebuild(rebuilt, results, GlobalConfig())  # no publications in this config: same rows
    with open_store(rebuilt) as again:
        assert dump(again) == got


def test_a_sample_shared_by_a_public_and_a_private_study(results, tmp_path):
    """One sample row, two links; public (with the public study's biome, no owner) whatever
    the order of the loads, and never in public.db with the private study's owner."""
    import json as _json

    from mgnify_db.catalogue.publish import publish
    from mgnify_db.io import read_json, write_json

    shared = None
    for acc, private in (("PRJEB1", False), ("PRJEB2", True)):
        paths, _ = make_study(results, acc, 1, biome=f"root:Engineered:Wastewater:{acc}")
        if private:
            set_study_config(paths, is_private=True, webin_owner="Webin-99999")
        ena = read_json(paths.path("ena"))
        if shared is None:
            shared = ena["samples"][0]
        else:  # the second study lists the first study's sample too
            ena["samples"].append(shared)
        write_json(paths.path("ena"), ena)
    dumps = []
    for order in (("PRJEB1", "PRJEB2"), ("PRJEB2", "PRJEB1")):
        db = tmp_path / f"{'-'.join(order)}.db"
        with open_store(db) as store:
            for acc in order:
                load(store, results, acc)
            got = dump(store, canonical=True)
        dumps.append(got)
        (row,) = [s for s in got["samples"] if s["accession"] == shared["sample_accession"]]
        assert (row["is_private"], row["webin_owner"]) == (0, None)
        assert row["biome"] == "root:Engineered:Wastewater:PRJEB1"
        links = [lk for lk in got["study_samples"] if lk["sample"] == row["accession"]]
        assert sorted(lk["is_private"] for lk in links) == [0, 1]
        public = tmp_path / f"public-{'-'.join(order)}.db"
        publish(db, public)
        assert b"Webin-99999" not in public.read_bytes()
        assert b"PRJEB2" not in public.read_bytes()
    assert _json.dumps(dumps[0], sort_keys=True) == _json.dumps(dumps[1], sort_keys=True)


def test_a_sample_a_study_stops_listing_takes_the_flags_of_those_that_still_do(
    results, store, tmp_path
):
    """The public study's ENA record no longer lists the sample it shared with a private one,
    nor its run: the sample then takes the private study's flags and owner, as a rebuild from
    the files makes it, and is not in public.db."""
    from mgnify_db.catalogue.publish import publish
    from mgnify_db.io import read_json, write_json

    first, _ = make_study(results, "PRJEB1", 1)
    second, _ = make_study(results, "PRJEB2", 1)
    set_study_config(second, is_private=True, webin_owner="Webin-99999")
    ena = read_json(second.path("ena"))
    ena["samples"].append({"sample_accession": "SAMEA11", "lat": 1.0})
    write_json(second.path("ena"), ena)
    for acc in ("PRJEB1", "PRJEB2"):
        load(store, results, acc)
    (row,) = rows(store, "select * from samples where accession = 'SAMEA11'")
    assert (row["is_private"], row["webin_owner"]) == (0, None)
    ena = read_json(first.path("ena"))
    ena["samples"], ena["runs"] = [], []
    write_json(first.path("ena"), ena)
    load(store, results, "PRJEB1")
    (row,) = rows(store, "select * from samples where accession = 'SAMEA11'")
    assert (row["is_private"], row["webin_owner"]) == (1, "Webin-99999")
    rebuilt = tmp_path / "rebuilt.db"
    rebuild(rebuilt, results, CFG)
    with open_store(rebuilt) as again:
        assert dump(again, canonical=True)["samples"] == dump(store, canonical=True)["samples"]
        publish(rebuilt, tmp_path / "public.db")
    assert b"SAMEA11" not in (tmp_path / "public.db").read_bytes()


def test_an_old_schema_catalogue_is_rebuilt_from_the_files(results, tmp_path):
    """The workflow's loads open the catalogue through open_catalogue: one made by another
    schema version is rebuilt from the result files (nothing lost), never used as it is."""
    import sqlite3

    from mgnify_db.catalogue.load import open_catalogue
    from mgnify_db.catalogue.store import SchemaMismatch

    make_study(results, "PRJEB1", 2)
    db = tmp_path / "catalogue.db"
    with open_store(db) as store:
        load(store, results, "PRJEB1")
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("update _meta set value = '2' where key = 'schema_version'")
    conn.close()
    with pytest.raises(SchemaMismatch, match="catalogue schema v2.*catalogue rebuild"):
        open_store(db).__enter__()
    cfg = CFG.model_copy(update={"catalogue": f"sqlite:///{db}", "results_dir": str(results)})
    with open_catalogue(cfg) as store:
        assert [r["ena_accession"] for r in store.query("select * from studies")] == ["PRJEB1"]
        assert next(store.query("select value from _meta"))["value"] == str(SCHEMA_VERSION)


def test_unchanged_annotation_tables_are_kept_changed_ones_replaced(results, store, tmp_path):
    """A re-load keeps the annotation rows of analyses whose tables did not change (same digest)
    and replaces those of a changed table; either way the rows equal a rebuild's."""
    from mgnify_db.pipelines.annotations import AnnotationRow, write_annotation_table

    paths, runs = make_study(results, "PRJEB1", 2)
    for i, run in enumerate(runs):
        finish_run(paths, run)
        rows_ = [AnnotationRow(term=f"T{j}", count=j + 1 + i) for j in range(3)]
        write_annotation_table(paths.path("rrna_annotations", run), rows_)
    load(store, results, "PRJEB1")
    before = dump(store)
    assert len(before["annotations"]) == 6
    calls = []
    original = store._insert
    store._insert = lambda table, rows: (calls.append(len(rows)), original(table, rows))[1]
    load(store, results, "PRJEB1")  # nothing changed: nothing deleted, nothing inserted
    assert calls == [0] and dump(store) == before
    write_annotation_table(
        paths.path("rrna_annotations", runs[1]), [AnnotationRow(term="NEW", count=9)]
    )
    load(store, results, "PRJEB1")
    assert calls == [0, 1]
    after = dump(store)
    terms = {(a["analysis"], a["term"]) for a in after["annotations"]}
    assert len(terms) == 4 and any(t == "NEW" for _, t in terms)
    rebuilt = tmp_path / "rebuilt.db"
    rebuild(rebuilt, results, CFG)
    with open_store(rebuilt) as again:
        assert dump(again) == after


def test_study_features_are_the_json_mgnify_writes(results, store):
    """`features` is written by portable SQL (no JSON functions): the text SQLite's
    json_object gives, with `has_v6_analyses` true once a v6 analysis is ready."""

    def features() -> str:
        (study,) = rows(store, "select features from studies")
        return study["features"]

    def json_object(v6: bool) -> str:
        import sqlite3

        sql = "select json_object('has_v6_analyses', json(?), 'has_prev6_analyses', json('false'))"
        with sqlite3.connect(":memory:") as conn:
            return conn.execute(sql, ["true" if v6 else "false"]).fetchone()[0]

    paths, runs = make_study(results, "PRJEB1", 2)
    load(store, results, "PRJEB1")
    assert (
        features() == json_object(False) == '{"has_v6_analyses":false,"has_prev6_analyses":false}'
    )
    finish_run(paths, runs[0])
    load(store, results, "PRJEB1")
    assert features() == json_object(True)
    assert json.loads(features()) == {"has_v6_analyses": True, "has_prev6_analyses": False}
