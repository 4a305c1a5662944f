"""The catalogue's two SQL dialects: DDL of both from one description, and placeholders."""

from __future__ import annotations

import sqlite3

import pytest

from mgnify_db.catalogue.dialect import Dialect, create_indexes, create_table, placeholders
from mgnify_db.catalogue.schema import TABLES, Table

LINK = Table(
    "study_samples",
    {"study": str, "sample": str, "size": int, "score": float},
    pk=("study", "sample"),
    foreign_keys=[("study", "studies", "accession")],
    indexes=[["sample"], ["study", "size"]],
    unique=[["study", "size"]],
    without_rowid=True,
)


def test_one_description_gives_both_dialects_ddl():
    assert create_table(LINK) == (
        'CREATE TABLE IF NOT EXISTS "study_samples" (\n'
        '  "study" TEXT,\n  "sample" TEXT,\n  "size" INTEGER,\n  "score" REAL,\n'
        '  PRIMARY KEY ("study", "sample"),\n'
        '  FOREIGN KEY("study") REFERENCES "studies"("accession")\n'
        ") WITHOUT ROWID"
    )
    assert create_table(LINK, Dialect.POSTGRESQL) == (
        'CREATE TABLE IF NOT EXISTS "study_samples" (\n'
        '  "study" TEXT COLLATE "C",\n  "sample" TEXT COLLATE "C",\n  "size" BIGINT,\n'
        '  "score" DOUBLE PRECISION,\n'
        '  PRIMARY KEY ("study", "sample"),\n'
        '  FOREIGN KEY("study") REFERENCES "studies"("accession") DEFERRABLE INITIALLY DEFERRED\n'
        ")"
    )
    assert create_indexes(LINK) == [
        'CREATE INDEX IF NOT EXISTS "idx_study_samples_sample" ON "study_samples" ("sample")',
        'CREATE UNIQUE INDEX IF NOT EXISTS "idx_study_samples_study_size"'
        ' ON "study_samples" ("study", "size")',
    ]


def test_the_whole_sqlite_schema_is_valid_sql():
    conn = sqlite3.connect(":memory:")
    for t in TABLES.values():
        conn.execute(create_table(t))
        for sql in create_indexes(t):
            conn.execute(sql)
    names = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
    assert names == set(TABLES)


@pytest.mark.parametrize(
    ("sqlite", "psycopg"),
    [
        (
            "select * from runs where study = ? and run = ?",
            "select * from runs where study = %s and run = %s",
        ),
        ("where study = :s or parent = :s", "where study = %(s)s or parent = %(s)s"),
        ("where v like 'V6%' and x = ?", "where v like 'V6%%' and x = %s"),
        ("where t = 'a?b :c' and u = ?", "where t = 'a?b :c' and u = %s"),
        ("where t = 'it''s ?' and u = :u", "where t = 'it''s ?' and u = %(u)s"),
        ('select "odd?col" from t where x = ?', 'select "odd?col" from t where x = %s'),
        ("select x::text from t where y = :y", "select x::text from t where y = %(y)s"),
        ("select 1 -- why? :no\nwhere a = ?", "select 1 -- why? :no\nwhere a = %s"),
        ("select 5 % 2", "select 5 %% 2"),
    ],
)
def test_placeholders_become_psycopgs(sqlite, psycopg):
    assert placeholders(sqlite) == psycopg


def test_mixed_placeholder_styles_are_refused():
    with pytest.raises(ValueError, match="mixes"):
        placeholders("where a = ? and b = :b")


@pytest.fixture
def pg(postgres_url):
    """A connection to a fresh database on the test server, dropped afterwards."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    base = postgres_url.rsplit("/", 1)[0]
    try:
        with psycopg.connect(f"{base}/{name}") as conn:
            yield conn
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name}")


def test_the_postgresql_schema_runs_on_a_real_server(pg):
    """The whole description as PostgreSQL DDL; foreign keys checked at COMMIT (a load writes
    children before their parents); text sorted as SQLite sorts it; placeholders translated."""
    import psycopg

    for t in TABLES.values():
        pg.execute(create_table(t, Dialect.POSTGRESQL))
        for sql in create_indexes(t):
            pg.execute(sql)
    pg.commit()
    tables = pg.execute(
        "select table_name from information_schema.tables where table_schema = 'public'"
    ).fetchall()
    assert {name for (name,) in tables} == set(TABLES)
    # a child before its parent commits; an orphan is refused at COMMIT, not before
    pg.execute(placeholders("insert into biomes (lineage, parent) values (?, ?)"), ["a:b", "a"])
    pg.execute(placeholders("insert into biomes (lineage, depth) values (:l, 1)"), {"l": "a"})
    pg.commit()
    pg.execute(placeholders("insert into biomes (lineage, parent) values (?, ?)"), ["x:y", "x"])
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        pg.commit()
    like = pg.execute(placeholders("select count(*) from biomes where lineage like 'a%'"))
    assert like.fetchone()[0] == 2  # a, a:b: the literal % reached the server as %
    names = ["b", "B", "c_", "C", "é", "Z"]
    for name in names:
        pg.execute(placeholders("insert into biomes (lineage) values (?)"), [name])
    got = pg.execute(
        "select lineage from biomes where depth is null and parent is null order by lineage"
    ).fetchall()
    conn = sqlite3.connect(":memory:")
    conn.execute(create_table(TABLES["biomes"]))
    conn.executemany("insert into biomes (lineage) values (?)", [[n] for n in names])
    want = conn.execute("select lineage from biomes order by lineage").fetchall()
    assert [r[0] for r in got] == [r[0] for r in want] == ["B", "C", "Z", "b", "c_", "é"]
