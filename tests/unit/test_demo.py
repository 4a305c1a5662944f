"""The demo study: built from real genomes with ART, reproducible, served by the mirror."""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from pathlib import Path

import pytest
import requests

from mgnify_db.dev import demo
from mgnify_db.dev.demo import DemoBuildError, build_demo, debian_file, default_cache_dir
from mgnify_db.dev.demo import spec as demo_spec
from mgnify_db.dev.demo.errors import run_tool
from mgnify_db.dev.mirror import MirrorServer
from mgnify_db.ena.models import EnaRun

SCALE = 0.5
STUDY = "PRJEB00001"


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """Genomes are fetched once per machine (``$MGNIFY_CACHE`` or ~/.cache/mgnify-snake)."""
    return default_cache_dir()


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo") / "ena", cache_dir, scale=SCALE)


def _runs(root: Path) -> dict[str, dict[str, str]]:
    records = json.loads((root / "portal" / "read_run.json").read_text())
    return {r["run_accession"]: r for r in records}


def _files(root: Path) -> dict[str, str]:
    """md5 of every FASTQ, by path relative to root."""
    return {
        str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted((root / "vol1").rglob("*.fastq.gz"))
    }


def test_runs_and_records_match_files(demo_dir: Path) -> None:
    runs = _runs(demo_dir)
    assert sorted(runs) == [f"ERR000000{i}" for i in range(1, 6)]
    for acc, rec in runs.items():
        run = EnaRun.model_validate(rec)
        assert run.study_accession == STUDY and run.secondary_study_accession == "ERP000001"
        assert rec["instrument_model"] == "Illumina HiSeq 2500"
        assert rec["scientific_name"] == "marine metagenome"
        files = run.fastq_files
        assert len(files) == (2 if run.library_layout == "PAIRED" else 1)
        for f in files:
            assert f.url.startswith("{mirror}/vol1/fastq/ERR000/")
            local = demo_dir / f.url.split("/", 1)[1]
            assert local.stat().st_size == f.bytes
            assert hashlib.md5(local.read_bytes()).hexdigest() == f.md5
        truth = (demo_dir / "truth" / f"{acc}.tsv").read_text().splitlines()[1:]
        assert sum(int(line.split("\t")[3]) for line in truth) == run.read_count
        mates = len(files)
        assert run.base_count == run.read_count * 150 * mates

    assert runs["ERR0000003"]["library_layout"] == "SINGLE"
    assert runs["ERR0000003"]["fastq_ftp"].endswith("/ERR0000003/ERR0000003.fastq.gz")
    assert runs["ERR0000004"]["library_source"] == "TRANSCRIPTOMIC"
    assert runs["ERR0000004"]["library_strategy"] == "RNA-Seq"
    assert runs["ERR0000005"]["read_count"] == "300"  # fails the >= 1000 reads QC gate
    assert int(runs["ERR0000001"]["read_count"]) > 1000
    assert int(runs["ERR0000003"]["read_count"]) > 1000
    truth2 = (demo_dir / "truth" / "ERR0000002.tsv").read_text()
    assert "NC_013790.1" in truth2 and "NC_001416.1" in truth2


def test_reads_name_their_genome(demo_dir: Path) -> None:

    path = demo_dir / "vol1/fastq/ERR000/ERR0000001"
    with gzip.open(path / "ERR0000001_1.fastq.gz", "rt") as r1:
        with gzip.open(path / "ERR0000001_2.fastq.gz", "rt") as r2:
            h1, h2 = r1.readline().split(), r2.readline().split()
    assert h1[0] == h2[0] == "@ERR0000001.1"
    assert h1[1].endswith("/1") and h2[1].endswith("/2")
    assert h1[1].rsplit("-", 1)[0] in ("NC_001416.1", "NZ_LN831026.1")


def test_samples_and_study(demo_dir: Path) -> None:
    study = json.loads((demo_dir / "portal" / "study.json").read_text())
    assert study[0]["study_accession"] == STUDY
    assert study[0]["center_name"] == "MGNIFY-SNAKE"
    samples = json.loads((demo_dir / "portal" / "sample.json").read_text())
    assert [s["sample_accession"] for s in samples] == [f"SAMEA0000000{i}" for i in (1, 2, 3)]
    for s in samples:
        assert s["tax_id"] == "408172" and s["scientific_name"] == "marine metagenome"
        assert s["lat"] and s["lon"] and s["collection_date"] and s["environment_biome"]


def test_rebuild_is_identical_and_noop(demo_dir: Path, cache_dir: Path, tmp_path: Path) -> None:
    stamp = demo_dir / demo.STAMP_NAME
    mtime = stamp.stat().st_mtime_ns
    started = time.monotonic()
    assert build_demo(demo_dir, cache_dir, scale=SCALE) == demo_dir
    assert time.monotonic() - started < 1.0
    assert stamp.stat().st_mtime_ns == mtime

    # an incomplete directory (no stamp, e.g. a killed build) is replaced
    other = tmp_path / "again"
    other.mkdir()
    (other / "junk").write_text("half a build")
    build_demo(other, cache_dir, scale=SCALE)
    assert not (other / "junk").exists()
    assert _files(other) == _files(demo_dir)
    assert _runs(other) == _runs(demo_dir)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_mirror_serves_demo(demo_dir: Path) -> None:
    with MirrorServer(demo_dir) as m:
        resp = requests.get(
            f"{m.portal_url}/search",
            params={
                "result": "read_run",
                "query": f'"(study_accession={STUDY} OR secondary_study_accession={STUDY})"',
                "fields": "fastq_ftp,fastq_md5,library_source",
                "format": "json",
            },
            timeout=10,
        )
        rows = resp.json()
        assert len(rows) == 5
        row = next(r for r in rows if r["run_accession"] == "ERR0000005")
        url = row["fastq_ftp"].split(";")[0]
        assert url.startswith(f"127.0.0.1:{m.port}/vol1/")
        data = requests.get(f"http://{url}", timeout=10).content
        assert hashlib.md5(data).hexdigest() == row["fastq_md5"].split(";")[0]


def test_missing_spec_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(demo_spec, "SPEC_DIR", tmp_path / "nowhere")
    with pytest.raises(DemoBuildError, match="demo/ena"):
        build_demo(tmp_path / "out")


def test_build_with_a_relative_path(tmp_path, monkeypatch, cache_dir):
    monkeypatch.chdir(tmp_path)
    out = build_demo(Path("rel") / "ena", cache_dir=cache_dir, scale=0.05)
    assert (tmp_path / "rel" / "ena" / "portal" / "read_run.json").exists()
    assert out.is_absolute()


def test_build_matches_the_files_in_a_fresh_directory(demo_dir: Path) -> None:
    """Every FASTQ the records name exists, and nothing else is under vol1/."""
    named = {
        f.split("/", 1)[1] for rec in _runs(demo_dir).values() for f in rec["fastq_ftp"].split(";")
    }
    assert named == set(_files(demo_dir))


def test_tool_failures_name_the_tool_and_the_fix(tmp_path: Path) -> None:
    log = tmp_path / "tool.log"
    with pytest.raises(DemoBuildError, match=r"(?s)could not frob: false failed .*; install frob"):
        run_tool(["false"], tmp_path, log, "could not frob", "install frob")
    assert "$ false" in log.read_text()
    with pytest.raises(DemoBuildError, match="no-such-tool-x not found on PATH"):
        run_tool(["no-such-tool-x"], tmp_path, log, "could not frob", "install frob")


def test_debian_file_prefers_the_installed_copy(tmp_path: Path) -> None:
    # /etc/debian_version ships in base-files, installed everywhere: no download, no cache
    assert debian_file("base-files", "etc/debian_version", tmp_path) == Path("/etc/debian_version")
    assert not (tmp_path / "downloads").exists()
