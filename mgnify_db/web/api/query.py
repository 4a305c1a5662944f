"""What a request asks and may see: its parameters (checked against MGnify's document, answered
like django-ninja when wrong), its page, the visibility SQL of its viewer and the database read.

Visibility (reference notes): anonymous viewers see `is_private = 0 AND is_suppressed = 0`; a
Webin account also its own unsuppressed private records; a curator everything. Top-level lists
are public-only for everyone. Anonymous requests and top-level lists read `public` (public.db,
which holds nothing else) and still apply the rule, so a bug in one filter cannot leak.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..viewer import Viewer

PUBLIC_DB, CATALOGUE_DB = "public", "catalogue"
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 100, 100
SQL_INT_LIMIT = 2**62
NOT_FOUND = "Not Found"
UNAUTHORIZED = "Unauthorized"


class ApiError(Exception):
    """An answer other than 200: `status` and the `detail` of its `{"detail": ...}` body."""

    def __init__(self, status: int, detail: Any):
        super().__init__(detail)
        self.status, self.detail = status, detail

    @property
    def body(self) -> dict:
        return {"detail": self.detail}


def not_found() -> ApiError:
    """The one answer for missing, private-not-yours and suppressed records alike."""
    return ApiError(404, NOT_FOUND)


# -- parameters -----------------------------------------------------------------------------------
def _error(kind: str, loc: list, msg: str) -> dict:
    return {"type": kind, "loc": loc, "msg": msg}


def _alternatives(schema: dict, components: dict) -> list[dict]:
    """The schema's non-null alternatives, `$ref`s resolved (parameters use `anyOf [X, null]`)."""
    out = []
    for s in schema.get("anyOf", [schema]):
        if "$ref" in s:
            s = components[s["$ref"].rsplit("/", 1)[-1]]
        if s.get("type") != "null":
            out.append(s)
    return out


def convert(value: str, schema: dict, loc: list, components: dict) -> Any:
    """One parameter's text as its schema's type; raises a 422 ApiError as django-ninja would."""
    (s, *_) = _alternatives(schema, components) or [{"type": "string"}]
    if s.get("type") == "integer":
        if not re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
            msg = "Input should be a valid integer, unable to parse string as an integer"
            raise ApiError(422, [_error("int_parsing", loc, msg)])
        number = int(value)
        if "minimum" in s and number < s["minimum"]:
            msg = f"Input should be greater than or equal to {s['minimum']}"
            raise ApiError(422, [_error("greater_than_equal", loc, msg)])
        # SQLite integers are 64-bit: a larger one means "beyond any value" (a page past the
        # end, no depth limit, no such PubMed id), never a 500
        return max(-SQL_INT_LIMIT, min(number, SQL_INT_LIMIT))
    if "enum" in s and value not in s["enum"]:
        options = [repr(v) for v in s["enum"]]
        listed = ", ".join(options[:-1]) + f" or {options[-1]}" if len(options) > 1 else options[0]
        raise ApiError(422, [_error("enum", loc, f"Input should be {listed}")])
    return value


def parse_parameters(
    operation: dict, query: dict[str, str], path: dict[str, str], components: dict
) -> dict:
    """The operation's parameters from the query string and the path, converted and checked
    against its declaration in the document; absent optional ones are None. Other query
    parameters are ignored (as django-ninja does)."""
    out: dict[str, Any] = {}
    for p in operation.get("parameters", []):
        where, name = p["in"], p["name"]
        raw = (path if where == "path" else query).get(name)
        if raw is None:
            out[name] = p["schema"].get("default")
            continue
        out[name] = convert(raw, p["schema"], [where, name], components)
    return out


@dataclass(frozen=True)
class Page:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def page_of(params: dict, default_size: int = DEFAULT_PAGE_SIZE) -> Page:
    """The requested page (already checked >= 1); sizes above the maximum are clamped, not
    refused (django-ninja's PageNumberPagination)."""
    size = params.get("page_size") or default_size
    return Page(params.get("page") or 1, min(size, MAX_PAGE_SIZE))


# -- visibility -----------------------------------------------------------------------------------
def visible(viewer: Viewer, alias: str = "") -> tuple[str, list]:
    """SQL "the viewer may see this row" over a table with the visibility columns."""
    a = f"{alias}." if alias else ""
    if viewer.curator:
        return "1 = 1", []
    if viewer.webin:
        sql = f"({a}is_suppressed = 0 AND ({a}is_private = 0 OR {a}webin_owner = ?))"
        return sql, [viewer.webin]
    return f"({a}is_private = 0 AND {a}is_suppressed = 0)", []


def database_name(datasette: Any, viewer: Viewer, top_level: bool) -> str:
    """Which database a request reads: `public` for anonymous viewers and top-level lists (when
    attached), else `catalogue` (filtered by the viewer's rule)."""
    wants_public = top_level or viewer.anonymous
    if wants_public and PUBLIC_DB in datasette.databases:
        return PUBLIC_DB
    return CATALOGUE_DB


# -- SQL and JSON helpers -------------------------------------------------------------------------
def where(*conditions: tuple[str, list]) -> tuple[str, list]:
    """`cond AND cond ...` and their parameters, in order."""
    sql = " AND ".join(c for c, _ in conditions) or "1 = 1"
    return sql, [p for _, ps in conditions for p in ps]


def placeholders(values: list) -> str:
    return ", ".join("?" * len(values))


def loads(text: str | None, default: Any = None) -> Any:
    """A JSON column's value; `default` when empty or not JSON (a hand-edited row must not 500)."""
    if not text:
        return default
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return default
