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


def test_lsu_reads_are_classified_only_with_an_lsu_reference(tmp_path):
    """Reads tiled over E. coli's rrnH operon (real cmsearch, Rfam's bacterial models): the SSU
    and LSU reads are found; with an LSU reference (the operon's own 23S gene) they take its
    lineage, without one they are counted and the metadata says why they are not classified."""
    import gzip
    import json
    from pathlib import Path

    from test_infernal import PYBARRNAP, WINDOWS, sdist_files

    from mgnify_db.config import GlobalConfig
    from mgnify_db.io import read_fasta
    from mgnify_db.jobs import Job
    from mgnify_db.paths import PATTERNS
    from mgnify_db.pipelines.annotations import read_annotation_table
    from mgnify_db.steps import raw_reads_taxonomy
    from mgnify_db.tools.infernal import prepare_cm

    pressed = sdist_files(PYBARRNAP, "src/pybarrnap/db/cm/bac.cm.i1m", tmp_path / "cm")
    cm = tmp_path / "bac.cm"
    prepare_cm(pressed["bac.cm.i1m"], cm)
    data = sdist_files(PYBARRNAP, "src/pybarrnap/example_data/bacteria.fna", tmp_path / "g")
    (_, genome), *_ = read_fasta(data["bacteria.fna"])
    _, start, _ = WINDOWS["ecoli_plus"]
    operon = genome.upper()[start - 1 + 23_700 : start - 1 + 28_700]  # 16S 223774.., 23S ..228660
    tax = "tax=d:Bacteria,p:Pseudomonadota,c:Gammaproteobacteria,o:Enterobacterales"
    lineage = f"{tax},f:Enterobacteriaceae,g:Escherichia,s:Escherichia_coli;"
    (tmp_path / "ssu.fasta").write_text(f">s1;{lineage}\n{genome.upper()[223_773:225_311]}\n")
    (tmp_path / "lsu.fasta").write_text(f">l1;{lineage}\n{genome.upper()[225_759:228_660]}\n")
    qc = tmp_path / "qc"
    qc.mkdir()
    (qc / "qc.json").write_text(json.dumps({"passed": True}))
    with gzip.open(qc / "reads_1.fastq.gz", "wt") as fh:
        for i in range(0, len(operon) - 150, 25):
            fh.write(f"@r{i}\n{operon[i : i + 150]}\n+\n{'I' * 150}\n")

    def run(lsu: Path | None, name: str) -> tuple[dict, dict]:
        out = {n: tmp_path / name / Path(PATTERNS[n]).name for n in rr.TAXONOMY_OUTPUTS}
        raw_reads_taxonomy(
            cfg=GlobalConfig(),
            qc_dir=qc,
            reads_dir=qc,
            cm=cm,
            ssu_reference=tmp_path / "ssu.fasta",
            lsu_reference=lsu,
            kraken2_db=None,
            out=out,
            threads=1,
            log_file=tmp_path / f"{name}.log",
            job=Job("raw_reads_taxonomy", tmp_path / f"{name}.jsonl", attempt=1),
        )
        counts = {
            r["term"]: r["count"] for r in read_annotation_table(out["reads_lsu_annotations"])
        }
        return json.loads(out["reads_taxonomy_json"].read_text()), counts

    meta, counts = run(tmp_path / "lsu.fasta", "with")
    assert meta["ssu_reads"] > 40 and meta["lsu_reads"] > 80
    assert sum(counts.values()) == meta["lsu_reads"]
    assert meta["lsu_reads_classified"] >= 0.95 * meta["lsu_reads"]
    assert all(t.endswith("s__Escherichia_coli") for t in counts if t != "Unclassified")
    assert meta["lsu_taxonomy"] is None and "lsu_reference" in meta
    meta, counts = run(None, "without")
    assert meta["lsu_reads"] > 80 and counts == {}
    assert meta["lsu_reads_classified"] is None
    assert meta["lsu_taxonomy"] == "no LSU reference configured"
    assert "lsu_reference" not in meta
