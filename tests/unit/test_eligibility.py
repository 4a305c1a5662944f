"""Run eligibility: library-source and strategy policies and FASTQ structure.

The cases follow the behaviour emgapi-v2 documents (RUN1-RUN10 in its tests), written anew here.
"""

import pytest

from mgnify_db.config import StudyConfig
from mgnify_db.ena.eligibility import decide, decide_all
from mgnify_db.ena.models import EnaRun, LibraryLayout
from mgnify_db.models import ExperimentType


def run(
    acc="ERR0000001",
    *,
    source="METAGENOMIC",
    strategy="AMPLICON",
    name="metagenome",
    ftp="x/fq_1.fastq.gz;x/fq_2.fastq.gz",
    layout="PAIRED",
    sample="SAMEA1",
):
    return EnaRun(
        run_accession=acc,
        sample_accession=sample,
        library_source=source,
        library_strategy=strategy,
        scientific_name=name,
        fastq_ftp=ftp,
        library_layout=layout,
    )


STUDY = StudyConfig(accession="PRJEB1", biome="root", analyses=["amplicon"])


@pytest.mark.parametrize(
    "record, eligible, layout, files",
    [
        (run(source="GENOMIC", name="genome", ftp="fq.fastq.gz", layout="SINGLE"), False, None, []),
        (run(), True, LibraryLayout.PAIRED, ["fq_1.fastq.gz", "fq_2.fastq.gz"]),
        (run(source="METAGENOME", name="uncultured bacteria"), False, None, []),
        (run(layout="SINGLE"), True, LibraryLayout.PAIRED, ["fq_1.fastq.gz", "fq_2.fastq.gz"]),
        (run(ftp="fq.fastq.gz"), True, LibraryLayout.SINGLE, ["fq.fastq.gz"]),
        (
            run(ftp="a/fq_2.fastq.gz;a/fq_1.fastq.gz;a/fq_merged.fastq.gz;a/fq_3.fastq.gz"),
            True,
            LibraryLayout.PAIRED,
            ["fq_1.fastq.gz", "fq_2.fastq.gz"],
        ),
        (run(ftp="fq_2.fastq.gz"), False, None, []),
        (run(ftp="fq_2.fastq.gz", layout="SINGLE"), False, None, []),
        (run(ftp=""), False, None, []),
        (
            run(ftp="fq.fastq.gz;fq_2.fastq.gz;fq_1.fastq.gz"),
            True,
            LibraryLayout.PAIRED,
            ["fq_1.fastq.gz", "fq_2.fastq.gz"],
        ),
    ],
)
def test_eligibility_cases(record, eligible, layout, files):
    d = decide(record, STUDY)
    assert d.eligible is eligible, d.reason
    assert d.layout == layout
    assert [f.name for f in d.fastq] == files
    assert (d.reason is None) is eligible


def test_genomic_source_rescued_by_metagenome_scientific_name():
    assert decide(run(source="GENOMIC", name="soil metagenome"), STUDY).eligible
    strict = STUDY.model_copy(update={"library_source_policy": "only_if_metagenomic_in_ena"})
    assert not decide(run(source="GENOMIC", name="soil metagenome"), strict).eligible
    anything = STUDY.model_copy(update={"library_source_policy": "override_all_to_metagenomic"})
    assert decide(run(source="GENOMIC", name="genome"), anything).eligible


def test_strategy_policies_and_experiment_types():
    wgs = StudyConfig(accession="PRJEB1", biome="root")
    assert decide(run(strategy="WGS"), wgs).experiment_type == ExperimentType.METAGENOMIC
    assert "library_strategy AMPLICON" in decide(run(), wgs).reason
    other = wgs.model_copy(update={"library_strategy_policy": "assume_other_also_matches"})
    assert decide(run(strategy="OTHER"), other).eligible
    forced = wgs.model_copy(update={"library_strategy_policy": "override_all"})
    assert decide(run(), forced).experiment_type == ExperimentType.METAGENOMIC
    meta_t = decide(run(strategy="WGS", source="METATRANSCRIPTOMIC"), wgs)
    assert meta_t.experiment_type == ExperimentType.METATRANSCRIPTOMIC


def test_run_lists_and_sample_limit():
    runs = [run(f"ERR000000{i}", strategy="WGS", sample=f"SAMEA{i % 3}") for i in range(1, 7)]
    study = StudyConfig(
        accession="PRJEB1", biome="root", exclude_runs=["ERR0000002"], sample_limit=2
    )
    by_run = {d.run_accession: d for d in decide_all(runs, study)}
    assert by_run["ERR0000002"].reason == "in exclude_runs"
    # samples SAMEA0 and SAMEA1 are kept (first two by accession); SAMEA2 is beyond the limit
    assert by_run["ERR0000005"].reason == "beyond sample_limit 2"
    assert {r for r, d in by_run.items() if d.eligible} == {
        "ERR0000001",
        "ERR0000003",
        "ERR0000004",
        "ERR0000006",
    }
    only = StudyConfig(accession="PRJEB1", biome="root", include_runs=["ERR0000003"])
    assert [d.run_accession for d in decide_all(runs, only) if d.eligible] == ["ERR0000003"]


def test_the_analyses_a_run_goes_to_follow_its_experiment_type():
    both = StudyConfig(accession="PRJEB1", biome="root", analyses=["assembly", "amplicon"])
    assert both.library_strategies == ["WGS", "AMPLICON"]  # the analyses' strategies
    assert decide(run(), both).analyses == ["amplicon"]
    assert decide(run(strategy="WGS"), both).analyses == ["assembly"]
    assert decide(
        run(strategy="RNA-Seq"), both.model_copy(update={"library_strategies": ["RNA-Seq"]})
    ).analyses == ["assembly"]  # METAT runs are assembled too
    # a run of a strategy the study accepts but no analysis of it takes is skipped, saying why
    amplicon = StudyConfig(
        accession="PRJEB1", biome="root", analyses=["amplicon"], library_strategies=["WGS"]
    )
    d = decide(run(strategy="WGS"), amplicon)
    assert not d.eligible and d.reason == "experiment type METAG is not analysed by amplicon"
    # forced or unknown types go to every analysis asked for (as MGnify forces the flow's type)
    forced = both.model_copy(update={"library_strategy_policy": "override_all"})
    assert decide(run(strategy="WGS"), forced).analyses == ["assembly", "amplicon"]
    other = both.model_copy(update={"library_strategy_policy": "assume_other_also_matches"})
    assert decide(run(strategy="OTHER"), other).analyses == ["assembly", "amplicon"]
