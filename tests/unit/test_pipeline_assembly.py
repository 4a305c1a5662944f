"""The assembly pipeline (mgnify_db.pipelines.assembly): its analysis summary, its registry
entry (downloads, annotation tables) and its rRNA step's annotation table."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mgnify_db import steps
from mgnify_db.config import GlobalConfig
from mgnify_db.ids import AccessionKind
from mgnify_db.io import read_json, write_json
from mgnify_db.jobs import Job
from mgnify_db.paths import PATTERNS
from mgnify_db.pipelines import (
    DOWNLOAD_TYPES,
    FILE_TYPES,
    PIPELINES,
    AnnotationSpec,
    Download,
    check_pipeline,
)
from mgnify_db.pipelines.annotations import read_annotation_table
from mgnify_db.pipelines.assembly import rrna_annotations, summarise_analysis
from mgnify_db.tools.barrnap import RrnaKind
from mgnify_db.tools.bgzip import index_path
from mgnify_db.tools.megahit import AssemblyStats


def test_summarise_analysis():
    stats = AssemblyStats(
        n_contigs=12,
        total_length=48_000,
        n50=9000,
        l50=2,
        largest_contig=20_000,
        gc_content=0.5,
        assembler_version="1.2.9",
        min_contig_len=500,
    )
    summary = summarise_analysis(
        62, {"rRNA_16S": 2, "rRNA_5S": 3, "rRNA_12S": 1}, stats, rrna_tool_version="0.9"
    )
    assert (summary.cds_count, summary.n_contigs, summary.assembly_length) == (62, 12, 48_000)
    assert (summary.rrna_16s, summary.rrna_23s, summary.rrna_5s) == (2, 0, 3)
    assert summary.rrna_total == 6  # the 12S has no field of its own but counts
    assert summary.rrna_counts == {"rRNA_16S": 2, "rRNA_5S": 3, "rRNA_12S": 1}
    assert summary.assembler_version == "1.2.9" and summary.rrna_tool_version == "0.9"
    assert summary.cds_tool == "pyrodigal" and summary.cds_tool_version


def test_rrna_annotations_from_kinds():
    kinds = [
        RrnaKind(name="16S_rRNA", product="16S ribosomal RNA", count=3),
        RrnaKind(name="5S_rRNA", product="", count=1),
    ]
    rows = rrna_annotations(kinds)
    assert [(r.term, r.description, r.count) for r in rows] == [
        ("16S_rRNA", "16S ribosomal RNA", 3),
        ("5S_rRNA", None, 1),
    ]
    assert all(r.organism is None and r.lineage is None and r.rank is None for r in rows)


def test_registry_entry_is_consistent():
    assembly = PIPELINES["assembly"]
    check_pipeline(assembly)
    by_path = {d.path: d for d in assembly.downloads}
    table = by_path["rrna_annotations"]
    assert table.owner == AccessionKind.ANALYSIS and table.index_types == ("gzi",)
    assert (table.file_type, table.download_type, table.download_group) == (
        "tsv",
        "non-coding RNAs",
        "taxonomy",
    )
    assert table.index_types == ("gzi",)
    assert PATTERNS["rrna_annotations"].endswith("/analysis/rrna_annotations.tsv.gz")
    for dl in assembly.downloads:
        assert dl.file_type in FILE_TYPES and dl.download_type in DOWNLOAD_TYPES
        assert dl.short_description and dl.long_description
    # the table is an output the catalogue load waits for; completion is still the JSON counts
    assert "rrna_annotations" in assembly.targets
    assert "rrna_annotations" not in assembly.record(AccessionKind.ANALYSIS).results
    assert "bgzip" in assembly.rules["analysis_rrna"].binaries


def test_download_values_are_mgnify_ones():
    def dl(**kw):
        fields = dict(
            owner=AccessionKind.ANALYSIS,
            path="rrna_gff",
            alias="x.gff",
            file_type="gff",
            download_type="non-coding RNAs",
            download_group="taxonomy",
            short_description="rRNA genes",
        )
        return Download(**(fields | kw))

    assert dl().long_description == "rRNA genes" and dl().index_types == ()
    assert dl(download_group="functional_annotation.pfams").download_group
    for bad in (
        {"file_type": "gff3"},
        {"download_type": "rRNA"},
        {"download_group": "rrna"},
        {"index_types": ("tbi",)},
    ):
        with pytest.raises(ValueError, match="download rrna_gff"):
            dl(**bad)


def test_check_pipeline_rejects_unknown_paths_and_repeats():
    assembly = PIPELINES["assembly"]
    with pytest.raises(ValueError, match="unknown path 'nosuch'"):
        check_pipeline(replace(assembly, annotations=(AnnotationSpec(type="x", path="nosuch"),)))
    spec = AnnotationSpec(type="rrnas", path="rrna_annotations")
    with pytest.raises(ValueError, match="annotation type 'rrnas' repeated"):
        check_pipeline(replace(assembly, annotations=(spec, spec)))
    with pytest.raises(ValueError, match="download alias"):
        check_pipeline(replace(assembly, downloads=assembly.downloads[-1:] * 2))


@pytest.fixture
def rrna_inputs(tmp_path):
    analysis = tmp_path / "runs" / "ERR1" / "analysis"
    analysis.mkdir(parents=True)
    assembly = tmp_path / "assembly.json"
    write_json(assembly, {"n_contigs": 1})
    job = Job("analysis_rrna", tmp_path / "jobs" / "analysis_rrna.jsonl")
    return {
        "cfg": GlobalConfig(),
        "assembly": assembly,
        "contigs": tmp_path / "contigs.fa.gz",
        "gff": analysis / "rrna.gff",
        "counts": analysis / "rrna.json",
        "threads": 1,
        "log_file": tmp_path / "logs" / "analysis_rrna.log",
        "job": job,
    }


def test_analysis_rrna_writes_the_annotation_table(rrna_inputs, monkeypatch):
    gff_lines = [
        "c1\tbarrnap:0.9\trRNA\t1\t1500\t0\t+\t.\tName=16S_rRNA;product=16S ribosomal RNA",
        "c2\tbarrnap:0.9\trRNA\t1\t1400\t0\t+\t.\tName=16S_rRNA;product=16S ribosomal RNA "
        "(partial)",
        "c2\tbarrnap:0.9\trRNA\t2000\t2110\t1e-9\t-\t.\tName=5S_rRNA;product=5S ribosomal RNA",
    ]

    def fake_barrnap(contigs, gff_out, **kw):
        gff_out.write_text("##gff-version 3\n" + "\n".join(gff_lines) + "\n")
        return {"rRNA_16S": 2, "rRNA_5S": 1}

    monkeypatch.setattr(steps, "run_barrnap", fake_barrnap)
    table = rrna_inputs["counts"].parent / "rrna_annotations.tsv.gz"
    found = steps.analysis_rrna(**rrna_inputs, annotations=table)
    assert found == read_json(rrna_inputs["counts"]) == {"rRNA_16S": 2, "rRNA_5S": 1}
    rows = list(read_annotation_table(table))
    assert [(r["term"], r["description"], r["count"]) for r in rows] == [
        ("16S_rRNA", "16S ribosomal RNA", 2),
        ("5S_rRNA", "5S ribosomal RNA", 1),
    ]
    assert index_path(table).exists()
    # without `annotations` (a rule script that does not pass it): PATTERNS' name, same dir
    table.unlink()
    index_path(table).unlink()
    steps.analysis_rrna(**rrna_inputs)
    assert len(list(read_annotation_table(table))) == 2 and index_path(table).exists()


def test_analysis_rrna_gated_writes_an_empty_table(rrna_inputs):
    write_json(rrna_inputs["assembly"], {"gated": "qc_failed: too few reads"})
    table = rrna_inputs["counts"].parent / "rrna_annotations.tsv.gz"
    assert steps.analysis_rrna(**rrna_inputs, annotations=table) == {}
    assert read_json(rrna_inputs["counts"]) == {"gated": "qc_failed: too few reads"}
    assert list(read_annotation_table(table)) == [] and index_path(table).exists()
