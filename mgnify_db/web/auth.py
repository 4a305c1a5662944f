"""Who is asking: a curator (a bearer token from the environment) or anyone.

Curator tokens live only in the environment of `mgnify-db serve` (never in a file of the repo or
in Datasette's metadata, which `/-/metadata.json` prints): `MGNIFY_CURATOR_TOKEN`, several
separated by commas (one per person, so that one can be withdrawn). A request carrying
`Authorization: Bearer <token>` with one of them is the actor `{"id": "curator"}`, which the
metadata's `allow: {id: curator}` lets into the catalogue database; anything else is anonymous.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping

TOKEN_ENV = "MGNIFY_CURATOR_TOKEN"
MIN_TOKEN_LENGTH = 16  # `mgnify-db serve` refuses shorter ones: a guessable token is no gate
CURATOR = {"id": "curator"}


def curator_tokens(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The configured tokens (read at each call: a restart is not needed to test a change)."""
    return [t.strip() for t in environ.get(TOKEN_ENV, "").split(",") if t.strip()]


def actor_for(authorization: str | None, environ: Mapping[str, str] = os.environ) -> dict | None:
    """The actor an `Authorization` header value stands for; None for anyone else."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    given = token.encode()
    # compare with every token (no early exit): the time taken says nothing about which matched
    matched = False
    for known in curator_tokens(environ):
        matched |= hmac.compare_digest(known.encode(), given)
    return dict(CURATOR) if matched else None


def is_curator(actor: dict | None) -> bool:
    return bool(actor) and actor.get("id") == CURATOR["id"]
