"""Session fixtures: the demo's ENA mirror data, the mirror, one demo workflow run, Datasette."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import support
from support import (
    AMPLICON_STUDY,
    DEMO_SCALE,
    PG_SCRIPT,
    RAW_READS_STUDY,
    SCIENCE_STUDY,
    SITE_API_SECRET,
    SITE_TOKEN,
    SLURM_SCRIPT,
    free_port,
    snakemake,
    studies_dir,
    tool,
    write_workdir,
)


@pytest.fixture(scope="session", autouse=True)
def references_cache(tmp_path_factory) -> Path:
    """Reference databases built once this session, seeded into every new working dir
    (support.seed_references)."""
    cache = tmp_path_factory.mktemp("references")
    support.REFERENCES_CACHE[:] = [cache]
    yield cache
    support.REFERENCES_CACHE.clear()


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> Path:
    from mgnify_db.dev.demo import build_demo

    return build_demo(tmp_path_factory.mktemp("demo") / "ena", scale=DEMO_SCALE)


@pytest.fixture(scope="session")
def mirror(demo_data):
    from mgnify_db.dev.mirror import MirrorServer

    with MirrorServer(demo_data, host="127.0.0.1", port=0) as m:
        yield m


@pytest.fixture(scope="session")
def slurm_cluster():
    if os.geteuid() != 0:
        pytest.skip("the Slurm cluster is started as root (scripts/slurm-cluster start)")
    if not shutil.which("slurmctld") and not shutil.which("apt-get"):
        pytest.skip("Slurm is not installed and there is no apt-get to install it")
    if not shutil.which("timeout"):
        pytest.skip("coreutils timeout is needed to bound snakemake runs")
    running = (
        subprocess.run([SLURM_SCRIPT, "status"], capture_output=True, text=True).returncode == 0
    )
    started_here = False
    if not running:
        proc = subprocess.run([SLURM_SCRIPT, "start"], capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            pytest.fail(f"slurm-cluster start failed:\n{proc.stdout}\n{proc.stderr}")
        started_here = True
    yield
    if started_here:
        subprocess.run([SLURM_SCRIPT, "stop"], capture_output=True, timeout=300)


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL server's URL (its `postgres` database): MGNIFY_TEST_POSTGRES, else a server
    started here with scripts/postgres (fsync off; stopped and removed at the end). Without
    PostgreSQL a local run skips; CI (CI=true) fails instead, so a missing install never
    passes unnoticed."""
    if url := os.environ.get("MGNIFY_TEST_POSTGRES"):
        yield url
        return
    # not under pytest's tmp dir: the postgres user cannot reach /tmp/pytest-of-root
    directory = Path("/var/tmp") / f"mgnify-postgres-test-{os.getpid()}"
    env = {**os.environ, "MGNIFY_PG_DIR": str(directory), "MGNIFY_PG_FAST": "1"}
    env |= {"MGNIFY_PG_PORT": str(free_port()), "MGNIFY_PG_DB": "postgres"}
    proc = subprocess.run(
        [PG_SCRIPT, "start"], capture_output=True, text=True, env=env, timeout=600
    )
    if proc.returncode != 0:
        message = f"scripts/postgres start failed: {proc.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield proc.stdout.strip()
    finally:
        subprocess.run([PG_SCRIPT, "stop"], capture_output=True, env=env, timeout=120)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory, mirror) -> Path:
    """The demo studies (the public PRJEB00001 and the private PRJEB77777, read with the demo's
    data-hub account) run once with the local executor (shared by the e2e and Slurm tests)."""
    # it builds its own references: the demo's run is the one whose every rule is checked
    workdir = write_workdir(tmp_path_factory.mktemp("work"), mirror.portal_url, seed=False)
    proc = snakemake(workdir)
    assert proc.returncode == 0, proc.stderr[-4000:]
    support.keep_references(workdir)
    return workdir


@pytest.fixture(scope="session")
def demo_run_pg(tmp_path_factory, mirror, postgres_url, demo_run) -> Path:
    """The demo again, with its catalogue in PostgreSQL (`catalogue: postgresql://...`): loads
    side by side, publish exporting catalogue.db. After demo_run, whose references it reuses."""
    workdir = tmp_path_factory.mktemp("work-pg")
    url = support.new_database(postgres_url, "demo")
    write_workdir(workdir, mirror.portal_url, catalogue=url)
    proc = snakemake(workdir)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return workdir


@pytest.fixture(scope="session")
def science_run(tmp_path_factory, mirror) -> Path:
    """The science studies (PRJEB00002: a community with known truth and a yeast host;
    PRJEB00003: 16S amplicons of a known community; PRJEB00004: shotgun reads analysed without
    assembly) run once with the local executor: the proof tests (tests/science) score them."""
    workdir = tmp_path_factory.mktemp("science")
    dirs = studies_dir(workdir, (SCIENCE_STUDY, AMPLICON_STUDY, RAW_READS_STUDY))
    write_workdir(workdir, mirror.portal_url, studies_dir=str(dirs))
    proc = snakemake(workdir)
    assert proc.returncode == 0, proc.stderr[-4000:]
    support.keep_references(workdir)
    return workdir


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def store_kind(request) -> str:
    """The catalogue store a test runs on: each test that asks is run on both."""
    return request.param


@pytest.fixture(scope="session")
def demo_workdir(store_kind, request) -> Path:
    """The demo's working dir with its catalogue in `store_kind`."""
    return request.getfixturevalue("demo_run" if store_kind == "sqlite" else "demo_run_pg")


@pytest.fixture(scope="session")
def site(demo_workdir, store_kind, mirror):
    """`mgnify-db serve` over the demo catalogue, on a free port: its base URL. API logins
    are checked by the mirror's Webin service (the demo's owner: DEMO_WEBIN_ACCOUNT). With
    PostgreSQL it serves what the config names (catalogue.db exported from the store)."""
    import urllib.request

    from mgnify_db.dev.mirror.access import WEBIN_AUTH_PATH

    port = free_port()
    catalogue = ["results/catalogue.db"] if store_kind == "sqlite" else []
    server = subprocess.Popen(
        [tool("mgnify-db"), "serve", *catalogue, "--port", str(port)],
        cwd=demo_workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={
            **os.environ,
            "MGNIFY_CURATOR_TOKEN": SITE_TOKEN,
            "MGNIFY_FILES_SECRET": "site-secret",
            "MGNIFY_API_SECRET": SITE_API_SECRET,
            "MGNIFY_ENA_WEBIN_AUTH_URL": mirror.url + WEBIN_AUTH_PATH,
        },
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(base, timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("datasette did not answer")
        yield base
    finally:
        server.terminate()
        server.wait(10)
