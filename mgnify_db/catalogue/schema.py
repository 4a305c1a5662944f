"""The catalogue's tables: one description, from which the store makes its DDL.

Naming (docs/glossary.md): `accession` is a record's own public accession (MGYS, MGYA, the local
assembly accession, ENA's for samples and runs); a column named after a table (`study`, `run`,
`sample`, `assembly`, `analysis`) holds that record's `accession`; ENA's accession of a study or
assembly is `ena_accession`. Records no longer current are kept with `is_suppressed` = 1 and
`suppression_reason`, never deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SCHEMA_VERSION = 2

SUPPRESSION = {"is_suppressed": int, "suppression_reason": str}


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, type]
    pk: str
    foreign_keys: list[tuple[str, str, str]] = field(default_factory=list)
    indexes: list[list[str]] = field(default_factory=list)
    unique: list[list[str]] = field(default_factory=list)
    per_study: bool = True  # rows belong to one study (replaced by its load)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "biomes",
            {"lineage": str, "name": str, "path": str, "depth": int, "parent": str},
            pk="lineage",
            foreign_keys=[("parent", "biomes", "lineage")],
            indexes=[["parent"]],
            per_study=False,
        ),
        Table(
            "studies",
            {
                "accession": str,
                "id": int,
                "ena_accession": str,
                "secondary_accessions": str,
                "title": str,
                "abstract": str,
                "center_name": str,
                "biome": str,
                "is_private": int,
                "first_public": str,
                "runs_total": int,
                "runs_eligible": int,
                "runs_skipped": int,
                "runs_qc_failed": int,
                "assemblies_completed": int,
                "analyses_completed": int,
                "ena_missing_fields": str,
            },
            pk="accession",
            foreign_keys=[("biome", "biomes", "lineage")],
            indexes=[["ena_accession"], ["biome"], ["center_name"]],
            unique=[["ena_accession"]],
        ),
        Table(
            "samples",
            {
                "accession": str,
                "secondary_accession": str,
                "study": str,
                "title": str,
                "scientific_name": str,
                "tax_id": str,
                "latitude": float,
                "longitude": float,
                "collection_date": str,
                "country": str,
                "location": str,
                "environment_biome": str,
                "environment_feature": str,
                "environment_material": str,
                "metadata": str,
                **SUPPRESSION,
            },
            pk="accession",
            foreign_keys=[("study", "studies", "accession")],
            indexes=[["study"], ["environment_biome"], ["country"], ["is_suppressed"]],
        ),
        Table(
            "runs",
            {
                "accession": str,
                "study": str,
                "sample": str,
                "experiment_type": str,
                "library_strategy": str,
                "library_source": str,
                "library_layout": str,
                "inferred_layout": str,
                "instrument_platform": str,
                "instrument_model": str,
                "read_count": int,
                "base_count": int,
                "status": str,
                "status_reason": str,
                "job_id": str,
                "qc_reads_before": int,
                "qc_reads_after": int,
                "qc_bases_after": int,
                "qc_q30_rate": float,
                "qc_filtered_fraction": float,
                "fastq": str,
                **SUPPRESSION,
            },
            pk="accession",
            foreign_keys=[("study", "studies", "accession"), ("sample", "samples", "accession")],
            indexes=[
                ["study", "status"],
                ["sample"],
                ["status"],
                ["library_strategy"],
                ["experiment_type"],
                ["is_suppressed"],
            ],
        ),
        Table(
            "assemblies",
            {
                "accession": str,
                "id": int,
                "ena_accession": str,
                "run": str,
                "study": str,
                "sample": str,
                "pipeline": str,
                "assembler": str,
                "assembler_version": str,
                "status": str,
                "status_reason": str,
                "job_id": str,
                "n_contigs": int,
                "total_length": int,
                "n50": int,
                "l50": int,
                "largest_contig": int,
                "gc_content": float,
                **SUPPRESSION,
            },
            pk="accession",
            foreign_keys=[
                ("run", "runs", "accession"),
                ("study", "studies", "accession"),
                ("sample", "samples", "accession"),
            ],
            indexes=[
                ["run", "assembler"],
                ["assembler"],
                ["study", "status"],
                ["sample"],
                ["status"],
                ["is_suppressed"],
            ],
            unique=[["run", "assembler"]],
        ),
        Table(
            "analyses",
            {
                "accession": str,
                "id": int,
                "study": str,
                "sample": str,
                "run": str,
                "assembly": str,
                "experiment_type": str,
                "pipeline": str,
                "status": str,
                "status_reason": str,
                "job_id": str,
                "cds_count": int,
                "rrna_16s": int,
                "rrna_23s": int,
                "rrna_5s": int,
                "rrna_total": int,
                **SUPPRESSION,
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
                ["assembly"],
                ["status"],
                ["experiment_type"],
                ["pipeline"],
                ["is_suppressed"],
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
                "description": str,
                "size_bytes": int,
                **SUPPRESSION,
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
                ["is_suppressed"],
            ],
        ),
        Table(
            "events",
            {
                "id": str,
                "time": str,
                "study": str,
                "run": str,
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
            indexes=[["study"], ["run"], ["rule"], ["event"], ["cause"], ["time"]],
        ),
    )
}
# Children after parents (the order inserts need; deletes go the other way).
ORDER = list(TABLES)
FTS = {"studies": ["title", "abstract"]}
