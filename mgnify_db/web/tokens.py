"""MGnify's API tokens: sliding JWTs (as djangorestframework-simplejwt's `SlidingToken`), HS256.

Claims: ``token_type: "sliding"``, ``username: "Webin-N"``, ``exp`` (issue time + lifetime,
1440 minutes by default), ``refresh_exp`` (first issue + refresh window, 24 h by default; a
refresh does not move it), ``iat``, ``jti``. A token is valid while ``exp`` has not passed; until
``refresh_exp`` it can be exchanged for a new one (same ``jti`` and ``refresh_exp``) even after
``exp``.

The signing secret comes from the environment of the server (`SECRET_ENV`, at least
`MIN_SECRET_LENGTH` characters): `mgnify-db serve` makes a random one when it is unset.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

SECRET_ENV = "MGNIFY_API_SECRET"
LIFETIME_ENV = "MGNIFY_API_TOKEN_LIFETIME_MINUTES"
REFRESH_ENV = "MGNIFY_API_TOKEN_REFRESH_HOURS"
MIN_SECRET_LENGTH = 32  # HS256 with a short secret can be brute-forced offline from one token
ALGORITHM = "HS256"
TOKEN_TYPE = "sliding"
DEFAULT_LIFETIME_MINUTES = 1440.0
DEFAULT_REFRESH_HOURS = 24.0
REQUIRED_CLAIMS = ("token_type", "username", "exp", "refresh_exp", "iat", "jti")
# Only Webin ids: a token can never name another kind of actor (e.g. "curator"). [0-9], not
# \d (any script's digits); used with fullmatch ($ would allow a last "\n").
USERNAME = re.compile(r"Webin-[0-9]+")


class TokenConfigError(ValueError):
    """The token settings in the environment are missing or invalid."""


class InvalidToken(Exception):
    """Not a token of ours, tampered with, or expired (for its use)."""

    detail = "Token is invalid or expired"
    code = "token_not_valid"


@dataclass(frozen=True)
class TokenSettings:
    """The signing secret and the lifetimes (seconds)."""

    secret: str
    lifetime: float = DEFAULT_LIFETIME_MINUTES * 60
    refresh_window: float = DEFAULT_REFRESH_HOURS * 3600

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_SECRET_LENGTH:
            raise TokenConfigError(f"{SECRET_ENV} must be at least {MIN_SECRET_LENGTH} characters")
        if self.lifetime <= 0 or self.refresh_window <= 0:
            raise TokenConfigError("token lifetimes must be positive")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> TokenSettings:
        """From `SECRET_ENV`, `LIFETIME_ENV` (minutes) and `REFRESH_ENV` (hours)."""
        secret = environ.get(SECRET_ENV, "")
        if not secret:
            raise TokenConfigError(f"{SECRET_ENV} is not set: API tokens are disabled")
        return cls(
            secret,
            _positive(environ, LIFETIME_ENV, DEFAULT_LIFETIME_MINUTES) * 60,
            _positive(environ, REFRESH_ENV, DEFAULT_REFRESH_HOURS) * 3600,
        )


def _positive(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise TokenConfigError(f"{name} must be a number, not {raw!r}") from None
    if not value > 0:
        raise TokenConfigError(f"{name} must be positive, not {raw!r}")
    return value


def _now(now: float | None) -> int:
    return int(time.time() if now is None else now)


def issue(username: str, settings: TokenSettings, *, now: float | None = None) -> str:
    """A new sliding token for the Webin id `username`."""
    if not USERNAME.fullmatch(username):
        raise ValueError(f"not a Webin id: {username!r}")
    t = _now(now)
    claims = {
        "token_type": TOKEN_TYPE,
        "username": username,
        "exp": t + int(settings.lifetime),
        "refresh_exp": t + int(settings.refresh_window),
        "iat": t,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.secret, algorithm=ALGORITHM)


def decode(token: str, settings: TokenSettings) -> dict[str, Any]:
    """The claims of a token we signed (whatever its times say); `InvalidToken` otherwise."""
    try:
        claims = jwt.decode(
            token,
            settings.secret,
            algorithms=[ALGORITHM],  # never what the token's header asks for ("none", RS256...)
            # times are checked by the caller, against an injectable clock
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError as e:
        raise InvalidToken(str(e)) from None
    if any(claim not in claims for claim in REQUIRED_CLAIMS):
        raise InvalidToken("a claim is missing")
    if claims["token_type"] != TOKEN_TYPE:
        raise InvalidToken("not a sliding token")
    if not isinstance(claims["username"], str) or not USERNAME.fullmatch(claims["username"]):
        raise InvalidToken("not a Webin account")
    if not all(type(claims[c]) is int for c in ("exp", "refresh_exp", "iat")):
        raise InvalidToken("times must be whole seconds")
    return claims


def verify(token: str, settings: TokenSettings, *, now: float | None = None) -> str:
    """The Webin id of a valid, unexpired token; `InvalidToken` otherwise."""
    claims = decode(token, settings)
    if _now(now) >= claims["exp"]:
        raise InvalidToken("expired")
    return claims["username"]


def refresh(token: str, settings: TokenSettings, *, now: float | None = None) -> str:
    """A new token (new `exp` and `iat`; same `jti` and `refresh_exp`, as simple-jwt) while the
    refresh window of `token` is open, even after its `exp`; `InvalidToken` otherwise."""
    claims = decode(token, settings)
    t = _now(now)
    if t >= claims["refresh_exp"]:
        raise InvalidToken("refresh window closed")
    claims |= {"exp": t + int(settings.lifetime), "iat": t}
    return jwt.encode(claims, settings.secret, algorithm=ALGORITHM)
