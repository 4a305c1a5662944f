"""The catalogue on PostgreSQL (psycopg 3): the loads of `SqlStore`, in the SQL both dialects
read, with PostgreSQL's DDL from the one description (dialect.py) and COPY for annotations.

Writes are one transaction each, under one advisory lock: loads queue as SQLite's do (a first
version; loads of different studies in parallel come with the two-phase write of the plan).
A load killed mid-transaction leaves the previous state: the server rolls back when its
connection goes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

from psycopg.types.numeric import IntDumper

from .biomes import biome_tree
from .dialect import Dialect, create_indexes, create_table, placeholders, q
from .schema import ORDER, SCHEMA_VERSION, TABLES
from .store import META_UPSERT, CatalogueError, SchemaMismatch, SqlStore

# pg_advisory_xact_lock keys (any bigint, fixed): schema creation; one write at a time
SCHEMA_LOCK, WRITE_LOCK = 0x6D676E6966790001, 0x6D676E6966790002


def redacted(url: str) -> str:
    """The URL without its password (for messages)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresStore(SqlStore):
    """A catalogue in a PostgreSQL database (its `public` schema), created if empty."""

    def __init__(self, url: str, *, create: bool = True):
        import psycopg

        self.url = url
        try:
            # statements outside a write commit at once; a write is one `transaction()`
            self.conn = psycopg.connect(url, autocommit=True)
        except psycopg.Error as e:
            message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CatalogueError(f"{redacted(url)}: cannot connect ({message})") from None
        # SQLite keeps booleans as 0/1 in INTEGER columns; so does this store (BIGINT)
        self.conn.adapters.register_dumper(bool, _BoolAsInt)
        try:
            self.ensure_schema(create=create)
        except BaseException:
            self.conn.close()
            raise

    # -- schema ---------------------------------------------------------------------------
    def _has_catalogue(self) -> bool:
        return self.conn.execute("SELECT to_regclass('studies') IS NOT NULL").fetchone()[0]

    def ensure_schema(self, *, create: bool = True) -> None:
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])
            if self._has_catalogue():
                version = self.conn.execute(
                    "SELECT value FROM _meta WHERE key = 'schema_version'"
                ).fetchone()
                if version is None or str(version[0]) != str(SCHEMA_VERSION):
                    found = version[0] if version else None
                    raise SchemaMismatch(
                        f"{redacted(self.url)}: catalogue schema v{found}, this version of"
                        f" mgnify-db needs v{SCHEMA_VERSION}: run `mgnify-db catalogue rebuild`"
                    )
                for t in TABLES.values():
                    for sql in create_indexes(t):
                        self.conn.execute(sql)
                return
            if not create:
                raise CatalogueError(f"{redacted(self.url)}: no catalogue here")
            for name in ORDER:
                self.conn.execute(create_table(TABLES[name], Dialect.POSTGRESQL))
                for sql in create_indexes(TABLES[name]):
                    self.conn.execute(sql)
            self.conn.execute(
                'CREATE TABLE IF NOT EXISTS _meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT)'
            )
            self._execute(META_UPSERT, ["schema_version", SCHEMA_VERSION])
            self._upsert("biomes", biome_tree())

    # -- statements -----------------------------------------------------------------------
    def _execute(self, sql: str, params: Iterable | dict = ()) -> Any:
        return self.conn.execute(placeholders(sql), _params(params))

    def _executemany(self, sql: str, rows: Iterable) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(placeholders(sql), rows)

    def _insert(self, table: str, rows: list[dict]) -> None:
        """COPY: the fast path for big tables (annotations)."""
        if not rows:
            return
        cols = list(TABLES[table].columns)
        get = itemgetter(*cols) if len(cols) > 1 else (lambda r: (r[cols[0]],))
        names = ", ".join(map(q, cols))
        with self.conn.cursor() as cur, cur.copy(f"COPY {q(table)} ({names}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(get(row))

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction; rows are derived inside it, after the lock, so an older
        derivation never overwrites a newer one."""
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
            yield
            self._execute(META_UPSERT, ["generation", uuid.uuid4().hex])

    # -- reads ----------------------------------------------------------------------------
    def query(self, sql: str, params: Iterable | dict = ()) -> Iterator[dict]:
        from psycopg.rows import dict_row

        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(placeholders(sql), _params(params))
            return iter(cur.fetchall())

    def checkpoint(self) -> None:
        """Nothing to do: the server checkpoints itself."""

    def close(self) -> None:
        self.conn.close()


def _params(params: Iterable | dict) -> list | dict:
    return params if isinstance(params, dict) else list(params)


class _BoolAsInt(IntDumper):
    """Python's bools as 0/1, as SQLite stores them."""

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"
