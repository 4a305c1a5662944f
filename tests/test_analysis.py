"""CDS prediction (pyrodigal) and rRNA detection (barrnap) on real packaged sequences."""

from __future__ import annotations

import gzip
import random
import shutil
from pathlib import Path

import pytest
from conftest import packaged_file

from mgnify_db.analysis import (
    RrnaHit,
    merge_rrna_hits,
    parse_barrnap_gff,
    predict_cds,
    rrna_counts,
    run_barrnap,
    summarise_analysis,
)
from mgnify_db.assembly import AssemblyStats, read_fasta

LAMBDA = ("bowtie2-examples", "usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")
# 5,181 near-full-length 16S genes (RDP type strains and genomes), 1.6 MB .deb
GOLD_16S = ("microbiomeutil-data", "usr/share/microbiomeutil-data/RESOURCES/rRNA16S.gold.fasta")


def fasta_ids(path: Path) -> list[str]:
    return [header.split()[0] for header, _ in read_fasta(path)]


def test_predict_cds_lambda(tmp_path):
    genome = packaged_file(*LAMBDA)  # gzipped input
    faa, gff = tmp_path / "cds.faa", tmp_path / "cds.gff"
    n = predict_cds(genome, faa, gff, threads=2)
    assert 60 <= n <= 80  # NCBI annotates 73 CDS on NC_001416
    proteins = list(read_fasta(faa))
    assert len(proteins) == n
    assert not any(seq.endswith("*") for _, seq in proteins)
    assert all(len(seq) >= 20 for _, seq in proteins)
    lines = gff.read_text().splitlines()
    assert lines[0] == "##gff-version 3"
    cds = [line.split("\t") for line in lines if not line.startswith("#")]
    assert len(cds) == n and {c[2] for c in cds} == {"CDS"}
    # protein ids are "<contig>_<n>", as Prodigal's
    assert fasta_ids(faa)[0] == f"{cds[0][0]}_1"


def test_predict_cds_threads_do_not_change_output(tmp_path):
    rng = random.Random(3)
    lam = next(read_fasta(packaged_file(*LAMBDA)))[1]
    # several contigs, so the pool has work to split and order to keep
    contigs = tmp_path / "contigs.fa.gz"
    with gzip.open(contigs, "wt") as fh:
        for i in range(6):
            start = rng.randrange(0, len(lam) - 8000)
            fh.write(f">c{i} len=8000\n{lam[start : start + 8000]}\n")
    one = predict_cds(contigs, tmp_path / "1.faa", tmp_path / "1.gff", threads=1)
    two = predict_cds(contigs, tmp_path / "2.faa.gz", tmp_path / "2.gff", threads=2)
    assert one == two > 0
    assert (tmp_path / "1.faa").read_text() == gzip.open(tmp_path / "2.faa.gz", "rt").read()
    assert (tmp_path / "1.gff").read_text() == (tmp_path / "2.gff").read_text()


def test_predict_cds_empty_input(tmp_path):
    empty = tmp_path / "contigs.fa.gz"
    with gzip.open(empty, "wt"):
        pass
    assert predict_cds(empty, tmp_path / "cds.faa", tmp_path / "cds.gff", threads=2) == 0
    assert (tmp_path / "cds.faa").read_text() == ""
    assert (tmp_path / "cds.gff").read_text() == "##gff-version 3\n"


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
