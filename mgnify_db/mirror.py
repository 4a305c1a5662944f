"""Offline ENA: a subset of the ENA Portal API plus FASTQ file serving, for demos and tests.

Data directory layout::

    DIR/portal/{result}.json        JSON list of records (all values strings), e.g. study,
                                    sample, read_run (any other result, e.g. analysis, works too)
    DIR/portal/return_fields.json   optional {result: [field, ...]} overriding the return fields
    DIR/vol1/fastq/...              files served at GET /vol1/fastq/...

Record values may contain the placeholder ``{mirror}``, replaced by the server's ``host:port``
when answering (so ``fastq_ftp`` carries host and path without a scheme, like ENA's).

Endpoints (base URL ``http://HOST:PORT/ena/portal/api``): ``search``, ``filereport``,
``returnFields``, ``results``; plus ``/_mirror/faults`` (POST a JSON list of faults, DELETE to
clear) and ``/_mirror/requests`` (GET the request log, DELETE to clear) for tests.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from mgnify_db.models import EnaRun

API_PREFIX = "/ena/portal/api"
FASTQ_PREFIX = "/vol1/"
CONTROL_PREFIX = "/_mirror"
PLACEHOLDER = "{mirror}"

#: The accession field of each result, always returned first (as ENA does).
PRIMARY_FIELDS = {
    "study": "study_accession",
    "sample": "sample_accession",
    "read_run": "run_accession",
    "read_experiment": "experiment_accession",
    "analysis": "analysis_accession",
    "assembly": "accession",
}
RESULT_DESCRIPTIONS = {
    "study": "Studies used for nucleotide sequencing",
    "sample": "Samples",
    "read_run": "Raw reads",
    "read_experiment": "Experiments",
    "analysis": "Nucleotide sequence analyses from reads",
}
#: filereport's fields when none are requested.
FILEREPORT_DEFAULT_FIELDS = ("fastq_ftp", "fastq_md5", "fastq_bytes")

FIELD_DESCRIPTIONS = {
    "study_accession": "study accession number",
    "secondary_study_accession": "secondary study accession number",
    "sample_accession": "sample accession number",
    "secondary_sample_accession": "secondary sample accession number",
    "run_accession": "run accession number",
    "experiment_accession": "experiment accession number",
    "analysis_accession": "analysis accession number",
    "study_title": "brief sequencing study description",
    "study_description": "detailed sequencing study description",
    "study_name": "study name",
    "center_name": "Submitting center",
    "first_public": "date when made public",
    "last_updated": "date when last updated",
    "sample_title": "brief sample title",
    "sample_alias": "submitter's name for the sample",
    "scientific_name": "scientific name of an organism",
    "tax_id": "NCBI taxonomic classification",
    "lat": "latitude (decimal degrees)",
    "lon": "longitude (decimal degrees)",
    "collection_date": "date that the specific sample was collected",
    "country": "locality of sample isolation",
    "location": "geographic location of isolation of the sample",
    "depth": "depth (m)",
    "temperature": "temperature (C)",
    "environment_biome": "Environment (Biome)",
    "environment_feature": "Environment (Feature)",
    "environment_material": "Environment (Material)",
    "host_tax_id": "NCBI taxon id of the host",
    "host_scientific_name": "Scientific name of the natural (as opposed to laboratory) host",
    "library_strategy": "sequencing technique intended for the library",
    "library_source": "source material being sequenced",
    "library_layout": "sequencing library layout",
    "library_selection": "method used to select or enrich the material being sequenced",
    "library_name": "sequencing library name",
    "instrument_platform": "instrument platform used in sequencing experiment",
    "instrument_model": "instrument model used in sequencing experiment",
    "read_count": "number of reads",
    "base_count": "number of base pairs",
    "fastq_ftp": "FASTQ files (FTP)",
    "fastq_md5": "FASTQ files md5",
    "fastq_bytes": "size (in bytes) of FASTQ files",
}


class MirrorError(Exception):
    """A client error answered with HTTP 400 and ``{"message": ...}``, as ENA does."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# --------------------------------------------------------------------------- query language


_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<lparen>\()|(?P<rparen>\))|(?P<comma>,)
        |(?P<op>!=|<=|>=|=|<|>)
        |"(?P<string>(?:[^"\\]|\\.)*)"
        |(?P<word>[^\s()"=<>!,]+)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"AND", "OR", "NOT"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # lparen rparen comma op string word
    text: str


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise MirrorError(f"Invalid query: unexpected character at {pos}: {text[pos:]!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value)
        tokens.append(_Tok(kind, value))
    return tokens


Predicate = Callable[[dict[str, str]], bool]


class _QueryParser:
    """Recursive descent over ``expr := and (OR and)*; and := not (AND not)*;
    not := NOT not | '(' expr ')' | field op value | func '(' value ')'``."""

    def __init__(self, text: str, fields: Iterable[str]) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.fields = set(fields)

    def parse(self) -> Predicate:
        if not self.tokens:
            raise MirrorError("Invalid query: empty")
        pred = self._or()
        if self.pos != len(self.tokens):
            raise MirrorError(f"Invalid query: unexpected {self.tokens[self.pos].text!r}")
        return pred

    def _peek(self) -> _Tok | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, kind: str | None = None) -> _Tok:
        tok = self._peek()
        if tok is None or (kind is not None and tok.kind != kind):
            got = "end of query" if tok is None else repr(tok.text)
            raise MirrorError(f"Invalid query: expected {kind or 'a term'}, got {got}")
        self.pos += 1
        return tok

    def _keyword(self, word: str) -> bool:
        tok = self._peek()
        if tok is not None and tok.kind == "word" and tok.text.upper() == word:
            self.pos += 1
            return True
        return False

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._keyword("OR"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def _and(self) -> Predicate:
        parts = [self._not()]
        while self._keyword("AND"):
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def _not(self) -> Predicate:
        if self._keyword("NOT"):
            inner = self._not()
            return lambda r: not inner(r)
        tok = self._peek()
        if tok is not None and tok.kind == "lparen":
            self.pos += 1
            inner = self._or()
            self._take("rparen")
            return inner
        return self._term()

    def _term(self) -> Predicate:
        name = self._take("word")
        if name.text.upper() in _KEYWORDS:
            raise MirrorError(f"Invalid query: unexpected {name.text!r}")
        nxt = self._peek()
        if nxt is not None and nxt.kind == "lparen":
            return self._function(name.text)
        field = name.text
        if field not in self.fields:
            raise MirrorError(f"Invalid query: unknown field {field!r}")
        op = self._take("op").text
        value_tok = self._take()
        if value_tok.kind not in ("word", "string"):
            raise MirrorError(f"Invalid query: expected a value after {field}{op}")
        return _comparison(field, op, value_tok.text)

    def _function(self, name: str) -> Predicate:
        self._take("lparen")
        arg = self._take()
        if arg.kind not in ("word", "string"):
            raise MirrorError(f"Invalid query: bad argument to {name}()")
        args = [arg.text]
        while (tok := self._peek()) is not None and tok.kind == "comma":
            self.pos += 1
            args.append(self._take().text)
        self._take("rparen")
        if name.lower() in ("tax_eq", "tax_tree"):
            # No taxonomy tree offline: tax_tree(N) matches tax_id N only.
            return _comparison("tax_id", "=", args[0])
        raise MirrorError(f"Invalid query: unknown function {name!r}")


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _comparison(field: str, op: str, value: str) -> Predicate:
    wanted = value.lower()

    def equals(record: dict[str, str]) -> bool:
        have = str(record.get(field, "")).lower()
        if "*" in wanted:
            return fnmatch.fnmatchcase(have, wanted)
        return have == wanted or wanted in have.split(";")

    if op == "=":
        return equals
    if op == "!=":
        return lambda r: not equals(r)

    def ordered(record: dict[str, str]) -> bool:
        have = str(record.get(field, ""))
        if have == "":
            return False
        a, b = _number(have), _number(value)
        left, right = (a, b) if a is not None and b is not None else (have, value)
        return {
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[op]

    return ordered


def parse_query(query: str, fields: Iterable[str]) -> Predicate:
    """Compile an ENA ``query`` string to a record predicate; raise `MirrorError` if invalid.

    The whole query may be wrapped in double quotes (with ``\\"`` escapes inside), as emgapi sends.
    """
    query = query.strip()
    fields = set(fields)
    candidates = [query]
    if len(query) >= 2 and query[0] == query[-1] == '"':
        candidates.insert(0, query[1:-1].replace('\\"', '"'))
    error: MirrorError | None = None
    for candidate in candidates:
        try:
            return _QueryParser(candidate, fields).parse()
        except MirrorError as exc:
            error = error or exc
    assert error is not None
    raise error


# --------------------------------------------------------------------------- data


class PortalData:
    """The records of a mirror data directory, reloaded when a portal file changes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.portal = directory / "portal"
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[str, float, int], ...] | None = None
        self._records: dict[str, list[dict[str, str]]] = {}
        self._fields: dict[str, list[str]] = {}

    def _current_stamp(self) -> tuple[tuple[str, float, int], ...]:
        files = sorted(self.portal.glob("*.json")) if self.portal.is_dir() else []
        return tuple((p.name, p.stat().st_mtime, p.stat().st_size) for p in files)

    def _load(self) -> None:
        with self._lock:
            stamp = self._current_stamp()
            if stamp == self._stamp:
                return
            records: dict[str, list[dict[str, str]]] = {}
            for path in sorted(self.portal.glob("*.json")):
                if path.name == "return_fields.json":
                    continue
                data = json.loads(path.read_text())
                if not isinstance(data, list):
                    raise ValueError(f"{path}: expected a JSON list of records")
                records[path.stem] = [
                    {k: "" if v is None else str(v) for k, v in rec.items()} for rec in data
                ]
            override_path = self.portal / "return_fields.json"
            overrides = json.loads(override_path.read_text()) if override_path.exists() else {}
            fields: dict[str, list[str]] = {}
            for result, recs in records.items():
                if result in overrides:
                    fields[result] = list(overrides[result])
                    continue
                names: dict[str, None] = {}
                primary = PRIMARY_FIELDS.get(result)
                if primary:
                    names[primary] = None
                for rec in recs:
                    names.update(dict.fromkeys(rec))
                if result == "read_run":
                    names.update(dict.fromkeys(EnaRun.model_fields))
                fields[result] = list(names)
            for result, names in overrides.items():
                records.setdefault(result, [])
                fields[result] = list(names)
            self._records, self._fields, self._stamp = records, fields, stamp

    def results(self) -> list[str]:
        """Names of the results this mirror holds."""
        self._load()
        return list(self._records)

    def records(self, result: str) -> list[dict[str, str]]:
        """Records of ``result``; raise `MirrorError` for an unknown result."""
        self._load()
        if result not in self._records:
            raise MirrorError(
                f"Invalid result: {result}. Valid results: {', '.join(self._records)}"
            )
        return self._records[result]

    def return_fields(self, result: str) -> list[str]:
        """Return fields of ``result`` (validated)."""
        self.records(result)
        return self._fields[result]

    def primary_field(self, result: str) -> str | None:
        """The accession field always returned for ``result`` (if it is a return field)."""
        primary = PRIMARY_FIELDS.get(result)
        return primary if primary in self.return_fields(result) else None


# --------------------------------------------------------------------------- faults


@dataclass
class Fault:
    """One injected fault, applied to the next ``count`` requests whose path starts with the prefix.

    ``status``: the status to answer with (an error gets a JSON ``{"message"}`` body unless
    ``body`` is given); ``None`` or 200 answer normally, but with ``body`` replacing the real body
    if given (``status=200, body="{not json"``; a corrupt FASTQ with ``path_prefix="/vol1/"``);
    ``0`` drops the connection unanswered. ``delay``: seconds to wait before answering (a slow
    server). ``retry_after``: sent as ``Retry-After``. Faults are matched in the order added.
    """

    status: int | None = 503
    retry_after: int | float | str | None = None
    body: str | bytes | None = None
    delay: float = 0.0
    count: int = 1
    path_prefix: str = API_PREFIX

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if isinstance(self.body, bytes):
            data["body"] = self.body.decode("utf-8", "replace")
        return data


# --------------------------------------------------------------------------- HTTP


def _first(params: dict[str, list[str]], name: str, default: str = "") -> str:
    values = params.get(name)
    return values[0] if values else default


def _int_param(params: dict[str, list[str]], name: str) -> int:
    raw = _first(params, name).strip()
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise MirrorError(f"Invalid value for {name}: {raw}") from None
    if value < 0:
        raise MirrorError(f"Invalid value for {name}: {raw}")
    return value


def _split_fields(raw: str) -> list[str]:
    return [f.strip() for f in raw.split(",") if f.strip()]


class _Handler(BaseHTTPRequestHandler):
    server: _MirrorHTTPServer
    protocol_version = "HTTP/1.1"
    timeout = 60
    server_version = "mgnify-ena-mirror/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.mirror.verbose:
            super().log_message(format, *args)

    # -- plumbing

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._status = status

    def _send_json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode())

    def _params(self) -> dict[str, list[str]]:
        """Query-string parameters, plus form fields of a POST (its raw body kept in _raw_body)."""
        params = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        self._raw_body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        content_type = self.headers.get("Content-Type") or ""
        if self._raw_body and "json" not in content_type:
            for key, values in parse_qs(self._raw_body, keep_blank_values=True).items():
                params.setdefault(key, []).extend(values)
        return params

    def _mirror_host(self) -> str:
        return self.headers.get("Host") or self.server.mirror.address

    # -- dispatch

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        mirror = self.server.mirror
        self._status = 0
        self._raw_body = ""
        path = unquote(urlsplit(self.path).path)
        fault: Fault | None = None
        try:
            params = self._params()
            if path.startswith(CONTROL_PREFIX + "/"):
                self._control(path)
                return
            fault = mirror._take_fault(path)
            try:
                self._route(path, params, fault)
            except MirrorError as exc:
                self._send_json(exc.status, {"message": exc.message})
            finally:
                mirror._log(self.command, self.path, self._status, fault is not None)
        except MirrorError as exc:
            self._send_json(exc.status, {"message": exc.message})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _route(self, path: str, params: dict[str, list[str]], fault: Fault | None) -> None:
        if fault is not None:
            if self._apply_fault(fault):
                return
            if fault.body is not None or (fault.status or 200) != 200:
                body = fault.body if isinstance(fault.body, bytes) else (fault.body or "").encode()
                portal = path.startswith(API_PREFIX)
                kind = "application/json" if portal else "application/octet-stream"
                self._send(fault.status or 200, body, kind)
                return
        if path.startswith(API_PREFIX + "/") or path == API_PREFIX:
            self._portal(path[len(API_PREFIX) :].strip("/"), params)
        elif path.startswith(FASTQ_PREFIX):
            self._file(path)
        else:
            raise MirrorError(f"Not found: {path}", 404)

    def _apply_fault(self, fault: Fault) -> bool:
        """Apply ``fault``; True if the response was sent (or the connection dropped)."""
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status == 0:
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if fault.status is None or 200 <= fault.status < 300:
            return False
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        if fault.body is None:
            try:
                phrase = HTTPStatus(fault.status).phrase
            except ValueError:
                phrase = ""
            body = json.dumps({"message": f"injected fault: {fault.status} {phrase}".strip()})
            self._send(fault.status, body.encode(), headers=headers)
        else:
            body = fault.body if isinstance(fault.body, bytes) else fault.body.encode()
            self._send(fault.status, body, "application/octet-stream", headers)
        return True

    def _control(self, path: str) -> None:
        mirror = self.server.mirror
        what = path[len(CONTROL_PREFIX) :].strip("/")
        if what == "faults":
            if self.command == "DELETE":
                mirror.clear_faults()
            elif self.command == "POST":
                try:
                    items = json.loads(self._raw_body or "[]")
                    if isinstance(items, dict):
                        items = [items]
                    for item in items:
                        mirror.add_fault(**item)
                except (ValueError, TypeError) as exc:
                    raise MirrorError(f"Invalid faults: {exc}") from None
            self._send_json(200, [f.to_json() for f in mirror.faults])
        elif what == "requests":
            if self.command == "DELETE":
                mirror.clear_requests()
            self._send_json(200, mirror.requests)
        else:
            raise MirrorError(f"Not found: {path}", 404)

    # -- portal

    def _portal(self, endpoint: str, params: dict[str, list[str]]) -> None:
        data = self.server.mirror.data
        if endpoint not in ("search", "filereport", "returnFields", "results"):
            raise MirrorError(f"Not found: {API_PREFIX}/{endpoint}", 404)
        fmt = _first(params, "format", "tsv").lower() or "tsv"
        if fmt not in ("json", "tsv"):
            raise MirrorError(f"Invalid format: {fmt}. Valid formats: json, tsv")
        if endpoint == "results":
            rows = [
                {"resultId": r, "description": RESULT_DESCRIPTIONS.get(r, r)}
                for r in data.results()
            ]
            self._answer(rows, ["resultId", "description"], fmt)
            return
        result = _first(params, "result").strip()
        if not result:
            if endpoint == "filereport":
                result = "read_run"
            else:
                raise MirrorError("Missing required parameter: result")
        return_fields = data.return_fields(result)
        if endpoint == "returnFields":
            rows = [
                {"columnId": f, "description": FIELD_DESCRIPTIONS.get(f, f.replace("_", " "))}
                for f in return_fields
            ]
            self._answer(rows, ["columnId", "description"], fmt)
            return

        records = data.records(result)
        requested = _split_fields(_first(params, "fields"))
        if requested == ["all"]:
            requested = list(return_fields)
        unknown = [f for f in requested if f not in return_fields]
        if unknown:
            raise MirrorError(f"Invalid fieldName(s) supplied: {','.join(unknown)}")
        if endpoint == "filereport":
            accession = _first(params, "accession").strip()
            if not accession:
                raise MirrorError("Missing required parameter: accession")
            records = [r for r in records if _has_accession(r, accession)]
            if not requested:
                requested = [f for f in FILEREPORT_DEFAULT_FIELDS if f in return_fields]
        else:
            query = _first(params, "query").strip()
            if query:
                predicate = parse_query(query, return_fields)
                records = [r for r in records if predicate(r)]
        include = _split_fields(_first(params, "includeAccessions"))
        if include:
            wanted = {a.lower() for a in include}
            records = [r for r in records if any(_has_accession(r, a) for a in wanted)]

        primary = data.primary_field(result)
        fields = list(requested)
        if self.server.mirror.include_accession and primary and primary not in fields:
            fields.insert(0, primary)
        if not fields and primary:
            fields = [primary]

        offset = _int_param(params, "offset")
        limit = _int_param(params, "limit")
        records = records[offset : offset + limit if limit else None]
        host = self._mirror_host()
        rows = [{f: rec.get(f, "").replace(PLACEHOLDER, host) for f in fields} for rec in records]
        self._answer(rows, fields, fmt)

    def _answer(self, rows: list[dict[str, str]], fields: Sequence[str], fmt: str) -> None:
        if fmt == "json":
            self._send_json(200, rows)
            return
        lines = ["\t".join(fields)] + ["\t".join(row.get(f, "") for f in fields) for row in rows]
        self._send(200, ("\n".join(lines) + "\n").encode(), "text/plain; charset=utf-8")

    # -- files

    def _file(self, path: str) -> None:
        root = self.server.mirror.directory.resolve()
        target = (root / path.lstrip("/")).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise MirrorError(f"File not found: {path}", 404)
        size = target.stat().st_size
        start, end = 0, size - 1
        status = 200
        headers = {"Accept-Ranges": "bytes"}
        range_header = self.headers.get("Range")
        if range_header:
            m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", range_header)
            if not m or (m.group(1) == "" and m.group(2) == ""):
                raise MirrorError(f"Invalid Range: {range_header}", 416)
            if m.group(1) == "":  # suffix range: last N bytes
                start = max(0, size - int(m.group(2)))
            else:
                start = int(m.group(1))
                if m.group(2):
                    end = min(end, int(m.group(2)))
            if start >= size or start > end:
                self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{size}"})
                return
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = end - start + 1
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self._status = status
        if self.command == "HEAD":
            return
        with target.open("rb") as fh:
            fh.seek(start)
            remaining = length
            while remaining > 0:
                chunk = fh.read(min(1 << 20, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)


def _has_accession(record: dict[str, str], accession: str) -> bool:
    """True if any ``*_accession`` field of ``record`` holds ``accession`` (';'-lists split)."""
    wanted = accession.lower()
    for key, value in record.items():
        if key.endswith("accession") and wanted in value.lower().split(";"):
            return True
    return False


class _MirrorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    mirror: MirrorServer


class MirrorServer:
    """The offline ENA over a mirror data directory; a context manager serving in a thread.

    >>> with MirrorServer(data_dir) as m:  # doctest: +SKIP
    ...     requests.get(m.portal_url + "/search", params={"result": "study"})

    ``include_accession``: always return the result's accession field first, as ENA does
    (``fields=study_title`` gives ``study_accession`` and ``study_title``).
    """

    def __init__(
        self,
        directory: Path | str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        include_accession: bool = True,
        verbose: bool = False,
    ) -> None:
        self.directory = Path(directory)
        if not (self.directory / "portal").is_dir():
            raise FileNotFoundError(f"not a mirror data directory (no portal/): {self.directory}")
        self.data = PortalData(self.directory)
        self.data.results()  # fail early on malformed JSON
        self.include_accession = include_accession
        self.verbose = verbose
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._requests: list[dict[str, Any]] = []
        self._httpd = _MirrorHTTPServer((host, port), _Handler)
        self._httpd.mirror = self
        self._thread: threading.Thread | None = None

    # -- addresses

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def address(self) -> str:
        """``host:port`` as substituted for ``{mirror}``."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def portal_url(self) -> str:
        """Base URL of the Portal API, e.g. ``http://127.0.0.1:8123/ena/portal/api``."""
        return self.url + API_PREFIX

    # -- lifecycle

    def start(self) -> MirrorServer:
        """Serve in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, args=(0.05,), name="ena-mirror", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def serve_forever(self) -> None:
        """Serve in the calling thread until shut down."""
        self._httpd.serve_forever()

    def __enter__(self) -> MirrorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults and request log

    def add_fault(
        self,
        status: int | None = 503,
        retry_after: int | float | str | None = None,
        body: str | bytes | None = None,
        delay: float = 0.0,
        count: int = 1,
        path_prefix: str = API_PREFIX,
    ) -> Fault:
        """Queue a fault for the next ``count`` requests under ``path_prefix`` (see `Fault`)."""
        fault = Fault(status, retry_after, body, float(delay), int(count), path_prefix)
        if fault.count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """Faults still queued."""
        with self._lock:
            return list(self._faults)

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path_prefix):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _log(self, method: str, path: str, status: int, faulted: bool) -> None:
        entry = {
            "method": method,
            "path": path,
            "status": status,
            "fault": faulted,
            "time": round(time.time(), 3),
        }
        with self._lock:
            self._requests.append(entry)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Requests seen, oldest first: ``method``, ``path`` (with query), ``status``,
        ``fault`` (a fault was applied) and ``time`` (epoch seconds)."""
        with self._lock:
            return [dict(r) for r in self._requests]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()


def serve_forever(directory: Path | str, host: str = "127.0.0.1", port: int = 8123) -> None:
    """Serve ``directory`` until Ctrl-C or SIGTERM; prints one line with the Portal API URL."""
    server = MirrorServer(directory, host, port)

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    print(f"ENA mirror of {server.directory} at {server.portal_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m mgnify_db.mirror DIR [--host H] [--port P]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    args = parser.parse_args(argv)
    try:
        serve_forever(args.directory, args.host, args.port)
    except FileNotFoundError as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
