"""Where the catalogue lives. `SqliteStore` is the embedded default (sqlite-utils);
`PostgresStore` (pg_store.py) keeps it in PostgreSQL. Both are a `SqlStore`: the loads are
written once, in SQL both dialects read.
"""

from __future__ import annotations

import sqlite3
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol

import sqlite_utils

from ..models import Status
from .biomes import biome_tree
from .dialect import create_indexes, create_table, q
from .schema import FTS, ORDER, SCHEMA_VERSION, TABLES, Rows

# The SQL below is written to run unchanged on PostgreSQL too: double-quoted identifiers,
# ON CONFLICT upserts, integer flags compared (`= 0`, `<> 0`: PostgreSQL has no truthiness of
# integers), no JSON functions, no schema-qualified temp tables.
META_UPSERT = (
    "INSERT INTO _meta (key, value) VALUES (?, ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


class CatalogueError(RuntimeError):
    """The catalogue cannot be used (missing, not a catalogue, read-only...): one line."""


class SchemaMismatch(CatalogueError):
    """The catalogue file was made by another schema version (rebuild it from the files)."""


def select_all(table: str) -> str:
    """Every row of `table`, its columns in the description's order, sorted by primary key."""
    t = TABLES[table]
    cols, pk = ", ".join(map(q, t.columns)), ", ".join(map(q, t.pk_columns))
    return f"SELECT {cols} FROM {q(table)} ORDER BY {pk}"


def one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def driver_errors() -> tuple[type[BaseException], ...]:
    """What the stores' database drivers raise (sqlite3's; psycopg's)."""
    import psycopg

    return (sqlite3.Error, psycopg.Error)


class Store(Protocol):
    def replace_study(self, study: str, make_rows: Callable[[], Rows]) -> Rows: ...
    def replace_run(
        self, study: str, run: str, make_rows: Callable[[], Rows], *, coassembly: bool = False
    ) -> Rows: ...
    def query(self, sql: str, params: Iterable | dict = ()) -> Iterator[dict]: ...
    def close(self) -> None: ...


class SqlStore(ABC):
    """The catalogue's loads, in SQL both dialects read (`?` and `:name` placeholders). A store
    gives `_execute`, `_executemany`, `query` and `_write` (one write transaction)."""

    @abstractmethod
    def _execute(self, sql: str, params: Iterable | dict = ()) -> Any: ...

    @abstractmethod
    def _executemany(self, sql: str, rows: Iterable) -> None: ...

    @abstractmethod
    def query(self, sql: str, params: Iterable | dict = ()) -> Iterator[dict]: ...

    @abstractmethod
    def _write(
        self, study: str | None, *, generation: str | None = None
    ) -> AbstractContextManager[None]:
        """One write transaction: of `study`'s rows, or (None) of the whole catalogue. It ends
        by noting a new generation (`generation`, if given) in `_meta`."""

    @abstractmethod
    def snapshot(self) -> AbstractContextManager[Callable[[str], Iterator[tuple]]]:
        """A consistent read of every table, even while others write: yields `rows(table)`,
        the table's rows as tuples in column order, sorted by primary key (one table read at
        a time)."""

    def generation(self) -> str | None:
        """The catalogue's generation: a new one with every write (publish compares them)."""
        return self.meta().get("generation")

    def _shared(self) -> AbstractContextManager[None]:
        """The part of a write that touches rows studies share (samples, biomes, publications,
        super studies) and derives them from every study's links: serialised between writers
        (a no-op where the whole write already is, as on SQLite)."""
        return nullcontext()

    @abstractmethod
    def close(self) -> None: ...

    # -- writes ---------------------------------------------------------------------------
    def _upsert(self, table: str, rows: list[dict]) -> None:
        """Insert or update by primary key: one `INSERT ... ON CONFLICT DO UPDATE` executemany
        (sqlite-utils' upsert runs an INSERT OR IGNORE plus an UPDATE per row, 2x the work)."""
        if not rows:
            return
        t = TABLES[table]
        cols = list(t.columns)
        names = ", ".join(map(q, cols))
        pk = ", ".join(map(q, t.pk_columns))
        updates = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in cols if c not in t.pk_columns)
        sql = (
            f"INSERT INTO {q(table)} ({names}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT({pk}) DO UPDATE SET {updates}"
        )
        self._executemany(sql, ([r.get(c) for c in cols] for r in rows))

    def _insert(self, table: str, rows: list[dict]) -> None:
        """Plain inserts (rows just deleted): the fast path for big tables (annotations)."""
        if not rows:
            return
        cols = list(TABLES[table].columns)
        names = ", ".join(map(q, cols))
        sql = f"INSERT INTO {q(table)} ({names}) VALUES ({', '.join('?' * len(cols))})"
        get = itemgetter(*cols)
        self._executemany(sql, map(get, rows))

    def _kept_annotations(self, rows: Rows, where: str, params: dict) -> set[str]:
        """Analyses whose annotation tables are the ones already loaded (same digest of the
        files): their rows stay, neither deleted nor inserted again (a study's re-load of a
        million unchanged rows costs nothing). Noted in the temp table `kept_annotations`."""
        new = {a["accession"]: a.get("annotations_digest") for a in rows["analyses"]}
        old = dict(
            self._execute(
                f"SELECT accession, annotations_digest FROM analyses WHERE {where}", params
            ).fetchall()
        )
        kept = {acc for acc, digest in new.items() if digest and old.get(acc) == digest}
        self._execute(
            "CREATE TEMP TABLE IF NOT EXISTS kept_annotations (analysis TEXT PRIMARY KEY)"
        )
        self._execute("DELETE FROM kept_annotations")
        self._executemany("INSERT INTO kept_annotations VALUES (?)", [(a,) for a in kept])
        return kept

    def _note(self, name: str, select: str, study: str) -> None:
        """The rows `select` gives now, kept in the temp table `name` (one column, `sample`)."""
        self._execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} (sample TEXT PRIMARY KEY)")
        self._execute(f"DELETE FROM {name}")
        self._execute(f"INSERT INTO {name} (sample) {select}", {"s": study})

    def _delete_owned(self, where: str, params: dict, tables: Iterable[str]) -> None:
        """Delete the rows of `tables` (children first) matching `where` on their owner
        (annotations of `kept_annotations` excepted)."""
        for table in reversed(ORDER):
            if table not in tables:
                continue
            t = TABLES[table]
            if t.owner == "analysis":
                self._execute(
                    f"DELETE FROM {q(table)} WHERE analysis IN"
                    f" (SELECT accession FROM analyses WHERE {where}"
                    " AND accession NOT IN (SELECT analysis FROM kept_annotations))",
                    params,
                )
            elif t.owner == "study":
                self._execute(f"DELETE FROM {q(table)} WHERE {where}", params)

    def _write_rows(self, rows: Rows, tables: Iterable[str], kept: set[str] = frozenset()) -> None:
        for table in ORDER:
            if table not in tables:
                continue
            if table == "annotations":
                new = rows[table]
                if kept:
                    new = [r for r in new if r["analysis"] not in kept]
                self._insert(table, new)
            else:
                self._upsert(table, rows[table])

    def replace_study(self, study: str, make_rows: Callable[[], Rows]) -> Rows:
        """The study's rows become exactly `make_rows()` (called under the study's write lock:
        an older derivation never overwrites a newer one)."""
        with self._write(study):
            rows = make_rows()
            # the study's own rows first (writers of other studies may run alongside)...
            owned = [t for t in ORDER if TABLES[t].per_study and t != "studies"]
            kept = self._kept_annotations(rows, "study = :study", {"study": study})
            # samples the study listed until now: one it no longer lists takes its flags from
            # the studies that still do (or goes, if none)
            self._note("listed_samples", "select sample from study_samples where study = :s", study)
            self._delete_owned("study = :study", {"study": study}, owned)
            self._write_rows(rows, ["studies", *owned], kept)
            self._refresh_study(study)
            # ...then the shared rows, one writer at a time: upserted, never deleted here (a
            # sample may be shared with another study; ENA's withdrawn ones stay)
            with self._shared():
                self._write_rows(rows, [t for t in ORDER if not TABLES[t].per_study])
                self._refresh_samples(
                    "select sample from study_samples where study = :s"
                    " union select sample from listed_samples",
                    {"s": study},
                )
                self._prune_shared()
                self._prune_biomes()
        return rows

    def replace_run(
        self, study: str, run: str, make_rows: Callable[[], Rows], *, coassembly: bool = False
    ) -> Rows:
        """One run's rows (the run, its assemblies, analyses, annotations, downloads, events)
        become exactly `make_rows()` (called under the study's write lock). With `coassembly`,
        `run` is a co-assembly's name: its assemblies, analyses and events are replaced
        instead."""
        unit = f"{'coassembly' if coassembly else 'run'} = :run AND study = :study"
        with self._write(study):
            rows = make_rows()
            params = {"run": run, "study": study}
            kept = self._kept_annotations(rows, unit, params)
            self._execute(
                "DELETE FROM downloads WHERE study = :study AND (analysis IN (SELECT accession"
                f" FROM analyses WHERE {unit}) OR assembly IN (SELECT accession FROM assemblies"
                f" WHERE {unit}))",
                params,
            )
            # an assembly owns its run links (a co-assembly's name runs that are not its own)
            self._execute(
                "DELETE FROM assembly_runs WHERE assembly IN"
                f" (SELECT accession FROM assemblies WHERE {unit})",
                params,
            )
            self._delete_owned(unit, params, ["annotations", "events", "analyses", "assemblies"])
            owned = [t for t in ORDER if TABLES[t].per_study and t != "studies"]
            self._write_rows(rows, owned, kept)
            self._refresh_study(study)
            with self._shared():
                shared = [t for t in ORDER if not TABLES[t].per_study and t != "biomes"]
                self._write_rows(rows, shared)
                self._refresh_samples(
                    "select sample from runs where study = :study and accession in"
                    " (select run from assembly_runs where study = :study and assembly in"
                    f" (select accession from assemblies where {unit}))"
                    if coassembly
                    else "select sample from runs where accession = :run and study = :study",
                    params,
                )
        return rows

    def replace_all(
        self, tables: Mapping[str, Iterable[Sequence]], *, meta: Mapping[str, str] = {}
    ) -> dict[str, int]:
        """The whole catalogue becomes `tables` (table -> rows as tuples in the description's
        column order, biomes included) and `meta` (`_meta`'s rows but the schema version; its
        generation, if any, kept): one transaction that excludes every other writer. For moving
        a catalogue between stores; returns the rows written per table."""
        counts = {}
        with self._write(None, generation=meta.get("generation")):
            for table in reversed(ORDER):
                self._execute(f"DELETE FROM {q(table)}")
            for table in ORDER:
                counts[table] = self._insert_tuples(table, tables.get(table, ()))
            for key, value in meta.items():
                if key not in ("schema_version", "generation"):
                    self._execute(META_UPSERT, [key, value])
        return counts

    def meta(self) -> dict[str, str]:
        """`_meta`: schema version, generation, and notes."""
        return {r["key"]: r["value"] for r in self.query("SELECT key, value FROM _meta")}

    def _insert_tuples(self, table: str, rows: Iterable[Sequence]) -> int:
        cols = list(TABLES[table].columns)
        names = ", ".join(map(q, cols))
        sql = f"INSERT INTO {q(table)} ({names}) VALUES ({', '.join('?' * len(cols))})"
        counted = [0]

        def each():
            for row in rows:
                counted[0] += 1
                yield row

        self._executemany(sql, each())
        return counted[0]

    def _refresh_study(self, study: str) -> None:
        """A study's counts, `updated_at` and features, from its rows."""
        self._execute(
            """update studies set
                 runs_total = (select count(*) from runs where study = :s),
                 runs_eligible = (select count(*) from runs where study = :s
                                  and status != :skip and is_suppressed = 0),
                 runs_skipped = (select count(*) from runs where study = :s and status = :skip),
                 runs_qc_failed = (select count(*) from runs where study = :s
                                   and status = :qcf and is_suppressed = 0),
                 assemblies_completed = (select count(*) from assemblies where study = :s
                                         and status = :done and is_suppressed = 0),
                 analyses_completed = (select count(*) from analyses where study = :s
                                       and status = :done and is_suppressed = 0),
                 updated_at = coalesce((select max(time) from events where study = :s),
                                       created_at),
                 features = '{"has_v6_analyses":' || (select case when count(*) > 0
                     then 'true' else 'false' end from analyses where study = :s
                     and is_ready <> 0 and is_suppressed = 0
                     and upper(substr(pipeline_version, 1, 2)) = 'V6')
                   || ',"has_prev6_analyses":false}'
               where accession = :s""",
            {
                "s": study,
                "skip": Status.SKIPPED,
                "qcf": Status.QC_FAILED,
                "done": Status.COMPLETED,
            },
        )

    # A sample's first link: current before withdrawn, public before private, then by study.
    FIRST_LINK = (
        "from study_samples l where l.sample = samples.accession"
        " order by l.is_suppressed, l.is_private, l.study limit 1"
    )

    def _refresh_samples(self, which: str, params: dict) -> None:
        """The biome, visibility and `updated_at` of the samples `which` selects, from all the
        studies that list them, whatever the order of their loads: those of the sample's first
        link, and the latest change of its runs in that link's study. A private study's owner
        or reason never lands on a public sample."""
        self._execute(
            f"""update samples set
                 (biome, is_private, is_suppressed, suppression_reason, webin_owner) = (
                   select l.biome, l.is_private, l.is_suppressed,
                          case when l.is_suppressed <> 0 then l.suppression_reason end,
                          case when l.is_private <> 0 then l.webin_owner end
                   {self.FIRST_LINK}),
                 updated_at = (select max(r.updated_at) from runs r
                               where r.sample = samples.accession
                               and r.study = (select l.study {self.FIRST_LINK}))
               where accession in ({which})""",
            params,
        )

    def _prune_shared(self) -> None:
        """Shared rows no study links to any more go: a rebuild would not make them."""
        self._execute(
            "DELETE FROM samples WHERE NOT EXISTS (SELECT 1 FROM study_samples l"
            " WHERE l.sample = samples.accession) AND NOT EXISTS (SELECT 1 FROM runs r"
            " WHERE r.sample = samples.accession)"
        )
        self._execute(
            "DELETE FROM publications WHERE NOT EXISTS (SELECT 1 FROM study_publications l"
            " WHERE l.publication = publications.pubmed_id)"
        )
        self._execute(
            "DELETE FROM super_studies WHERE NOT EXISTS (SELECT 1 FROM super_study_studies l"
            " WHERE l.super_study = super_studies.slug)"
        )

    def _prune_biomes(self) -> None:
        """Biomes are MGnify's shipped tree plus the lineages (and ancestors) studies use."""
        used = {
            r["biome"]
            for r in self.query("select biome from studies union select biome from samples")
        }
        keep = {r["lineage"] for r in biome_tree()}
        for lineage in filter(None, used):
            parts = lineage.split(":")
            keep |= {":".join(parts[:i]) for i in range(1, len(parts) + 1)}
        stale = [
            r["lineage"]
            for r in self.query("select lineage from biomes order by depth desc")
            if r["lineage"] not in keep
        ]
        for lineage in stale:
            self._execute("DELETE FROM biomes WHERE lineage = ?", [lineage])


class SqliteStore(SqlStore):
    """A SQLite catalogue file with the schema in place."""

    def __init__(self, path: Path, *, create: bool = True):
        path = Path(path)
        if not create and not path.exists():
            raise CatalogueError(f"{path}: no catalogue here (run the workflow or rebuild)")
        if path.is_dir():
            raise CatalogueError(f"{path}: is a directory, not a catalogue file")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.name = str(path)
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
            version = next(
                iter(db.execute("SELECT value FROM _meta WHERE key = 'schema_version'")), [None]
            )[0]
            if str(version) != str(SCHEMA_VERSION):
                raise SchemaMismatch(
                    f"{self.path}: catalogue schema v{version}, this version of mgnify-db needs"
                    f" v{SCHEMA_VERSION}: run `mgnify-db catalogue rebuild` (the catalogue is"
                    " rebuilt from the result files)"
                )
            # indexes added since the file was made (an index is no schema change: same
            # version); a no-op when they exist. publish copies them into public.db.
            for t in TABLES.values():
                for sql in create_indexes(t):
                    db.execute(sql)
            return
        db.enable_wal()
        with db.atomic():
            for t in TABLES.values():
                db.execute(create_table(t))
                for sql in create_indexes(t):
                    db.execute(sql)
            for table, cols in FTS.items():
                db[table].enable_fts(cols, create_triggers=True, tokenize="porter")
            db.execute("CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT)")
            db.execute(META_UPSERT, ["schema_version", SCHEMA_VERSION])
            self._upsert("biomes", biome_tree())

    @contextmanager
    def _write(self, study: str | None = None, *, generation: str | None = None) -> Iterator[None]:
        """One write transaction, holding SQLite's write lock from its start (BEGIN IMMEDIATE):
        rows derived inside it cannot be overtaken by another loader's newer ones."""
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        # foreign keys checked at COMMIT: an analysis whose annotations are kept is deleted and
        # re-inserted within the transaction
        conn.execute("PRAGMA defer_foreign_keys = ON")
        try:
            yield
            # a new generation with every change: publish notes the one it copied, so whether
            # public.db is current never depends on file times (a reader's close rewrites them)
            conn.execute(META_UPSERT, ["generation", generation or uuid.uuid4().hex])
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _execute(self, sql: str, params: Iterable | dict = ()) -> sqlite3.Cursor:
        return self.db.conn.execute(sql, params)

    def _executemany(self, sql: str, rows: Iterable) -> None:
        self.db.conn.executemany(sql, rows)

    # -- reads ----------------------------------------------------------------------------
    def query(self, sql: str, params: Iterable | dict = ()) -> Iterator[dict]:
        return (dict(r) for r in self.db.query(sql, params))

    @contextmanager
    def snapshot(self) -> Iterator[Callable[[str], Iterator[tuple]]]:
        conn = self.db.conn

        def rows(table: str) -> Iterator[tuple]:
            yield from conn.execute(select_all(table))

        conn.execute("BEGIN")  # a read transaction: one state of the file (WAL)
        try:
            yield rows
        finally:
            conn.execute("COMMIT")

    def checkpoint(self) -> None:
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self.db.close()


@contextmanager
def open_store(url_or_path: str | Path, *, create: bool = True) -> Iterator[SqlStore]:
    """A store from `postgresql://...`, `sqlite:///PATH` or a path; closed on exit."""
    from ..config import StoreKind, sqlite_path, store_kind

    if store_kind(url_or_path) is StoreKind.POSTGRESQL:
        from .pg_store import PostgresStore

        store: SqlStore = PostgresStore(str(url_or_path), create=create)
    else:
        store = SqliteStore(sqlite_path(url_or_path), create=create)
    try:
        yield store
    finally:
        store.close()
