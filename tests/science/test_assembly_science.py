"""The assembly and its analysis, scored against the known truth of the science study
(PRJEB00002: phage lambda 40x, Thermodesulfatator indicus 12x, Corynebacterium diphtheriae 6x,
yeast host reads at 3%; Corynebacterium absent from the kraken2 database). Every figure is
written to test-artifacts/science/ as well."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from support import SCIENCE_STUDY, artefact

from mgnify_db.catalogue import open_store
from mgnify_db.dev import score
from mgnify_db.pipelines.annotations import read_annotation_table

pytestmark = pytest.mark.e2e

RUN = "ERR0000201"
# genome accession -> (name, coverage simulated, true genus, in the kraken2 database)
TRUTH = {
    "NC_001416.1": ("lambda", 40, "g__Lambdavirus", True),
    "CP002683.1": ("tindicus", 12, "g__Thermodesulfatator", True),
    "NZ_LN831026.1": ("cdiphtheriae", 6, "g__Corynebacterium", False),
}
HOST = "S288C"


@pytest.fixture(scope="module")
def run_dir(science_run) -> Path:
    return science_run / "results" / "studies" / SCIENCE_STUDY / "runs" / RUN


@pytest.fixture(scope="module")
def genomes(demo_data) -> dict[str, Path]:
    return {acc: demo_data / "truth" / "genomes" / f"{acc}.fna.gz" for acc in [*TRUTH, HOST]}


@pytest.fixture(scope="module")
def alignments(run_dir, genomes, tmp_path_factory):
    paf = tmp_path_factory.mktemp("score") / "contigs.paf"
    refs = {acc: genomes[acc] for acc in TRUTH}
    return score.align_contigs(run_dir / "assembly" / "megahit" / "contigs.fa.gz", refs, paf)


def test_decontamination_removes_the_host_and_keeps_the_community(run_dir, demo_data, genomes):
    seq_genome = {sid: acc for acc, path in genomes.items() for sid in score.sequence_ids(path)}
    raw = demo_data / "vol1" / "fastq" / RUN[:6] / RUN / f"{RUN}_1.fastq.gz"
    before = score.reads_by_origin(raw, seq_genome)
    after = score.reads_by_origin(run_dir / "decontamination" / "reads_1.fastq.gz", seq_genome)
    qc = run_dir / "qc" / "reads_1.fastq.gz"
    after_qc = score.reads_by_origin(qc, seq_genome)
    host_removed = 1 - after.get(HOST, 0) / after_qc[HOST]
    community_qc = sum(v for k, v in after_qc.items() if k != HOST)
    community_removed = 1 - sum(v for k, v in after.items() if k != HOST) / community_qc
    summary = json.loads((run_dir / "decontamination" / "decontamination.json").read_text())
    artefact(
        "decontamination.json",
        {
            "pairs_simulated": before,
            "pairs_after_qc": after_qc,
            "pairs_kept": after,
            "host_removed": host_removed,
            "community_removed": community_removed,
            "summary": summary,
        },
    )
    assert before[HOST] / sum(before.values()) == pytest.approx(0.03, abs=0.01)
    assert host_removed >= 0.99
    assert community_removed <= 0.001
    assert summary["passed"] and summary["reads_kept"] == 2 * sum(after.values())


def test_genome_fraction_and_no_chimeras(alignments, genomes):
    lengths = {acc: sum(len(s) for _, s in score.read_fasta(genomes[acc])) for acc in TRUTH}
    fractions = score.genome_fractions(alignments, lengths)
    joined = score.chimeras(alignments)
    artefact(
        "genome_fraction.json",
        {
            "genomes": {
                acc: {**vars(s), "coverage": TRUTH[acc][1]} for acc, s in fractions.items()
            },
            "chimeras_over_10kb": joined,
        },
    )
    for acc, s in fractions.items():
        want = 0.97 if TRUTH[acc][1] >= 10 else 0.90
        assert s.fraction >= want, f"{TRUTH[acc][0]} ({TRUTH[acc][1]}x): {s.fraction:.4f}"
    assert joined == []


def test_contig_taxonomy_right_genus_and_the_absent_genome_unassigned(run_dir, alignments):
    placed = score.contig_genomes(alignments)
    with gzip.open(run_dir / "analysis" / "contig_taxonomy.tsv.gz", "rt") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        rows = [dict(zip(header, ln.rstrip("\n").split("\t"), strict=True)) for ln in fh]
    genus_of = {acc: t[2] for acc, t in TRUTH.items()}
    scores = score.taxonomy_scores(rows, placed, genus_of)
    artefact(
        "contig_taxonomy.json",
        {acc: {**vars(s), "right_fraction": s.right_fraction} for acc, s in scores.items()},
    )
    in_db = [acc for acc, t in TRUTH.items() if t[3]]
    right = sum(scores[a].right for a in in_db) / sum(scores[a].bases for a in in_db)
    assert right >= 0.95, {a: scores[a].right_fraction for a in in_db}
    absent = scores["NZ_LN831026.1"]
    assert absent.bases > 500_000  # its contigs >= 1 kb were scored
    assert absent.wrong_fraction <= 0.01, absent.wrong_examples


def test_pfam_recovers_the_genomes_own_domains(run_dir, science_run, alignments, genomes, tmp_path):
    from mgnify_db.tools.hmmer import search_domains
    from mgnify_db.tools.pyrodigal import predict_cds

    hmms = science_run / "results" / "references" / "pfam" / "pfam.hmm"
    placed = score.contig_genomes(alignments)
    found: dict[str, dict[str, int]] = {acc: {} for acc in TRUTH}
    with gzip.open(run_dir / "analysis" / "pfam_domains.tsv.gz", "rt") as fh:
        next(fh)
        for line in fh:
            protein, accession = line.split("\t")[:2]
            genome = placed.get(protein.rsplit("_", 1)[0])
            if genome in found:
                found[genome][accession] = found[genome].get(accession, 0) + 1
    recovery = {}
    for acc in TRUTH:
        faa = tmp_path / f"{acc}.faa"
        predict_cds(genomes[acc], faa, tmp_path / f"{acc}.gff", threads=2)
        truth: dict[str, int] = {}
        for hit in search_domains(faa, hmms, threads=2):
            truth[hit.accession] = truth.get(hit.accession, 0) + 1
        total = sum(truth.values())
        got = sum(min(n, found[acc].get(a, 0)) for a, n in truth.items())
        recovery[acc] = {"truth_hits": total, "recovered": got, "assembly": found[acc]}
        recovery[acc]["recovery"] = got / total if total else None
    artefact("pfam.json", recovery)
    for acc, r in recovery.items():
        if r["truth_hits"] == 0:
            continue  # lambda: no bacterial/archaeal marker domains
        assert r["recovery"] >= 0.95, f"{TRUTH[acc][0]}: {r['recovery']:.3f}"
    assert recovery["CP002683.1"]["truth_hits"] >= 50


def test_every_distinct_16s_and_23s_of_the_10x_genomes_is_found(
    run_dir, science_run, genomes, tmp_path
):
    from mgnify_db.tools import infernal

    cm = science_run / "results" / "references" / "rfam" / "rrna.cm"
    report = {}
    for acc, (name, coverage, _, _) in TRUTH.items():
        hits = infernal.resolve_overlaps(
            infernal.run_cmsearch(genomes[acc], cm, tmp_path / f"{name}.tbl", threads=2)
        )
        for kind, found_in in (("SSU", "ssu.fasta.gz"), ("LSU", "lsu.fasta.gz")):
            truth = tmp_path / f"{name}_{kind}.fa"
            n = infernal.extract_rrna(genomes[acc], hits, truth, kinds=(kind,))
            if not n:
                continue
            distinct = score.distinct_sequences(truth)
            unique = tmp_path / f"{name}_{kind}_distinct.fa"
            unique.write_text("".join(f">{k}\n{v}\n" for k, v in distinct.items()))
            assembled = run_dir / "analysis" / found_in
            best = score.identity_hits(unique, assembled) if assembled.stat().st_size else {}
            report[f"{name} {kind}"] = {
                "coverage": coverage,
                "genes": n,
                "distinct": len(distinct),
                "best": {k: best.get(k, 0.0) for k in distinct},
            }
    artefact("rrna.json", report)
    checked = [k for k, r in report.items() if r["coverage"] >= 10]
    assert {"tindicus SSU", "tindicus LSU"} <= set(checked)
    for key in checked:
        for seq, best in report[key]["best"].items():
            assert best >= 0.97, f"{key} {seq}: best match {best:.3f}"


def test_ssu_taxonomy_names_the_genus(run_dir):
    rows = list(read_annotation_table(run_dir / "analysis" / "ssu_taxonomy.tsv.gz"))
    artefact("ssu_taxonomy.json", rows)
    genera = {p for r in rows for p in (r["lineage"] or "").split(";") if p.startswith("g__")}
    assert "g__Thermodesulfatator" in genera
    assert genera <= {t[2] for t in TRUTH.values()} | {"g__"}


def test_the_catalogue_holds_the_annotations_and_downloads(science_run):
    db = science_run / "results" / "catalogue.db"
    with open_store(db, create=False) as store:
        (analysis,) = store.query("select * from analyses where run = ?", [RUN])
        (assembly,) = store.query("select * from assemblies where run = ?", [RUN])
        types = {
            r["type"]: r["n"]
            for r in store.query(
                "select type, count(*) n from annotations where analysis = ? group by type",
                [analysis["accession"]],
            )
        }
        downloads = {
            r["alias"]: r
            for r in store.query(
                "select * from downloads where analysis = ?", [analysis["accession"]]
            )
        }
        (assembly,) = store.query("select * from assemblies where run = ?", [RUN])
    assert analysis["status"] == "completed" and analysis["rrna_16s"] >= 1
    assert {"pfams", "taxonomies__ssu", "taxonomies__contigs", "rrnas"} <= set(types)
    assert types["pfams"] >= 50
    meta = json.loads(analysis["metadata"])
    assert meta["pipeline_revision"] and meta["pfam_reference"]["sha256"]
    qc = json.loads(analysis["quality_control"])
    assert qc["decontamination"]["genomes"] == ["yeast"]
    # MGnify's meaning: read bases laid on the contigs / bases sequenced (most reads map)
    assert assembly["coverage_depth"] > 5 and 0.5 < assembly["coverage"] <= 1
    acc = analysis["accession"]
    for alias in (f"{acc}_pfam_summary.tsv.gz", f"{acc}_annotation_summary.gff.gz"):
        assert downloads[alias]["md5"] and json.loads(downloads[alias]["index_files"])


def test_metaspades_assembles_its_run_to_the_same_bar(science_run, genomes, tmp_path):
    """The study's small lambda run (30x) is metaSPAdes' (run_assemblers)."""
    run_dir = science_run / "results" / "studies" / SCIENCE_STUDY / "runs" / "ERR0000202"
    contigs = run_dir / "assembly" / "metaspades" / "contigs.fa.gz"
    lam = "NC_001416.1"
    alignments = score.align_contigs(contigs, {lam: genomes[lam]}, tmp_path / "spades.paf")
    fraction = score.genome_fractions(alignments, {lam: 48502})[lam].fraction
    artefact("metaspades.json", {"genome_fraction": fraction, "coverage": 30})
    assert fraction >= 0.97
    assert not (run_dir / "assembly" / "megahit").exists()
    with open_store(science_run / "results" / "catalogue.db", create=False) as store:
        (asm,) = store.query("select * from assemblies where run = 'ERR0000202'")
        (ana,) = store.query("select * from analyses where run = 'ERR0000202'")
    assert asm["assembler"] == "metaspades" and asm["status"] == "completed"
    assert asm["assembler_version"].startswith("3.15") and ana["assembly"] == asm["accession"]
    assert ana["status"] == "completed" and ana["cds_count"] > 40


def test_coassembly_pools_its_runs_reads_to_the_bar(science_run, genomes, tmp_path):
    """Two 4x lambda runs co-assembled (coassemblies: lambda-pool): pooled to 8x, the one
    assembly meets the >= 5x bar, links both runs and is analysed once."""
    runs = science_run / "results" / "studies" / SCIENCE_STUDY / "runs"
    lam = "NC_001416.1"
    fractions = {}
    for unit in ("lambda-pool", "ERR0000203", "ERR0000204"):
        contigs = runs / unit / "assembly" / "megahit" / "contigs.fa.gz"
        paf = score.align_contigs(contigs, {lam: genomes[lam]}, tmp_path / f"{unit}.paf")
        fractions[unit] = score.genome_fractions(paf, {lam: 48502})[lam].fraction
    artefact("coassembly.json", {"genome_fraction": fractions, "coverage": {"each run": 4}})
    assert fractions["lambda-pool"] >= 0.90
    # pooling is what made it: the pooled reads assemble more of the genome than either run's
    assert fractions["lambda-pool"] >= max(fractions["ERR0000203"], fractions["ERR0000204"])
    with open_store(science_run / "results" / "catalogue.db", create=False) as store:
        (asm,) = store.query("select * from assemblies where coassembly = 'lambda-pool'")
        links = {
            r["run"]
            for r in store.query(
                "select run from assembly_runs where assembly = ?", [asm["accession"]]
            )
        }
        (ana,) = store.query("select * from analyses where coassembly = 'lambda-pool'")
        singles = list(
            store.query(
                "select * from assemblies where run in ('ERR0000203', 'ERR0000204') order by run"
            )
        )
        run_assemblies = {
            r["accession"]
            for r in store.query(
                "select assembly as accession from assembly_runs where run = 'ERR0000203'"
            )
        }
    assert asm["run"] is None and asm["status"] == "completed" and asm["assembler"] == "megahit"
    assert asm["sample"] == "SAMEA00000201"  # both runs' sample
    assert links == {"ERR0000203", "ERR0000204"}
    assert json.loads(asm["metadata"])["runs"] == ["ERR0000203", "ERR0000204"]
    assert ana["run"] is None and ana["assembly"] == asm["accession"]
    assert ana["status"] == "completed" and ana["cds_count"] > 40
    # each run keeps its own assembly; the run's assemblies include the co-assembly
    assert [s["run"] for s in singles] == ["ERR0000203", "ERR0000204"]
    assert run_assemblies == {singles[0]["accession"], asm["accession"]}
