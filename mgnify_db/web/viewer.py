"""Who is asking the API: anyone, the owner of private studies (a Webin account, by a sliding
token from `/auth/sliding`) or a curator (a token of `MGNIFY_CURATOR_TOKEN`).

The API's handlers decide what a viewer may see from this alone (`mgnify_db.web.api.query`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

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


def viewer_for(authorization: str | None, environ: Mapping[str, str] = os.environ) -> Viewer:
    """The viewer an `Authorization` header value stands for; ANONYMOUS without one."""
    if not (authorization or "").strip():
        return ANONYMOUS
    if actor_for(authorization, environ):
        return Viewer(curator=True)
    raise Unauthorized("Invalid token")
