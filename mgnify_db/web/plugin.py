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
import copy
import hashlib
import os
import re
import sqlite3
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from datasette import hookimpl
from datasette.database import Database, Results
from datasette.utils import urlsafe_components
from datasette.utils.asgi import Request

from . import browse
from .api import API_ROOT
from .api import routes as api_routes
from .auth import actor_for
from .files import routes as file_routes
from .pages import routes as page_routes
from .pages import sitemap_xml
from .viewer import webin_for

FileIdentity = tuple[int, int]
# What a database's file was when something was read from it: its identity, and the size and
# modification time of the file and of its WAL (the catalogue is also written in place).
Generation = tuple
# Table counts: a count may take this long (ms) once per generation (Datasette's own per-request
# limit, 5-10 ms, never counts the annotations).
COUNT_LIMIT_MS = 1000
# Per database and generation: results kept (least recently used dropped), rows per result.
CACHED_RESULTS = 2000
# Anonymous public pages kept (`PageCache`): MB in all (MGNIFY_PAGE_CACHE_MB; 0: none), bytes
# of one page at most.
PAGE_CACHE_ENV = "MGNIFY_PAGE_CACHE_MB"
PAGE_CACHE_MB = 64
PAGE_CACHE_PAGE = 2 * 1024 * 1024
CACHED_ROWS = 1000
CACHED_ROWS_IN_ALL = 50_000
GENERATION_SECONDS = 0.05
_MISSING = object()
# SQL whose answer may change while the file does not: not cached.
_VOLATILE = re.compile(
    r"\b(random|randomblob|date|time|datetime|julianday|strftime|unixepoch|changes"
    r"|total_changes|last_insert_rowid|sqlite_offset)\s*\(|\bcurrent_(date|time|timestamp)\b"
    r"|\bpragma\b|\btemp\.|\bsqlite_temp_master\b",
    re.IGNORECASE,
)
# Datasette's lookups in sqlite_master (table and view names, definitions, FTS tables): one
# select from sqlite_master alone.
_SCHEMA_ONLY = re.compile(
    r"\s*select\s(?:(?!\b(?:from|join)\b)[^;])*\bfrom\s+sqlite_master\b"
    r"(?:(?!\b(?:from|join)\b)[^;])*",
    re.IGNORECASE,
)


def _rows(value: Any) -> int:
    """What a kept value counts against CACHED_ROWS_IN_ALL: a result's rows, else 1."""
    return len(value.rows) if isinstance(value, Results) else 1


def deterministic(sql: str) -> bool:
    """A read whose result depends on the database file only (no clock, no randomness)."""
    return _VOLATILE.search(sql) is None


def schema_only(sql: str) -> bool:
    """A select from sqlite_master alone."""
    return _SCHEMA_ONLY.fullmatch(sql) is not None


# Per thread: database -> (file identity, connection). Keyed by the object (not its name) so
# that two Datasette instances in one process never share a connection.
_local = threading.local()


def _head(path: str, size: int) -> bytes | None:
    try:
        with open(path, "rb", buffering=0) as f:
            return f.read(size)
    except OSError:
        return None


def file_generation(path: str | Path) -> Generation | None:
    """What the SQLite file at `path` is now: its (device, inode), size and mtime, its header's
    file change counter (bumped by every write transaction in rollback-journal mode), and the
    size and mtime of its WAL with the WAL index header (changed by every commit in WAL mode);
    None when the file is missing. Changes when the file is replaced or written."""
    path = str(path)
    try:
        st = os.stat(path)
    except OSError:
        return None
    head = _head(path, 28)
    try:
        wal = os.stat(f"{path}-wal")
        wal_state: tuple | None = (wal.st_size, wal.st_mtime_ns, _head(f"{path}-shm", 48))
    except OSError:
        wal_state = None
    return (
        st.st_dev,
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
        head[24:28] if head else None,
        wal_state,
    )


def file_identity(path: str | Path) -> FileIdentity | None:
    """(device, inode) of the file at `path`; None when it is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class FollowingDatabase(Database):
    """A file database whose reads follow the file at its path when it is replaced.

    What can only change with the file is kept per generation of the file (`file_generation`):
    table counts, schema lookups (Datasette asks for a table's columns, keys and FTS table
    several times per page, each a round trip to a SQL thread) and, for a database that
    changes only by rename (`cache_results`: public.db, re-published by rename), the results
    of deterministic read queries (facets, counts, charts): a published file never changes.
    """

    def __init__(self, ds: Any, path: str, is_mutable: bool = True, cache_results: bool = False):
        super().__init__(ds, path=path, is_mutable=is_mutable)
        self.identity = file_identity(path)
        self.cache_results = cache_results
        self._counts: tuple[Generation, dict[str, int | None]] | None = None
        self._counting = asyncio.Lock()
        self._cache: OrderedDict[tuple, Any] = OrderedDict()
        self._cache_generation: Generation | None = None
        self._cache_rows = 0
        self._generation: tuple[float, Generation | None] = (-1.0, None)

    def generation(self, fresh: bool = False) -> Generation | None:
        """The file's generation, when it is the file this database reads (None while a
        replacement is not followed yet, or the file is missing: nothing is cached then).
        Looked at once per GENERATION_SECONDS at most (a page asks ~70 times), unless
        `fresh` (what is kept is checked fresh: never kept for a file that changed)."""
        now = time.monotonic()
        seen_at, generation = self._generation
        if fresh or now - seen_at > GENERATION_SECONDS:
            generation = file_generation(self.path)
            self._generation = (now, generation)
        if generation is None or generation[:2] != self.identity:
            return None
        return generation

    def _cached(self, generation: Generation | None, key: tuple) -> Any:
        if generation is None or generation != self._cache_generation:
            return _MISSING
        found = self._cache.get(key, _MISSING)
        if found is not _MISSING:
            self._cache.move_to_end(key)
        return found

    def _keep(self, generation: Generation | None, key: tuple, value: Any) -> None:
        if generation is None or generation != self.generation(fresh=True):  # changed meanwhile
            return
        if generation != self._cache_generation:
            self._cache.clear()
            self._cache_rows = 0
            self._cache_generation = generation
        old = self._cache.pop(key, None)
        self._cache_rows += _rows(value) - (_rows(old) if old is not None else 0)
        self._cache[key] = value
        while len(self._cache) > CACHED_RESULTS or self._cache_rows > CACHED_ROWS_IN_ALL:
            self._cache_rows -= _rows(self._cache.popitem(last=False)[1])

    async def execute(self, sql: str, params: Any = None, truncate: bool = False, **kw: Any) -> Any:
        if not (self.cache_results and deterministic(sql)) and not schema_only(sql):
            return await super().execute(sql, params, truncate=truncate, **kw)
        if isinstance(params, dict):
            frozen: Any = tuple(sorted(params.items()))
        else:
            frozen = tuple(params) if params is not None else None
        key = ("execute", sql, frozen, truncate, kw.get("page_size") or self.ds.page_size)
        generation = self.generation()
        found = self._cached(generation, key)
        if found is not _MISSING:
            return Results(list(found.rows), found.truncated, found.description)
        results = await super().execute(sql, params, truncate=truncate, **kw)
        if len(results.rows) <= CACHED_ROWS:
            self._keep(generation, key, results)
            return Results(list(results.rows), results.truncated, results.description)
        return results

    async def _schema(self, name: str, table: str | None, compute: Callable) -> Any:
        generation = self.generation()
        key = (name, table)
        found = self._cached(generation, key)
        if found is _MISSING:
            found = await compute()
            self._keep(generation, key, found)
        return copy.deepcopy(found)

    async def table_columns(self, table: str) -> Any:
        return await self._schema(
            "table_columns", table, lambda: super(FollowingDatabase, self).table_columns(table)
        )

    async def table_column_details(self, table: str) -> Any:
        return await self._schema(
            "table_column_details",
            table,
            lambda: super(FollowingDatabase, self).table_column_details(table),
        )

    async def primary_keys(self, table: str) -> Any:
        return await self._schema(
            "primary_keys", table, lambda: super(FollowingDatabase, self).primary_keys(table)
        )

    async def fts_table(self, table: str) -> Any:
        return await self._schema(
            "fts_table", table, lambda: super(FollowingDatabase, self).fts_table(table)
        )

    async def foreign_keys_for_table(self, table: str) -> Any:
        return await self._schema(
            "foreign_keys_for_table",
            table,
            lambda: super(FollowingDatabase, self).foreign_keys_for_table(table),
        )

    async def get_all_foreign_keys(self) -> Any:
        return await self._schema(
            "get_all_foreign_keys",
            None,
            lambda: super(FollowingDatabase, self).get_all_foreign_keys(),
        )

    async def table_counts(self, limit: int = 10) -> dict[str, int | None]:
        """Row counts of the tables, counted once per generation of the file (Datasette counts
        a mutable database on every index and database page): public.db changes only by
        rename (a publish), so its counts are counted once per published file."""
        generation = self.generation()
        cached = self._counts
        if cached is not None and generation is not None and cached[0] == generation:
            return dict(cached[1])
        async with self._counting:  # concurrent pages wait for one count
            generation = self.generation()
            cached = self._counts
            if cached is not None and generation is not None and cached[0] == generation:
                return dict(cached[1])
            counts = await super().table_counts(limit=max(limit, COUNT_LIMIT_MS))
            if generation is not None and generation == self.generation(fresh=True):
                self._counts = (generation, counts)
            return dict(counts)

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


def cache_table_permissions(datasette: Any) -> None:
    """Memoize Datasette's `_table_permission_allows(database, table)`: the `allow` blocks of a
    table in the metadata. Datasette 0.65.5 deep-copies the whole metadata for each call, and
    calls it twice per table per page (the actor, then anonymous): ~1 ms each with our
    metadata, 30-60 ms of the index page. The answer depends on the metadata only: it is
    cached while `datasette._metadata_local` is the same object and no plugin provides
    metadata (`get_metadata`), whose answers could change."""
    from datasette.plugins import pm

    compute = datasette._table_permission_allows
    cache: dict[tuple[int, str, str], list] = {}

    def allows(database: str, table: str) -> list:
        if pm.hook.get_metadata.get_hookimpls():
            return compute(database, table)
        key = (id(datasette._metadata_local), database, table)
        if key not in cache:
            if len(cache) > 10_000:
                cache.clear()
            cache[key] = compute(database, table)
        return [dict(allow) if isinstance(allow, dict) else allow for allow in cache[key]]

    datasette._table_permission_allows = allows


@hookimpl
def startup(datasette: Any) -> None:
    """Replace Datasette's own Database objects of mutable files with following ones; cache
    the metadata's table permissions."""
    for name, db in list(datasette.databases.items()):
        if db.path and db.is_mutable and not db.is_memory and not isinstance(db, FollowingDatabase):
            db.close()
            datasette.remove_database(name)
            # public.db changes only by rename (`mgnify-db catalogue publish`): its query results
            # are kept per file; the catalogue is also written in place (catalogue rules).
            following = FollowingDatabase(datasette, db.path, cache_results=name == browse.PUBLIC)
            datasette.add_database(following, name=name, route=db.route)
    if callable(getattr(datasette, "_table_permission_allows", None)):
        cache_table_permissions(datasette)


class PageCache:
    """Anonymous public pages, kept per public.db file: the HTML (and JSON) of `/`, `/biomes`
    and `/public/...`, and the API's answers (an anonymous request reads public.db only),
    depend on public.db (replaced only by rename), the metadata and the templates, none of
    which changes while the server runs, so a page is rendered once per published file
    (Datasette renders a 20-row table page in ~20 ms of CPU, under a GIL).

    Only GETs without `Authorization` or cookies are answered from it, and only 200 responses
    that set no cookie are kept: what an anonymous client would get anyway. Keyed by the
    public.db generation, scheme, host (absolute URLs), path and query; SQL with a clock or
    randomness (`?sql=`) is never kept. Least recently used pages go first past `max_bytes`.
    A kept page carries an ETag (`If-None-Match` gets 304); `Cache-Control: no-cache` in the
    request renders the page again."""

    def __init__(self, max_bytes: int = PAGE_CACHE_MB << 20, max_page: int = PAGE_CACHE_PAGE):
        self.max_bytes, self.max_page = max_bytes, max_page
        self.pages: OrderedDict[tuple, tuple[int, list, bytes, bytes]] = OrderedDict()
        self.size = 0
        self.generation: Generation | None = None

    @staticmethod
    def cacheable_path(path: str) -> bool:
        if "/-/" in path or path == "/public.db":
            return False
        return (
            path in ("/", "/.json", "/biomes")
            or path == "/public"
            or path.startswith(("/public/", "/public.", API_ROOT + "/"))
        )

    def key(self, scope: dict, datasette: Any) -> tuple | None:
        if (
            self.max_bytes <= 0
            or scope.get("method") != "GET"
            or not self.cacheable_path(scope.get("path", ""))
        ):
            return None
        for name, _ in scope.get("headers") or ():
            if name.lower() in (b"authorization", b"cookie"):
                return None
        query = scope.get("query_string", b"")
        if b"sql=" in query and not deterministic(
            urllib.parse.unquote_plus(query.decode(errors="replace"))
        ):
            return None
        db = datasette.databases.get(browse.PUBLIC)
        generation = db.generation() if isinstance(db, FollowingDatabase) else None
        if generation is None:
            return None
        if generation != self.generation:  # a new public.db: forget the old file's pages
            self.pages.clear()
            self.size = 0
            self.generation = generation
        host = dict(scope.get("headers") or ()).get(b"host", b"")
        return (scope.get("scheme"), host, scope.get("root_path", ""), scope["path"], query)

    def get(self, key: tuple) -> tuple[int, list, bytes, bytes] | None:
        found = self.pages.get(key)
        if found is not None:
            self.pages.move_to_end(key)
        return found

    def keep(
        self, key: tuple, generation: Generation | None, status: int, headers: list, body: bytes
    ) -> None:
        if generation != self.generation or len(body) > self.max_page:
            return
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'.encode()
        headers = [(k, v) for k, v in headers if k.lower() != b"etag"] + [(b"etag", etag)]
        old = self.pages.pop(key, None)
        if old is not None:
            self.size -= len(old[2])
        self.pages[key] = (status, headers, body, etag)
        self.size += len(body)
        while self.size > self.max_bytes and self.pages:
            self.size -= len(self.pages.popitem(last=False)[1][2])

    async def serve(
        self, scope: dict, receive: Callable, send: Callable, app: Callable, key: tuple
    ) -> None:
        headers = dict(scope.get("headers") or ())
        found = None if b"no-cache" in headers.get(b"cache-control", b"") else self.get(key)
        if found is not None:
            status, kept_headers, body, etag = found
            if etag in headers.get(b"if-none-match", b""):
                status, body = 304, b""
                kept_headers = [(k, v) for k, v in kept_headers if k.lower() != b"content-length"]
            await send({"type": "http.response.start", "status": status, "headers": kept_headers})
            await send({"type": "http.response.body", "body": body})
            return
        generation = self.generation
        start: dict = {}
        chunks: list[bytes] = []
        size = 0

        async def capture(message: dict) -> None:
            nonlocal size
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body" and size <= self.max_page:
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
            await send(message)

        await app(scope, receive, capture)
        kept = list(start.get("headers") or ())
        if (
            start.get("status") == 200
            and size <= self.max_page
            and not any(k.lower() == b"set-cookie" for k, _ in kept)
        ):
            self.keep(key, generation, 200, kept, b"".join(chunks))


@hookimpl
def asgi_wrapper(datasette: Any) -> Callable:
    """Follow replaced database files (each HTTP request); answer `/sitemap.xml`; keep
    anonymous public pages (`PageCache`)."""
    try:
        megabytes = float(os.environ.get(PAGE_CACHE_ENV) or PAGE_CACHE_MB)
    except ValueError:
        megabytes = PAGE_CACHE_MB
    cache = PageCache(max_bytes=int(megabytes * (1 << 20)))

    def wrap(app: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        async def following(scope: dict, receive: Callable, send: Callable) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            await follow_replaced(datasette)
            if scope.get("path") == "/sitemap.xml" and scope.get("method") in ("GET", "HEAD"):
                # ours, not datasette-sitemap's route (which of the two routes comes first
                # depends on the order the plugins are found in)
                response = await sitemap_xml(Request(scope, receive), datasette)
                await response.asgi_send(send)
                return
            key = cache.key(scope, datasette)
            if key is None:
                await app(scope, receive, send)
            else:
                await cache.serve(scope, receive, send, app, key)

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
