"""What the Snakefile needs from the library: config loading, decisions, resources."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from .config import ConfigError, GlobalConfig, StudyConfig, deep_merge, parse_global
from .config import load_studies as load_studies_dir
from .eligibility import Decision, decide_all
from .ena import StudyMetadata
from .resources import memory_for_attempt, start_memory
from .results import read_json

__all__ = ["ConfigError", "load_config", "load_studies", "decisions", "qc_passed"]

# Start memory (MB) and runtime (min) per rule; config `resources:` overrides either.
DEFAULT_RESOURCES: dict[str, dict[str, int]] = {
    "ena_metadata": {"mem_mb": 400, "runtime": 15},
    "ena_download": {"mem_mb": 400, "runtime": 120},
    "qc_fastp": {"mem_mb": 2000, "runtime": 120},
    "assembly_megahit": {"mem_mb": 2000, "runtime": 1440},
    "analysis_cds": {"mem_mb": 1000, "runtime": 240},
    "analysis_rrna": {"mem_mb": 1000, "runtime": 240},
}
ENV_OVERRIDES = {"MGNIFY_ENA_PORTAL_URL": ("ena", "portal_url")}


def load_config(config: dict) -> GlobalConfig:
    """Validate Snakemake's merged config; env vars in ENV_OVERRIDES win (for the mirror)."""
    data = dict(config)
    for var, (section, key) in ENV_OVERRIDES.items():
        if value := os.environ.get(var):
            data = deep_merge(data, {section: {key: value}})
    return parse_global(data, "config/config.yaml (with --config/--configfile)")


def load_studies(cfg: GlobalConfig) -> dict[str, StudyConfig]:
    studies = load_studies_dir(Path(cfg.studies_dir))
    if not studies:
        raise ConfigError(f"{cfg.studies_dir}: no study files (<ACCESSION>.yaml) found")
    return studies


@lru_cache(maxsize=256)
def _metadata(path: Path, mtime: float) -> StudyMetadata:
    return StudyMetadata.model_validate(read_json(path))


def decisions(ena_json: Path, study: StudyConfig) -> list[Decision]:
    meta = _metadata(ena_json, ena_json.stat().st_mtime)
    return decide_all(meta.runs, study)


def qc_passed(qc_dir: Path) -> bool:
    data = read_json(qc_dir / "qc.json")
    if data is None:
        raise FileNotFoundError(f"{qc_dir}/qc.json missing: QC did not finish")
    return bool(data.get("passed"))


def resource(cfg: GlobalConfig, rule: str, key: str) -> int:
    value = cfg.resources.get(rule, {}).get(key, DEFAULT_RESOURCES.get(rule, {}).get(key))
    if value is None:
        raise ConfigError(f"config: resources.{rule}.{key}: not set and no default")
    return int(value)


def runtime_min(cfg: GlobalConfig, rule: str) -> int:
    return resource(cfg, rule, "runtime")


def start_mb(
    cfg: GlobalConfig, rule: str, study: StudyConfig, ena_json: Path | None, run: str | None
) -> int:
    """First-attempt memory: per rule from config; for assembly the study's override, else the
    assembler x biome heuristic scaled by the run's bases (from ENA)."""
    if rule != "assembly_megahit":
        return resource(cfg, rule, "mem_mb")
    if study.assembly_mem_mb:
        return study.assembly_mem_mb
    if "mem_mb" in cfg.resources.get(rule, {}):
        return resource(cfg, rule, "mem_mb")
    bases = 0
    if ena_json is not None and run:
        meta = _metadata(ena_json, ena_json.stat().st_mtime)
        bases = next((r.base_count or 0 for r in meta.runs if r.run_accession == run), 0)
    return start_memory(cfg.memory, "megahit", study.biome, bases)


def memory_mb(
    cfg: GlobalConfig,
    rule: str,
    base: int,
    attempt: int,
    wildcards: dict,
    memory_log: Path,
    slurm_logs: Path,
    *,
    record: bool = True,
) -> int:
    """Memory for this attempt: the start value, grown only after out-of-memory failures
    (recorded by the jobs, or found in the Slurm logs: OverMemoryKill leaves nothing else)."""
    return memory_for_attempt(
        base,
        attempt,
        memory_log,
        slurm_log_dir=slurm_logs,
        rule=rule,
        wildcards=wildcards,
        policy=cfg.memory,
        record=record,
    )


def load_studies_into_catalogue(cfg: GlobalConfig, studies: dict[str, StudyConfig]) -> None:
    """Best-effort load of every study that has results; never raises (used in `onerror`)."""
    import sys

    from .catalogue import load, open_db
    from .results import StudyPaths

    results = Path(cfg.results_dir)
    for study in studies:
        paths = StudyPaths(results, study)
        if not (paths.path("ena").exists() and paths.path("study_config").exists()):
            continue
        try:
            db = open_db(cfg.catalogue_path)
            try:
                counts = load(db, results, study)
            finally:
                db.close()
            print(f"catalogue: reloaded {study} after the failure: {counts}", file=sys.stderr)
        except Exception as e:  # noqa: BLE001 - must not mask the workflow's own error
            print(f"catalogue: could not reload {study}: {e}", file=sys.stderr)
