"""The registry of analysis pipelines.

A pipeline is what a study asks for in `analyses:`. Its entry says everything the rest of the
package needs to know about it: its rules (with default resources), which result file completes
each of its catalogue records, the job events that make those records running or failed, its
download files and the catalogue columns it fills. Adding a pipeline: docs/adding-a-pipeline.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..ids import AccessionKind


@dataclass(frozen=True)
class RuleSpec:
    """A rule's defaults: start memory (MB), runtime (minutes), threads key of config `threads:`."""

    mem_mb: int
    runtime: int
    threads: str | None = None  # key in config `threads:`; None = 1 thread
    assembler: str | None = None  # memory start from the assembler x biome table
    binaries: tuple[str, ...] = ()  # programs it runs (checked on PATH before the first job)


@dataclass(frozen=True)
class Download:
    """A result file offered for download, owned by one record of a pipeline."""

    owner: AccessionKind  # ASSEMBLY or ANALYSIS
    path: str  # name in mgnify_db.paths.PATTERNS
    alias: str  # file name for users; {run} and {accession} are filled in
    file_type: str
    download_type: str
    download_group: str
    description: str


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
    tool: str = ""  # assembler name, for assembly records

    def record(self, kind: AccessionKind) -> RecordSpec | None:
        return next((r for r in self.records if r.kind == kind), None)

    def key(self, run: str, kind: AccessionKind) -> str:
        """The ledger key of this pipeline's record of `kind` for `run`."""
        return f"{run}/{self.tool}" if kind == AccessionKind.ASSEMBLY else f"{run}/{self.name}"


# Rules every run goes through before any pipeline (shared by all pipelines).
RUN_RULES: dict[str, RuleSpec] = {
    "ena_download": RuleSpec(mem_mb=400, runtime=120),
    "qc_fastp": RuleSpec(mem_mb=2000, runtime=120, threads="fastp", binaries=("fastp",)),
}


def _registry() -> dict[str, Pipeline]:
    from .assembly import PIPELINE as assembly

    return {p.name: p for p in (assembly,)}


PIPELINES: dict[str, Pipeline] = _registry()


def rule_spec(rule: str) -> RuleSpec | None:
    """Defaults of any rule (shared or of a pipeline)."""
    if rule in RUN_RULES:
        return RUN_RULES[rule]
    for p in PIPELINES.values():
        if rule in p.rules:
            return p.rules[rule]
    return None


def all_rules() -> dict[str, RuleSpec]:
    out = dict(RUN_RULES)
    for p in PIPELINES.values():
        out |= p.rules
    return out
