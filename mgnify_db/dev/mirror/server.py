"""The mirror over HTTP: `MirrorServer` (a context manager serving in a thread) and
`serve_forever` (``mgnify-db ena-mirror serve``)."""

from __future__ import annotations

import json
import re
import signal
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import portal
from .access import WEBIN_AUTH_PATH, basic_credentials, webin_auth
from .data import PortalData
from .errors import MirrorError
from .faults import Fault, FaultQueue
from .portal import API_PREFIX

FASTQ_PREFIX = "/vol1/"
# The demo's reference files (mgnify_db.dev.demo.references), as EBI's FTP serves Pfam or Rfam.
REFERENCES_PREFIX = "/references/"
CONTROL_PREFIX = "/_mirror"


class _Handler(BaseHTTPRequestHandler):
    server: _MirrorHTTPServer
    protocol_version = "HTTP/1.1"
    timeout = 60
    server_version = "mgnify-ena-mirror/1.0"
    # Headers and body go out in two writes: with Nagle the body waited for the client's
    # delayed ACK, 40 ms per request (a 5,000-run study's 60 requests took 3 s instead of 0.5).
    disable_nagle_algorithm = True

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

    def _send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), headers=headers)

    def _send_error(self, exc: MirrorError) -> None:
        headers = {"WWW-Authenticate": 'Basic realm="ENA"'} if exc.status == 401 else None
        self._send_json(exc.status, {"message": exc.message}, headers)

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

    def send_response(self, code: int, message: str | None = None) -> None:
        # Logged before the client can read the answer: a test that reads the request log right
        # after a call sees that call.
        self._status = code
        self._log_now()
        super().send_response(code, message)

    def _log_now(self) -> None:
        if pending := getattr(self, "_log_pending", None):
            self._log_pending = None
            pending[0]._log(self.command, self.path, self._status, pending[1], pending[2])

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
            fault = mirror._fault_queue.take(path)
            user = basic_credentials(self.headers.get("Authorization") or "")[0]
            self._log_pending = (mirror, fault is not None, user)
            try:
                self._route(path, params, fault)
            except MirrorError as exc:
                self._send_error(exc)
            finally:
                self._log_now()
        except MirrorError as exc:
            self._send_error(exc)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _route(self, path: str, params: dict[str, list[str]], fault: Fault | None) -> None:
        if fault is not None:
            if self._apply_fault(fault):
                return
            if fault.body is not None or (fault.status or 200) != 200:
                body = fault.body if isinstance(fault.body, bytes) else (fault.body or "").encode()
                kind = (
                    "application/json"
                    if path.startswith(API_PREFIX)
                    else "application/octet-stream"
                )
                self._send(fault.status or 200, body, kind)
                return
        if path.startswith(API_PREFIX + "/") or path == API_PREFIX:
            mirror = self.server.mirror
            # ENA answers a private study only to the data hub holding it (Basic auth)
            viewer = mirror.data.access.viewer(self.headers.get("Authorization"))
            rows, fields, fmt = portal.answer(
                mirror.data,
                path[len(API_PREFIX) :].strip("/"),
                params,
                host=self._mirror_host(),
                include_accession=mirror.include_accession,
                viewer=viewer,
            )
            self._send(200, *portal.render(rows, fields, fmt))
        elif path.rstrip("/") == WEBIN_AUTH_PATH:
            if self.command != "POST":
                raise MirrorError(f"Method not allowed: {self.command} {path}", 405)
            self._send_json(*webin_auth(self.server.mirror.data.access, self._raw_body))
        elif path.startswith((FASTQ_PREFIX, REFERENCES_PREFIX)):
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
        self._fault_queue = FaultQueue()
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
        return self._fault_queue.add(status, retry_after, body, delay, count, path_prefix)

    def clear_faults(self) -> None:
        self._fault_queue.clear()

    @property
    def faults(self) -> list[Fault]:
        """Faults still queued."""
        return self._fault_queue.pending()

    def _log(
        self, method: str, path: str, status: int, faulted: bool, user: str | None = None
    ) -> None:
        entry = {
            "method": method,
            "path": path,
            "status": status,
            "fault": faulted,
            "user": user,
            "time": round(time.time(), 3),
        }
        with self._lock:
            self._requests.append(entry)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Requests seen, oldest first: ``method``, ``path`` (with query), ``status``,
        ``fault`` (a fault was applied), ``user`` (the HTTP Basic user name sent, or None) and
        ``time`` (epoch seconds)."""
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
        server.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
