"""Where the catalogue lives. `SqliteStore` is the embedded default (sqlite-utils).

The store interface is what loaders, dumps and the CLI use; a PostgreSQL store implements the
same methods (issue: PostgreSQL as the catalogue store).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import sqlite_utils

from ..models import Status
from .schema import FTS, ORDER, SCHEMA_VERSION, TABLES

Rows = dict[str, list[dict]]


class CatalogueError(RuntimeError):
    """The catalogue cannot be used (missing, not a catalogue, read-only...): one line."""


class Store(Protocol):
    def replace_study(self, study: str, make_rows: Callable[[], Rows]) -> Rows: ...
    def replace_run(self, study: str, run: str, make_rows: Callable[[], Rows]) -> Rows: ...
    def query(self, sql: str, params: Iterable | dict = ()) -> Iterator[dict]: ...
    def close(self) -> None: ...


class SqliteStore:
    """A SQLite catalogue file with the schema in place."""

    def __init__(self, path: Path, *, create: bool = True):
        path = Path(path)
        if not create and not path.exists():
            raise CatalogueError(f"{path}: no catalogue here (run the workflow or rebuild)")
        if path.is_dir():
            raise CatalogueError(f"{path}: is a directory, not a catalogue file")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self.db = sqlite_utils.Database(path)
            self.db.execute("PRAGMA busy_timeout = 30000")  # a second loader waits its turn
            self.db.execute("PRAGMA foreign_keys = ON")
            self.ensure_schema()
        except sqlite3.DatabaseError as e:
            raise CatalogueError(f"{path}: not a usable SQLite catalogue ({e})") from None

    # -- schema ---------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        db = self.db
        if db["studies"].exists():
            return
        db.enable_wal()
        with db.atomic():
            for t in TABLES.values():
                db[t.name].create(
                    t.columns, pk=t.pk, foreign_keys=t.foreign_keys, if_not_exists=True
                )
                for cols in t.indexes:
                    db[t.name].create_index(cols, unique=cols in t.unique, if_not_exists=True)
            for table, cols in FTS.items():
                db[table].enable_fts(cols, create_triggers=True, tokenize="porter")
            db.execute("CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT)")
            db.execute(
                "INSERT OR REPLACE INTO _meta VALUES ('schema_version', ?)", [SCHEMA_VERSION]
            )

    # -- writes ---------------------------------------------------------------------------
    def _upsert(self, table: str, rows: list[dict]) -> None:
        """Insert or update by primary key: one `INSERT ... ON CONFLICT DO UPDATE` executemany
        (sqlite-utils' upsert runs an INSERT OR IGNORE plus an UPDATE per row, 2x the work)."""
        if not rows:
            return
        t = TABLES[table]
        cols = list(t.columns)
        names = ", ".join(f"[{c}]" for c in cols)
        updates = ", ".join(f"[{c}] = excluded.[{c}]" for c in cols if c != t.pk)
        sql = (
            f"INSERT INTO [{table}] ({names}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT([{t.pk}]) DO UPDATE SET {updates}"
        )
        self.db.conn.executemany(sql, ([r.get(c) for c in cols] for r in rows))

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction, holding SQLite's write lock from its start (BEGIN IMMEDIATE):
        rows derived inside it cannot be overtaken by another loader's newer ones."""
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def replace_study(self, study: str, make_rows: Callable[[], Rows]) -> Rows:
        """The study's rows become exactly `make_rows()` (called under the write lock)."""
        with self._write():
            rows = make_rows()
            self._upsert("biomes", rows["biomes"])
            self._upsert("studies", rows["studies"])
            # Samples are upserted, never deleted: ENA's withdrawn ones stay in ena.json, and a
            # sample may be shared with another study's runs.
            for table in reversed(ORDER):
                if table not in ("biomes", "studies", "samples"):
                    self.db.execute(f"DELETE FROM [{table}] WHERE study = ?", [study])
            for table in ORDER:
                if table not in ("biomes", "studies"):
                    self._upsert(table, rows[table])
            self._refresh_counts(study)
            self._prune_biomes()
        return rows

    def replace_run(self, study: str, run: str, make_rows: Callable[[], Rows]) -> Rows:
        """One run's rows (the run, its assemblies, analyses, downloads, events) become exactly
        `make_rows()` (called under the write lock)."""
        with self._write():
            rows = make_rows()
            for sql in (
                "DELETE FROM downloads WHERE study = :study AND (analysis IN (SELECT accession"
                " FROM analyses WHERE run = :run AND study = :study) OR assembly IN (SELECT"
                " accession FROM assemblies WHERE run = :run AND study = :study))",
                "DELETE FROM events WHERE run = :run AND study = :study",
                "DELETE FROM analyses WHERE run = :run AND study = :study",
                "DELETE FROM assemblies WHERE run = :run AND study = :study",
            ):
                self.db.execute(sql, {"run": run, "study": study})
            for table in ORDER:
                if table not in ("biomes", "studies", "samples"):
                    self._upsert(table, rows[table])
            self._refresh_counts(study)
        return rows

    def _refresh_counts(self, study: str) -> None:
        self.db.execute(
            """update studies set
                 runs_total = (select count(*) from runs where study = :s),
                 runs_eligible = (select count(*) from runs where study = :s
                                  and status != :skip and not is_suppressed),
                 runs_skipped = (select count(*) from runs where study = :s and status = :skip),
                 runs_qc_failed = (select count(*) from runs where study = :s
                                   and status = :qcf and not is_suppressed),
                 assemblies_completed = (select count(*) from assemblies where study = :s
                                         and status = :done and not is_suppressed),
                 analyses_completed = (select count(*) from analyses where study = :s
                                       and status = :done and not is_suppressed)
               where accession = :s""",
            {
                "s": study,
                "skip": Status.SKIPPED,
                "qcf": Status.QC_FAILED,
                "done": Status.COMPLETED,
            },
        )

    def _prune_biomes(self) -> None:
        """Biomes are the lineages (and their ancestors) of current studies, nothing else."""
        used = {r["biome"] for r in self.db.query("select distinct biome from studies")}
        keep = set()
        for lineage in filter(None, used):
            parts = lineage.split(":")
            keep |= {":".join(parts[:i]) for i in range(1, len(parts) + 1)}
        stale = [
            r["lineage"]
            for r in self.db.query("select lineage from biomes order by depth desc")
            if r["lineage"] not in keep
        ]
        for lineage in stale:
            self.db.execute("DELETE FROM biomes WHERE lineage = ?", [lineage])

    # -- reads ----------------------------------------------------------------------------
    def query(self, sql: str, params: Iterable | dict = ()) -> Iterator[dict]:
        return (dict(r) for r in self.db.query(sql, params))

    def checkpoint(self) -> None:
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self.db.close()


@contextmanager
def open_store(url_or_path: str | Path, *, create: bool = True) -> Iterator[SqliteStore]:
    """A store from `sqlite:///PATH` or a path; closed on exit."""
    path = Path(str(url_or_path).removeprefix("sqlite:///"))
    store = SqliteStore(path, create=create)
    try:
        yield store
    finally:
        store.close()
