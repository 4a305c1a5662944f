"""The registry of analysis pipelines.

A pipeline is what a study asks for in `analyses:`. Its entry says everything the rest of the
package needs to know about it: its rules (with default resources), which result file completes
each of its catalogue records, the job events that make those records running or failed, its
download files, its annotation tables and the catalogue columns it fills. Adding a pipeline:
docs/adding-a-pipeline.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..ids import AccessionKind
from ..models import ExperimentType


@dataclass(frozen=True)
class RuleSpec:
    """A rule's defaults: start memory (MB), runtime (minutes), threads key of config `threads:`."""

    mem_mb: int
    runtime: int
    threads: str | None = None  # key in config `threads:`; None = 1 thread
    assembler: str | None = None  # memory start from the assembler x biome table
    binaries: tuple[str, ...] = ()  # programs it runs (checked on PATH before the first job)


# MGnify's values (reference: emgapi-v2 §1.11); a Download outside them is an error.
FILE_TYPES = ("fasta", "tsv", "biom", "csv", "json", "svg", "tree", "html", "gff", "other")
DOWNLOAD_TYPES = (
    "Coding Sequences",
    "Sequence data",
    "Quality control",
    "Functional analysis",
    "Taxonomic analysis",
    "Statistics",
    "non-coding RNAs",
    "Genome analysis",
    "Analysis RO Crate",
    "Other",
)
# The first part of MGnify's dotted download groups (e.g. `functional_annotation.pfams`).
DOWNLOAD_GROUP_ROOTS = (
    "taxonomies",
    "asv",
    "quality_control",
    "primer_identification",
    "functional_annotation",
    "pathways_and_systems",
    "coding_sequences",
    "taxonomy",
    "annotation_summary",
    "virify",
    "mobilome_annotation_pipeline",
    "study_summary",
    "catalogue",
    "all",
)
INDEX_TYPES = ("fai", "gzi", "csi")


@dataclass(frozen=True)
class Download:
    """A result file offered for download, owned by one record of a pipeline.

    Its index files (`index_types`) sit beside it: index path = the file's path + "." + type.
    """

    owner: AccessionKind  # ASSEMBLY or ANALYSIS
    path: str  # name in mgnify_db.paths.PATTERNS
    alias: str  # file name for users; {run} and {accession} are filled in
    file_type: str  # one of FILE_TYPES
    download_type: str  # one of DOWNLOAD_TYPES
    download_group: str  # MGnify's dotted group (first part in DOWNLOAD_GROUP_ROOTS)
    short_description: str
    long_description: str = ""  # "" = the short description
    index_types: tuple[str, ...] = ()  # among INDEX_TYPES

    def __post_init__(self) -> None:
        problems = []
        if self.file_type not in FILE_TYPES:
            problems.append(f"file_type {self.file_type!r} not in {FILE_TYPES}")
        if self.download_type not in DOWNLOAD_TYPES:
            problems.append(f"download_type {self.download_type!r} not in {DOWNLOAD_TYPES}")
        if self.download_group.split(".")[0] not in DOWNLOAD_GROUP_ROOTS:
            problems.append(f"download_group {self.download_group!r} is not one of MGnify's")
        if bad := [t for t in self.index_types if t not in INDEX_TYPES]:
            problems.append(f"index_types {bad} not in {INDEX_TYPES}")
        if problems:
            raise ValueError(f"download {self.path}: " + "; ".join(problems))
        if not self.long_description:
            object.__setattr__(self, "long_description", self.short_description)


def analysis_download(
    path, alias, file_type, download_type, group, short, long="", idx=()
) -> Download:
    """A Download owned by the run's analysis (the ANALYSIS record)."""
    return Download(
        AccessionKind.ANALYSIS, path, alias, file_type, download_type, group, short, long, idx
    )


def fastp_report(long: str) -> Download:
    """The run's fastp report, offered with its analysis (every pipeline begins with fastp)."""
    return analysis_download(
        "fastp_html",
        "{run}_fastp.html",
        "html",
        "Quality control",
        "quality_control",
        "fastp QC report",
        long,
    )


@dataclass(frozen=True)
class AnnotationSpec:
    """An annotation table a pipeline writes per run, owned by its ANALYSIS record.

    The table's format: mgnify_db.pipelines.annotations (read_annotation_table).
    """

    type: str  # the catalogue's annotation type (the `annotations.type` column)
    path: str  # name in mgnify_db.paths.PATTERNS of the table (`.tsv.gz`, with `.gzi`)


@dataclass(frozen=True)
class RecordSpec:
    """A catalogue record a pipeline makes per run (an assembly, an analysis)."""

    kind: AccessionKind
    rules: tuple[str, ...]  # their job events make the record running or failed
    results: tuple[str, ...]  # path names: the files whose presence means completed
    after: AccessionKind | None = None  # a record that must be completed first
    # catalogue columns from the results ({path name: parsed JSON}; {} while not completed)
    columns: Callable[[dict[str, dict]], dict] = lambda results: {}


@dataclass(frozen=True)
class Pipeline:
    name: str  # config `analyses:` value; also the ledger key suffix (`<run>/<name>`)
    description: str
    rules: dict[str, RuleSpec]
    records: tuple[RecordSpec, ...]
    targets: tuple[str, ...]  # path names a run's catalogue load waits for
    downloads: tuple[Download, ...] = field(default_factory=tuple)
    # annotation tables of the run's analysis (the ANALYSIS record owns them)
    annotations: tuple[AnnotationSpec, ...] = field(default_factory=tuple)
    # the assemblers its assembly records can be made by (a run's is its study's choice,
    # StudyPlan.assembler); each assembler's rule has `RuleSpec.assembler` set
    assemblers: tuple[str, ...] = ()
    # MGnify's pipeline version its analyses are filed under (the API's PipelineVersions)
    version: str = "V6"
    # the experiment types of the runs it takes (emgapi-v2 reference section 3.2)
    experiment_types: tuple[ExperimentType, ...] = (
        ExperimentType.METAGENOMIC,
        ExperimentType.METATRANSCRIPTOMIC,
    )
    # whether a study's co-assemblies (config `coassemblies`) go through it
    takes_coassemblies: bool = False

    def record(self, kind: AccessionKind) -> RecordSpec | None:
        return next((r for r in self.records if r.kind == kind), None)

    def key(self, run: str, kind: AccessionKind, assembler: str | None = None) -> str:
        """The ledger key of this pipeline's record of `kind` for `run` (an assembly's names
        its assembler: another assembler's contigs are another assembly)."""
        return f"{run}/{assembler}" if kind == AccessionKind.ASSEMBLY else f"{run}/{self.name}"

    def rules_for(self, spec: RecordSpec, assembler: str | None) -> tuple[str, ...]:
        """The rules whose job events make a record running or failed: an assembly's are
        its own assembler's."""
        return tuple(
            r
            for r in spec.rules
            if self.rules[r].assembler is None or self.rules[r].assembler == assembler
        )


# Rules every run goes through before any pipeline (shared by all pipelines).
RUN_RULES: dict[str, RuleSpec] = {
    "ena_download": RuleSpec(mem_mb=400, runtime=120),
    "qc_fastp": RuleSpec(mem_mb=2000, runtime=120, threads="fastp", binaries=("fastp",)),
    # only for runs of studies with host or contaminant genomes (config references)
    "qc_decontaminate": RuleSpec(
        mem_mb=4000, runtime=480, threads="decontamination", binaries=("minimap2", "samtools")
    ),
}
# Reference databases (results-wide, built once from config `references:`).
REFERENCE_RULES: dict[str, RuleSpec] = {
    "reference_pfam": RuleSpec(mem_mb=2000, runtime=240),
    "reference_rfam": RuleSpec(mem_mb=1000, runtime=120, binaries=("cmconvert",)),
    "reference_ssu": RuleSpec(mem_mb=1000, runtime=120),
    "reference_lsu": RuleSpec(mem_mb=1000, runtime=120),
    "reference_kraken2": RuleSpec(
        mem_mb=4000, runtime=720, threads="references", binaries=("kraken2-build",)
    ),
    "reference_decontamination": RuleSpec(
        mem_mb=16000, runtime=240, threads="references", binaries=("minimap2",)
    ),
}


def check_pipeline(p: Pipeline) -> None:
    """Raise ValueError if the entry names a path that does not exist, or repeats an alias or
    an annotation type."""
    from ..paths import PATTERNS

    named = [*p.targets, *(d.path for d in p.downloads), *(a.path for a in p.annotations)]
    named += [name for r in p.records for name in r.results]
    problems = [f"unknown path {n!r}" for n in dict.fromkeys(named) if n not in PATTERNS]
    for what, values in (
        ("download alias", [(d.owner, d.alias) for d in p.downloads]),
        ("annotation type", [a.type for a in p.annotations]),
    ):
        problems += [f"{what} {v!r} repeated" for v in dict.fromkeys(values) if values.count(v) > 1]
    if problems:
        raise ValueError(f"pipeline {p.name}: " + "; ".join(problems))


def _registry() -> dict[str, Pipeline]:
    from .amplicon import PIPELINE as amplicon
    from .assembly import PIPELINE as assembly
    from .raw_reads import PIPELINE as raw_reads

    pipelines = (assembly, amplicon, raw_reads)
    for p in pipelines:
        check_pipeline(p)
    return {p.name: p for p in pipelines}


PIPELINES: dict[str, Pipeline] = _registry()


def rule_spec(rule: str) -> RuleSpec | None:
    """Defaults of any rule (shared or of a pipeline)."""
    if rule in RUN_RULES:
        return RUN_RULES[rule]
    if rule in REFERENCE_RULES:
        return REFERENCE_RULES[rule]
    for p in PIPELINES.values():
        if rule in p.rules:
            return p.rules[rule]
    return None


def all_rules() -> dict[str, RuleSpec]:
    out = dict(RUN_RULES) | REFERENCE_RULES
    for p in PIPELINES.values():
        out |= p.rules
    return out


def annotation_types() -> tuple[str, ...]:
    """Every annotation type the catalogue can hold: MGnify's, then each pipeline's own."""
    from ..catalogue.schema import ANNOTATION_TYPES

    types = dict.fromkeys(ANNOTATION_TYPES)
    for p in PIPELINES.values():
        types |= dict.fromkeys(a.type for a in p.annotations)
    return tuple(types)
