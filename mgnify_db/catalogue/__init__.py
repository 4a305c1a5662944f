"""The catalogue: schema, rows derived from results, per-study loads, dumps, stores."""

from .dump import dump
from .load import load_run, load_study, rebuild
from .rows import biome_path, biome_rows
from .schema import TABLES
from .store import CatalogueError, SqliteStore, SqlStore, open_store

__all__ = [
    "TABLES",
    "CatalogueError",
    "SqlStore",
    "SqliteStore",
    "biome_path",
    "biome_rows",
    "dump",
    "load_run",
    "load_study",
    "open_store",
    "rebuild",
]
