"""The demo build's one exception, and running a tool so that its failure becomes one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ...proc import ToolError, run_logged


class DemoBuildError(RuntimeError):
    """The demo could not be built; the message says what is missing and how to get it."""


def run_tool(cmd: Sequence[str], cwd: Path, log: Path, what: str, hint: str) -> None:
    """`run_logged` in ``cwd``; a failure is a `DemoBuildError` saying ``what`` and ``hint``."""
    try:
        run_logged(cmd, log, cwd=cwd)
    except ToolError as exc:
        raise DemoBuildError(f"{what}: {exc}; {hint}") from None
