"""vsearch SINTAX against the packaged gold 16S set (Debian microbiomeutil-data), leave-one-out."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest
from support import packaged_file

from mgnify_db.io import read_fasta
from mgnify_db.lineage import UNCLASSIFIED, Lineage, Rank
from mgnify_db.tools.sintax import (
    SINTAX_RANKS,
    HeaderStyle,
    classify,
    prepare_reference,
    read_sintax,
    taxonomy_counts,
    vsearch_version,
)

# 5,181 near-full-length 16S genes (RDP type strains and genomes), 1.6 MB .deb
GOLD_16S = ("microbiomeutil-data", "usr/share/microbiomeutil-data/RESOURCES/rRNA16S.gold.fasta")
N_QUERIES = 9


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("sintax") / "gold16S_sintax.fa.gz"
    prepare_reference(packaged_file(*GOLD_16S), dest)
    return dest


def genus_of(header: str) -> str:
    return header.split(",g:")[1].split(",")[0].rstrip(";")


def lineage_of(header: str) -> Lineage:
    tax = header.split(";tax=")[1].rstrip(";")
    return Lineage.of({SINTAX_RANKS[field[0]]: field[2:] for field in tax.split(",")})


@pytest.fixture(scope="module")
def leave_out(reference, tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    """Queries: gold genes of well-populated genera (one archaeon among them) with 1.5 %
    substitutions, one reverse-complemented, plus a random sequence; the reference without
    them. Returns (queries, reference, query -> true lineage)."""
    records = list(read_fasta(reference))
    members: dict[str, int] = {}
    for header, _ in records:
        members[genus_of(header)] = members.get(genus_of(header), 0) + 1
    rng = random.Random(42)
    bacteria = [r for r in records if "d:Bacteria" in r[0] and members[genus_of(r[0])] >= 5]
    archaea = [r for r in records if "d:Archaea" in r[0] and members[genus_of(r[0])] >= 3]
    picked = rng.sample(bacteria, N_QUERIES - 1) + rng.sample(archaea, 1)
    out = tmp_path_factory.mktemp("queries")
    queries, expected = out / "queries.fa.gz", {}
    with gzip.open(queries, "wt") as fh:
        for i, (header, seq) in enumerate(picked):
            bases = list(seq)
            for j in rng.sample(range(len(bases)), int(len(bases) * 0.015)):
                bases[j] = rng.choice([b for b in "ACGT" if b != bases[j]])
            seq = "".join(bases)
            if i == 0:
                seq = seq[::-1].translate(str.maketrans("ACGT", "TGCA"))
            name = f"q{i}"
            expected[name] = lineage_of(header)
            fh.write(f">{name} {header.split(';')[0]}\n{seq}\n")
        fh.write(">random\n" + "".join(rng.choice("ACGT") for _ in range(1450)) + "\n")
    left = {header for header, _ in picked}
    reduced = out / "reference.fa"
    with open(reduced, "w") as fh:
        fh.writelines(f">{h}\n{s}\n" for h, s in records if h not in left)
    return queries, reduced, expected


def test_prepare_reference_from_the_gold_headers(reference, tmp_path):
    info = prepare_reference(packaged_file(*GOLD_16S), tmp_path / "again.fa.gz")
    assert info.style is HeaderStyle.lineage
    assert (info.sequences, info.with_species, info.genera) == (5181, 4675, 1196)
    assert info.domains == {"Archaea": 33, "Bacteria": 5148}
    # the same source gives the same bytes
    assert (tmp_path / "again.fa.gz").read_bytes() == reference.read_bytes()
    headers = {h.split(";")[0]: h for h, _ in read_fasta(reference)}
    assert headers["7000004128189528"] == (
        "7000004128189528;tax=d:Bacteria,p:Actinobacteria,c:Actinobacteria,o:Actinomycetales,"
        "f:Acidothermaceae,g:Acidothermus,s:Acidothermus_cellulolyticus;"
    )
    # organism not of the lineage's genus: no species; spaces as underscores
    assert headers["S000000080"].endswith(",g:Lachnospiraceae_Incertae_Sedis;")
    # a subgenus is not the species epithet
    assert headers["S000386979"].endswith(",g:Moraxella,s:Moraxella_ovis;")
    (_, seq), *_ = read_fasta(reference)
    assert seq == seq.upper()


def test_prepare_reference_from_sintax_is_a_fixed_point(reference, tmp_path):
    info = prepare_reference(reference, tmp_path / "same.fa.gz")
    assert info.style is HeaderStyle.sintax and info.sequences == 5181
    assert (tmp_path / "same.fa.gz").read_bytes() == reference.read_bytes()


def test_prepare_reference_rejects_unknown_headers(tmp_path):
    bad = tmp_path / "bad.fa"
    bad.write_text(">x some organism\nACGT\n")
    with pytest.raises(ValueError, match="lineage"):
        prepare_reference(bad, tmp_path / "out.fa")
    bad.write_text(">x;tax=d:Bacteria,z:Foo;\nACGT\n")
    with pytest.raises(ValueError, match="SINTAX rank"):
        prepare_reference(bad, tmp_path / "out.fa")
    assert not (tmp_path / "out.fa").exists()


def test_left_out_genes_get_their_genus_and_noise_stays_unclassified(leave_out, tmp_path):
    queries, reference, expected = leave_out
    calls = classify(queries, reference, tmp_path / "sintax.tsv", log=tmp_path / "sintax.log")
    assert [c.query for c in calls] == [*expected, "random"]
    by_query = {c.query: c for c in calls}
    for name, truth in expected.items():
        call = by_query[name]
        assert call.classified and call.lineage.superkingdom == truth.superkingdom, call
        # right as far as it goes: a genus SINTAX is unsure of (Citrobacter among the
        # Enterobacteriaceae: 0.59) stops the lineage at the family, never at a wrong genus
        called = call.lineage.at(Rank.genus)
        assert called == truth.at(called.lowest()[0]), (call, truth)
    right = [n for n, truth in expected.items() if by_query[n].lineage.genus == truth.genus]
    assert len(right) >= N_QUERIES - 2, right
    assert all(by_query[n].confidences[Rank.genus] >= 0.8 for n in right)
    assert by_query["q0"].strand == "-" and by_query["q1"].strand == "+"
    noise = by_query["random"]
    assert not noise.classified and noise.lineage == Lineage() and noise.strand is None
    counts = taxonomy_counts(calls)
    assert sum(c.count for c in counts) == N_QUERIES + 1
    assert {c.lineage: c.count for c in counts}[UNCLASSIFIED] == 1
    assert [c.count for c in counts] == sorted((c.count for c in counts), reverse=True)
    assert all(c.lineage.startswith("sk__") for c in counts if c.lineage != UNCLASSIFIED)


def test_seeded_runs_are_reproducible_whatever_threads(leave_out, tmp_path):
    queries, reference, _ = leave_out
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    classify(queries, reference, a, threads=2, seed=7, cutoff=0.5)
    classify(queries, reference, b, threads=2, seed=7, cutoff=0.5)
    assert a.read_bytes() == b.read_bytes()
    log = tmp_path / "c.log"
    classify(queries, reference, tmp_path / "c.tsv", threads=2, seed=7, log=log)
    assert "--randseed 7 --threads 1" in log.read_text()


def test_read_sintax_parses_cutoff_strain_and_abundance(tmp_path):
    out = tmp_path / "out.tsv"
    out.write_text(
        "otu1;size=12;\td:Bacteria(1.00),p:Bacillota(0.95),g:Bacillus(0.40),t:X1(0.1)\t+"
        "\td:Bacteria,p:Bacillota\n"
        "otu2 description\t\t\t\n"
    )
    one, two = read_sintax(out)
    assert (one.query, one.abundance, one.strand) == ("otu1", 12, "+")
    assert one.lineage.mgnify() == "sk__Bacteria;k__;p__Bacillota"
    assert one.prediction.genus == "Bacillus" and one.confidences[Rank.genus] == 0.40
    assert set(one.confidences) == {Rank.superkingdom, Rank.phylum, Rank.genus}
    assert (two.query, two.classified, two.confidences) == ("otu2", False, {})
    counts = taxonomy_counts([one, two, one])
    assert [(c.lineage, c.count) for c in counts] == [
        ("sk__Bacteria;k__;p__Bacillota", 24),
        (UNCLASSIFIED, 1),
    ]


def test_empty_queries(reference, tmp_path):
    empty = tmp_path / "none.fa"
    empty.write_text("")
    assert classify(empty, reference, tmp_path / "out.tsv") == []
    assert (tmp_path / "out.tsv").exists()


def test_vsearch_version():
    assert vsearch_version().startswith("2.")
