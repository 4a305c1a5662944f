"""Operator changes: the config history the study_config step keeps, and its events."""

from __future__ import annotations

import json

from mgnify_db.catalogue.changes import Cause, change_events, config_changes, record_config
from mgnify_db.config import StudyConfig
from mgnify_db.io import read_json, read_jsonl
from mgnify_db.paths import StudyPaths
from mgnify_db.steps import study_config


def config(**fields) -> dict:
    base = {"accession": "PRJEB1", "biome": "root:Environmental:Aquatic:Marine"}
    return StudyConfig.model_validate(base | fields).model_dump(mode="json")


def history(*configs: dict) -> list[dict]:
    return [
        {"time": f"2025-01-0{i + 1}T00:00:00+00:00", "config": c} for i, c in enumerate(configs)
    ]


def brief(events: list[dict]) -> list[tuple]:
    return [(e["cause"], e["run"], e["message"]) for e in events]


def test_first_record_and_no_change_give_no_event():
    assert change_events([]) == []
    assert change_events(history(config())) == []
    assert change_events(history(config(), config(), config())) == []


def test_exclusion_then_reinclusion():
    events = change_events(
        history(config(), config(exclude_runs=["ERR000001", "ERR000002"]), config())
    )
    assert brief(events) == [
        ("run_excluded", "ERR000001", "run ERR000001 excluded"),
        ("run_excluded", "ERR000002", "run ERR000002 excluded"),
        ("run_included", "ERR000001", "run ERR000001 included"),
        ("run_included", "ERR000002", "run ERR000002 included"),
    ]
    assert [e["time"] for e in events] == ["2025-01-02T00:00:00+00:00"] * 2 + [
        "2025-01-03T00:00:00+00:00"
    ] * 2
    assert {(e["rule"], e["event"]) for e in events} == {("study_config", "config_changed")}
    assert set(events[0]) == {"time", "rule", "event", "cause", "run", "message"}


def test_include_runs():
    events = change_events(
        history(
            config(),
            config(include_runs=["ERR000001", "ERR000002"]),
            config(include_runs=["ERR000001"]),
            config(include_runs=["ERR000001"], exclude_runs=["ERR000001"]),
            config(exclude_runs=["ERR000001"]),
        )
    )
    assert brief(events) == [
        (
            "run_excluded",
            None,
            "include_runs set: every other run excluded (only ERR000001, ERR000002)",
        ),
        ("run_excluded", "ERR000002", "run ERR000002 excluded"),
        ("run_excluded", "ERR000001", "run ERR000001 excluded"),
        ("run_included", "ERR000002", "run ERR000002 included"),
        ("run_included", None, "include_runs removed: every run not in exclude_runs included"),
    ]


def test_biome_privacy_owner():
    events = change_events(
        history(
            config(),
            config(biome="root:Engineered:Bioreactor"),
            config(biome="root:Engineered:Bioreactor", is_private=True, webin_owner="Webin-1"),
            config(biome="root:Engineered:Bioreactor", webin_owner="Webin-2"),
        )
    )
    assert brief(events) == [
        (
            "biome_changed",
            None,
            "biome root:Environmental:Aquatic:Marine -> root:Engineered:Bioreactor",
        ),
        ("privacy_changed", None, "made private (owner Webin-1)"),
        ("owner_changed", None, "owner none -> Webin-1"),
        ("privacy_changed", None, "made public"),
        ("owner_changed", None, "owner Webin-1 -> Webin-2"),
    ]


def test_other_causes_in_one_edit():
    old = config()
    new = config(
        sample_limit=2,
        library_source_policy="override_all_to_metagenomic",
        publications=[123, 456],
        super_studies=["ocean"],
        assembly_mem_mb=8000,
    )
    events = config_changes("t", old, new)
    assert brief(events) == [
        ("sample_limit_changed", None, "sample_limit none -> 2"),
        (
            "policy_changed",
            None,
            "library_source_policy override_genomic_if_metagenomic_scientific_name"
            " -> override_all_to_metagenomic",
        ),
        ("publications_changed", None, "publications added 123, 456"),
        ("super_studies_changed", None, "super_studies added ocean"),
        ("other", None, "assembly_mem_mb none -> 8000"),
    ]
    assert {e["cause"] for e in events} <= set(Cause)
    back = brief(config_changes("t", new | {"publications": [456, 789]}, new))
    assert back == [
        ("publications_changed", None, "publications added 123; publications removed 789")
    ]
    # only the order of a list changed: no event
    assert config_changes("t", config(publications=[1, 2]), config(publications=[2, 1])) == []
    reordered = config(library_strategies=["WGS", "AMPLICON"])
    assert config_changes("t", reordered, config(library_strategies=["AMPLICON", "WGS"])) == []
    assert brief(config_changes("t", config(), reordered)) == [
        ("policy_changed", None, "library_strategies WGS -> WGS, AMPLICON")
    ]


def test_a_field_missing_from_an_old_record_reads_as_its_default():
    old = config()
    del old["sample_limit"], old["analyses"]
    assert change_events(history(old, config())) == []
    assert brief(change_events(history(old, config(sample_limit=5)))) == [
        ("sample_limit_changed", None, "sample_limit none -> 5")
    ]


def test_deterministic_and_pure():
    h = history(config(), config(exclude_runs=["ERR000002", "ERR000001"], sample_limit=3))
    before = json.dumps(h)
    assert change_events(h) == change_events(json.loads(before))
    assert json.dumps(h) == before
    assert change_events([{"time": "x"}, *h, {"bad": 1}]) == change_events(h)


def test_record_config(tmp_path):
    f = tmp_path / "history.jsonl"
    assert record_config(f, config(), time="t1")
    assert not record_config(f, config(), time="t2")
    assert record_config(f, config(sample_limit=1), time="t3")
    assert [r["time"] for r in read_jsonl(f)] == ["t1", "t3"]


def test_study_config_step_appends_history_on_change(tmp_path):
    paths = StudyPaths(tmp_path / "results", "PRJEB1")
    out, hist = paths.path("study_config"), paths.path("config_history")
    assert hist.parent == out.parent
    study = StudyConfig.model_validate(config())
    study_config(study=study, out=out)
    study_config(study=study, out=out)  # a re-run with the same config
    assert read_json(out) == config()
    assert [r["config"] for r in read_jsonl(hist)] == [config()]
    # Snakemake removes the output before the job: the history alone says what came before
    out.unlink()
    edited = StudyConfig.model_validate(config(exclude_runs=["ERR000001"]))
    study_config(study=edited, out=out)
    records = read_jsonl(hist)
    assert [r["config"] for r in records] == [config(), config(exclude_runs=["ERR000001"])]
    assert records[0]["time"] < records[1]["time"]
    assert records[1]["time"].endswith("+00:00")
    assert brief(change_events(records)) == [
        ("run_excluded", "ERR000001", "run ERR000001 excluded")
    ]
