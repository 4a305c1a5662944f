"""The catalogue on PostgreSQL: the same loads give the same rows as on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import drop_database, finish_run, make_study, new_database, set_study_config

from mgnify_db.catalogue import CatalogueError, dump, open_store, rebuild
from mgnify_db.catalogue import load_run as _load_run
from mgnify_db.catalogue import load_study as _load_study
from mgnify_db.catalogue.pg_store import PostgresStore
from mgnify_db.config import GlobalConfig
from mgnify_db.paths import StudyPaths
from mgnify_db.plan import recorded_plan

CFG = GlobalConfig()


@pytest.fixture
def pg_url(postgres_url):
    """A fresh, empty database on the test server (dropped afterwards)."""
    url = new_database(postgres_url)
    try:
        yield url
    finally:
        drop_database(url)


def _study(results: Path, terms: int = 3):
    """A study of 3 runs (one completed with annotations, one QC-failed, one pending)."""
    from mgnify_db.pipelines.annotations import AnnotationRow, write_annotation_table

    paths, runs = make_study(results, "PRJEB1", 3)
    finish_run(paths, runs[0])
    finish_run(paths, runs[1], passed=False)
    rows = [AnnotationRow(term=f"T{j}", count=j + 1) for j in range(terms)]
    write_annotation_table(paths.path("rrna_annotations", runs[0]), rows)
    return paths, runs


def test_a_study_loads_into_postgresql_as_into_sqlite(tmp_path, pg_url):
    """Every row of every table equal (accessions from the same ledger); a second load
    changes nothing."""
    results = tmp_path / "results"
    _study(results)
    with open_store(tmp_path / "c.db") as lite, open_store(pg_url) as pg:
        _load_study(lite, results, CFG, study="PRJEB1")
        _load_study(pg, results, CFG, study="PRJEB1")
        want, got = dump(lite), dump(pg)
        assert got == want
        assert got["studies"][0]["runs_total"] == 4 and len(got["annotations"]) == 3
        _load_study(pg, results, CFG, study="PRJEB1")
        assert dump(pg) == want


def test_changed_annotations_are_replaced_unchanged_ones_kept(tmp_path, pg_url):
    """The kept-annotations path (a temp table) and COPY of new rows, as on SQLite."""
    from mgnify_db.pipelines.annotations import AnnotationRow, write_annotation_table

    results = tmp_path / "results"
    paths, runs = _study(results)
    with open_store(tmp_path / "c.db") as lite, open_store(pg_url) as pg:
        _load_study(pg, results, CFG, study="PRJEB1")
        write_annotation_table(
            paths.path("rrna_annotations", runs[0]), [AnnotationRow(term="NEW", count=9)]
        )
        _load_study(pg, results, CFG, study="PRJEB1")
        _load_study(lite, results, CFG, study="PRJEB1")
        got = dump(pg)
        assert [a["term"] for a in got["annotations"]] == ["NEW"]
        assert got == dump(lite)


def test_run_loads_then_a_study_load_on_postgresql(tmp_path, pg_url):
    results = tmp_path / "results"
    _, runs = _study(results)
    with open_store(tmp_path / "c.db") as lite, open_store(pg_url) as pg:
        _load_study(lite, results, CFG, study="PRJEB1")
        _load_study(pg, results, CFG, study="PRJEB1")
        plan = recorded_plan(results, "PRJEB1")
        for run in runs[:2]:
            _load_run(pg, results, CFG, plan, run)
        assert dump(pg) == dump(lite)


def test_a_failed_load_leaves_the_previous_state(tmp_path, pg_url):
    results = tmp_path / "results"
    _study(results)
    with open_store(pg_url) as pg:
        _load_study(pg, results, CFG, study="PRJEB1")
        before = dump(pg)

        def broken():
            raise RuntimeError("cut short")

        with pytest.raises(RuntimeError, match="cut short"):
            pg.replace_study(before["studies"][0]["accession"], broken)
        assert dump(pg) == before


def test_an_unreachable_server_is_one_line(tmp_path):
    from support import free_port

    from mgnify_db.catalogue import CatalogueError

    url = f"postgresql://someone:secret@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(CatalogueError) as caught:
        with open_store(url):
            pass
    message = str(caught.value)
    assert "cannot connect" in message and "secret" not in message and "\n" not in message


def _load(url: str, results: Path, study: str, marker: Path | None = None) -> None:
    """A load in a child process. With `marker`: it stops in its last part, holding the
    shared-rows lock with every row written, before it commits, after touching `marker` (the
    kill test takes it there)."""
    import time
    from contextlib import contextmanager

    with open_store(url) as store:
        if marker is not None:
            shared = store._shared

            @contextmanager
            def held():
                with shared():
                    yield
                marker.touch()
                time.sleep(300)

            store._shared = held
        _load_study(store, results, CFG, study=study)


def _run_together(procs) -> None:
    """Start the processes at once; each must finish cleanly."""
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    assert [p.exitcode for p in procs] == [0] * len(procs)


def _dump_of(url) -> dict:
    with open_store(url, create=False) as store:
        return dump(store)


def _sequential_sqlite(tmp_path: Path, results: Path, studies: list[str]) -> dict:
    """The dump of the studies loaded one after another into a new SQLite catalogue."""
    with open_store(tmp_path / "sequential.db") as lite:
        for acc in studies:
            _load_study(lite, results, CFG, study=acc)
        return dump(lite)


def test_concurrent_study_loads_lose_and_duplicate_nothing(tmp_path, pg_url):
    """Six studies loaded at once by six processes, twice over: the rows a sequential load
    into SQLite makes, no more, no fewer."""
    import multiprocessing

    results = tmp_path / "results"
    studies = [f"PRJEB{i}" for i in range(1, 7)]
    for acc in studies:
        paths, runs = make_study(results, acc, 2)
        finish_run(paths, runs[0])
    with open_store(pg_url):
        pass  # the schema, made once (concurrent first opens wait on its lock too)
    fork = multiprocessing.get_context("fork")
    for _ in range(2):
        procs = [fork.Process(target=_load, args=(pg_url, results, s)) for s in studies]
        _run_together(procs)
    got, want = _dump_of(pg_url), _sequential_sqlite(tmp_path, results, studies)
    assert len(got["studies"]) == 6 and len(got["runs"]) == 18
    assert got == want


def test_a_load_killed_mid_transaction_leaves_the_previous_state(tmp_path, pg_url):
    """A re-load killed (SIGKILL) after writing its rows, before its commit: the catalogue is
    as before, no lock is left behind, and the next load completes."""
    import multiprocessing
    import time

    import psycopg

    from mgnify_db.pipelines.annotations import AnnotationRow, write_annotation_table

    results = tmp_path / "results"
    paths, runs = _study(results)
    with open_store(pg_url) as pg:
        _load_study(pg, results, CFG, study="PRJEB1")
        before = dump(pg)
    write_annotation_table(
        paths.path("rrna_annotations", runs[0]), [AnnotationRow(term="NEW", count=9)]
    )
    marker = tmp_path / "written"
    child = multiprocessing.get_context("fork").Process(
        target=_load, args=(pg_url, results, "PRJEB1", marker)
    )
    child.start()
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert child.is_alive() and time.monotonic() < deadline, "the load never wrote"
        time.sleep(0.05)
    child.kill()
    child.join(30)
    with open_store(pg_url) as pg:
        assert dump(pg) == before
        with psycopg.connect(pg_url) as conn:
            deadline = time.monotonic() + 30  # the server notices the dead client at once
            while conn.execute(
                "select count(*) from pg_locks l join pg_database d on d.oid = l.database"
                " where l.locktype = 'advisory' and d.datname = current_database()"
            ).fetchone()[0]:
                assert time.monotonic() < deadline, "an advisory lock outlived its load"
                time.sleep(0.1)
        _load_study(pg, results, CFG, study="PRJEB1")
        assert [a["term"] for a in dump(pg)["annotations"]] == ["NEW"]


def _shared_studies(results: Path) -> list[str]:
    """Eight studies whose samples overlap (PRJEB1 and PRJEB11 list SAMEA11...), some private:
    the samples' flags derive from every study that lists them."""
    from mgnify_db.io import read_json, write_json

    studies = ["PRJEB1", "PRJEB11", "PRJEB21", "PRJEB2", "PRJEB12", "PRJEB3", "PRJEB13", "PRJEB4"]
    for i, acc in enumerate(studies):
        paths, _ = make_study(results, acc, 2)
        ena = read_json(paths.path("ena"))
        for r in ena["runs"]:  # a run is one study's (ENA): ERR1000001 -> ERR11000001
            r["run_accession"] = f"ERR{acc[5:]}{r['run_accession'][4:]}"
        write_json(paths.path("ena"), ena)
        finish_run(paths, ena["runs"][0]["run_accession"])
        if i % 3 == 1:
            set_study_config(paths, is_private=True, webin_owner=f"Webin-{100 + i}")
    return studies


def test_concurrent_loads_of_studies_sharing_samples_derive_their_flags(tmp_path, pg_url):
    """Eight studies sharing samples, some private, loaded at once (three rounds, with a
    second load of one study and run loads alongside; between rounds a study sharing a sample
    turns private, then public again): each sample's visibility, biome and owner are those a
    sequential load gives, whatever order the commits came in."""
    import multiprocessing

    results = tmp_path / "results"
    studies = _shared_studies(results)
    with open_store(pg_url):
        pass
    fork = multiprocessing.get_context("fork")
    for round in range(3):
        if round:  # the shared sample's first link changes side each round
            first = StudyPaths(results, "PRJEB1")
            owner = "Webin-1" if round == 1 else None
            set_study_config(first, is_private=round == 1, webin_owner=owner)
        procs = [fork.Process(target=_load, args=(pg_url, results, s)) for s in studies]
        procs.append(fork.Process(target=_load, args=(pg_url, results, studies[0])))
        procs.append(fork.Process(target=_load_runs, args=(pg_url, results, studies[1])))
        _run_together(procs)
    got, want = _dump_of(pg_url), _sequential_sqlite(tmp_path, results, studies)
    flags = {s["accession"]: (s["is_private"], s["webin_owner"]) for s in got["samples"]}
    assert flags["SAMEA11"] == (0, None)  # public through PRJEB1, though PRJEB11 is private
    assert flags["SAMEA21"] == (0, None)  # PRJEB12 (private) and PRJEB2 list it
    assert got == want


def _load_runs(url: str, results: Path, study: str) -> None:
    plan = recorded_plan(results, study)
    with open_store(url) as store:
        for run in plan.eligible:
            _load_run(store, results, CFG, plan, run)


def _two_studies(results: Path) -> None:
    from mgnify_db.pipelines.annotations import AnnotationRow, write_annotation_table

    for acc, private in (("PRJEB1", False), ("PRJEB2", True)):
        paths, runs = make_study(results, acc, 2)
        finish_run(paths, runs[0])
        write_annotation_table(
            paths.path("rrna_annotations", runs[0]),
            [AnnotationRow(term=f"{acc}-{j}", count=j + 1) for j in range(5)],
        )
        if private:
            set_study_config(paths, is_private=True, webin_owner="Webin-7")


def _tables(path: Path) -> dict[str, list]:
    """Every row of every table of a SQLite file (public.db has no `events`: no store opens
    it), full-text indexes as what they find."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        names = [
            name
            for (name,) in conn.execute("select name from sqlite_master where type = 'table'")
            # FTS5's segments say how it was filled, not what it finds; generations are the
            # stores' own
            if "_fts_" not in name and name != "_meta"
        ]
        return {n: conn.execute(f'select * from "{n}" order by 1, 2').fetchall() for n in names}
    finally:
        conn.close()


def _sqlite_master(path: Path) -> list:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "select type, name, tbl_name, sql from sqlite_master order by type, name"
        ).fetchall()
    finally:
        conn.close()


def test_publish_from_postgresql_writes_the_files_sqlite_would(tmp_path, pg_url):
    """catalogue.db exported from PostgreSQL and public.db stripped from it equal, row for
    row and in schema (tables, indexes, full-text search), what a SQLite catalogue publishes;
    an unchanged catalogue is not exported again."""
    import sqlite3

    from mgnify_db.catalogue.publish import export_store, publish, publish_store

    results = tmp_path / "results"
    _two_studies(results)
    lite_db, out = tmp_path / "lite" / "catalogue.db", tmp_path / "pg"
    with open_store(lite_db) as lite, open_store(pg_url) as pg:
        for acc in ("PRJEB1", "PRJEB2"):
            _load_study(lite, results, CFG, study=acc)
            _load_study(pg, results, CFG, study=acc)
        generation = pg.generation()
    want = publish(lite_db, tmp_path / "lite" / "public.db")
    got = publish_store(pg_url, out / "catalogue.db", out / "public.db")
    assert got == want and got["studies"] == 1
    with open_store(out / "catalogue.db", create=False) as a, open_store(lite_db) as b:
        assert dump(a) == dump(b)
    for name in ("catalogue.db", "public.db"):
        assert _tables(out / name) == _tables(lite_db.with_name(name)), name
        assert _sqlite_master(out / name) == _sqlite_master(lite_db.with_name(name)), name
    with sqlite3.connect(out / "public.db") as conn:
        hits = conn.execute("select rowid from studies_fts where studies_fts match 'ocean'")
        assert len(hits.fetchall()) == 1
    with open_store(out / "catalogue.db", create=False) as exported:
        assert exported.generation() == generation
    assert (out / "catalogue.db").stat().st_mode & 0o077 == 0  # private rows inside
    assert export_store(pg_url, out / "catalogue.db") is False


def test_migrate_moves_a_catalogue_between_stores_with_its_accessions(tmp_path, pg_url):
    """SQLite -> PostgreSQL -> a new SQLite file: every row (accessions, ids) and `_meta`
    (generation, notes) equal; a target holding studies is refused in one line unless --replace."""
    from click.testing import CliRunner

    from mgnify_db.cli import cli

    results = tmp_path / "results"
    _two_studies(results)
    lite_db = tmp_path / "catalogue.db"
    with open_store(lite_db) as lite:
        for acc in ("PRJEB1", "PRJEB2"):
            _load_study(lite, results, CFG, study=acc)
        lite.db.execute("INSERT INTO _meta VALUES ('loaded_by', 'an operator')")
        want, meta = dump(lite), lite.meta()
    runner = CliRunner()
    res = runner.invoke(cli, ["catalogue", "migrate", "--from", str(lite_db), "--to", pg_url])
    assert res.exit_code == 0, res.output
    assert '"annotations": 10' in res.output
    res = runner.invoke(cli, ["catalogue", "migrate", "--from", str(lite_db), "--to", pg_url])
    assert res.exit_code == 1
    assert res.output.strip().splitlines() == [
        f"error: {pg_url}: already holds 2 studies (--replace to overwrite them)"
    ]
    res = runner.invoke(
        cli, ["catalogue", "migrate", "--from", str(lite_db), "--to", pg_url, "--replace"]
    )
    assert res.exit_code == 0, res.output
    back = tmp_path / "back" / "catalogue.db"
    res = runner.invoke(
        cli, ["catalogue", "migrate", "--from", str(lite_db), "--to", f"sqlite:///{lite_db}"]
    )
    assert res.exit_code == 1 and "the source and the target are the same" in res.output
    res = runner.invoke(
        cli, ["catalogue", "migrate", "--from", pg_url, "--to", f"sqlite:///{back}"]
    )
    assert res.exit_code == 0, res.output
    for url in (pg_url, back):
        with open_store(url, create=False) as store:
            assert dump(store) == want
            assert store.meta() == meta  # generation and notes
    assert back.stat().st_mode & 0o077 == 0  # a whole catalogue: private rows inside


def test_rebuild_and_a_schema_change_on_postgresql(tmp_path, pg_url):
    """`catalogue rebuild` of a PostgreSQL catalogue gives the rows a SQLite rebuild does, in
    one transaction; the workflow's open of a catalogue of another schema version rebuilds it
    from the result files."""
    import psycopg
    from click.testing import CliRunner

    from mgnify_db.catalogue.load import open_catalogue
    from mgnify_db.catalogue.schema import SCHEMA_VERSION
    from mgnify_db.cli import cli

    results = tmp_path / "results"
    _two_studies(results)
    args = ["catalogue", "rebuild", "--results", str(results)]
    res = CliRunner().invoke(cli, [*args, "--catalogue", pg_url])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, [*args, "--catalogue", str(tmp_path / "c.db")])
    assert res.exit_code == 0, res.output
    with open_store(pg_url) as pg, open_store(tmp_path / "c.db") as lite:
        want = dump(lite)
        assert dump(pg) == want
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE _meta SET value = '1' WHERE key = 'schema_version'")
        conn.execute('DROP TABLE "events"')  # an old schema: a table it did not have
    cfg = GlobalConfig(results_dir=str(results), catalogue=pg_url)
    with open_catalogue(cfg) as store:
        assert dump(store) == want
        version = next(store.query("SELECT value FROM _meta WHERE key = 'schema_version'"))
        assert version["value"] == str(SCHEMA_VERSION)


def test_the_cli_works_on_a_postgresql_catalogue(tmp_path, pg_url):
    """load, status, dump and publish take the catalogue's URL (--catalogue, or the config's
    `catalogue`); an unreachable server and a password in a URL are one line each."""
    import yaml
    from click.testing import CliRunner
    from support import free_port

    from mgnify_db.cli import cli

    results = tmp_path / "results"
    _two_studies(results)
    runner = CliRunner()
    res = runner.invoke(cli, ["catalogue", "load", "PRJEB1", "--catalogue", pg_url])
    assert res.exit_code == 1
    assert res.output.strip() == f"error: {pg_url}: no catalogue here"  # nothing made
    res = runner.invoke(
        cli,
        [
            "catalogue",
            "rebuild",
            "--results",
            str(tmp_path / "none"),
            "--allow-empty",
            "--catalogue",
            pg_url,
        ],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        cli, ["catalogue", "load", "PRJEB1", "--results", str(results), "--catalogue", pg_url]
    )
    assert res.exit_code == 0, res.output
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "catalogue": pg_url,
                "results_dir": str(results),
                "publish": {
                    "public_db": str(tmp_path / "out" / "public.db"),
                    "catalogue_db": str(tmp_path / "out" / "catalogue.db"),
                },
            }
        )
    )
    res = runner.invoke(cli, ["catalogue", "status", "--config", str(config)])
    assert res.exit_code == 0, res.output
    assert "\truns\tcompleted\t1" in res.output
    res = runner.invoke(cli, ["catalogue", "publish", "--config", str(config)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "catalogue.db").is_file()
    dead = f"postgresql://nobody@127.0.0.1:{free_port()}/x"
    res = runner.invoke(cli, ["catalogue", "dump", "--catalogue", dead])
    assert res.exit_code == 1 and len(res.output.strip().splitlines()) == 1
    assert res.output.startswith(f"error: {dead}: cannot connect")
    res = runner.invoke(cli, ["catalogue", "dump", "--catalogue", dead.replace("nobody", "u:pw")])
    assert res.exit_code == 1 and "pw" not in res.output
    assert "no password in the catalogue URL" in res.output


def test_a_database_of_another_application_is_never_made_a_catalogue(tmp_path, pg_url):
    """Neither opening for a load nor a rebuild touches a database holding other tables
    (one line, their names); a foreign `_meta` table is one line too, not a traceback."""
    import psycopg

    results = tmp_path / "results"
    _two_studies(results)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE runs (id int)")
        conn.execute("INSERT INTO runs VALUES (1)")
    with pytest.raises(CatalogueError, match="not a catalogue .it holds other tables: runs"):
        open_store(pg_url).__enter__()
    with pytest.raises(CatalogueError, match="not a catalogue"):
        rebuild(pg_url, results, CFG)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT id FROM runs").fetchall() == [(1,)]
        conn.execute("CREATE TABLE _meta (name text)")
    with pytest.raises(CatalogueError, match="not a usable catalogue .column"):
        open_store(pg_url, create=False).__enter__()


def test_a_rebuild_waits_for_an_export_and_an_export_never_reads_it_half_done(tmp_path, pg_url):
    """An export (publish's snapshot) that runs while the workflow rebuilds an outdated
    catalogue reads the old catalogue or the new, whole: never tables a rebuild dropped."""
    import threading

    import psycopg

    from mgnify_db.catalogue.load import open_catalogue
    from mgnify_db.catalogue.move import export

    results = tmp_path / "results"
    _two_studies(results)
    with open_store(pg_url) as pg:
        for acc in ("PRJEB1", "PRJEB2"):
            _load_study(pg, results, CFG, study=acc)
        want = dump(pg)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE _meta SET value = '1' WHERE key = 'schema_version'")
    cfg = GlobalConfig(results_dir=str(results), catalogue=pg_url)
    reader = open_store(pg_url, create=False)
    with pytest.raises(CatalogueError):
        reader.__enter__()  # the old schema: readers are refused until it is rebuilt
    exported = []

    def exporting():
        for i in range(20):
            store = PostgresStore(pg_url, schema=False)
            try:
                export(store, tmp_path / f"e{i}" / "catalogue.db")
            finally:
                store.close()
            with open_store(tmp_path / f"e{i}" / "catalogue.db", create=False) as e:
                exported.append(len(dump(e)["studies"]))

    thread = threading.Thread(target=exporting)
    thread.start()
    with open_catalogue(cfg) as store:
        assert dump(store) == want
    thread.join(60)
    assert exported and set(exported) == {2}
