"""Accession kinds and formats, and the append-only ledger that allocates them.

MGnify accessions (MGYS studies, MGYA analyses) and the local assembly accessions (until ENA
gives an ERZ) are allocated once, in `results/accessions.tsv`, and never change or get reused:
a rebuild from the result files gives every record the same accession again. Allocation holds an
exclusive lock on the ledger, so concurrent loads never hand one accession to two records.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path


class AccessionKind(StrEnum):
    STUDY = "study"
    ASSEMBLY = "assembly"
    ANALYSIS = "analysis"


PREFIX = {
    AccessionKind.STUDY: "MGYS",
    AccessionKind.ANALYSIS: "MGYA",
    # a local accession, patterned on ENA's ERZ; ENA's own goes to `ena_accession` on upload
    AccessionKind.ASSEMBLY: "LZ",
}
FORMATS = {kind: re.compile(rf"^{prefix}\d{{8}}$") for kind, prefix in PREFIX.items()}
ENA_FORMATS = {
    "study": re.compile(r"^(PRJ[EDN][A-Z]\d+|[EDS]RP\d{6,})$"),
    "sample": re.compile(r"^(SAM[EDN][A-Z]?\d+|[EDS]RS\d{6,})$"),
    "run": re.compile(r"^[EDS]RR\d{6,}$"),
    "assembly": re.compile(r"^[EDS]RZ\d{6,}$"),
}


def accession(kind: AccessionKind | str, number: int) -> str:
    return f"{PREFIX[AccessionKind(kind)]}{number:08d}"


def number(acc: str) -> int:
    return int(re.sub(r"^\D+", "", acc))


_SHARED: dict[Path, Ledger] = {}


class Ledger:
    """Append-only `kind<TAB>number<TAB>key` lines: the one place accessions are allocated.

    `key` is the natural key of the record (the ENA study accession; `<run>/<pipeline>`), so a
    record asked for again gets its accession back.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.ids: dict[tuple[str, str], int] = {}
        self.next: dict[str, int] = {}
        self._size = 0
        self._inode: int | None = None
        self._read()

    @classmethod
    def shared(cls, path: Path) -> Ledger:
        """This process's ledger for `path`, brought up to date: loads in a long-lived process
        (the workflow's head) read only the lines appended since their last load."""
        path = Path(path).resolve()
        try:
            st = path.stat()
            identity = (st.st_ino, st.st_size)
        except FileNotFoundError:
            identity = None
        ledger = _SHARED.get(path)
        # a replaced or shortened file (never done to a live ledger, but cheap to notice) is
        # read afresh
        if (
            ledger is None
            or identity is None
            or identity[0] != ledger._inode
            or (identity[1] < ledger._size)
        ):
            ledger = _SHARED[path] = cls(path)
        else:
            ledger._read()
        return ledger

    def _read(self) -> None:
        """Take in lines appended since the last read (by us or by another process)."""
        try:
            with open(self.path, "rb") as fh:
                self._inode = os.fstat(fh.fileno()).st_ino
                fh.seek(self._size)
                data = fh.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1  # a line cut short by a kill is ignored until completed
        self._size += end
        for line in data[:end].decode().splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[1].isdigit():
                self._remember(parts[0], int(parts[1]), parts[2])

    def _remember(self, kind: str, id_: int, key: str) -> None:
        self.ids.setdefault((kind, key), id_)
        self.next[kind] = max(self.next.get(kind, 1), id_ + 1)

    def get(self, kind: AccessionKind | str, key: str) -> int | None:
        return self.ids.get((str(kind), key))

    def allocate(self, kind: AccessionKind | str, key: str) -> int:
        return self.allocate_many(kind, [key])[key]

    def allocate_many(self, kind: AccessionKind | str, keys: Iterable[str]) -> dict[str, int]:
        """Numbers for `keys`, allocating the missing ones under an exclusive file lock."""
        kind = str(kind)
        keys = list(dict.fromkeys(keys))
        missing = [k for k in keys if (kind, k) not in self.ids]
        if missing:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    self._read()  # another process may have allocated meanwhile
                    lines = []
                    for key in missing:
                        if (kind, key) in self.ids:
                            continue
                        id_ = self.next.get(kind, 1)
                        self._remember(kind, id_, key)
                        lines.append(f"{kind}\t{id_}\t{key}\n")
                    if lines:
                        # a line torn by a kill (after our read, under the lock): end it first
                        if os.fstat(fh.fileno()).st_size > self._size:
                            lines.insert(0, "\n")
                        fh.write("".join(lines))
                        fh.flush()
                        os.fsync(fh.fileno())
                        self._size = fh.tell()
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)
        return {k: self.ids[(kind, k)] for k in keys}

    def keys(self, kind: AccessionKind | str, prefix: str = "") -> dict[str, int]:
        """Every allocated key of `kind` starting with `prefix`."""
        return {k: v for (kd, k), v in self.ids.items() if kd == str(kind) and k.startswith(prefix)}
