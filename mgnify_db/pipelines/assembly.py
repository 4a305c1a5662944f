"""The assembly pipeline: MEGAHIT per run, then CDS (pyrodigal) and rRNA (barrnap) analysis.

Rules in workflow/rules/assembly.smk and analysis.smk; steps in mgnify_db.steps; tools in
mgnify_db.tools.{megahit,pyrodigal,barrnap}.
"""

from __future__ import annotations

from pydantic import BaseModel

from ..ids import AccessionKind
from ..tools import pyrodigal as pyrodigal_tool
from ..tools.barrnap import barrnap_version
from ..tools.megahit import AssemblyStats
from . import Download, Pipeline, RecordSpec, RuleSpec

ASSEMBLY_COLUMNS = ("n_contigs", "total_length", "n50", "l50", "largest_contig", "gc_content")
ANALYSIS_COLUMNS = ("cds_count", "rrna_16s", "rrna_23s", "rrna_5s", "rrna_total")


class AnalysisSummary(BaseModel):
    """An assembly analysis's figures (the analyses row), from the CDS and rRNA counts."""

    n_contigs: int
    assembly_length: int
    cds_count: int
    rrna_16s: int = 0
    rrna_23s: int = 0
    rrna_5s: int = 0
    rrna_5_8s: int = 0
    rrna_18s: int = 0
    rrna_28s: int = 0
    rrna_total: int = 0
    rrna_counts: dict[str, int] = {}
    assembler: str | None = None
    assembler_version: str | None = None
    cds_tool: str = "pyrodigal"
    cds_tool_version: str = pyrodigal_tool.TOOL_VERSION
    rrna_tool: str = "barrnap"
    rrna_tool_version: str | None = None


def summarise_analysis(
    cds_count: int,
    rrna_counts: dict[str, int],
    assembly_stats: AssemblyStats,
    *,
    rrna_tool_version: str | None = None,
) -> AnalysisSummary:
    """Combine the CDS count, rRNA counts (as from run_barrnap) and assembly stats.

    `rrna_total` counts every rRNA feature, including kinds without their own field (e.g. 12S).
    """
    return AnalysisSummary(
        n_contigs=assembly_stats.n_contigs,
        assembly_length=assembly_stats.total_length,
        cds_count=cds_count,
        rrna_16s=rrna_counts.get("rRNA_16S", 0),
        rrna_23s=rrna_counts.get("rRNA_23S", 0),
        rrna_5s=rrna_counts.get("rRNA_5S", 0),
        rrna_5_8s=rrna_counts.get("rRNA_5_8S", 0),
        rrna_18s=rrna_counts.get("rRNA_18S", 0),
        rrna_28s=rrna_counts.get("rRNA_28S", 0),
        rrna_total=sum(rrna_counts.values()),
        rrna_counts=dict(rrna_counts),
        assembler=assembly_stats.assembler,
        assembler_version=assembly_stats.assembler_version,
        rrna_tool_version=rrna_tool_version or barrnap_version(),
    )


def analysis_columns(results: dict[str, dict]) -> dict:
    """The analyses row's columns from the CDS and rRNA counts (and the assembly's stats)."""
    if not results:
        return {}
    summary = summarise_analysis(
        results["cds_counts"]["cds_count"],
        results["rrna_counts"],
        AssemblyStats.model_validate(results["assembly"]),
    )
    return {k: getattr(summary, k) for k in ANALYSIS_COLUMNS}


PIPELINE = Pipeline(
    name="assembly",
    description="MEGAHIT assembly per run; CDS (pyrodigal) and rRNA genes (barrnap) on its contigs",
    tool="megahit",
    rules={
        "assembly_megahit": RuleSpec(
            mem_mb=2000, runtime=1440, threads="megahit", assembler="megahit", binaries=("megahit",)
        ),
        "analysis_cds": RuleSpec(mem_mb=1000, runtime=240, threads="cds"),
        "analysis_rrna": RuleSpec(
            mem_mb=1000, runtime=240, threads="rrna", binaries=("barrnap", "nhmmer")
        ),
    },
    records=(
        RecordSpec(
            kind=AccessionKind.ASSEMBLY,
            rules=("assembly_megahit",),
            results=("assembly",),
            columns=lambda r: {
                "assembler_version": r.get("assembly", {}).get("assembler_version"),
                **{k: r.get("assembly", {}).get(k) for k in ASSEMBLY_COLUMNS},
            },
        ),
        RecordSpec(
            kind=AccessionKind.ANALYSIS,
            rules=("analysis_cds", "analysis_rrna"),
            results=("assembly", "cds_counts", "rrna_counts"),
            after=AccessionKind.ASSEMBLY,
            columns=lambda r: analysis_columns(r),
        ),
    ),
    targets=("assembly", "cds_counts", "rrna_counts"),
    downloads=(
        Download(
            AccessionKind.ASSEMBLY,
            "contigs",
            "{run}_contigs.fa.gz",
            "fasta",
            "Sequence data",
            "assembly",
            "Contigs (MEGAHIT)",
        ),
        Download(
            AccessionKind.ANALYSIS,
            "fastp_html",
            "{run}_fastp.html",
            "html",
            "Quality control",
            "quality_control",
            "fastp QC report",
        ),
        Download(
            AccessionKind.ANALYSIS,
            "cds_faa",
            "{accession}_cds.faa",
            "fasta",
            "Coding Sequences",
            "coding_sequences",
            "Predicted proteins (pyrodigal, metagenome mode)",
        ),
        Download(
            AccessionKind.ANALYSIS,
            "cds_gff",
            "{accession}_cds.gff",
            "gff",
            "Coding Sequences",
            "coding_sequences",
            "Predicted CDS (GFF3)",
        ),
        Download(
            AccessionKind.ANALYSIS,
            "rrna_gff",
            "{accession}_rrna.gff",
            "gff",
            "non-coding RNAs",
            "rrna",
            "rRNA genes (barrnap, GFF3)",
        ),
    ),
)
