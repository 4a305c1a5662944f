"""One module per external tool: build its command, run it (proc.run_logged), parse its output.

Shared here: one attempt at a time per output place, each in its own fresh temp dir.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..proc import ToolError


def _umask() -> int:
    # Read, not set-and-restore: os.umask changes it for every thread for a moment.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def attempt_dir(parent: Path, name: str) -> Iterator[Path]:
    """A fresh temp dir `parent/.<name>.tmp.*` for one attempt, removed when the attempt ends.

    The exclusive lock `parent/.<name>.lock` is held throughout: an attempt finding it taken (a
    live earlier attempt, or a second workflow on the same results) fails at once with ToolError,
    so two attempts never write one place. Holding the lock, every other `.<name>.tmp.*` dir is
    a dead attempt's (older than ours, whose tool may even linger as an orphan): removed.
    """
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    lock, prefix = parent / f".{name}.lock", f".{name}.tmp."
    # The lock file stays: unlinking it would let a third attempt lock a new inode while a
    # second still waits on the old one.
    with open(lock, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ToolError(f"another attempt is running in {parent} (it holds {lock})") from None
        for stale in parent.glob(prefix + "*"):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
        work = Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
        # mkdtemp makes it 0700; a published dir must be as readable as one made by mkdir.
        work.chmod(0o777 & ~_umask())
        try:
            yield work
        finally:
            shutil.rmtree(work, ignore_errors=True)


def publish_dir(src: Path, dest: Path) -> None:
    """Rename the finished dir `src` to `dest` (same filesystem), replacing an older `dest`."""
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old.{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        dest.rename(old)
    src.rename(dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
