"""The demo studies (the public PRJEB00001 and the private PRJEB77777): built from real genomes
with ART, reproducible, served by the mirror (the private one only to its data hub)."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import time
from pathlib import Path

import pytest
import requests
from support import DEMO_SCALE

from mgnify_db.dev import demo
from mgnify_db.dev.demo import DemoBuildError, build_demo, debian_file, default_cache_dir
from mgnify_db.dev.demo import spec as demo_spec
from mgnify_db.dev.demo.errors import run_tool
from mgnify_db.dev.mirror import MirrorServer
from mgnify_db.ena.models import EnaRun

SCALE = DEMO_SCALE
STUDY = "PRJEB00001"
PRIVATE = "PRJEB77777"
SCIENCE = "PRJEB00002"
AMPLICON = "PRJEB00003"
RAW_READS = "PRJEB00004"
MARKER = "PRIVATE-MARKER"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """Genomes are fetched once per machine (``$MGNIFY_CACHE`` or ~/.cache/mgnify-snake)."""
    return default_cache_dir()


@pytest.fixture(scope="session")
def demo_dir(demo_data: Path) -> Path:
    """The session's demo build (tests/conftest.py), at this module's scale."""
    assert json.loads((demo_data / demo.STAMP_NAME).read_text())["scale"] == SCALE
    return demo_data


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
    assert sorted(runs) == [f"ERR000000{i}" for i in range(1, 6)] + [
        "ERR0000201",
        "ERR0000202",
        "ERR0000203",
        "ERR0000204",
        "ERR0000301",
        "ERR0000401",
        "ERR7777701",
        "ERR7777702",
    ]
    for acc in ("ERR0000201", "ERR0000202", "ERR0000203", "ERR0000204"):
        assert EnaRun.model_validate(runs.pop(acc)).study_accession == SCIENCE
    assert EnaRun.model_validate(runs.pop("ERR0000401")).study_accession == RAW_READS
    amplicon = EnaRun.model_validate(runs.pop("ERR0000301"))
    assert (amplicon.study_accession, amplicon.library_strategy) == ("PRJEB00003", "AMPLICON")
    rows = (demo_dir / "truth" / "ERR0000301.tsv").read_text().splitlines()[1:]
    assert sum(int(line.split("\t")[4]) for line in rows) == amplicon.read_count
    assert amplicon.base_count == amplicon.read_count * 250 * 2  # MiSeq 2x250
    for acc, rec in runs.items():
        run = EnaRun.model_validate(rec)
        public = acc.startswith("ERR000")
        assert (run.study_accession, run.secondary_study_accession) == (
            (STUDY, "ERP000001") if public else (PRIVATE, "ERP777777")
        )
        assert rec["instrument_model"] == "Illumina HiSeq 2500"
        assert rec["scientific_name"] == (
            "marine metagenome" if public else "wastewater metagenome"
        )
        files = run.fastq_files
        assert len(files) == (2 if run.library_layout == "PAIRED" else 1)
        for f in files:
            assert f.url.startswith(f"{{mirror}}/vol1/fastq/{acc[:6]}/")
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
    assert [s["study_accession"] for s in study] == [STUDY, AMPLICON, PRIVATE, RAW_READS, SCIENCE]
    assert study[0]["center_name"] == "MGNIFY-SNAKE"
    samples = json.loads((demo_dir / "portal" / "sample.json").read_text())
    assert [s["sample_accession"] for s in samples] == [
        *(f"SAMEA0000000{i}" for i in (1, 2, 3)),
        "SAMEA00000301",
        "SAMEA77777701",
        "SAMEA00000401",
        "SAMEA00000201",
    ]
    for s in samples[:3]:
        assert s["tax_id"] == "408172" and s["scientific_name"] == "marine metagenome"
        assert s["lat"] and s["lon"] and s["collection_date"] and s["environment_biome"]


def test_the_private_study_is_small_and_marked(demo_dir: Path) -> None:
    from mgnify_db.dev.mirror import load_access

    studies = json.loads((demo_dir / "portal" / "study.json").read_text())
    (study,) = [s for s in studies if s["study_accession"] == PRIVATE]
    assert MARKER in study["study_title"] and MARKER in study["study_description"]
    assert study["secondary_study_accession"] == "ERP777777" and not study["first_public"]
    records = [
        r
        for result in ("sample", "read_run")
        for r in json.loads((demo_dir / "portal" / f"{result}.json").read_text())
        if r["study_accession"] == PRIVATE
    ]
    assert [r.get("run_accession", r["sample_accession"]) for r in records] == [
        "SAMEA77777701",
        "ERR7777701",
        "ERR7777702",
    ]
    assert all(MARKER in r["sample_title"] for r in records)
    runs = _runs(demo_dir)
    assert runs["ERR7777701"]["read_count"] == "1500"  # fixed: the e2e tests assemble it
    assert runs["ERR7777702"]["library_strategy"] == "AMPLICON"  # skipped: no job at all
    access = load_access(demo_dir)
    assert access.private_studies == {PRIVATE: "dcc_mgnify_demo"}
    assert access.webin_account("Webin-77777", "demo-webin-password-not-a-secret") == "Webin-77777"


def test_demo_configs_are_valid_and_agree_with_the_mirror() -> None:
    """Both demo study files load with the demo config (publications and super studies
    described), and the data hub and Webin account are those of demo/ena/private."""
    import yaml

    from mgnify_db.config import check_references, deep_merge, load_studies, parse_global

    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg = parse_global(
        deep_merge(base, yaml.safe_load((REPO / "demo" / "config.yaml").read_text()))
    )
    studies = load_studies(REPO / cfg.studies_dir)
    assert list(studies) == [STUDY, SCIENCE, AMPLICON, RAW_READS, PRIVATE]
    check_references(cfg, studies)
    public, private = studies[STUDY], studies[PRIVATE]
    assert not public.is_private and private.is_private
    spec = demo.load_spec()
    hub = spec.private_studies[0]
    assert hub.accession == PRIVATE and private.webin_owner == hub.webin[0] == "Webin-77777"
    assert cfg.ena.dcc_username == hub.data_hub[0]
    (slug,) = public.super_studies
    assert private.super_studies == [slug]
    assert cfg.super_studies[slug].flagship_studies == [STUDY]
    assert public.publications == private.publications == list(cfg.publications)
    # scripts/run-demo gives the workflow the demo data hub's password
    env = demo.dcc_environment(spec)
    assert (
        f"export MGNIFY_ENA_DCC_PASSWORD={env['MGNIFY_ENA_DCC_PASSWORD']}\n"
        in (REPO / "scripts" / "run-demo").read_text()
    )


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

        # the private study: only with the demo data hub's credentials
        env = demo.dcc_environment()
        hub = (env["MGNIFY_ENA_DCC_USERNAME"], env["MGNIFY_ENA_DCC_PASSWORD"])
        params = {"result": "study", "query": f"study_accession={PRIVATE}", "format": "json"}
        url = f"{m.portal_url}/search"
        assert requests.get(url, params=params, timeout=10).json() == []
        (found,) = requests.get(url, params=params, auth=hub, timeout=10).json()
        assert found == {"study_accession": PRIVATE}
        # its owner's Webin account answers the mirror's Webin auth service
        body = {"authRealms": ["ENA"], "username": "Webin-77777"}
        auth = f"{m.url}/ena/submit/webin/auth"
        ok = requests.post(
            auth, json=body | {"password": "demo-webin-password-not-a-secret"}, timeout=10
        )
        assert ok.status_code == 200
        assert requests.post(auth, json=body | {"password": hub[1]}, timeout=10).status_code == 401


def test_missing_spec_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(demo_spec, "SPEC_DIR", tmp_path / "nowhere")
    with pytest.raises(DemoBuildError, match="demo/ena"):
        build_demo(tmp_path / "out")


def test_build_with_a_relative_path(tmp_path, monkeypatch, cache_dir):
    # the public study alone (its subdirectories' studies left out: quicker, same code path)
    spec = tmp_path / "spec"
    spec.mkdir()
    for name in ("study.json", "samples.json", "runs.yaml"):
        shutil.copyfile(demo.spec.SPEC_DIR / name, spec / name)
    monkeypatch.setattr(demo.spec, "SPEC_DIR", spec)
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


def test_references_config_overrides_config_yaml_urls(demo_dir: Path, tmp_path: Path) -> None:
    """scripts/run-demo's extra config file, merged over config/config.yaml (key by key, as
    Snakemake merges config files), names the demo's files and none of the default URLs."""
    import yaml

    from mgnify_db.config import load_global

    written = demo.write_references_config(demo_dir, tmp_path / "references.yaml")
    cfg = load_global(
        Path(__file__).resolve().parents[2] / "config" / "config.yaml",
        yaml.safe_load(written.read_text()),
    )
    for name in ("pfam", "rfam", "ssu", "lsu"):
        source = getattr(cfg.references, name)
        assert source.url is None and Path(source.path).is_file(), name
    assert cfg.references.kraken2 is not None and cfg.references.decontamination.genomes


def test_lsu_records_take_their_genus_lineage_from_the_16s_file(tmp_path: Path) -> None:
    """SILVA's LSU titles name the organism only; the demo's LSU reference takes the lineage of
    the organism's genus from the gold 16S file, and keeps only bacteria and archaea."""
    from mgnify_db.dev.demo.references import genus_lineages, lsu_records
    from mgnify_db.tools.sintax import _parse_lineage_header

    gold = tmp_path / "gold.fasta"
    gold.write_text(
        ">1\tEscherichia coli K-12\tids\tBacteria; Proteobacteria; Gammaproteobacteria;"
        " Enterobacteriales; Enterobacteriaceae; Escherichia\nACGT\n"
        ">2\tEscherichia albertii\tids\tBacteria; X; X; X; X; Escherichia\nACGT\n"
        ">3\tPlasmodium x\tids\tEukaryota; A; B; C; D; Plasmodium\nACGT\n"
    )
    lineages = genus_lineages(gold)
    assert lineages["Escherichia"].endswith("Enterobacteriaceae; Escherichia")  # first wins
    records = list(
        lsu_records(
            [
                ("gb|CP000001| Escherichia coli O157:H7 str. X, complete genome. 2904 bp ", "AC"),
                ("gb|AB000002| Plasmodium falciparum 28S rRNA. 3000 bp ", "GG"),
                ("gb|AB000003| uncultured bacterium clone 7. 2000 bp ", "TT"),
                ("gb|AY000004| Escherichia plantae 26S ribosomal RNA gene. 3300 bp ", "CC"),
                ("gb|CP000001| Escherichia coli O157:H7 str. X, complete genome. 2904 bp ", "AG"),
            ],
            lineages,
        )
    )
    assert [seq for _, seq in records] == ["AC", "AG"]  # no eukaryote homonym (26S)
    assert [h.split("\t")[0] for h, _ in records] == ["CP000001", "CP000001.2"]
    label, names = _parse_lineage_header(records[0][0])
    assert label == "CP000001"
    assert names["genus"] == "Escherichia" and names["species"] == "Escherichia coli"
    assert names["family"] == "Enterobacteriaceae"
