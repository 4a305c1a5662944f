"""Synthetic studies for scale tests: ENA-shaped accessions, served by the mirror, paginated."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import pytest
import requests

from mgnify_db.config import EnaSettings
from mgnify_db.dev.mirror import MirrorServer
from mgnify_db.dev.synthetic import write_synthetic_study
from mgnify_db.ena.client import EnaClient, fetch_study_metadata
from mgnify_db.ena.eligibility import decide_all

STUDY = "PRJEB90001"


def _records(root: Path, result: str) -> list[dict[str, str]]:
    return json.loads((root / "portal" / f"{result}.json").read_text())


def test_accessions_and_files(tmp_path: Path) -> None:
    root = write_synthetic_study(tmp_path / "ena", STUDY, 25, seed=3, fastq=True)
    (study,) = _records(root, "study")
    assert study["study_accession"] == STUDY
    assert re.fullmatch(r"ERP\d{6,}", study["secondary_study_accession"])
    runs = _records(root, "read_run")
    assert len(runs) == len({r["run_accession"] for r in runs}) == 25
    for run in runs:
        assert re.fullmatch(r"ERR\d{6,}", run["run_accession"])
        assert re.fullmatch(r"ERX\d{6,}", run["experiment_accession"])
        assert re.fullmatch(r"SAMEA\d+", run["sample_accession"])
        assert re.fullmatch(r"ERS\d{6,}", run["secondary_sample_accession"])
        assert (run["library_strategy"], run["library_source"]) == ("WGS", "METAGENOMIC")
        urls = run["fastq_ftp"].split(";")
        assert [u.rsplit("_", 1)[1] for u in urls] == ["1.fastq.gz", "2.fastq.gz"]
        for url, md5, size in zip(
            urls, run["fastq_md5"].split(";"), run["fastq_bytes"].split(";"), strict=True
        ):
            data = (root / url.split("/", 1)[1]).read_bytes()
            assert hashlib.md5(data).hexdigest() == md5 and len(data) == int(size)
    # the same arguments give the same bytes
    again = write_synthetic_study(tmp_path / "again", STUDY, 25, seed=3)
    for result in ("study", "sample", "read_run"):
        assert _records(again, result) == _records(root, result)


def test_mirror_serves_it_paginated_and_the_client_reads_all(tmp_path: Path) -> None:
    n = 1203
    root = write_synthetic_study(tmp_path / "ena", STUDY, n, samples_per_run=0.5)
    assert not (root / "vol1").exists()
    with MirrorServer(root) as mirror:
        page = requests.get(
            f"{mirror.portal_url}/search",
            params={"result": "read_run", "fields": "run_accession", "format": "json"}
            | {"limit": "10", "offset": str(n - 3)},
            timeout=10,
        ).json()
        assert [r["run_accession"] for r in page] == [
            f"ERR90001{i:06d}" for i in range(n - 2, n + 1)
        ]
        mirror.clear_requests()
        settings = EnaSettings(portal_url=mirror.portal_url, page_size=500)
        meta = fetch_study_metadata(EnaClient(settings), STUDY)
        run_pages = [
            r["path"]
            for r in mirror.requests
            if r["path"].startswith("/ena/portal/api/search?result=read_run")
        ]
    assert len(meta.runs) == n
    assert len(meta.samples) == round(n * 0.5)
    assert meta.missing_fields == {}
    assert [re.search(r"offset=(\d+)", p).group(1) for p in run_pages] == ["0", "500", "1000"]
    assert all(d.eligible for d in decide_all(meta.runs, _study()))


def _study():
    from mgnify_db.config import StudyConfig

    return StudyConfig(accession=STUDY, biome="root:Environmental:Aquatic:Marine")


def test_single_end_runs(tmp_path: Path) -> None:
    root = write_synthetic_study(tmp_path / "ena", "PRJEB7", 3, paired=False, reads=10, fastq=True)
    runs = _records(root, "read_run")
    assert [r["run_accession"] for r in runs] == ["ERR7000001", "ERR7000002", "ERR7000003"]
    assert all(r["library_layout"] == "SINGLE" and ";" not in r["fastq_ftp"] for r in runs)
    assert runs[0]["read_count"] == "10" and runs[0]["base_count"] == "1000"


def test_five_thousand_runs_are_quick(tmp_path: Path) -> None:
    started = time.monotonic()
    write_synthetic_study(tmp_path / "ena", STUDY, 5000)
    assert time.monotonic() - started < 5  # ~0.3 s on an idle 2-CPU machine
    assert len(_records(tmp_path / "ena", "read_run")) == 5000


@pytest.mark.parametrize(
    "kwargs",
    [
        {"accession": "ERP1", "n_runs": 1},
        {"accession": STUDY, "n_runs": 0},
        {"accession": STUDY, "n_runs": 1, "samples_per_run": 2},
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        write_synthetic_study(tmp_path, **kwargs)
