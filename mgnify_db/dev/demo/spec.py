"""The demo's hand-written metadata: ``demo/ena`` (study.json, samples.json, runs.yaml) for the
public study, and a subdirectory per further study (``demo/ena/private``: the same files plus
access.yaml, the data hub holding it and the Webin account owning it)."""

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
SIM_KEYS = {"seed", "coverage", "reads", "unscaled", "amplicons", "chimeras", "primers"}
STUDY_FILES = ("study.json", "samples.json", "runs.yaml")
#: In a study directory: the study is private (see `StudySpec`).
ACCESS_FILE = "access.yaml"


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
    header: str | None = None  # the id in the package's file, when not the accession
    all_records: bool = False  # every record of the file (chromosomes), not one

    @property
    def package(self) -> str:
        return f"Debian package {self.debian}" if self.debian else f"PyPI sdist {self.pypi}"


@dataclass(frozen=True)
class StudySpec:
    """One demo study: its ENA records (as written) and runs to simulate.

    ``data_hub`` (account, password): the study is private, held by that data-hub (DCC) account;
    ``webin`` (account, password): the Webin account that owns it.
    """

    study: dict[str, str]
    samples: list[dict[str, str]]
    run_defaults: dict[str, str]
    runs: list[dict[str, Any]]
    data_hub: tuple[str, str] | None = None
    webin: tuple[str, str] | None = None

    @property
    def accession(self) -> str:
        return self.study["study_accession"]

    @property
    def private(self) -> bool:
        return self.data_hub is not None


@dataclass(frozen=True)
class DemoSpec:
    """The parsed ``demo/ena`` files: the public study (``demo/ena``), then each study of a
    subdirectory (``demo/ena/private``), sharing the genomes and the simulation settings."""

    studies: tuple[StudySpec, ...]
    simulation: dict[str, Any]
    genomes: dict[str, Genome]
    digest: str

    @property
    def runs(self) -> list[dict[str, Any]]:
        """Every study's runs."""
        return [run for study in self.studies for run in study.runs]

    @property
    def private_studies(self) -> list[StudySpec]:
        return [s for s in self.studies if s.private]


def spec_dir() -> Path:
    """The committed demo metadata directory (``demo/ena`` beside the package)."""
    if not SPEC_DIR.is_dir():
        raise DemoBuildError(
            f"demo metadata not found at {SPEC_DIR}: build_demo needs the source tree's demo/ena/ "
            "(study.json, samples.json, runs.yaml)"
        )
    return SPEC_DIR


def _required(directory: Path) -> dict[str, Path]:
    paths = {n: directory / n for n in STUDY_FILES}
    for path in paths.values():
        if not path.is_file():
            raise DemoBuildError(f"demo metadata file missing: {path}")
    return paths


def _account(data: Any, key: str, name: str, path: Path) -> tuple[str, str]:
    if not isinstance(data, dict) or not data.get(key) or not data.get("password"):
        raise DemoBuildError(f"{path}: {name} needs {key} and password")
    return str(data[key]), str(data["password"])


def _study(
    directory: Path, genomes: dict[str, Genome], defaults: dict[str, str]
) -> tuple[StudySpec, dict[str, Any]]:
    """One study directory (study.json, samples.json, runs.yaml, optional access.yaml) and its
    runs.yaml document."""
    paths = _required(directory)
    study = json.loads(paths["study.json"].read_text())
    samples = json.loads(paths["samples.json"].read_text())
    runs_doc = yaml.safe_load(paths["runs.yaml"].read_text())
    sample_ids = {s["sample_accession"] for s in samples}
    for run in runs_doc["runs"]:
        acc = run.get("run_accession", "?")
        if run.get("sample_accession") not in sample_ids:
            raise DemoBuildError(f"{paths['runs.yaml']}: {acc} names an unknown sample")
        amounts = {**run.get("coverage", {}), **run.get("reads", {}), **run.get("amplicons", {})}
        parents = {g for c in run.get("chimeras", []) for g in c.get("parents", [])}
        if not amounts or (set(amounts) | parents) - set(genomes):
            raise DemoBuildError(
                f"{paths['runs.yaml']}: {acc} needs coverage/reads/amplicons of known genomes"
            )
    data_hub = webin = None
    if (access_path := directory / ACCESS_FILE).is_file():
        access = yaml.safe_load(access_path.read_text()) or {}
        data_hub = _account(access.get("data_hub"), "username", "data_hub", access_path)
        if "webin" in access:
            webin = _account(access["webin"], "account", "webin", access_path)
    own_defaults = {k: str(v) for k, v in runs_doc.get("run_defaults", {}).items()}
    spec = StudySpec(
        study={k: str(v) for k, v in study.items()},
        samples=[{k: str(v) for k, v in s.items()} for s in samples],
        run_defaults=defaults | own_defaults,
        runs=list(runs_doc["runs"]),
        data_hub=data_hub,
        webin=webin,
    )
    return spec, runs_doc


def load_spec(directory: Path | None = None) -> DemoSpec:
    """Read and check the public study's files (with the genomes and simulation settings in its
    runs.yaml) and those of each study subdirectory (e.g. ``private/``)."""
    directory = directory or spec_dir()
    _required(directory)
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    runs_doc = yaml.safe_load((directory / "runs.yaml").read_text())
    genomes = {
        key: Genome(
            key=key,
            accession=g["accession"],
            organism=g["organism"],
            length=int(g["length"]),
            path=g["path"],
            debian=g.get("debian"),
            pypi=g.get("pypi"),
            header=g.get("header"),
            all_records=bool(g.get("all_records", False)),
        )
        for key, g in runs_doc["genomes"].items()
    }
    main, _ = _study(directory, genomes, {})
    studies = [main]
    for sub in sorted(p for p in directory.iterdir() if (p / "study.json").is_file()):
        studies.append(_study(sub, genomes, main.run_defaults)[0])
    runs = [r["run_accession"] for s in studies for r in s.runs]
    if dupes := sorted({r for r in runs if runs.count(r) > 1}):
        raise DemoBuildError(f"demo runs named twice: {', '.join(dupes)}")
    return DemoSpec(
        studies=tuple(studies),
        simulation=dict(runs_doc.get("simulation", {})),
        genomes=genomes,
        digest=digest.hexdigest(),
    )


def dcc_environment(spec: DemoSpec | None = None) -> dict[str, str]:
    """The environment the workflow reads the demo's private study with: the data-hub account
    and its (throwaway) password, as ``MGNIFY_ENA_DCC_USERNAME`` / ``MGNIFY_ENA_DCC_PASSWORD``."""
    from ...config import EnaSettings

    spec = spec or load_spec()
    hubs = {s.data_hub for s in spec.private_studies}
    if len(hubs) != 1:
        raise DemoBuildError(f"the demo needs exactly one data hub, found {len(hubs)}")
    ((user, password),) = hubs
    return {EnaSettings.DCC_USERNAME_ENV: user, EnaSettings.DCC_PASSWORD_ENV: password}
