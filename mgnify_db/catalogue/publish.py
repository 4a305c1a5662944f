"""`public.db`: the catalogue's public, unsuppressed records and nothing else.

Datasette serves public.db to everyone (SQL included) and catalogue.db only to curators
(`../../docs/glossary.md`, notes/datasette.md: table-level rules are no privacy boundary, a
separate file is). So public.db must hold no private byte: it is a copy of the catalogue from
which, in one transaction, every private or suppressed record is deleted, then every row whose
foreign key no longer resolves (link tables, annotations, downloads of gone records), then every
sample no remaining record refers to; operations-only tables are dropped; the full-text indexes
are rebuilt from what is left and the file is vacuumed (no free page keeps deleted text). The new
file replaces the old one by rename: a server reading public.db (the plugin follows renames)
never sees a half-written file.

Set-based SQL throughout: a catalogue with a million annotation rows publishes in seconds.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from .schema import FTS, ORDER, PRIVATE_TABLES, TABLES

FLAGS = ("is_private", "is_suppressed")
# Samples are shared between studies (owner None): one is public only while a public record
# (a study link, a run, an assembly, an analysis) refers to it.
SAMPLE_REFERENCES = tuple(
    (t.name, col)
    for t in TABLES.values()
    for col, other, _ in t.foreign_keys
    if other == "samples" and t.name != "samples"
)


class PublishError(RuntimeError):
    """public.db could not be written (the old one, if any, is left as it was): one line."""


def publish(catalogue_db: Path, public_db: Path) -> dict[str, int]:
    """Write `public_db` from `catalogue_db` (read only, a consistent snapshot even while loads
    write); swap it in atomically. Returns the rows of each table in public.db."""
    catalogue_db, public_db = Path(catalogue_db), Path(public_db)
    if not catalogue_db.is_file():
        raise PublishError(f"{catalogue_db}: no catalogue here (run the workflow or rebuild)")
    public_db.parent.mkdir(parents=True, exist_ok=True)
    tmp = public_db.with_name(f".{public_db.name}.{os.getpid()}.publish")
    for stale in public_db.parent.glob(f".{public_db.name}.*.publish*"):
        if not _alive(stale.name.split(".publish")[0].rsplit(".", 1)[-1]):  # a killed publish's
            stale.unlink(missing_ok=True)
    _remove(tmp)
    # the copy holds private rows until stripped: readable by us only
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        src = sqlite3.connect(f"{catalogue_db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            src.execute("PRAGMA busy_timeout = 30000")
            src.execute("VACUUM INTO ?", [str(tmp)])
        finally:
            src.close()
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            counts = _strip(conn)
        finally:
            conn.close()
        os.chmod(tmp, 0o644)  # public by design once stripped
        tmp.replace(public_db)
    except sqlite3.Error as e:
        _remove(tmp)
        raise PublishError(f"{public_db}: not published, left as it was: {e}") from None
    except BaseException:
        _remove(tmp)
        raise
    for suffix in ("-wal", "-shm", "-journal"):  # a stale one would be applied to the new file
        Path(f"{public_db}{suffix}").unlink(missing_ok=True)
    return counts


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")}


def _strip(conn: sqlite3.Connection) -> dict[str, int]:
    """Make the copy public (see the module's docstring); its row counts."""
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA foreign_keys = OFF")  # we delete parents before their children
    conn.execute("PRAGMA secure_delete = ON")  # deleted content is zeroed, not left in pages
    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    tables = [t for t in ORDER if t in present and t not in PRIVATE_TABLES]
    conn.execute("BEGIN")
    # An allowlist: operations tables, views, and any table this schema does not describe
    # (made by hand, by a later version, an FTS index not in FTS) stay out.
    keep = set(tables) | {"_meta"} | {t for t in present if t.startswith("sqlite_")}
    keep |= {t for t in present for base in FTS if t.startswith(f"{base}_fts")}
    for (view,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'").fetchall():
        conn.execute(f"DROP VIEW [{view}]")
    for table in sorted(present - keep):
        for trigger in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", [table]
        ).fetchall():
            conn.execute(f"DROP TRIGGER [{trigger[0]}]")
        conn.execute(f"DROP TABLE IF EXISTS [{table}]")
    if "_meta" in present:
        conn.execute("DELETE FROM _meta WHERE key NOT IN ('schema_version', 'generation')")

    # 1. records that are private or suppressed (a missing flag counts as set: fail closed)
    changed: set[str] = set()
    for table in tables:
        if set(FLAGS) <= _columns(conn, table):
            cur = conn.execute(
                f"DELETE FROM [{table}] WHERE is_private IS NOT 0 OR is_suppressed IS NOT 0"
            )
            if cur.rowcount:
                changed.add(table)
    # 2. rows referring to a deleted row, until nothing changes; 3. unreferenced samples
    _cascade(conn, tables, changed)
    if "samples" in tables:
        refs = [(t, c) for t, c in SAMPLE_REFERENCES if t in tables]
        unreferenced = " AND ".join(
            f"NOT EXISTS (SELECT 1 FROM [{t}] r WHERE r.[{c}] = samples.accession)" for t, c in refs
        )
        cur = conn.execute(f"DELETE FROM samples WHERE {unreferenced or '1'}")
        if cur.rowcount:
            _cascade(conn, tables, {"samples"})
    # who owns a private record, and why a record was suppressed, are never public
    for table in tables:
        if {"webin_owner", "suppression_reason"} <= _columns(conn, table):
            conn.execute(f"UPDATE [{table}] SET webin_owner = NULL, suppression_reason = NULL")
    # 4. shared rows only private or suppressed records used: a publication or super study
    # only a private study names (an embargoed paper's title is not public yet), a biome
    # outside the shipped tree that no public study or sample is filed under
    _prune_shared(conn, tables)
    # 5. full-text indexes from what is left (external content: the index is rebuilt, not
    # edited, so no deleted term survives in it)
    for table in FTS:
        fts = f"{table}_fts"
        if fts in present:
            conn.execute(f"INSERT INTO [{fts}]([{fts}]) VALUES('rebuild')")
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("VACUUM")
    return {t: conn.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] for t in tables}


def _prune_shared(conn: sqlite3.Connection, tables: list[str]) -> None:
    from .biomes import tree_lineages

    for table, key, link, col in (
        ("publications", "pubmed_id", "study_publications", "publication"),
        ("super_studies", "slug", "super_study_studies", "super_study"),
    ):
        if table in tables and link in tables:
            conn.execute(
                f"DELETE FROM [{table}] WHERE NOT EXISTS"
                f" (SELECT 1 FROM [{link}] l WHERE l.[{col}] = [{table}].[{key}])"
            )
    if "biomes" not in tables:
        return
    conn.execute("CREATE TEMP TABLE shipped (lineage TEXT PRIMARY KEY)")
    conn.executemany("INSERT INTO shipped VALUES (?)", [(x,) for x in tree_lineages()])
    used = [f"SELECT biome FROM [{t}]" for t in ("studies", "samples") if t in tables]
    # deepest first: a custom lineage's ancestors go once no used lineage is below them
    for (lineage,) in conn.execute(
        "SELECT lineage FROM biomes WHERE lineage NOT IN (SELECT lineage FROM shipped)"
        " ORDER BY depth DESC"
    ).fetchall():
        below = conn.execute(
            f"SELECT 1 FROM ({' UNION '.join(used) or 'SELECT NULL AS biome'})"
            " WHERE biome = :l OR substr(biome, 1, length(:l) + 1) = :l || ':' LIMIT 1",
            {"l": lineage},
        ).fetchone()
        if below is None:
            conn.execute("DELETE FROM biomes WHERE lineage = ?", [lineage])
    conn.execute("DROP TABLE shipped")


def _cascade(conn: sqlite3.Connection, tables: list[str], changed: set[str]) -> None:
    """Delete rows whose non-null foreign key points at a missing row, following the deletions
    (only foreign keys into a table that changed are checked again) until none is left."""
    dirty = set(changed)
    while dirty:
        now: set[str] = set()
        for table in tables:
            for col, other, other_col in TABLES[table].foreign_keys:
                if other not in dirty and other not in now:
                    continue
                cur = conn.execute(
                    f"DELETE FROM [{table}] WHERE [{col}] IS NOT NULL AND NOT EXISTS "
                    f"(SELECT 1 FROM [{other}] p WHERE p.[{other_col}] = [{table}].[{col}])"
                )
                if cur.rowcount:
                    now.add(table)
        dirty = now


def publish_store(catalogue: str, catalogue_db: Path, public_db: Path) -> dict[str, int]:
    """`publish` from the catalogue at `catalogue` (a SQLite file, served as it is, or a
    PostgreSQL URL: first exported, when changed, to the SQLite file `catalogue_db` that
    Datasette serves to curators). One privacy code path for both stores: the strip above."""
    from ..config import StoreKind, store_kind

    if store_kind(catalogue) is StoreKind.POSTGRESQL:
        export_store(catalogue, catalogue_db)
    return publish(catalogue_db, public_db)


def export_store(catalogue: str, catalogue_db: Path) -> bool:
    """Export the PostgreSQL catalogue at `catalogue` to `catalogue_db` unless that file holds
    its current generation already; whether it did."""
    from .move import export
    from .store import CatalogueError, driver_errors, one_line, open_store

    try:
        with open_store(catalogue, create=False) as store:
            current = store.generation()
            if current is not None and generation(catalogue_db) == current:
                return False
            export(store, catalogue_db)
            return True
    except CatalogueError as e:
        raise PublishError(str(e)) from None
    except driver_errors() as e:
        raise PublishError(f"{catalogue_db}: not exported: {one_line(e)}") from None


def generation(db: Path) -> str | None:
    """The catalogue generation a file holds (`_meta`: a new one with every load's commit; in
    public.db, the one it was published from)."""
    try:
        conn = sqlite3.connect(f"{Path(db).resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute("SELECT value FROM _meta WHERE key = 'generation'").fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return row[0] if row else None


def is_stale(catalogue_db: Path, public_db: Path) -> bool:
    """True when `public_db` is missing or was published from another state of the catalogue
    (generations differ; without them, when it is older than the catalogue and its WAL)."""
    public_db, catalogue_db = Path(public_db), Path(catalogue_db)
    if not public_db.is_file():
        return True
    ours, theirs = generation(public_db), generation(catalogue_db)
    if ours and theirs:
        return ours != theirs
    written = [
        p.stat().st_mtime_ns for p in (catalogue_db, Path(f"{catalogue_db}-wal")) if p.exists()
    ]
    return public_db.stat().st_mtime_ns < max(written, default=0)
