"""MGnify's biome tree: lineages, their ltree-like paths, and "a lineage and its descendants".

The tree ships as `biomes.tsv` (one `lineage` column: GOLD-derived lineages such as
`root:Host-associated:Human:Digestive system`, each ancestor listed too). A study may name a
lineage the file lacks: `lineage_rows` gives it and its ancestors, rows of the same shape.

A row of the `biomes` table: `lineage` (the key), `biome_name` (its last label), `path`
(`biome_path(lineage)`), `depth` (number of labels, `root` = 1) and `parent` (the parent's
lineage, None for `root`).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

TREE_FILE = "biomes.tsv"
ROOT = "root"


def biome_path(lineage: str) -> str:
    """`root:Host-associated:Human` -> `root.host_associated.human` (MGnify's ltree labels).

    Lowercase, drop non-ASCII, `:` -> `.`, space/`(`/`)`/`-` -> `_`, keep only `[a-z0-9._]`,
    collapse `__`, strip `_` at the ends of each label and `_`/`.` at the ends of the path.
    A path is its own path (`biome_path(biome_path(x)) == biome_path(x)`).
    """
    s = lineage.lower().encode("ascii", "ignore").decode().replace(":", ".")
    s = re.sub(r"[ ()\-]", "_", s)
    s = re.sub(r"[^a-z0-9._]", "", s)
    s = re.sub(r"_+", "_", s)
    return ".".join(label.strip("_") for label in s.split(".")).strip("._")


def ancestors(lineage: str) -> list[str]:
    """The lineage's ancestors and itself, root first: `root`, `root:A`, `root:A:B`."""
    parts = lineage.split(":")
    return [":".join(parts[:depth]) for depth in range(1, len(parts) + 1)]


def _row(lineage: str) -> dict:
    parts = lineage.split(":")
    return {
        "lineage": lineage,
        "biome_name": parts[-1],
        "path": biome_path(lineage),
        "depth": len(parts),
        "parent": ":".join(parts[:-1]) or None,
    }


def lineage_rows(lineage: str) -> list[dict]:
    """Rows of a lineage and its ancestors, root first (for a lineage the tree may lack)."""
    return [_row(a) for a in ancestors(lineage)]


@cache
def tree_lineages() -> tuple[str, ...]:
    """Every lineage of the shipped tree, with every ancestor, sorted (so parents come first:
    a lineage sorts before every lineage it is a prefix of)."""
    text = resources.files(__package__).joinpath(TREE_FILE).read_text(encoding="utf-8")
    lines = [ln.strip() for ln in text.splitlines()]
    if not lines or lines[0] != "lineage":
        raise ValueError(f"{TREE_FILE}: the first line must be the header 'lineage'")
    found = {a for ln in lines[1:] if ln for a in ancestors(ln)}
    return tuple(sorted(found | {ROOT}))


def biome_tree() -> list[dict]:
    """The `biomes` table's rows for the shipped tree: parents before children, same every
    call (fresh dicts: a caller may change them)."""
    return [_row(lineage) for lineage in tree_lineages()]


# The character after "." in ASCII: every path below P sorts in [P + ".", P + "/").
_AFTER_DOT = chr(ord(".") + 1)


def descendants_where(lineage: str, column: str = "path") -> tuple[str, list[str]]:
    """An SQL condition "this lineage and all its descendants" on a path column, and its
    parameters: `column = ? OR (column > ? AND column < ?)`, two ranges of an index on it
    (no LIKE, which SQLite's default case-insensitive LIKE would not index).

    `lineage` may also be a path (`root.engineered`); `column` may be qualified (`b.path`).
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?", column):
        raise ValueError(f"{column!r} is not a column name")
    path = biome_path(lineage)
    sql = f"({column} = ? OR ({column} > ? AND {column} < ?))"
    return sql, [path, path + ".", path + _AFTER_DOT]
