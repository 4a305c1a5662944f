"""The ENA client against the project's mirror on loopback (downloads: test_download.py)."""

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from mgnify_db.config import EnaSettings
from mgnify_db.dev.mirror import MirrorServer
from mgnify_db.ena.client import EnaClient, EnaError, fetch_study_metadata

N_RUNS = 25


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
    for name, rows in (("study", [study]), ("sample", samples), ("read_run", runs)):
        (d / "portal" / f"{name}.json").write_text(json.dumps(rows))
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
