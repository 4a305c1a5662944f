"""MGnify's API v2 (the contract: MGnify's own OpenAPI document, `openapi_v2.json` here), served
by our Datasette plugin under `/metagenomics/api/v2/`."""

from __future__ import annotations

import re

API_ROOT = "/metagenomics/api/v2"


def path_regex(path: str) -> str:
    """A document path as a route regex: `{name}` -> one path segment, the trailing slash
    optional (each path is served with and without it)."""
    parts = re.split(r"\{(\w+)\}", path.rstrip("/"))
    regex = "".join(
        f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part) for i, part in enumerate(parts)
    )
    return f"^{regex}/?$"


def routes() -> list:
    """(path regex, view) pairs for Datasette's `register_routes`: the auth operations, ours
    (literal paths before those with parameters: `genomes/catalogues/` is no genome
    accession), the document and its docs page."""
    from . import auth_views
    from .handlers import OPERATIONS, view_for
    from .spec import docs_view, not_found_view, openapi_view, operations

    ops = [op for op_id, op in operations().items() if op_id in OPERATIONS]
    ops.sort(key=lambda op: (op["path"].count("{"), -len(op["path"])))
    ours = [(path_regex(op["path"]), view_for(op["operationId"], op["method"])) for op in ops]
    docs = [
        (rf"^{re.escape(API_ROOT)}/openapi\.json$", openapi_view),
        (rf"^{re.escape(API_ROOT)}(/docs)?/?$", docs_view),
    ]
    # anything else under the root: the API's 404, not Datasette's page
    rest = [(rf"^{re.escape(API_ROOT)}/.*$", not_found_view)]
    return list(auth_views.routes()) + docs + ours + rest
