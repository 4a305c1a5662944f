"""Running external tools: one runner, its log, and ToolError.

A tool runs in its own process group, and the group is killed when the job is interrupted
(SIGTERM from Snakemake or Slurm, Ctrl-C). Linux's parent-death signal covers SIGKILL: the tool
gets SIGKILL when the job's process dies, and the job's process gets SIGTERM when Snakemake
dies. A killed workflow never leaves MEGAHIT running behind it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

LOG_TAIL_LINES = 20


class ToolError(RuntimeError):
    """An external tool failed; the message names the tool, its exit code and its log tail."""

    def __init__(self, message: str, returncode: int | None = None):
        super().__init__(message)
        self.returncode = returncode


def log_tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log, for error messages."""
    try:
        return "\n".join(Path(log).read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


PR_SET_PDEATHSIG = 1


def _set_parent_death_signal(sig: int) -> None:
    """Ask Linux to send `sig` to this process when its parent dies (no-op elsewhere)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _child_setup() -> None:
    _set_parent_death_signal(signal.SIGKILL)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def run(cmd: Sequence[str], *, stdout=None, stderr=None, cwd: Path | None = None) -> int:
    """Run `cmd` in a new process group; on any interruption the whole group dies with us."""
    cmd = [str(c) for c in cmd]
    _set_parent_death_signal(signal.SIGTERM)  # Snakemake killed: our SIGTERM handler runs
    proc = subprocess.Popen(
        cmd,
        stdout=stdout,
        stderr=stderr,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_child_setup,  # noqa: PLW1509 - only prctl, async-signal-safe
    )
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum, frame):
        # Only signal here: the interrupted wait() still holds Popen's lock, so reaping happens
        # in the except clause below, after it has been released.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        raise SystemExit(128 + signum)

    in_main = True
    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread: nothing to install
        in_main = False
    try:
        return proc.wait()
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def run_logged(
    cmd: Sequence[str], log: Path, *, stdout: Path | None = None, cwd: Path | None = None
) -> None:
    """Run `cmd`, appending the command line and its stderr (and stdout unless `stdout`) to `log`.

    Raises ToolError with the log tail if the tool is missing or exits non-zero.
    """
    cmd = [str(c) for c in cmd]
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as err:
        err.write("$ " + " ".join(cmd) + "\n")
        err.flush()
        try:
            if stdout is None:
                rc = run(cmd, stdout=err, stderr=err, cwd=cwd)
            else:
                with open(stdout, "w") as out:
                    rc = run(cmd, stdout=out, stderr=err, cwd=cwd)
        except FileNotFoundError as exc:
            raise ToolError(f"{cmd[0]} not found on PATH", 127) from exc
    if rc != 0:
        raise ToolError(
            f"{cmd[0]} failed with exit code {rc}; last lines of {log}:\n{log_tail(log)}", rc
        )


def version(cmd: Sequence[str]) -> str | None:
    """A tool's `--version` output (stdout, else stderr), or None if it cannot be run."""
    try:
        out = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or out.stderr.strip()) or None
