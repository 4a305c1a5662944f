"""The SQL dialects the catalogue is kept in: the DDL of both from the one description in
schema.py, and SQLite-style placeholders (`?`, `:name`) as psycopg's (`%s`, `%(name)s`).

The catalogue's statements are written once, in SQL both dialects read; what differs is here.
"""

from __future__ import annotations

import re
from enum import StrEnum

from .schema import Table


class Dialect(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


# PostgreSQL: BIGINT (sizes and base counts pass 2^31); text compared byte by byte (COLLATE "C"),
# so ORDER BY gives SQLite's order whatever the server's locale; DOUBLE PRECISION is SQLite's REAL.
TYPES: dict[Dialect, dict[type, str]] = {
    Dialect.SQLITE: {int: "INTEGER", str: "TEXT", float: "REAL"},
    Dialect.POSTGRESQL: {int: "BIGINT", str: 'TEXT COLLATE "C"', float: "DOUBLE PRECISION"},
}


def q(name: str) -> str:
    """An identifier, double-quoted: the standard form, which SQLite and PostgreSQL both read."""
    return '"' + name.replace('"', '""') + '"'


def create_table(t: Table, dialect: Dialect = Dialect.SQLITE) -> str:
    """CREATE TABLE for `t`. Foreign keys are checked at COMMIT on PostgreSQL (DEFERRABLE
    INITIALLY DEFERRED), as SQLite's store asks with `PRAGMA defer_foreign_keys`: a load
    deletes and re-inserts parents within its transaction."""
    types = TYPES[dialect]
    parts = [f"{q(c)} {types[tp]}" for c, tp in t.columns.items()]
    parts.append(f"PRIMARY KEY ({', '.join(map(q, t.pk_columns))})")
    deferred = " DEFERRABLE INITIALLY DEFERRED" if dialect is Dialect.POSTGRESQL else ""
    parts += [
        f"FOREIGN KEY({q(c)}) REFERENCES {q(other)}({q(other_col)}){deferred}"
        for c, other, other_col in t.foreign_keys
    ]
    tail = " WITHOUT ROWID" if t.without_rowid and dialect is Dialect.SQLITE else ""
    return f"CREATE TABLE IF NOT EXISTS {q(t.name)} (\n  " + ",\n  ".join(parts) + f"\n){tail}"


def create_indexes(t: Table) -> list[str]:
    """CREATE INDEX for each of `t`'s indexes (the same statements in both dialects)."""
    out = []
    for cols in t.indexes:
        name = f"idx_{t.name}_" + "_".join(cols)
        unique = "UNIQUE " if cols in t.unique else ""
        col_sql = ", ".join(map(q, cols))
        out.append(f"CREATE {unique}INDEX IF NOT EXISTS {q(name)} ON {q(t.name)} ({col_sql})")
    return out


# Placeholders (`?`, `:name`, not `::` casts) are looked for outside SQL's literals, quoted
# identifiers and comments; `%` is psycopg's marker everywhere, inside literals too.
_TOKENS = re.compile(
    r"""(?P<skip>'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|::)"""
    r"""|(?P<qmark>\?)|:(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<percent>%)""",
    re.DOTALL,
)


def placeholders(sql: str) -> str:
    """`sql` with SQLite's placeholders as psycopg's: `?` -> `%s`, `:name` -> `%(name)s`, and
    every literal `%` doubled (psycopg reads `%` inside strings too). A `?` or `:name` inside a
    string, quoted name or comment, and `::` casts, are not placeholders. A statement mixing
    `?` and `:name` is refused (psycopg takes one style)."""
    styles: set[str] = set()

    def swap(m: re.Match) -> str:
        if m.group("skip"):
            return m.group(0).replace("%", "%%")
        if m.group("qmark"):
            styles.add("?")
            return "%s"
        if m.group("name"):
            styles.add(":name")
            return f"%({m.group('name')})s"
        return "%%"

    out = _TOKENS.sub(swap, sql)
    if len(styles) > 1:
        raise ValueError(f"mixes ? and :name placeholders: {sql!r}")
    return out
