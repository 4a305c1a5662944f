"""Canonical dumps: every row sorted, for comparing two catalogues."""

from __future__ import annotations

import json
from collections.abc import Iterable

from .schema import TABLES
from .store import CatalogueError, SqliteStore


def dump(
    store: SqliteStore, tables: Iterable[str] = tuple(TABLES), *, canonical: bool = False
) -> dict[str, list]:
    """Every row, sorted by primary key.

    `canonical`: MGnify and local accessions replaced by the natural keys they were allocated
    for, and job ids (which say where it ran, not what) dropped, so two catalogues built
    independently (ids allocated in another order, by another executor) compare equal when they
    hold the same content.
    """
    out = {}
    for t in tables:
        if t not in TABLES:
            raise CatalogueError(f"no table {t!r} in the catalogue (tables: {', '.join(TABLES)})")
        pk = TABLES[t].pk
        out[t] = list(store.query(f"select * from [{t}] order by [{pk}]"))
    if not canonical:
        return out
    names: dict[str, str] = {}
    for kind, sql in (
        ("study", "select accession a, ena_accession k from studies"),
        ("assembly", "select accession a, run || '/' || assembler k from assemblies"),
        ("analysis", "select accession a, run || '/' || pipeline k from analyses"),
    ):
        names |= {r["a"]: f"<{kind} {r['k']}>" for r in store.query(sql)}
    for t, rows in out.items():
        for row in rows:
            if t in ("studies", "analyses", "assemblies"):
                row.pop("id", None)
            if t != "events":
                row.pop("job_id", None)
            for col in ("accession", "study", "assembly", "analysis"):
                if row.get(col) in names:
                    row[col] = names[row[col]]
            if t == "downloads":
                for acc, name in names.items():
                    row["alias"] = row["alias"].replace(acc, name)
                row["id"] = f"{row['analysis'] or row['assembly']}/{row['alias']}"
        rows.sort(key=lambda r: json.dumps(r, sort_keys=True, default=str))
    return out
