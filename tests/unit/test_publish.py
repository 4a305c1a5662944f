"""`publish`: public.db holds the catalogue's public, unsuppressed records and not one private
byte; the cascade through link tables, annotations and downloads; FTS rebuilt; idempotent; fast."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from privacy_data import (
    PRIVATE_MARKERS,
    PUBLIC_ANALYSIS,
    PUBLIC_ASSEMBLY,
    PUBLIC_MARKERS,
    PUBLIC_STUDY,
    SHARED_SAMPLE,
    build_catalogue,
)

from mgnify_db.catalogue.publish import PublishError, is_stale, publish
from mgnify_db.catalogue.schema import FTS, PRIVATE_TABLES, TABLES


def rows(db: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def column(db: Path, sql: str) -> set:
    return {r[0] for r in rows(db, sql)}


@pytest.fixture
def published(tmp_path, store_kind, request):
    cat = build_catalogue(tmp_path, store=store_kind, request=request)
    public = tmp_path / "out" / "public.db"
    counts = publish(cat.db, public)
    return cat, public, counts


def test_public_rows_only(published):
    cat, public, counts = published
    assert column(public, "select accession from studies") == {PUBLIC_STUDY}
    assert column(public, "select accession from runs") == {"ERR0000001"}  # ERR0000002 suppressed
    assert column(public, "select accession from assemblies") == {PUBLIC_ASSEMBLY}
    assert column(public, "select accession from analyses") == {PUBLIC_ANALYSIS}
    for table in TABLES:
        if table in PRIVATE_TABLES:
            continue
        cols = {r[1] for r in rows(public, f"pragma table_info([{table}])")}
        if {"is_private", "is_suppressed"} <= cols:
            flagged = f"select count(*) from [{table}] where is_private or is_suppressed"
            assert rows(public, flagged) == [(0,)], table
    # the counts returned are public.db's
    for table, n in counts.items():
        assert rows(public, f"select count(*) from [{table}]") == [(n,)], table
    assert counts["studies"] == 1 and "events" not in counts
    # the catalogue itself is untouched
    assert column(cat.db, "select accession from studies") == {PUBLIC_STUDY, "MGYS00000777"}


def test_cascade_through_links_annotations_and_downloads(published):
    _, public, _ = published
    assert rows(public, "select study, sample from study_samples order by sample") == [
        (PUBLIC_STUDY, "SAMEA00000001"),
        (PUBLIC_STUDY, SHARED_SAMPLE),
    ]
    assert rows(public, "select assembly, run from assembly_runs") == [
        (PUBLIC_ASSEMBLY, "ERR0000001")
    ]
    assert column(public, "select distinct analysis from annotations") == {PUBLIC_ANALYSIS}
    assert column(public, "select study from study_publications") == {PUBLIC_STUDY}
    assert column(public, "select study from super_study_studies") == {PUBLIC_STUDY}
    assert column(public, "select coalesce(analysis, assembly, study) from downloads") == {
        PUBLIC_ANALYSIS,
        PUBLIC_ASSEMBLY,
        PUBLIC_STUDY,
    }
    # shared vocabularies stay whole
    assert rows(public, "select count(*) from publications") == [(1,)]
    assert rows(public, "select count(*) from biomes")[0][0] > 0


def test_shared_sample_stays_public_private_only_sample_goes(published):
    _, public, _ = published
    assert column(public, "select accession from samples") == {"SAMEA00000001", SHARED_SAMPLE}


def test_sample_no_public_record_refers_to_is_left_out(tmp_path):
    """A sample flagged public whose only study is private (a loader's slip) is not published."""
    cat = build_catalogue(tmp_path)
    with sqlite3.connect(cat.db) as conn:
        conn.execute("update samples set is_private = 0 where accession = 'SAMEA77770001'")
    conn.close()
    publish(cat.db, tmp_path / "public.db")
    assert "SAMEA77770001" not in column(tmp_path / "public.db", "select accession from samples")


def test_a_row_whose_parent_went_is_dropped_even_if_flagged_public(tmp_path):
    """Children flagged public of a private parent (inconsistent flags) follow the parent."""
    cat = build_catalogue(tmp_path)
    with sqlite3.connect(cat.db) as conn:
        for table in ("runs", "assemblies", "analyses", "downloads"):
            conn.execute(f"update {table} set is_private = 0 where study = 'MGYS00000777'")
    conn.close()
    public = tmp_path / "public.db"
    publish(cat.db, public)
    assert column(public, "select study from runs") == {PUBLIC_STUDY}
    assert column(public, "select study from analyses") == {PUBLIC_STUDY}
    assert column(public, "select study from downloads") == {PUBLIC_STUDY}
    assert column(public, "select distinct analysis from annotations") == {PUBLIC_ANALYSIS}


def test_operations_tables_and_meta_left_out(published):
    _, public, _ = published
    tables = column(public, "select name from sqlite_master where type = 'table'")
    assert not set(PRIVATE_TABLES) & tables
    # (a catalogue that has been through PostgreSQL has a generation, as one the loads wrote)
    assert column(public, "select key from _meta") - {"generation"} == {"schema_version"}
    triggers = column(public, "select tbl_name from sqlite_master where type = 'trigger'")
    assert not set(PRIVATE_TABLES) & triggers


def test_fts_rebuilt_private_text_not_searchable(published):
    _, public, _ = published
    assert column(public, "select rowid from studies_fts where studies_fts match 'plankton'")
    for table in FTS:
        for word in ("QUOKKA", "embargoed", "burrow", "island"):
            hits = rows(public, f"select rowid from {table}_fts where {table}_fts match ?", [word])
            assert hits == [], (table, word)
        # the index is exactly the content table's
        check = f"insert into {table}_fts({table}_fts, rank) values('integrity-check', 1)"
        rows(public, check)


def test_no_private_byte_in_the_file(published):
    cat, public, _ = published
    raw = public.read_bytes()
    for marker in PRIVATE_MARKERS:
        assert marker.encode() not in raw, marker
    for marker in PUBLIC_MARKERS:
        assert marker.encode() in raw, marker
    # (the catalogue does hold them: the check above is not vacuous)
    assert b"QUOKKA" in cat.db.read_bytes()
    assert not list(public.parent.glob(".public.db.*"))  # no temporary left
    assert rows(public, "pragma journal_mode") == [("delete",)]
    assert rows(public, "pragma integrity_check") == [("ok",)]


def test_idempotent_and_atomic(published, tmp_path):
    cat, public, counts = published
    first = public.read_bytes()
    inode = public.stat().st_ino
    assert publish(cat.db, public) == counts
    assert public.read_bytes() == first  # same catalogue, same bytes
    assert public.stat().st_ino != inode  # replaced by rename, never rewritten in place


def test_staleness(tmp_path):
    cat = build_catalogue(tmp_path)
    public = tmp_path / "public.db"
    assert is_stale(cat.db, public)
    publish(cat.db, public)
    assert not is_stale(cat.db, public)
    time.sleep(0.01)
    with sqlite3.connect(cat.db) as conn:
        conn.execute("pragma journal_mode = wal")
        conn.execute("update studies set title = 'new' where accession = ?", [PUBLIC_STUDY])
    assert Path(f"{cat.db}-wal").stat().st_size
    assert is_stale(cat.db, public)  # the write is in the WAL file only
    conn.close()


def test_missing_catalogue_and_failure_leave_public_db(tmp_path):
    public = tmp_path / "public.db"
    public.write_bytes(b"old")
    with pytest.raises(PublishError, match="no catalogue here"):
        publish(tmp_path / "nothere.db", public)
    not_sqlite = tmp_path / "catalogue.db"
    not_sqlite.write_bytes(b"not a database" * 100)
    with pytest.raises(PublishError, match="left as it was"):
        publish(not_sqlite, public)
    assert public.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalogue.db", "public.db"]


def test_cli_publish_from_config_paths(tmp_path, monkeypatch):
    import yaml

    from mgnify_db.cli import cli

    cat = build_catalogue(tmp_path)
    (tmp_path / "config").mkdir()
    config = {
        "results_dir": str(cat.results),
        "catalogue": f"sqlite:///{cat.db}",
        "publish": {"public_db": str(tmp_path / "pub" / "public.db")},
    }
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, ["catalogue", "publish"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["studies"] == 1
    assert (tmp_path / "pub" / "public.db").exists()
    res = CliRunner().invoke(cli, ["catalogue", "publish", "--db", tmp_path / "no.db"])
    assert res.exit_code == 1 and res.output.startswith("error: ")


def test_a_million_annotations_publish_in_seconds(tmp_path):
    cat = build_catalogue(tmp_path)
    with sqlite3.connect(cat.db) as conn:
        conn.execute("pragma foreign_keys = off")
        conn.execute(
            """insert into analyses (accession, id, study, is_private, is_suppressed)
            with recursive n(i) as (select 1000 union all select i + 1 from n where i < 50999)
            select printf('MGYA%08d', i), i,
                   iif(i % 20 = 0, 'MGYS00000777', 'MGYS00000001'), i % 20 = 0, 0 from n"""
        )
        conn.execute(
            """insert into annotations (analysis, type, term, description, count)
            with recursive n(i) as (select 0 union all select i + 1 from n where i < 999999)
            select printf('MGYA%08d', 1000 + i % 50000), 'pfams', printf('PF%06d', i),
                   'domain ' || i, i from n"""
        )
    conn.close()
    start = time.monotonic()
    counts = publish(cat.db, tmp_path / "public.db")
    took = time.monotonic() - start
    assert counts["annotations"] == 950_000 + 2  # every 20th analysis is the private study's
    assert counts["analyses"] == 47_500 + 1
    assert took < 20, f"publish took {took:.1f} s"


def test_shared_rows_only_private_studies_use_are_left_out(tmp_path):
    """A publication or super study only a private study names, and a biome outside the
    shipped tree only a private study is filed under, stay out of public.db."""
    import sqlite3

    cat = build_catalogue(tmp_path)
    conn = sqlite3.connect(cat.db)
    with conn:
        conn.execute(
            "insert into publications (pubmed_id, title) values (424242, 'EMBARGOED-PAPER')"
        )
        conn.execute(
            "insert into study_publications values ('MGYS00000777/424242', 'MGYS00000777', 424242)"
        )
        conn.execute("insert into super_studies (slug, title) values ('secret-club', 'SECRET')")
        conn.execute(
            "insert into super_study_studies values ('secret-club/777', 'secret-club',"
            " 'MGYS00000777', 1)"
        )
        for lineage, parent, depth in (
            ("root:Engineered:Hidden lab", "root:Engineered", 3),
            ("root:Engineered:Hidden lab:Vat 9", "root:Engineered:Hidden lab", 4),
        ):
            conn.execute(
                "insert or ignore into biomes values (?, ?, ?, ?, ?)",
                [lineage, lineage.rsplit(":", 1)[1], lineage.lower(), depth, parent],
            )
        conn.execute(
            "update studies set biome = 'root:Engineered:Hidden lab:Vat 9'"
            " where accession = 'MGYS00000777'"
        )
    conn.close()
    public = tmp_path / "public.db"
    publish(cat.db, public)
    assert 424242 not in column(public, "select pubmed_id from publications")
    assert column(public, "select pubmed_id from publications")  # the public study's stays
    assert column(public, "select slug from super_studies") == {"ocean-atlas"}
    lineages = column(public, "select lineage from biomes")
    assert not {lin for lin in lineages if "Hidden" in lin}
    assert "root:Engineered" in lineages  # the shipped tree stays whole
    data = public.read_bytes()
    assert b"EMBARGOED-PAPER" not in data and b"Hidden lab" not in data


def test_only_described_tables_reach_public_db_and_no_owner(tmp_path):
    """An allowlist: a table or view the schema does not describe never reaches public.db;
    webin owners and suppression reasons are blanked; a killed publish's copy is cleared and
    the copy is never readable by others."""
    import sqlite3

    cat = build_catalogue(tmp_path)
    conn = sqlite3.connect(cat.db)
    with conn:
        conn.execute("create table scratch (secret text)")
        conn.execute("insert into scratch values ('HAND-MADE-SECRET')")
        conn.execute("create view everything as select * from studies")
    conn.close()
    public = tmp_path / "public.db"
    stale = tmp_path / ".public.db.999999999.publish"
    stale.write_bytes(b"old copy")
    publish(cat.db, public)
    assert not stale.exists()
    names = column(public, "select name from sqlite_master where type in ('table', 'view')")
    assert "scratch" not in names and "everything" not in names
    assert b"HAND-MADE-SECRET" not in public.read_bytes()
    for table in ("studies", "runs", "samples", "downloads"):
        assert rows(public, f"select count(*) from {table} where webin_owner is not null") == [(0,)]
    assert public.stat().st_mode & 0o777 == 0o644


def test_staleness_follows_the_catalogues_changes_not_file_times(tmp_path):
    """public.db is current while the catalogue has had no load since it was published, even
    when a reader's close rewrote the catalogue file (a WAL checkpoint); any load makes it
    stale."""
    import os

    from mgnify_db.catalogue.schema import TABLES
    from mgnify_db.catalogue.store import SqliteStore

    db, public = tmp_path / "catalogue.db", tmp_path / "public.db"
    rows = {t: [] for t in TABLES}
    rows["studies"] = [{"accession": "MGYS00000001", "is_private": 0, "is_suppressed": 0}]
    store = SqliteStore(db)
    store.replace_study("MGYS00000001", lambda: rows)
    publish(db, public)
    assert not is_stale(db, public)
    later = public.stat().st_mtime_ns + 10**9
    os.utime(db, ns=(later, later))  # as a checkpoint on a reader's close would
    assert not is_stale(db, public)
    store.replace_study("MGYS00000001", lambda: rows)
    assert is_stale(db, public)
    store.close()
