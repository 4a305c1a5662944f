"""The Portal API endpoints (``search``, ``filereport``, ``returnFields``, ``results``) over
`PortalData`, free of HTTP: parameters in, rows and their rendering out."""

from __future__ import annotations

import json
from collections.abc import Sequence

from .data import PLACEHOLDER, PortalData
from .errors import MirrorError
from .query import parse_query

API_PREFIX = "/ena/portal/api"
ENDPOINTS = ("search", "filereport", "returnFields", "results")

RESULT_DESCRIPTIONS = {
    "study": "Studies used for nucleotide sequencing",
    "sample": "Samples",
    "read_run": "Raw reads",
    "read_experiment": "Experiments",
    "analysis": "Nucleotide sequence analyses from reads",
}
#: filereport's fields when none are requested.
FILEREPORT_DEFAULT_FIELDS = ("fastq_ftp", "fastq_md5", "fastq_bytes")

FIELD_DESCRIPTIONS = {
    "study_accession": "study accession number",
    "secondary_study_accession": "secondary study accession number",
    "sample_accession": "sample accession number",
    "secondary_sample_accession": "secondary sample accession number",
    "run_accession": "run accession number",
    "experiment_accession": "experiment accession number",
    "analysis_accession": "analysis accession number",
    "study_title": "brief sequencing study description",
    "study_description": "detailed sequencing study description",
    "study_name": "study name",
    "center_name": "Submitting center",
    "first_public": "date when made public",
    "last_updated": "date when last updated",
    "sample_title": "brief sample title",
    "sample_alias": "submitter's name for the sample",
    "scientific_name": "scientific name of an organism",
    "tax_id": "NCBI taxonomic classification",
    "lat": "latitude (decimal degrees)",
    "lon": "longitude (decimal degrees)",
    "collection_date": "date that the specific sample was collected",
    "country": "locality of sample isolation",
    "location": "geographic location of isolation of the sample",
    "depth": "depth (m)",
    "temperature": "temperature (C)",
    "environment_biome": "Environment (Biome)",
    "environment_feature": "Environment (Feature)",
    "environment_material": "Environment (Material)",
    "host_tax_id": "NCBI taxon id of the host",
    "host_scientific_name": "Scientific name of the natural (as opposed to laboratory) host",
    "library_strategy": "sequencing technique intended for the library",
    "library_source": "source material being sequenced",
    "library_layout": "sequencing library layout",
    "library_selection": "method used to select or enrich the material being sequenced",
    "library_name": "sequencing library name",
    "instrument_platform": "instrument platform used in sequencing experiment",
    "instrument_model": "instrument model used in sequencing experiment",
    "read_count": "number of reads",
    "base_count": "number of base pairs",
    "fastq_ftp": "FASTQ files (FTP)",
    "fastq_md5": "FASTQ files md5",
    "fastq_bytes": "size (in bytes) of FASTQ files",
}

Params = dict[str, list[str]]
Rows = list[dict[str, str]]


def answer(
    data: PortalData,
    endpoint: str,
    params: Params,
    *,
    host: str,
    include_accession: bool = True,
    viewer: str | None = None,
) -> tuple[Rows, list[str], str]:
    """(rows, fields, format) answering ``endpoint`` with ``params`` (as parsed by ``parse_qs``).

    ``host`` replaces the ``{mirror}`` placeholder; ``include_accession`` returns the result's
    accession field first, as ENA does; ``viewer`` is the authenticated data hub (None:
    anonymous), which alone sees its private studies' records. Raises `MirrorError` for what
    ENA rejects.
    """
    if endpoint not in ENDPOINTS:
        raise MirrorError(f"Not found: {API_PREFIX}/{endpoint}", 404)
    fmt = _first(params, "format", "tsv").lower() or "tsv"
    if fmt not in ("json", "tsv"):
        raise MirrorError(f"Invalid format: {fmt}. Valid formats: json, tsv")
    if endpoint == "results":
        rows = [
            {"resultId": r, "description": RESULT_DESCRIPTIONS.get(r, r)} for r in data.results()
        ]
        return rows, ["resultId", "description"], fmt
    result = _first(params, "result").strip()
    if not result:
        if endpoint == "filereport":
            result = "read_run"
        else:
            raise MirrorError("Missing required parameter: result")
    return_fields = data.return_fields(result)
    if endpoint == "returnFields":
        rows = [
            {"columnId": f, "description": FIELD_DESCRIPTIONS.get(f, f.replace("_", " "))}
            for f in return_fields
        ]
        return rows, ["columnId", "description"], fmt

    records = data.visible_records(result, viewer)
    requested = _split_fields(_first(params, "fields"))
    if requested == ["all"]:
        requested = list(return_fields)
    unknown = [f for f in requested if f not in return_fields]
    if unknown:
        raise MirrorError(f"Invalid fieldName(s) supplied: {','.join(unknown)}")
    if endpoint == "filereport":
        accession = _first(params, "accession").strip()
        if not accession:
            raise MirrorError("Missing required parameter: accession")
        records = [r for r in records if has_accession(r, accession)]
        if not requested:
            requested = [f for f in FILEREPORT_DEFAULT_FIELDS if f in return_fields]
    else:
        query = _first(params, "query").strip()
        if query:
            predicate = parse_query(query, return_fields)
            records = [r for r in records if predicate(r)]
    include = _split_fields(_first(params, "includeAccessions"))
    if include:
        wanted = {a.lower() for a in include}
        records = [r for r in records if any(has_accession(r, a) for a in wanted)]

    primary = data.primary_field(result)
    fields = list(requested)
    if include_accession and primary and primary not in fields:
        fields.insert(0, primary)
    if not fields and primary:
        fields = [primary]

    offset = _int_param(params, "offset")
    limit = _int_param(params, "limit")
    records = records[offset : offset + limit if limit else None]
    rows = [{f: rec.get(f, "").replace(PLACEHOLDER, host) for f in fields} for rec in records]
    return rows, fields, fmt


def render(rows: Rows, fields: Sequence[str], fmt: str) -> tuple[bytes, str]:
    """(body, content type) of an answer: a JSON list, or TSV with a header line."""
    if fmt == "json":
        return json.dumps(rows).encode(), "application/json"
    lines = ["\t".join(fields)] + ["\t".join(row.get(f, "") for f in fields) for row in rows]
    return ("\n".join(lines) + "\n").encode(), "text/plain; charset=utf-8"


def has_accession(record: dict[str, str], accession: str) -> bool:
    """True if any ``*_accession`` field of ``record`` holds ``accession`` (';'-lists split)."""
    wanted = accession.lower()
    for key, value in record.items():
        if key.endswith("accession") and wanted in value.lower().split(";"):
            return True
    return False


def _first(params: Params, name: str, default: str = "") -> str:
    values = params.get(name)
    return values[0] if values else default


def _int_param(params: Params, name: str) -> int:
    raw = _first(params, name).strip()
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise MirrorError(f"Invalid value for {name}: {raw}") from None
    if value < 0:
        raise MirrorError(f"Invalid value for {name}: {raw}")
    return value


def _split_fields(raw: str) -> list[str]:
    return [f.strip() for f in raw.split(",") if f.strip()]
