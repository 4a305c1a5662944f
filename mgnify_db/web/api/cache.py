"""Answers read from public.db, kept per published file.

public.db changes only when `publish` swaps a new file in (by rename), and an answer read from
it for the anonymous reader depends on nothing but the request (operation, parameters, the base
URL its links start with). So such answers are kept in memory, keyed by the file's identity:
the first request after a publish reads the new file, and older entries age out of the LRU.
Answers for owners and curators (read from catalogue.db) are never kept.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Hashable

ENTRIES_ENV = "MGNIFY_API_CACHE_ENTRIES"  # 0 turns the cache off (the benchmark compares both)
DEFAULT_ENTRIES = 4096
MAX_BODY = 512 * 1024  # big pages (100 detail objects) fit; nothing larger is kept


class AnswerCache:
    """A bounded LRU of JSON bodies."""

    def __init__(self, entries: int) -> None:
        self.entries = entries
        self._items: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> str | None:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def put(self, key: Hashable, body: str) -> None:
        if self.entries <= 0 or len(body) > MAX_BODY:
            return
        with self._lock:
            self._items[key] = body
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)


def entries_from_env() -> int:
    raw = os.environ.get(ENTRIES_ENV, "").strip()
    try:
        return max(0, int(raw)) if raw else DEFAULT_ENTRIES
    except ValueError:
        return DEFAULT_ENTRIES


ANSWERS = AnswerCache(entries_from_env())


def file_key(db: object) -> Hashable | None:
    """What identifies the file a Datasette database reads now: the plugin's FollowingDatabase
    knows its (device, inode); None (do not cache) for anything else."""
    return getattr(db, "identity", None)
