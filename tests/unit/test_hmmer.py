"""Pfam domains with pyhmmer: real Pfam models with GA (micomplete's Bact105), proteins of a
real genome (pyrodigal on C. diphtheriae), checked against Debian's command-line hmmsearch."""

from __future__ import annotations

import gzip
import subprocess
from collections import Counter
from pathlib import Path

import pyhmmer
import pytest

from mgnify_db.dev.demo.genomes import default_cache_dir, fetch_genome, pypi_file
from mgnify_db.dev.demo.spec import Genome
from mgnify_db.io import read_fasta
from mgnify_db.tools.hmmer import (
    DomainHit,
    domain_counts,
    hmm_set_info,
    hmmer_version,
    read_domain_table,
    search_domains,
    write_domain_table,
)
from mgnify_db.tools.pyrodigal import predict_cds

# 105 single-copy marker Pfam models, all with GA cutoffs (miComplete's bacterial set)
BACT105 = ("micomplete==1.1.1", "micomplete/share/Bact105.hmm")
C_DIPHTHERIAE = Genome(
    key="cdiphtheriae",
    accession="NZ_LN831026.1",
    organism="Corynebacterium diphtheriae NCTC11397",
    length=2463666,
    path="src/pyrodigal/tests/data/GCF_001457455.1_NCTC11397_genomic.fna.gz",
    pypi="pyrodigal==3.7.1",
)
GENOME_PIECE = 400_000  # ~390 proteins: pyrodigal's meta mode takes ~4 s on it


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hmmer")


@pytest.fixture(scope="module")
def bact105(work) -> Path:
    return pypi_file(*BACT105, work / "Bact105.hmm")


@pytest.fixture(scope="module")
def proteins(work) -> Path:
    """Proteins (no trailing `*`) of the first 400 kb of C. diphtheriae."""
    (header, seq), *_ = read_fasta(fetch_genome(C_DIPHTHERIAE, default_cache_dir()))
    piece = work / "piece.fa"
    piece.write_text(f">cd400k\n{seq[:GENOME_PIECE]}\n")
    faa = work / "proteins.faa"
    assert predict_cds(piece, faa, work / "cds.gff", threads=2) > 300
    return faa


@pytest.fixture(scope="module")
def gathering(bact105) -> dict[str, tuple[float, float]]:
    """GA (sequence, domain) per model name."""
    with pyhmmer.plan7.HMMFile(bact105) as hmms:
        return {hmm.name: hmm.cutoffs.gathering for hmm in hmms}


@pytest.fixture(scope="module")
def ga_hits(proteins, bact105) -> list[DomainHit]:
    return search_domains(proteins, bact105, threads=2)


def test_hmm_set_info_and_version(bact105):
    info = hmm_set_info(bact105)
    assert (info.n_models, info.n_with_gathering, info.n_names, info.n_accessions) == (105,) * 4
    assert hmmer_version().startswith(f"pyhmmer {pyhmmer.__version__} (HMMER 3.")


def test_gathering_hits_match_command_line_hmmsearch(proteins, bact105, ga_hits, work):
    domtbl = work / "cli.domtbl"
    subprocess.run(
        ["hmmsearch", "--cut_ga", "--cpu", "2", "-o", "/dev/null", "--domtblout", domtbl]
        + [bact105, proteins],
        check=True,
    )
    cli = [line.split() for line in domtbl.read_text().splitlines() if not line.startswith("#")]
    # domtblout: target, -, tlen, query, accession, ..., env from/to are columns 20 and 21
    cli_domains = [(c[0], c[4].split(".")[0], int(c[19]), int(c[20])) for c in cli]
    assert len(ga_hits) >= 20  # ribosomal proteins, RNA polymerase, ... in 400 kb
    got = Counter(h.accession for h in ga_hits)
    assert got == Counter(acc for _, acc, _, _ in cli_domains)
    assert {(h.protein, h.accession, h.env_from, h.env_to) for h in ga_hits} == set(cli_domains)
    by_protein = {acc: len({p for p, a, _, _ in cli_domains if a == acc}) for acc in got}
    assert {c.accession: c.count for c in domain_counts(ga_hits)} == by_protein
    assert all(h.accession.startswith("PF") and "." not in h.accession for h in ga_hits)
    keys = [(h.protein, h.env_from, h.accession) for h in ga_hits]
    assert keys == sorted(keys)


def test_gathering_removes_hits_below_ga(proteins, bact105, ga_hits, gathering):
    loose = search_domains(proteins, bact105, threads=2, cutoff="evalue", evalue=10.0)

    def key(h: DomainHit) -> tuple:
        return (h.protein, h.accession, h.env_from, h.env_to)

    assert {key(h) for h in ga_hits} <= {key(h) for h in loose}
    below = [h for h in loose if key(h) not in {key(g) for g in ga_hits}]
    assert below, "a loose e-value should let through domains that GA filters out"
    assert all(h.score >= gathering[h.name][1] for h in ga_hits)  # domain GA
    assert any(h.score < gathering[h.name][1] for h in below)
    strict = search_domains(proteins, bact105, cutoff="evalue", evalue=1e-30)
    assert 0 < len(strict) < len(ga_hits) and all(h.evalue <= 1e-30 for h in strict)


def test_model_without_gathering_is_an_error(proteins, bact105, work):
    models = bact105.read_text().split("//\n")[:3]
    name = models[1].split("NAME", 1)[1].split()[0]
    models[1] = "".join(line for line in models[1].splitlines(True) if not line.startswith("GA "))
    no_ga = work / "no_ga.hmm"
    no_ga.write_text("//\n".join(models) + "//\n")
    assert hmm_set_info(no_ga).n_with_gathering == 2
    with pytest.raises(ValueError, match=rf"no_ga\.hmm: model {name} has no gathering"):
        search_domains(proteins, no_ga)
    search_domains(proteins, no_ga, cutoff="evalue")  # e-values need no GA
    with pytest.raises(ValueError, match="cutoff"):
        search_domains(proteins, no_ga, cutoff="trusted")


def test_stops_gzip_and_pressed_models_give_the_same_hits(proteins, bact105, ga_hits, work):
    # prodigal-style proteins end in '*'; both files gzipped
    faa = work / "stops.faa.gz"
    with gzip.open(faa, "wt") as fh:
        fh.writelines(f">{header}\n{seq}*\n" for header, seq in read_fasta(proteins))
    hmm_gz = work / "Bact105.hmm.gz"
    hmm_gz.write_bytes(gzip.compress(bact105.read_bytes()))
    assert search_domains(faa, hmm_gz, threads=2) == ga_hits
    with pyhmmer.plan7.HMMFile(bact105) as hmms:
        pyhmmer.hmmpress(hmms, work / "pressed.hmm")
    assert search_domains(proteins, work / "pressed.hmm.h3m") == ga_hits
    assert hmm_set_info(work / "pressed.hmm.h3m").n_with_gathering == 105


def test_empty_protein_file(bact105, tmp_path):
    empty = tmp_path / "none.faa.gz"
    empty.write_bytes(gzip.compress(b""))
    assert search_domains(empty, bact105) == []
    write_domain_table([], tmp_path / "domains.tsv")
    assert (tmp_path / "domains.tsv").read_text().startswith("protein\taccession\tname\t")
    assert read_domain_table(tmp_path / "domains.tsv") == []


def test_domain_table_round_trip(ga_hits, tmp_path):
    table = tmp_path / "domains.tsv"
    assert write_domain_table(ga_hits, table) == len(ga_hits)
    lines = table.read_text().splitlines()
    assert lines[0].split("\t") == [
        "protein",
        "accession",
        "name",
        "description",
        "score",
        "evalue",
        "env_from",
        "env_to",
        "hmm_from",
        "hmm_to",
    ]
    assert len(lines) == len(ga_hits) + 1
    assert read_domain_table(table) == ga_hits
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left
    gz = tmp_path / "domains.tsv.gz"
    gz.write_bytes(gzip.compress(table.read_bytes()))
    assert read_domain_table(gz) == ga_hits


def test_domain_counts_count_proteins_not_domains():
    def hit(protein: str, accession: str, start: int) -> DomainHit:
        return DomainHit(
            protein=protein,
            accession=accession,
            name=accession.lower(),
            description=f"{accession} domain",
            score=30.0,
            evalue=1e-9,
            env_from=start,
            env_to=start + 50,
            hmm_from=1,
            hmm_to=50,
        )

    hits = [hit("p1", "PF00002", 1), hit("p1", "PF00002", 100), hit("p2", "PF00001", 1)]
    hits += [hit("p3", "PF00001", 5), hit("p3", "PF00003", 80)]
    counts = [(c.accession, c.description, c.count) for c in domain_counts(hits)]
    assert counts == [
        ("PF00001", "PF00001 domain", 2),
        ("PF00002", "PF00002 domain", 1),
        ("PF00003", "PF00003 domain", 1),
    ]
    assert domain_counts([]) == []


def test_chunked_search_with_a_fixed_size_gives_the_same_hits(proteins, bact105):
    """Reads' pieces are searched in chunks: with Z fixed, chunk boundaries change nothing."""
    from mgnify_db.io import read_fasta

    n = sum(1 for _ in read_fasta(proteins))
    whole = search_domains(proteins, bact105, cutoff="evalue", evalue=1e-5, z=n)
    chunked = search_domains(proteins, bact105, cutoff="evalue", evalue=1e-5, z=n, chunk=7)
    assert chunked == whole and len(whole) > 10
    # E-values scale with the database size they are computed for
    larger = search_domains(proteins, bact105, cutoff="evalue", evalue=1e-5, z=n * 1000)
    assert len(larger) < len(whole)
