"""MGnify's OpenAPI document (`openapi_v2.json`, never edited): loaded once; served at
`<API_ROOT>/openapi.json` with this server and our additions (each marked `x-mgnify-snake`), and
rendered as a plain HTML page at `<API_ROOT>/` and `<API_ROOT>/docs` (no external JS or CSS:
the site may have no internet)."""

from __future__ import annotations

import copy
import html
import json
from functools import cache
from pathlib import Path
from typing import Any

from datasette.utils.asgi import Response

DOCUMENT = Path(__file__).with_name("openapi_v2.json")
SOURCE = (
    "MGnify's own OpenAPI document of API v2.0.0, from PyPI's mgnipy 0.3.0"
    " (openapi/openapi_v2.json)"
)
MARK = "x-mgnify-snake"
# Operations answered without data behind them yet (see docs/api.md).
NO_DATA = {
    "get_mgnify_genome": "no genomes in the catalogue yet: 404",
    "get_genome_annotations": "no genomes in the catalogue yet: 404",
    "list_mgnify_genomes": "no genomes in the catalogue yet: an empty list",
    "list_genome_catalogues": "no genome catalogues yet: an empty list",
    "get_genome_catalogue": "no genome catalogues yet: 404",
    "get_genome_catalogue_genomes": "no genome catalogues yet: 404",
    "list_genome_links_for_assembly": "no genomes yet: an empty list",
    "list_additional_contained_genomes_for_assembly": "no genomes yet: an empty list",
    "genome_fragment_search": "no genome index: the query echoed, no results",
    "get_mgnify_publication_annotations": "Europe PMC is not reachable: empty groups",
}
DETAIL_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                },
                "required": ["type", "loc", "msg"],
            },
        }
    },
    "required": ["detail"],
}


@cache
def document() -> dict:
    """MGnify's document as shipped (callers must not change it: copy first)."""
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))


def components() -> dict:
    return document()["components"]["schemas"]


@cache
def operations() -> dict[str, dict]:
    """operationId -> the operation, with its `path` and `method` added (a copy)."""
    out = {}
    for path, methods in document()["paths"].items():
        for method, op in methods.items():
            out[op["operationId"]] = {**op, "path": path, "method": method.upper()}
    return out


def _error(description: str, schema: dict) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
        MARK: True,
    }


def fix_links(responses: dict, ops: dict[str, dict]) -> None:
    """MGnify's `GetCatalogueForGenome` link names a parameter its target lacks (`accession`
    for `catalogue_id`): a link parameter that is not the target's, when the target has exactly
    one path parameter, is renamed to it (and marked)."""
    for response in responses.values():
        for link in (response.get("links") or {}).values():
            target = ops.get(link.get("operationId", ""), {})
            names = {p["name"] for p in target.get("parameters", [])}
            wrong = [k for k in link.get("parameters", {}) if k not in names]
            path_params = [p["name"] for p in target.get("parameters", []) if p["in"] == "path"]
            if wrong and len(wrong) == 1 and len(path_params) == 1:
                link["parameters"][path_params[0]] = link["parameters"].pop(wrong[0])
                link[MARK] = f"parameter {wrong[0]} renamed {path_params[0]}"


def served_document(base_url: str, ours: set[str]) -> dict:
    """The document with `servers` = this server, and the error answers of the operations in
    `ours` documented (marked `x-mgnify-snake`)."""
    doc = copy.deepcopy(document())
    doc["servers"] = [{"url": base_url, "description": "This mgnify-snake catalogue", MARK: True}]
    doc["info"][MARK] = {
        "source": SOURCE,
        "additions": (
            "servers; the 401, 404 and 422 answers of each operation (marked x-mgnify-snake);"
            " an empty security requirement ({}) wherever MGnify's lists NoAuth; the link"
            " GetCatalogueForGenome's parameter named as its target's (catalogue_id); md5 on"
            " every download file"
        ),
        "no_data_yet": NO_DATA,
    }
    for name, schema in doc["components"]["schemas"].items():
        if name.endswith("DownloadFile") and "properties" in schema:
            schema["properties"]["md5"] = {
                "anyOf": [{"type": "string", "pattern": "^[0-9a-f]{32}$"}, {"type": "null"}],
                "title": "MD5",
                "description": "MD5 checksum of the file (also its ETag when fetched)",
                MARK: True,
            }
    for methods in doc["paths"].values():
        for op in methods.values():
            if op["operationId"] not in ours:
                continue
            # MGnify's "NoAuth" scheme (type "none") is no OpenAPI type: say it the standard
            # way too, an empty requirement (anonymous requests are answered)
            security = op.get("security")
            if security and {"NoAuth": []} in security and {} not in security:
                security.append({})
            responses = op["responses"]
            fix_links(responses, operations())
            responses.setdefault(
                "401",
                _error("A bearer token that is not valid (or, for my-data, none)", DETAIL_SCHEMA),
            )
            has_key = any(p["in"] == "path" for p in op.get("parameters", []))
            if has_key or op["operationId"] in NO_DATA:
                responses.setdefault(
                    "404",
                    _error("Not Found: missing, private (not yours) or suppressed", DETAIL_SCHEMA),
                )
            if op.get("parameters"):
                responses.setdefault(
                    "422", _error("A parameter out of its schema", VALIDATION_SCHEMA)
                )
    return doc


# -- the docs page --------------------------------------------------------------------------------
def _type(schema: dict) -> str:
    """A schema in a few words, `$ref`s as links to their section."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f'<a href="#schema-{html.escape(name)}">{html.escape(name)}</a>'
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"[{_type(schema.get('items', {}))}]"
    if "enum" in schema:
        return "one of " + ", ".join(html.escape(repr(v)) for v in schema["enum"])
    text = html.escape(str(schema.get("type", "any")))
    if "minimum" in schema:
        text += f" &ge; {schema['minimum']}"
    return text


def _response_schema(op: dict) -> str:
    content = op.get("responses", {}).get("200", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return _type(schema) if schema else ""


def docs_html(openapi_url: str) -> str:
    doc = document()
    tags: dict[str, list[dict]] = {t["name"]: [] for t in doc.get("tags", [])}
    for op in operations().values():
        tags.setdefault((op.get("tags") or ["Other"])[0], []).append(op)
    e = html.escape
    out = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{e(doc['info']['title'])} v{e(doc['info']['version'])}</title>",
        "<style>body{font-family:sans-serif;max-width:70em;margin:auto;padding:1em}"
        "code,td{font-size:90%}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:2px 6px;text-align:left}.op{margin:1em 0}.nodata{color:#a60}</style>",
        "</head><body>",
        f"<h1>{e(doc['info']['title'])} v{e(doc['info']['version'])}</h1>",
        f"<p>MGnify's API v2, served by this mgnify-snake catalogue. The machine-readable "
        f'document: <a href="{e(openapi_url)}">openapi.json</a> ({e(SOURCE)}, with this '
        "server and our error answers added).</p>",
        '<p>Lists answer <code>{"count": N, "items": [...]}</code>, paged by '
        "<code>page</code> (from 1) and <code>page_size</code> (default 100, at most 100). "
        "Private data: send <code>Authorization: Bearer &lt;token&gt;</code> (a token from "
        "<code>POST auth/sliding</code> with Webin credentials).</p>",
        "<p class='nodata'><b>No data behind these yet:</b> genomes, genome catalogues, genome "
        "search and publication annotations (" + ", ".join(e(k) for k in NO_DATA) + ").</p>",
    ]
    out.append(
        "<ul>" + "".join(f'<li><a href="#tag-{e(t)}">{e(t)}</a></li>' for t in tags) + "</ul>"
    )
    for tag, ops in tags.items():
        out.append(f'<h2 id="tag-{e(tag)}">{e(tag)}</h2>')
        for op in sorted(ops, key=lambda o: (o["path"], o["method"])):
            out.append(f"<div class='op' id='op-{e(op['operationId'])}'>")
            out.append(f"<h3><code>{e(op['method'])} {e(op['path'])}</code></h3>")
            out.append(f"<p>{e(op.get('summary', ''))}</p>")
            if op["operationId"] in NO_DATA:
                out.append(f"<p class='nodata'>{e(NO_DATA[op['operationId']])}</p>")
            if params := op.get("parameters"):
                out.append(
                    "<table><tr><th>parameter</th><th>in</th><th>type</th><th>about</th></tr>"
                )
                for p in params:
                    about = p["schema"].get("description", p.get("description", ""))
                    mark = " (required)" if p.get("required") else ""
                    out.append(
                        f"<tr><td><code>{e(p['name'])}</code>{mark}</td>"
                        f"<td>{e(p['in'])}</td><td>{_type(p['schema'])}</td><td>{e(about)}</td></tr>"
                    )
                out.append("</table>")
            if body := op.get("requestBody"):
                schema = body.get("content", {}).get("application/json", {}).get("schema", {})
                out.append(f"<p>Body: {_type(schema)}</p>")
            out.append(f"<p>Answers: {_response_schema(op)}</p></div>")
    out.append("<h2 id='schemas'>Schemas</h2>")
    for name, schema in components().items():
        out.append(f"<h3 id='schema-{e(name)}'>{e(name)}</h3>")
        if props := schema.get("properties"):
            required = set(schema.get("required", []))
            out.append("<table><tr><th>field</th><th>type</th><th>required</th></tr>")
            for field, s in props.items():
                out.append(
                    f"<tr><td><code>{e(field)}</code></td><td>{_type(s)}</td>"
                    f"<td>{'yes' if field in required else ''}</td></tr>"
                )
            out.append("</table>")
        else:
            out.append(f"<p>{_type(schema)}</p>")
    out.append("</body></html>")
    return "\n".join(out)


# -- views ----------------------------------------------------------------------------------------
async def openapi_view(request: Any, datasette: Any) -> Response:
    from .handlers import OPERATIONS

    # the document's paths carry /metagenomics/api/v2: the server is the site's base URL
    base = datasette.absolute_url(request, "/").rstrip("/")
    return Response.json(served_document(base, set(OPERATIONS)))


async def docs_view(request: Any, datasette: Any) -> Response:
    from . import API_ROOT

    return Response.html(docs_html(f"{API_ROOT}/openapi.json"))


async def not_found_view(request: Any, datasette: Any) -> Response:
    return Response.json({"detail": "Not Found"}, status=404)
