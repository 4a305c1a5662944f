"""The demo's hand-written metadata (``demo/ena``: study.json, samples.json, runs.yaml)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import DemoBuildError

#: ``demo/ena`` of the source tree (this file is mgnify_db/dev/demo/spec.py).
SPEC_DIR = Path(__file__).resolve().parents[3] / "demo" / "ena"
#: Keys of a run in runs.yaml that steer the simulation and are not ENA fields.
SIM_KEYS = {"seed", "coverage", "reads"}


@dataclass(frozen=True)
class Genome:
    """One reference genome and the package it ships in."""

    key: str
    accession: str
    organism: str
    length: int
    path: str
    debian: str | None = None
    pypi: str | None = None

    @property
    def package(self) -> str:
        return f"Debian package {self.debian}" if self.debian else f"PyPI sdist {self.pypi}"


@dataclass(frozen=True)
class DemoSpec:
    """The parsed ``demo/ena`` files."""

    study: dict[str, str]
    samples: list[dict[str, str]]
    simulation: dict[str, Any]
    genomes: dict[str, Genome]
    run_defaults: dict[str, str]
    runs: list[dict[str, Any]]
    digest: str


def spec_dir() -> Path:
    """The committed demo metadata directory (``demo/ena`` beside the package)."""
    if not SPEC_DIR.is_dir():
        raise DemoBuildError(
            f"demo metadata not found at {SPEC_DIR}: build_demo needs the source tree's demo/ena/ "
            "(study.json, samples.json, runs.yaml)"
        )
    return SPEC_DIR


def load_spec(directory: Path | None = None) -> DemoSpec:
    """Read and check study.json, samples.json and runs.yaml."""
    directory = directory or spec_dir()
    paths = {n: directory / n for n in ("study.json", "samples.json", "runs.yaml")}
    for path in paths.values():
        if not path.is_file():
            raise DemoBuildError(f"demo metadata file missing: {path}")
    digest = hashlib.sha256()
    for name, path in sorted(paths.items()):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    study = json.loads(paths["study.json"].read_text())
    samples = json.loads(paths["samples.json"].read_text())
    runs_doc = yaml.safe_load(paths["runs.yaml"].read_text())
    genomes = {
        key: Genome(
            key=key,
            accession=g["accession"],
            organism=g["organism"],
            length=int(g["length"]),
            path=g["path"],
            debian=g.get("debian"),
            pypi=g.get("pypi"),
        )
        for key, g in runs_doc["genomes"].items()
    }
    sample_ids = {s["sample_accession"] for s in samples}
    for run in runs_doc["runs"]:
        acc = run.get("run_accession", "?")
        if run.get("sample_accession") not in sample_ids:
            raise DemoBuildError(f"runs.yaml: {acc} names an unknown sample")
        amounts = {**run.get("coverage", {}), **run.get("reads", {})}
        if not amounts or set(amounts) - set(genomes):
            raise DemoBuildError(f"runs.yaml: {acc} needs coverage/reads of known genomes")
    return DemoSpec(
        study={k: str(v) for k, v in study.items()},
        samples=[{k: str(v) for k, v in s.items()} for s in samples],
        simulation=dict(runs_doc.get("simulation", {})),
        genomes=genomes,
        run_defaults={k: str(v) for k, v in runs_doc.get("run_defaults", {}).items()},
        runs=list(runs_doc["runs"]),
        digest=digest.hexdigest(),
    )
