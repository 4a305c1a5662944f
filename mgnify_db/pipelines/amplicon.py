"""The amplicon pipeline (AMPLI runs): fastp, then primers found and removed (cutadapt), pairs
merged, ASVs (vsearch UNOISE3 with UCHIME3 chimera removal) and their read counts; then the
amplified region (Infernal, Rfam's SSU models), closed-reference taxonomy of the reads and
SINTAX taxonomy of each ASV against the configured SSU reference.

Rules in workflow/rules/amplicon.smk; steps in mgnify_db.steps; tools in mgnify_db.tools
(cutadapt, vsearch, sintax, infernal). Its annotations: `taxonomies__ssu` (reads,
closed-reference) and `taxonomies__asv` (ASVs).

The result files use MGnify's v6 formats where MGnify has one: `asv_read_counts.tsv`
(`asv`, `count`), the ASV taxonomy table (ASV, then one column per rank, `NA` when unknown),
the primers FASTA. Their readers below are tested on MGnify's own outputs.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..ids import AccessionKind
from ..io import write_text_atomic
from ..lineage import RANKS, UNCLASSIFIED, Lineage, Rank
from ..models import ExperimentType
from . import AnnotationSpec, Pipeline, RecordSpec, RuleSpec, analysis_download, fastp_report
from .annotations import AnnotationRow

SSU_ANNOTATION_TYPE = "taxonomies__ssu"
ASV_ANNOTATION_TYPE = "taxonomies__asv"
# What each of its rules writes (path names; the tables' .gzi indexes beside them, undeclared)
ASV_OUTPUTS = ("asv_json", "primers_fasta", "asv_fasta", "asv_counts", "amplicon_uniques")
TAXONOMY_OUTPUTS = (
    "amplicon_taxonomy_json",
    "asv_taxonomy",
    "amplicon_rank_counts",
    "amplicon_ssu_annotations",
    "asv_annotations",
)
# The version of what this pipeline computes (recorded on every analysis's metadata).
PIPELINE_REVISION = "1"

# Variable regions of the SSU rRNA in the coordinates of Rfam's SSU models (E. coli numbering
# carried onto each model by alignment): model -> (marker gene, {region: (from, to)}).
VARIABLE_REGIONS: dict[str, tuple[str, dict[str, tuple[int, int]]]] = {
    "SSU_rRNA_bacteria": (
        "16S",
        {
            "V1": (69, 92),
            "V2": (131, 239),
            "V3": (430, 487),
            "V4": (566, 672),
            "V5": (812, 869),
            "V6": (976, 1033),
            "V7": (1107, 1164),
            "V8": (1234, 1285),
            "V9": (1426, 1456),
        },
    ),
    "SSU_rRNA_archaea": (
        "16S",
        {
            "V1": (61, 79),
            "V2": (114, 223),
            "V3": (397, 436),
            "V4": (516, 623),
            "V5": (763, 824),
            "V6": (932, 982),
            "V7": (1056, 1119),
            "V8": (1189, 1240),
            "V9": (1372, 1410),
        },
    ),
    "SSU_rRNA_eukarya": (
        "18S",
        {
            "V1": (69, 109),
            "V2": (136, 298),
            "V3": (474, 545),
            "V4": (627, 873),
            "V5": (1059, 1102),
            "V7": (1366, 1454),
            "V8": (1526, 1608),
            "V9": (1728, 1795),
        },
    ),
}
# a region is amplified when the amplicon spans at least this share of it
REGION_COVERAGE = 0.5
DOMAINS = {"bac": "Bacteria", "arc": "Archaea", "euk": "Eukarya"}


def amplified_region(model: str | None, mdl_from: int, mdl_to: int) -> str | None:
    """`16S-V4`, `16S-V3-V4`...: the variable regions a hit on an SSU model spans (None for
    another model, or when it spans none)."""
    if model not in VARIABLE_REGIONS:
        return None
    gene, regions = VARIABLE_REGIONS[model]
    lo, hi = min(mdl_from, mdl_to), max(mdl_from, mdl_to)
    spanned = [
        name
        for name, (start, end) in regions.items()
        if min(hi, end) - max(lo, start) + 1 >= REGION_COVERAGE * (end - start + 1)
    ]
    return f"{gene}-" + "-".join(spanned) if spanned else None


# -- result files (MGnify's formats) ----------------------------------------------------------
def write_asv_counts(path: Path, counts: Mapping[str, int]) -> None:
    """`asv`, `count`: reads per ASV, most first (MGnify's `<run>_<region>_asv_read_counts.tsv`)."""
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], _asv_number(kv[0])))
    write_text_atomic(path, "asv\tcount\n" + "".join(f"{asv}\t{n}\n" for asv, n in rows))


def _asv_number(name: str) -> tuple[int, str]:
    tail = name.rsplit("_", 1)[-1]
    return (int(tail), name) if tail.isdigit() else (0, name)


def read_asv_counts(path: Path) -> dict[str, int]:
    """An ASV read-count table (ours or MGnify's): ASV -> reads."""
    with open(path) as fh:
        reader = csv.reader(fh, delimiter="\t")
        header = next(reader, None)
        if header is None or [h.lower() for h in header[:2]] != ["asv", "count"]:
            raise ValueError(f"{path}: not an ASV read-count table (header asv, count)")
        return {row[0]: int(row[1]) for row in reader if len(row) >= 2}


# MGnify's DADA2-SILVA ASV table heads its columns with these names
ASV_TABLE_RANKS = {
    Rank.superkingdom: "Superkingdom",
    Rank.kingdom: "Kingdom",
    Rank.phylum: "Phylum",
    Rank.class_: "Class",
    Rank.order: "Order",
    Rank.family: "Family",
    Rank.genus: "Genus",
    Rank.species: "Species",
}


def write_asv_taxonomy(path: Path, lineages: Mapping[str, Lineage], regions: Mapping) -> None:
    """Per ASV: its lineage, a column per rank (`sk__Bacteria`, `NA` when unknown), as MGnify's
    DADA2-SILVA table, then its amplified region."""
    lines = ["\t".join(["ASV", *ASV_TABLE_RANKS.values(), "region"]) + "\n"]
    for asv, lineage in lineages.items():
        cells = [
            f"{rank.prefix}__{lineage.get(rank)}"
            if lineage.get(rank)
            else (f"{rank.prefix}__" if rank == Rank.kingdom and lineage else "NA")
            for rank in ASV_TABLE_RANKS
        ]
        lines.append("\t".join([asv, *cells, regions.get(asv) or "NA"]) + "\n")
    write_text_atomic(path, "".join(lines))


def read_asv_taxonomy(path: Path) -> dict[str, Lineage]:
    """An ASV taxonomy table (ours, or MGnify's DADA2-SILVA `<run>_DADA2-SILVA_asv_tax.tsv`):
    ASV -> lineage (ranks from the columns' `sk__`/`p__`... prefixes; `NA` = unknown)."""
    out: dict[str, Lineage] = {}
    with open(path) as fh:
        reader = csv.reader(fh, delimiter="\t")
        header = next(reader, None)
        if not header or header[0] != "ASV":
            raise ValueError(f"{path}: not an ASV taxonomy table (first column ASV)")
        for row in reader:
            names: dict[Rank, str] = {}
            for cell in row[1:]:
                prefix, sep, name = cell.partition("__")
                rank = next((r for r in RANKS if r.prefix == prefix), None)
                if sep and rank is not None and name:
                    names[rank] = name
            out[row[0]] = Lineage.of(names)
    return out


def read_mgnify_otu_table(path: Path) -> dict[str, int]:
    """MGnify's closed-reference taxonomy table (`<run>_SILVA-SSU.tsv`: comment lines, then
    OTU id, count, lineage): reads per lineage."""
    counts: Counter[str] = Counter()
    with open(path) as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            counts[cols[2] or UNCLASSIFIED] += int(float(cols[1]))
    return dict(counts)


def rank_counts(counts: Mapping[str, int]) -> list[tuple[Rank, str, int]]:
    """Reads per taxon at each rank (a read assigned to a genus counts for its family, order...
    too): (rank, lineage cut at that rank, reads), by rank then most reads."""
    out: Counter[tuple[Rank, str]] = Counter()
    for text, n in counts.items():
        lineage = Lineage() if text == UNCLASSIFIED else Lineage.parse(text)
        for rank, _ in lineage.names().items():
            out[(rank, lineage.at(rank).mgnify())] += n
    return sorted(
        ((rank, lin, n) for (rank, lin), n in out.items()),
        key=lambda t: (RANKS.index(t[0]), -t[2], t[1]),
    )


def write_rank_counts(path: Path, counts: Mapping[str, int]) -> None:
    """rank, lineage, reads, fraction of all reads (classified or not)."""
    total = sum(counts.values()) or 1
    rows = [
        f"{rank}\t{lineage}\t{n}\t{n / total:.6f}\n" for rank, lineage, n in rank_counts(counts)
    ]
    write_text_atomic(path, "rank\tlineage\tcount\tfraction\n" + "".join(rows))


# -- annotation rows and the analysis row ------------------------------------------------------
def taxonomy_rows(counts: Mapping[str, int]) -> list[AnnotationRow]:
    """One row per lineage (its lowest rank and name), with its reads."""
    rows = []
    for text, n in counts.items():
        lineage = Lineage() if text == UNCLASSIFIED else Lineage.parse(text)
        lowest = lineage.lowest()
        if lowest is None:
            rows.append(AnnotationRow(term=UNCLASSIFIED, description=UNCLASSIFIED, count=n))
            continue
        rows.append(
            AnnotationRow(
                term=text,
                organism=text,
                lineage=text,
                description=lowest[1],
                rank=str(lowest[0]),
                count=n,
            )
        )
    return rows


def asv_lineage_counts(lineages: Mapping[str, Lineage], counts: Mapping[str, int]) -> Counter:
    """Reads per ASV lineage (ASVs by their read counts)."""
    out: Counter[str] = Counter()
    for asv, n in counts.items():
        lineage = lineages.get(asv) or Lineage()
        out[lineage.mgnify() or UNCLASSIFIED] += n
    return out


def marker_gene_summary(
    closed: Mapping[str, int], regions: Iterable[dict]
) -> dict:  # MGnify's metadata.marker_gene_summary
    """MGnify's `marker_gene_summary`: reads per domain of the closed-reference SSU taxonomy,
    and the amplified regions of the ASVs."""
    by_domain: Counter[str] = Counter()
    for text, n in closed.items():
        if text != UNCLASSIFIED:
            domain = Lineage.parse(text).get(Rank.superkingdom)
            if domain:
                by_domain["Eukarya" if domain.startswith("Euk") else domain] += n
    total = sum(by_domain.values())
    return {
        "closed_reference": {
            "marker_genes": {
                "SSU": {
                    d: {"read_count": n, "majority_marker": n == max(by_domain.values())}
                    for d, n in sorted(by_domain.items())
                }
                if total
                else {}
            }
        },
        "asv": {"amplified_regions": list(regions)},
    }


def analysis_columns(results: dict[str, dict]) -> dict:
    """The analyses row's metadata: primers, read and ASV figures, regions, MGnify's marker
    gene summary, tool versions and references."""
    if not results:
        return {}
    asv, taxonomy = results["asv_json"], results["amplicon_taxonomy_json"]
    return {
        "metadata": {
            "pipeline_revision": PIPELINE_REVISION,
            **{k: v for k, v in asv.items() if k not in ("passed", "reason")},
            **taxonomy,
        }
    }


PIPELINE = Pipeline(
    name="amplicon",
    description="Primers found and removed (cutadapt), pairs merged, ASVs (vsearch UNOISE3,"
    " UCHIME3 chimeras removed); amplified region (Infernal); closed-reference taxonomy of the"
    " reads and SINTAX taxonomy of the ASVs",
    experiment_types=(ExperimentType.AMPLICON,),
    rules={
        "amplicon_asv": RuleSpec(
            mem_mb=1000, runtime=240, threads="amplicon", binaries=("cutadapt", "vsearch")
        ),
        "amplicon_taxonomy": RuleSpec(
            mem_mb=1500, runtime=240, threads="amplicon", binaries=("cmsearch", "vsearch", "bgzip")
        ),
    },
    records=(
        RecordSpec(
            kind=AccessionKind.ANALYSIS,
            rules=("amplicon_asv", "amplicon_taxonomy"),
            results=("asv_json", "amplicon_taxonomy_json"),
            columns=lambda r: analysis_columns(r),
        ),
    ),
    targets=("asv_json", "amplicon_taxonomy_json", "amplicon_ssu_annotations", "asv_annotations"),
    downloads=(
        fastp_report("fastp report of the read quality control before primer removal"),
        analysis_download(
            "primers_fasta",
            "{run}_primers.fasta",
            "fasta",
            "Sequence data",
            "primer_identification",
            "Primers found",
            "The known primers found at the reads' starts (cutadapt) and removed; empty when"
            " none was found",
        ),
        analysis_download(
            "asv_fasta",
            "{run}_asv_seqs.fasta",
            "fasta",
            "Sequence data",
            "asv",
            "ASV sequences",
            "Amplicon sequence variants (vsearch UNOISE3, UCHIME3 chimeras removed)",
        ),
        analysis_download(
            "asv_counts",
            "{run}_asv_read_counts.tsv",
            "tsv",
            "Taxonomic analysis",
            "asv",
            "ASV read counts",
            "Reads per ASV (each read counted for the ASV it matches best at 97 % or more)",
        ),
        analysis_download(
            "asv_taxonomy",
            "{run}_asv_taxonomy.tsv",
            "tsv",
            "Taxonomic analysis",
            "asv",
            "ASV taxonomy",
            "Lineage of each ASV (vsearch SINTAX against the SSU reference), one column per"
            " rank, and its amplified region",
        ),
        analysis_download(
            "amplicon_ssu_annotations",
            "{run}_SSU_taxonomy.tsv.gz",
            "tsv",
            "Taxonomic analysis",
            "taxonomies.closed_reference.ssu",
            "SSU taxonomy of the reads",
            "Closed-reference taxonomy: the lineage each read's best hits in the SSU reference"
            " share (97 % identity), and the reads in each",
            ("gzi",),
        ),
        analysis_download(
            "amplicon_rank_counts",
            "{run}_SSU_ranks.tsv",
            "tsv",
            "Taxonomic analysis",
            "taxonomies.closed_reference.ssu",
            "SSU taxonomy per rank",
            "Reads per taxon at each rank (closed-reference), with their fraction of all reads",
        ),
        analysis_download(
            "asv_annotations",
            "{run}_ASV_taxonomy_summary.tsv.gz",
            "tsv",
            "Taxonomic analysis",
            "taxonomies.asv",
            "ASV taxonomy summary",
            "Reads per ASV lineage (the ASVs' read counts summed by lineage)",
            ("gzi",),
        ),
    ),
    annotations=(
        AnnotationSpec(type=SSU_ANNOTATION_TYPE, path="amplicon_ssu_annotations"),
        AnnotationSpec(type=ASV_ANNOTATION_TYPE, path="asv_annotations"),
    ),
)
