"""Who is asking the API: anyone, the owner of private studies (a Webin account, by a sliding
token from `/auth/sliding`) or a curator (a token of `MGNIFY_CURATOR_TOKEN`).

The API's handlers decide what a viewer may see from this alone (`mgnify_db.web.api.query`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from . import tokens
from .auth import actor_for


@dataclass(frozen=True)
class Viewer:
    """`webin`: the Webin account (`Webin-<digits>`) a valid API token names; `curator`: a
    curator token (sees every record, private and suppressed ones included)."""

    webin: str | None = None
    curator: bool = False

    @property
    def anonymous(self) -> bool:
        return self.webin is None and not self.curator


ANONYMOUS = Viewer()


class Unauthorized(Exception):
    """A bearer token was sent that is neither a curator's nor a valid, unexpired API token."""


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value; None for anything else."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def webin_for(
    authorization: str | None, environ: Mapping[str, str] = os.environ, *, now: float | None = None
) -> str | None:
    """The Webin id of a valid, unexpired API token in an `Authorization` value; else None
    (also when the server has no token secret: then no token is valid)."""
    token = bearer_token(authorization)
    if token is None:
        return None
    try:
        return tokens.verify(token, tokens.TokenSettings.from_env(environ), now=now)
    except (tokens.InvalidToken, tokens.TokenConfigError):
        return None


def viewer_for(authorization: str | None, environ: Mapping[str, str] = os.environ) -> Viewer:
    """The viewer an `Authorization` header value stands for; ANONYMOUS without one.

    A curator's token first (its holders are curators whatever else it might parse as); any
    other header that is not a valid API token raises `Unauthorized`, as MGnify answers 401.
    """
    if not (authorization or "").strip():
        return ANONYMOUS
    if actor_for(authorization, environ):
        return Viewer(curator=True)
    if webin := webin_for(authorization, environ):
        return Viewer(webin=webin)
    raise Unauthorized("Invalid token")
