"""The amplicon analysis, scored against the known truth of the amplicon study (PRJEB00003: 16S
V4 amplicons of Corynebacterium, Thermodesulfatator, Legionella and the archaeon
Methanobrevibacter at set read abundances, with two PCR chimeras spiked in). Figures go to
test-artifacts/science/ as well."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import AMPLICON_STUDY, artefact, in_process_get

from mgnify_db.catalogue import open_store
from mgnify_db.dev import score
from mgnify_db.dev.demo.amplicons import in_silico_pcr
from mgnify_db.io import read_fasta
from mgnify_db.pipelines import amplicon as amp
from mgnify_db.pipelines.annotations import read_annotation_table

pytestmark = pytest.mark.e2e

RUN = "ERR0000301"
# truth key (demo/ena/amplicon/runs.yaml) -> (genome accession, genus)
GENERA = {
    "cdiphtheriae": ("NZ_LN831026.1", "g__Corynebacterium"),
    "tindicus": ("CP002683.1", "g__Thermodesulfatator"),
    "legionella": ("NC_013861.1", "g__Legionella"),
    "mruminantium": ("NC_013790.1", "g__Methanobrevibacter"),
}
# the SSU reference holds no sequence within 97 % of M. ruminantium's V4 (its only
# Methanobrevibacter is M. smithii, 91.7 %): closed-reference leaves those reads unclassified
NOT_IN_REFERENCE_AT_97 = {"g__Methanobrevibacter"}
FORWARD, REVERSE = "GTGYCAGCMGCCGCGGTAA", "GGACTACNVGGGTWTCTAAT"


@pytest.fixture(scope="module")
def out(science_run) -> Path:
    return science_run / "results" / "studies" / AMPLICON_STUDY / "runs" / RUN / "amplicon"


@pytest.fixture(scope="module")
def truth(demo_data) -> dict[str, int]:
    """Read pairs per genus and per chimera, as simulated."""
    rows = (demo_data / "truth" / f"{RUN}.tsv").read_text().splitlines()[1:]
    counts = {}
    for line in rows:
        source, _, _, _, pairs = line.split("\t")
        counts[GENERA[source][1] if source in GENERA else source] = int(pairs)
    return counts


@pytest.fixture(scope="module")
def v4(demo_data) -> dict[str, set[str]]:
    """Each genus's V4 amplicons, primers removed (what an ASV of it must be)."""
    out = {}
    for acc, genus in GENERA.values():
        genome = demo_data / "truth" / "genomes" / f"{acc}.fna.gz"
        out[genus] = {
            a[len(FORWARD) : -len(REVERSE)] for a in in_silico_pcr(genome, FORWARD, REVERSE)
        }
    return out


def _community(truth: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in truth.items() if k.startswith("g__")}


def test_primers_are_found_and_the_region_is_v4(out):
    asv = json.loads((out / "asv.json").read_text())
    taxonomy = json.loads((out / "taxonomy.json").read_text())
    assert asv["primers"]["forward"]["name"] == "515F"
    assert asv["primers"]["reverse"]["name"] == "806R"
    assert asv["reads_with_primers"] >= 0.95 * asv["reads_in"]
    assert amp.read_asv_counts(out / "asv_read_counts.tsv")
    assert (out / "primers.fasta").read_text().startswith(">515F\nGTGYCAGCMGCCGCGGTAA\n")
    assert taxonomy["amplified_region"] == "16S-V4" and taxonomy["asvs_not_ssu"] == 0
    regions = taxonomy["marker_gene_summary"]["asv"]["amplified_regions"]
    assert [r["amplified_region"] for r in regions] == ["16S-V4"]


def test_asvs_are_the_members_sequences_and_chimeras_are_removed(out, v4, truth):
    """One ASV per member genus, each exactly its V4; the spiked chimeras are found and none
    becomes an ASV."""
    asvs = dict(read_fasta(out / "asv_seqs.fasta"))
    asv = json.loads((out / "asv.json").read_text())
    exact = {name: g for name, seq in asvs.items() for g, seqs in v4.items() if seq in seqs}
    artefact(
        "amplicon_asvs.json",
        {"asvs": len(asvs), "exact": exact, "chimeras_removed": asv["chimeras"]},
    )
    assert sorted(exact.values()) == sorted(v4) and len(asvs) == len(v4)
    assert asv["chimeras"] >= sum(1 for k in truth if k.startswith("chimera_"))


def test_asv_profile_matches_the_truth(out, truth):
    """The reported profile (reads per ASV lineage, `taxonomies__asv`) at genus: L1 to the
    truth <= 0.02, every member genus found, no false genus above 1 %."""
    rows = list(read_annotation_table(out / "asv_taxonomy_summary.tsv.gz"))
    reported = score.genus_profile({r["term"]: r["count"] for r in rows})
    community = _community(truth)
    l1 = score.profile_l1(community, reported)
    total = sum(reported.values())
    false = {g: n / total for g, n in reported.items() if g not in community}
    artefact("amplicon_asv_profile.json", {"truth": community, "reported": reported, "l1": l1})
    assert l1 <= 0.02
    assert set(community) <= set(reported)
    assert all(f <= 0.01 for f in false.values()), false


def test_closed_reference_read_taxonomy(out, truth):
    """Reads (closed-reference, `taxonomies__ssu`): the genera the reference holds within 97 %
    are found in their proportions (L1 <= 0.02); no false genus above 1 %; the reads of the
    genus it lacks, and the chimeras, stay unclassified rather than misassigned."""
    rows = list(read_annotation_table(out / "ssu_taxonomy.tsv.gz"))
    counts = {r["term"]: r["count"] for r in rows}
    reported = score.genus_profile(counts)
    community = _community(truth)
    referenced = {g: n for g, n in community.items() if g not in NOT_IN_REFERENCE_AT_97}
    l1 = score.profile_l1(referenced, reported)
    total = sum(counts.values())
    false = {g: n / total for g, n in reported.items() if g not in community}
    unclassified = counts.get("Unclassified", 0)
    expected = sum(n for g, n in truth.items() if g not in referenced)  # absent + chimeras
    artefact(
        "amplicon_closed_reference.json",
        {"reported": reported, "unclassified": unclassified, "l1_referenced": l1},
    )
    assert l1 <= 0.02 and set(referenced) <= set(reported)
    assert all(f <= 0.01 for f in false.values()), false
    assert abs(unclassified - expected) <= 0.05 * expected


def test_the_catalogue_and_api_hold_the_amplicon_analysis(science_run):
    with open_store(science_run / "results" / "catalogue.db", create=False) as store:
        (analysis,) = store.query("select * from analyses where run = ?", [RUN])
        types = {
            r["type"]
            for r in store.query(
                "select distinct type from annotations where analysis = ?",
                [analysis["accession"]],
            )
        }
        aliases = {
            r["alias"]
            for r in store.query(
                "select alias from downloads where analysis = ?", [analysis["accession"]]
            )
        }
        (run,) = store.query("select * from runs where accession = ?", [RUN])
    assert analysis["pipeline"] == "amplicon" and analysis["status"] == "completed"
    assert analysis["experiment_type"] == "AMPLI" and analysis["assembly"] is None
    assert run["experiment_type"] == "AMPLI"
    assert {"taxonomies__ssu", "taxonomies__asv"} <= types
    assert {
        f"{RUN}_asv_seqs.fasta",
        f"{RUN}_asv_read_counts.tsv",
        f"{RUN}_primers.fasta",
    } <= aliases
    meta = json.loads(analysis["metadata"])
    assert meta["marker_gene_summary"]["closed_reference"]["marker_genes"]["SSU"]
    assert json.loads(analysis["quality_control"])


def test_the_api_serves_the_amplicon_analysis_and_its_annotations(science_run):
    """MGnify's API v2 (in-process) answers for the amplicon analysis as for any other: its
    closed-reference `taxonomies__ssu` (MGnify's amplicon annotations). The ASV taxonomy is a
    type MGnify's document does not list (MGnify keeps its ASV results as downloads only): the
    API refuses it as MGnify's would (422); the catalogue and pages hold it."""
    results = science_run / "results"
    with open_store(results / "catalogue.db", create=False) as store:
        (acc,) = [
            r["accession"] for r in store.query("select * from analyses where run = ?", [RUN])
        ]
    analysis, reads, asvs, table = in_process_get(
        results,
        f"analyses/{acc}",
        f"analyses/{acc}/annotations/taxonomies__ssu",
        f"analyses/{acc}/annotations/taxonomies__asv",
        f"/public/annotations.json?analysis={acc}&type=taxonomies__asv&_shape=array",
    )
    assert analysis.status_code == 200, analysis.text
    assert analysis.json()["experiment_type"] == "Amplicon"
    assert analysis.json()["run"]["accession"] == RUN
    assert reads.status_code == 200
    organisms = {i["organism"] or "" for i in reads.json()["items"]}
    assert any(o.endswith("g__Legionella") for o in organisms), organisms
    assert asvs.status_code == 422
    assert table.status_code == 200
    assert any("g__Methanobrevibacter" in (r["lineage"] or "") for r in table.json())
