"""rRNA genes with Infernal's cmsearch and Rfam's rRNA models (pybarrnap's, cmpress'ed), on
windows of real genomes: E. coli (bacterium), M. ruminantium (archaeon), yeast (eukaryote)."""

from __future__ import annotations

import gzip
import re
import shutil
from contextlib import closing
from pathlib import Path

import pytest

from mgnify_db.dev.demo.genomes import default_cache_dir, fetch_genome, pypi_files
from mgnify_db.dev.demo.spec import Genome
from mgnify_db.io import read_fasta
from mgnify_db.tools.infernal import (
    RnaHit,
    cm_models,
    extract_rrna,
    infernal_version,
    parse_tblout,
    prepare_cm,
    prepare_rrna_cm,
    resolve_overlaps,
    reverse_complement,
    rrna_gff_lines,
    rrna_kind,
    run_cmsearch,
)

PYBARRNAP = "pybarrnap==0.5.2"  # its sdist holds the same files as its wheel
M_RUMINANTIUM = Genome(
    key="mruminantium",
    accession="NC_013790.1",
    organism="Methanobrevibacter ruminantium M1",
    length=2937203,
    path="gtdbtk/tests/data/genomes/genome_*.fna",
    pypi="gtdbtk==2.8.0",
)
YEAST_CHR12 = "gi|329138943|tpg|BK006945.2|"  # in pybarrnap's fungus.fna

# Windows around rRNA operons, 1-based inclusive genome coordinates. The genes were found once
# with this module on the whole genomes (cmsearch --hmmonly --cut_ga, all of pybarrnap's
# models): e.g. 9 s for E. coli's 4.6 Mb with the bacterial and archaeal models, 2 threads.
WINDOWS = {
    "ecoli_plus": ("ecoli", 200_001, 250_000),  # rrnH, + strand
    "ecoli_minus": ("ecoli", 2_700_001, 2_750_000),  # rrnG, - strand
    "mrum_minus": ("mrum", 2_020_001, 2_060_000),  # - strand, two 5S genes
}
YEAST_WINDOW = ("yeast", 451_001, 460_500)  # one rDNA repeat of chromosome XII
NO_RRNA_WINDOW = ("ecoli", 1_000_001, 1_020_000)
# (window, model, start, end, strand) in genome coordinates, after resolve_overlaps
EXPECTED = [
    ("ecoli_minus", "5S_rRNA", 2724095, 2724206, "-"),
    ("ecoli_minus", "LSU_rRNA_bacteria", 2724305, 2727205, "-"),
    ("ecoli_minus", "SSU_rRNA_bacteria", 2727639, 2729176, "-"),
    ("ecoli_plus", "SSU_rRNA_bacteria", 223774, 225311, "+"),
    ("ecoli_plus", "LSU_rRNA_bacteria", 225760, 228660, "+"),
    ("ecoli_plus", "5S_rRNA", 228760, 228871, "+"),
    ("mrum_minus", "5S_rRNA", 2037882, 2037998, "-"),
    ("mrum_minus", "5S_rRNA", 2038067, 2038183, "-"),
    ("mrum_minus", "LSU_rRNA_archaea", 2038346, 2041319, "-"),
    ("mrum_minus", "SSU_rRNA_archaea", 2041889, 2043360, "-"),
]
EXPECTED_YEAST = [
    ("LSU_rRNA_eukarya", 451792, 455177, "-", "28S ribosomal RNA"),
    ("5_8S_rRNA", 455418, 455570, "-", "5.8S ribosomal RNA"),
    ("SSU_rRNA_eukarya", 455934, 457731, "-", "18S ribosomal RNA"),
    ("5S_rRNA", 459678, 459794, "+", "5S ribosomal RNA"),
]
SLACK = 20  # bp: coordinates may move a little with another Infernal release
# 515F, the universal 16S primer (GTGYCAGCMGCCGCGGTAA): found on a 16S read 5' to 3'
PRIMER_515F = re.compile("GTG[CT]CAGC[AC]GCCGCGGTAA")


def sdist_files(requirement: str, pattern: str, dest: Path) -> dict[str, Path]:
    """Files of a PyPI sdist matching `pattern`, copied into `dest` by base name."""
    dest.mkdir(parents=True, exist_ok=True)
    with closing(pypi_files(requirement, pattern)) as found:
        copied = {
            Path(name).name: Path(shutil.copy(path, dest / Path(name).name)) for name, path in found
        }
    assert copied, f"{requirement} has no {pattern}"
    return copied


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("infernal")


@pytest.fixture(scope="module")
def pressed(work) -> dict[str, Path]:
    """pybarrnap's cmpress'ed Rfam models: bac/arc/euk/all.cm.i1m."""
    return sdist_files(PYBARRNAP, "src/pybarrnap/db/cm/*.cm.i1m", work / "pybarrnap")


@pytest.fixture(scope="module")
def genomes(work) -> dict[str, str]:
    data = sdist_files(PYBARRNAP, "src/pybarrnap/example_data/[bf]*.fna", work / "examples")
    (_, ecoli), *_ = read_fasta(data["bacteria.fna"])
    yeast = next(seq for header, seq in read_fasta(data["fungus.fna"]) if YEAST_CHR12 in header)
    (_, mrum), *_ = read_fasta(fetch_genome(M_RUMINANTIUM, default_cache_dir()))
    return {"ecoli": ecoli.upper(), "yeast": yeast.upper(), "mrum": mrum.upper()}


def window(genomes: dict[str, str], where: tuple[str, int, int]) -> str:
    genome, start, end = where
    return genomes[genome][start - 1 : end]


@pytest.fixture(scope="module")
def prok_cm(pressed, work) -> Path:
    prepare_cm([pressed["bac.cm.i1m"], pressed["arc.cm.i1m"]], work / "prok.cm")
    return work / "prok.cm"


@pytest.fixture(scope="module")
def all_cm(pressed, work) -> Path:
    prepare_cm(pressed["all.cm.i1m"], work / "all.cm")
    return work / "all.cm"


@pytest.fixture(scope="module")
def prok(genomes, prok_cm, work) -> tuple[Path, list[RnaHit]]:
    """The prokaryotic windows, gzipped, and cmsearch's hits on them (bac + arc models)."""
    fasta = work / "prok.fa.gz"
    with gzip.open(fasta, "wt") as fh:
        for name, where in WINDOWS.items():
            fh.write(f">{name} {where}\n{window(genomes, where)}\n")
    hits = run_cmsearch(fasta, prok_cm, work / "prok.tbl", threads=2, log=work / "prok.log")
    return fasta, hits


def in_genome(hit: RnaHit) -> tuple[int, int]:
    offset = WINDOWS[hit.seqid][1] - 1 if hit.seqid in WINDOWS else YEAST_WINDOW[1] - 1
    return hit.start + offset, hit.end + offset


def test_prepare_cm_from_pressed_models(pressed, prok_cm, all_cm, work):
    models = cm_models(prok_cm)
    # 5S_rRNA is in both the bacterial and the archaeal set: kept once
    assert [(m.name, m.accession, m.kind, m.kingdom) for m in models] == [
        ("SSU_rRNA_bacteria", "RF00177", "SSU", "bac"),
        ("LSU_rRNA_bacteria", "RF02541", "LSU", "bac"),
        ("5S_rRNA", "RF00001", "5S", None),
        ("SSU_rRNA_archaea", "RF01959", "SSU", "arc"),
        ("LSU_rRNA_archaea", "RF02540", "LSU", "arc"),
        ("5_8S_rRNA", "RF00002", "5.8S", None),
    ]
    assert models[0].clen == 1533 and all(m.ga for m in models)
    assert len(cm_models(all_cm)) == 8
    assert {m.kingdom for m in cm_models(all_cm) if m.kind == "SSU"} == {"bac", "arc", "euk"}
    assert not [p for p in work.iterdir() if p.name.startswith(".")]  # no temp files
    # a flat (here gzipped) file works too; the same sources make the same bytes anywhere
    flat_gz = work / "flat" / "all.cm.gz"
    flat_gz.parent.mkdir()
    flat_gz.write_bytes(gzip.compress(all_cm.read_bytes()))
    assert prepare_cm(flat_gz, work / "flat" / "again.cm") == cm_models(all_cm)
    assert len(prepare_cm(pressed["all.cm.i1m"], work / "flat" / "all.cm")) == 8
    assert (work / "flat" / "all.cm").read_bytes() == all_cm.read_bytes()
    with pytest.raises(ValueError, match="not a flat Infernal"):
        cm_models(pressed["bac.cm.i1m"])


def test_prepare_cm_refuses_two_models_of_one_name(all_cm, work):
    changed = work / "changed.cm"
    changed.write_text(re.sub(r"CKSUM\s+\d+", "CKSUM    12345", all_cm.read_text(), count=1))
    with pytest.raises(ValueError, match="two different models named 5S_rRNA"):
        prepare_cm([all_cm, changed], work / "both.cm")
    assert not (work / "both.cm").exists()


def test_prepare_rrna_cm_keeps_only_rrna_models(all_cm, work):
    # a full Rfam.cm holds ~4,000 models: add one that is not an rRNA (a renamed 5S copy)
    records = ["INFERNAL1/a" + text for text in all_cm.read_text().split("INFERNAL1/a")[1:]]
    five_s = next(text for text in records if re.search(r"\nNAME +5S_rRNA\n", text))
    other = re.sub(r"\nNAME +5S_rRNA\n", "\nNAME     SRP_bact\n", five_s)
    other = re.sub(r"\nACC +RF00001\n", "\nACC      RF01854\n", other)
    rfam = work / "rfam" / "Rfam.cm"
    rfam.parent.mkdir()
    rfam.write_text(all_cm.read_text() + other)
    assert [m.name for m in cm_models(rfam)][-1] == "SRP_bact"
    models = prepare_rrna_cm(rfam, work / "rfam" / "rrna.cm")
    assert [m.name for m in models] == [m.name for m in cm_models(all_cm)]
    assert cm_models(work / "rfam" / "rrna.cm") == models
    with pytest.raises(ValueError, match="no models to keep"):
        prepare_cm(rfam, work / "rfam" / "none.cm", keep=lambda m: m.kind == "tRNA")
    assert not (work / "rfam" / "none.cm").exists()


@pytest.mark.parametrize(
    "name, kind",
    [
        ("SSU_rRNA_bacteria", "SSU"),
        ("SSU_rRNA_archaea", "SSU"),
        ("SSU_rRNA_eukarya", "SSU"),
        ("SSU_rRNA_microsporidia", "SSU"),
        ("SSU_trypano_mito", "SSU"),
        ("LSU_rRNA_bacteria", "LSU"),
        ("LSU_rRNA_archaea", "LSU"),
        ("LSU_rRNA_eukarya", "LSU"),
        ("LSU_trypano_mito", "LSU"),
        ("5S_rRNA", "5S"),
        ("mtPerm-5S", "5S"),
        ("5_8S_rRNA", "5.8S"),
        ("tRNA", None),
        ("PK-G12rRNA", None),  # a pseudoknot of 23S, not a gene
        ("RNaseP_bact_a", None),
    ],
)
def test_rrna_kind(name, kind):
    assert rrna_kind(name) == kind


def test_cmsearch_finds_operons_on_both_strands(prok, work):
    fasta, hits = prok
    resolved = resolve_overlaps(hits)
    got = [(h.seqid, h.model, *in_genome(h), h.strand) for h in resolved]
    assert [g[:2] + g[4:] for g in got] == [e[:2] + e[4:] for e in EXPECTED]
    for g, e in zip(got, EXPECTED, strict=True):
        assert abs(g[2] - e[2]) <= SLACK and abs(g[3] - e[3]) <= SLACK, (g, e)
    assert {(h.model, h.kind, h.kingdom) for h in resolved} == {
        ("SSU_rRNA_bacteria", "SSU", "bac"),
        ("LSU_rRNA_bacteria", "LSU", "bac"),
        ("SSU_rRNA_archaea", "SSU", "arc"),
        ("LSU_rRNA_archaea", "LSU", "arc"),
        ("5S_rRNA", "5S", None),
    }
    assert all(h.included and not h.partial and h.evalue < 1e-6 for h in resolved)
    assert parse_tblout(work / "prok.tbl") == [
        h.model_copy(update={"model_length": None}) for h in hits
    ]
    log = (work / "prok.log").read_text()
    assert "--cut_ga" in log and "--hmmonly" in log and "-Z 1000" in log
    assert not list(work.glob(".prok*"))  # the decompressed copy is gone


def test_kingdom_models_of_one_gene_resolve_to_one_hit(prok):
    _, hits = prok
    for seqid, kingdom in [("ecoli_plus", "bac"), ("ecoli_minus", "bac"), ("mrum_minus", "arc")]:
        ssu = [h for h in hits if h.seqid == seqid and h.kind == "SSU"]
        # both kingdoms' models hit the one gene; the right one scores best
        assert {h.kingdom for h in ssu} == {"bac", "arc"}
        assert max(ssu, key=lambda h: h.score).kingdom == kingdom
        kept = [h for h in resolve_overlaps(hits) if h.seqid == seqid and h.kind in ("SSU", "LSU")]
        assert [(h.kind, h.kingdom) for h in kept] in (
            [("SSU", kingdom), ("LSU", kingdom)],
            [("LSU", kingdom), ("SSU", kingdom)],
        )


def hit(model: str, start: int, end: int, score: float, strand: str = "+", **kw) -> RnaHit:
    fields = dict(seqid="c1", accession=None, evalue=1e-10, truncated="-", mdl_from=1, mdl_to=100)
    fields.update(kind=rrna_kind(model), kingdom=None)
    return RnaHit(model=model, start=start, end=end, score=score, strand=strand, **fields | kw)


def test_resolve_overlaps_rules():
    hits = [
        hit("SSU_rRNA_bacteria", 100, 1600, 1000.0),
        hit("SSU_rRNA_archaea", 110, 1590, 600.0),  # same gene, other kingdom
        hit("SSU_rRNA_eukarya", 900, 1500, 300.0),  # nested partial hit
        hit("SSU_rRNA_archaea", 120, 1580, 500.0, strand="-"),  # other strand: kept
        hit("LSU_rRNA_bacteria", 1590, 4500, 2000.0),  # other clan, touches the 16S: kept
        hit("5S_rRNA", 4490, 4610, 50.0),  # 5S overlapping the 23S end: other clan, kept
        hit("SSU_rRNA_bacteria", 100, 1600, 1000.0, seqid="c0"),  # other sequence
        hit("tRNA", 10, 80, 40.0),
        hit("tRNA", 50, 120, 30.0),  # non-rRNA models only meet their own model
    ]
    kept = resolve_overlaps(hits)
    assert [(h.seqid, h.model, h.start, h.strand) for h in kept] == [
        ("c0", "SSU_rRNA_bacteria", 100, "+"),
        ("c1", "tRNA", 10, "+"),
        ("c1", "SSU_rRNA_bacteria", 100, "+"),
        ("c1", "SSU_rRNA_archaea", 120, "-"),
        ("c1", "LSU_rRNA_bacteria", 1590, "+"),
        ("c1", "5S_rRNA", 4490, "+"),
    ]
    assert resolve_overlaps(list(reversed(hits))) == kept
    # only kept hits remove others: the 5.8S next to a 28S survives a partial bacterial LSU
    # hit that overlaps both (it loses to the 28S)
    yeast = [
        hit("LSU_rRNA_eukarya", 1000, 4400, 2600.0, strand="-"),
        hit("LSU_rRNA_bacteria", 1200, 4600, 380.0, strand="-"),
        hit("5_8S_rRNA", 4450, 4600, 120.0, strand="-"),
    ]
    assert [h.model for h in resolve_overlaps(yeast)] == ["LSU_rRNA_eukarya", "5_8S_rRNA"]


def test_eukaryotic_rdna_repeat(genomes, all_cm, tmp_path):
    fasta = tmp_path / "yeast.fa"
    fasta.write_text(f">yeast chrXII window\n{window(genomes, YEAST_WINDOW)}\n")
    hits = run_cmsearch(fasta, all_cm, tmp_path / "yeast.tbl", threads=2)
    # all 8 models run: bacterial and archaeal models hit pieces of the 18S/28S too
    assert {h.kingdom for h in hits if h.kind == "SSU"} == {"bac", "arc", "euk"}
    resolved = resolve_overlaps(hits)
    got = [(h.model, *in_genome(h), h.strand, h.product) for h in resolved]
    assert [(g[0], g[3], g[4]) for g in got] == [(e[0], e[3], e[4]) for e in EXPECTED_YEAST]
    for g, e in zip(got, EXPECTED_YEAST, strict=True):
        assert abs(g[1] - e[1]) <= SLACK and abs(g[2] - e[2]) <= SLACK, (g, e)


def test_extract_rrna_against_the_genome(prok, genomes, tmp_path):
    fasta, hits = prok
    resolved = resolve_overlaps(hits)
    out = tmp_path / "rrna.fa.gz"
    assert extract_rrna(fasta, resolved, out, kinds=("SSU", "LSU")) == 6
    records = dict(read_fasta(out))
    assert len(records) == 6
    for h in (h for h in resolved if h.kind in ("SSU", "LSU")):
        seq = records[h.region_id]
        assert len(seq) == h.length
        genome, _, _ = WINDOWS[h.seqid]
        start, end = in_genome(h)
        plus = genomes[genome][start - 1 : end]
        assert seq == (reverse_complement(plus) if h.strand == "-" else plus)
        if h.kind == "SSU":
            assert 1400 <= len(seq) <= 1600
            assert PRIMER_515F.search(seq), h.region_id  # reads 5' to 3' on both strands
        else:
            assert 2800 <= len(seq) <= 3100
    minus = next(h for h in resolved if h.seqid == "ecoli_minus" and h.kind == "SSU")
    assert minus.region_id == f"ecoli_minus-SSU_rRNA_bacteria/{minus.end}-{minus.start}"
    assert extract_rrna(fasta, resolved, tmp_path / "5S.fa", kinds=("5S",)) == 4
    assert all(100 <= len(s) <= 125 for _, s in read_fasta(tmp_path / "5S.fa"))
    assert extract_rrna(fasta, [], tmp_path / "none.fa") == 0
    assert (tmp_path / "none.fa").read_text() == ""
    with pytest.raises(ValueError, match="kinds"):
        extract_rrna(fasta, resolved, tmp_path / "x.fa", kinds=("16S",))


def test_rrna_gff_lines(prok):
    _, hits = prok
    lines = rrna_gff_lines(resolve_overlaps(hits))
    cols = [line.split("\t") for line in lines]
    assert all(len(c) == 9 and c[1:3] == ["cmsearch", "rRNA"] for c in cols)
    products = {re.search("product=([^;]+)", c[8]).group(1) for c in cols}
    assert products == {"16S ribosomal RNA", "23S ribosomal RNA", "5S ribosomal RNA"}
    ssu = next(c for c in cols if "Name=SSU_rRNA_archaea" in c[8])
    assert ssu[0] == "mrum_minus" and ssu[6] == "-" and int(ssu[3]) < int(ssu[4])
    assert "rfam=RF01959" in ssu[8] and "kingdom=arc" in ssu[8] and "partial" not in ssu[8]
    assert ssu[8].startswith(f"ID=mrum_minus-SSU_rRNA_archaea/{ssu[4]}-{ssu[3]};")
    short = hit("SSU_rRNA_bacteria", 1, 700, 300.0, mdl_from=800, mdl_to=1533, model_length=1533)
    (line,) = rrna_gff_lines([short.model_copy(update={"kingdom": "bac"})])
    assert line.endswith(";partial=true") and "product=16S ribosomal RNA" in line
    (line,) = rrna_gff_lines([hit("LSU_rRNA_eukarya", 5, 3000, 900.0, kingdom="euk")])
    assert "product=28S ribosomal RNA" in line and "partial" not in line
    (line,) = rrna_gff_lines([hit("LSU_rRNA_bacteria", 5, 90, 90.0, truncated="5'")])
    assert line.endswith(";partial=true")


def test_evalue_instead_of_ga(genomes, prok_cm, tmp_path):
    # E. coli's rrnH 5S gene (E-value ~1e-10 at cmsearch -Z 1000) in 600 bp
    five_s = tmp_path / "5S.fa"
    five_s.write_text(f">w\n{window(genomes, ('ecoli', 228_701, 229_300))}\n")
    log = tmp_path / "cmsearch.log"
    loose = run_cmsearch(five_s, prok_cm, tmp_path / "a.tbl", cut_ga=False, log=log)
    assert [h.model for h in loose] == ["5S_rRNA"] and "-E 1e-05 --incE 1e-05" in log.read_text()
    strict = run_cmsearch(five_s, prok_cm, tmp_path / "b.tbl", cut_ga=False, evalue=1e-20)
    assert strict == []
    # a model set with a model lacking GA falls back to the E-value
    no_ga = tmp_path / "no_ga.cm"
    no_ga.write_text(re.sub(r"\nGA +[\d.]+\n", "\n", prok_cm.read_text(), count=1))
    assert [m.ga is None for m in cm_models(no_ga)][:2] == [True, False]
    fallback = run_cmsearch(five_s, no_ga, tmp_path / "c.tbl", evalue=1e-5, log=log)
    assert [h.model for h in fallback] == ["5S_rRNA"]
    assert log.read_text().count("--cut_ga") == 0


def test_no_rrna_and_empty_input(genomes, prok_cm, tmp_path):
    none = tmp_path / "none.fa"
    none.write_text(f">ecoli_1M\n{window(genomes, NO_RRNA_WINDOW)}\n")
    assert run_cmsearch(none, prok_cm, tmp_path / "none.tbl", threads=2) == []
    assert (tmp_path / "none.tbl").read_text().startswith("#target name")
    empty = tmp_path / "empty.fa.gz"
    empty.write_bytes(gzip.compress(b""))
    log = tmp_path / "empty.log"
    assert run_cmsearch(empty, prok_cm, tmp_path / "empty.tbl", log=log) == []
    assert parse_tblout(tmp_path / "empty.tbl") == []
    assert "cmsearch not run" in log.read_text()


def test_infernal_version():
    assert infernal_version() == "1.1.4"  # Debian's infernal
