"""File helpers, one copy each: atomic writes, JSON and JSON lines, FASTA, md5, timestamps."""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel

CHUNK = 1 << 20


def now() -> str:
    """UTC time with microseconds (ISO 8601): the one timestamp format of records and events."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def temp_path(path: Path) -> Path:
    """A hidden sibling of `path` to write into before os.replace (same filesystem)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")


def write_text_atomic(path: Path, text: str) -> None:
    """Write via temp file + rename: a reader, a retry or a kill never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")


def write_model(path: Path, model: BaseModel) -> None:
    write_text_atomic(path, model.model_dump_json(indent=1) + "\n")


def read_json(path: Path) -> Any:
    """The parsed file, or None when it does not exist."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None


def append_jsonl(path: Path, record: dict) -> None:
    """Append one JSON line under an exclusive lock (concurrent writers never interleave)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, sort_keys=True, default=str) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.write(line)
            fh.flush()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_jsonl(path: Path) -> list[dict]:
    """Every parseable line; a line cut short by a kill is not a record."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict):
            out.append(data)
    return out


def md5sum(path: Path) -> str:
    h = hashlib.md5()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def md5_cached(path: Path) -> str:
    """`md5sum(path)`, kept in a hidden sidecar (`.<name>.md5`) keyed by the file's size and
    mtime: a catalogue load re-reads only files that changed."""
    path = Path(path)
    st = path.stat()
    key = f"{st.st_size} {st.st_mtime_ns}"
    sidecar = path.with_name(f".{path.name}.md5")
    try:
        digest, seen = sidecar.read_text().split("\t")
        if seen.strip() == key:
            return digest
    except (OSError, ValueError):
        pass
    digest = md5sum(path)
    try:
        write_text_atomic(sidecar, f"{digest}\t{key}\n")
    except OSError:
        pass  # a read-only results dir: no cache, same answer
    return digest


def open_text(path: Path, mode: str = "r") -> IO[str]:
    """Open a plain or gzip (by `.gz` suffix) text file."""
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t")
    return open(path, mode)


def read_fasta(path: Path) -> Iterator[tuple[str, str]]:
    """Yield (header without '>', sequence) from a plain or gzipped FASTA file."""
    header, chunks = None, []
    with open_text(path) as fh:
        for line in fh:
            line = line.strip()
            if line.startswith(">"):
                if header is not None:
                    yield header, "".join(chunks)
                header, chunks = line[1:], []
            elif line and header is not None:
                chunks.append(line)
    if header is not None:
        yield header, "".join(chunks)


def read_reads(path: Path) -> Iterator[tuple[str, str]]:
    """(id, sequence in upper case) of each read of a FASTQ or FASTA file, gz ok."""
    with open_text(path) as fh:
        first = fh.readline()
        if first.startswith(">"):
            yield from ((h.split()[0], s.upper()) for h, s in read_fasta(path))
            return
        header = first
        while header:
            seq = fh.readline().strip()
            fh.readline()
            fh.readline()
            yield header[1:].split()[0], seq.upper()
            header = fh.readline()
