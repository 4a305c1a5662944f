"""`/auth/sliding`, `/auth/sliding/refresh`, `/auth/verify`: Webin credentials -> sliding tokens."""

from __future__ import annotations


def routes() -> list:
    return []
