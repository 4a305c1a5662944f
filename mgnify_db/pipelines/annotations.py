"""Annotation tables: one result file per (analysis, annotation type).

A table is a TSV with the header `term description organism lineage rank count` (the columns
of the catalogue's `annotations` table, less `analysis` and `type`), one row per term, sorted
by count (highest first) then term, bgzipped with its `.gzi` index beside it: MGnify serves its
summary tables so (`<acc>_pfam_summary.tsv.gz` + `.gzi`). Empty cells are unknown values.
A pipeline names its tables in its registry entry (`Pipeline.annotations`).
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..io import temp_path
from ..tools.bgzip import bgzip

if TYPE_CHECKING:
    from ..paths import StudyPaths
    from . import Pipeline

COLUMNS = ("term", "description", "organism", "lineage", "rank", "count")
HEADER = "\t".join(COLUMNS)
_TEXT = ("term", "description", "organism", "lineage", "rank")


class AnnotationRow(BaseModel):
    """One term of an analysis' annotations of one type, and how often it was found.

    Text cells are single-line: tabs and line breaks become spaces, surrounding blanks go, and
    an empty cell is None. `term` is required and unique within a table.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    term: str = Field(min_length=1)
    description: str | None = None
    organism: str | None = None  # e.g. the taxon a taxonomy term names
    lineage: str | None = None  # e.g. `sk__Bacteria;p__Bacillota`
    rank: str | None = None  # e.g. `genus`
    count: int = Field(ge=0)

    @field_validator(*_TEXT, mode="before")
    @classmethod
    def _one_cell(cls, value: object) -> object:
        if isinstance(value, str):
            return re.sub(r"[\t\r\n]+", " ", value).strip() or None
        return value

    def tsv_line(self) -> str:
        cells = [getattr(self, c) for c in COLUMNS]
        return "\t".join("" if v is None else str(v) for v in cells) + "\n"


def sorted_rows(rows: Iterable[AnnotationRow | dict]) -> list[AnnotationRow]:
    """Rows validated and in table order (count descending, then term); a repeated term is an
    error (the catalogue keys annotations by analysis, type and term)."""
    out = [r if isinstance(r, AnnotationRow) else AnnotationRow.model_validate(r) for r in rows]
    seen: set[str] = set()
    for row in out:
        if row.term in seen:
            raise ValueError(f"annotation term {row.term!r} appears more than once")
        seen.add(row.term)
    return sorted(out, key=lambda r: (-r.count, r.term))


def write_annotation_table(
    path: Path, rows: Iterable[AnnotationRow | dict], *, log: Path | None = None
) -> Path:
    """Write `rows` as the table `path` (`.tsv.gz`) and its index `path.gzi`; return `path`.

    Written under temp names and renamed when complete (mgnify_db.tools.bgzip). No rows gives
    a table with only its header. `log` gets bgzip's command line and messages.
    """
    path = Path(path)
    if path.suffix != ".gz":
        raise ValueError(f"{path}: an annotation table's name ends in .gz (it is bgzipped)")
    table = sorted_rows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    plain = temp_path(path.with_suffix(""))
    try:
        with open(plain, "w", encoding="utf-8", newline="") as fh:
            fh.write(HEADER + "\n")
            fh.writelines(row.tsv_line() for row in table)
            fh.flush()
            os.fsync(fh.fileno())
        bgzip(plain, path, log=log)
    finally:
        plain.unlink(missing_ok=True)
    return path


def read_annotation_table(path: Path, *, missing_ok: bool = False) -> Iterator[dict]:
    """The rows of a table as dicts with exactly the keys of COLUMNS (`count` an int, an empty
    cell None), in file order. Plain gzip reading: BGZF is gzip.

    A missing table raises FileNotFoundError, or with `missing_ok` gives no rows (results made
    before the pipeline wrote that table). A file that is not such a table raises ValueError.
    """
    path = Path(path)
    if missing_ok and not path.exists():
        return
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        header = fh.readline()
        if not header:
            return  # nothing at all: no rows
        if header.rstrip("\r\n") != HEADER:
            raise ValueError(f"{path}: not an annotation table (header {header.strip()!r})")
        for n, line in enumerate(fh, start=2):
            cells = line.rstrip("\r\n").split("\t")
            if len(cells) != len(COLUMNS):
                raise ValueError(f"{path}:{n}: {len(cells)} cells, expected {len(COLUMNS)}")
            row: dict = {c: (v or None) for c, v in zip(COLUMNS, cells, strict=True)}
            try:
                row["count"] = int(cells[-1])
            except ValueError:
                raise ValueError(f"{path}:{n}: count {cells[-1]!r} is not an integer") from None
            yield row


def run_annotations(pipeline: Pipeline, paths: StudyPaths, run: str) -> dict[str, list[dict]]:
    """Every annotation table of a run's analysis by `pipeline`, by annotation type; a table
    that is not there (results older than the table) has no rows."""
    return {
        spec.type: list(read_annotation_table(paths.path(spec.path, run), missing_ok=True))
        for spec in pipeline.annotations
    }
