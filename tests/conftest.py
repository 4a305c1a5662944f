"""Shared fixtures: the demo's ENA mirror data (built once per session) and helpers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Tests build the demo at a lower coverage: same genomes and runs, half the reads.
DEMO_SCALE = float(os.environ.get("MGNIFY_TEST_DEMO_SCALE", "0.5"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tool(name: str) -> str:
    """A console script of this venv (snakemake, mgnify-db), else from PATH."""
    path = BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> Path:
    from mgnify_db.demo import build_demo

    return build_demo(tmp_path_factory.mktemp("demo") / "ena", scale=DEMO_SCALE)


@pytest.fixture(scope="session")
def mirror(demo_data):
    from mgnify_db.mirror import MirrorServer

    with MirrorServer(demo_data, host="127.0.0.1", port=0) as m:
        yield m


def write_workdir(workdir: Path, portal_url: str, **extra) -> Path:
    """A deployed-style working dir whose config points at the mirror and the demo study."""
    import yaml

    cfg = {
        "results_dir": "results",
        "studies_dir": str(REPO / "demo" / "studies"),
        "catalogue": "sqlite:///results/catalogue.db",
        "ena": {"portal_url": portal_url, "download_scheme": "http", "backoff_seconds": 0.2},
        **extra,
    }
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    return workdir


def snakemake(
    workdir: Path, *args: str, timeout: int = 1200, profile: str = "local", env: dict | None = None
) -> subprocess.CompletedProcess:
    cmd = [
        "timeout",
        "-s",
        "INT",
        str(timeout),
        tool("snakemake"),
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "--directory",
        str(workdir),
        "--profile",
        str(REPO / "profiles" / profile),
        *args,
    ]
    full_env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", **(env or {})}
    full_env.pop("MGNIFY_ENA_PORTAL_URL", None)
    return subprocess.run(cmd, capture_output=True, text=True, env=full_env, cwd=workdir)
