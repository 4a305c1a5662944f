"""CDS prediction with pyrodigal on real packaged sequences (phage lambda)."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

from support import packaged_file

from mgnify_db.io import read_fasta
from mgnify_db.tools.pyrodigal import predict_cds

LAMBDA = ("bowtie2-examples", "usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")


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


def test_predict_cds_writes_only_its_outputs(tmp_path):
    """Outputs go to temp files renamed into place: none left behind, none half-written."""
    out = tmp_path / "out"
    predict_cds(packaged_file(*LAMBDA), out / "cds.faa.gz", out / "cds.gff", threads=1)
    assert sorted(p.name for p in out.iterdir()) == ["cds.faa.gz", "cds.gff"]
