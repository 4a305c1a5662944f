"""Canonical dumps: every row sorted, for comparing two catalogues."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from .dialect import q
from .schema import TABLES
from .store import CatalogueError, SqlStore

# Accessions this catalogue allocates (MGYS, MGYA, local assembly ids): anything else is ENA's.
# (In aliases like MGYA00000001_cds.faa too: `\b` would not end the accession before "_".)
ALLOCATED = re.compile(r"(?<![A-Za-z0-9])(?:MGYS|MGYA|LZ)\d{8,}(?!\d)")


def dump(
    store: SqlStore, tables: Iterable[str] = tuple(TABLES), *, canonical: bool = False
) -> dict[str, list]:
    """Every row, sorted by primary key.

    `canonical`: allocated accessions replaced (wherever they appear: columns, ids, URLs, JSON)
    by the natural keys they were allocated for, and job ids (which say where it ran, not what)
    dropped, so two catalogues built independently (ids allocated in another order, by another
    executor) compare equal when they hold the same content.
    """
    out = {}
    for t in tables:
        if t not in TABLES:
            raise CatalogueError(f"no table {t!r} in the catalogue (tables: {', '.join(TABLES)})")
        pk = ", ".join(map(q, TABLES[t].pk_columns))
        out[t] = list(store.query(f"select * from {q(t)} order by {pk}"))
    if not canonical:
        return out
    names: dict[str, str] = {}
    for kind, sql in (
        ("study", "select accession a, ena_accession k from studies"),
        ("assembly", "select accession a, run || '/' || assembler k from assemblies"),
        ("analysis", "select accession a, run || '/' || pipeline k from analyses"),
    ):
        names |= {r["a"]: f"<{kind} {r['k']}>" for r in store.query(sql)}

    def name(m: re.Match) -> str:
        return names.get(m.group(0), m.group(0))

    for t, rows in out.items():
        for row in rows:
            if t in ("studies", "analyses", "assemblies"):
                row.pop("id", None)
            if t != "events":
                row.pop("job_id", None)
            for col, value in row.items():
                if isinstance(value, str) and ALLOCATED.search(value):
                    row[col] = ALLOCATED.sub(name, value)
        rows.sort(key=lambda r: json.dumps(r, sort_keys=True, default=str))
    return out
