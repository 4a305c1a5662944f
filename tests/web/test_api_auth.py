"""The API's logins in-process (datasette.client): `/auth/sliding` against the mirror's Webin
service, `/auth/sliding/refresh`, `/auth/verify`; their 401, 422, 503 answers; a Webin token is
an API viewer and a Datasette actor, never a curator."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
import yaml
from privacy_data import build_catalogue
from support import (
    DEMO_BROKER_LOGIN,
    DEMO_BROKER_PASSWORD,
    DEMO_WEBIN_ACCOUNT,
    DEMO_WEBIN_PASSWORD,
    free_port,
    webin_mirror_data,
)

from mgnify_db.catalogue.publish import publish
from mgnify_db.cli import METADATA
from mgnify_db.dev.mirror import MirrorServer
from mgnify_db.dev.mirror.access import WEBIN_AUTH_PATH
from mgnify_db.web import tokens
from mgnify_db.web.api import API_ROOT
from mgnify_db.web.viewer import ANONYMOUS, Unauthorized, Viewer, viewer_for

SECRET = "api-auth-test-secret-0123456789abcdef"
CURATOR_TOKEN = "api-auth-test-curator-token"
SLIDING, REFRESH, VERIFY = (
    f"{API_ROOT}/auth/{p}" for p in ("sliding", "sliding/refresh", "verify")
)
NOT_VALID = {"detail": "Token is invalid or expired", "code": "token_not_valid"}
LOGIN = {"username": DEMO_WEBIN_ACCOUNT, "password": DEMO_WEBIN_PASSWORD}


@pytest.fixture(scope="module")
def webin_url(tmp_path_factory):
    with MirrorServer(webin_mirror_data(tmp_path_factory.mktemp("webin"))) as mirror:
        yield mirror.url + WEBIN_AUTH_PATH


@pytest.fixture(scope="module")
def databases(tmp_path_factory, store_kind, request) -> list[str]:
    """The catalogue (one public, one private study) and its public.db."""
    cat = build_catalogue(tmp_path_factory.mktemp("api-auth"), store=store_kind, request=request)
    public = cat.db.with_name("public.db")
    publish(cat.db, public)
    return [str(cat.db), str(public)]


@pytest.fixture
def env(monkeypatch, webin_url):
    monkeypatch.setenv(tokens.SECRET_ENV, SECRET)
    monkeypatch.setenv("MGNIFY_ENA_WEBIN_AUTH_URL", webin_url)
    monkeypatch.setenv("MGNIFY_CURATOR_TOKEN", CURATOR_TOKEN)
    for name in (tokens.LIFETIME_ENV, tokens.REFRESH_ENV):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def client(env, databases):
    """`call(method, path, **httpx kwargs)` on a Datasette with our plugin (a new one each test:
    the environment is the test's)."""
    from datasette.app import Datasette
    from datasette.plugins import pm

    from mgnify_db.web import plugin

    if not pm.is_registered(plugin):  # tests/web/test_datasette.py checks the entry point
        pm.register(plugin)
    metadata = yaml.safe_load(METADATA.read_text())
    loop = asyncio.new_event_loop()
    ds = Datasette(databases, metadata=metadata)
    loop.run_until_complete(ds.invoke_startup())

    def call(method: str, path: str, **kwargs):
        return loop.run_until_complete(getattr(ds.client, method)(path, **kwargs))

    yield call
    loop.close()


def settings() -> tokens.TokenSettings:
    return tokens.TokenSettings(SECRET)


def claims(token: str) -> dict:
    return jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def login(client, **body) -> str:
    response = client("post", SLIDING, json=LOGIN | body)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "sliding"
    return response.json()["token"]


# --- /auth/sliding ------------------------------------------------------------------------------


def test_obtain_a_token_with_webin_credentials(client):
    token = login(client)
    assert claims(token)["username"] == DEMO_WEBIN_ACCOUNT
    assert claims(token)["token_type"] == "sliding"
    assert client("post", VERIFY, json={"token": token}).status_code == 200
    assert client("post", VERIFY + "/", json={"token": token}).status_code == 200


def test_a_broker_login_names_the_webin_account(client):
    token = login(client, username=DEMO_BROKER_LOGIN, password=DEMO_BROKER_PASSWORD)
    assert claims(token)["username"] == DEMO_WEBIN_ACCOUNT


@pytest.mark.parametrize(
    "body",
    [
        {"password": DEMO_WEBIN_PASSWORD + "x"},
        {"password": ""},
        {"username": "Webin-1"},
        {"username": "curator"},
        {"username": DEMO_BROKER_LOGIN},  # the owner's password is not the broker's
    ],
    ids=["wrong-password", "empty-password", "unknown-account", "not-webin", "broker"],
)
def test_refused_credentials_are_401(client, body):
    response = client("post", SLIDING, json=LOGIN | body)
    assert response.status_code == 401
    assert isinstance(response.json()["detail"], str)
    assert "token" not in response.json()


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"json": {"username": DEMO_WEBIN_ACCOUNT}}, ("missing", ["body", "password"])),
        ({"json": {}}, ("missing", ["body", "username"])),
        ({"json": LOGIN | {"username": 77777}}, ("string_type", ["body", "username"])),
        ({"json": [LOGIN]}, ("model_type", ["body"])),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, None),
        ({}, None),  # no body at all
    ],
    ids=["no-password", "empty", "number", "array", "not-json", "no-body"],
)
def test_malformed_bodies_are_422(client, kwargs, problem):
    response = client("post", SLIDING, **kwargs)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail and all(set(p) == {"type", "loc", "msg"} for p in detail)
    if problem:
        assert (detail[0]["type"], detail[0]["loc"]) == problem


def test_ena_unreachable_is_503(client, env):
    env.setenv("MGNIFY_ENA_WEBIN_AUTH_URL", f"http://127.0.0.1:{free_port()}{WEBIN_AUTH_PATH}")
    response = client("post", SLIDING, json=LOGIN)
    assert response.status_code == 503
    assert "unavailable" in response.json()["detail"]


def test_without_a_secret_no_token_is_issued_or_accepted(client, env):
    token = tokens.issue(DEMO_WEBIN_ACCOUNT, settings())
    env.delenv(tokens.SECRET_ENV)
    assert client("post", SLIDING, json=LOGIN).status_code == 503
    assert client("post", VERIFY, json={"token": token}).status_code == 401
    assert client("post", REFRESH, json={"token": token}).status_code == 401


def test_only_post(client):
    for path in (SLIDING, REFRESH, VERIFY):
        response = client("get", path)
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"


def test_json_posts_with_datasettes_csrf_cookie_are_not_refused(client):
    """A browser that opened a Datasette page holds its CSRF cookie: asgi-csrf would refuse a
    JSON POST without a csrftoken (403) if the plugin did not skip the check for the API."""
    response = client("post", SLIDING, json=LOGIN, headers={"cookie": "ds_csrftoken=x"})
    assert response.status_code == 200, response.text


# --- /auth/verify and /auth/sliding/refresh ---------------------------------------------------


def test_verify(client):
    token = login(client)
    response = client("post", VERIFY, json={"token": token})
    assert (response.status_code, response.json()) == (200, {})
    expired = tokens.issue(DEMO_WEBIN_ACCOUNT, settings(), now=0)
    for bad in ("x", token + "x", expired, token.rsplit(".", 1)[0] + "."):
        response = client("post", VERIFY, json={"token": bad})
        assert (response.status_code, response.json()) == (401, NOT_VALID)
    assert client("post", VERIFY, json={}).status_code == 422


def test_refresh_within_the_window_even_after_expiry(client, env):
    env.setenv(tokens.LIFETIME_ENV, str(1 / 60))  # valid for one second ...
    env.setenv(tokens.REFRESH_ENV, "1")  # ... refreshable for an hour
    short = tokens.TokenSettings.from_env()
    old = tokens.issue(DEMO_WEBIN_ACCOUNT, short, now=time.time() - 60)
    assert client("post", VERIFY, json={"token": old}).status_code == 401  # expired
    response = client("post", REFRESH, json={"token": old})
    assert response.status_code == 200, response.text
    new = response.json()["token"]
    assert response.json()["token_type"] == "sliding"
    assert claims(new)["refresh_exp"] == claims(old)["refresh_exp"]
    assert claims(new)["exp"] > claims(old)["exp"]
    assert client("post", VERIFY, json={"token": new}).status_code == 200


def test_refresh_after_the_window_is_401(client):
    closed = tokens.issue(DEMO_WEBIN_ACCOUNT, settings(), now=0)  # 1970: long closed
    response = client("post", REFRESH, json={"token": closed})
    assert (response.status_code, response.json()) == (401, NOT_VALID)
    other = tokens.issue(DEMO_WEBIN_ACCOUNT, tokens.TokenSettings("x" * 40))  # not our secret
    assert client("post", REFRESH, json={"token": other}).json() == NOT_VALID
    assert client("post", REFRESH, json={"token": 5}).status_code == 422


# --- who a token makes you ---------------------------------------------------------------------


def test_a_webin_token_is_not_a_curator(client):
    token = login(client)
    actor = client("get", "/-/actor.json", headers=bearer(token)).json()["actor"]
    assert actor == {"id": DEMO_WEBIN_ACCOUNT, "webin": DEMO_WEBIN_ACCOUNT}
    assert client("get", "/catalogue.json", headers=bearer(token)).status_code == 403
    assert client("get", "/catalogue/studies.json", headers=bearer(token)).status_code == 403
    assert client("get", "/public.json", headers=bearer(token)).status_code == 200
    assert client("get", "/catalogue.json", headers=bearer(CURATOR_TOKEN)).status_code == 200
    # an invalid token is nobody to Datasette's pages
    assert client("get", "/-/actor.json", headers=bearer("x")).json()["actor"] is None


def test_viewer_for(env):
    token = tokens.issue(DEMO_WEBIN_ACCOUNT, settings())
    assert viewer_for(None) is ANONYMOUS and viewer_for("  ") is ANONYMOUS
    assert viewer_for(f"Bearer {CURATOR_TOKEN}") == Viewer(curator=True)
    assert viewer_for(f"Bearer {token}") == Viewer(webin=DEMO_WEBIN_ACCOUNT)
    assert viewer_for(f"bearer  {token} ") == Viewer(webin=DEMO_WEBIN_ACCOUNT)
    expired = tokens.issue(DEMO_WEBIN_ACCOUNT, settings(), now=0)
    for bad in (f"Bearer {expired}", "Bearer x", f"Basic {token}", f"Bearer {token}x"):
        with pytest.raises(Unauthorized):
            viewer_for(bad)
    env.delenv(tokens.SECRET_ENV)  # no secret: no token is valid
    with pytest.raises(Unauthorized):
        viewer_for(f"Bearer {token}")


# --- mgnify-db serve's environment ---------------------------------------------------------------


def test_serve_sets_the_webin_url_and_a_random_secret(capsys):
    from mgnify_db.cli import set_api_environment

    environ: dict[str, str] = {}
    set_api_environment("http://ena.example/auth", environ)
    assert environ["MGNIFY_ENA_WEBIN_AUTH_URL"] == "http://ena.example/auth"
    assert len(environ[tokens.SECRET_ENV]) >= tokens.MIN_SECRET_LENGTH
    assert "stop working when this server stops" in capsys.readouterr().err
    again: dict[str, str] = {}
    set_api_environment("http://ena.example/auth", again)
    assert again[tokens.SECRET_ENV] != environ[tokens.SECRET_ENV]
    # what the environment already says wins; a given secret is kept
    given = {"MGNIFY_ENA_WEBIN_AUTH_URL": "http://mirror/auth", tokens.SECRET_ENV: SECRET}
    set_api_environment("http://ena.example/auth", given)
    assert given == {"MGNIFY_ENA_WEBIN_AUTH_URL": "http://mirror/auth", tokens.SECRET_ENV: SECRET}


@pytest.mark.parametrize(
    "environ",
    [{tokens.SECRET_ENV: "short"}, {tokens.SECRET_ENV: SECRET, tokens.LIFETIME_ENV: "never"}],
    ids=["short-secret", "bad-lifetime"],
)
def test_serve_refuses_bad_token_settings(environ, capsys):
    from mgnify_db.cli import set_api_environment

    with pytest.raises(SystemExit):
        set_api_environment("http://ena.example/auth", environ)
    assert "MGNIFY_API" in capsys.readouterr().err
