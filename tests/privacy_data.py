"""A hand-made catalogue of one public and one private study, for the publish, files and privacy
tests: samples (one shared by both studies), runs (one suppressed), assemblies, analyses,
annotations, downloads pointing at real small files, events. Rows are plain inserts into a
`SqliteStore` (which creates the schema), so these tests do not depend on the loaders.

Every private (or suppressed, or operations-only) value carries a marker from `PRIVATE_MARKERS`:
none of them may ever reach an anonymous user."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from support import through_store

PUBLIC_STUDY, PRIVATE_STUDY = "MGYS00000001", "MGYS00000777"
PUBLIC_ANALYSIS, PRIVATE_ANALYSIS = "MGYA00000001", "MGYA00000777"
PUBLIC_ASSEMBLY, PRIVATE_ASSEMBLY = "LZ00000001", "LZ00000777"
SHARED_SAMPLE = "SAMEA00000002"
PRIVATE_MARKERS = (
    "QUOKKA",  # in every private title, abstract, description, file content, event message
    PRIVATE_STUDY,
    "PRJEB77777",
    "ERP77777",
    "SAMEA77770001",
    "ERR7770001",
    "ERR7770002",
    PRIVATE_ASSEMBLY,
    PRIVATE_ANALYSIS,
    "PF77777",
    "Webin-777",
    "ERR0000002",  # a suppressed run of the public study
    "SUPPRESSED-WOMBAT",  # its reason
)
PUBLIC_MARKERS = (PUBLIC_STUDY, "plankton", PUBLIC_ANALYSIS, "SAMEA00000001", SHARED_SAMPLE)
BIOME = "root:Environmental:Aquatic:Marine"


@dataclass(frozen=True)
class File:
    owner: str
    alias: str
    path: str  # relative to the results dir
    content: bytes

    @property
    def md5(self) -> str:
        return hashlib.md5(self.content).hexdigest()

    @property
    def url(self) -> str:
        return f"/files/{self.owner}/{self.alias}"


@dataclass(frozen=True)
class Catalogue:
    db: Path
    results: Path
    public_file: File  # analysis-owned, gzipped
    assembly_file: File  # assembly-owned, plain text
    study_file: File  # study-owned
    private_file: File
    escaping_file: File  # a public row whose path leaves the results dir


def _flags(private: int, suppressed: int = 0, reason: str | None = None) -> dict:
    return {
        "is_private": private,
        "is_suppressed": suppressed,
        "suppression_reason": reason,
        "webin_owner": "Webin-777" if private else None,
    }


def build_catalogue(
    root: Path, name: str = "catalogue.db", *, store: str = "sqlite", request=None
) -> Catalogue:
    """The hand-made catalogue (a SQLite file under `root`/results). With `store`
    "postgresql" it has been through PostgreSQL: moved in and exported back
    (support.through_store)."""
    from mgnify_db.catalogue import SqliteStore
    from mgnify_db.catalogue.biomes import lineage_rows

    results = root / "results"  # the catalogue inside it, as in the default config
    files = {
        "public": File(
            PUBLIC_ANALYSIS,
            "ERR0000001_contigs.fa.gz",
            "studies/PRJEB00011/runs/ERR0000001/assembly/contigs.fa.gz",
            os.urandom(3000) + b"public contigs",
        ),
        "assembly": File(
            PUBLIC_ASSEMBLY,
            "ERR0000001_cds.faa",
            "studies/PRJEB00011/runs/ERR0000001/analysis/cds.faa",
            b">cds1\nMKV\n" * 50,
        ),
        "study": File(
            PUBLIC_STUDY,
            "study_summary.tsv",
            "studies/PRJEB00011/summary.tsv",
            b"term\tcount\nBacteria\t5\n",
        ),
        "private": File(
            PRIVATE_ANALYSIS,
            "ERR7770001_contigs.fa.gz",
            "studies/PRJEB77777/runs/ERR7770001/assembly/contigs.fa.gz",
            b"QUOKKA private contigs " + os.urandom(1000),
        ),
        "escaping": File(PUBLIC_ANALYSIS, "escape.txt", "../outside.txt", b"OUTSIDE"),
    }
    for f in files.values():
        p = results / f.path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(f.content)

    sqlite = SqliteStore(results / name)
    db = sqlite.db
    db["biomes"].insert_all(lineage_rows(BIOME), ignore=True)
    db["publications"].insert_all(
        [{"pubmed_id": 12345, "title": "Plankton of the open ocean", "published_year": 2020}]
    )
    db["super_studies"].insert_all([{"slug": "ocean-atlas", "title": "Ocean atlas"}])
    db["studies"].insert_all(
        [
            {
                "accession": PUBLIC_STUDY,
                "id": 1,
                "ena_accession": "PRJEB00011",
                "ena_accessions": '["PRJEB00011", "ERP00011"]',
                "title": "Open ocean plankton survey",
                "abstract": "Marine plankton of the open ocean",
                "center_name": "EMBL-EBI",
                "biome": BIOME,
                **_flags(0),
            },
            {
                "accession": PRIVATE_STUDY,
                "id": 777,
                "ena_accession": "PRJEB77777",
                "ena_accessions": '["PRJEB77777", "ERP77777"]',
                "title": "QUOKKA embargoed soil study",
                "abstract": "QUOKKA abstract, under embargo",
                "center_name": "QUOKKA centre",
                "biome": BIOME,
                **_flags(1),
            },
        ]
    )
    db["study_publications"].insert_all(
        [
            {"id": f"{PUBLIC_STUDY}/12345", "study": PUBLIC_STUDY, "publication": 12345},
            {"id": f"{PRIVATE_STUDY}/12345", "study": PRIVATE_STUDY, "publication": 12345},
        ]
    )
    db["super_study_studies"].insert_all(
        [
            {"id": "ocean-atlas/1", "super_study": "ocean-atlas", "study": PUBLIC_STUDY},
            {"id": "ocean-atlas/777", "super_study": "ocean-atlas", "study": PRIVATE_STUDY},
        ]
    )
    db["samples"].insert_all(
        [
            {
                "accession": "SAMEA00000001",
                "title": "plankton net tow",
                "biome": BIOME,
                **_flags(0),
            },
            {"accession": SHARED_SAMPLE, "title": "shared plankton water", **_flags(0)},
            {
                "accession": "SAMEA77770001",
                "title": "QUOKKA burrow soil",
                "location": "QUOKKA island",
                **_flags(1),
            },
        ]
    )
    db["study_samples"].insert_all(
        [
            {"id": "1/1", "study": PUBLIC_STUDY, "sample": "SAMEA00000001", **_flags(0)},
            {"id": "1/2", "study": PUBLIC_STUDY, "sample": SHARED_SAMPLE, **_flags(0)},
            {"id": "777/2", "study": PRIVATE_STUDY, "sample": SHARED_SAMPLE, **_flags(1)},
            {"id": "777/7", "study": PRIVATE_STUDY, "sample": "SAMEA77770001", **_flags(1)},
        ]
    )
    run = {"experiment_type": "METAG", "experiment_type_label": "Metagenomic"}
    run |= {"library_strategy": "WGS", "status": "completed", "instrument_platform": "ILLUMINA"}
    db["runs"].insert_all(
        [
            {"accession": "ERR0000001", "study": PUBLIC_STUDY, "sample": "SAMEA00000001"}
            | run
            | _flags(0),
            {"accession": "ERR0000002", "study": PUBLIC_STUDY, "sample": SHARED_SAMPLE}
            | run
            | _flags(0, 1, "SUPPRESSED-WOMBAT: ENA withdrew it"),
            {"accession": "ERR7770001", "study": PRIVATE_STUDY, "sample": "SAMEA77770001"}
            | run
            | _flags(1),
            {"accession": "ERR7770002", "study": PRIVATE_STUDY, "sample": SHARED_SAMPLE}
            | run
            | _flags(1),
        ]
    )
    asm = {"assembler": "megahit", "status": "completed", "pipeline": "assembly"}
    db["assemblies"].insert_all(
        [
            {"accession": PUBLIC_ASSEMBLY, "id": 1, "run": "ERR0000001", "study": PUBLIC_STUDY}
            | {"sample": "SAMEA00000001"}
            | asm
            | _flags(0),
            {"accession": PRIVATE_ASSEMBLY, "id": 777, "run": "ERR7770001"}
            | {"study": PRIVATE_STUDY, "sample": "SAMEA77770001"}
            | asm
            | _flags(1),
        ]
    )
    db["assembly_runs"].insert_all(
        [
            {"id": "1", "assembly": PUBLIC_ASSEMBLY, "run": "ERR0000001", "study": PUBLIC_STUDY},
            {"id": "777", "assembly": PRIVATE_ASSEMBLY, "run": "ERR7770001"}
            | {"study": PRIVATE_STUDY},
        ]
    )
    ana = {"status": "completed", "pipeline": "assembly", "experiment_type": "ASSEM"}
    ana |= {"experiment_type_label": "Assembly", "pipeline_version": "V6"}
    db["analyses"].insert_all(
        [
            {"accession": PUBLIC_ANALYSIS, "id": 1, "study": PUBLIC_STUDY, "run": "ERR0000001"}
            | {"sample": "SAMEA00000001", "assembly": PUBLIC_ASSEMBLY, "is_ready": 1}
            | ana
            | _flags(0),
            {"accession": PRIVATE_ANALYSIS, "id": 777, "study": PRIVATE_STUDY}
            | {"run": "ERR7770001", "sample": "SAMEA77770001", "assembly": PRIVATE_ASSEMBLY}
            | {"is_ready": 1}
            | ana
            | _flags(1),
        ]
    )
    db["annotations"].insert_all(
        [
            {"analysis": PUBLIC_ANALYSIS, "type": "pfams", "term": "PF00001"}
            | {"description": "7tm_1 plankton receptor", "count": 5},
            {"analysis": PUBLIC_ANALYSIS, "type": "taxonomies__ssu", "term": "Bacteria"}
            | {"organism": "Bacteria", "lineage": "sk__Bacteria", "rank": "superkingdom"}
            | {"count": 9},
            {"analysis": PRIVATE_ANALYSIS, "type": "pfams", "term": "PF77777"}
            | {"description": "QUOKKA domain", "count": 3},
        ]
    )

    def download(f: File, kind: str, study: str, private: int, **extra) -> dict:
        return {
            "id": f"{f.owner}/{f.alias}",
            "study": study,
            kind: f.owner,
            "alias": f.alias,
            "path": f.path,
            "file_type": "tsv" if f.alias.endswith(".tsv") else "fasta",
            "download_type": "Sequence data",
            "download_group": "assembly",
            "short_description": "QUOKKA contigs" if private else "Contigs",
            "size_bytes": len(f.content),
            "md5": f.md5,
            "url": f.url,
            **_flags(private),
            **extra,
        }

    db["downloads"].insert_all(
        [
            download(
                files["public"],
                "analysis",
                PUBLIC_STUDY,
                0,
                assembly=PUBLIC_ASSEMBLY,
                index_files='[{"index_type": "fai", "path": "contigs.fa.gz.fai"}]',
            ),
            download(files["assembly"], "assembly", PUBLIC_STUDY, 0),
            download(files["study"], "study", PUBLIC_STUDY, 0, md5=None),
            download(files["private"], "analysis", PRIVATE_STUDY, 1),
            download(files["escaping"], "analysis", PUBLIC_STUDY, 0),
        ]
    )
    db["events"].insert_all(
        [
            {
                "id": "e1",
                "time": "2024-01-01T00:00:00Z",
                "study": PUBLIC_STUDY,
                "run": "ERR0000001",
                "rule": "assembly_megahit",
                "event": "failed",
                "message": "QUOKKA out of memory on node-7",
            }
        ]
    )
    sqlite.db.execute("INSERT OR REPLACE INTO _meta VALUES ('loaded_by', 'QUOKKA operator')")
    db.conn.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    sqlite.close()
    through_store(results / name, store, request)
    return Catalogue(
        results / name,
        results,
        files["public"],
        files["assembly"],
        files["study"],
        files["private"],
        files["escaping"],
    )
