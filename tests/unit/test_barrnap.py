"""rRNA detection with barrnap on real 16S genes (packaged), and its GFF parsing and merging."""

from __future__ import annotations

import gzip
import random
import shutil
from pathlib import Path

import pytest
from support import packaged_file

from mgnify_db.io import read_fasta
from mgnify_db.tools.barrnap import (
    RrnaHit,
    barrnap_version,
    merge_rrna_hits,
    parse_barrnap_gff,
    rrna_counts,
    rrna_kinds,
    run_barrnap,
)

# 5,181 near-full-length 16S genes (RDP type strains and genomes), 1.6 MB .deb
GOLD_16S = ("microbiomeutil-data", "usr/share/microbiomeutil-data/RESOURCES/rRNA16S.gold.fasta")


BARRNAP_GFF = """##gff-version 3
c1\tbarrnap:0.9\trRNA\t2001\t3509\t0\t+\t.\tName=16S_rRNA;product=16S ribosomal RNA
c1\tbarrnap:0.9\trRNA\t2005\t3509\t1e-239\t+\t.\tName=16S_rRNA;product=16S ribosomal RNA
c1\tbarrnap:0.9\trRNA\t2625\t3503\t2.3e-83\t+\t.\tName=18S_rRNA;product=18S ribosomal RNA (partial)
c1\tbarrnap:0.9\trRNA\t2100\t3000\t1e-50\t-\t.\tName=5_8S_rRNA;product=5.8S ribosomal RNA
c0\tbarrnap:0.9\trRNA\t73\t178\t1.1e-10\t-\t.\tName=5S_rRNA;product=5S ribosomal RNA
"""


def test_parse_merge_and_count_barrnap_hits(tmp_path):
    gff = tmp_path / "bac.gff"
    gff.write_text(BARRNAP_GFF)
    hits = parse_barrnap_gff(gff, kingdom="bac")
    assert len(hits) == 5 and hits[0].kingdom == "bac"
    assert hits[0].evalue == 0 and hits[2].partial and not hits[0].partial
    assert [h.key for h in hits] == ["rRNA_16S", "rRNA_16S", "rRNA_18S", "rRNA_5_8S", "rRNA_5S"]
    merged = merge_rrna_hits(hits)
    # overlapping + strand: only the best 16S is kept; the - strand hit and c0 are separate
    assert [(h.seqid, h.start, h.key) for h in merged] == [
        ("c1", 2001, "rRNA_16S"),
        ("c1", 2100, "rRNA_5_8S"),
        ("c0", 73, "rRNA_5S"),
    ]
    assert rrna_counts(merged) == {"rRNA_16S": 1, "rRNA_5S": 1, "rRNA_5_8S": 1}


def test_rrna_kinds_name_product_and_count(tmp_path):
    gff = tmp_path / "bac.gff"
    gff.write_text(BARRNAP_GFF)
    hits = parse_barrnap_gff(gff)
    assert [h.product for h in hits][1:3] == ["16S ribosomal RNA", "18S ribosomal RNA"]
    kinds = rrna_kinds(hits)  # unmerged: both 16S hits count; partial ones count too
    assert [(k.name, k.product, k.count) for k in kinds] == [
        ("16S_rRNA", "16S ribosomal RNA", 2),
        ("18S_rRNA", "18S ribosomal RNA", 1),
        ("5S_rRNA", "5S ribosomal RNA", 1),
        ("5_8S_rRNA", "5.8S ribosomal RNA", 1),
    ]
    merged = merge_rrna_hits(hits)
    by_key = rrna_counts(merged)
    assert {f"rRNA_{k.name.removesuffix('_rRNA')}": k.count for k in rrna_kinds(merged)} == by_key
    assert rrna_kinds([]) == []


def test_merge_prefers_longer_hit_on_equal_evalue():
    def hit(start: int, end: int) -> RrnaHit:
        attrs = "Name=16S_rRNA;product=16S ribosomal RNA"
        return RrnaHit(
            seqid="c", source="b", start=start, end=end, evalue=0.0, strand="+", attributes=attrs
        )

    assert [(h.start, h.end) for h in merge_rrna_hits([hit(10, 900), hit(5, 1500)])] == [(5, 1500)]


@pytest.fixture(scope="module")
def rrna_contigs(tmp_path_factory) -> tuple[Path, dict[str, tuple[int, int]]]:
    """Real 16S genes (a bacterium, an archaeon on the - strand) in random flanks, gzipped."""
    gold = packaged_file(*GOLD_16S)
    wanted = {"Acidothermus cellulolyticus 11B": None, "Methanococcus maripaludis C5": None}
    for header, seq in read_fasta(gold):
        for name in wanted:
            if wanted[name] is None and name in header:
                wanted[name] = seq.upper()
    assert all(wanted.values()), wanted
    bac, arc = wanted.values()
    rng = random.Random(16)

    def flank(n: int) -> str:
        return "".join(rng.choice("ACGT") for _ in range(n))

    arc_rc = arc[::-1].translate(str.maketrans("ACGT", "TGCA"))
    records = {
        "bac16S": flank(2000) + bac + flank(2000),
        "arc16S": flank(1000) + arc_rc + flank(500),
        "none": flank(3000),
    }
    path = tmp_path_factory.mktemp("rrna") / "contigs.fa.gz"
    with gzip.open(path, "wt") as fh:
        fh.writelines(f">{name} flag=1\n{seq}\n" for name, seq in records.items())
    return path, {"bac16S": (2001, 2000 + len(bac)), "arc16S": (1001, 1000 + len(arc))}


@pytest.mark.parametrize("where", ["plain", "failed_error_run"])
def test_run_barrnap_finds_real_16s(rrna_contigs, tmp_path, where):
    # barrnap 0.9 aborts if nhmmer's output (which echoes paths) matches /fail|error/i
    contigs, truth = rrna_contigs
    tmp_path = tmp_path / where
    tmp_path.mkdir()
    shutil.copy(contigs, tmp_path / contigs.name)
    contigs = tmp_path / contigs.name
    gff, log = tmp_path / "rrna.gff", tmp_path / "rrna.log"
    counts = run_barrnap(contigs, gff, kingdoms=["bac", "arc"], threads=2, log=log)
    # both kingdom models hit each gene; merging leaves one feature per gene
    assert counts == {"rRNA_16S": 2}
    assert gff.read_text().startswith("##gff-version 3\n")
    hits = {h.seqid: h for h in parse_barrnap_gff(gff)}
    assert set(hits) == {"bac16S", "arc16S"}
    assert hits["arc16S"].strand == "-" and hits["bac16S"].strand == "+"
    for seqid, (start, end) in truth.items():
        assert abs(hits[seqid].start - start) < 50 and abs(hits[seqid].end - end) < 50
        assert hits[seqid].kingdom in {"bac", "arc"}
    assert log.read_text().count("$ barrnap") == 2
    assert not list(tmp_path.glob(".*"))  # no temp files left behind
    kinds = rrna_kinds(parse_barrnap_gff(gff))
    assert [(k.name, k.product, k.count) for k in kinds] == [("16S_rRNA", "16S ribosomal RNA", 2)]


def test_run_barrnap_empty_input_skips_tool(tmp_path):
    empty = tmp_path / "contigs.fa"
    empty.write_text("")
    counts = run_barrnap(empty, tmp_path / "rrna.gff", threads=1, log=tmp_path / "rrna.log")
    assert counts == {}
    assert (tmp_path / "rrna.gff").read_text() == "##gff-version 3\n"
    assert "barrnap not run" in (tmp_path / "rrna.log").read_text()


def test_run_barrnap_rejects_unknown_kingdom(tmp_path):
    with pytest.raises(ValueError, match="kingdoms"):
        run_barrnap(
            tmp_path / "x.fa", tmp_path / "x.gff", kingdoms=["bacteria"], log=tmp_path / "l"
        )


def test_barrnap_version():
    assert barrnap_version() == "0.9"  # Debian's barrnap 0.9
