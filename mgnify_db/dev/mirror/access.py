"""Who may see what: private studies held by data-hub (DCC) accounts, and Webin accounts.

``DIR/access.json`` (optional; without it every record is public)::

    {"data_hubs": {"dcc_demo": {"password": "...", "studies": ["PRJEB77777"]}},
     "webin": {"Webin-77777": "..."}}

As ENA does, a private study's records (the study, its samples and runs: every record whose
``study_accession`` or ``secondary_study_accession`` names it) are answered only to requests with
the HTTP Basic credentials of the data hub that holds it; anonymously they do not exist (an empty
result, as for an unknown accession). Wrong credentials are a 401. Webin accounts answer ENA's
Webin authentication service (``POST /ena/submit/webin/auth``). The passwords are the mirror's
(it stands for ENA): throwaway values for demos and tests.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...io import write_text_atomic
from .errors import MirrorError

ACCESS_FILE = "access.json"
#: Record fields naming the study a record belongs to.
STUDY_FIELDS = ("study_accession", "secondary_study_accession")
WEBIN_AUTH_PATH = "/ena/submit/webin/auth"


@dataclass(frozen=True)
class Access:
    """The parsed ``access.json``: data hub -> (password, studies); Webin account (lower case)
    -> (account as written, password)."""

    hubs: Mapping[str, tuple[str, frozenset[str]]] = field(default_factory=dict)
    webin: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: object, source: str = ACCESS_FILE) -> Access:
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a JSON object")
        unknown = set(data) - {"data_hubs", "webin"}
        if unknown:
            raise ValueError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}")
        hubs = {}
        for name, hub in (data.get("data_hubs") or {}).items():
            if not isinstance(hub, dict) or not isinstance(hub.get("password"), str):
                raise ValueError(f"{source}: data_hubs.{name} needs a password and studies")
            hubs[name] = (hub["password"], frozenset(str(s) for s in hub.get("studies", [])))
        webin = {}
        for account, password in (data.get("webin") or {}).items():
            if not isinstance(password, str):
                raise ValueError(f"{source}: webin.{account}: the password must be a string")
            webin[_webin_key(account)] = (str(account), password)
        return cls(hubs, webin)

    @property
    def private_studies(self) -> dict[str, str]:
        """Study accession -> the data hub holding it."""
        return {acc: hub for hub, (_, studies) in self.hubs.items() for acc in studies}

    def viewer(self, authorization: str | None) -> str | None:
        """The data hub a request's ``Authorization`` header authenticates (None: anonymous).

        Credentials that match no data hub are a 401, as ENA answers them.
        """
        if not authorization:
            return None
        user, password = basic_credentials(authorization)
        hub = self.hubs.get(user or "")
        if hub is None or password is None or not _same(password, hub[0]):
            raise MirrorError("Invalid credentials", 401)
        return user

    def webin_account(self, username: str, password: str) -> str | None:
        """The Webin account ``username`` (any case) names, if ``password`` is its password."""
        known = self.webin.get(_webin_key(username))
        return known[0] if known is not None and _same(password, known[1]) else None


def basic_credentials(authorization: str) -> tuple[str | None, str | None]:
    """(user, password) of an HTTP Basic ``Authorization`` header; (None, None) if not one."""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else (user, None)


def load_access(directory: Path) -> Access:
    """``DIR/access.json`` parsed (an empty `Access` without the file)."""
    path = Path(directory) / ACCESS_FILE
    if not path.exists():
        return Access()
    return Access.parse(json.loads(path.read_text()), str(path))


def write_access(
    directory: Path,
    data_hubs: Mapping[str, tuple[str, Sequence[str]]] | None = None,
    webin: Mapping[str, str] | None = None,
) -> Path:
    """Write ``DIR/access.json``: ``data_hubs`` {name: (password, [study, ...])}, ``webin``
    {account: password}. Atomic: a serving mirror reloads it when it changes."""
    data = {
        "data_hubs": {
            name: {"password": password, "studies": list(studies)}
            for name, (password, studies) in (data_hubs or {}).items()
        },
        "webin": dict(webin or {}),
    }
    path = Path(directory) / ACCESS_FILE
    write_text_atomic(path, json.dumps(data, indent=1) + "\n")
    return path


def webin_auth(access: Access, body: str) -> tuple[int, dict]:
    """(status, JSON body) of ENA's Webin credential check for a POSTed JSON ``body``:
    ``{"authRealms": ["ENA"], "username": "Webin-N", "password": "..."}`` -> 200 or 401."""
    try:
        data = json.loads(body or "null")
    except ValueError:
        raise MirrorError("Invalid request body: expected JSON") from None
    if not isinstance(data, dict):
        raise MirrorError("Invalid request body: expected a JSON object")
    username, password, realms = data.get("username"), data.get("password"), data.get("authRealms")
    if not isinstance(username, str) or not isinstance(password, str):
        raise MirrorError("Invalid request body: username and password are required")
    if not isinstance(realms, list) or not realms:
        raise MirrorError("Invalid request body: authRealms is required")
    account = access.webin_account(username, password)
    if "ENA" not in realms or account is None:
        return 401, {"message": "Invalid username or password"}
    return 200, {"authenticated": True, "principle": account, "authRealms": ["ENA"]}


def _webin_key(account: str) -> str:
    return account.strip().lower()


def _same(given: str, known: str) -> bool:
    return hmac.compare_digest(given.encode(), known.encode())
