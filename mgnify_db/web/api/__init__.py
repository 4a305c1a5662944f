"""MGnify's API v2 (the contract: MGnify's own OpenAPI document, `openapi_v2.json` here), served
by our Datasette plugin under `/metagenomics/api/v2/`."""

from __future__ import annotations

API_ROOT = "/metagenomics/api/v2"


def routes() -> list:
    """(path regex, view) pairs for Datasette's `register_routes`."""
    from . import auth_views

    return list(auth_views.routes())
