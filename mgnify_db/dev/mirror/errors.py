"""The mirror's one exception: a client error, answered as ENA answers it."""

from __future__ import annotations


class MirrorError(Exception):
    """A client error answered with HTTP 400 and ``{"message": ...}``, as ENA does."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
