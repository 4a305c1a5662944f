"""Per-contig coverage from reads mapped back (minimap2 + samtools) on real data: phage lambda
as a "contig" with ART reads at 20x, and an unrelated (random) contig no read comes from."""

from __future__ import annotations

import gzip
import random
import subprocess

import pytest
from support import packaged_file

from mgnify_db.io import read_fasta
from mgnify_db.proc import ToolError
from mgnify_db.tools.coverage import (
    ContigCoverage,
    CoverageSummary,
    contig_coverage,
    read_coverage_table,
    summarise,
)

LAMBDA = ("bowtie2-examples", "usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")
LAMBDA_LENGTH = 48_502
UNRELATED_LENGTH = 20_000
FOLD = 20


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("coverage")
    lam = "".join(seq for _, seq in read_fasta(packaged_file(*LAMBDA)))
    genome = tmp / "lambda.fa"
    genome.write_text(f">lambda\n{lam}\n")
    art = f"art_illumina -ss HS25 -p -l 150 -f {FOLD} -m 350 -s 50 -na -rs 11".split()
    subprocess.run([*art, "-i", genome, "-o", tmp / "reads_"], check=True, capture_output=True)
    unrelated = "".join(random.Random(7).choice("ACGT") for _ in range(UNRELATED_LENGTH))
    contigs = tmp / "contigs.fa.gz"
    with gzip.open(contigs, "wt") as fh:
        fh.write(f">lambda_contig len={LAMBDA_LENGTH}\n{lam}\n>unrelated\n{unrelated}\n")
    reads = [tmp / "reads_1.fq", tmp / "reads_2.fq"]
    n_reads = 2 * sum(1 for _ in reads[0].open()) // 4
    return {"contigs": contigs, "reads": reads, "n_reads": n_reads, "tmp": tmp}


def test_lambda_at_20x_and_an_unrelated_contig(data, tmp_path):
    table = tmp_path / "cov" / "coverage.tsv"
    bases_before_qc = 150 * data["n_reads"] * 2  # as if QC had removed half of the bases
    summary = contig_coverage(
        data["contigs"],
        data["reads"],
        table,
        threads=2,
        bases_before_qc=bases_before_qc,
        log=tmp_path / "cov.log",
    )
    lam, other = read_coverage_table(table)
    assert (lam.contig, lam.length, other.contig, other.length) == (
        "lambda_contig",
        LAMBDA_LENGTH,
        "unrelated",
        UNRELATED_LENGTH,
    )
    assert lam.mean_depth == pytest.approx(FOLD, rel=0.1)
    assert lam.covered_bases >= 0.99 * LAMBDA_LENGTH
    assert lam.mapped_reads >= 0.99 * data["n_reads"]
    assert other.mean_depth < 0.01 and other.covered_bases < 0.01 * UNRELATED_LENGTH
    total = LAMBDA_LENGTH + UNRELATED_LENGTH
    assert summary.n_contigs == 2 and summary.assembly_length == total
    assembled = LAMBDA_LENGTH * lam.mean_depth + UNRELATED_LENGTH * other.mean_depth
    assert summary.assembled_bases == pytest.approx(assembled)
    # MGnify's coverage_depth: the length-weighted mean depth; its coverage: assembled bases over
    # the bases sequenced (before QC)
    assert summary.coverage_depth == pytest.approx(assembled / total)
    assert summary.coverage == pytest.approx(assembled / bases_before_qc)
    assert 0.4 < summary.coverage < 0.5
    assert summary.covered_fraction == pytest.approx(
        (lam.covered_bases + other.covered_bases) / total
    )
    assert summary.reads_total == data["n_reads"]
    assert summary.mapped_read_fraction >= 0.99
    header = table.read_text().splitlines()[0]
    assert header == "contig\tlength\tmapped_reads\tcovered_bases\tmean_depth"
    assert sorted(p.name for p in table.parent.iterdir()) == [".coverage.tsv.lock", "coverage.tsv"]


def test_single_end_reads(data, tmp_path):
    summary = contig_coverage(data["contigs"], data["reads"][:1], tmp_path / "cov.tsv")
    lam, _ = read_coverage_table(tmp_path / "cov.tsv")
    assert lam.mean_depth == pytest.approx(FOLD / 2, rel=0.1)  # one mate of each pair
    assert summary.reads_total == data["n_reads"] // 2
    assert summary.coverage is None  # no bases before QC given


def test_an_empty_assembly(data, tmp_path):
    empty = tmp_path / "contigs.fa.gz"
    with gzip.open(empty, "wt"):
        pass
    summary = contig_coverage(empty, data["reads"], tmp_path / "cov.tsv", bases_before_qc=1000)
    assert read_coverage_table(tmp_path / "cov.tsv") == []
    assert (summary.n_contigs, summary.assembly_length, summary.coverage_depth) == (0, 0, 0.0)
    assert (summary.coverage, summary.covered_fraction, summary.reads_mapped) == (0.0, 0.0, 0)
    assert summary.reads_total == data["n_reads"]


def test_failure_raises_and_writes_no_table(data, tmp_path):
    with pytest.raises(ToolError, match=r"minimap2 \| samtools sort failed"):
        contig_coverage(data["contigs"], [tmp_path / "missing.fq"], tmp_path / "cov.tsv")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".cov.tsv.lock"]


def test_summary_is_miassemblers_arithmetic():
    """calculate_assembly_coverage.py: sum(len x depth) over length, and over raw bases."""
    rows = [
        ContigCoverage(contig="a", length=1000, mapped_reads=70, covered_bases=900, mean_depth=10),
        ContigCoverage(contig="b", length=3000, mapped_reads=40, covered_bases=1500, mean_depth=2),
    ]
    summary = summarise(rows, reads_total=200, reads_mapped=110, bases_before_qc=160_000)
    assert summary == CoverageSummary(
        n_contigs=2,
        assembly_length=4000,
        assembled_bases=16_000,
        coverage_depth=4.0,
        coverage=0.1,
        covered_fraction=0.6,
        reads_total=200,
        reads_mapped=110,
        mapped_read_fraction=0.55,
        tool_version=summary.tool_version,
    )
    # the keys of MGnify's coverage JSON (miassembler's <run>_coverage.json)
    assert {"coverage", "coverage_depth"} <= set(CoverageSummary.model_fields)
