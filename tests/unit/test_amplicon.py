"""The amplicon pipeline's parts: the file formats it shares with MGnify (read on MGnify's own
v6 outputs), the amplified region, primer detection and removal (real cutadapt), denoising,
chimera removal and closed-reference taxonomy (real vsearch), and how runs reach it."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from mgnify_db.config import StudyConfig
from mgnify_db.ena.eligibility import decide_all
from mgnify_db.ena.models import EnaRun
from mgnify_db.lineage import Lineage
from mgnify_db.pipelines import PIPELINES
from mgnify_db.pipelines import amplicon as amp
from mgnify_db.plan import StudyPlan
from mgnify_db.tools import cutadapt, vsearch

# four files of a real MGnify amplicon v6 output (data/mgnify_amplicon_v6/README.md)
FIXTURES = Path(__file__).resolve().parent / "data" / "mgnify_amplicon_v6"
F515, R806 = "GTGYCAGCMGCCGCGGTAA", "GGACTACNVGGGTWTCTAAT"


# -- MGnify's formats ---------------------------------------------------------------------------
def test_readers_read_mgnifys_own_v6_outputs():
    run = FIXTURES / "SRR1111111"
    counts = amp.read_asv_counts(run / "asv/16S-V3-V4/SRR1111111_16S-V3-V4_asv_read_counts.tsv")
    assert counts["seq_1"] == 682 and counts["seq_7"] == 81
    lineages = amp.read_asv_taxonomy(run / "asv/SRR1111111_DADA2-SILVA_asv_tax.tsv")
    assert lineages["seq_1"].get("genus") == "Bradyrhizobium"
    assert lineages["seq_1"].get("species") is None  # "NA"
    assert lineages["seq_5"].mgnify() == "sk__Bacteria;k__;p__Acidobacteriota"
    otus = amp.read_mgnify_otu_table(run / "taxonomy-summary/SILVA-SSU/SRR1111111_SILVA-SSU.tsv")
    assert otus["sk__Bacteria;k__;p__Bacillota;c__Bacilli"] >= 1
    assert all(Lineage.parse(k) for k in otus)
    primers = cutadapt.read_primers_fasta(run / "primer-identification/SRR11111111_primers.fasta")
    assert primers["806BR"] == "GGACTACNVGGGTWTCTAAT" and "F_auto" in primers


def test_our_tables_round_trip_in_mgnifys_formats(tmp_path):
    counts = {"seq_2": 5, "seq_10": 7, "seq_1": 5}
    amp.write_asv_counts(tmp_path / "counts.tsv", counts)
    assert amp.read_asv_counts(tmp_path / "counts.tsv") == counts
    assert (tmp_path / "counts.tsv").read_text().splitlines()[:2] == ["asv\tcount", "seq_10\t7"]
    lineages = {
        "seq_1": Lineage.parse("sk__Bacteria;k__;p__Pseudomonadota;g__Bradyrhizobium"),
        "seq_2": Lineage(),
    }
    amp.write_asv_taxonomy(tmp_path / "tax.tsv", lineages, {"seq_1": "16S-V4"})
    assert amp.read_asv_taxonomy(tmp_path / "tax.tsv") == lineages
    mgnify = (FIXTURES / "SRR1111111/asv/SRR1111111_DADA2-SILVA_asv_tax.tsv").read_text()
    ours = (tmp_path / "tax.tsv").read_text()
    assert ours.split("\n")[0].split("\t")[:9] == mgnify.split("\n")[0].split("\t")
    assert ours.split("\n")[1].split("\t")[:4] == [
        "seq_1",
        "sk__Bacteria",
        "k__",
        "p__Pseudomonadota",
    ]


def test_rank_counts_roll_reads_up_the_lineage():
    counts = {
        "sk__Bacteria;k__;p__A;c__B;o__C;f__D;g__E": 3,
        "sk__Bacteria;k__;p__A": 2,
        "Unclassified": 5,
    }
    rows = {(str(r), lin): n for r, lin, n in amp.rank_counts(counts)}
    assert rows[("superkingdom", "sk__Bacteria")] == 5
    assert rows[("phylum", "sk__Bacteria;k__;p__A")] == 5
    assert rows[("genus", "sk__Bacteria;k__;p__A;c__B;o__C;f__D;g__E")] == 3
    assert not any("Unclassified" in lin for _, lin in rows)


# -- the amplified region -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "model, start, end, region",
    [
        ("SSU_rRNA_bacteria", 524, 776, "16S-V4"),  # 515F-806R, primers removed
        ("SSU_rRNA_archaea", 475, 727, "16S-V4"),
        ("SSU_rRNA_bacteria", 350, 790, "16S-V3-V4"),  # 341F-785R
        ("SSU_rRNA_bacteria", 776, 524, "16S-V4"),  # either orientation
        ("SSU_rRNA_eukarya", 560, 960, "18S-V4"),
        ("SSU_rRNA_bacteria", 700, 800, None),  # between regions
        ("LSU_rRNA_bacteria", 1, 2900, None),
    ],
)
def test_amplified_region(model, start, end, region):
    assert amp.amplified_region(model, start, end) == region


# -- primers (cutadapt) --------------------------------------------------------------------------
def _concrete(primer: str, rng: random.Random) -> str:
    choices = {"Y": "CT", "M": "AC", "N": "ACGT", "V": "ACG", "W": "AT", "R": "AG"}
    return "".join(rng.choice(choices.get(c, c)) for c in primer)


def _pairs(path: Path, n: int, forward: str | None, reverse: str | None, seed: int = 1):
    rng = random.Random(seed)
    r1, r2 = [], []
    for i in range(n):
        body = "".join(rng.choice("ACGT") for _ in range(200))
        s1 = (_concrete(forward, rng) if forward else "") + body
        s2 = (_concrete(reverse, rng) if reverse else "") + body[::-1]
        r1.append(f"@r{i}/1\n{s1}\n+\n{'I' * len(s1)}\n")
        r2.append(f"@r{i}/2\n{s2}\n+\n{'I' * len(s2)}\n")
    files = [path / "r_1.fastq.gz", path / "r_2.fastq.gz"]
    for f, reads in zip(files, (r1, r2), strict=True):
        with gzip.open(f, "wt") as fh:
            fh.writelines(reads)
    return files


def test_primers_are_detected_among_the_known_ones_and_removed(tmp_path):
    from mgnify_db.config import FORWARD_PRIMERS, REVERSE_PRIMERS

    reads = _pairs(tmp_path, 300, F515, R806)
    found = cutadapt.detect_primers(
        reads, FORWARD_PRIMERS, REVERSE_PRIMERS, tmp_path / "d.json", min_fraction=0.5
    )
    assert (found.forward.name, found.reverse.name) == ("515F", "806R")
    assert found.forward.fraction == 1.0
    out = [tmp_path / "t_1.fastq.gz", tmp_path / "t_2.fastq.gz"]
    trim = cutadapt.trim_primers(reads, out, found, tmp_path / "t.json")
    assert trim.reads_in == trim.reads_out == 300
    with gzip.open(out[0], "rt") as fh:
        fh.readline()
        assert len(fh.readline().strip()) == 200  # the primer is gone
    assert cutadapt.primers_fasta(found) == f">515F\n{F515}\n>806R\n{R806}\n"


def test_reads_without_known_primers_pass_through_untouched(tmp_path):
    from mgnify_db.config import FORWARD_PRIMERS, REVERSE_PRIMERS

    reads = _pairs(tmp_path, 100, None, None)
    found = cutadapt.detect_primers(reads, FORWARD_PRIMERS, REVERSE_PRIMERS, tmp_path / "d.json")
    assert not found.found and cutadapt.primers_fasta(found) == ""
    out = [tmp_path / "t_1.fastq.gz", tmp_path / "t_2.fastq.gz"]
    assert cutadapt.trim_primers(reads, out, found, tmp_path / "t.json").reads_out == 100


def test_a_bad_primer_is_named():
    with pytest.raises(ValueError, match="primer 515F: 'GTGXCA' is not an IUPAC DNA sequence"):
        cutadapt.check_primer("515F", "GTGXCA")
    from mgnify_db.config import ConfigError, parse_global

    with pytest.raises(ConfigError) as err:
        parse_global({"tools": {"amplicon": {"forward_primers": {"bad": "NOT DNA"}}}}, "c.yaml")
    assert "tools.amplicon.forward_primers.bad" in str(err.value)
    assert "'NOT DNA' is not an IUPAC DNA sequence" in str(err.value)


# -- denoising and chimeras (vsearch) -----------------------------------------------------------
def _mutate(seq: str, rng: random.Random, errors: int) -> str:
    s = list(seq)
    for pos in rng.sample(range(len(s)), errors):
        s[pos] = rng.choice([b for b in "ACGT" if b != s[pos]])
    return "".join(s)


def test_unoise_keeps_the_true_sequences_and_uchime_removes_a_chimera(tmp_path):
    rng = random.Random(7)
    a, b = ("".join(rng.choice("ACGT") for _ in range(250)) for _ in range(2))
    chimera = a[:125] + b[125:]
    reads = [a] * 400 + [b] * 300 + [chimera] * 15
    reads += [_mutate(a, rng, 1) for _ in range(20)] + [_mutate(b, rng, 1) for _ in range(15)]
    fasta = tmp_path / "reads.fasta"
    fasta.write_text("".join(f">reads.{i}\n{s}\n" for i, s in enumerate(reads)))
    assert vsearch.dereplicate(fasta, tmp_path / "u.fasta") > 3
    vsearch.unoise(tmp_path / "u.fasta", tmp_path / "d.fasta", min_size=8, alpha=2.0)
    kept, chimeras = vsearch.remove_chimeras(
        tmp_path / "d.fasta", tmp_path / "k.fasta", tmp_path / "c.fasta", abskew=16
    )
    from mgnify_db.io import read_fasta

    assert {s for _, s in read_fasta(tmp_path / "k.fasta")} == {a, b}
    assert [s for _, s in read_fasta(tmp_path / "c.fasta")] == [chimera] and chimeras == 1
    counts = vsearch.asv_counts(fasta, tmp_path / "k.fasta", tmp_path / "t.tsv", identity=0.97)
    assert sorted(counts.values()) == [315, 420]  # each true read and its 1-error copies


def test_closed_reference_takes_what_the_best_hits_agree_on(tmp_path):
    rng = random.Random(3)
    a, b = ("".join(rng.choice("ACGT") for _ in range(300)) for _ in range(2))
    ref = tmp_path / "ref.fasta"
    ref.write_text(
        f">r1;tax=d:Bacteria,p:P1,g:Alpha,s:Alpha_one;\n{a}\n"
        f">r2;tax=d:Bacteria,p:P1,g:Alpha,s:Alpha_two;\n{a}\n"
        f">r3;tax=d:Bacteria,p:P1,g:Beta;\n{a}\n"
        f">r4;tax=d:Bacteria,p:P2,g:Gamma;\n{b}\n"
    )
    far = "".join(rng.choice("ACGT") for _ in range(300))
    uniques = tmp_path / "u.fasta"
    uniques.write_text(f">q1;size=10\n{a}\n>q2;size=4\n{_mutate(b, rng, 3)}\n>q3;size=2\n{far}\n")
    taxa = {
        t.query: t
        for t in vsearch.closed_reference(
            uniques, ref, tmp_path / "h.tsv", identity=0.97, agreement=0.6
        )
    }
    assert taxa["q1"].lineage.mgnify() == "sk__Bacteria;k__;p__P1;c__;o__;f__;g__Alpha"  # 2 of 3
    assert taxa["q1"].hits == 3 and taxa["q1"].abundance == 10
    assert taxa["q2"].lineage.get("genus") == "Gamma" and taxa["q2"].identity == 99.0
    assert not taxa["q3"].lineage and taxa["q3"].identity is None
    strict = vsearch.read_closed_reference(tmp_path / "h.tsv", agreement=1.0)
    assert next(t for t in strict if t.query == "q1").lineage.mgnify() == "sk__Bacteria;k__;p__P1"
    assert vsearch.lineage_counts(taxa.values())["Unclassified"] == 2


# -- runs reach the pipeline by experiment type ------------------------------------------------
def _plan(runs: list[EnaRun], **study) -> StudyPlan:
    from mgnify_db.ena.client import StudyMetadata

    config = StudyConfig(accession="PRJEB1", biome="root", **study)
    meta = StudyMetadata.model_validate(
        {
            "study": {"study_accession": "PRJEB1"},
            "samples": [],
            "runs": [r.model_dump() for r in runs],
        }
    )
    return StudyPlan(config, meta, {d.run_accession: d for d in decide_all(runs, config)})


def _run(acc: str, strategy: str) -> EnaRun:
    return EnaRun(
        run_accession=acc,
        sample_accession="SAMEA1",
        library_source="METAGENOMIC",
        library_strategy=strategy,
        fastq_ftp=f"x/{acc}_1.fastq.gz;x/{acc}_2.fastq.gz",
        library_layout="PAIRED",
    )


def test_each_run_goes_to_the_analyses_of_its_type_and_only_wgs_runs_are_coassembled():
    runs = [_run("ERR0000001", "WGS"), _run("ERR0000002", "WGS"), _run("ERR0000003", "AMPLICON")]
    plan = _plan(
        runs,
        analyses=["assembly", "amplicon"],
        coassemblies={"pool": ["ERR0000001", "ERR0000002", "ERR0000003"]},
    )
    assert plan.pipelines("ERR0000001") == ["assembly"]
    assert plan.pipelines("ERR0000003") == ["amplicon"]
    assert plan.coassemblies == {"pool": ["ERR0000001", "ERR0000002"]}
    assert plan.pipelines("pool") == ["assembly"]
    assert plan.not_taken("amplicon", "ERR0000001") == "pipeline amplicon does not take METAG runs"
    assert PIPELINES["amplicon"].record(PIPELINES["amplicon"].records[0].kind).after is None


def test_amplicon_results_fill_the_analysis_row():
    cols = amp.analysis_columns(
        {
            "asv_json": {"asvs": 4, "passed": True, "reason": None, "chimeras": 2},
            "amplicon_taxonomy_json": {"amplified_region": "16S-V4"},
        }
    )
    meta = cols["metadata"]
    assert meta["asvs"] == 4 and meta["amplified_region"] == "16S-V4"
    assert "passed" not in meta and meta["pipeline_revision"] == amp.PIPELINE_REVISION
    assert json.dumps(meta)


# -- the step, on reads made here ----------------------------------------------------------------
def _step_reads(qc: Path, *, paired: bool, pairs: dict[str, int], seed: int = 5) -> None:
    """A QC dir (reads_1/2.fastq.gz, qc.json passed) of amplicon reads: each template's pairs
    start with the 515F/806R primers and overlap by 210 bases."""
    from mgnify_db.dev.demo.amplicons import reverse_complement

    rng = random.Random(seed)
    qc.mkdir(parents=True)
    r1, r2 = [], []
    for body, n in pairs.items():
        for _ in range(n):
            fwd = _concrete(F515, rng) + body[:230]
            rev = _concrete(R806, rng) + reverse_complement(body)[:230]
            r1.append(fwd)
            r2.append(rev)
    mates = [r1, r2] if paired else [r1]
    for mate, reads in enumerate(mates, 1):
        with gzip.open(qc / f"reads_{mate}.fastq.gz", "wt") as fh:
            fh.writelines(f"@r{i}\n{s}\n+\n{'I' * len(s)}\n" for i, s in enumerate(reads))
    (qc / "qc.json").write_text(json.dumps({"passed": True, "reason": None}))


@pytest.mark.parametrize("paired", [True, False])
def test_amplicon_asv_step_finds_each_template_once(tmp_path, paired):
    from mgnify_db.config import GlobalConfig
    from mgnify_db.jobs import Job
    from mgnify_db.paths import PATTERNS
    from mgnify_db.steps import amplicon_asv

    rng = random.Random(11)
    a, b = ("".join(rng.choice("ACGT") for _ in range(250)) for _ in range(2))
    _step_reads(tmp_path / "qc", paired=paired, pairs={a: 400, b: 200})
    out = {n: tmp_path / "out" / Path(PATTERNS[n]).name for n in amp.ASV_OUTPUTS}
    cfg = GlobalConfig.model_validate({"tools": {"amplicon": {"min_reads": 100}}})
    job = Job("amplicon_asv", tmp_path / "jobs" / "amplicon_asv.jsonl", attempt=1)
    figures = amplicon_asv(
        cfg=cfg, qc_dir=tmp_path / "qc", out=out, threads=1, log_file=tmp_path / "log", job=job
    )
    from mgnify_db.io import read_fasta

    asvs = dict(read_fasta(out["asv_fasta"]))
    # paired: the merged amplicon between the primers; single-end: the read after its primer
    expected = [a, b] if paired else [a[:230], b[:230]]
    assert [asvs["seq_1"], asvs["seq_2"]] == expected
    assert amp.read_asv_counts(out["asv_counts"]) == {"seq_1": 400, "seq_2": 200}
    assert figures["reads_in"] == 600 and figures["asvs"] == 2
    assert ("reads_merged" in figures) is paired
    assert json.loads(out["asv_json"].read_text())["passed"] is True
    primers = cutadapt.read_primers_fasta(out["primers_fasta"])
    assert primers == ({"515F": F515, "806R": R806} if paired else {"515F": F515})


def test_amplicon_asv_step_gates(tmp_path):
    from mgnify_db.config import GlobalConfig
    from mgnify_db.jobs import Job
    from mgnify_db.paths import PATTERNS
    from mgnify_db.steps import amplicon_asv

    rng = random.Random(2)
    body = "".join(rng.choice("ACGT") for _ in range(250))
    _step_reads(tmp_path / "qc", paired=True, pairs={body: 50})
    out = {n: tmp_path / "out" / Path(PATTERNS[n]).name for n in amp.ASV_OUTPUTS}
    job = Job("amplicon_asv", tmp_path / "jobs" / "amplicon_asv.jsonl", attempt=1)
    amplicon_asv(
        cfg=GlobalConfig(),
        qc_dir=tmp_path / "qc",
        out=out,
        threads=1,
        log_file=tmp_path / "log",
        job=job,
    )
    result = json.loads(out["asv_json"].read_text())
    assert result["passed"] is False
    assert result["reason"] == ("50 reads left after primer removal, merging and filtering (< 500)")
    assert amp.read_asv_counts(out["asv_counts"]) == {}
    assert all(path.exists() for path in out.values())
    # the taxonomy step then says the analysis failed its QC (not gated: the record is
    # qc_failed, not pending for ever)
    from mgnify_db.paths import StudyPaths
    from mgnify_db.state import _records
    from mgnify_db.steps import amplicon_taxonomy

    paths = StudyPaths(tmp_path / "results", "PRJEB1")
    tax = {n: paths.path(n, "ERR0000001") for n in amp.TAXONOMY_OUTPUTS}
    asv_json = paths.path("asv_json", "ERR0000001")
    asv_json.parent.mkdir(parents=True, exist_ok=True)
    asv_json.write_text(out["asv_json"].read_text())
    amplicon_taxonomy(
        cfg=GlobalConfig(),
        asv_json=asv_json,
        asv_fasta=out["asv_fasta"],
        asv_counts=out["asv_counts"],
        uniques=out["amplicon_uniques"],
        cm=tmp_path / "x",
        ssu_reference=tmp_path / "x",
        out=tax,
        threads=1,
        log_file=tmp_path / "log",
        job=Job("amplicon_taxonomy", tmp_path / "jobs" / "t.jsonl", attempt=1),
    )
    assert all(path.exists() for path in tax.values())
    (record,) = _records(paths, "ERR0000001", PIPELINES["amplicon"], [], None, None)
    assert str(record.status) == "qc_failed" and record.reason == result["reason"]
    # a run that failed QC upstream: every output says so, nothing runs
    (tmp_path / "qc" / "qc.json").write_text(json.dumps({"passed": False, "reason": "few"}))
    amplicon_asv(
        cfg=GlobalConfig(),
        qc_dir=tmp_path / "qc",
        out=out,
        threads=1,
        log_file=tmp_path / "log",
        job=job,
    )
    assert json.loads(out["asv_json"].read_text()) == {"gated": "qc_failed: few"}
    assert all(path.exists() for path in out.values())
    assert amp.read_asv_counts(out["asv_counts"]) == {}


def test_mates_longer_than_the_amplicon_are_merged_to_it(tmp_path):
    """2x250 reads of a 180 bp amplicon (primers removed) overhang each other: merged, the
    overhangs are cut and the amplicon is left."""
    from mgnify_db.dev.demo.amplicons import reverse_complement

    rng = random.Random(4)
    body = "".join(rng.choice("ACGT") for _ in range(180))
    tail = "".join(rng.choice("ACGT") for _ in range(40))
    r1 = body + tail  # runs on past the amplicon's end
    r2 = reverse_complement(body) + tail
    for name, seq in (("r_1.fastq", r1), ("r_2.fastq", r2)):
        (tmp_path / name).write_text(f"@p1\n{seq}\n+\n{'I' * len(seq)}\n")
    merged = tmp_path / "m.fastq"
    assert vsearch.merge_pairs(tmp_path / "r_1.fastq", tmp_path / "r_2.fastq", merged) == 1
    assert merged.read_text().splitlines()[1] == body
