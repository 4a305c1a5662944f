"""The catalogue on PostgreSQL (psycopg 3): the loads of `SqlStore`, in the SQL both dialects
read, with PostgreSQL's DDL from the one description (dialect.py) and COPY for annotations.

Writes are one transaction each. Loads of different studies run at once: a load writes its
study's own rows under the study's advisory lock, then the rows studies share under a short
global one (see `_write`). A load killed mid-transaction leaves the previous state: the server
rolls back when its connection goes.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

from psycopg.types.numeric import IntDumper

from .biomes import biome_tree
from .dialect import Dialect, create_indexes, create_table, placeholders, q
from .schema import ORDER, SCHEMA_VERSION, TABLES, Rows
from .store import META_UPSERT, CatalogueError, SchemaMismatch, SqlStore, one_line, select_all

log = logging.getLogger(__name__)

# Advisory locks (transaction-level: released at COMMIT or when a killed client's connection
# goes). A write holds ALL shared (a whole-catalogue write, or schema creation, holds it
# exclusive), then its study's lock (class STUDY, the study's hash: writes of one study queue,
# other studies' run alongside), then SHARED_ROWS for its short part on rows studies share.
# The order never varies, so writers cannot deadlock on them.
# A consistent read (snapshot) holds ALL shared for its whole transaction, at session level:
# taken before the transaction's snapshot, so it never reads tables a rebuild dropped. A rebuild
# of an outdated catalogue by the workflow holds REBUILD (session level) around building it.
ALL, REBUILD = 0x6D676E6966790001, 0x6D676E6966790003
COPY_TYPES = {int: "int8", str: "text", float: "float8"}
STUDY, SHARED_ROWS = 0x6D676E69, 0x6D676E6A


def redacted(url: str) -> str:
    """The URL without its password or query (for messages: a password may be in either)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(str(url))
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc, query="***" if parts.query else ""))


@contextmanager
def holding(url: str, key: int) -> Iterator[None]:
    """Hold the session-level advisory lock `key` on the database at `url` (one process at a
    time; released on exit, or when a killed process's connection goes)."""
    import psycopg

    try:
        conn = psycopg.connect(url, autocommit=True)
    except psycopg.Error as e:
        raise CatalogueError(f"{redacted(url)}: cannot connect ({one_line(e)})") from None
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", [key])
        yield
    finally:
        conn.close()


class PostgresStore(SqlStore):
    """A catalogue in a PostgreSQL database (its `public` schema), created if empty."""

    def __init__(self, url: str, *, create: bool = True, schema: bool = True):
        """`create`: make the catalogue in an empty database (and any index it lacks), as
        writers do; without it a database without one is refused and nothing is written."""
        import psycopg

        self.url = url
        self.name = redacted(url)
        self._own_key_names: list[str] | None = None
        try:
            # statements outside a write commit at once; a write is one `transaction()`
            self.conn = psycopg.connect(url, autocommit=True)
        except psycopg.Error as e:
            raise CatalogueError(f"{self.name}: cannot connect ({one_line(e)})") from None
        # SQLite keeps booleans as 0/1 in INTEGER columns; so does this store (BIGINT)
        self.conn.adapters.register_dumper(bool, _BoolAsInt)
        try:
            if schema:
                self.ensure_schema(create=create)
        except psycopg.Error as e:
            self.conn.close()
            raise CatalogueError(f"{self.name}: not a usable catalogue ({one_line(e)})") from None
        except BaseException:
            self.conn.close()
            raise

    # -- schema ---------------------------------------------------------------------------
    def _version(self) -> str | None:
        """The catalogue's schema version; None when the database holds no catalogue."""
        if not self.conn.execute("SELECT to_regclass('_meta') IS NOT NULL").fetchone()[0]:
            return None
        row = self.conn.execute("SELECT value FROM _meta WHERE key = 'schema_version'").fetchone()
        return str(row[0]) if row else None

    def _refuse_foreign(self) -> None:
        """A catalogue is made only in a database with no tables (no `_meta` says it is one),
        and another application's tables are never dropped by a rebuild."""
        if self._version() is not None:
            return
        names = [
            name
            for (name,) in self.conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
            )
        ]
        if names:
            raise CatalogueError(
                f"{self.name}: not a catalogue (it holds other tables: {', '.join(names[:3])})"
                "; give mgnify-db a database of its own"
            )

    def ensure_schema(self, *, create: bool = True) -> None:
        version = self._version()
        if version is None:
            if not create:
                raise CatalogueError(f"{self.name}: no catalogue here")
            with self.conn.transaction():
                self.conn.execute("SELECT pg_advisory_xact_lock(%s)", [ALL])
                if self._version() is None:  # not made meanwhile by another opener
                    self._refuse_foreign()
                    self._create_schema()
            version = self._version()
        if version != str(SCHEMA_VERSION):
            raise SchemaMismatch(
                f"{self.name}: catalogue schema v{version}, this version of mgnify-db needs"
                f" v{SCHEMA_VERSION}: run `mgnify-db catalogue rebuild` (the catalogue is"
                " rebuilt from the result files)"
            )
        if not create:
            return  # a reader: nothing written, no lock that would wait for every load
        wanted = {sql.split('"')[1]: sql for t in TABLES.values() for sql in create_indexes(t)}
        have = {r[0] for r in self.conn.execute("SELECT indexname FROM pg_indexes")}
        if missing := [sql for name, sql in wanted.items() if name not in have]:
            # indexes added since the catalogue was made (no schema change: same version).
            # Checked first: the exclusive lock would wait for every running load.
            with self.conn.transaction():
                self.conn.execute("SELECT pg_advisory_xact_lock(%s)", [ALL])
                for sql in missing:
                    self.conn.execute(sql)

    def _create_schema(self) -> None:
        for name in ORDER:
            self.conn.execute(create_table(TABLES[name], Dialect.POSTGRESQL))
            for sql in create_indexes(TABLES[name]):
                self.conn.execute(sql)
        self.conn.execute('CREATE TABLE _meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT)')
        self._execute(META_UPSERT, ["schema_version", SCHEMA_VERSION])
        self._upsert("biomes", biome_tree())

    def rebuild_from(self, source: SqlStore) -> dict[str, int]:
        """This database's catalogue becomes a copy of `source`, in this version's schema
        whatever the one it had: dropped, made again and filled in one transaction (readers
        see the old catalogue until COMMIT; a failure leaves it as it was)."""
        counts = {}
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", [ALL])
            self._refuse_foreign()  # another application's tables are never dropped
            for name in ["_meta", *reversed(ORDER)]:
                self.conn.execute(f"DROP TABLE IF EXISTS {q(name)} CASCADE")
            self._create_schema()
            self._execute("DELETE FROM biomes")
            with source.snapshot() as rows:
                for table in ORDER:
                    counts[table] = self._insert_tuples(table, rows(table))
                meta = source.meta()
            meta.setdefault("generation", uuid.uuid4().hex)
            for key, value in meta.items():
                if key != "schema_version":
                    self._execute(META_UPSERT, [key, value])
        return counts

    # -- writes -----------------------------------------------------------------------------
    def replace_study(self, study: str, make_rows: Callable[[], Rows]) -> Rows:
        return self._retried(lambda: super(PostgresStore, self).replace_study(study, make_rows))

    def replace_run(
        self, study: str, run: str, make_rows: Callable[[], Rows], *, coassembly: bool = False
    ) -> Rows:
        return self._retried(
            lambda: super(PostgresStore, self).replace_run(
                study, run, make_rows, coassembly=coassembly
            )
        )

    def _retried(self, write: Callable[[], Rows], attempts: int = 4) -> Rows:
        """`write` again (its rows derived again) when the server chose it as a deadlock's or a
        serialisation failure's victim: it was rolled back whole."""
        import psycopg.errors as pe

        for attempt in range(1, attempts + 1):
            try:
                return write()
            except (pe.DeadlockDetected, pe.SerializationFailure) as e:
                if attempt == attempts:
                    raise CatalogueError(f"{self.name}: {one_line(e)}") from None
                log.info("catalogue: %s; writing again", one_line(e))
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    # -- statements -----------------------------------------------------------------------
    def _execute(self, sql: str, params: Iterable | dict = ()) -> Any:
        return self.conn.execute(placeholders(sql), _params(params))

    def _executemany(self, sql: str, rows: Iterable) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(placeholders(sql), rows)

    def _insert(self, table: str, rows: list[dict]) -> None:
        """COPY: the fast path for big tables (annotations)."""
        cols = list(TABLES[table].columns)
        get = itemgetter(*cols) if len(cols) > 1 else (lambda r: (r[cols[0]],))
        self._insert_tuples(table, map(get, rows))

    def _insert_tuples(self, table: str, rows: Iterable) -> int:
        names = ", ".join(map(q, TABLES[table].columns))
        n = 0
        with self.conn.cursor() as cur, cur.copy(f"COPY {q(table)} ({names}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
                n += 1
        return n

    @contextmanager
    def _write(self, study: str | None, *, generation: str | None = None) -> Iterator[None]:
        """One write transaction. Rows are derived inside it, after the study's lock, so an
        older derivation never overwrites a newer one."""
        with self.conn.transaction():
            if study is None:
                self.conn.execute("SELECT pg_advisory_xact_lock(%s)", [ALL])
            else:
                self.conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", [ALL])
                self.conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [STUDY, study])
            yield
            with self._shared():
                # one row every writer updates: under the shared lock, as the last statement
                self._execute(META_UPSERT, ["generation", generation or uuid.uuid4().hex])

    @contextmanager
    def _shared(self) -> Iterator[None]:
        # The keys between a study's own rows (annotations -> analyses...) are checked now,
        # before the lock: that check is most of a big load's COMMIT, and needs no other
        # writer kept out (measured: 8 loads at once went from 0.96x to ~1.5x of one by one).
        if names := self._own_keys():
            self.conn.execute(f"SET CONSTRAINTS {', '.join(map(q, names))} IMMEDIATE")
        # Held to COMMIT (a transaction-level lock): the derived rows (samples' flags, prunes)
        # then always see every committed study's links, and the keys into shared rows are
        # checked while no other writer changes them.
        self.conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", [SHARED_ROWS])
        yield

    def _own_keys(self) -> list[str]:
        """The foreign keys whose parent is a study's own row (not a shared one)."""
        if self._own_key_names is None:
            own = [t.name for t in TABLES.values() if t.per_study]
            self._own_key_names = [
                name
                for (name,) in self.conn.execute(
                    "SELECT c.conname FROM pg_constraint c JOIN pg_class p ON p.oid = c.confrelid"
                    " WHERE c.contype = 'f' AND p.relname = ANY(%s) ORDER BY 1",
                    [own],
                )
            ]
        return self._own_key_names

    # -- reads ----------------------------------------------------------------------------
    def query(self, sql: str, params: Iterable | dict = ()) -> Iterator[dict]:
        from psycopg.rows import dict_row

        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(placeholders(sql), _params(params))
            return iter(cur.fetchall())

    @contextmanager
    def snapshot(self) -> Iterator[Callable[[str], Iterator[tuple]]]:
        def rows(table: str) -> Iterator[tuple]:
            t = TABLES[table]
            sql = f"COPY ({select_all(table)}) TO STDOUT (FORMAT BINARY)"
            with self.conn.cursor() as cur, cur.copy(sql) as cp:
                cp.set_types([COPY_TYPES[kind] for kind in t.columns.values()])
                yield from cp.rows()

        # the lock first, then the transaction: its snapshot is taken after any rebuild that
        # held the lock has committed (one taken before would see dropped tables as empty)
        self.conn.execute("SELECT pg_advisory_lock_shared(%s)", [ALL])
        try:
            with self.conn.transaction():
                # every table as of one moment, whatever loads commit meanwhile
                self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield rows
        finally:
            self.conn.execute("SELECT pg_advisory_unlock_shared(%s)", [ALL])

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
