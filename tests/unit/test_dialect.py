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
