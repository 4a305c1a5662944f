"""bgzip (htslib; Debian package tabix): BGZF compression with a `.gzi` index.

BGZF is gzip made of independent blocks: any gzip reader reads it whole, and with the `.gzi`
index a reader starts at any uncompressed offset (`bgzip -b <offset> -s <size>`). MGnify serves
its summary tables so, each with its index beside it (`<file>.gzi`).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from ..io import temp_path
from ..proc import run_logged, version

INDEX_TYPE = "gzi"


def index_path(path: Path) -> Path:
    """The `.gzi` index of a bgzipped file: its path + `.gzi` (as MGnify's index files)."""
    path = Path(path)
    return path.with_name(f"{path.name}.{INDEX_TYPE}")


@lru_cache
def bgzip_version() -> str | None:
    """bgzip's version ("1.16") from `bgzip --version`, or None if it cannot be run."""
    match = re.search(r"(\d+(?:\.\d+)+)", version(["bgzip", "--version"]) or "")
    return match.group(1) if match else None


def bgzip(
    src: Path, dest: Path | None = None, *, log: Path | None = None, threads: int = 1
) -> Path:
    """Compress `src` into `dest` (default `<src>.gz`) and its index `<dest>.gzi`; return `dest`.

    `src` is kept. Both files are written under temp names beside them and renamed once bgzip
    succeeded, the index first: a reader never sees half a file, and a table whose index is
    missing is one whose compression never finished. The command line and bgzip's messages go
    to `log` (appended) when given. Raises ToolError if bgzip is missing or fails.
    """
    src = Path(src)
    dest = Path(dest) if dest is not None else src.with_name(src.name + ".gz")
    gzi = index_path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp_gz, tmp_gzi = temp_path(dest), temp_path(gzi)
    tmp_log = None if log is not None else dest.with_name(f".{dest.name}.{os.getpid()}.log")
    cmd = ["bgzip", "--stdout", "--index", "--index-name", tmp_gzi]
    cmd += ["--threads", str(max(1, threads)), src]
    try:
        run_logged(cmd, Path(log) if log is not None else tmp_log, stdout=tmp_gz)
        os.replace(tmp_gzi, gzi)
        os.replace(tmp_gz, dest)
    finally:
        for leftover in (tmp_gz, tmp_gzi, tmp_log):
            if leftover is not None:
                leftover.unlink(missing_ok=True)
    return dest
