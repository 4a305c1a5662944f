"""kraken2 on real genomes (from packages): a database of two, contigs cut from three."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest
from support import REPO

from mgnify_db.dev.demo import fetch_genome, load_spec
from mgnify_db.io import read_fasta
from mgnify_db.lineage import UNCLASSIFIED, Lineage, Rank
from mgnify_db.proc import ToolError
from mgnify_db.tools.kraken2 import (
    DATABASE_FILES,
    DATABASE_JSON,
    Call,
    ContigTaxon,
    Taxon,
    Taxonomy,
    build_database,
    classify,
    contig_taxonomy,
    kraken2_version,
    lineage_summary,
    read_contig_table,
    read_database_info,
    write_contig_table,
)

TAXONOMY_TSV = REPO / "demo" / "references" / "taxonomy.tsv"
# demo/ena/runs.yaml genome key -> (NCBI taxid of its species, of its genus)
TAXIDS = {"lambda": (10710, 186765), "mruminantium": (83816, 2172), "cdiphtheriae": (1717, 1716)}
IN_DB = ("lambda", "mruminantium")  # C. diphtheriae stays out: a genome the database lacks


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return Taxonomy.load(TAXONOMY_TSV)


@pytest.fixture(scope="module")
def genomes() -> dict[str, Path]:
    spec = load_spec()
    return {key: fetch_genome(spec.genomes[key]) for key in TAXIDS}


@pytest.fixture(scope="module")
def db(tmp_path_factory, genomes, taxonomy) -> Path:
    db_dir = tmp_path_factory.mktemp("kraken2") / "db"
    build_database([(genomes[k], TAXIDS[k][0]) for k in IN_DB], taxonomy, db_dir)
    return db_dir


def mutate(seq: str, rng: random.Random, rate: float) -> str:
    bases = list(seq)
    for i in rng.sample(range(len(bases)), int(len(bases) * rate)):
        bases[i] = rng.choice([b for b in "ACGT" if b != bases[i].upper()])
    return "".join(bases)


@pytest.fixture(scope="module")
def contigs(tmp_path_factory, genomes) -> tuple[Path, dict[str, str]]:
    """5-20 kb pieces of each genome with 1 % substitutions, some reverse-complemented; gzipped.
    Returns the file and contig -> genome key."""
    rng = random.Random(11)
    path = tmp_path_factory.mktemp("contigs") / "contigs.fa.gz"
    origin = {}
    with gzip.open(path, "wt") as out:
        for key, n in (("lambda", 2), ("mruminantium", 4), ("cdiphtheriae", 4)):
            (_, genome), *_ = read_fasta(genomes[key])
            for i in range(n):
                length = rng.randint(5_000, 20_000)
                start = rng.randrange(len(genome) - length)
                seq = mutate(genome[start : start + length], rng, 0.01)
                if i % 2:
                    seq = seq[::-1].translate(str.maketrans("ACGT", "TGCA"))
                name = f"{key}_{i}"
                origin[name] = key
                out.write(f">{name} len={length}\n{seq}\n")
    return path, origin


def test_demo_taxonomy_lineages(taxonomy):
    assert taxonomy.name(1717) == "Corynebacterium diphtheriae"
    assert {1, 2, 1717, 9000002} <= set(taxonomy.taxids()) and len(taxonomy.taxids()) == len(
        taxonomy
    )
    assert taxonomy.rank(77643) == "species group"
    # the species group between genus and species is not an MGnify rank
    assert taxonomy.lineage(1773).mgnify() == (
        "sk__Bacteria;k__Bacillati;p__Actinomycetota;c__Actinomycetes;o__Mycobacteriales;"
        "f__Mycobacteriaceae;g__Mycobacterium;s__Mycobacterium_tuberculosis"
    )
    assert taxonomy.lineage(4932).mgnify() == (
        "sk__Eukaryota;k__Fungi;p__Ascomycota;c__Saccharomycetes;o__Saccharomycetales;"
        "f__Saccharomycetaceae;g__Saccharomyces;s__Saccharomyces_cerevisiae"
    )
    lam = taxonomy.lineage(10710)  # no family for Lambdavirus: kept as an empty f__
    assert lam.mgnify().startswith("sk__Viruses;k__Heunggongvirae;p__Uroviricota")
    assert lam.family is None and lam.genus == "Lambdavirus"
    assert taxonomy.lineage(1) == Lineage() and taxonomy.lineage(131567) == Lineage()
    assert taxonomy.lineage(2).mgnify() == "sk__Bacteria"
    # every species of the demo taxonomy reaches superkingdom through phylum, class and genus
    species = [t.taxid for t in taxonomy if t.rank == "species"]
    assert len(species) == 12
    for taxid in species:
        names = taxonomy.lineage(taxid).names()
        assert {Rank.superkingdom, Rank.phylum, Rank.class_, Rank.genus} <= set(names), taxid
    with pytest.raises(KeyError):
        taxonomy.lineage(999)


def test_taxonomy_rejects_broken_trees():
    root = Taxon(taxid=1, parent=1, rank="no rank", name="root")
    with pytest.raises(ValueError, match="parent"):
        Taxonomy([root, Taxon(taxid=2, parent=7, rank="superkingdom", name="Bacteria")])
    with pytest.raises(ValueError, match="twice"):
        Taxonomy([root, root])
    with pytest.raises(ValueError, match="root"):
        Taxonomy(
            [
                Taxon(taxid=2, parent=3, rank="x", name="a"),
                Taxon(taxid=3, parent=2, rank="x", name="b"),
            ]
        )


def test_taxdump_round_trips(tmp_path, taxonomy):
    taxonomy.write_taxdump(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {
        "nodes.dmp",
        "names.dmp",
        "merged.dmp",
        "delnodes.dmp",
    }
    assert (tmp_path / "merged.dmp").read_text() == (tmp_path / "delnodes.dmp").read_text() == ""
    nodes = (tmp_path / "nodes.dmp").read_text().splitlines()
    assert nodes[0].startswith("1\t|\t1\t|\tno rank\t|\t") and nodes[0].endswith("\t|")
    assert (
        "2172\t|\tMethanobrevibacter\t|\t\t|\tscientific name\t|"
        in (tmp_path / "names.dmp").read_text().splitlines()
    )
    again = Taxonomy.from_taxdump(tmp_path)
    assert sorted(again, key=lambda t: t.taxid) == sorted(taxonomy, key=lambda t: t.taxid)


def test_database_holds_only_the_k2d_files_and_its_description(db, genomes):
    assert sorted(p.name for p in db.iterdir()) == sorted([*DATABASE_FILES, DATABASE_JSON])
    info = read_database_info(db)
    assert info.kraken2_version == kraken2_version() and info.kraken2_version.startswith("2.")
    assert [(s.seqid, s.taxid) for s in info.sequences] == [
        ("NC_001416.1", 10710),
        ("NC_013790.1", 83816),
    ]
    assert info.taxids == [10710, 83816] and info.build_threads == 1
    assert info.total_length == 48_502 + 2_937_203
    # nothing of the attempt is left beside it but the lock
    assert [p.name for p in db.parent.iterdir() if p.name.startswith(".")] == [".db.lock"]


def test_the_same_genomes_give_the_same_database(db, genomes, taxonomy, tmp_path):
    again = tmp_path / "db"
    build_database([(genomes[k], TAXIDS[k][0]) for k in IN_DB], taxonomy, again)
    # opts.k2d holds kraken2's uninitialised struct padding: never byte-identical
    for name in ("hash.k2d", "taxo.k2d", DATABASE_JSON):
        assert (again / name).read_bytes() == (db / name).read_bytes(), name


def test_contigs_get_their_genus_and_absent_genomes_stay_above_it(db, contigs, taxonomy, tmp_path):
    fasta, origin = contigs
    out, report = tmp_path / "k2.out", tmp_path / "k2.report"
    calls = classify(fasta, db, out, report=report, log=tmp_path / "k2.log")
    assert [c.seqid for c in calls] == list(origin) and out.exists() and report.exists()
    assert all(c.length >= 5_000 for c in calls)
    for call in calls:
        key = origin[call.seqid]
        if key in IN_DB:
            assert TAXIDS[key][1] in taxonomy.path(call.taxid), (call, key)
        else:
            lowest = taxonomy.lineage(call.taxid).lowest() if call.classified else None
            assert lowest is None or lowest[0] not in (Rank.genus, Rank.species), call
    rows = contig_taxonomy(calls, taxonomy)
    by_contig = {r.contig: r for r in rows}
    m = by_contig["mruminantium_0"]
    assert m.taxid == 83816 and m.rank == "species" and m.name == "Methanobrevibacter ruminantium"
    assert m.lineage.endswith(";g__Methanobrevibacter;s__Methanobrevibacter_ruminantium")
    assert by_contig["lambda_1"].lineage.startswith("sk__Viruses;")

    table = tmp_path / "contig_taxonomy.tsv.gz"
    write_contig_table(rows, table)
    with gzip.open(table, "rt") as fh:
        assert fh.readline() == "contig\tlength\ttaxid\trank\tname\tlineage\n"
    assert read_contig_table(table) == rows

    summary = lineage_summary(rows, rank="genus")
    assert sum(s.bases for s in summary) == sum(c.length for c in calls)
    assert [s.bases for s in summary] == sorted((s.bases for s in summary), reverse=True)
    genera = {s.lineage.rsplit(";", 1)[-1]: s for s in summary}
    assert genera["g__Methanobrevibacter"].contigs == 4 and genera["g__Lambdavirus"].contigs == 2
    assert not any("s__" in s.lineage for s in summary)
    # the 4 C. diphtheriae contigs: unclassified, or above genus
    assert sum(s.contigs for s in summary if ";g__" not in s.lineage) == 4


def test_empty_input_gives_an_empty_output(db, tmp_path):
    empty = tmp_path / "none.fa"
    empty.write_text("")
    assert classify(empty, db, tmp_path / "out.tsv") == []
    assert (tmp_path / "out.tsv").read_text() == ""


def test_read_pairs(db, genomes, tmp_path):
    (_, genome), *_ = read_fasta(genomes["mruminantium"])
    rng = random.Random(3)
    with open(tmp_path / "r1.fq", "w") as r1, open(tmp_path / "r2.fq", "w") as r2:
        for i in range(20):
            start = rng.randrange(len(genome) - 400)
            fragment = genome[start : start + 400]
            mate = fragment[-150:][::-1].translate(str.maketrans("ACGT", "TGCA"))
            r1.write(f"@read{i}/1\n{fragment[:150]}\n+\n{'I' * 150}\n")
            r2.write(f"@read{i}/2\n{mate}\n+\n{'I' * 150}\n")
    calls = classify(tmp_path / "r1.fq", db, tmp_path / "reads.out", paired=[tmp_path / "r2.fq"])
    assert len(calls) == 20 and {c.length for c in calls} == {300}
    assert sum(c.taxid == 83816 for c in calls) >= 18
    with pytest.raises(ValueError):
        classify(tmp_path / "r1.fq", db, tmp_path / "x.out", paired=[])


def test_lineage_summary_cuts_at_rank_and_counts_unclassified():
    rows = [
        ContigTaxon(contig="a", length=100, taxid=83816, rank="species", name="M", lineage=_M),
        ContigTaxon(contig="b", length=300, taxid=2157, rank="superkingdom", name="A", lineage=_A),
        ContigTaxon(contig="c", length=50, taxid=0, rank=None, name=None, lineage=""),
        ContigTaxon(contig="d", length=20, taxid=0, rank=None, name=None, lineage=""),
    ]
    got = [(s.lineage, s.contigs, s.bases) for s in lineage_summary(rows, rank="phylum")]
    assert got == [("sk__Archaea", 1, 300), (_M_PHYLUM, 1, 100), (UNCLASSIFIED, 2, 70)]
    got = lineage_summary(rows, rank=Rank.species, min_length=60)
    assert [(s.lineage, s.contigs) for s in got] == [("sk__Archaea", 1), (_M, 1)]


_M_PHYLUM = "sk__Archaea;k__Methanobacteriati;p__Methanobacteriota"
_M = (
    f"{_M_PHYLUM};c__Methanobacteria;o__Methanobacteriales;f__Methanobacteriaceae;"
    "g__Methanobrevibacter;s__Methanobrevibacter_ruminantium"
)
_A = "sk__Archaea"


def test_contig_taxonomy_of_unclassified_and_root(taxonomy):
    calls = [Call(seqid="u", taxid=0, length=7), Call(seqid="r", taxid=1, length=9)]
    u, r = contig_taxonomy(calls, taxonomy)
    assert (u.taxid, u.rank, u.name, u.lineage) == (0, None, None, "")
    assert (r.rank, r.name, r.lineage) == ("no rank", "root", "")


def test_a_header_kraken2_build_drops_is_caught(tmp_path, genomes, taxonomy):
    (_, seq), *_ = read_fasta(genomes["lambda"])
    gi = tmp_path / "lambda_gi.fa"
    gi.write_text(f">gi|9626243|ref|NC_001416.1| Enterobacteria phage lambda\n{seq}\n")
    db_dir = tmp_path / "db"
    with pytest.raises(ToolError, match=r"left out 1 of 1 sequences: gi\|9626243.*lambda_gi\.fa"):
        build_database([(gi, 10710)], taxonomy, db_dir)
    assert not db_dir.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [".db.lock"]


def test_bad_genome_lists_fail_before_building(tmp_path, genomes, taxonomy):
    with pytest.raises(ValueError, match="not in the taxonomy"):
        build_database([(genomes["lambda"], 12345)], taxonomy, tmp_path / "db")
    with pytest.raises(ValueError, match="in both"):
        build_database([(genomes["lambda"], 10710)] * 2, taxonomy, tmp_path / "db")
    assert not (tmp_path / "db").exists()


def test_report_counts_are_the_pairs_each_taxon_got_itself(tmp_path):
    from mgnify_db.tools.kraken2 import report_counts

    report = tmp_path / "k2.report"
    report.write_text(
        " 20.00\t20\t20\tU\t0\tunclassified\n"
        " 80.00\t80\t5\tR\t1\troot\n"
        " 75.00\t75\t0\tD\t2\t  Bacteria\n"
        " 75.00\t75\t10\tG\t561\t    Escherichia\n"
        " 65.00\t65\t65\tS\t562\t      Escherichia coli\n"
    )
    assert report_counts(report) == {0: 20, 1: 5, 561: 10, 562: 65}
