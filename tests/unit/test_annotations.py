"""Annotation tables (mgnify_db.pipelines.annotations) and their place in the registry."""

from __future__ import annotations

import gzip
import subprocess

import pytest
from pydantic import ValidationError

from mgnify_db.catalogue.schema import ANNOTATION_TYPES, TABLES
from mgnify_db.paths import PATTERNS, StudyPaths
from mgnify_db.pipelines import PIPELINES, annotation_types
from mgnify_db.pipelines.annotations import (
    COLUMNS,
    HEADER,
    AnnotationRow,
    read_annotation_table,
    run_annotations,
    write_annotation_table,
)
from mgnify_db.tools.bgzip import index_path


def test_columns_are_the_catalogue_annotations_columns():
    assert set(TABLES["annotations"].columns) == {"analysis", "type", *COLUMNS}
    assert HEADER == "term\tdescription\torganism\tlineage\trank\tcount"


def test_round_trip(tmp_path):
    path = tmp_path / "t.tsv.gz"
    rows = [
        AnnotationRow(term="PF00001", description="7tm_1", count=3),
        {"term": "PF00002", "description": "7tm_2", "count": 10},
        AnnotationRow(
            term="g__Nitrosopumilus",
            organism="Nitrosopumilus",
            lineage="sk__Archaea;p__Nitrososphaerota;g__Nitrosopumilus",
            rank="genus",
            count=3,
        ),
        AnnotationRow(term="zero", count=0),
    ]
    assert write_annotation_table(path, rows, log=tmp_path / "log") == path
    assert index_path(path).exists()
    got = list(read_annotation_table(path))
    assert [r["term"] for r in got] == ["PF00002", "PF00001", "g__Nitrosopumilus", "zero"]
    assert all(list(r) == list(COLUMNS) for r in got)
    assert got[0] == {
        "term": "PF00002",
        "description": "7tm_2",
        "organism": None,
        "lineage": None,
        "rank": None,
        "count": 10,
    }
    assert got[2]["lineage"].startswith("sk__Archaea;") and got[2]["rank"] == "genus"
    assert got[3] == {"term": "zero", **dict.fromkeys(COLUMNS[1:-1]), "count": 0}
    # the models give back the same rows
    assert [AnnotationRow.model_validate(r) for r in got][3] == AnnotationRow(term="zero", count=0)
    # the text is what the format says: header, then rows; empty cells are empty
    text = gzip.decompress(path.read_bytes()).decode()
    assert text.splitlines()[0] == HEADER
    assert text.splitlines()[1] == "PF00002\t7tm_2\t\t\t\t10"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log", "t.tsv.gz", "t.tsv.gz.gzi"]


def test_index_reads_a_slice(tmp_path):
    path = tmp_path / "big.tsv.gz"
    rows = [AnnotationRow(term=f"T{i:05d}", description="x" * 40, count=i) for i in range(5000)]
    write_annotation_table(path, rows)
    text = gzip.decompress(path.read_bytes())
    cmd = ["bgzip", "-b", "100000", "-s", "2000", str(path)]
    assert subprocess.run(cmd, check=True, capture_output=True).stdout == text[100000:102000]


def test_cells_are_single_line_and_empty_is_none():
    row = AnnotationRow(term=" T1 ", description="a\tb\nc", organism="", count=1)
    assert (row.term, row.description, row.organism) == ("T1", "a b c", None)
    with pytest.raises(ValidationError):
        AnnotationRow(term="", count=1)
    with pytest.raises(ValidationError):
        AnnotationRow(term="T", count=-1)
    with pytest.raises(ValidationError):
        AnnotationRow(term="T", count=1, extra="no")


def test_empty_table_and_errors(tmp_path):
    empty = write_annotation_table(tmp_path / "e.tsv.gz", [])
    assert gzip.decompress(empty.read_bytes()).decode() == HEADER + "\n"
    assert list(read_annotation_table(empty)) == []
    with pytest.raises(ValueError, match="more than once"):
        write_annotation_table(tmp_path / "d.tsv.gz", [{"term": "a", "count": 1}] * 2)
    with pytest.raises(ValueError, match=r"\.gz"):
        write_annotation_table(tmp_path / "d.tsv", [])
    assert not (tmp_path / "d.tsv.gz").exists()
    with pytest.raises(FileNotFoundError):
        list(read_annotation_table(tmp_path / "missing.tsv.gz"))
    assert list(read_annotation_table(tmp_path / "missing.tsv.gz", missing_ok=True)) == []
    other = tmp_path / "other.tsv.gz"
    other.write_bytes(gzip.compress(b"pfam\tdescription\tcount\nPF1\tx\t2\n"))
    with pytest.raises(ValueError, match="not an annotation table"):
        list(read_annotation_table(other))
    bad = tmp_path / "bad.tsv.gz"
    bad.write_bytes(gzip.compress(f"{HEADER}\nT\t\t\t\t\tmany\n".encode()))
    with pytest.raises(ValueError, match="not an integer"):
        list(read_annotation_table(bad))


def test_registry_annotations(tmp_path):
    assembly = PIPELINES["assembly"]
    by_type = {spec.type: spec.path for spec in assembly.annotations}
    assert by_type == {
        "pfams": "pfam_annotations",
        "taxonomies__ssu": "ssu_annotations",
        "taxonomies__contigs": "contig_annotations",
        "rrnas": "rrna_annotations",
    }
    for path in by_type.values():
        assert PATTERNS[path].endswith(".tsv.gz") and path in assembly.targets
    types = annotation_types()
    assert types[: len(ANNOTATION_TYPES)] == ANNOTATION_TYPES
    assert {"rrnas", "taxonomies__contigs"} <= set(types) and len(types) == len(set(types))
    # a run's tables by type; one not written (results older than the table) has no rows
    paths = StudyPaths(tmp_path, "PRJEB1")
    assert run_annotations(assembly, paths, "ERR1") == {t: [] for t in by_type}
    write_annotation_table(
        paths.path("rrna_annotations", "ERR1"), [{"term": "5S_rRNA", "count": 2}]
    )
    (row,) = run_annotations(assembly, paths, "ERR1")["rrnas"]
    assert (row["term"], row["count"]) == ("5S_rRNA", 2)
