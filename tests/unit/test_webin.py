"""Webin logins (mgnify_db.ena.webin) against the project's ENA mirror: its Webin service
(`POST /ena/submit/webin/auth`) knowing the demo owner's account and a broker login (`mg-`
prefix, its own password, as ENA keeps broker accounts)."""

from __future__ import annotations

import pytest
import requests
from support import (
    DEMO_BROKER_LOGIN,
    DEMO_BROKER_PASSWORD,
    DEMO_WEBIN_ACCOUNT,
    DEMO_WEBIN_PASSWORD,
    free_port,
    webin_mirror_data,
)

from mgnify_db.dev.mirror import MirrorServer
from mgnify_db.dev.mirror.access import WEBIN_AUTH_PATH
from mgnify_db.ena.webin import WebinRejected, WebinUnavailable, check_webin, webin_id


@pytest.fixture(scope="module")
def webin_mirror(tmp_path_factory):
    with MirrorServer(webin_mirror_data(tmp_path_factory.mktemp("webin-mirror"))) as mirror:
        yield mirror


@pytest.fixture
def url(webin_mirror) -> str:
    webin_mirror.clear_faults()
    return webin_mirror.url + WEBIN_AUTH_PATH


def test_good_credentials_give_the_webin_id(url):
    assert check_webin(DEMO_WEBIN_ACCOUNT, DEMO_WEBIN_PASSWORD, url=url) == DEMO_WEBIN_ACCOUNT
    lower = DEMO_WEBIN_ACCOUNT.lower()
    assert check_webin(f" {lower} ", DEMO_WEBIN_PASSWORD, url=url) == DEMO_WEBIN_ACCOUNT


def test_broker_login_gives_the_webin_id_without_prefix(url):
    assert check_webin(DEMO_BROKER_LOGIN, DEMO_BROKER_PASSWORD, url=url) == DEMO_WEBIN_ACCOUNT
    # the broker login is its own account at ENA: the owner's password does not open it
    with pytest.raises(WebinRejected):
        check_webin(DEMO_BROKER_LOGIN, DEMO_WEBIN_PASSWORD, url=url)


def test_bad_password_is_rejected(url):
    with pytest.raises(WebinRejected):
        check_webin(DEMO_WEBIN_ACCOUNT, DEMO_WEBIN_PASSWORD + "x", url=url)
    with pytest.raises(WebinRejected):
        check_webin(DEMO_WEBIN_ACCOUNT, "", url=url)


def test_unknown_account_is_rejected(url):
    with pytest.raises(WebinRejected):
        check_webin("Webin-1", DEMO_WEBIN_PASSWORD, url=url)


@pytest.mark.parametrize(
    "username",
    [
        "curator",
        "Webin-",
        "Webin-12a",
        "xx-Webin-77777",
        "Webin77777",
        "77777",
        "",
        "Webin-\u0667\u0667\u0667",  # Arabic-Indic digits: no Webin id
        "Webin-\uff17\uff17",  # fullwidth digits
        "Webin-777\nWebin-1",
        "web\u0131n-777",  # a dotless i: IGNORECASE alone takes it for "i"
    ],
)
def test_bad_format_is_rejected_without_asking_ena(webin_mirror, url, username):
    webin_mirror.clear_requests()
    with pytest.raises(WebinRejected):
        check_webin(username, DEMO_WEBIN_PASSWORD, url=url)
    assert webin_mirror.requests == []  # the password went nowhere


def test_webin_id():
    assert webin_id("WEBIN-42") == "Webin-42"
    assert webin_id("MG-webin-42") == "Webin-42"


def test_unreachable_service_is_unavailable():
    url = f"http://127.0.0.1:{free_port()}{WEBIN_AUTH_PATH}"  # nothing listens there
    with pytest.raises(WebinUnavailable):
        check_webin(DEMO_WEBIN_ACCOUNT, DEMO_WEBIN_PASSWORD, url=url)


def test_server_error_and_timeout_are_unavailable(webin_mirror, url):
    webin_mirror.add_fault(503, path_prefix=WEBIN_AUTH_PATH)
    with pytest.raises(WebinUnavailable, match="503"):
        check_webin(DEMO_WEBIN_ACCOUNT, DEMO_WEBIN_PASSWORD, url=url)
    webin_mirror.add_fault(None, delay=1.0, path_prefix=WEBIN_AUTH_PATH)
    with pytest.raises(WebinUnavailable):
        check_webin(DEMO_WEBIN_ACCOUNT, DEMO_WEBIN_PASSWORD, url=url, timeout=0.2)


def test_wrong_url_is_unavailable_not_rejected(webin_mirror):
    with pytest.raises(WebinUnavailable, match="404"):
        check_webin(DEMO_WEBIN_ACCOUNT, DEMO_WEBIN_PASSWORD, url=webin_mirror.url + "/nowhere")


def test_the_body_sent_is_enas(url):
    """ENA's shape: authRealms ENA and EGA, the username as given (a broker login too)."""
    sent = {}

    class Recorder(requests.Session):
        def post(self, url, **kwargs):
            sent.update(kwargs["json"])
            return super().post(url, **kwargs)

    check_webin(DEMO_BROKER_LOGIN, DEMO_BROKER_PASSWORD, url=url, session=Recorder())
    assert sent == {
        "authRealms": ["ENA", "EGA"],
        "username": DEMO_BROKER_LOGIN,
        "password": DEMO_BROKER_PASSWORD,
    }
