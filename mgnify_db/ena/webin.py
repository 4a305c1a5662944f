"""Webin credentials checked against ENA's Webin authentication service, as MGnify's API logs
users in: ``POST <url>`` with ``{"authRealms": ["ENA", "EGA"], "username", "password"}``; HTTP
200 means valid, 401 invalid.

A username is ``Webin-<digits>`` or, for MGnify's broker logins, ``mg-Webin-<digits>`` ("webin"
in any case). It is sent to ENA as given (a broker login has its own password at ENA); the Webin
id it stands for, ``Webin-<digits>`` without the prefix, is what the caller is known as.
"""

from __future__ import annotations

import re

import requests

DEFAULT_URL = "https://www.ebi.ac.uk/ena/submit/webin/auth"
AUTH_REALMS = ("ENA", "EGA")
BROKER_PREFIX = "mg-"
DEFAULT_TIMEOUT = 10.0  # seconds: somebody is waiting for the login to answer
# ASCII only: Unicode case folding would take a dotless "ı" for "i", and \d any script's
# digits; used with fullmatch ($ would allow a last "\n")
USERNAME = re.compile(rf"(?:{re.escape(BROKER_PREFIX)})?webin-([0-9]+)", re.IGNORECASE | re.ASCII)


class WebinError(Exception):
    """A Webin login did not succeed."""


class WebinRejected(WebinError):
    """Not a Webin username, or ENA refused the credentials (401)."""


class WebinUnavailable(WebinError):
    """ENA's Webin service could not be asked (network error, timeout, 5xx, unexpected answer)."""


def webin_id(username: str) -> str:
    """``Webin-<digits>`` for a Webin username (with or without the broker prefix)."""
    match = USERNAME.fullmatch(username.strip())
    if match is None:
        raise WebinRejected("Username must be a Webin account: Webin-<digits> or mg-Webin-<digits>")
    return f"Webin-{match.group(1)}"


def check_webin(
    username: str,
    password: str,
    *,
    url: str = DEFAULT_URL,
    timeout: float = DEFAULT_TIMEOUT,
    session: requests.Session | None = None,
) -> str:
    """The Webin id (``Webin-<digits>``) of valid credentials; `WebinRejected` or
    `WebinUnavailable` otherwise."""
    account = webin_id(username)  # refuse a malformed name before sending a password anywhere
    if not password:
        raise WebinRejected("Password is required")
    body = {"authRealms": list(AUTH_REALMS), "username": username.strip(), "password": password}
    try:
        response = (session or requests).post(url, json=body, timeout=timeout)
    except requests.RequestException as e:
        raise WebinUnavailable(f"ENA's Webin service did not answer: {type(e).__name__}") from e
    if response.status_code == 200:
        return account
    if response.status_code in (401, 403):
        raise WebinRejected("Invalid Webin username or password")
    # anything else (5xx, 404 of a wrong URL, ...) says nothing about the credentials
    raise WebinUnavailable(f"ENA's Webin service answered HTTP {response.status_code}")
