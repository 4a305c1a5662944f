"""Catalogue rows -> the API's objects: one function per schema of MGnify's document
(`openapi_v2.json` components), named after it. Rows are mappings of one table's columns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ...pipelines import DOWNLOAD_TYPES, FILE_TYPES
from ..files import sign_file_url
from .query import loads
from .spec import components

Row = Mapping[str, Any]
PIPELINE_VERSIONS = ("V1", "V2", "V3", "V4", "V4.1", "V5", "V6", "V6.1")
INDEX_TYPES = ("fai", "gzi", "csi")
EPOCH = "1970-01-01T00:00:00+00:00"  # `updated_at` is required: for a row that has no time at all


@dataclass(frozen=True)
class Links:
    """How download URLs are written: `base` (`http(s)://host`) before site paths; private files
    seen by their owner get a signed link (`secret`, `lifetime_s`) when signing is enabled."""

    base: str = ""
    secret: str = ""
    lifetime_s: int = 3600
    sign_private: bool = False

    def url(self, path: str | None, private: bool) -> str | None:
        if not path:
            return None
        url = self.base + path if path.startswith("/") else path
        if private and self.sign_private and self.secret:
            return sign_file_url(url, self.secret, self.lifetime_s)
        return url


def date_time(text: str | None) -> str | None:
    """An ISO time or date as RFC 3339 (the document's `date-time`): a date is its midnight, a
    time without zone UTC; None for anything else."""
    try:
        t = datetime.fromisoformat(text or "")
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).isoformat()


def updated_at(row: Row) -> str:
    """The row's latest time we know (ENA's `first_public` is only a date)."""
    for column in ("updated_at", "created_at", "first_public"):
        if found := date_time(row.get(column)):
            return found
    return EPOCH


def biome(lineage: str | None) -> dict | None:
    """{biome_name, lineage}: the name is the lineage's last label (as the biomes table's)."""
    if not lineage:
        return None
    return {"biome_name": lineage.split(":")[-1], "lineage": lineage}


def biome_row(row: Row) -> dict:
    return {"biome_name": row["biome_name"], "lineage": row["lineage"]}


def ena_fields(meta: Any, schema: str) -> dict:
    """A metadata object with only the keys MGnify's document allows (its `propertyNames` are
    the enum `schema`, ENA's field names): other keys of our JSON (ENA's extra fields) go."""
    if not isinstance(meta, dict):
        return {}
    allowed = set(components()[schema]["enum"])
    return {k: v for k, v in meta.items() if k in allowed}


def _accessions(text: str | None, *fallback: str | None) -> list[str]:
    found = loads(text, None)
    if isinstance(found, list) and found:
        return [str(a) for a in found]
    return [a for a in fallback if a]


# -- studies ----------------------------------------------------------------------------------
def study_metadata(row: Row) -> dict:
    """The study's ENA fields, with the four MGnify's clients read always present."""
    meta = ena_fields(loads(row.get("metadata"), None), "ENAStudyFields")
    secondary = [
        a for a in _accessions(row.get("ena_accessions")) if a[:3] in ("ERP", "SRP", "DRP")
    ]
    meta.setdefault("study_title", row.get("title"))
    meta.setdefault("study_description", row.get("abstract"))
    meta.setdefault("center_name", row.get("center_name"))
    meta.setdefault("secondary_study_accession", secondary[0] if secondary else None)
    return meta


def mgnify_study(row: Row) -> dict:
    return {
        "accession": row["accession"],
        "ena_accessions": _accessions(row.get("ena_accessions"), row.get("ena_accession")),
        "title": row.get("title") or "",
        "biome": biome(row.get("biome")),
        "updated_at": updated_at(row),
        "metadata": study_metadata(row),
    }


def mgnify_study_detail(row: Row, downloads: list[dict]) -> dict:
    return mgnify_study(row) | {"first_accession": row.get("ena_accession"), "downloads": downloads}


# -- samples ----------------------------------------------------------------------------------
def mgnify_sample(row: Row) -> dict:
    return {
        "accession": row["accession"],
        "ena_accessions": _accessions(
            row.get("ena_accessions"), row["accession"], row.get("secondary_accession")
        ),
        "sample_title": row.get("title"),
        "biome": biome(row.get("biome")),
        "updated_at": updated_at(row),
    }


def mgnify_sample_with_metadata(row: Row) -> dict:
    meta = ena_fields(loads(row.get("metadata"), None), "ENASampleFields")
    meta.setdefault("sample_title", row.get("title"))
    return mgnify_sample(row) | {"metadata": meta}


def mgnify_sample_detail(row: Row, studies: list[dict]) -> dict:
    return mgnify_sample_with_metadata(row) | {"studies": studies}


# -- runs -------------------------------------------------------------------------------------
def analysed_run(row: Row) -> dict:
    return {
        "accession": row["accession"],
        "experiment_type": row.get("experiment_type_label") or row.get("experiment_type") or "",
        "instrument_model": row.get("instrument_model"),
        "instrument_platform": row.get("instrument_platform"),
        "sample_accession": row.get("sample"),
        "study_accession": row.get("study"),
    }


def analysed_run_detail(row: Row, sample: dict | None, study: dict | None) -> dict:
    return analysed_run(row) | {"sample": sample, "study": study}


# -- assemblies -------------------------------------------------------------------------------
def assembly(row: Row) -> dict:
    return {"accession": row["accession"], "updated_at": updated_at(row)}


def assembly_detail(row: Row) -> dict:
    meta, flags = loads(row.get("metadata"), None), loads(row.get("status_flags"), None)
    return assembly(row) | {
        "run_accession": row.get("run"),
        "sample_accession": row.get("sample"),
        "reads_study_accession": row.get("study"),
        "assembly_study_accession": row.get("assembly_study"),
        "assembler_name": row.get("assembler"),
        "assembler_version": row.get("assembler_version"),
        "metadata": meta if isinstance(meta, dict) else None,
        "status": flags if isinstance(flags, dict) else None,
    }


# -- analyses ---------------------------------------------------------------------------------
def mgnify_analysis(
    row: Row, run: dict | None, sample: dict | None, assembly_: dict | None
) -> dict:
    version = row.get("pipeline_version")
    return {
        "accession": row["accession"],
        "study_accession": row.get("study") or "",
        "experiment_type": row.get("experiment_type_label") or row.get("experiment_type") or "",
        "run": run,
        "sample": sample,
        "assembly": assembly_,
        "pipeline_version": version if version in PIPELINE_VERSIONS else None,
    }


def mgnify_analysis_detail(
    row: Row,
    run: dict | None,
    sample: dict | None,
    assembly_: dict | None,
    downloads: list[dict],
    read_run: list[dict],
) -> dict:
    qc, meta = loads(row.get("quality_control"), None), loads(row.get("metadata"), None)
    return mgnify_analysis(row, run, sample, assembly_) | {
        "downloads": downloads,
        "read_run": read_run,
        "quality_control_summary": qc if isinstance(qc, dict) else None,
        # MGnify gives its results' FTP/HTTP directory; our result dirs are not served as such
        "results_dir": None,
        "metadata": meta if isinstance(meta, dict) else None,
    }


def typed_annotation(row: Row) -> dict:
    """{count, description, organism}: a term's description (else the term itself) and, for
    taxonomies, its organism (else its lineage)."""
    return {
        "count": row.get("count"),
        "description": row.get("description") or row.get("term"),
        "organism": row.get("organism") or row.get("lineage"),
    }


def annotations_object(rows: list[Row]) -> dict:
    """Annotation rows (ordered by type, term) -> {type: [...]}, `a__b` types nested as
    {"a": {"b": [...]}} (MGnify's `taxonomies__ssu` -> `taxonomies.ssu`)."""
    out: dict[str, Any] = {}
    for row in rows:
        head, _, tail = row["type"].partition("__")
        target = out.setdefault(head, {}) if tail else out
        key = tail or head
        if not isinstance(target, dict):  # a type named both `a` and `a__b`: keep the flat one
            continue
        target.setdefault(key, []).append(typed_annotation(row))
    return out


# -- downloads --------------------------------------------------------------------------------
def download_file(row: Row, links: Links) -> dict:
    """MGnifyAnalysisDownloadFile / MGnifyStudyDownloadFile (the same fields)."""
    private = bool(row.get("is_private"))
    url = links.url(row.get("url"), private)
    indexes = []
    for index in loads(row.get("index_files"), None) or []:
        if isinstance(index, dict) and index.get("index_type") in INDEX_TYPES:
            kind = index["index_type"]
            file_url = row.get("url")
            indexes.append(
                {
                    "index_type": kind,
                    "path": index.get("path") or "",
                    "url": links.url(f"{file_url}.{kind}", private) if file_url else None,
                }
            )
    file_type, download_type = row.get("file_type"), row.get("download_type")
    return {
        "file_type": file_type if file_type in FILE_TYPES else "other",
        "download_type": download_type if download_type in DOWNLOAD_TYPES else "Other",
        "download_group": row.get("download_group"),
        "short_description": row.get("short_description") or "",
        "long_description": row.get("long_description") or "",
        "path": row.get("path") or row["alias"],
        "alias": row["alias"],
        "file_size_bytes": row.get("size_bytes"),
        "parent_identifier": row.get("analysis") or row.get("assembly") or row.get("study"),
        "parent_is_private": private,
        "index_files": indexes,
        "url": url,
        # ours (documented in the served document): lets a client check what it fetched
        "md5": row.get("md5"),
    }


# -- publications, super studies --------------------------------------------------------------
def mgnify_publication(row: Row) -> dict:
    meta = loads(row.get("metadata"), None)
    meta = dict(meta) if isinstance(meta, dict) else {}
    for key in ("doi", "authors"):
        if row.get(key):
            meta.setdefault(key, row[key])
    return {
        "pubmed_id": row["pubmed_id"],
        "title": row.get("title") or "",
        "published_year": row.get("published_year"),
        "metadata": meta,
    }


def mgnify_publication_detail(row: Row, studies: list[dict]) -> dict:
    return mgnify_publication(row) | {"studies": studies}


def super_study(row: Row) -> dict:
    return {
        "slug": row["slug"],
        "title": row.get("title") or "",
        "description": row.get("description"),
        "logo_url": row.get("logo_url"),
    }


def super_study_detail(row: Row, flagship: list[dict], related: list[dict]) -> dict:
    return super_study(row) | {
        "flagship_studies": flagship,
        "related_studies": related,
        "genome_catalogues": [],  # no genome catalogues in the catalogue yet
    }
