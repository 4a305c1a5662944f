"""The API's sliding tokens (mgnify_db.web.tokens): MGnify's claims, expiry, the refresh window,
and every token we did not sign refused."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from mgnify_db.web import tokens
from mgnify_db.web.tokens import InvalidToken, TokenConfigError, TokenSettings

SECRET = "unit-test-api-secret-0123456789abcdef"
# 10 minutes valid, refreshable for an hour (short, to cross both limits in a test)
SETTINGS = TokenSettings(SECRET, lifetime=600, refresh_window=3600)
T0 = 1_700_000_000
USER = "Webin-12345"


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def forge(claims: dict, secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def valid_claims(**changes) -> dict:
    return claims_of(tokens.issue(USER, SETTINGS, now=T0)) | changes


def test_issue_has_mgnify_sliding_claims():
    token = tokens.issue(USER, TokenSettings(SECRET), now=T0)
    claims = claims_of(token)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert claims["token_type"] == "sliding"
    assert claims["username"] == USER
    assert claims["iat"] == T0
    assert claims["exp"] == T0 + 1440 * 60  # MGnify's defaults: 1440 minutes ...
    assert claims["refresh_exp"] == T0 + 24 * 3600  # ... and a 24 h refresh window
    assert claims["jti"]
    assert claims_of(tokens.issue(USER, SETTINGS, now=T0))["jti"] != claims["jti"]


def test_verify_until_exp():
    token = tokens.issue(USER, SETTINGS, now=T0)
    assert tokens.verify(token, SETTINGS, now=T0) == USER
    assert tokens.verify(token, SETTINGS, now=T0 + 599) == USER
    with pytest.raises(InvalidToken):
        tokens.verify(token, SETTINGS, now=T0 + 600)


def test_refresh_within_the_window_even_after_exp_keeps_refresh_exp():
    token = tokens.issue(USER, SETTINGS, now=T0)
    first = claims_of(token)
    later = T0 + 1800  # expired (600 s) but refreshable (3600 s)
    with pytest.raises(InvalidToken):
        tokens.verify(token, SETTINGS, now=later)
    renewed = tokens.refresh(token, SETTINGS, now=later)
    claims = claims_of(renewed)
    assert claims["exp"] == later + 600 and claims["iat"] == later
    assert claims["refresh_exp"] == first["refresh_exp"]  # the window does not move
    assert claims["jti"] == first["jti"] and claims["username"] == USER
    assert tokens.verify(renewed, SETTINGS, now=later + 1) == USER
    # refreshing the new token does not extend the window either
    again = tokens.refresh(renewed, SETTINGS, now=T0 + 3500)
    assert claims_of(again)["refresh_exp"] == first["refresh_exp"]
    with pytest.raises(InvalidToken):
        tokens.refresh(again, SETTINGS, now=T0 + 3600)


def test_refresh_after_the_window_is_refused():
    token = tokens.issue(USER, SETTINGS, now=T0)
    with pytest.raises(InvalidToken):
        tokens.refresh(token, SETTINGS, now=T0 + 3600)


def test_tampered_signature_is_refused():
    token = tokens.issue(USER, SETTINGS, now=T0)
    head, payload, sig = token.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    with pytest.raises(InvalidToken):
        tokens.verify(f"{head}.{payload}.{flipped}", SETTINGS, now=T0)
    # another account's name in a payload signed for the first one
    other = dict(claims_of(token), username="Webin-99999")
    body = base64.urlsafe_b64encode(json.dumps(other).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        tokens.verify(f"{head}.{body}.{sig}", SETTINGS, now=T0)


def test_another_secret_is_refused():
    other = TokenSettings("another-api-secret-0123456789abcdef")
    token = tokens.issue(USER, other, now=T0)
    for use in (tokens.verify, tokens.refresh):
        with pytest.raises(InvalidToken):
            use(token, SETTINGS, now=T0)


def test_alg_none_and_other_algorithms_are_refused():
    unsigned = jwt.encode(valid_claims(), None, algorithm="none")
    hs512 = forge(valid_claims(), SECRET + "-long-enough-for-hs512-keys", "HS512")
    for token in (unsigned, unsigned.rstrip(".") + ".", hs512):
        for use in (tokens.verify, tokens.refresh):
            with pytest.raises(InvalidToken):
                use(token, SETTINGS, now=T0)


@pytest.mark.parametrize(
    "changes",
    [
        {"token_type": "access"},
        {"token_type": "refresh"},
        {"username": "curator"},
        {"username": "mg-Webin-12345"},
        {"username": "webin-12345"},
        {"username": 12345},
        {"username": "Webin-12345\n"},
        {"username": "Webin-\u0661\u0662"},
        {"exp": "soon"},
    ],
    ids=[
        "access",
        "refresh",
        "curator",
        "broker-prefix",
        "lower-case",
        "number",
        "newline",
        "non-ascii-digits",
        "exp-text",
    ],
)
def test_wrong_claims_are_refused(changes):
    token = forge(valid_claims(**changes))
    for use in (tokens.verify, tokens.refresh):
        with pytest.raises(InvalidToken):
            use(token, SETTINGS, now=T0)


@pytest.mark.parametrize("claim", ["token_type", "username", "exp", "refresh_exp", "jti"])
def test_missing_claims_are_refused(claim):
    claims = valid_claims()
    del claims[claim]
    with pytest.raises(InvalidToken):
        tokens.verify(forge(claims), SETTINGS, now=T0)


def test_garbage_is_refused():
    for token in ("", "x", "a.b.c", "Bearer x"):
        with pytest.raises(InvalidToken):
            tokens.verify(token, SETTINGS, now=T0)


def test_issue_only_for_webin_ids():
    for name in ("curator", "mg-Webin-1", "Webin-", "Webin-1x", "Webin-1\n", "Webin-\u0661"):
        with pytest.raises(ValueError):
            tokens.issue(name, SETTINGS, now=T0)


def test_settings_from_env():
    env = {tokens.SECRET_ENV: SECRET}
    assert TokenSettings.from_env(env) == TokenSettings(SECRET, 1440 * 60, 24 * 3600)
    env |= {tokens.LIFETIME_ENV: "0.5", tokens.REFRESH_ENV: "2"}
    assert TokenSettings.from_env(env) == TokenSettings(SECRET, 30, 7200)


@pytest.mark.parametrize(
    "env",
    [
        {},
        {tokens.SECRET_ENV: ""},
        {tokens.SECRET_ENV: "x" * 31},
        {tokens.SECRET_ENV: SECRET, tokens.LIFETIME_ENV: "soon"},
        {tokens.SECRET_ENV: SECRET, tokens.LIFETIME_ENV: "0"},
        {tokens.SECRET_ENV: SECRET, tokens.REFRESH_ENV: "-1"},
    ],
    ids=["unset", "empty", "short", "not-a-number", "zero", "negative"],
)
def test_settings_from_env_refuse(env):
    with pytest.raises(TokenConfigError):
        TokenSettings.from_env(env)
