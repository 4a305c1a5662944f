"""Datasette plugin: keep serving the newest catalogue file after `mgnify-db catalogue rebuild`
(and the newest public.db after a publish); curators by bearer token (`auth.py`); result files
and public.db downloads (`files.py`).

`rebuild` swaps a new file in by rename. Datasette opens a database file once and keeps a
connection per thread, so it would go on serving the old, unlinked file. With this plugin every
mutable file database is a `FollowingDatabase`: each HTTP request looks at the file's identity
(device, inode); when it changed, each thread's next query opens the new file (closing its old
connection) and Datasette's schema cache for the database is refreshed. Reads only: Datasette's
write connection (unused by the catalogue) is not followed.

Registered through the `datasette` entry point in pyproject.toml, so `python -m datasette serve`
(what `mgnify-db serve` runs) loads it. Written against Datasette 0.65.5 (pinned).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from datasette import hookimpl
from datasette.database import Database
from datasette.utils import urlsafe_components

from . import browse
from .api import API_ROOT
from .api import routes as api_routes
from .auth import actor_for
from .files import routes as file_routes
from .pages import routes as page_routes
from .viewer import webin_for

FileIdentity = tuple[int, int]
# Per thread: database -> (file identity, connection). Keyed by the object (not its name) so
# that two Datasette instances in one process never share a connection.
_local = threading.local()


def file_identity(path: str | Path) -> FileIdentity | None:
    """(device, inode) of the file at `path`; None when it is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class FollowingDatabase(Database):
    """A file database whose reads follow the file at its path when it is replaced."""

    def __init__(self, ds: Any, path: str, is_mutable: bool = True):
        super().__init__(ds, path=path, is_mutable=is_mutable)
        self.identity = file_identity(path)

    def replaced(self) -> bool:
        """Look at the path again: True (once) when another file is there now."""
        now = file_identity(self.path)
        if now is None or now == self.identity:  # a missing file: keep serving the old one
            return False
        self.identity = now
        return True

    async def execute_fn(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        identity = self.identity

        def in_thread() -> Any:
            held: dict = _local.__dict__.setdefault("connections", {})
            seen, conn = held.get(self, (None, None))
            if conn is None or seen != identity:
                if conn is not None:
                    conn.close()
                    self._all_file_connections.remove(conn)
                conn = self.connect()
                self.ds._prepare_connection(conn, self.name)
                held[self] = (identity, conn)
            return fn(conn)

        if self.ds.executor is None:  # Datasette's non-threaded mode (num_sql_threads 0)
            return in_thread()
        return await asyncio.get_running_loop().run_in_executor(self.ds.executor, in_thread)


async def follow_replaced(datasette: Any) -> list[str]:
    """Switch every replaced database to its new file; their names."""
    names = []
    for name, db in list(datasette.databases.items()):
        if isinstance(db, FollowingDatabase) and db.replaced():
            names.append(name)
            if datasette.internal_db_created:  # forget its tables: the next request re-reads
                await datasette.get_database("_internal").execute_write(
                    "DELETE FROM databases WHERE database_name = ?", [name]
                )
    return names


@hookimpl
def startup(datasette: Any) -> None:
    """Replace Datasette's own Database objects of mutable files with following ones."""
    for name, db in list(datasette.databases.items()):
        if db.path and db.is_mutable and not db.is_memory and not isinstance(db, FollowingDatabase):
            db.close()
            datasette.remove_database(name)
            datasette.add_database(FollowingDatabase(datasette, db.path), name=name, route=db.route)


@hookimpl
def asgi_wrapper(datasette: Any) -> Callable:
    def wrap(app: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        async def following(scope: dict, receive: Callable, send: Callable) -> None:
            if scope["type"] == "http":
                await follow_replaced(datasette)
            await app(scope, receive, send)

        return following

    return wrap


@hookimpl
def actor_from_request(datasette: Any, request: Any) -> dict | None:
    """A curator: `Authorization: Bearer <token>` with a token of `MGNIFY_CURATOR_TOKEN`; else
    the owner of a valid API token (`/metagenomics/api/v2/auth/sliding`): `{"id": "Webin-N",
    "webin": "Webin-N"}`, never "curator" (tokens name only `Webin-<digits>`), so the catalogue's
    `allow: {id: curator}` keeps it out."""
    authorization = request.headers.get("authorization")
    if curator := actor_for(authorization):
        return curator
    webin = webin_for(authorization)
    return {"id": webin, "webin": webin} if webin else None


@hookimpl
def skip_csrf(datasette: Any, scope: dict) -> bool | None:
    """No CSRF check on the API: its JSON POSTs (logins, token refresh) carry no csrftoken, and
    a browser with Datasette's CSRF cookie would be refused them; the API never authenticates
    by cookie, so a forged cross-site request gains nothing."""
    path = scope.get("path", "")
    return True if path == API_ROOT or path.startswith(API_ROOT + "/") else None


@hookimpl
def register_routes(datasette: Any) -> list:
    """`/files/<owner>/<alias>` (result files, private ones to curators and signed links),
    `/public.db` (the published database file), MGnify's API v2 (`/metagenomics/api/v2/`) and
    the browse pages (`/biomes`)."""
    return file_routes() + api_routes() + page_routes()


@hookimpl
def extra_template_vars(
    database: str | None,
    table: str | None,
    view_name: str,
    request: Any,
    datasette: Any,
) -> Callable[[], Awaitable[dict]]:
    """The browse pages' data, read from the public database only: the home page's counts and
    the API docs link; a public record's links (API JSON, downloads); an analysis' chart, QC
    summary and files."""

    async def inner() -> dict:
        if "public" not in datasette.databases:
            return {}
        db = datasette.get_database("public")
        if view_name == "index":
            return {
                "mgnify_counts": await browse.home_counts(db),
                "mgnify_api_docs": browse.API_DOCS,
            }
        if view_name != "row" or database != "public" or table not in browse.RECORD_TABLES:
            return {}
        pks = urlsafe_components(request.url_vars["pks"])
        if len(pks) != 1:
            return {}
        found = {"mgnify_links": browse.record_links(datasette, table, pks[0])}
        if table == "analyses":
            found |= await browse.analysis_page(db, pks[0])
        return found

    return inner


@hookimpl
def render_cell(value: Any, column: str, table: str | None, database: str, datasette: Any) -> Any:
    """In public tables: a record's accession (row pages) and references to records link to
    the record and to its API JSON; a download's url is a link."""
    if database != "public" or not table:
        return None
    if isinstance(value, dict):  # a foreign key Datasette expanded to {"value", "label"}
        value = value.get("value")
    if not isinstance(value, str) or not value:
        return None
    if column == "accession" and table in browse.RECORD_TABLES:
        return browse.reference_cell(datasette, table, value)
    if column in browse.REFERENCE_COLUMNS:
        return browse.reference_cell(datasette, browse.REFERENCE_COLUMNS[column], value)
    if table == "downloads" and column == "url" and value.startswith("/"):
        return browse.link_cell(value)
    return None
