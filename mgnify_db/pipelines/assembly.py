"""The assembly pipeline: MEGAHIT per run, then CDS (pyrodigal) and rRNA (barrnap) analysis.

Rules in workflow/rules/assembly.smk and analysis.smk; steps in mgnify_db.steps; tools in
mgnify_db.tools.{megahit,pyrodigal,barrnap,bgzip}. Its annotations: `rrnas` (one row per kind
of rRNA gene barrnap found).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel

from ..ids import AccessionKind
from ..tools import pyrodigal as pyrodigal_tool
from ..tools.barrnap import RrnaKind, barrnap_version
from ..tools.megahit import AssemblyStats
from . import AnnotationSpec, Download, Pipeline, RecordSpec, RuleSpec
from .annotations import AnnotationRow

# The annotation type of the rRNA genes table (the catalogue's `annotations.type`).
RRNA_ANNOTATION_TYPE = "rrnas"

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


def rrna_annotations(kinds: Iterable[RrnaKind]) -> list[AnnotationRow]:
    """The `rrnas` annotation rows: per kind of rRNA gene, barrnap's name as the term (e.g.
    `16S_rRNA`), its product as the description (`16S ribosomal RNA`), the genes found."""
    return [AnnotationRow(term=k.name, description=k.product or None, count=k.count) for k in kinds]


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
            mem_mb=1000, runtime=240, threads="rrna", binaries=("barrnap", "nhmmer", "bgzip")
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
    # the rRNA table too: a results dir from before it existed gets it (analysis_rrna reruns)
    targets=("assembly", "cds_counts", "rrna_counts", "rrna_annotations"),
    downloads=(
        Download(
            AccessionKind.ASSEMBLY,
            "contigs",
            "{run}_contigs.fa.gz",
            file_type="fasta",
            download_type="Sequence data",
            download_group="quality_control",
            short_description="Contigs (MEGAHIT)",
            long_description="Contigs assembled by MEGAHIT from the run's QC-filtered reads",
        ),
        Download(
            AccessionKind.ANALYSIS,
            "fastp_html",
            "{run}_fastp.html",
            file_type="html",
            download_type="Quality control",
            download_group="quality_control",
            short_description="fastp QC report",
            long_description="fastp report of the read quality control before the assembly",
        ),
        Download(
            AccessionKind.ANALYSIS,
            "cds_faa",
            "{accession}_cds.faa",
            file_type="fasta",
            download_type="Coding Sequences",
            download_group="coding_sequences",
            short_description="Predicted CDS proteins",
            long_description="Proteins of the CDS predicted by pyrodigal (metagenome mode)",
        ),
        Download(
            AccessionKind.ANALYSIS,
            "cds_gff",
            "{accession}_cds.gff",
            file_type="gff",
            download_type="Coding Sequences",
            download_group="coding_sequences",
            short_description="Predicted CDS",
            long_description="CDS predicted by pyrodigal (metagenome mode) on the contigs, GFF3",
        ),
        Download(
            AccessionKind.ANALYSIS,
            "rrna_gff",
            "{accession}_rrna.gff",
            file_type="gff",
            download_type="non-coding RNAs",
            download_group="taxonomy",
            short_description="rRNA genes",
            long_description="rRNA genes found by barrnap on the contigs "
            "(overlapping hits of its kingdom models merged), GFF3",
        ),
        Download(
            AccessionKind.ANALYSIS,
            "rrna_annotations",
            "{accession}_rrna_summary.tsv.gz",
            file_type="tsv",
            download_type="non-coding RNAs",
            download_group="taxonomy",
            short_description="rRNA gene counts",
            long_description="Table with the number of rRNA genes of each kind found by barrnap",
            index_types=("gzi",),
        ),
    ),
    annotations=(AnnotationSpec(type=RRNA_ANNOTATION_TYPE, path="rrna_annotations"),),
)
