"""The raw-reads pipeline's parts: read pairs per genus with re-estimation, six-frame
translation of reads, and which runs reach it."""

from __future__ import annotations

import gzip

from mgnify_db.config import StudyConfig
from mgnify_db.dev.score import spearman
from mgnify_db.ena.eligibility import decide
from mgnify_db.ena.models import EnaRun
from mgnify_db.io import read_fasta
from mgnify_db.lineage import Lineage
from mgnify_db.pipelines import raw_reads as rr
from mgnify_db.tools.hmmer import read_frames

ECOLI = Lineage.parse("sk__Bacteria;k__;p__Pseudomonadota;c__Gammaproteobacteria;g__Escherichia")
SALM = Lineage.parse("sk__Bacteria;k__;p__Pseudomonadota;c__Gammaproteobacteria;g__Salmonella")
GAMMA = Lineage.parse("sk__Bacteria;k__;p__Pseudomonadota;c__Gammaproteobacteria")
ARCH = Lineage.parse("sk__Archaea")


def test_pairs_left_above_genus_are_shared_among_the_genera_below():
    calls = [(ECOLI, 60), (SALM, 20), (GAMMA, 41), (ARCH, 5), (Lineage(), 7)]
    plain, moved0 = rr.genus_counts(calls, reestimate=False)
    assert plain[GAMMA.mgnify()] == 41 and moved0 == 0
    counts, moved = rr.genus_counts(calls)
    assert moved == 41
    # 41 shared 3:1 -> 30.75 / 10.25: whole pairs, the remainder to the largest fraction
    assert counts[ECOLI.mgnify()] == 60 + 31 and counts[SALM.mgnify()] == 20 + 10
    assert GAMMA.mgnify() not in counts
    assert counts[ARCH.mgnify()] == 5  # no genus under it: stays
    assert counts["Unclassified"] == 7
    assert sum(counts.values()) == sum(n for _, n in calls)


def test_reads_are_translated_in_six_frames_and_cut_at_stops(tmp_path):
    orf = "ATG" + "GCT" * 40 + "TAA"  # M A*40 stop, then a reverse-strand-only reading
    read = orf + "C" * 6
    fastq = tmp_path / "r_1.fastq.gz"
    with gzip.open(fastq, "wt") as fh:
        fh.write(f"@ERR1.1 x\n{read}\n+\n{'I' * len(read)}\n")
    n_reads, n_pieces = read_frames([fastq], tmp_path / "f.faa", min_length=30)
    pieces = dict(read_fasta(tmp_path / "f.faa"))
    assert n_reads == 1 and n_pieces == len(pieces)
    assert pieces["ERR1.1/1_f0_0"] == "M" + "A" * 40
    assert all(name.startswith("ERR1.1/1_") for name in pieces)
    assert all(len(p) >= 30 and "*" not in p for p in pieces.values())


def test_a_wgs_run_can_be_assembled_and_analysed_as_raw_reads():
    study = StudyConfig(accession="PRJEB1", biome="root", analyses=["assembly", "raw-reads"])
    assert study.library_strategies == ["WGS"]
    run = EnaRun(
        run_accession="ERR0000001",
        sample_accession="SAMEA1",
        library_source="METAGENOMIC",
        library_strategy="WGS",
        fastq_ftp="x/a_1.fastq.gz;x/a_2.fastq.gz",
    )
    assert decide(run, study).analyses == ["assembly", "raw-reads"]
    amplicon = run.model_copy(update={"library_strategy": "AMPLICON"})
    both = study.model_copy(update={"library_strategies": ["WGS", "AMPLICON"]})
    assert not decide(amplicon, both).eligible


def test_spearman():
    assert round(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 9) == 1.0
    assert round(spearman([1, 2, 3, 4], [4, 3, 2, 1]), 9) == -1.0
    assert round(spearman([1, 2, 2, 3], [1, 2, 3, 4]), 3) == 0.949


def test_a_run_that_failed_qc_gets_gated_raw_reads_outputs(tmp_path):
    import json
    from pathlib import Path

    from mgnify_db.config import GlobalConfig
    from mgnify_db.jobs import Job
    from mgnify_db.paths import PATTERNS
    from mgnify_db.pipelines.annotations import read_annotation_table
    from mgnify_db.steps import raw_reads_function, raw_reads_taxonomy

    qc = tmp_path / "qc"
    qc.mkdir()
    (qc / "qc.json").write_text(json.dumps({"passed": False, "reason": "300 reads"}))

    def outs(names):
        return {n: tmp_path / "out" / Path(PATTERNS[n]).name for n in names}

    tax, fn = outs(rr.TAXONOMY_OUTPUTS), outs(rr.FUNCTION_OUTPUTS)
    job = Job("raw_reads_taxonomy", tmp_path / "jobs.jsonl", attempt=1)
    common = {"cfg": GlobalConfig(), "qc_dir": qc, "reads_dir": qc, "threads": 1, "job": job}
    raw_reads_taxonomy(
        **common,
        cm=tmp_path / "x",
        ssu_reference=tmp_path / "x",
        lsu_reference=None,
        kraken2_db=None,
        out=tax,
        log_file=tmp_path / "t.log",
    )
    raw_reads_function(**common, hmms=tmp_path / "x", out=fn, log_file=tmp_path / "f.log")
    for path in (tax["reads_taxonomy_json"], fn["reads_function_json"]):
        assert json.loads(path.read_text()) == {"gated": "qc_failed: 300 reads"}
    assert all(p.exists() for p in [*tax.values(), *fn.values()])  # every declared output
    assert list(read_annotation_table(tax["reads_annotations"])) == []
    assert list(read_annotation_table(tax["reads_lsu_annotations"])) == []
    assert list(read_annotation_table(fn["reads_pfam_annotations"])) == []
    assert not (tmp_path / "jobs.jsonl").exists()  # nothing ran
