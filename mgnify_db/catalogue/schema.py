"""The catalogue's tables: one description, from which the store makes its DDL.

Naming (docs/glossary.md): `accession` is a record's own public accession (MGYS, MGYA, the local
assembly accession, ENA's for samples and runs); a column named after a table (`study`, `run`,
`sample`, `assembly`, `analysis`) holds that record's `accession`; ENA's accession of a study or
assembly is `ena_accession`. Records no longer current are kept with `is_suppressed` = 1 and
`suppression_reason`, never deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SCHEMA_VERSION = 4

Rows = dict[str, list[dict]]  # table name -> its rows (what a load replaces)

# Every record table (studies, samples, runs, assemblies, analyses, downloads) carries these:
# `is_private` and `is_suppressed` come down from the owning study (and, for suppression, from
# the record itself); `publish` keeps only rows with both 0, then every row whose foreign keys
# still resolve (link tables, annotations, events).
VISIBILITY = {
    "is_private": int,
    "is_suppressed": int,
    "suppression_reason": str,
    "webin_owner": str,
}


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, type]
    pk: str | tuple[str, ...]
    foreign_keys: list[tuple[str, str, str]] = field(default_factory=list)
    indexes: list[list[str]] = field(default_factory=list)
    unique: list[list[str]] = field(default_factory=list)
    # How a study's load finds the rows it replaces: "study" = a `study` column; "analysis" =
    # rows of the study's analyses; None = shared rows (biomes, publications...), upserted only.
    owner: str | None = "study"
    without_rowid: bool = False

    @property
    def per_study(self) -> bool:
        return self.owner is not None

    @property
    def pk_columns(self) -> tuple[str, ...]:
        return (self.pk,) if isinstance(self.pk, str) else self.pk


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "biomes",
            {"lineage": str, "biome_name": str, "path": str, "depth": int, "parent": str},
            pk="lineage",
            foreign_keys=[("parent", "biomes", "lineage")],
            indexes=[["parent"], ["path"]],
            owner=None,
        ),
        Table(
            "publications",
            {
                "pubmed_id": int,
                "title": str,
                "published_year": int,
                "doi": str,
                "authors": str,
                "metadata": str,
            },
            pk="pubmed_id",
            indexes=[["published_year"]],
            owner=None,
        ),
        Table(
            "super_studies",
            {"slug": str, "title": str, "description": str, "logo_url": str},
            pk="slug",
            owner=None,
        ),
        Table(
            "studies",
            {
                "accession": str,
                "id": int,
                "ena_accession": str,
                "ena_accessions": str,
                "title": str,
                "abstract": str,
                "center_name": str,
                "metadata": str,
                "biome": str,
                "first_public": str,
                "features": str,
                "results_dir": str,
                "created_at": str,
                "updated_at": str,
                "runs_total": int,
                "runs_eligible": int,
                "runs_skipped": int,
                "runs_qc_failed": int,
                "assemblies_completed": int,
                "analyses_completed": int,
                "ena_missing_fields": str,
                **VISIBILITY,
            },
            pk="accession",
            foreign_keys=[("biome", "biomes", "lineage")],
            indexes=[
                ["ena_accession"],
                ["biome"],
                ["center_name"],
                ["updated_at"],
                # the API's lists: visible rows in accession order from one index walk
                ["is_private", "is_suppressed", "accession"],
                ["webin_owner"],
            ],
            unique=[["ena_accession"]],
        ),
        Table(
            "study_publications",
            {"id": str, "study": str, "publication": int},
            pk="id",
            foreign_keys=[
                ("study", "studies", "accession"),
                ("publication", "publications", "pubmed_id"),
            ],
            indexes=[["study"], ["publication"]],
        ),
        Table(
            "super_study_studies",
            {"id": str, "super_study": str, "study": str, "is_flagship": int},
            pk="id",
            foreign_keys=[
                ("super_study", "super_studies", "slug"),
                ("study", "studies", "accession"),
            ],
            indexes=[["super_study"], ["study"]],
        ),
        Table(
            "samples",
            {
                "accession": str,
                "ena_accessions": str,
                "secondary_accession": str,
                "title": str,
                "scientific_name": str,
                "tax_id": str,
                "latitude": float,
                "longitude": float,
                "collection_date": str,
                "country": str,
                "location": str,
                "depth": str,
                "temperature": str,
                "environment_biome": str,
                "environment_feature": str,
                "environment_material": str,
                "host_scientific_name": str,
                "biome": str,
                "metadata": str,
                "updated_at": str,
                **VISIBILITY,
            },
            pk="accession",
            foreign_keys=[("biome", "biomes", "lineage")],
            indexes=[
                ["biome"],
                ["environment_biome"],
                ["country"],
                ["updated_at"],
                ["is_private", "is_suppressed", "accession"],
                ["secondary_accession"],  # the API finds a sample by its ERS accession too
            ],
            owner=None,  # shared between studies: see study_samples
        ),
        Table(
            "study_samples",
            {"id": str, "study": str, "sample": str, "biome": str, **VISIBILITY},
            pk="id",
            foreign_keys=[
                ("study", "studies", "accession"),
                ("sample", "samples", "accession"),
                ("biome", "biomes", "lineage"),
            ],
            indexes=[["study"], ["sample"], ["biome"]],
        ),
        Table(
            "runs",
            {
                "accession": str,
                "study": str,
                "sample": str,
                "experiment_type": str,
                "experiment_type_label": str,
                "library_strategy": str,
                "library_source": str,
                "library_layout": str,
                "inferred_layout": str,
                "instrument_platform": str,
                "instrument_model": str,
                "read_count": int,
                "base_count": int,
                "fastq": str,
                "status": str,
                "status_reason": str,
                "job_id": str,
                "qc_reads_before": int,
                "qc_reads_after": int,
                "qc_bases_after": int,
                "qc_q30_rate": float,
                "qc_filtered_fraction": float,
                "metadata": str,
                "updated_at": str,
                **VISIBILITY,
            },
            pk="accession",
            foreign_keys=[("study", "studies", "accession"), ("sample", "samples", "accession")],
            indexes=[
                ["study", "status"],
                ["sample"],
                ["status"],
                ["library_strategy"],
                ["experiment_type", "is_private", "is_suppressed", "accession"],
                ["is_private", "is_suppressed", "accession"],
            ],
        ),
        Table(
            "assemblies",
            {
                "accession": str,
                "id": int,
                "ena_accession": str,
                "ena_accessions": str,
                "run": str,
                "coassembly": str,
                "study": str,
                "assembly_study": str,
                "sample": str,
                "pipeline": str,
                "assembler": str,
                "assembler_version": str,
                "status": str,
                "status_reason": str,
                "status_flags": str,
                "job_id": str,
                "n_contigs": int,
                "total_length": int,
                "n50": int,
                "l50": int,
                "largest_contig": int,
                "gc_content": float,
                "coverage": float,
                "coverage_depth": float,
                "metadata": str,
                "results_dir": str,
                "updated_at": str,
                **VISIBILITY,
            },
            pk="accession",
            foreign_keys=[
                ("run", "runs", "accession"),
                ("study", "studies", "accession"),
                ("sample", "samples", "accession"),
            ],
            indexes=[
                ["run", "assembler"],
                ["study", "coassembly"],
                ["assembler"],
                ["study", "status"],
                ["sample"],
                ["status"],
                ["is_private", "is_suppressed", "accession"],
                ["ena_accession"],  # the API finds an assembly by ENA's accession too
            ],
            unique=[["run", "assembler"]],
        ),
        Table(
            "assembly_runs",
            {"id": str, "assembly": str, "run": str, "study": str},
            pk="id",
            foreign_keys=[
                ("assembly", "assemblies", "accession"),
                ("run", "runs", "accession"),
                ("study", "studies", "accession"),
            ],
            indexes=[["assembly"], ["run"], ["study"]],
        ),
        Table(
            "analyses",
            {
                "accession": str,
                "id": int,
                "study": str,
                "sample": str,
                "run": str,
                "coassembly": str,
                "assembly": str,
                "experiment_type": str,
                "experiment_type_label": str,
                "pipeline": str,
                "pipeline_version": str,
                "status": str,
                "status_reason": str,
                "status_flags": str,
                "is_ready": int,
                "annotations_digest": str,
                "job_id": str,
                "cds_count": int,
                "rrna_16s": int,
                "rrna_23s": int,
                "rrna_5s": int,
                "rrna_total": int,
                "quality_control": str,
                "metadata": str,
                "results_dir": str,
                "updated_at": str,
                **VISIBILITY,
            },
            pk="accession",
            foreign_keys=[
                ("study", "studies", "accession"),
                ("sample", "samples", "accession"),
                ("run", "runs", "accession"),
                ("assembly", "assemblies", "accession"),
            ],
            indexes=[
                ["study", "status"],
                ["sample"],
                ["run"],
                ["study", "coassembly"],
                ["assembly"],
                ["status"],
                ["experiment_type"],
                ["pipeline"],
                ["is_ready", "is_private", "is_suppressed", "accession"],
            ],
        ),
        Table(
            "downloads",
            {
                "id": str,
                "study": str,
                "assembly": str,
                "analysis": str,
                "alias": str,
                "path": str,
                "file_type": str,
                "download_type": str,
                "download_group": str,
                "short_description": str,
                "long_description": str,
                "size_bytes": int,
                "md5": str,
                "url": str,
                "index_files": str,
                **VISIBILITY,
            },
            pk="id",
            foreign_keys=[
                ("study", "studies", "accession"),
                ("assembly", "assemblies", "accession"),
                ("analysis", "analyses", "accession"),
            ],
            indexes=[
                ["study"],
                ["analysis"],
                ["assembly"],
                ["download_group"],
                ["file_type"],
                ["download_type"],
                ["is_private", "is_suppressed"],
            ],
        ),
        Table(
            # One row per (analysis, annotation type, term); a page of one analysis' annotations
            # of one type is one range of the primary key.
            "annotations",
            {
                "analysis": str,
                "type": str,
                "term": str,
                "description": str,
                "organism": str,
                "lineage": str,
                "rank": str,
                "count": int,
            },
            pk=("analysis", "type", "term"),
            foreign_keys=[("analysis", "analyses", "accession")],
            owner="analysis",
            without_rowid=True,
        ),
        Table(
            "events",
            {
                "id": str,
                "time": str,
                "study": str,
                "run": str,
                "coassembly": str,
                "rule": str,
                "event": str,
                "attempt": int,
                "mem_mb": int,
                "threads": int,
                "job_id": str,
                "host": str,
                "cause": str,
                "message": str,
            },
            pk="id",
            foreign_keys=[("study", "studies", "accession"), ("run", "runs", "accession")],
            indexes=[
                ["study"],
                ["run"],
                ["study", "coassembly"],
                ["rule"],
                ["event"],
                ["cause"],
                ["time"],
            ],
        ),
    )
}
# Parents before children (the order inserts need; deletes go the other way).
ORDER = list(TABLES)
# Full-text search (sqlite FTS5, kept by triggers in catalogue.db, rebuilt in public.db).
FTS = {"studies": ["title", "abstract"], "samples": ["title", "location"]}
# Tables publish leaves out of public.db: operations only.
PRIVATE_TABLES = ("events",)
# Annotation types: MGnify's (the API's `annotation_type`) and those our pipelines add.
ANNOTATION_TYPES = (
    "taxonomies__ssu",
    "taxonomies__lsu",
    "taxonomies__its_one_db",
    "taxonomies__unite",
    "taxonomies__pr2",
    "taxonomies__dada2_pr2",
    "taxonomies__dada2_silva",
    "pfams",
)
