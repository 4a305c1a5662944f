"""Which ENA runs a study processes, and why the others are skipped."""

from __future__ import annotations

from pydantic import BaseModel

from ..config import LibrarySourcePolicy, LibraryStrategyPolicy, StudyConfig
from ..models import ExperimentType
from .models import EnaRun, FastqFile, LibraryLayout

METAGENOMIC_SOURCES = {"METAGENOMIC", "METATRANSCRIPTOMIC"}
RESCUABLE_SOURCES = {"GENOMIC", "OTHER"}


class Decision(BaseModel):
    """Eligibility of one run. `reason` says why a run is skipped (None when eligible)."""

    run_accession: str
    eligible: bool
    reason: str | None = None
    layout: LibraryLayout | None = None
    fastq: list[FastqFile] = []
    experiment_type: ExperimentType = ExperimentType.UNKNOWN
    # the study's analyses (pipeline names) that take the run, from its experiment type
    analyses: list[str] = []


def source_is_metagenomic(run: EnaRun, policy: LibrarySourcePolicy) -> bool:
    source = (run.library_source or "").upper()
    if policy == LibrarySourcePolicy.OVERRIDE_ALL_TO_METAGENOMIC:
        return True
    if source in METAGENOMIC_SOURCES:
        return True
    return (
        policy == LibrarySourcePolicy.OVERRIDE_GENOMIC_IF_METAGENOMIC_SCIENTIFIC_NAME
        and source in RESCUABLE_SOURCES
        and "metagenome" in (run.scientific_name or "").lower()
    )


def fastq_structure(
    files: list[FastqFile],
) -> tuple[LibraryLayout | None, list[FastqFile], str | None]:
    """Infer the layout from file names: one file = SINGLE, a _1 and a _2 file = PAIRED.

    Extra files (merged or _3 reads) are dropped; a lone `_2` file is a half-pair and rejected.
    """
    files = sorted(files, key=lambda f: f.name)
    if not files:
        return None, [], "no FASTQ files in ENA"
    if len(files) == 1:
        if "_2.f" in files[0].name:
            return None, [], f"only the second mate is in ENA ({files[0].name})"
        return LibraryLayout.SINGLE, files, None
    r1 = [f for f in files if "_1.f" in f.name]
    r2 = [f for f in files if "_2.f" in f.name]
    if len(r1) == 1 and len(r2) == 1:
        return LibraryLayout.PAIRED, [r1[0], r2[0]], None
    return None, [], f"cannot pair {len(files)} FASTQ files: " + ", ".join(f.name for f in files)


def experiment_type(strategy: str | None, source: str | None, metagenomic: bool) -> ExperimentType:
    strategy = (strategy or "").upper()
    source = (source or "").upper()
    if not metagenomic:
        return ExperimentType.UNKNOWN
    if strategy == "RNA-SEQ" or source == "METATRANSCRIPTOMIC":
        return ExperimentType.METATRANSCRIPTOMIC
    if strategy in {"WGS", "WGA"}:
        return ExperimentType.METAGENOMIC
    if strategy == "AMPLICON":
        return ExperimentType.AMPLICON
    return ExperimentType.UNKNOWN


def strategy_matches(run: EnaRun, study: StudyConfig) -> bool:
    wanted = {s.upper() for s in study.library_strategies}
    strategy = (run.library_strategy or "").upper()
    policy = study.library_strategy_policy
    if policy == LibraryStrategyPolicy.OVERRIDE_ALL:
        return True
    if policy == LibraryStrategyPolicy.ASSUME_OTHER_ALSO_MATCHES:
        wanted |= {"OTHER", "UNKNOWN", ""}
    return strategy in wanted


def decide(run: EnaRun, study: StudyConfig) -> Decision:
    """Apply the study's policies and run lists to one ENA run."""

    def skip(reason: str) -> Decision:
        return Decision(run_accession=run.run_accession, eligible=False, reason=reason)

    if study.include_runs is not None and run.run_accession not in study.include_runs:
        return skip("not in include_runs")
    if run.run_accession in study.exclude_runs:
        return skip("in exclude_runs")
    if not source_is_metagenomic(run, study.library_source_policy):
        return skip(
            f"library_source {run.library_source} is not metagenomic "
            f"({study.library_source_policy})"
        )
    if not strategy_matches(run, study):
        return skip(
            f"library_strategy {run.library_strategy} not in {study.library_strategies} "
            f"({study.library_strategy_policy})"
        )
    layout, files, problem = fastq_structure(run.fastq_files)
    if problem:
        return skip(problem)
    if study.library_strategy_policy == LibraryStrategyPolicy.OVERRIDE_ALL:
        exp = ExperimentType.METAGENOMIC
    else:
        exp = experiment_type(run.library_strategy, run.library_source, True)
    analyses = analyses_taking(exp, study)
    if not analyses:
        asked = ", ".join(str(a) for a in study.analyses)
        return skip(f"experiment type {exp} is not analysed by {asked}")
    return Decision(
        run_accession=run.run_accession,
        eligible=True,
        layout=layout,
        fastq=files,
        experiment_type=exp,
        analyses=analyses,
    )


def analyses_taking(exp: ExperimentType, study: StudyConfig) -> list[str]:
    """The study's analyses that take a run of this experiment type (each pipeline names the
    types it takes). Under `override_all` every analysis takes every run, as MGnify forces the
    flow's type; a run whose type is unknown (`assume_other_also_matches`) too."""
    from ..pipelines import PIPELINES

    if (
        study.library_strategy_policy == LibraryStrategyPolicy.OVERRIDE_ALL
        or exp == ExperimentType.UNKNOWN
    ):
        return [str(a) for a in study.analyses]
    return [str(a) for a in study.analyses if exp in PIPELINES[str(a)].experiment_types]


def decide_all(runs: list[EnaRun], study: StudyConfig) -> list[Decision]:
    """Decisions for every run, honouring `sample_limit` (first samples by accession)."""
    decisions = [decide(r, study) for r in runs]
    if study.sample_limit:
        by_run = {r.run_accession: r for r in runs}
        samples = sorted(
            {by_run[d.run_accession].sample_accession for d in decisions if d.eligible}
        )
        kept = set(samples[: study.sample_limit])
        for d in decisions:
            if d.eligible and by_run[d.run_accession].sample_accession not in kept:
                d.eligible, d.reason, d.fastq = (
                    False,
                    f"beyond sample_limit {study.sample_limit}",
                    [],
                )
    return decisions
