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
from .models import ExperimentType
from .paths import StudyPaths
from .pipelines import PIPELINES


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

    @cached_property
    def coassembling(self) -> list[str]:
        """The study's analyses that take its co-assemblies (the assembly pipeline's)."""
        return [str(a) for a in self.config.analyses if PIPELINES[str(a)].takes_coassemblies]

    @cached_property
    def coassemblies(self) -> dict[str, list[str]]:
        """The co-assemblies made: each config group's runs that the study processes and
        assembles (a group with none is not made)."""

        def assembled(run: str) -> bool:
            d = self.decisions.get(run)
            return bool(d and d.eligible and set(d.analyses) & set(self.coassembling))

        groups = {
            name: [r for r in runs if assembled(r)]
            for name, runs in self.config.coassemblies.items()
        }
        return {name: runs for name, runs in groups.items() if runs}

    def pipelines(self, unit: str) -> list[str]:
        """The analyses (pipeline names) a run or co-assembly goes through: a run's are those
        of its experiment type (eligibility), a co-assembly's those that take co-assemblies."""
        if unit in self.coassemblies:
            return self.coassembling
        d = self.decisions.get(unit)
        return list(d.analyses) if d is not None and d.eligible else []

    def not_taken(self, pipeline: str, unit: str) -> str:
        """Why a pipeline does not take a unit (one line)."""
        if pipeline not in self.config.analyses:
            return f"pipeline {pipeline} not in the study's analyses"
        if unit in self.coassemblies or unit in self.config.coassemblies:
            return f"pipeline {pipeline} does not take co-assemblies"
        d = self.decisions.get(unit)
        kind = d.experiment_type if d is not None else ExperimentType.UNKNOWN
        return f"pipeline {pipeline} does not take {kind} runs"

    @property
    def units(self) -> list[str]:
        """What is assembled and analysed: each eligible run, then each co-assembly."""
        return [*self.eligible, *self.coassemblies]

    def members(self, unit: str) -> list[str]:
        """The runs whose reads a unit (run or co-assembly) is assembled from."""
        return self.coassemblies.get(unit, [unit])

    def coassembly_problem(self) -> str | None:
        """Why the config's co-assemblies cannot be made from these runs (one line), or None."""
        for name, runs in self.config.coassemblies.items():
            if unknown := [r for r in runs if r not in self.decisions]:
                return f"coassemblies.{name}: {unknown[0]} is not a run of {self.accession} in ENA"
            layouts = {str(self.decisions[r].layout) for r in self.coassemblies.get(name, [])}
            if len(layouts) > 1:
                shown = ", ".join(sorted(layouts))
                return f"coassemblies.{name}: its runs have different layouts ({shown})"
        return None

    def fastq(self, run: str) -> list[dict]:
        return [f.model_dump() for f in self.decisions[run].fastq]

    def assembler(self, run: str) -> str:
        """The assembler of a run or co-assembly: the study's choice (or its own); metaSPAdes
        only for paired reads."""
        choice = self.config.run_assemblers.get(run, self.config.assembler)
        paired = all(self.decisions[r].layout == LibraryLayout.PAIRED for r in self.members(run))
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
