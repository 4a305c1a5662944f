"""The raw-reads pipeline (METAG and METAT runs, when the study asks for `raw-reads`): the reads
after QC (and decontamination, where the study has genomes to remove) are analysed without
assembly. SSU and LSU reads are found (Infernal, Rfam's rRNA models) and classified against the
SSU and LSU references (closed reference, as the amplicon pipeline's reads); every
read pair is classified by kraken2 against the rule-built database, the reads left above genus
shared among the genera below (Bracken's idea); Pfam domains are searched in the reads' six-frame
translations (pyhmmer).

Rules in workflow/rules/raw_reads.smk; steps in mgnify_db.steps. Its annotations:
`taxonomies__ssu` and `taxonomies__lsu` (SSU and LSU reads), `taxonomies__reads` (kraken2, by
genus) and `pfams` (reads per Pfam entry).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ..ids import AccessionKind
from ..lineage import UNCLASSIFIED, Lineage, Rank
from . import AnnotationSpec, Pipeline, RecordSpec, RuleSpec, analysis_download, fastp_report

SSU_ANNOTATION_TYPE = "taxonomies__ssu"
LSU_ANNOTATION_TYPE = "taxonomies__lsu"
READ_ANNOTATION_TYPE = "taxonomies__reads"
PFAM_ANNOTATION_TYPE = "pfams"
PIPELINE_REVISION = "2"  # 2: LSU taxonomy
TAXONOMY_OUTPUTS = (
    "reads_taxonomy_json",
    "reads_ssu_fasta",
    "reads_lsu_fasta",
    "reads_kraken2_report",
    "reads_ssu_annotations",
    "reads_lsu_annotations",
    "reads_annotations",
)
FUNCTION_OUTPUTS = ("reads_function_json", "reads_pfam_annotations", "reads_pfam_hits")


def genus_counts(
    calls: Iterable[tuple[Lineage, int]], *, reestimate: bool = True
) -> tuple[Counter[str], int]:
    """Read pairs per lineage cut at genus, and how many were moved by re-estimation.

    `calls`: (lineage of the taxon kraken2 gave, pairs). Without re-estimation a pair counts
    under its own lineage (cut at genus; above genus it stays there). With it, the pairs left
    at a taxon above genus are shared among the genera under that taxon in proportion to the
    pairs assigned to each (Bracken's idea, without its k-mer distributions); pairs with no
    genus under their taxon stay where they are. Unclassified pairs count as "Unclassified".
    """
    direct: Counter[str] = Counter()
    above: Counter[Lineage] = Counter()
    for lineage, n in calls:
        if not lineage:
            direct[UNCLASSIFIED] += n
        elif lineage.get(Rank.genus):
            direct[lineage.at(Rank.genus).mgnify()] += n
        else:
            above[lineage] += n
    out = Counter(direct)
    moved = 0
    genera = {g: Lineage.parse(g) for g in direct if g != UNCLASSIFIED}
    for lineage, n in above.items():
        under = {
            g: direct[g]
            for g, lin in genera.items()
            if reestimate and all(lin.get(r) == name for r, name in lineage.names().items())
        }
        total = sum(under.values())
        if not total:
            out[lineage.mgnify()] += n
            continue
        shares = {g: n * c / total for g, c in under.items()}
        given = {g: int(v) for g, v in shares.items()}
        # the remainder, largest fractions first: whole pairs, none lost
        rest = n - sum(given.values())
        for g in sorted(shares, key=lambda g: (-(shares[g] - given[g]), g))[:rest]:
            given[g] += 1
        for g, v in given.items():
            out[g] += v
        moved += n
    return out, moved


def analysis_columns(results: dict[str, dict]) -> dict:
    if not results:
        return {}
    taxonomy, function = results["reads_taxonomy_json"], results["reads_function_json"]
    return {
        "metadata": {
            "pipeline_revision": PIPELINE_REVISION,
            **taxonomy,
            **function,
        }
    }


PIPELINE = Pipeline(
    name="raw-reads",
    description="Reads analysed without assembly: SSU/LSU reads (Infernal) and their taxonomy,"
    " read taxonomy (kraken2, re-estimated at genus), Pfam domains on the reads (pyhmmer)",
    rules={
        "raw_reads_taxonomy": RuleSpec(
            mem_mb=2000,
            runtime=480,
            threads="raw_reads",
            binaries=("cmsearch", "vsearch", "kraken2", "bgzip"),
        ),
        "raw_reads_function": RuleSpec(
            mem_mb=2000, runtime=480, threads="raw_reads", binaries=("bgzip",)
        ),
    },
    records=(
        RecordSpec(
            kind=AccessionKind.ANALYSIS,
            rules=("raw_reads_taxonomy", "raw_reads_function"),
            results=("reads_taxonomy_json", "reads_function_json"),
            columns=lambda r: analysis_columns(r),
        ),
    ),
    targets=(
        "reads_taxonomy_json",
        "reads_function_json",
        "reads_ssu_annotations",
        "reads_lsu_annotations",
        "reads_annotations",
        "reads_pfam_annotations",
        "reads_pfam_hits",
    ),
    downloads=(
        fastp_report("fastp report of the read quality control"),
        analysis_download(
            "reads_ssu_fasta",
            "{run}_SSU_reads.fasta.gz",
            "fasta",
            "non-coding RNAs",
            "taxonomy",
            "SSU rRNA reads",
            "Reads with an SSU rRNA hit (Infernal cmsearch, Rfam's SSU models)",
        ),
        analysis_download(
            "reads_lsu_fasta",
            "{run}_LSU_reads.fasta.gz",
            "fasta",
            "non-coding RNAs",
            "taxonomy",
            "LSU rRNA reads",
            "Reads with an LSU rRNA hit (Infernal cmsearch, Rfam's LSU models)",
        ),
        analysis_download(
            "reads_ssu_annotations",
            "{run}_SSU_taxonomy.tsv.gz",
            "tsv",
            "Taxonomic analysis",
            "taxonomies.closed_reference.ssu",
            "SSU taxonomy of the reads",
            "Lineages of the SSU reads (the lineage their best hits in the SSU reference share,"
            " 97 % identity) and the reads in each",
            ("gzi",),
        ),
        analysis_download(
            "reads_lsu_annotations",
            "{run}_LSU_taxonomy.tsv.gz",
            "tsv",
            "Taxonomic analysis",
            "taxonomies.closed_reference.lsu",
            "LSU taxonomy of the reads",
            "Lineages of the LSU reads (the lineage their best hits in the LSU reference share,"
            " 97 % identity) and the reads in each; empty without an LSU reference",
            ("gzi",),
        ),
        analysis_download(
            "reads_annotations",
            "{run}_reads_taxonomy.tsv.gz",
            "tsv",
            "Taxonomic analysis",
            "taxonomy",
            "Read taxonomy by genus",
            "Read pairs per lineage cut at genus (kraken2 against the reference database; pairs"
            " left above genus shared among the genera below)",
            ("gzi",),
        ),
        analysis_download(
            "reads_kraken2_report",
            "{run}_kraken2_report.txt",
            "tsv",
            "Taxonomic analysis",
            "taxonomy",
            "kraken2 report",
            "kraken2's report of the read pairs per taxon (before re-estimation)",
        ),
        analysis_download(
            "reads_pfam_annotations",
            "{run}_pfam_summary.tsv.gz",
            "tsv",
            "Functional analysis",
            "functional_annotation.pfam",
            "Pfam entries on reads",
            "Pfam entries found in the reads' six-frame translations (pyhmmer) and the reads"
            " carrying each",
            ("gzi",),
        ),
        analysis_download(
            "reads_pfam_hits",
            "{run}_pfam_reads.tsv.gz",
            "tsv",
            "Functional analysis",
            "functional_annotation.pfam",
            "Pfam entries per read",
            "Each read (`<read>/<mate>`) with a Pfam domain, and its entries",
        ),
    ),
    annotations=(
        AnnotationSpec(type=SSU_ANNOTATION_TYPE, path="reads_ssu_annotations"),
        AnnotationSpec(type=LSU_ANNOTATION_TYPE, path="reads_lsu_annotations"),
        AnnotationSpec(type=READ_ANNOTATION_TYPE, path="reads_annotations"),
        AnnotationSpec(type=PFAM_ANNOTATION_TYPE, path="reads_pfam_annotations"),
    ),
)
