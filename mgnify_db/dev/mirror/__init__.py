"""Offline ENA: a subset of the ENA Portal API plus FASTQ file serving, for demos and tests.

Data directory layout::

    DIR/portal/{result}.json        JSON list of records (all values strings), e.g. study,
                                    sample, read_run (any other result, e.g. analysis, works too)
    DIR/portal/return_fields.json   optional {result: [field, ...]} overriding the return fields
    DIR/vol1/fastq/...              files served at GET /vol1/fastq/...
    DIR/access.json                 optional: private studies held by data-hub (DCC) accounts,
                                    Webin accounts (see `access`)

Record values may contain the placeholder ``{mirror}``, replaced by the server's ``host:port``
when answering (so ``fastq_ftp`` carries host and path without a scheme, like ENA's).

Endpoints (base URL ``http://HOST:PORT/ena/portal/api``): ``search``, ``filereport``,
``returnFields``, ``results``; ENA's Webin credential check ``POST /ena/submit/webin/auth``;
plus ``/_mirror/faults`` (POST a JSON list of faults, DELETE to clear) and ``/_mirror/requests``
(GET the request log, DELETE to clear) for tests.

A private study's records are answered only to Portal API requests carrying the HTTP Basic
credentials of the data hub that holds it (anonymously: an empty result, as ENA answers an
unknown accession; wrong credentials: 401). FASTQ files are served to everybody.

Modules: `query` (the Portal API query language), `data` (a data directory: reading and
writing), `access` (private studies, data hubs, Webin accounts), `portal` (answering the Portal
API endpoints), `faults` (fault injection),
`server` (HTTP: `MirrorServer`, `serve_forever`). The one CLI is ``mgnify-db ena-mirror serve``.
"""

from .access import ACCESS_FILE, WEBIN_AUTH_PATH, Access, load_access, write_access
from .data import PLACEHOLDER, PortalData, fastq_dir, write_portal
from .errors import MirrorError
from .faults import Fault
from .portal import API_PREFIX
from .query import parse_query
from .server import MirrorServer, serve_forever

__all__ = [
    "ACCESS_FILE",
    "API_PREFIX",
    "PLACEHOLDER",
    "WEBIN_AUTH_PATH",
    "Access",
    "Fault",
    "MirrorError",
    "MirrorServer",
    "PortalData",
    "fastq_dir",
    "load_access",
    "parse_query",
    "serve_forever",
    "write_access",
    "write_portal",
]
