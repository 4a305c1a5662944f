"""Fault injection: queued faults applied to the next matching requests (tests drive it over
``/_mirror/faults``; the HTTP side of applying one is in `server`)."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

from .portal import API_PREFIX


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


class FaultQueue:
    """Faults still to apply, shared by the server's request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
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

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, path: str) -> Fault | None:
        """The first fault matching ``path``, counted down (and dropped when used up)."""
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path_prefix):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None
