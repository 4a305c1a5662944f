"""The assembly pipeline: decontamination (where the study's biome has hosts or contaminants
configured), MEGAHIT or metaSPAdes per run with coverage, then the assembly analysis: CDS
(pyrodigal) with Pfam domains (pyhmmer), rRNA genes (Infernal), SSU taxonomy (SINTAX) and
contig taxonomy (kraken2).

Rules in workflow/rules/{qc,assembly,analysis,references}.smk; steps in mgnify_db.steps; tools in
mgnify_db.tools. Its annotations: `pfams`, `taxonomies__ssu`, `taxonomies__contigs` (genus
summary of the contigs) and `rrnas` (rRNA genes by kind).
"""

from __future__ import annotations

import gzip
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from ..ids import AccessionKind
from ..io import open_text
from . import AnnotationSpec, Download, Pipeline, RecordSpec, RuleSpec, fastp_report
from .annotations import AnnotationRow

# The annotation types of this pipeline's tables (the catalogue's `annotations.type`).
RRNA_ANNOTATION_TYPE = "rrnas"
PFAM_ANNOTATION_TYPE = "pfams"
SSU_ANNOTATION_TYPE = "taxonomies__ssu"
CONTIG_ANNOTATION_TYPE = "taxonomies__contigs"
# The version of what this pipeline computes: recorded on every analysis (metadata), bumped
# when a step's output changes meaning. 2: Infernal rRNA, Pfam, SSU and contig taxonomy.
PIPELINE_REVISION = "2"

ASSEMBLY_COLUMNS = (
    "n_contigs",
    "total_length",
    "n50",
    "l50",
    "largest_contig",
    "gc_content",
    "coverage",
    "coverage_depth",
)
ANALYSIS_COLUMNS = ("cds_count", "rrna_16s", "rrna_23s", "rrna_5s", "rrna_total")

# rRNA gene names by kind (Infernal's model kinds) and kingdom: (term, product)
_RRNA_NAMES = {
    ("SSU", "prokaryote"): ("16S_rRNA", "16S ribosomal RNA"),
    ("SSU", "eukaryote"): ("18S_rRNA", "18S ribosomal RNA"),
    ("LSU", "prokaryote"): ("23S_rRNA", "23S ribosomal RNA"),
    ("LSU", "eukaryote"): ("28S_rRNA", "28S ribosomal RNA"),
    ("5S", None): ("5S_rRNA", "5S ribosomal RNA"),
    ("5.8S", None): ("5_8S_rRNA", "5.8S ribosomal RNA"),
}


def rrna_name(kind: str | None, kingdom: str | None) -> tuple[str, str] | None:
    """(term, product) of an rRNA gene: `16S_rRNA` for a bacterial or archaeal SSU, ..."""
    if kind in ("5S", "5.8S"):
        return _RRNA_NAMES[(kind, None)]
    domain = "eukaryote" if (kingdom or "").lower().startswith("euk") else "prokaryote"
    return _RRNA_NAMES.get((kind or "", domain))


def rrna_counts(hits: Iterable) -> dict[str, int]:
    """rRNA genes per kind (`SSU`, `LSU`, `5S`, `5.8S`) and per name (`rRNA_16S`, ...)."""
    counts: Counter[str] = Counter()
    for h in hits:
        if h.kind is None:
            continue
        counts[h.kind] += 1
        if name := rrna_name(h.kind, h.kingdom):
            counts["rRNA_" + name[0].removesuffix("_rRNA")] += 1
    return dict(sorted(counts.items()))


def rrna_annotations(hits: Iterable) -> list[AnnotationRow]:
    """The `rrnas` rows: per kind of rRNA gene (`16S_rRNA`, ...), its product and count."""
    counts: Counter[tuple[str, str]] = Counter()
    for h in hits:
        if name := rrna_name(h.kind, h.kingdom):
            counts[name] += 1
    return [AnnotationRow(term=t, description=d, count=n) for (t, d), n in counts.items()]


def pfam_annotations(counts: Iterable) -> list[AnnotationRow]:
    """The `pfams` rows: per Pfam entry, its description and the CDS it was found on."""
    return [
        AnnotationRow(term=c.accession, description=c.description, count=c.count) for c in counts
    ]


def _taxon_row(lineage: str, count: int) -> AnnotationRow:
    from ..lineage import Lineage

    if not lineage or lineage == "Unclassified":
        return AnnotationRow(term="Unclassified", description="Unclassified", count=count)
    lowest = Lineage.parse(lineage).lowest()
    return AnnotationRow(
        term=lineage,
        organism=lineage,
        lineage=lineage,
        description=lowest[1] if lowest else None,
        rank=lowest[0] if lowest else None,
        count=count,
    )


def taxonomy_annotations(counts: Iterable) -> list[AnnotationRow]:
    """`taxonomies__ssu` rows: per lineage (MGnify's `sk__...;g__...`), the sequences in it."""
    return [_taxon_row(c.lineage, c.count) for c in counts]


def contig_taxonomy_annotations(summary: Iterable) -> list[AnnotationRow]:
    """`taxonomies__contigs` rows: per lineage cut at genus, the contigs assigned to it."""
    return [_taxon_row(t.lineage, t.contigs) for t in summary]


def write_annotation_gff(out: Path, *, cds_gff: Path, domains: Path, rrna_gff: Path) -> int:
    """One GFF3 of every feature: the CDS (with `pfam=` their Pfam entries) and the rRNA
    genes, sorted by contig and position (so that it can be indexed). Returns the features."""
    pfams: dict[str, list[str]] = defaultdict(list)
    with gzip.open(domains, "rt") as fh:
        next(fh, None)
        for line in fh:
            protein, accession = line.rstrip("\n").split("\t", 2)[:2]
            if accession not in pfams[protein]:
                pfams[protein].append(accession)
    features = []
    for path in (cds_gff, rrna_gff):
        with open_text(path) as fh:
            for line in fh:
                if not line.strip() or line.startswith("#"):
                    continue
                cols = line.rstrip("\n").split("\t")
                if cols[2] == "CDS":
                    ident = dict(a.split("=", 1) for a in cols[8].split(";") if "=" in a).get("ID")
                    if ident in pfams:
                        cols[8] += ";pfam=" + ",".join(pfams[ident])
                features.append((cols[0], int(cols[3]), int(cols[4]), cols[2], cols))
    features.sort(key=lambda f: f[:4])
    with open(out, "w") as fh:
        fh.write("##gff-version 3\n")
        fh.writelines("\t".join(f[4]) + "\n" for f in features)
    return len(features)


def analysis_columns(results: dict[str, dict]) -> dict:
    """The analyses row's columns from the CDS and rRNA figures, and its metadata (Pfam, SSU
    and contig taxonomy figures, tool versions, the reference databases)."""
    if not results:
        return {}
    cds, rrna = results["cds_counts"], results["rrna_counts"]
    counts = rrna.get("rrna", {})
    return {
        "cds_count": cds["cds_count"],
        "rrna_16s": counts.get("rRNA_16S", 0),
        "rrna_23s": counts.get("rRNA_23S", 0),
        "rrna_5s": counts.get("rRNA_5S", 0),
        "rrna_total": sum(v for k, v in counts.items() if not k.startswith("rRNA_")),
        "metadata": {
            "pipeline_revision": PIPELINE_REVISION,
            **{k: v for k, v in cds.items() if k != "cds_count"},
            **{k: v for k, v in rrna.items() if k != "rrna"},
            "rrna_counts": counts,
        },
    }


def _download(owner, path, alias, file_type, download_type, group, short, long="", idx=()):
    return Download(owner, path, alias, file_type, download_type, group, short, long, idx)


A, Z = AccessionKind.ANALYSIS, AccessionKind.ASSEMBLY

PIPELINE = Pipeline(
    name="assembly",
    description="Decontamination and assembly (MEGAHIT or metaSPAdes) per run, coverage from"
    " the reads mapped back; CDS with Pfam domains, rRNA genes, SSU and contig taxonomy",
    assemblers=("megahit", "metaspades"),
    takes_coassemblies=True,
    rules={
        "assembly_megahit": RuleSpec(
            mem_mb=2000,
            runtime=1440,
            threads="megahit",
            assembler="megahit",
            binaries=("megahit", "minimap2", "samtools"),
        ),
        "assembly_metaspades": RuleSpec(
            mem_mb=4000,
            runtime=2880,
            threads="metaspades",
            assembler="metaspades",
            binaries=("spades.py", "minimap2", "samtools"),
        ),
        "analysis_cds": RuleSpec(mem_mb=1500, runtime=480, threads="cds", binaries=("bgzip",)),
        "analysis_taxonomy": RuleSpec(
            mem_mb=2000,
            runtime=480,
            threads="taxonomy",
            binaries=("cmsearch", "vsearch", "kraken2", "bgzip"),
        ),
    },
    records=(
        RecordSpec(
            kind=AccessionKind.ASSEMBLY,
            rules=("assembly_megahit", "assembly_metaspades"),
            results=("assembly",),
            columns=lambda r: {
                "assembler_version": r.get("assembly", {}).get("assembler_version"),
                **{k: r.get("assembly", {}).get(k) for k in ASSEMBLY_COLUMNS},
            },
        ),
        RecordSpec(
            kind=AccessionKind.ANALYSIS,
            rules=("analysis_cds", "analysis_taxonomy"),
            results=("assembly", "cds_counts", "rrna_counts"),
            after=AccessionKind.ASSEMBLY,
            columns=lambda r: analysis_columns(r),
        ),
    ),
    # every table too: a results dir from before one existed gets it (its rule reruns)
    targets=(
        "assembly",
        "cds_counts",
        "rrna_counts",
        "rrna_annotations",
        "pfam_annotations",
        "ssu_annotations",
        "contig_annotations",
    ),
    downloads=(
        _download(
            Z,
            "contigs",
            "{run}_contigs.fa.gz",
            "fasta",
            "Sequence data",
            "quality_control",
            "Contigs",
            "Contigs of at least the minimum length assembled (MEGAHIT or metaSPAdes, as the"
            " assembly's assembler says) from the run's reads after QC and decontamination",
        ),
        _download(
            Z,
            "contig_coverage",
            "{run}_coverage.tsv",
            "tsv",
            "Statistics",
            "quality_control",
            "Contig coverage",
            "Per contig: length, reads mapped back (minimap2), bases covered and mean depth",
        ),
        fastp_report("fastp report of the read quality control before the assembly"),
        _download(
            A,
            "cds_faa",
            "{accession}_cds.faa",
            "fasta",
            "Coding Sequences",
            "coding_sequences",
            "Predicted CDS proteins",
            "Proteins of the CDS predicted by pyrodigal (metagenome mode)",
        ),
        _download(
            A,
            "cds_gff",
            "{accession}_cds.gff",
            "gff",
            "Coding Sequences",
            "coding_sequences",
            "Predicted CDS",
            "CDS predicted by pyrodigal (metagenome mode) on the contigs, GFF3",
        ),
        _download(
            A,
            "pfam_annotations",
            "{accession}_pfam_summary.tsv.gz",
            "tsv",
            "Functional analysis",
            "functional_annotation.pfam",
            "Pfam entries",
            "Pfam entries found on the CDS (pyhmmer, GA cutoffs) and the CDS carrying each",
            ("gzi",),
        ),
        _download(
            A,
            "pfam_domains",
            "{accession}_pfam_domains.tsv.gz",
            "tsv",
            "Functional analysis",
            "functional_annotation.pfam",
            "Pfam domains per CDS",
            "Every Pfam domain hit: CDS, entry, score, E-value, envelope and model coordinates",
            ("gzi",),
        ),
        _download(
            A,
            "rrna_gff",
            "{accession}_rrna.gff",
            "gff",
            "non-coding RNAs",
            "taxonomy",
            "rRNA genes",
            "SSU, LSU, 5S and 5.8S rRNA genes found by Infernal cmsearch with Rfam's models on"
            " the contigs (overlapping hits of several kingdoms' models resolved), GFF3",
        ),
        _download(
            A,
            "rrna_annotations",
            "{accession}_rrna_summary.tsv.gz",
            "tsv",
            "non-coding RNAs",
            "taxonomy",
            "rRNA gene counts",
            "Table with the number of rRNA genes of each kind",
            ("gzi",),
        ),
        _download(
            A,
            "ssu_fasta",
            "{accession}_SSU.fasta.gz",
            "fasta",
            "non-coding RNAs",
            "taxonomy",
            "SSU rRNA sequences",
            "Sequences of the SSU rRNA genes (16S/18S) found on the contigs",
        ),
        _download(
            A,
            "lsu_fasta",
            "{accession}_LSU.fasta.gz",
            "fasta",
            "non-coding RNAs",
            "taxonomy",
            "LSU rRNA sequences",
            "Sequences of the LSU rRNA genes (23S/28S) found on the contigs",
        ),
        _download(
            A,
            "ssu_annotations",
            "{accession}_SSU_taxonomy.tsv.gz",
            "tsv",
            "Taxonomic analysis",
            "taxonomies.closed_reference.ssu",
            "SSU taxonomy",
            "Lineages of the SSU rRNA sequences (vsearch SINTAX against the SSU reference) and"
            " the sequences in each",
            ("gzi",),
        ),
        _download(
            A,
            "contig_taxonomy",
            "{accession}_contigs_taxonomy.tsv.gz",
            "tsv",
            "Taxonomic analysis",
            "taxonomy",
            "Contig taxonomy",
            "Per contig: length, kraken2's taxon and its lineage",
            ("gzi",),
        ),
        _download(
            A,
            "contig_annotations",
            "{accession}_contigs_taxonomy_summary.tsv.gz",
            "tsv",
            "Taxonomic analysis",
            "taxonomy",
            "Contig taxonomy by genus",
            "Lineages of the contigs cut at genus (kraken2) and the contigs in each",
            ("gzi",),
        ),
        _download(
            A,
            "annotation_gff",
            "{accession}_annotation_summary.gff.gz",
            "gff",
            "Functional analysis",
            "annotation_summary",
            "All features",
            "CDS (with their Pfam entries) and rRNA genes of the contigs, one GFF3, bgzipped",
            ("gzi",),
        ),
    ),
    annotations=(
        AnnotationSpec(type=PFAM_ANNOTATION_TYPE, path="pfam_annotations"),
        AnnotationSpec(type=SSU_ANNOTATION_TYPE, path="ssu_annotations"),
        AnnotationSpec(type=CONTIG_ANNOTATION_TYPE, path="contig_annotations"),
        AnnotationSpec(type=RRNA_ANNOTATION_TYPE, path="rrna_annotations"),
    ),
)
