"""The offline ENA mirror: Portal API subset, FASTQ serving, fault injection, request log."""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mgnify_db.dev.mirror import MirrorError, MirrorServer, parse_query

FASTQ = b"@r1\nACGT\n+\nIIII\n" * 50


def _write_data_dir(root: Path) -> Path:
    portal = root / "portal"
    portal.mkdir(parents=True)
    fq_dir = root / "vol1" / "fastq" / "ERR000" / "ERR0000001"
    fq_dir.mkdir(parents=True)
    files = []
    for mate in (1, 2):
        path = fq_dir / f"ERR0000001_{mate}.fastq.gz"
        path.write_bytes(gzip.compress(FASTQ, mtime=0))
        files.append(path)
    study = [
        {
            "study_accession": "PRJEB1",
            "secondary_study_accession": "ERP1",
            "study_title": "Mock study",
            "center_name": "MGNIFY-SNAKE",
        },
        {
            "study_accession": "PRJEB2",
            "secondary_study_accession": "ERP2;SRP9",
            "study_title": "Other study",
            "center_name": "ELSEWHERE",
        },
    ]
    sample = [
        {"sample_accession": "SAMEA1", "study_accession": "PRJEB1", "lat": "50.1"},
        {"sample_accession": "SAMEA2", "study_accession": "PRJEB1", "lat": "60.2"},
    ]
    run_base = {
        "study_accession": "PRJEB1",
        "secondary_study_accession": "ERP1",
        "instrument_platform": "ILLUMINA",
        "scientific_name": "marine metagenome",
    }
    read_run = [
        {
            **run_base,
            "run_accession": "ERR0000001",
            "sample_accession": "SAMEA1",
            "library_strategy": "WGS",
            "library_source": "METAGENOMIC",
            "library_layout": "PAIRED",
            "read_count": "50",
            "fastq_ftp": ";".join(
                f"{{mirror}}/vol1/fastq/ERR000/ERR0000001/{p.name}" for p in files
            ),
            "fastq_md5": ";".join(hashlib.md5(p.read_bytes()).hexdigest() for p in files),
            "fastq_bytes": ";".join(str(p.stat().st_size) for p in files),
        },
        {
            **run_base,
            "run_accession": "ERR0000002",
            "sample_accession": "SAMEA2",
            "library_strategy": "RNA-Seq",
            "library_source": "TRANSCRIPTOMIC",
            "library_layout": "PAIRED",
            "read_count": "2000",
        },
        {
            **run_base,
            "run_accession": "ERR0000003",
            "sample_accession": "SAMEA2",
            "library_strategy": "AMPLICON",
            "library_source": "METAGENOMIC",
            "library_layout": "SINGLE",
            "read_count": "999",
        },
    ]
    for name, records in (("study", study), ("sample", sample), ("read_run", read_run)):
        (portal / f"{name}.json").write_text(json.dumps(records))
    return root


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return _write_data_dir(tmp_path / "mirror")


@pytest.fixture
def mirror(data_dir: Path) -> Iterator[MirrorServer]:
    with MirrorServer(data_dir, host="127.0.0.1", port=0) as m:
        yield m


def _search(m: MirrorServer, **params: str) -> requests.Response:
    return requests.get(f"{m.portal_url}/search", params=params, timeout=10)


def _runs(m: MirrorServer, query: str, **params: str) -> list[str]:
    resp = _search(
        m, result="read_run", query=query, fields="run_accession", format="json", **params
    )
    assert resp.status_code == 200, resp.text
    return [r["run_accession"] for r in resp.json()]


def test_portal_url(mirror: MirrorServer) -> None:
    assert mirror.portal_url == f"http://127.0.0.1:{mirror.port}/ena/portal/api"
    assert mirror.port > 0


def test_search_study_like_emgapi(mirror: MirrorServer) -> None:
    resp = _search(
        mirror,
        result="study",
        query='"(study_accession=ERP1 OR secondary_study_accession=ERP1)"',
        fields="study_title,secondary_study_accession",
        limit="10",
        format="json",
        dataPortal="metagenome",
    )
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.json() == [
        {
            "study_accession": "PRJEB1",
            "study_title": "Mock study",
            "secondary_study_accession": "ERP1",
        }
    ]


def test_only_requested_fields(data_dir: Path) -> None:
    with MirrorServer(data_dir, include_accession=False) as m:
        resp = _search(m, result="study", fields="study_title", format="json")
        assert resp.json() == [{"study_title": "Mock study"}, {"study_title": "Other study"}]


def test_query_grammar(mirror: MirrorServer) -> None:
    assert _runs(mirror, "library_strategy=WGS") == ["ERR0000001"]
    assert _runs(mirror, "library_strategy=wgs") == ["ERR0000001"]
    assert _runs(mirror, 'library_source="TRANSCRIPTOMIC"') == ["ERR0000002"]
    assert _runs(mirror, "not library_strategy=WGS") == ["ERR0000002", "ERR0000003"]
    q = "(study_accession=ERP1 OR secondary_study_accession=ERP1) AND NOT (library_layout=SINGLE)"
    assert _runs(mirror, q) == ["ERR0000001", "ERR0000002"]
    assert _runs(mirror, "read_count>=1000") == ["ERR0000002"]
    assert _runs(mirror, "read_count<100 or run_accession=ERR0000003") == [
        "ERR0000001",
        "ERR0000003",
    ]
    assert _runs(mirror, 'scientific_name="*metagenome"') == [
        "ERR0000001",
        "ERR0000002",
        "ERR0000003",
    ]
    assert _runs(mirror, "run_accession!=ERR0000001 AND library_layout=PAIRED") == ["ERR0000002"]
    # ';'-joined multi-valued fields match on any element
    resp = _search(mirror, result="study", query="secondary_study_accession=SRP9", format="json")
    assert resp.json() == [{"study_accession": "PRJEB2"}]


def test_query_parser_rejects_bad_queries() -> None:
    fields = ["a", "b"]
    for bad in ("a=", "(a=1", "a=1 b=2", "a=1 AND", "c=1", "a=1)", 'a="x', "foo(1)"):
        with pytest.raises(MirrorError):
            parse_query(bad, fields)
    pred = parse_query('"a=1 AND b=\\"x y\\""', fields)
    assert pred({"a": "1", "b": "x y"}) and not pred({"a": "1", "b": "x"})


def test_limit_offset_and_tsv(mirror: MirrorServer) -> None:
    assert _runs(mirror, "", limit="2") == ["ERR0000001", "ERR0000002"]
    assert _runs(mirror, "", limit="2", offset="1") == ["ERR0000002", "ERR0000003"]
    assert _runs(mirror, "", limit="0", offset="2") == ["ERR0000003"]
    resp = _search(mirror, result="read_run", fields="run_accession,library_layout", limit="2")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert resp.text == ("run_accession\tlibrary_layout\nERR0000001\tPAIRED\nERR0000002\tPAIRED\n")


def test_post_form(mirror: MirrorServer) -> None:
    resp = requests.post(
        f"{mirror.portal_url}/search",
        data={"result": "sample", "query": "lat>55", "fields": "lat", "format": "json"},
        timeout=10,
    )
    assert resp.status_code == 200
    assert resp.json() == [{"sample_accession": "SAMEA2", "lat": "60.2"}]


def test_fastq_ftp_placeholder_and_filereport(mirror: MirrorServer) -> None:
    for accession in ("PRJEB1", "ERP1", "SAMEA1", "ERR0000001"):
        resp = requests.get(
            f"{mirror.portal_url}/filereport",
            params={
                "accession": accession,
                "result": "read_run",
                "fields": "fastq_ftp,fastq_md5,library_layout",
                "format": "json",
            },
            timeout=10,
        )
        assert resp.status_code == 200
        rows = resp.json()
        assert rows[0]["run_accession"] == "ERR0000001"
        assert set(rows[0]) == {"run_accession", "fastq_ftp", "fastq_md5", "library_layout"}
        urls = rows[0]["fastq_ftp"].split(";")
        assert (
            urls[0] == f"127.0.0.1:{mirror.port}/vol1/fastq/ERR000/ERR0000001/ERR0000001_1.fastq.gz"
        )
    resp = requests.get(
        f"{mirror.portal_url}/filereport",
        params={"accession": "SAMEA2", "result": "read_run", "format": "json", "limit": "1"},
        timeout=10,
    )
    assert [r["run_accession"] for r in resp.json()] == ["ERR0000002"]
    assert set(resp.json()[0]) == {"run_accession", "fastq_ftp", "fastq_md5", "fastq_bytes"}


def test_return_fields(mirror: MirrorServer, data_dir: Path) -> None:
    resp = requests.get(
        f"{mirror.portal_url}/returnFields", params={"result": "read_run", "format": "json"}
    )
    cols = [r["columnId"] for r in resp.json()]
    assert all(set(r) == {"columnId", "description"} for r in resp.json())
    assert cols[0] == "run_accession"
    assert {"fastq_ftp", "library_source", "host_tax_id", "base_count"} <= set(cols)
    tsv = requests.get(f"{mirror.portal_url}/returnFields", params={"result": "study"}).text
    assert tsv.splitlines()[0] == "columnId\tdescription"
    assert "study_title" in tsv
    # base_count is an EnaRun field: valid even though no record has it
    resp = _search(mirror, result="read_run", fields="base_count", format="json", limit="1")
    assert resp.json() == [{"run_accession": "ERR0000001", "base_count": ""}]
    # an override file replaces the fields (picked up without a restart)
    (data_dir / "portal" / "return_fields.json").write_text(
        json.dumps({"study": ["study_accession", "study_title"]})
    )
    resp = _search(mirror, result="study", fields="center_name", format="json")
    assert resp.status_code == 400


def test_errors_name_the_culprit(mirror: MirrorServer) -> None:
    resp = _search(mirror, result="read_run", fields="run_accession,bogus_field", format="json")
    assert resp.status_code == 400
    assert "bogus_field" in resp.json()["message"]
    resp = _search(mirror, result="nonsense", format="json")
    assert resp.status_code == 400
    assert "nonsense" in resp.json()["message"]
    resp = _search(mirror, result="read_run", query="nofield=1", format="json")
    assert resp.status_code == 400
    assert "nofield" in resp.json()["message"]
    resp = _search(mirror, result="read_run", query="(run_accession=X", format="json")
    assert resp.status_code == 400
    assert requests.get(f"{mirror.portal_url}/nope", timeout=10).status_code == 404


def test_fastq_serving_and_range(mirror: MirrorServer, data_dir: Path) -> None:
    path = data_dir / "vol1/fastq/ERR000/ERR0000001/ERR0000001_1.fastq.gz"
    whole = path.read_bytes()
    url = f"{mirror.url}/vol1/fastq/ERR000/ERR0000001/ERR0000001_1.fastq.gz"
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 200
    assert resp.content == whole
    assert int(resp.headers["Content-Length"]) == len(whole)
    resp = requests.get(url, headers={"Range": "bytes=10-"}, timeout=10)
    assert resp.status_code == 206
    assert resp.content == whole[10:]
    assert resp.headers["Content-Range"] == f"bytes 10-{len(whole) - 1}/{len(whole)}"
    resp = requests.get(url, headers={"Range": f"bytes={len(whole)}-"}, timeout=10)
    assert resp.status_code == 416
    head = requests.head(url, timeout=10)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(whole)
    assert requests.get(f"{mirror.url}/vol1/fastq/missing.fq.gz", timeout=10).status_code == 404
    assert requests.get(f"{mirror.url}/vol1/../portal/study.json", timeout=10).status_code == 404


def test_faults_in_order_and_request_log(mirror: MirrorServer) -> None:
    mirror.add_fault(status=503, retry_after=1, count=2)
    mirror.add_fault(status=200, body="{not json")
    params = {"result": "study", "format": "json"}
    url = f"{mirror.portal_url}/search"
    first = requests.get(url, params=params, timeout=10)
    assert first.status_code == 503 and first.headers["Retry-After"] == "1"
    assert requests.get(url, params=params, timeout=10).status_code == 503
    bad = requests.get(url, params=params, timeout=10)
    assert bad.status_code == 200 and bad.text == "{not json"
    with pytest.raises(ValueError):
        bad.json()
    assert requests.get(url, params=params, timeout=10).status_code == 200
    assert mirror.faults == []

    log = requests.get(f"{mirror.url}/_mirror/requests", timeout=10).json()
    assert [e["status"] for e in log] == [503, 503, 200, 200]
    assert [e["fault"] for e in log] == [True, True, True, False]
    assert log[0]["time"] <= log[-1]["time"]
    assert all(e["path"].startswith("/ena/portal/api/search?result=study") for e in log)
    assert requests.delete(f"{mirror.url}/_mirror/requests", timeout=10).json() == []
    assert mirror.requests == []


def test_faults_over_http_delay_and_drop(mirror: MirrorServer) -> None:
    faults = [
        {"status": None, "delay": 0.5, "path_prefix": "/ena/portal/api/returnFields"},
        {"status": 0},
        {"status": 500, "count": 5},
    ]
    resp = requests.post(f"{mirror.url}/_mirror/faults", json=faults, timeout=10)
    assert resp.status_code == 200 and len(resp.json()) == 3
    started = time.monotonic()
    resp = requests.get(f"{mirror.portal_url}/returnFields", params={"result": "study"}, timeout=10)
    assert resp.status_code == 200 and time.monotonic() - started >= 0.5
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{mirror.portal_url}/search", params={"result": "study"}, timeout=10)
    assert _search(mirror, result="study").status_code == 500
    assert requests.delete(f"{mirror.url}/_mirror/faults", timeout=10).json() == []
    assert _search(mirror, result="study").status_code == 200
    mirror.add_fault(status=None, delay=2)
    with pytest.raises(requests.Timeout):
        requests.get(f"{mirror.portal_url}/search", params={"result": "study"}, timeout=0.3)


def test_corrupt_fastq(mirror: MirrorServer, data_dir: Path) -> None:
    url = f"{mirror.url}/vol1/fastq/ERR000/ERR0000001/ERR0000001_2.fastq.gz"
    mirror.add_fault(status=200, body=b"garbage", path_prefix="/vol1/")
    # portal requests are not affected by a /vol1/ fault
    assert _search(mirror, result="study").status_code == 200
    assert requests.get(url, timeout=10).content == b"garbage"
    good = (data_dir / "vol1/fastq/ERR000/ERR0000001/ERR0000001_2.fastq.gz").read_bytes()
    assert requests.get(url, timeout=10).content == good
    mirror.add_fault(status=204, path_prefix="/ena/portal/api/search")
    resp = _search(mirror, result="study", format="json")
    assert resp.status_code == 204 and resp.content == b""


def test_or_of_one_field_is_a_set_lookup_with_the_same_answers() -> None:
    fields = ["a", "b"]
    records = [{"a": v, "b": "x"} for v in ("ERR1", "err2", "ERR3;ERR9", "ERR4", "", "ERR10")]
    queries = {
        "a=ERR1 OR a=ERR2 OR a=ERR9": ["ERR1", "err2", "ERR3;ERR9"],
        "a=ERR1 OR a=ERR1*": ["ERR1", "ERR10"],  # a wildcard keeps the general path
        "a=ERR4 OR b=y": ["ERR4"],  # two fields: the general path
    }
    for query, expected in queries.items():
        pred = parse_query(query, fields)
        assert [r["a"] for r in records if pred(r)] == expected, query


def test_portal_answers_without_http(data_dir: Path) -> None:
    from mgnify_db.dev.mirror import PortalData, portal

    data = PortalData(data_dir)
    params = {"result": ["read_run"], "query": ["library_layout=SINGLE"], "fields": ["fastq_ftp"]}
    rows, fields, fmt = portal.answer(data, "search", params, host="h:1")
    assert (rows, fields, fmt) == (
        [{"run_accession": "ERR0000003", "fastq_ftp": ""}],
        ["run_accession", "fastq_ftp"],
        "tsv",
    )
    assert portal.render(rows, fields, fmt) == (
        b"run_accession\tfastq_ftp\nERR0000003\t\n",
        "text/plain; charset=utf-8",
    )
    with pytest.raises(MirrorError, match="Missing required parameter: result"):
        portal.answer(data, "search", {}, host="h:1")


def test_write_portal_is_picked_up_and_hidden_files_are_ignored(
    mirror: MirrorServer, data_dir: Path
) -> None:
    from mgnify_db.dev.mirror import write_portal

    # a write in progress (write_text_atomic's hidden temp file) is not a result
    (data_dir / "portal" / ".analysis.json.1.tmp.json").write_text("[{half")
    write_portal(data_dir, {"analysis": [{"analysis_accession": "ERZ1"}]})
    resp = requests.get(f"{mirror.portal_url}/results", params={"format": "json"}, timeout=10)
    assert [r["resultId"] for r in resp.json()] == ["analysis", "read_run", "sample", "study"]
    resp = _search(mirror, result="analysis", format="json")
    assert resp.json() == [{"analysis_accession": "ERZ1"}]


def test_keep_alive_requests_are_not_held_by_nagle(mirror: MirrorServer) -> None:
    # With Nagle on, each answer waited ~40 ms for the client's delayed ACK.
    session = requests.Session()
    started = time.monotonic()
    for _ in range(20):
        assert session.get(f"{mirror.portal_url}/search", params={"result": "study"}).ok
    assert time.monotonic() - started < 0.6


# -- private studies and Webin accounts (access.json)

HUB, HUB_PW = "dcc_test", "hub-pw"


@pytest.fixture
def private_mirror(data_dir: Path) -> Iterator[MirrorServer]:
    """The mirror with PRJEB2 private (held by data hub dcc_test), plus its own records."""
    from mgnify_db.dev.mirror import write_access

    portal = data_dir / "portal"
    for result, record in (
        ("sample", {"sample_accession": "SAMEA9", "study_accession": "PRJEB2"}),
        (
            "read_run",
            {
                "run_accession": "ERR0000009",
                "sample_accession": "SAMEA9",
                "study_accession": "PRJEB2",
                "secondary_study_accession": "ERP2;SRP9",
                "library_strategy": "WGS",
            },
        ),
    ):
        records = json.loads((portal / f"{result}.json").read_text())
        (portal / f"{result}.json").write_text(json.dumps([*records, record]))
    write_access(
        data_dir,
        {HUB: (HUB_PW, ["PRJEB2"]), "dcc_other": ("other-pw", [])},
        {"Webin-4242": "webin-pw"},
    )
    with MirrorServer(data_dir, port=0) as m:
        yield m


def _study_probe(m: MirrorServer, acc: str, auth=None) -> requests.Response:
    """emgapi-v2's visibility probe (fields=study_accession), anonymous or with Basic auth."""
    return requests.get(
        f"{m.portal_url}/search",
        params={
            "result": "study",
            "query": f'"(study_accession={acc} OR secondary_study_accession={acc})"',
            "fields": "study_accession",
            "limit": "",
            "format": "json",
            "dataPortal": "metagenome",
        },
        auth=auth,
        timeout=10,
    )


def test_a_private_study_is_answered_only_to_its_data_hub(private_mirror: MirrorServer) -> None:
    m = private_mirror
    # anonymously it does not exist: an empty list, as ENA answers (the fixture's "not public")
    for acc in ("PRJEB2", "ERP2", "SRP9"):
        resp = _study_probe(m, acc)
        assert resp.status_code == 200 and resp.json() == []
    assert _study_probe(m, "PRJEB1").json() == [{"study_accession": "PRJEB1"}]
    # ... nor its samples and runs, in any listing
    assert _runs(m, "") == ["ERR0000001", "ERR0000002", "ERR0000003"]
    anon = _search(m, result="sample", fields="sample_accession", format="json").json()
    assert "SAMEA9" not in {r["sample_accession"] for r in anon}
    resp = requests.get(
        f"{m.portal_url}/filereport",
        params={"accession": "ERR0000009", "result": "read_run", "format": "json"},
        timeout=10,
    )
    assert resp.json() == []
    # with the data hub's credentials: everything public, and its private study
    assert _study_probe(m, "SRP9", (HUB, HUB_PW)).json() == [{"study_accession": "PRJEB2"}]
    resp = requests.get(
        f"{m.portal_url}/search",
        params={"result": "read_run", "fields": "run_accession", "format": "json"},
        auth=(HUB, HUB_PW),
        timeout=10,
    )
    assert [r["run_accession"] for r in resp.json()] == [
        "ERR0000001",
        "ERR0000002",
        "ERR0000003",
        "ERR0000009",
    ]
    # another data hub sees only what is public
    assert _study_probe(m, "PRJEB2", ("dcc_other", "other-pw")).json() == []


def test_wrong_credentials_are_a_401(private_mirror: MirrorServer) -> None:
    m = private_mirror
    for auth in ((HUB, "wrong"), ("nobody", HUB_PW), ("", "")):
        resp = _study_probe(m, "PRJEB1", auth)
        assert resp.status_code == 401, auth
        assert resp.json() == {"message": "Invalid credentials"}
        assert resp.headers["WWW-Authenticate"] == 'Basic realm="ENA"'
    # the request log names the user each request presented
    assert [(r["user"], r["status"]) for r in m.requests] == [
        (HUB, 401),
        ("nobody", 401),
        ("", 401),
    ]
    _study_probe(m, "PRJEB1")
    assert m.requests[-1]["user"] is None


def test_access_changes_are_picked_up(private_mirror: MirrorServer, data_dir: Path) -> None:
    from mgnify_db.dev.mirror import ACCESS_FILE, write_access

    assert _study_probe(private_mirror, "PRJEB2").json() == []
    write_access(data_dir, {HUB: (HUB_PW, [])})  # the embargo ended
    assert _study_probe(private_mirror, "PRJEB2").json() == [{"study_accession": "PRJEB2"}]
    (data_dir / ACCESS_FILE).unlink()  # no access.json: everything public, no account
    assert _study_probe(private_mirror, "PRJEB2").json() == [{"study_accession": "PRJEB2"}]
    assert _study_probe(private_mirror, "PRJEB2", (HUB, HUB_PW)).status_code == 401


def test_webin_auth(private_mirror: MirrorServer) -> None:
    url = private_mirror.url + "/ena/submit/webin/auth"

    def post(**body) -> requests.Response:
        return requests.post(url, json=body, timeout=10)

    ok = post(authRealms=["ENA", "EGA"], username="webin-4242", password="webin-pw")
    assert ok.status_code == 200
    assert ok.json() == {"authenticated": True, "principle": "Webin-4242", "authRealms": ["ENA"]}
    for bad in (
        {"username": "Webin-4242", "password": "nope"},
        {"username": "Webin-1", "password": "webin-pw"},
        {"username": HUB, "password": HUB_PW},  # a data hub is not a Webin account
    ):
        resp = post(authRealms=["ENA"], **bad)
        assert resp.status_code == 401, bad
        assert "message" in resp.json()
    assert post(authRealms=["EGA"], username="Webin-4242", password="webin-pw").status_code == 401
    assert post(username="Webin-4242", password="webin-pw").status_code == 400
    assert requests.post(url, data="{nope", timeout=10).status_code == 400
    assert requests.get(url, timeout=10).status_code == 405


def test_a_malformed_access_file_fails_at_start(data_dir: Path) -> None:
    (data_dir / "access.json").write_text(json.dumps({"data_hubs": {"x": {"studies": []}}}))
    with pytest.raises(ValueError, match="data_hubs.x needs a password"):
        MirrorServer(data_dir, port=0)
