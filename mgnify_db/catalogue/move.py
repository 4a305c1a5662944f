"""Moving a catalogue between stores, row for row: `mgnify-db catalogue migrate --from --to`,
the SQLite copy of a PostgreSQL catalogue that `publish` exports for Datasette, and the
rebuild of a PostgreSQL catalogue (built in a SQLite file, then moved in one transaction).

Accessions are data by the time rows reach a store (the ledger allocates them), so a moved
catalogue has the same accessions, ids and generation: its dump equals the source's.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config import StoreKind, sqlite_path, store_kind
from .dump import dump
from .schema import ORDER
from .store import CatalogueError, SqliteStore, SqlStore, open_store


def copy(source: SqlStore, target: SqlStore) -> dict[str, int]:
    """`target` becomes a copy of `source` (one consistent read of it; one write transaction
    of the target, so its readers see the old catalogue or the new, nothing between)."""
    with source.snapshot() as rows:
        return target.replace_all({t: rows(t) for t in ORDER}, meta=source.meta())


def move(source_url: str, target_url: str, *, replace: bool = False) -> dict[str, int]:
    """Copy the catalogue at `source_url` to `target_url` (created if empty), then check that
    both dump the same rows. A target holding studies is refused unless `replace`."""
    if _same(source_url, target_url):
        raise CatalogueError(f"{source_url}: the source and the target are the same catalogue")
    if store_kind(target_url) is StoreKind.SQLITE and not sqlite_path(target_url).exists():
        # a whole catalogue, private rows included: readable by us only
        path = sqlite_path(target_url)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    with open_store(source_url, create=False) as source, open_store(target_url) as target:
        held = next(iter(target.query("SELECT count(*) AS n FROM studies")))["n"]
        if held and not replace:
            raise CatalogueError(
                f"{target.name}: already holds {held} studies (--replace to overwrite them)"
            )
        counts = copy(source, target)
        with source.snapshot():  # the source as it is now (loads may have gone on)
            if dump(source) != dump(target):
                raise CatalogueError(
                    f"{target.name}: written, but differs from {source.name} (did a load"
                    " change the source meanwhile? migrate again with --replace)"
                )
    return counts


def _same(one: str | Path, other: str | Path) -> bool:
    if store_kind(one) is StoreKind.SQLITE and store_kind(other) is StoreKind.SQLITE:
        return sqlite_path(one).resolve() == sqlite_path(other).resolve()
    return str(one) == str(other)


def export(source: SqlStore, catalogue_db: Path) -> dict[str, int]:
    """Write the SQLite file `catalogue_db` from `source` (a PostgreSQL catalogue): the schema a
    SQLite store makes (indexes, full-text search), every row, the same generation; swapped in
    atomically (a server reading it follows the rename)."""
    catalogue_db = Path(catalogue_db)
    catalogue_db.parent.mkdir(parents=True, exist_ok=True)
    tmp = catalogue_db.with_name(f".{catalogue_db.name}.{os.getpid()}.export")
    _remove(tmp)
    # private rows inside: readable by us only, as the store file itself
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        target = SqliteStore(tmp)
        try:
            counts = copy(source, target)
            target.checkpoint()
            target.db.execute("PRAGMA journal_mode = DELETE")
        finally:
            target.close()
        tmp.replace(catalogue_db)
    finally:
        _remove(tmp)
    return counts


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
