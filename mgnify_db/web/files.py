"""Result files served by `mgnify-db serve`: `/files/<owner accession>/<alias>`, and `/public.db`.

A download row (`downloads`) names its file by owner (its analysis, else its assembly, else its
study accession) and alias; its `url` is `<publish.files_url>/<owner>/<alias>` and its `path` is
relative to the results dir (plugin config `results_dir`, which `mgnify-db serve` sets from the
global config through `MGNIFY_RESULTS_DIR`).

Who gets a file:
* a row in the `public` database (public.db): anyone;
* a row only in `catalogue` (private or suppressed): a curator (`auth.py`), or anyone holding a
  signed link `?expires=<unix ts>&token=<hex HMAC-SHA256(secret, owner NUL alias NUL expires)>`
  (as MGnify's private-data server, reference §2.5; secret from `MGNIFY_FILES_SECRET`, signed
  links are disabled while it is unset). A curator gets such a link from `?sign=1` (JSON).

Answers, chosen so that nobody without a valid link or token learns whether a private file exists:
* no row visible to the asker, no token (or signed links disabled): 404, byte for byte the answer
  for a file that does not exist;
* a token that is not our signature of this owner/alias/expires: 403 (whatever exists);
* our signature, expired: 410 (only we could have made it: it reveals nothing new);
* a row whose path resolves outside the results dir, or whose file is gone: 404.

Files are streamed in chunks (never read whole), with `Content-Length`, `Accept-Ranges: bytes`,
one `Range` (`bytes=a-b`, `bytes=a-`, `bytes=-n`: 206 with `Content-Range`; 416 when none of it
is in the file; several ranges or a malformed header: the whole file, as RFC 9110 allows), HEAD,
`ETag` = the row's md5 (`If-None-Match` answers 304) and a `Content-Type` from `file_type`.

Datasette 0.65 offers no download of a mutable database, and public.db stays mutable so that the
plugin follows a re-publish; `/public.db` is therefore served here, from the file at its path now.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import time
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, unquote, urlsplit

from datasette.utils.asgi import Response

from .auth import is_curator

PLUGIN = "mgnify-db"  # plugin config key: plugins: {mgnify-db: {results_dir, ...}}
SECRET_ENV = "MGNIFY_FILES_SECRET"
RESULTS_ENV = "MGNIFY_RESULTS_DIR"
LIFETIME_ENV = "MGNIFY_FILES_LINK_LIFETIME"
DEFAULT_LIFETIME_S = 3600
PUBLIC, CATALOGUE = "public", "catalogue"
CHUNK = 256 * 1024
ROUTE = r"^/files/(?P<owner>[^/]+)/(?P<alias>[^/]+)$"
PUBLIC_DB_ROUTE = r"^/public\.db$"

CONTENT_TYPES = {
    "fasta": "text/x-fasta",
    "tsv": "text/tab-separated-values; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "svg": "image/svg+xml",
    "html": "text/html; charset=utf-8",
    "gff": "text/x-gff3",
    "tree": "text/x-nh",
    "biom": "application/octet-stream",
}
GZIP_SUFFIXES = (".gz", ".bgz")
OCTET = "application/octet-stream"
# Result files are data, never active content on this origin (an HTML or SVG report would
# otherwise run its scripts next to Datasette).
SAFE_HEADERS = {"x-content-type-options": "nosniff", "content-security-policy": "sandbox"}
NOT_FOUND = {"ok": False, "error": "Not Found", "status": 404}


# -- signed links -------------------------------------------------------------------------------
def _signature(secret: str, owner: str, alias: str, expires: int | str) -> str:
    # NUL-separated: no digits can move between the alias and `expires` under one signature
    message = "\0".join((owner, alias, str(expires))).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _owner_alias(url: str) -> tuple[str, str]:
    parts = urlsplit(url).path.rstrip("/").split("/")
    if len(parts) < 3 or not parts[-1] or not parts[-2]:
        raise ValueError(f"{url}: not a file URL (<files_url>/<owner accession>/<alias>)")
    return unquote(parts[-2]), unquote(parts[-1])


def sign_file_url(url: str, secret: str, lifetime_s: int, now: float | None = None) -> str:
    """`url` (`<files_url>/<owner>/<alias>`, relative or absolute) with `expires` (unix time,
    `lifetime_s` from `now`) and `token` = hex HMAC-SHA256(secret, owner NUL alias NUL expires)."""
    if not secret:
        raise ValueError(f"no secret: signed links need {SECRET_ENV}")
    owner, alias = _owner_alias(url)
    expires = int(time.time() if now is None else now) + int(lifetime_s)
    token = _signature(secret, owner, alias, expires)
    return f"{url}{'&' if urlsplit(url).query else '?'}expires={expires}&token={token}"


def link_status(
    owner: str, alias: str, expires: str | None, token: str, secret: str, now: float | None = None
) -> str:
    """'valid', 'expired' (our signature, past its time) or 'bad' (not our signature)."""
    if not expires or not re.fullmatch(r"[0-9]{1,12}", expires):
        return "bad"
    expected = _signature(secret, owner, alias, expires).encode()
    if not hmac.compare_digest(expected, token.lower().encode("utf-8", "replace")):
        return "bad"
    return "valid" if int(expires) >= (time.time() if now is None else now) else "expired"


# -- ranges and types -----------------------------------------------------------------------------
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """The one byte range (first, last; inclusive) a `Range` header asks of a `size`-byte file.

    None: no usable header (absent, malformed, several ranges): send the whole file.
    False: unsatisfiable (416)."""
    if not header:
        return None
    m = RANGE.match(header.strip().replace(" ", ""))
    if not m or m.group(1) == m.group(2) == "":
        return None
    first, last = m.groups()
    if first == "":  # the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            return False
        return max(0, size - n), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # invalid: ignored
    if start >= size:
        return False
    return start, min(int(last) if last else size - 1, size - 1)


def content_type(file_type: str | None, path: str) -> str:
    if path.endswith(GZIP_SUFFIXES):
        return "application/gzip"
    return CONTENT_TYPES.get(file_type or "", OCTET)


class FileResponse(Response):
    """Streams `length` bytes of an open file from `start`, then closes it; HEAD: headers only."""

    def __init__(self, fp: BinaryIO, status: int, headers: dict, start: int, length: int, head):
        super().__init__(b"", status=status, headers=headers, content_type=headers["content-type"])
        self.fp, self.start, self.length, self.head = fp, start, length, head

    async def asgi_send(self, send) -> None:
        try:
            headers = [
                (k.lower().encode("latin1"), v.encode("latin1")) for k, v in self.headers.items()
            ]
            headers += [(b"set-cookie", c.encode("latin1")) for c in self._set_cookie_headers]
            await send({"type": "http.response.start", "status": self.status, "headers": headers})
            remaining = 0 if self.head else self.length
            if remaining:
                loop = asyncio.get_running_loop()
                self.fp.seek(self.start)
                while remaining > 0:
                    chunk = await loop.run_in_executor(None, self.fp.read, min(CHUNK, remaining))
                    if not chunk:  # the file shrank meanwhile: end the body here
                        break
                    remaining -= len(chunk)
                    await send(
                        {"type": "http.response.body", "body": chunk, "more_body": remaining > 0}
                    )
                if remaining <= 0:
                    return
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.fp.close()


def _disposition(alias: str) -> str:
    ascii_name = re.sub(r"[^A-Za-z0-9._+-]", "_", alias)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(alias, safe='')}"


def send_file(
    request: Any,
    path: Path,
    *,
    ctype: str,
    alias: str,
    etag: str | None,
    cache: str,
) -> Response:
    """The response for the file at `path` (already checked), honouring HEAD, Range and ETag."""
    fp = open(path, "rb")  # noqa: SIM115 (closed by FileResponse.asgi_send, or below)
    try:
        size = os.fstat(fp.fileno()).st_size
        headers = {
            "content-type": ctype,
            "accept-ranges": "bytes",
            "content-disposition": _disposition(alias),
            "cache-control": cache,
            **SAFE_HEADERS,
        }
        if etag:
            headers["etag"] = f'"{etag}"'
            if etag in re.findall(r'"([^"]*)"', request.headers.get("if-none-match", "")):
                fp.close()
                return Response(b"", status=304, headers=headers, content_type=ctype)
        head = request.method == "HEAD"
        wanted = parse_range(request.headers.get("range"), size)
        if wanted is False:
            fp.close()
            headers |= {"content-range": f"bytes */{size}", "content-length": "0"}
            return Response(b"", status=416, headers=headers, content_type=ctype)
        if wanted is None:
            return FileResponse(fp, 200, headers | {"content-length": str(size)}, 0, size, head)
        first, last = wanted
        headers |= {
            "content-range": f"bytes {first}-{last}/{size}",
            "content-length": str(last - first + 1),
        }
        return FileResponse(fp, 206, headers, first, last - first + 1, head)
    except BaseException:
        fp.close()
        raise


# -- the views --------------------------------------------------------------------------------
def not_found() -> Response:
    return Response.json(NOT_FOUND, status=404)


def settings(datasette: Any) -> dict:
    return datasette.plugin_config(PLUGIN) or {}


DOWNLOAD_SQL = """
select alias, path, file_type, md5, url, index_files from downloads
where alias = :alias and (analysis = :owner
  or (analysis is null and assembly = :owner)
  or (analysis is null and assembly is null and study = :owner))
limit 1
"""


INDEX_TYPES = ("gzi", "fai", "csi")


async def find_download(datasette: Any, database: str, owner: str, alias: str) -> dict | None:
    """The download row of owner/alias; for `<alias>.<gzi|fai|csi>`, its file's index (served
    with the file's own visibility: an index is listed on the row, never a row of its own)."""
    db = datasette.databases.get(database)
    if db is None:
        return None
    rows = await db.execute(DOWNLOAD_SQL, {"owner": owner, "alias": alias})
    if row := rows.first():
        return dict(row)
    base, _, kind = alias.rpartition(".")
    if kind not in INDEX_TYPES or not base:
        return None
    rows = await db.execute(DOWNLOAD_SQL, {"owner": owner, "alias": base})
    if not (row := rows.first()):
        return None
    for index in json.loads(row["index_files"] or "[]"):
        if index.get("index_type") == kind:
            return {"alias": alias, "path": index["path"], "file_type": "other", "md5": None}
    return None


def results_file(datasette: Any, relative: str | None) -> Path | None:
    """The file a download row's path names, if it is a file inside the results dir."""
    results_dir = settings(datasette).get("results_dir")
    if not results_dir or not relative:
        return None
    root = Path(results_dir).resolve()
    try:
        path = (root / relative).resolve()
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def link_lifetime(datasette: Any) -> int:
    value = settings(datasette).get("link_lifetime_seconds")
    try:
        return int(value) if value else DEFAULT_LIFETIME_S
    except (TypeError, ValueError):
        return DEFAULT_LIFETIME_S


async def file_view(request: Any, datasette: Any) -> Response:
    owner = unquote(request.url_vars["owner"])
    alias = unquote(request.url_vars["alias"])
    curator = is_curator(request.actor)
    secret = os.environ.get(SECRET_ENV, "")
    token = request.args.get("token") or ""

    row = await find_download(datasette, PUBLIC, owner, alias)
    public = row is not None
    if row is None:
        if curator:
            row = await find_download(datasette, CATALOGUE, owner, alias)
        elif token and secret:  # a signed link: judged before anything is looked up
            status = link_status(owner, alias, request.args.get("expires"), token, secret)
            if status == "bad":
                return Response.json({"ok": False, "error": "Invalid link", "status": 403}, 403)
            if status == "expired":
                return Response.json({"ok": False, "error": "Link expired", "status": 410}, 410)
            row = await find_download(datasette, CATALOGUE, owner, alias)
    if row is None:
        return not_found()

    if curator and request.args.get("sign") in ("1", "true", "yes"):
        if not secret:
            detail = f"signed links are disabled: {SECRET_ENV} is not set"
            return Response.json({"ok": False, "error": detail, "status": 400}, 400)
        url = row.get("url") or f"/files/{quote(owner)}/{quote(alias)}"
        lifetime = link_lifetime(datasette)
        return Response.json({"url": sign_file_url(url, secret, lifetime), "expires_in": lifetime})

    path = results_file(datasette, row["path"])
    if path is None:
        return not_found()
    return send_file(
        request,
        path,
        ctype=content_type(row.get("file_type"), row["path"]),
        alias=row["alias"],
        etag=row.get("md5"),
        cache="public, max-age=3600" if public else "private, no-store",
    )


async def public_db_view(request: Any, datasette: Any) -> Response:
    """`/public.db`: the published database file, as it is at the request's time."""
    db = datasette.databases.get(PUBLIC)
    if db is None or not db.path or not datasette.setting("allow_download"):
        return not_found()
    path = Path(db.path)
    try:
        st = path.stat()
    except OSError:
        return not_found()
    return send_file(
        request,
        path,
        ctype="application/vnd.sqlite3",
        alias=path.name,
        etag=f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}",
        cache="public, max-age=60",
    )


def routes() -> list[tuple[str, Any]]:
    return [(ROUTE, file_view), (PUBLIC_DB_ROUTE, public_db_view)]
