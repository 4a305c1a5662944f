"""Test helpers shared by every room of the suite (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import httpx

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Tests build the demo at a lower coverage: same genomes and runs, half the reads.
SITE_TOKEN = "demo-site-curator-token"  # the `site` fixture's curator token
SITE_API_SECRET = "site-api-secret-for-tests-0123456789"  # the `site` fixture's token secret
DEMO_SCALE = float(os.environ.get("MGNIFY_TEST_DEMO_SCALE", "0.5"))


def _demo_dcc_password() -> str:
    """The demo data hub's throwaway password (demo/ena/private/access.yaml), which the workflow
    reads from MGNIFY_ENA_DCC_PASSWORD to fetch the private demo study."""
    from mgnify_db.dev.demo import dcc_environment

    return dcc_environment()["MGNIFY_ENA_DCC_PASSWORD"]


DEMO_DCC_PASSWORD = _demo_dcc_password()


def _demo_webin() -> tuple[str, str]:
    """(account, password) of the private demo study's owner (demo/ena/private/access.yaml:
    Webin-77777), which the mirror's Webin service accepts."""
    from mgnify_db.dev.demo import load_spec

    (owner,) = {s.webin for s in load_spec().private_studies if s.webin}
    return owner


DEMO_WEBIN_ACCOUNT, DEMO_WEBIN_PASSWORD = _demo_webin()
# A broker login of the demo owner: its own account at ENA, with its own password.
DEMO_BROKER_LOGIN, DEMO_BROKER_PASSWORD = "mg-" + DEMO_WEBIN_ACCOUNT, "broker-password-for-tests"


def webin_mirror_data(directory: Path) -> Path:
    """A mirror data dir with no records, whose Webin service knows the demo owner and its
    broker login (the session `mirror` needs the whole demo built: slower)."""
    from mgnify_db.dev.mirror.access import write_access

    (directory / "portal").mkdir(parents=True, exist_ok=True)
    accounts = {DEMO_WEBIN_ACCOUNT: DEMO_WEBIN_PASSWORD, DEMO_BROKER_LOGIN: DEMO_BROKER_PASSWORD}
    write_access(directory, webin=accounts)
    return directory


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tool(name: str) -> str:
    """A console script of this venv (snakemake, mgnify-db), else from PATH."""
    path = BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


# Shared with mgnify_db.dev.demo: .debs in CACHE/downloads; unpacked trees here in CACHE/debs/PKG.
CACHE = Path(os.environ.get("MGNIFY_CACHE") or Path.home() / ".cache" / "mgnify-snake")


def packaged_file(package: str, member: str) -> Path:
    """A file from a Debian package: installed copy, else `apt-get download` once into CACHE.

    Fails (not skips) when it cannot: scripts/setup makes apt usable, and a skipped test
    would hide what it tests.
    """
    from mgnify_db.dev.demo import DemoBuildError, debian_file

    try:
        return debian_file(package, member, CACHE)
    except DemoBuildError as e:
        pytest.fail(str(e))


def write_demo_variant(workdir: Path, portal_url: str, **study) -> Path:
    """A workdir whose own copy of the demo study file sets `study` fields (e.g. include_runs)."""
    import yaml

    studies = workdir / "studies"
    studies.mkdir(parents=True, exist_ok=True)
    fields = yaml.safe_load((REPO / "demo" / "studies" / "PRJEB00001.yaml").read_text())
    (studies / "PRJEB00001.yaml").write_text(yaml.safe_dump(fields | study))
    return write_workdir(workdir, portal_url, studies_dir=str(studies))


def demo_config() -> dict:
    """demo/config.yaml: the demo's data-hub account, publications and super studies."""
    import yaml

    return yaml.safe_load((REPO / "demo" / "config.yaml").read_text())


def mirror_references(portal_url: str) -> dict | None:
    """The demo's `references:` config as URLs on the mirror (with their sha256), or None when
    the mirror does not answer."""
    import json
    import urllib.request

    base = portal_url.split("/ena/portal/api")[0]
    try:
        with urllib.request.urlopen(f"{base}/references/references.json", timeout=10) as resp:
            refs = json.load(resp)
    except OSError:
        return None

    def to_url(node):
        if isinstance(node, dict):
            return {
                ("url" if k == "path" else k): (f"{base}/{v}" if k == "path" else to_url(v))
                for k, v in node.items()
            }
        return [to_url(v) for v in node] if isinstance(node, list) else node

    return to_url(refs)


#: The demo studies the shared workflow runs process (the science study has its own run).
DEMO_STUDIES = ("PRJEB00001", "PRJEB77777")
SCIENCE_STUDY = "PRJEB00002"
AMPLICON_STUDY = "PRJEB00003"
RAW_READS_STUDY = "PRJEB00004"


def studies_dir(workdir: Path, studies=DEMO_STUDIES) -> Path:
    """`workdir/studies` with copies of the demo's study files `studies`."""
    out = workdir / "studies"
    out.mkdir(parents=True, exist_ok=True)
    for acc in studies:
        shutil.copyfile(REPO / "demo" / "studies" / f"{acc}.yaml", out / f"{acc}.yaml")
    return out


# Reference databases built by a workflow run of this session, copied into each new working
# dir (seed_references): every run would build the same ones again from the same sources. Set
# by conftest's `references_cache` fixture; the reference rules themselves run in the first
# workflow run, and tests/unit/test_references.py covers them.
REFERENCES_CACHE: list[Path] = []


def seed_references(workdir: Path) -> None:
    """Copy the references built so far this session into a new working dir's results (a
    Snakemake run finds them made and does not build them again)."""
    target = workdir / "results" / "references"
    for cache in REFERENCES_CACHE:
        if cache.is_dir() and any(cache.iterdir()) and not target.exists():
            shutil.copytree(cache, target, symlinks=True)


def keep_references(workdir: Path) -> None:
    """After a successful run: its references join the session's cache."""
    built = workdir / "results" / "references"
    for cache in REFERENCES_CACHE:
        if built.is_dir():
            shutil.copytree(built, cache, symlinks=True, dirs_exist_ok=True)


def new_database(server_url: str, prefix: str = "t") -> str:
    """A new, empty database on the PostgreSQL server at `server_url`: its URL."""
    import uuid

    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return f"{server_url.rsplit('/', 1)[0]}/{name}"


def drop_database(url: str) -> None:
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def through_store(db: Path, store: str, request) -> None:
    """With `store` "postgresql": the SQLite catalogue `db` moved into a new PostgreSQL database
    and exported back over itself, as a PostgreSQL catalogue publishes it for Datasette: the
    web tests then serve files that came out of PostgreSQL. Nothing with "sqlite"."""
    from mgnify_db.catalogue import open_store
    from mgnify_db.catalogue.move import export, move

    if store == "sqlite":
        return
    url = new_database(request.getfixturevalue("postgres_url"), "web")
    move(str(db), url)
    with open_store(url, create=False) as pg:
        export(pg, db)


def write_workdir(workdir: Path, portal_url: str, *, seed: bool = True, **extra) -> Path:
    """A deployed-style working dir whose config points at the mirror (ENA and the demo's
    reference files) and the demo studies (the public PRJEB00001 and the private PRJEB77777,
    read with the demo's data-hub account: its password is in `workflow_env`), with the
    publications and super studies they name. With `seed`, the references built so far this
    session are copied in (seed_references)."""
    import yaml

    demo = demo_config()
    refs = mirror_references(portal_url)
    cfg = {
        "results_dir": "results",
        "studies_dir": str(studies_dir(workdir) if "studies_dir" not in extra else ""),
        "catalogue": "sqlite:///results/catalogue.db",
        "ena": {
            "portal_url": portal_url,
            "download_scheme": "http",
            "backoff_seconds": 0.2,
            "dcc_username": demo["ena"]["dcc_username"],
        },
        "publications": demo["publications"],
        "super_studies": demo["super_studies"],
        **({"references": refs} if refs else {}),
        **extra,
    }
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    if seed and cfg["results_dir"] == "results":
        seed_references(workdir)
    return workdir


def snakemake_cmd(workdir: Path, *args: str, profile: str = "local") -> list[str]:
    return [
        tool("snakemake"),
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "--directory",
        str(workdir),
        "--profile",
        str(REPO / "profiles" / profile),
        *args,
    ]


def snakemake(
    workdir: Path,
    *args: str,
    timeout: int = 1200,
    profile: str = "local",
    path_first: Path | None = None,
) -> subprocess.CompletedProcess:
    """Run the workflow in `workdir`; SIGINT at the timeout (Snakemake then cancels its jobs).

    `path_first`: a directory put first on PATH (e.g. tools that fail on purpose).
    """
    cmd = ["timeout", "-s", "INT", str(timeout), *snakemake_cmd(workdir, *args, profile=profile)]
    env = workflow_env(path_first, local=profile == "local")
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=workdir)


def workflow_env(path_first: Path | None = None, *, local: bool = True) -> dict:
    path = f"{BIN}:{os.environ['PATH']}"
    if local:
        # snakemake-executor-plugin-slurm runs `scontrol show config` whenever snakemake starts,
        # whatever the executor: with Slurm installed and its controller down (between the Slurm
        # tests) that costs 10 s per call. Local runs never use Slurm: answer "no" at once.
        path = f"{_no_slurm_dir()}:{path}"
    env = {**os.environ, "PATH": f"{path_first}:{path}" if path_first else path}
    env.pop("MGNIFY_ENA_PORTAL_URL", None)  # the workdir's config names the mirror
    env.pop("MGNIFY_ENA_DCC_USERNAME", None)  # ... and the demo's data-hub account
    env["MGNIFY_ENA_DCC_PASSWORD"] = DEMO_DCC_PASSWORD
    return env


def _no_slurm_dir() -> Path:
    stub = CACHE / "no-slurm" / "scontrol"
    if not stub.exists():
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\nexit 1\n")
        stub.chmod(0o755)
    return stub.parent


def failing_tools(bin_dir: Path, **when: str) -> Path:
    """Wrappers that make a real tool fail (exit 1, with a message) when its arguments contain
    a given text ("" = always), and run the real one otherwise: `failing_tools(d, megahit="ERR1")`.
    `--version` always answers."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, text in when.items():
        real = shutil.which(name, path=os.defpath + ":/usr/bin:/usr/local/bin")
        script = bin_dir / name
        script.write_text(
            "#!/bin/sh\n"
            f'case "$*" in *--version*) exec {real} "$@";; esac\n'
            f'case "$*" in *{text}*) echo "{name}: failing on purpose for a test" >&2; exit 1;;'
            " esac\n"
            f'exec {real} "$@"\n'
        )
        script.chmod(0o755)
    return bin_dir


def job_counts(output: str) -> dict[str, int]:
    """Snakemake's "Job stats" table (rule -> jobs) from its output."""
    counts: dict[str, int] = {}
    lines = output.splitlines()
    if "Job stats:" not in lines:
        return counts
    for line in lines[lines.index("Job stats:") + 3 :]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    counts.pop("total", None)
    return counts


SLURM_SCRIPT = REPO / "scripts" / "slurm-cluster"
PG_SCRIPT = REPO / "scripts" / "postgres"


def make_study(results: Path, acc: str, n_runs: int, biome="root:Environmental:Aquatic:Marine"):
    """A study's recorded config and ENA metadata: `n_runs` paired WGS runs (one sample each)
    and one GENOMIC run (skipped). Returns (StudyPaths, the eligible run accessions)."""
    from mgnify_db.config import StudyConfig
    from mgnify_db.io import write_json
    from mgnify_db.paths import StudyPaths

    paths = StudyPaths(results, acc)
    config = StudyConfig(accession=acc, biome=biome)
    write_json(paths.path("study_config"), config.model_dump(mode="json"))
    runs = [
        {
            "run_accession": f"ERR{acc[-1]}{i:06d}",
            "sample_accession": f"SAMEA{acc[-1]}{i}",
            "library_strategy": "WGS",
            "library_source": "METAGENOMIC",
            "library_layout": "PAIRED",
            "read_count": 10,
            "fastq_ftp": "h/x_1.fastq.gz;h/x_2.fastq.gz",
            "fastq_md5": "a;b",
        }
        for i in range(1, n_runs + 1)
    ]
    runs.append({**runs[0], "run_accession": f"ERR{acc[-1]}999999", "library_source": "GENOMIC"})
    write_json(
        paths.path("ena"),
        {
            "study": {
                "study_accession": acc,
                "secondary_study_accession": f"ERP{acc[-1]}",
                "study_title": f"Study {acc} of the ocean",
                "study_description": "about",
            },
            "samples": [
                {"sample_accession": s, "lat": 1.0}
                for s in dict.fromkeys(r["sample_accession"] for r in runs)
            ],
            "runs": runs,
        },
    )
    return paths, [r["run_accession"] for r in runs[:-1]]


def set_study_config(paths, **fields) -> None:
    """Edit a study's recorded config (as the workflow's study_config rule would)."""
    from mgnify_db.config import StudyConfig
    from mgnify_db.io import read_json, write_json

    config = StudyConfig.model_validate(read_json(paths.path("study_config")) | fields)
    write_json(paths.path("study_config"), config.model_dump(mode="json"))


def finish_run(
    paths, run: str, *, passed: bool = True, assembled: bool = True, assembler: str = "megahit"
) -> None:
    """A run's QC result and, if it passed (and `assembled`), its assembly (by `assembler`)
    and analysis."""
    from mgnify_db.io import write_json

    write_json(
        paths.path("qc_json", run),
        {
            "passed": passed,
            "reads_before": 100,
            "reads_after": 90,
            "reason": None if passed else "9 reads left after QC (< 1000)",
        },
    )
    if passed and assembled:
        stats = {"n_contigs": 3, "total_length": 4000, "n50": 1500, "l50": 1}
        stats |= {"largest_contig": 2000, "gc_content": 0.5, "assembler_version": "1.2.9"}
        stats |= {"assembler": assembler}
        write_json(paths.path("assembly", run, assembler=assembler), stats)
        paths.path("contigs", run, assembler=assembler).write_bytes(b"x" * 10)
        write_json(paths.path("cds_counts", run), {"cds_count": 12})
        write_json(paths.path("rrna_counts", run), {"rrna": {"SSU": 1, "rRNA_16S": 1}})


def assert_close_json(one, two, rel: float, where: str) -> None:
    """Two JSON texts equal but for numbers within `rel` (and 2 in absolute)."""
    import json

    def walk(x, y, path):
        if isinstance(x, dict) and isinstance(y, dict):
            assert x.keys() == y.keys(), f"{where}{path}: {sorted(x)} vs {sorted(y)}"
            for k in x:
                walk(x[k], y[k], f"{path}.{k}")
        elif isinstance(x, int | float) and not isinstance(x, bool):
            assert abs(x - y) <= max(2, rel * abs(x)), f"{where}{path}: {x} vs {y}"
        else:
            assert x == y, f"{where}{path}: {x} vs {y}"

    walk(json.loads(one) if one else None, json.loads(two) if two else None, "")


def assert_close_annotations(one: list[dict], two: list[dict]) -> None:
    """Annotation tables of two runs of the same reads: MEGAHIT's contigs differ by a few bases
    between runs, so a few terms may come or go. Per (analysis, type): the terms mostly the same
    (Jaccard >= 0.9) and the total count within 5 %."""
    groups: dict[tuple, list[dict]] = {}
    for side, rows in enumerate((one, two)):
        for r in rows:
            groups.setdefault((r["analysis"], r["type"]), [[], []])[side].append(r)
    for key, (x, y) in groups.items():
        tx, ty = {r["term"] for r in x}, {r["term"] for r in y}
        assert tx and ty, f"annotations {key}: only on one side"
        assert len(tx & ty) >= 0.9 * len(tx | ty), f"annotations {key}: {tx ^ ty}"
        cx, cy = sum(r["count"] for r in x), sum(r["count"] for r in y)
        assert abs(cx - cy) <= max(2, 0.05 * cx), f"annotations {key}: {cx} vs {cy}"


def catalogue_dump(db: Path) -> dict:
    """The canonical dump of a catalogue file, without the event history."""
    from mgnify_db.catalogue import dump, open_store

    with open_store(db, create=False) as store:
        out = dump(store, canonical=True)
    out.pop("events")
    for rows in out.values():  # when a run happened is not what it holds
        for row in rows:
            for col in ("created_at", "updated_at"):
                row.pop(col, None)
    return out


def assert_same_catalogue(got: Path, want: Path, rel: float = 0.01) -> None:
    """Equal canonical dumps (events aside). MEGAHIT is not bit-reproducible across thread
    timings: numbers derived from an assembly may differ by `rel`."""
    from mgnify_db.catalogue import TABLES

    a, b = catalogue_dump(got), catalogue_dump(want)
    assert a.keys() == b.keys()
    if rel:
        assert_close_annotations(a.pop("annotations"), b.pop("annotations"))
    for table in a:
        assert len(a[table]) == len(b[table]), f"{table}: {len(a[table])} vs {len(b[table])} rows"
        pk = TABLES[table].pk_columns
        rows_b = {tuple(r[c] for c in pk): r for r in b[table]}
        for row in a[table]:
            key = tuple(row[c] for c in pk)
            other = rows_b.get(key)
            assert other is not None, f"{table}: {key} only in {got}"
            for col, value in row.items():
                if col == "md5" and rel:  # a file whose bases may differ (see above)
                    continue
                if isinstance(value, float | int) and not isinstance(value, bool) and value:
                    close = abs(value - (other[col] or 0)) <= rel * abs(value)
                    assert close, f"{table} {key} {col}: {value} vs {other[col]}"
                elif rel and col in ("metadata", "annotations_digest") and table != "studies":
                    # JSON of assembly-derived figures (contigs, CDS with a domain...), and
                    # the digest of annotation tables compared above
                    if col == "metadata":
                        assert_close_json(value, other[col], rel, f"{table} {key} {col}")
                else:
                    assert value == other[col], f"{table} {key} {col}: {value} vs {other[col]}"


#: Where the science tests write their figures (kept for people to read; not in git).
SCIENCE_ARTEFACTS = REPO / "test-artifacts" / "science"


def artefact(name: str, data) -> None:
    """Write a science test's figures as test-artifacts/science/<name> (JSON)."""
    import json

    SCIENCE_ARTEFACTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, sort_keys=True, default=str) + "\n"
    (SCIENCE_ARTEFACTS / name).write_text(text)


def in_process_get(results: Path, *paths: str) -> list[httpx.Response]:
    """GET each path (API paths relative to the API root; others as given, starting with "/")
    from an in-process Datasette over a results dir's published databases."""
    import asyncio

    import yaml
    from datasette.app import Datasette

    from mgnify_db.cli import METADATA
    from mgnify_db.web.api import API_ROOT

    metadata = yaml.safe_load(METADATA.read_text())
    metadata["plugins"]["mgnify-db"] = {"results_dir": str(results)}
    ds = Datasette([str(results / "catalogue.db"), str(results / "public.db")], metadata=metadata)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(ds.invoke_startup())
        return [
            loop.run_until_complete(ds.client.get(p if p.startswith("/") else f"{API_ROOT}/{p}"))
            for p in paths
        ]
    finally:
        loop.close()
