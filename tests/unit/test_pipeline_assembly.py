"""The assembly pipeline (mgnify_db.pipelines.assembly): its analysis summary, its registry
entry (downloads, annotation tables) and its rRNA step's annotation table."""

from __future__ import annotations

from dataclasses import dataclass, replace

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
from mgnify_db.pipelines.assembly import (
    analysis_columns,
    rrna_annotations,
    rrna_counts,
    rrna_name,
    write_annotation_gff,
)
from mgnify_db.smk import TAXONOMY_OUTPUTS
from mgnify_db.tools.bgzip import index_path


def test_analysis_columns_and_metadata():
    results = {
        "assembly": {"n_contigs": 12},
        "cds_counts": {"cds_count": 62, "pfam_domains": 40, "pfam_reference": {"sha256": "a"}},
        "rrna_counts": {
            "rrna": {
                "SSU": 3,
                "LSU": 2,
                "5S": 3,
                "rRNA_16S": 2,
                "rRNA_18S": 1,
                "rRNA_23S": 2,
                "rRNA_5S": 3,
            },
            "ssu_classified": 2,
        },
    }
    cols = analysis_columns(results)
    assert (cols["cds_count"], cols["rrna_16s"], cols["rrna_23s"], cols["rrna_5s"]) == (62, 2, 2, 3)
    assert cols["rrna_total"] == 8  # SSU + LSU + 5S, each gene once
    meta = cols["metadata"]
    assert meta["pipeline_revision"] and meta["pfam_domains"] == 40 and meta["ssu_classified"] == 2
    assert meta["rrna_counts"]["rRNA_18S"] == 1
    assert analysis_columns({}) == {}


@dataclass
class Hit:
    kind: str | None
    kingdom: str | None


def test_rrna_names_counts_and_annotations_by_kind_and_kingdom():
    hits = [
        Hit("SSU", "bacteria"),
        Hit("SSU", "archaea"),
        Hit("SSU", "eukarya"),
        Hit("LSU", "bacteria"),
        Hit("5S", None),
        Hit("5.8S", "eukarya"),
        Hit(None, None),
    ]
    assert rrna_name("SSU", "eukarya") == ("18S_rRNA", "18S ribosomal RNA")
    assert rrna_name("LSU", "archaea") == ("23S_rRNA", "23S ribosomal RNA")
    assert rrna_counts(hits) == {
        "5.8S": 1,
        "5S": 1,
        "LSU": 1,
        "SSU": 3,
        "rRNA_16S": 2,
        "rRNA_18S": 1,
        "rRNA_23S": 1,
        "rRNA_5S": 1,
        "rRNA_5_8S": 1,
    }
    rows = {(r.term, r.description, r.count) for r in rrna_annotations(hits)}
    assert ("16S_rRNA", "16S ribosomal RNA", 2) in rows and (
        "5_8S_rRNA",
        "5.8S ribosomal RNA",
        1,
    ) in rows
    assert all(r.organism is None for r in rrna_annotations(hits))


def test_one_gff_of_every_feature_with_the_cds_pfam_entries(tmp_path):
    import gzip

    cds = tmp_path / "cds.gff"
    cds.write_text(
        "##gff-version 3\n"
        "c2\tpyrodigal\tCDS\t10\t900\t.\t+\t0\tID=c2_1\n"
        "c1\tpyrodigal\tCDS\t5\t500\t.\t-\t0\tID=c1_1;partial=00\n"
    )
    rrna = tmp_path / "rrna.gff"
    rrna.write_text("##gff-version 3\nc1\tcmsearch\trRNA\t600\t2100\t1e-9\t+\t.\tID=r1\n")
    domains = tmp_path / "domains.tsv.gz"
    domains.write_bytes(
        gzip.compress(b"protein\taccession\nc1_1\tPF00005\nc1_1\tPF00005\nc1_1\tPF00001\n")
    )
    out = tmp_path / "all.gff"
    assert write_annotation_gff(out, cds_gff=cds, domains=domains, rrna_gff=rrna) == 3
    lines = out.read_text().splitlines()
    assert lines[0] == "##gff-version 3"
    assert [ln.split("\t")[0] + ":" + ln.split("\t")[3] for ln in lines[1:]] == [
        "c1:5",
        "c1:600",
        "c2:10",
    ]
    assert lines[1].endswith("ID=c1_1;partial=00;pfam=PF00005,PF00001")
    assert "pfam=" not in lines[3]


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
    assert {"cmsearch", "vsearch", "kraken2", "bgzip"} <= set(
        assembly.rules["analysis_taxonomy"].binaries
    )
    assert {a.type for a in assembly.annotations} == {
        "pfams",
        "taxonomies__ssu",
        "taxonomies__contigs",
        "rrnas",
    }
    for spec in assembly.annotations:  # every table is offered for download, with its index
        assert by_path[spec.path].index_types == ("gzi",)


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
def taxonomy_inputs(tmp_path):
    analysis = tmp_path / "runs" / "ERR1" / "analysis"
    analysis.mkdir(parents=True)
    assembly = tmp_path / "assembly.json"
    write_json(assembly, {"gated": "qc_failed: too few reads"})
    return {
        "cfg": GlobalConfig(),
        "assembly": assembly,
        "contigs": tmp_path / "contigs.fa.gz",
        "cds_gff": analysis / "cds.gff",
        "domains": analysis / "pfam_domains.tsv.gz",
        "cm": tmp_path / "rrna.cm",
        "ssu_reference": tmp_path / "ssu.fasta",
        "kraken2_db": None,
        "out": {name: analysis / PATTERNS[name].rsplit("/", 1)[1] for name in TAXONOMY_OUTPUTS},
        "threads": 1,
        "log_file": tmp_path / "logs" / "analysis_taxonomy.log",
        "job": Job("analysis_taxonomy", tmp_path / "jobs" / "analysis_taxonomy.jsonl"),
    }


def test_analysis_taxonomy_gated_writes_empty_tables(taxonomy_inputs):
    """A run that failed a gate: every output says so, every annotation table is empty (the
    tools never run: none of their inputs exist)."""
    out = taxonomy_inputs["out"]
    assert steps.analysis_taxonomy(**taxonomy_inputs) == {}
    assert read_json(out["rrna_counts"]) == {"gated": "qc_failed: too few reads"}
    for name in ("rrna_annotations", "ssu_annotations", "contig_annotations"):
        assert list(read_annotation_table(out[name])) == [] and index_path(out[name]).exists()
    assert out["annotation_gff"].exists() and out["ssu_fasta"].exists()
