"""Operator changes: a study's recorded configs over time, and the events their edits make.

The `study_config` step appends `{"time", "config"}` to the study's `config_history.jsonl`
whenever the config it records differs from the last one recorded (the first recording too).
That file is a result (a source of truth): only ever appended to. `change_events` turns it into
one event per operator change; the first recording is not a change and gives none.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from ..config import StudyConfig
from ..io import append_jsonl, now, read_jsonl

RULE = "study_config"
EVENT = "config_changed"


class Cause(StrEnum):
    """What an operator's config edit changed (the event's `cause`)."""

    RUN_EXCLUDED = "run_excluded"
    RUN_INCLUDED = "run_included"
    BIOME_CHANGED = "biome_changed"
    PRIVACY_CHANGED = "privacy_changed"
    OWNER_CHANGED = "owner_changed"
    SAMPLE_LIMIT_CHANGED = "sample_limit_changed"
    ANALYSES_CHANGED = "analyses_changed"
    POLICY_CHANGED = "policy_changed"
    PUBLICATIONS_CHANGED = "publications_changed"
    SUPER_STUDIES_CHANGED = "super_studies_changed"
    ASSEMBLER_CHANGED = "assembler_changed"
    HOSTS_CHANGED = "hosts_changed"
    COASSEMBLIES_CHANGED = "coassemblies_changed"
    OTHER = "other"


# Fields whose change has its own cause, in the order their events come; any other changed
# field is `other` (after these, by name).
RUN_FIELDS = ("include_runs", "exclude_runs")
VALUES = {
    "sample_limit": Cause.SAMPLE_LIMIT_CHANGED,
    "analyses": Cause.ANALYSES_CHANGED,
    "library_strategies": Cause.POLICY_CHANGED,
    "library_strategy_policy": Cause.POLICY_CHANGED,
    "library_source_policy": Cause.POLICY_CHANGED,
    "assembler": Cause.ASSEMBLER_CHANGED,
    "run_assemblers": Cause.ASSEMBLER_CHANGED,
    "host_genomes": Cause.HOSTS_CHANGED,
    "coassemblies": Cause.COASSEMBLIES_CHANGED,
}
SETS = {"publications": Cause.PUBLICATIONS_CHANGED, "super_studies": Cause.SUPER_STUDIES_CHANGED}
KNOWN = {*RUN_FIELDS, "biome", "is_private", "webin_owner", *VALUES, *SETS}


@cache
def _defaults() -> dict[str, Any]:
    """StudyConfig's defaults (JSON form): a record made before a field existed had it so."""
    required = {n: f for n, f in StudyConfig.model_fields.items() if f.is_required()}
    dummy = StudyConfig.model_construct(**dict.fromkeys(required, ""))
    return {k: v for k, v in dummy.model_dump(mode="json").items() if k not in required}


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "[]"
    return str(value)


def _change(name: str, old: dict, new: dict) -> str:
    return f"{name} {_show(old.get(name))} -> {_show(new.get(name))}"


def _event(time: Any, cause: Cause, message: str, run: str | None = None) -> dict:
    return {
        "time": time,
        "rule": RULE,
        "event": EVENT,
        "cause": str(cause),
        "run": run,
        "message": message,
    }


def _included(run: str, config: dict) -> bool:
    include = config.get("include_runs")
    return (include is None or run in include) and run not in (config.get("exclude_runs") or [])


def _named_runs(config: dict) -> set[str]:
    return {r for f in RUN_FIELDS for r in (config.get(f) or [])}


def _run_changes(time: Any, old: dict, new: dict, runs: set[str]) -> list[dict]:
    """One event per run (of `runs`, or named in either config) whose inclusion changed, then
    one (run None) when `include_runs` starts or stops restricting the runs no list names."""
    named = sorted(runs | _named_runs(old) | _named_runs(new))
    out = []
    for run in named:
        before, after = _included(run, old), _included(run, new)
        if before != after:
            cause = Cause.RUN_INCLUDED if after else Cause.RUN_EXCLUDED
            out.append(_event(time, cause, f"run {run} {'included' if after else 'excluded'}", run))
    was, will = old.get("include_runs"), new.get("include_runs")
    if was is None and will is not None:
        only = _show(sorted(will)) if will else "none"
        message = f"include_runs set: every other run excluded (only {only})"
        out.append(_event(time, Cause.RUN_EXCLUDED, message))
    elif was is not None and will is None:
        message = "include_runs removed: every run not in exclude_runs included"
        out.append(_event(time, Cause.RUN_INCLUDED, message))
    return out


def _privacy_changes(time: Any, old: dict, new: dict) -> list[dict]:
    out = []
    if bool(old.get("is_private")) != bool(new.get("is_private")):
        if new.get("is_private"):
            message = f"made private (owner {_show(new.get('webin_owner'))})"
        else:
            message = "made public"
        out.append(_event(time, Cause.PRIVACY_CHANGED, message))
    if old.get("webin_owner") != new.get("webin_owner"):
        message = f"owner {_show(old.get('webin_owner'))} -> {_show(new.get('webin_owner'))}"
        out.append(_event(time, Cause.OWNER_CHANGED, message))
    return out


def _set_change(time: Any, name: str, cause: Cause, old: list, new: list) -> list[dict]:
    added = sorted(set(new) - set(old), key=str)
    removed = sorted(set(old) - set(new), key=str)
    parts = []
    if added:
        parts.append(f"{name} added {_show(added)}")
    if removed:
        parts.append(f"{name} removed {_show(removed)}")
    return [_event(time, cause, "; ".join(parts))] if parts else []  # a new order is no change


def _same(a: Any, b: Any) -> bool:
    """Equal values; lists in any order (analyses, library strategies: their order means
    nothing)."""
    if isinstance(a, list) and isinstance(b, list):
        return sorted(map(str, a)) == sorted(map(str, b))
    return a == b


def config_changes(
    time: Any, old: dict, new: dict, runs: set[str] | frozenset[str] = frozenset()
) -> list[dict]:
    """The events of one edit, from the config recorded before (`old`) to `new`: runs, biome,
    privacy and owner, sample limit, analyses, policies, publications, super studies, other.
    `runs`: runs named by earlier configs too (a run an earlier `include_runs` left out is
    included again when `include_runs` goes)."""
    defaults = _defaults()
    old, new = defaults | old, defaults | new
    out = _run_changes(time, old, new, set(runs))
    if old.get("biome") != new.get("biome"):
        out.append(_event(time, Cause.BIOME_CHANGED, _change("biome", old, new)))
    out += _privacy_changes(time, old, new)
    for name, cause in VALUES.items():
        if not _same(old.get(name), new.get(name)):
            out.append(_event(time, cause, _change(name, old, new)))
    for name, cause in SETS.items():
        out += _set_change(time, name, cause, old.get(name) or [], new.get(name) or [])
    for name in sorted((set(old) | set(new)) - KNOWN):
        if not _same(old.get(name), new.get(name)):
            out.append(_event(time, Cause.OTHER, _change(name, old, new)))
    return out


def change_events(history: list[dict]) -> list[dict]:
    """One event per operator change between consecutive recorded configs, oldest first.

    Each event: `time` (when the new config was recorded), `rule` ("study_config"), `event`
    ("config_changed"), `cause` (a `Cause`), `run` (the run a run exclusion or inclusion is
    about, else None) and `message` (one line, e.g. "biome root:A -> root:B"). The first
    recording is not a change; records without a config mapping are skipped. Pure.
    """
    records = [h for h in history if isinstance(h.get("config"), dict)]
    out = []
    named: set[str] = set()
    for before, after in zip(records, records[1:], strict=False):
        named |= _named_runs(before["config"])
        out += config_changes(after.get("time"), before["config"], after["config"], named)
    return out


def record_config(history: Path, config: dict, time: str | None = None) -> bool:
    """Append `{"time", "config"}` to the history when `config` differs from the last one
    recorded (or none is); whether it did. Two writers at once can at worst record the same
    config twice, which `change_events` reads as no change."""
    records = [h for h in read_jsonl(history) if isinstance(h.get("config"), dict)]
    if records and records[-1]["config"] == config:
        return False
    append_jsonl(history, {"time": time or now(), "config": config})
    return True
