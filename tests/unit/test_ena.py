"""The ENA client against the project's mirror on loopback (downloads: test_download.py)."""

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from mgnify_db.config import ConfigError, EnaSettings, parse_global
from mgnify_db.dev.mirror import MirrorServer, write_access
from mgnify_db.ena.client import EnaClient, EnaError, fetch_study_metadata

N_RUNS = 25
# PRJEB8 is private: the mirror shows it only to this data hub (HTTP Basic auth).
HUB, HUB_PW = "dcc_test", "hub-secret"
PASSWORD_ENV, USERNAME_ENV = "MGNIFY_ENA_DCC_PASSWORD", "MGNIFY_ENA_DCC_USERNAME"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ena")
    (d / "portal").mkdir()
    fq = d / "vol1" / "fastq" / "ERR000" / "ERR0000001"
    fq.mkdir(parents=True)
    payload = gzip.compress(b"@r1\nACGT\n+\nIIII\n" * 100, mtime=0)
    (fq / "ERR0000001_1.fastq.gz").write_bytes(payload)
    md5 = hashlib.md5(payload).hexdigest()
    study = {
        "study_accession": "PRJEB9",
        "secondary_study_accession": "ERP9",
        "study_title": "Test study",
        "study_description": "x",
        "center_name": "C",
    }
    samples = [
        {
            "sample_accession": f"SAMEA{i}",
            "sample_title": f"s{i}",
            "lat": "1.5",
            "lon": "-2",
            "collection_date": "2020-01-01",
            "broad_scale_environmental_context": "marine biome",  # none of SAMPLE_FIELDS
        }
        for i in range(5)
    ]
    runs = [
        {
            "run_accession": f"ERR{i:07d}",
            "sample_accession": f"SAMEA{i % 5}",
            "study_accession": "PRJEB9",
            "secondary_study_accession": "ERP9",
            "library_strategy": "WGS",
            "library_source": "METAGENOMIC",
            "library_layout": "SINGLE",
            "read_count": "100",
            "base_count": "400",
            "fastq_ftp": "{mirror}/vol1/fastq/ERR000/ERR0000001/ERR0000001_1.fastq.gz",
            "fastq_md5": md5,
            "fastq_bytes": str(len(payload)),
        }
        for i in range(1, N_RUNS + 1)
    ]
    private_study = study | {
        "study_accession": "PRJEB8",
        "secondary_study_accession": "ERP8",
        "study_title": "PRIVATE-MARKER study",
    }
    private_samples = [{"sample_accession": "SAMEA80", "study_accession": "PRJEB8"}]
    private_runs = [
        runs[0]
        | {
            "run_accession": f"ERR800000{i}",
            "sample_accession": "SAMEA80",
            "study_accession": "PRJEB8",
            "secondary_study_accession": "ERP8",
        }
        for i in (1, 2)
    ]
    for name, rows in (
        ("study", [study, private_study]),
        ("sample", samples + private_samples),
        ("read_run", runs + private_runs),
    ):
        (d / "portal" / f"{name}.json").write_text(json.dumps(rows))
    write_access(d, {HUB: (HUB_PW, ["PRJEB8"])})
    return d


@pytest.fixture
def server(data_dir):
    with MirrorServer(data_dir, port=0) as m:
        yield m


def settings(server, **kw) -> EnaSettings:
    base = dict(
        portal_url=server.portal_url,
        download_scheme="http",
        retries=3,
        backoff_seconds=0.01,
        timeout_seconds=5,
        page_size=10,
    )
    return EnaSettings(**(base | kw))


def searches(server):
    return [r for r in server.requests if "/search" in r["path"]]


def test_study_metadata_paginated(server):
    meta = fetch_study_metadata(EnaClient(settings(server)), "ERP9")  # by secondary accession
    assert meta.study.accession == "PRJEB9"
    assert meta.study.secondary_accessions == ["ERP9"]
    assert [r.run_accession for r in meta.runs] == [f"ERR{i:07d}" for i in range(1, N_RUNS + 1)]
    assert meta.runs[0].read_count == 100
    assert len(meta.samples) == 5 and meta.samples[0].lat == 1.5
    # every field ENA serves for a sample is kept (the catalogue's `metadata`)
    extra = meta.samples[0].model_dump(exclude_none=True)
    assert extra["broad_scale_environmental_context"] == "marine biome"
    run_pages = [r for r in searches(server) if "result=read_run" in r["path"]]
    assert len(run_pages) == 3  # 25 runs, 10 per page
    assert meta.runs[0].fastq_files[0].url.startswith(f"{server.address}/vol1/")


def test_retries_on_503_honouring_retry_after(server):
    server.add_fault(status=503, retry_after=0, count=2)
    study = EnaClient(settings(server)).study("PRJEB9")
    assert study.study_title == "Test study"
    assert [r["status"] for r in server.requests][:3] == [503, 503, 200]


def test_gives_up_after_retries(server):
    server.add_fault(status=500, count=10)
    with pytest.raises(EnaError, match=r"returnFields result=study: HTTP 500 \(after 2 retries"):
        EnaClient(settings(server, retries=2)).study("PRJEB9")
    assert len(server.requests) == 3


def test_4xx_and_malformed_body_are_clear_errors(server):
    client = EnaClient(settings(server))
    client.return_fields("study")
    server.add_fault(status=400, body='{"message": "Invalid query"}')
    with pytest.raises(EnaError, match="HTTP 400: Invalid query"):
        client.study("PRJEB9")
    server.add_fault(status=200, body="{not json")
    with pytest.raises(EnaError, match="malformed JSON body"):
        client.study("PRJEB9")


def test_unknown_study(server):
    with pytest.raises(EnaError, match="ENA has no public study PRJEB404"):
        EnaClient(settings(server)).study("PRJEB404")


def test_field_check_names_missing_fields(data_dir, tmp_path):
    import shutil

    d = tmp_path / "ena"
    shutil.copytree(data_dir, d)
    fields = {
        "study": ["study_accession", "secondary_study_accession", "study_title"],
        "read_run": ["run_accession", "sample_accession"],
    }
    (d / "portal" / "return_fields.json").write_text(json.dumps(fields))
    with MirrorServer(d, port=0) as m:
        client = EnaClient(settings(m))
        client.study("PRJEB9")  # optional fields missing: dropped, named
        assert "center_name" in client.missing_fields["study"]
        with pytest.raises(EnaError, match="required read_run field.*fastq_ftp"):
            client.runs("PRJEB9")


def test_retries_a_timeout(server):
    server.add_fault(status=None, delay=1.5, count=1)  # a slow answer, then normal ones
    study = EnaClient(settings(server, timeout_seconds=0.5)).study("PRJEB9")
    assert study.accession == "PRJEB9"
    assert not server.faults  # the slow answer was met, timed out and retried


# -- private studies: the data hub's credentials, only for them


@pytest.fixture
def no_dcc_env(monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    monkeypatch.delenv(USERNAME_ENV, raising=False)
    return monkeypatch


def test_a_private_study_is_read_with_the_data_hub_credentials(server, no_dcc_env):
    no_dcc_env.setenv(PASSWORD_ENV, HUB_PW)
    client = EnaClient(settings(server, dcc_username=HUB))
    meta = fetch_study_metadata(client, "ERP8", private=True)
    assert meta.study.accession == "PRJEB8" and meta.study.study_title == "PRIVATE-MARKER study"
    assert [r.run_accession for r in meta.runs] == ["ERR8000001", "ERR8000002"]
    assert [s.sample_accession for s in meta.samples] == ["SAMEA80"]
    # every search of the study carries them; the field lists (not the study's) do not
    assert {r["user"] for r in searches(server)} == {HUB}
    assert {r["user"] for r in server.requests if "/returnFields" in r["path"]} == {None}


def test_a_public_study_never_sends_credentials(server, data_dir, no_dcc_env):
    without = fetch_study_metadata(EnaClient(settings(server)), "PRJEB9")
    paths = [r["path"] for r in server.requests]
    server.clear_requests()
    no_dcc_env.setenv(PASSWORD_ENV, HUB_PW)
    for private in (False, None):  # None: the caller does not know (anonymous first)
        with_hub = fetch_study_metadata(
            EnaClient(settings(server, dcc_username=HUB)), "PRJEB9", private=private
        )
        assert with_hub == without
        assert [r["path"] for r in server.requests] == paths  # the very same requests
        assert {r["user"] for r in server.requests} == {None}
        server.clear_requests()


def test_a_private_study_is_invisible_anonymously(server, no_dcc_env):
    for private in (False, None):
        with pytest.raises(EnaError) as e:
            fetch_study_metadata(EnaClient(settings(server)), "PRJEB8", private=private)
        msg = str(e.value)
        assert msg.startswith("ENA has no public study PRJEB8 (a private study is read with")
        assert PASSWORD_ENV in msg and "\n" not in msg
    assert {r["user"] for r in server.requests} == {None}


def test_unknown_to_caller_found_with_the_data_hub(server, no_dcc_env):
    no_dcc_env.setenv(PASSWORD_ENV, HUB_PW)
    meta = fetch_study_metadata(EnaClient(settings(server, dcc_username=HUB)), "PRJEB8")
    assert [r.run_accession for r in meta.runs] == ["ERR8000001", "ERR8000002"]
    study_searches = [r["user"] for r in searches(server) if "result=study" in r["path"]]
    assert study_searches == [None, HUB]  # anonymous first, as emgapi-v2 probes
    with pytest.raises(EnaError, match="ENA has no study PRJEB404, public or visible to"):
        fetch_study_metadata(EnaClient(settings(server, dcc_username=HUB)), "PRJEB404")


def test_private_without_credentials_is_one_line(server, no_dcc_env):
    with pytest.raises(EnaError) as e:
        fetch_study_metadata(EnaClient(settings(server)), "PRJEB8", private=True)
    assert str(e.value) == (
        "private study PRJEB8: no ENA data-hub (DCC) account to read it with:"
        f" set ena.dcc_username (or {USERNAME_ENV}) and {PASSWORD_ENV}"
    )
    with pytest.raises(EnaError) as e:
        fetch_study_metadata(EnaClient(settings(server, dcc_username=HUB)), "PRJEB8", private=True)
    assert str(e.value) == (
        f"private study PRJEB8: {PASSWORD_ENV} is not set"
        f" (the password of ENA data-hub account {HUB})"
    )
    assert server.requests == []  # nothing asked without credentials


def test_wrong_credentials_are_one_line(server, no_dcc_env):
    no_dcc_env.setenv(PASSWORD_ENV, "wrong")
    client = EnaClient(settings(server, dcc_username=HUB))
    with pytest.raises(EnaError) as e:
        fetch_study_metadata(client, "PRJEB8", private=True)
    assert str(e.value) == (
        f"private study PRJEB8: ENA refused data-hub account {HUB} (HTTP 401):"
        f" check {PASSWORD_ENV} (and ena.dcc_username or {USERNAME_ENV})"
    )
    no_dcc_env.setenv(PASSWORD_ENV, HUB_PW)
    server.add_fault(status=403, path_prefix="/ena/portal/api/search")
    with pytest.raises(EnaError, match=r"refused data-hub account dcc_test \(HTTP 403\)"):
        client.study("PRJEB8", private=True)


def test_the_username_from_the_environment_wins(server, no_dcc_env):
    no_dcc_env.setenv(PASSWORD_ENV, HUB_PW)
    no_dcc_env.setenv(USERNAME_ENV, HUB)
    study = EnaClient(settings(server, dcc_username="dcc_other")).study("PRJEB8", private=True)
    assert study.accession == "PRJEB8"
    assert searches(server)[-1]["user"] == HUB


def test_a_study_of_another_data_hub(server, data_dir, no_dcc_env):
    write_access(data_dir, {HUB: (HUB_PW, ["PRJEB8"]), "dcc_b": ("b-pw", [])})
    no_dcc_env.setenv(PASSWORD_ENV, "b-pw")
    try:
        with pytest.raises(EnaError) as e:
            EnaClient(settings(server, dcc_username="dcc_b")).study("PRJEB8", private=True)
    finally:
        write_access(data_dir, {HUB: (HUB_PW, ["PRJEB8"])})
    assert str(e.value).startswith(
        "private study PRJEB8: ENA shows no such study to data-hub account dcc_b"
    )


def test_no_password_in_config_files():
    with pytest.raises(ConfigError) as e:
        parse_global({"ena": {"dcc_username": HUB, "dcc_password": "x"}}, "config.yaml")
    assert str(e.value) == (
        "config.yaml: ena.dcc_password: passwords are never read from config files:"
        f" set {PASSWORD_ENV} in the environment"
    )
    env = {PASSWORD_ENV: "pw"}
    assert EnaSettings(dcc_username=HUB).dcc_credentials(env) == (HUB, "pw")
    assert EnaSettings(dcc_username=HUB).dcc_credentials({}) is None
    assert EnaSettings().dcc_credentials(env) is None
    assert EnaSettings().dcc_credentials(env | {USERNAME_ENV: "u"}) == ("u", "pw")
