"""A study's plan: which runs it processes and how, decided once per study.

Decided from the recorded ENA metadata (`ena.json`) and the study's config, and cached by their
content: the workflow plans a 5,000-run study once per process, never once per job.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .config import Assembler, StudyConfig
from .ena.client import StudyMetadata
from .ena.eligibility import Decision, decide_all
from .ena.models import EnaRun, LibraryLayout
from .io import read_json
from .paths import StudyPaths


class PlanError(FileNotFoundError):
    """A study's recorded metadata or config is missing."""


@dataclass(frozen=True)
class StudyPlan:
    config: StudyConfig
    metadata: StudyMetadata
    decisions: dict[str, Decision]  # by run accession, in ENA's order

    @property
    def accession(self) -> str:
        return self.config.accession

    @cached_property
    def runs(self) -> dict[str, EnaRun]:
        return {r.run_accession: r for r in self.metadata.runs}

    @cached_property
    def eligible(self) -> list[str]:
        return [run for run, d in self.decisions.items() if d.eligible]

    def fastq(self, run: str) -> list[dict]:
        return [f.model_dump() for f in self.decisions[run].fastq]

    def assembler(self, run: str) -> str:
        """The assembler of a run: the study's choice (or the run's own); metaSPAdes only for
        paired reads."""
        choice = self.config.run_assemblers.get(run, self.config.assembler)
        paired = self.decisions[run].layout == LibraryLayout.PAIRED
        if choice in (Assembler.METASPADES, Assembler.AUTO):
            return Assembler.METASPADES.value if paired else Assembler.MEGAHIT.value
        return Assembler.MEGAHIT.value

    def read_count(self, run: str) -> int | None:
        """ENA's read count, if it counts exactly the files processed (not extra ones)."""
        if len(self.decisions[run].fastq) != len(self.runs[run].fastq_files):
            return None
        return self.runs[run].read_count


_CACHE: dict[str, StudyPlan] = {}


def plan_study(config: StudyConfig, metadata_json: str | bytes) -> StudyPlan:
    """The plan for a study config and its `ena.json` text, cached by their content."""
    if isinstance(metadata_json, str):
        metadata_json = metadata_json.encode()
    key = hashlib.sha256(config.model_dump_json().encode() + b"\0" + metadata_json).hexdigest()
    if (plan := _CACHE.get(key)) is None:
        metadata = StudyMetadata.model_validate_json(metadata_json)
        decisions = {d.run_accession: d for d in decide_all(metadata.runs, config)}
        plan = _CACHE[key] = StudyPlan(config, metadata, decisions)
    return plan


def recorded_plan(results: Path, study: str) -> StudyPlan:
    """The plan from the files a study's results hold (the config as recorded in study.json)."""
    paths = StudyPaths(Path(results), study)
    cfg, ena = paths.path("study_config"), paths.path("ena")
    if not (cfg.exists() and ena.exists()):
        raise PlanError(f"{ena.parent}: study.json or ena.json missing (has the study run?)")
    config = StudyConfig.model_validate(read_json(cfg))
    return plan_study(config, ena.read_bytes())
