"""The catalogue on PostgreSQL: the same loads give the same rows as on SQLite."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from support import finish_run, make_study

from mgnify_db.catalogue import dump, open_store
from mgnify_db.catalogue import load_run as _load_run
from mgnify_db.catalogue import load_study as _load_study
from mgnify_db.config import GlobalConfig
from mgnify_db.plan import recorded_plan

CFG = GlobalConfig()


@pytest.fixture
def pg_url(postgres_url):
    """A fresh, empty database on the test server (dropped afterwards)."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{postgres_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


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
    """A load in a child process. With `marker`: it stops, once its rows are written and
    before it commits, after touching `marker` (the kill test takes it there)."""
    import time

    with open_store(url) as store:
        if marker is not None:
            write = store._insert

            def held(table, rows):
                write(table, rows)
                marker.touch()
                time.sleep(300)

            store._insert = held
        _load_study(store, results, CFG, study=study)


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
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
        assert [p.exitcode for p in procs] == [0] * len(studies)
    with open_store(tmp_path / "c.db") as lite, open_store(pg_url) as pg:
        for acc in studies:
            _load_study(lite, results, CFG, study=acc)
        got, want = dump(pg), dump(lite)
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
                "select count(*) from pg_locks where locktype = 'advisory'"
            ).fetchone()[0]:
                assert time.monotonic() < deadline, "an advisory lock outlived its load"
                time.sleep(0.1)
        _load_study(pg, results, CFG, study="PRJEB1")
        assert [a["term"] for a in dump(pg)["annotations"]] == ["NEW"]
