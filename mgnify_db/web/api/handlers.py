"""MGnify's API v2 read operations: one async function per operation of the document (named by
its operationId), `(db, params, viewer) -> dict`, over a Datasette `Database`; and `view_for`,
the adapter Datasette's routes call (viewer, parameters, database, status codes).

Lists read one table (detail objects and the nested objects of a page are fetched by primary
key), count with `count(*)` over the same WHERE and page with LIMIT/OFFSET. Every query applies
the visibility rule of its viewer (`query.visible`), whichever database it reads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from datasette.utils.asgi import Response

from ...catalogue.biomes import descendants_where
from ..files import SECRET_ENV, link_lifetime
from ..viewer import ANONYMOUS, Unauthorized, Viewer, viewer_for
from . import shapes
from .query import (
    CATALOGUE_DB,
    PUBLIC_DB,
    UNAUTHORIZED,
    ApiError,
    Page,
    database_name,
    not_found,
    page_of,
    parse_parameters,
    placeholders,
    visible,
    where,
)
from .spec import components, operations

Db = Any  # datasette.database.Database: `await db.execute(sql, params)`
Cond = tuple[str, list]
SUPER_STUDY_PAGE_SIZE = 50
ANNOTATIONS_PER_TYPE = 100  # in `analyses/{accession}/annotations` (see its handler)
READY: Cond = ("is_ready = 1", [])


# -- queries --------------------------------------------------------------------------------------
async def fetch(db: Db, sql: str, params: list | None = None) -> list[dict]:
    return [dict(r) for r in (await db.execute(sql, params or [])).rows]


async def fetch_one(db: Db, sql: str, params: list | None = None) -> dict | None:
    found = await fetch(db, sql, params)
    return found[0] if found else None


async def page_rows(db: Db, table: str, cond: Cond, order: str, page: Page) -> tuple[int, list]:
    """(count, rows of the page) of `table` under one WHERE."""
    sql, params = cond
    (count,) = (await db.execute(f"SELECT count(*) FROM [{table}] WHERE {sql}", params)).rows[0]
    if page.offset >= count:
        return count, []
    rows = await fetch(
        db,
        f"SELECT * FROM [{table}] WHERE {sql} ORDER BY {order} LIMIT ? OFFSET ?",
        [*params, page.size, page.offset],
    )
    return count, rows


def paged(count: int, items: list) -> dict:
    return {"count": count, "items": items}


async def find(db: Db, table: str, cond: Cond, viewer: Viewer) -> dict | None:
    """The first row of `table` matching `cond` that the viewer may see."""
    sql, params = where(cond, visible(viewer))
    return await fetch_one(db, f"SELECT * FROM [{table}] WHERE {sql} LIMIT 1", params)


async def by_accession(db: Db, table: str, accessions: list, viewer: Viewer) -> dict[str, dict]:
    """Visible rows of `table` by accession (primary key): accession -> row."""
    wanted = sorted({a for a in accessions if a})
    if not wanted:
        return {}
    sql, params = where((f"accession IN ({placeholders(wanted)})", wanted), visible(viewer))
    return {
        r["accession"]: r for r in await fetch(db, f"SELECT * FROM [{table}] WHERE {sql}", params)
    }


def ordering(order: str | None, allowed: dict[str, str], key: str = "accession") -> str:
    """ORDER BY for an `order` value of the spec's enum (`-x` descending; '' or None: by the
    primary key `key`); the key last, so that ties cannot move between pages."""
    if not order:
        return key
    column = allowed[order.lstrip("-")]
    return f"{column} {'DESC' if order.startswith('-') else 'ASC'}, {key}"


def contains(column: str, text: str) -> Cond:
    """Case-insensitive "column contains text" (Django's `icontains`): `%` and `_` in the
    text are themselves, not LIKE's wildcards."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{column} LIKE ? ESCAPE '\\'", [f"%{escaped}%"]


def any_of(*conds: Cond) -> Cond:
    """`(cond OR cond ...)` and their parameters, in order."""
    return "(" + " OR ".join(c for c, _ in conds) + ")", [p for _, ps in conds for p in ps]


def in_biome(lineage: str) -> Cond:
    """The record's `biome` is `lineage` or one of its descendants (by path: not a lineage
    that merely starts with the same text)."""
    biomes, args = descendants_where(lineage, "path")
    return f"biome IN (SELECT lineage FROM biomes WHERE {biomes})", args


# -- records found by any of their accessions ------------------------------------------------------
async def find_or_404(db: Db, table: str, accession: str, viewer: Viewer, *columns: str) -> dict:
    """The visible row of `table` whose `accession` (else one of `columns`, in order: each
    indexed, so that a 404 is as quick as a 200) is `accession`; 404 otherwise."""
    for column in ("accession", *columns):
        if row := await find(db, table, (f"{column} = ?", [accession]), viewer):
            return row
    raise not_found()


async def find_study(db: Db, accession: str, viewer: Viewer) -> dict:
    return await find_or_404(db, "studies", accession, viewer)


async def find_sample(db: Db, accession: str, viewer: Viewer) -> dict:
    """A sample by its BioSample (SAM...) or ENA (ERS...: `secondary_accession`, the other one
    of its `ena_accessions`) accession."""
    return await find_or_404(db, "samples", accession, viewer, "secondary_accession")


async def find_run(db: Db, accession: str, viewer: Viewer) -> dict:
    return await find_or_404(db, "runs", accession, viewer)


async def find_assembly(db: Db, accession: str, viewer: Viewer) -> dict:
    """An assembly by our accession or ENA's (ERZ...)."""
    return await find_or_404(db, "assemblies", accession, viewer, "ena_accession")


async def find_analysis(db: Db, accession: str, viewer: Viewer) -> dict:
    return await find_or_404(db, "analyses", accession, viewer)


# -- nested objects -------------------------------------------------------------------------------
async def analyses_out(db: Db, rows: list[dict], viewer: Viewer) -> list[dict]:
    """MGnifyAnalysis objects of analysis rows: their runs, samples, assemblies by key."""
    runs = await by_accession(db, "runs", [r["run"] for r in rows], viewer)
    samples = await by_accession(db, "samples", [r["sample"] for r in rows], viewer)
    assemblies = await by_accession(db, "assemblies", [r["assembly"] for r in rows], viewer)
    out = []
    for r in rows:
        run, sample, asm = (
            runs.get(r["run"]),
            samples.get(r["sample"]),
            assemblies.get(r["assembly"]),
        )
        out.append(
            shapes.mgnify_analysis(
                r,
                shapes.analysed_run(run) if run else None,
                shapes.mgnify_sample(sample) if sample else None,
                shapes.assembly(asm) if asm else None,
            )
        )
    return out


async def downloads_of(db: Db, cond: Cond, viewer: Viewer, links: shapes.Links) -> list[dict]:
    sql, params = where(cond, visible(viewer))
    rows = await fetch(db, f"SELECT * FROM downloads WHERE {sql} ORDER BY id", params)
    return [shapes.download_file(r, links) for r in rows]


async def studies_linked(db: Db, link: str, column: str, key: Any, viewer: Viewer) -> list[dict]:
    """MGnifyStudy objects of the studies a link table (`study_samples`...) ties to `key`."""
    sql, params = where(
        (f"accession IN (SELECT study FROM [{link}] WHERE [{column}] = ?)", [key]), visible(viewer)
    )
    rows = await fetch(db, f"SELECT * FROM studies WHERE {sql} ORDER BY accession", params)
    return [shapes.mgnify_study(r) for r in rows]


async def analyses_of(db: Db, column: str, key: str, params: dict, viewer: Viewer) -> dict:
    """A page of the ready analyses whose `column` (study, run, assembly) is `key`."""
    cond = where((f"{column} = ?", [key]), READY, visible(viewer))
    count, rows = await page_rows(db, "analyses", cond, "accession", page_of(params))
    return paged(count, await analyses_out(db, rows, viewer))


# -- studies --------------------------------------------------------------------------------------
STUDY_ORDER = {"accession": "accession", "updated_at": "updated_at"}


async def list_mgnify_studies(db: Db, params: dict, viewer: Viewer = ANONYMOUS) -> dict:
    conds = [visible(viewer)]
    if params.get("biome_lineage"):
        conds.append(in_biome(params["biome_lineage"]))
    if version := params.get("has_analyses_from_pipeline"):
        sql, args = where(
            (
                "a.study = studies.accession AND a.pipeline_version = ? AND a.is_ready = 1",
                [version],
            ),
            visible(viewer, "a"),
        )
        conds.append((f"EXISTS (SELECT 1 FROM analyses a WHERE {sql})", args))
    if search := params.get("search"):
        conds.append(
            any_of(
                contains("title", search),
                ("accession = ?", [search]),
                contains("ena_accessions", search),
            )
        )
    order = ordering(params.get("order"), STUDY_ORDER)
    count, rows = await page_rows(db, "studies", where(*conds), order, page_of(params))
    return paged(count, [shapes.mgnify_study(r) for r in rows])


async def get_mgnify_study(db: Db, params: dict, viewer: Viewer, links: shapes.Links) -> dict:
    row = await find_study(db, params["accession"], viewer)
    cond = ("study = ? AND analysis IS NULL AND assembly IS NULL", [row["accession"]])
    return shapes.mgnify_study_detail(row, await downloads_of(db, cond, viewer, links))


async def get_mgnify_study_accession_by_insdc_accession(
    db: Db, params: dict, viewer: Viewer
) -> dict:
    """The MGYS accession of a study by any of its ENA accessions (PRJ..., ERP...); public only."""
    accession = params["accession"]
    row = await find(db, "studies", ("ena_accession = ?", [accession]), ANONYMOUS)
    if row is None:
        cond = (
            "EXISTS (SELECT 1 FROM json_each(studies.ena_accessions) WHERE value = ?)",
            [accession],
        )
        row = await find(db, "studies", cond, ANONYMOUS)
    if row is None:
        raise not_found()
    return {"accession": row["accession"]}


async def list_mgnify_study_analyses(db: Db, params: dict, viewer: Viewer) -> dict:
    study = await find_study(db, params["accession"], viewer)
    return await analyses_of(db, "study", study["accession"], params, viewer)


async def list_mgnify_study_publications(db: Db, params: dict, viewer: Viewer) -> dict:
    study = await find_study(db, params["accession"], viewer)
    cond = (
        "pubmed_id IN (SELECT publication FROM study_publications WHERE study = ?)",
        [study["accession"]],
    )
    count, rows = await page_rows(db, "publications", cond, "pubmed_id", page_of(params))
    return paged(count, [shapes.mgnify_publication(r) for r in rows])


async def list_mgnify_study_samples(db: Db, params: dict, viewer: Viewer) -> dict:
    study = await find_study(db, params["accession"], viewer)
    cond = where(
        ("accession IN (SELECT sample FROM study_samples WHERE study = ?)", [study["accession"]]),
        visible(viewer),
    )
    count, rows = await page_rows(db, "samples", cond, "accession", page_of(params))
    return paged(count, [shapes.mgnify_sample_with_metadata(r) for r in rows])


async def list_private_mgnify_studies(db: Db, params: dict, viewer: Viewer) -> dict:
    """The caller's own private studies (a curator: every private study)."""
    if viewer.anonymous:
        raise ApiError(401, UNAUTHORIZED)
    if viewer.curator:
        cond: Cond = ("is_private = 1", [])
    else:
        cond = ("is_private = 1 AND is_suppressed = 0 AND webin_owner = ?", [viewer.webin])
    count, rows = await page_rows(db, "studies", cond, "accession", page_of(params))
    return paged(count, [shapes.mgnify_study(r) for r in rows])


# -- super studies --------------------------------------------------------------------------------
async def list_super_studies(db: Db, params: dict, viewer: Viewer = ANONYMOUS) -> dict:
    page = page_of(params, SUPER_STUDY_PAGE_SIZE)
    count, rows = await page_rows(db, "super_studies", ("1 = 1", []), "slug", page)
    return paged(count, [shapes.super_study(r) for r in rows])


async def get_super_study(db: Db, params: dict, viewer: Viewer) -> dict:
    row = await fetch_one(db, "SELECT * FROM super_studies WHERE slug = ?", [params["slug"]])
    if row is None:
        raise not_found()
    sql, args = where(visible(viewer, "s"))
    studies = await fetch(
        db,
        "SELECT s.*, l.is_flagship AS _flagship FROM super_study_studies l"
        f" JOIN studies s ON s.accession = l.study WHERE l.super_study = ? AND {sql}"
        " ORDER BY s.accession",
        [row["slug"], *args],
    )
    flagship = [shapes.mgnify_study(s) for s in studies if s["_flagship"]]
    related = [shapes.mgnify_study(s) for s in studies if not s["_flagship"]]
    return shapes.super_study_detail(row, flagship, related)


# -- samples --------------------------------------------------------------------------------------
SAMPLE_ORDER = {"sample_title": "title", "updated_at": "updated_at"}


async def list_mgnify_samples(db: Db, params: dict, viewer: Viewer = ANONYMOUS) -> dict:
    conds = [visible(viewer)]
    if params.get("biome_lineage"):
        conds.append(in_biome(params["biome_lineage"]))
    if search := params.get("search"):
        # MGnify's ena_accessions hold the sample's own accession: ours may be empty
        conds.append(
            any_of(
                contains("title", search),
                contains("ena_accessions", search),
                contains("accession", search),
            )
        )
    order = ordering(params.get("order"), SAMPLE_ORDER)
    count, rows = await page_rows(db, "samples", where(*conds), order, page_of(params))
    return paged(count, [shapes.mgnify_sample(r) for r in rows])


async def get_mgnify_sample(db: Db, params: dict, viewer: Viewer) -> dict:
    row = await find_sample(db, params["accession"], viewer)
    studies = await studies_linked(db, "study_samples", "sample", row["accession"], viewer)
    return shapes.mgnify_sample_detail(row, studies)


async def list_sample_runs(db: Db, params: dict, viewer: Viewer) -> dict:
    sample = await find_sample(db, params["accession"], viewer)
    cond = where(("sample = ?", [sample["accession"]]), visible(viewer))
    count, rows = await page_rows(db, "runs", cond, "accession", page_of(params))
    return paged(count, [shapes.analysed_run(r) for r in rows])


async def list_sample_assemblies(db: Db, params: dict, viewer: Viewer) -> dict:
    sample = await find_sample(db, params["accession"], viewer)
    cond = where(("sample = ?", [sample["accession"]]), visible(viewer))
    count, rows = await page_rows(db, "assemblies", cond, "accession", page_of(params))
    return paged(count, [shapes.assembly_detail(r) for r in rows])


# -- runs -----------------------------------------------------------------------------------------
async def list_analysed_runs(db: Db, params: dict, viewer: Viewer = ANONYMOUS) -> dict:
    conds = [visible(viewer)]
    if kind := params.get("has_experiment_type"):
        conds.append(("experiment_type = ?", [kind]))
    count, rows = await page_rows(db, "runs", where(*conds), "accession", page_of(params))
    return paged(count, [shapes.analysed_run(r) for r in rows])


async def get_analysed_run(db: Db, params: dict, viewer: Viewer) -> dict:
    row = await find_run(db, params["accession"], viewer)
    sample = (await by_accession(db, "samples", [row["sample"]], viewer)).get(row["sample"])
    study = (await by_accession(db, "studies", [row["study"]], viewer)).get(row["study"])
    return shapes.analysed_run_detail(
        row,
        shapes.mgnify_sample(sample) if sample else None,
        shapes.mgnify_study(study) if study else None,
    )


async def list_runs_analyses(db: Db, params: dict, viewer: Viewer) -> dict:
    run = await find_run(db, params["accession"], viewer)
    return await analyses_of(db, "run", run["accession"], params, viewer)


async def list_runs_assemblies(db: Db, params: dict, viewer: Viewer) -> dict:
    """The run's assemblies: its own and co-assemblies that include it (assembly_runs)."""
    run = await find_run(db, params["accession"], viewer)
    key = run["accession"]
    cond = where(
        (
            "(run = ? OR accession IN (SELECT assembly FROM assembly_runs WHERE run = ?))",
            [key, key],
        ),
        visible(viewer),
    )
    count, rows = await page_rows(db, "assemblies", cond, "accession", page_of(params))
    return paged(count, [shapes.assembly_detail(r) for r in rows])


# -- assemblies -----------------------------------------------------------------------------------
async def list_assemblies(db: Db, params: dict, viewer: Viewer = ANONYMOUS) -> dict:
    count, rows = await page_rows(db, "assemblies", visible(viewer), "accession", page_of(params))
    return paged(count, [shapes.assembly(r) for r in rows])


async def get_assembly(db: Db, params: dict, viewer: Viewer) -> dict:
    return shapes.assembly_detail(await find_assembly(db, params["accession"], viewer))


async def list_analyses_for_assembly(db: Db, params: dict, viewer: Viewer) -> dict:
    asm = await find_assembly(db, params["accession"], viewer)
    return await analyses_of(db, "assembly", asm["accession"], params, viewer)


async def list_genome_links_for_assembly(db: Db, params: dict, viewer: Viewer) -> dict:
    await find_assembly(db, params["accession"], viewer)
    return paged(0, [])  # no genomes in the catalogue yet


async def list_additional_contained_genomes_for_assembly(
    db: Db, params: dict, viewer: Viewer
) -> dict:
    await find_assembly(db, params["accession"], viewer)
    return paged(0, [])  # no genomes in the catalogue yet


# -- analyses -------------------------------------------------------------------------------------
async def list_mgnify_analyses(db: Db, params: dict, viewer: Viewer, links: shapes.Links) -> dict:
    """Analyses ready to show; MGnify's document gives detail objects in this list."""
    cond = where(READY, visible(viewer))
    count, rows = await page_rows(db, "analyses", cond, "accession", page_of(params))
    return paged(count, await analyses_detail_out(db, rows, viewer, links) if rows else [])


async def analyses_detail_out(
    db: Db, rows: list[dict], viewer: Viewer, links: shapes.Links
) -> list[dict]:
    """MGnifyAnalysisDetail objects of analysis rows, fetched for the whole page at once: their
    files (with their assemblies' own files, contigs...) and the runs their assemblies read."""
    base = await analyses_out(db, rows, viewer)
    keys = [r["accession"] for r in rows]
    assemblies = sorted({r["assembly"] for r in rows if r.get("assembly")})
    cond: Cond = (f"analysis IN ({placeholders(keys)})", keys)
    if assemblies:
        cond = (
            f"(analysis IN ({placeholders(keys)})"
            f" OR (analysis IS NULL AND assembly IN ({placeholders(assemblies)})))",
            keys + assemblies,
        )
    sql, args = where(cond, visible(viewer))
    files = await fetch(db, f"SELECT * FROM downloads WHERE {sql} ORDER BY id", args)
    read_runs: dict[str, list[dict]] = {}
    if assemblies:
        sql, args = where(
            (f"l.assembly IN ({placeholders(assemblies)})", assemblies), visible(viewer, "r")
        )
        for r in await fetch(
            db,
            "SELECT l.assembly AS _assembly, r.* FROM assembly_runs l"
            f" JOIN runs r ON r.accession = l.run WHERE {sql} ORDER BY r.accession",
            args,
        ):
            read_runs.setdefault(r["_assembly"], []).append(shapes.analysed_run(r))
    out = []
    for row, analysis in zip(rows, base, strict=True):
        own = [
            shapes.download_file(f, links)
            for f in files
            if f["analysis"] == row["accession"]
            or (f["analysis"] is None and row.get("assembly") and f["assembly"] == row["assembly"])
        ]
        if row.get("assembly"):
            read_run = read_runs.get(row["assembly"], [])
        else:
            read_run = [analysis["run"]] if analysis["run"] else []
        out.append(
            shapes.mgnify_analysis_detail(
                row, analysis["run"], analysis["sample"], analysis["assembly"], own, read_run
            )
        )
    return out


async def analysis_detail(db: Db, row: dict, viewer: Viewer, links: shapes.Links) -> dict:
    return (await analyses_detail_out(db, [row], viewer, links))[0]


async def get_mgnify_analysis(db: Db, params: dict, viewer: Viewer, links: shapes.Links) -> dict:
    row = await find_analysis(db, params["accession"], viewer)
    return await analysis_detail(db, row, viewer, links)


async def annotation_types(db: Db, analysis: str) -> list[str]:
    """The annotation types an analysis has: one primary-key seek per type (a DISTINCT would
    read every row of an analysis with 10^5 annotations)."""
    types, last = [], ""
    while True:
        sql = "SELECT min(type) FROM annotations WHERE analysis = ? AND type > ?"
        (found,) = (await db.execute(sql, [analysis, last])).rows[0]
        if found is None:
            return types
        types.append(found)
        last = found


async def analysis_get_mgnify_analysis_with_annotations(
    db: Db, params: dict, viewer: Viewer, links: shapes.Links
) -> dict:
    """The analysis with its annotations: at most ANNOTATIONS_PER_TYPE terms of each type (by
    term; the rest from `annotations/{type}`, paged), so that an analysis with 10^5 terms is
    still one quick answer."""
    row = await find_analysis(db, params["accession"], viewer)
    out = await analysis_detail(db, row, viewer, links)
    rows: list[dict] = []
    for kind in await annotation_types(db, row["accession"]):
        rows += await fetch(
            db,
            "SELECT * FROM annotations WHERE analysis = ? AND type = ? ORDER BY term LIMIT ?",
            [row["accession"], kind, ANNOTATIONS_PER_TYPE],
        )
    return out | {"annotations": shapes.annotations_object(rows)}


async def analysis_get_mgnify_analysis_with_annotations_of_type(
    db: Db, params: dict, viewer: Viewer
) -> dict:
    """One page of an analysis' annotations of one type: one range of the primary key."""
    row = await find_analysis(db, params["accession"], viewer)
    cond: Cond = ("analysis = ? AND type = ?", [row["accession"], params["annotation_type"]])
    count, rows = await page_rows(db, "annotations", cond, "term", page_of(params))
    return paged(count, [shapes.typed_annotation(r) for r in rows])


# -- publications ---------------------------------------------------------------------------------
PUBLICATION_ORDER = {"published_year": "published_year"}


async def list_mgnify_publications(db: Db, params: dict, viewer: Viewer = ANONYMOUS) -> dict:
    conds: list[Cond] = []
    if params.get("published_after") is not None:
        conds.append(("published_year >= ?", [params["published_after"]]))
    if params.get("published_before") is not None:
        conds.append(("published_year <= ?", [params["published_before"]]))
    if params.get("title"):
        conds.append(contains("title", params["title"]))
    order = ordering(params.get("order"), PUBLICATION_ORDER, "pubmed_id")
    count, rows = await page_rows(db, "publications", where(*conds), order, page_of(params))
    return paged(count, [shapes.mgnify_publication(r) for r in rows])


async def find_publication(db: Db, pubmed_id: int) -> dict:
    row = await fetch_one(db, "SELECT * FROM publications WHERE pubmed_id = ?", [pubmed_id])
    if row is None:
        raise not_found()
    return row


async def get_mgnify_publication(db: Db, params: dict, viewer: Viewer = ANONYMOUS) -> dict:
    """A publication and the public studies citing it."""
    row = await find_publication(db, params["pubmed_id"])
    studies = await studies_linked(
        db, "study_publications", "publication", row["pubmed_id"], ANONYMOUS
    )
    return shapes.mgnify_publication_detail(row, studies)


async def get_mgnify_publication_annotations(
    db: Db, params: dict, viewer: Viewer = ANONYMOUS
) -> dict:
    await find_publication(db, params["pubmed_id"])
    return {"sample_processing": [], "other": []}  # Europe PMC is not reachable from here


# -- biomes ---------------------------------------------------------------------------------------
async def list_mgnify_biomes(db: Db, params: dict, viewer: Viewer = ANONYMOUS) -> dict:
    conds: list[Cond] = []
    if params.get("biome_lineage"):
        conds.append(descendants_where(params["biome_lineage"], "path"))
    if params.get("max_depth") is not None:
        conds.append(("depth <= ?", [params["max_depth"]]))
    # paths are not unique (`A-b` and `A b` have one): the lineage keeps pages apart
    count, rows = await page_rows(db, "biomes", where(*conds), "path, lineage", page_of(params))
    return paged(count, [shapes.biome_row(r) for r in rows])


# -- genomes: no genome tables in the catalogue yet ------------------------------------------------
async def no_genomes(db: Db, params: dict, viewer: Viewer) -> dict:
    return paged(0, [])


async def no_genome(db: Db, params: dict, viewer: Viewer) -> dict:
    raise not_found()


async def genome_fragment_search(db: Db, params: dict, viewer: Viewer) -> dict:
    """No genome index: the query echoed, no results."""
    body = params.get("body") or {}
    query = body.get("query", body.get("sequence"))
    threshold = body.get("threshold")
    try:
        threshold = float(threshold) if threshold is not None else None
    except (TypeError, ValueError):
        threshold = None
    return {
        "data": {
            "query": query if isinstance(query, str) else None,
            "threshold": threshold,
            "results": [],
        }
    }


# -- the operations and their views ---------------------------------------------------------------
@dataclass(frozen=True)
class Operation:
    """`handler`; `scope`: "public" (public records only, from `public` when attached), "viewer"
    (the viewer's rule) or "mine" (the caller's own private records, from `catalogue`);
    `links`: the handler writes download URLs."""

    handler: Callable[..., Awaitable[dict]]
    scope: str = "viewer"
    links: bool = False


OPERATIONS: dict[str, Operation] = {
    "get_mgnify_analysis": Operation(get_mgnify_analysis, links=True),
    "list_mgnify_analyses": Operation(list_mgnify_analyses, "public", links=True),
    "analysis_get_mgnify_analysis_with_annotations": Operation(
        analysis_get_mgnify_analysis_with_annotations, links=True
    ),
    "analysis_get_mgnify_analysis_with_annotations_of_type": Operation(
        analysis_get_mgnify_analysis_with_annotations_of_type
    ),
    "get_mgnify_publication": Operation(get_mgnify_publication, "public"),
    "get_mgnify_publication_annotations": Operation(get_mgnify_publication_annotations, "public"),
    "list_mgnify_publications": Operation(list_mgnify_publications, "public"),
    "get_mgnify_sample": Operation(get_mgnify_sample),
    "list_mgnify_samples": Operation(list_mgnify_samples, "public"),
    "list_sample_runs": Operation(list_sample_runs),
    "list_sample_assemblies": Operation(list_sample_assemblies),
    "get_mgnify_study_accession_by_insdc_accession": Operation(
        get_mgnify_study_accession_by_insdc_accession, "public"
    ),
    "get_mgnify_study": Operation(get_mgnify_study, links=True),
    "list_mgnify_studies": Operation(list_mgnify_studies, "public"),
    "list_mgnify_study_analyses": Operation(list_mgnify_study_analyses),
    "list_mgnify_study_publications": Operation(list_mgnify_study_publications),
    "list_mgnify_study_samples": Operation(list_mgnify_study_samples),
    "get_super_study": Operation(get_super_study),
    "list_super_studies": Operation(list_super_studies, "public"),
    "get_mgnify_genome": Operation(no_genome),
    "get_genome_annotations": Operation(no_genome),
    "list_mgnify_genomes": Operation(no_genomes, "public"),
    "list_genome_catalogues": Operation(no_genomes, "public"),
    "get_genome_catalogue": Operation(no_genome),
    # a sub-list of a catalogue, and no catalogue exists
    "get_genome_catalogue_genomes": Operation(no_genome),
    "list_assemblies": Operation(list_assemblies, "public"),
    "get_assembly": Operation(get_assembly),
    "list_genome_links_for_assembly": Operation(list_genome_links_for_assembly),
    "list_additional_contained_genomes_for_assembly": Operation(
        list_additional_contained_genomes_for_assembly
    ),
    "list_analyses_for_assembly": Operation(list_analyses_for_assembly),
    "list_mgnify_biomes": Operation(list_mgnify_biomes, "public"),
    "list_private_mgnify_studies": Operation(list_private_mgnify_studies, "mine"),
    "list_analysed_runs": Operation(list_analysed_runs, "public"),
    "get_analysed_run": Operation(get_analysed_run),
    "list_runs_analyses": Operation(list_runs_analyses),
    "list_runs_assemblies": Operation(list_runs_assemblies),
    "genome_fragment_search": Operation(genome_fragment_search, "public"),
}


def error_response(e: ApiError) -> Response:
    return Response.json(e.body, status=e.status)


async def request_body(request: Any) -> dict:
    """A POST's JSON object (or form fields); {} for anything else."""
    raw = await request.post_body()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        body = dict(parse_qsl(raw.decode("utf-8", "replace")))
    return body if isinstance(body, dict) else {}


def links_for(request: Any, datasette: Any, viewer: Viewer) -> shapes.Links:
    base = datasette.absolute_url(request, "/").rstrip("/")
    return shapes.Links(
        base=base,
        secret=os.environ.get(SECRET_ENV, ""),
        lifetime_s=link_lifetime(datasette),
        sign_private=bool(viewer.webin) and not viewer.curator,
    )


async def run_operation(
    datasette: Any, operation_id: str, viewer: Viewer, params: dict, links: shapes.Links
) -> dict:
    """Call an operation's handler on the database its scope and viewer read."""
    op = OPERATIONS[operation_id]
    if op.scope == "mine" and viewer.anonymous:
        raise ApiError(401, UNAUTHORIZED)
    top_level = op.scope == "public"
    name = CATALOGUE_DB if op.scope == "mine" else database_name(datasette, viewer, top_level)
    db = datasette.databases.get(name)
    if db is None:
        raise not_found()
    reader = ANONYMOUS if top_level else viewer
    if op.links:
        return await op.handler(db, params, reader, links)
    return await op.handler(db, params, reader)


def reads_public(datasette: Any, operation_id: str, viewer: Viewer) -> bool:
    """Whether an answer comes from public.db for the anonymous reader: the same for everyone
    until the next publish (the plugin's page cache keeps anonymous ones, per public.db)."""
    op = OPERATIONS[operation_id]
    if op.scope == "mine":
        return False
    return database_name(datasette, viewer, op.scope == "public") == PUBLIC_DB


def json_answer(result: dict, *, public: bool) -> Response:
    # Answers from public.db may be kept a minute by shared caches; owners' and curators' are
    # no one else's business.
    cache = "public, max-age=60" if public else "private, no-store"
    return Response.json(result, headers={"Cache-Control": cache})


def view_for(operation_id: str, method: str) -> Callable:
    """The Datasette view of one operation: viewer (401 on a bad token), parameters (422),
    the handler, and its errors as `{"detail": ...}`."""
    operation = operations()[operation_id]

    async def view(request: Any, datasette: Any) -> Response:
        if request.method not in (method, "HEAD" if method == "GET" else method):
            allow = "GET, HEAD" if method == "GET" else method
            return Response.json(
                {"detail": "Method Not Allowed"}, status=405, headers={"Allow": allow}
            )
        try:
            viewer = viewer_for(request.headers.get("authorization"))
        except Unauthorized:
            return error_response(ApiError(401, UNAUTHORIZED))
        try:
            query = {k: request.args.get(k) for k in request.args.keys()}
            path = {k: unquote(v) for k, v in request.url_vars.items()}
            params = parse_parameters(operation, query, path, components())
            if method == "POST":
                params["body"] = await request_body(request)
            links = links_for(request, datasette, viewer)
            result = await run_operation(datasette, operation_id, viewer, params, links)
        except ApiError as e:
            return error_response(e)
        return json_answer(result, public=reads_public(datasette, operation_id, viewer))

    view.__name__ = operation_id
    return view
