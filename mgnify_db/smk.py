"""The adapter the Snakefile calls in the head process: config, plans, resources, loads.

Business rules live elsewhere (plan, state, jobs, catalogue); this module only wires them to
Snakemake's callables, so that workflow/rules/common.smk stays a list of one-liners.
"""

from __future__ import annotations

import json
import logging
import os
import re
import resource as rusage
import shutil
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from .config import (
    ConfigError,
    GlobalConfig,
    StoreKind,
    StudyConfig,
    check_references,
    deep_merge,
    parse_global,
)
from .config import load_studies as load_studies_dir
from .ena.download import file_url
from .io import read_json, write_json, write_text_atomic
from .jobs import Job, decide, events_path, read_events, reconcile_slurm
from .jobs.memory import start_memory
from .paths import StudyPaths, pattern
from .pipelines import PIPELINES, REFERENCE_RULES, RUN_RULES, all_rules, rule_spec
from .plan import StudyPlan, plan_study

__all__ = ["ConfigError", "load_config", "load_studies", "plan_studies"]

log = logging.getLogger(__name__)
ENV_OVERRIDES = {"MGNIFY_ENA_PORTAL_URL": ("ena", "portal_url")}
# When a job would only short-circuit (its gate failed upstream), ask for this little.
GATED_MEM_MB, GATED_RUNTIME_MIN = 300, 5


def load_config(config: dict, source: str | None = None) -> GlobalConfig:
    """Validate Snakemake's merged config; env vars in ENV_OVERRIDES win (for the mirror)."""
    data = dict(config)
    for var, (section, key) in ENV_OVERRIDES.items():
        if value := os.environ.get(var):
            data = deep_merge(data, {section: {key: value}})
    return parse_global(data, source or "config/config.yaml (with --config/--configfile)")


def config_source(configfiles) -> str:
    """How to name the merged config in an error: the config files Snakemake read."""
    files = [str(f) for f in configfiles or []] or ["config/config.yaml"]
    return " + ".join(dict.fromkeys(files)) + " (merged)"


def load_studies(cfg: GlobalConfig) -> dict[str, StudyConfig]:
    studies = load_studies_dir(Path(cfg.studies_dir))
    if not studies:
        raise ConfigError(f"{cfg.studies_dir}: no study files (<ACCESSION>.yaml) found")
    check_references(cfg, studies)
    return studies


def paths_of(value: str | list[str]) -> list[Path]:
    """A rule's named input or output as paths: one path, or a list of them."""
    return [Path(value)] if isinstance(value, str) else [Path(v) for v in value]


def unit_pattern(plans: Mapping[str, StudyPlan]) -> str:
    """The `run` wildcard's constraint: a run accession or a co-assembly's name."""
    names = sorted({name for plan in plans.values() for name in plan.config.coassemblies})
    # RUN_ACCESSION's `\d{6,}` cannot go here: Snakemake reads braces in a constraint as a
    # wildcard, and no rule then matches
    return "|".join([r"[EDS]RR\d+", *(re.escape(n) for n in names)])


# -- plans -------------------------------------------------------------------------------------
def fetch_metadata(cfg: GlobalConfig, study: str, private: bool | None = None) -> Path:
    """Fetch a study's ENA metadata into ena.json (recorded as `ena_metadata` job events);
    `private` (the study file's `is_private`) says whether to use the data-hub account."""
    from .steps import ena_metadata

    paths = StudyPaths(Path(cfg.results_dir), study)
    out = paths.path("ena")
    job = Job(
        rule="ena_metadata",
        events=events_path(paths.path("study_jobs"), "ena_metadata"),
        attempt=None,
        mem_mb=None,
        threads=1,
    )
    start = time.monotonic()
    ena_metadata(cfg=cfg, study=study, out=out, job=job, private=private)
    seconds = time.monotonic() - start
    rss_mb = rusage.getrusage(rusage.RUSAGE_SELF).ru_maxrss / 1024
    # The same columns as Snakemake's benchmark files (`mgnify-db timings` reads them all).
    write_text_atomic(
        paths.path("study_benchmark", rule="ena_metadata"),
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
        f"{seconds:.2f}\t{time.strftime('%H:%M:%S', time.gmtime(seconds))}\t{rss_mb:.2f}"
        "\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n",
    )
    return out


def plan_studies(
    cfg: GlobalConfig, studies: Mapping[str, StudyConfig], *, fetch: bool = True
) -> tuple[dict[str, StudyPlan], dict[str, str]]:
    """Plans of every study; ENA metadata is fetched first for studies that have none.

    Returns (plans, problems): a study whose metadata cannot be fetched is left out, with its
    one-line reason, so that the others go on.
    """
    plans: dict[str, StudyPlan] = {}
    problems: dict[str, str] = {}
    record_memory_policy(cfg)
    for acc, study in studies.items():
        ena_json = StudyPaths(Path(cfg.results_dir), acc).path("ena")
        try:
            if not ena_json.exists():
                if not fetch:
                    problems[acc] = "no ENA metadata yet"
                    continue
                fetch_metadata(cfg, acc, private=study.is_private)
            plans[acc] = plan_study(study, ena_json.read_bytes())
        except Exception as e:  # noqa: BLE001 - reported per study, in one line
            problems[acc] = f"{type(e).__name__}: {e}".splitlines()[0][:300]
            if not ena_json.exists():
                pending = StudyPaths(Path(cfg.results_dir), acc).path("pending_config")
                try:
                    write_json(pending, study.model_dump(mode="json"))
                except OSError:
                    pass
    return plans, problems


def record_memory_policy(cfg: GlobalConfig) -> None:
    """Keep the memory policy in the results (rewritten only when it changes): the catalogue
    explains each attempt's memory with it, so a rebuild needs no config."""
    path = Path(pattern("memory_policy", cfg.results_dir))
    data = cfg.memory.model_dump(mode="json")
    if read_json(path) != json.loads(json.dumps(data)):
        write_json(path, data)


# -- resources ---------------------------------------------------------------------------------
def _spec(rule: str):
    spec = rule_spec(rule)
    if spec is None:
        raise ConfigError(f"no rule {rule!r} (known: {', '.join(sorted(all_rules()))})")
    return spec


def resource(cfg: GlobalConfig, rule: str, key: str) -> int:
    value = cfg.resources.get(rule, {}).get(key)
    return int(value) if value is not None else int(getattr(_spec(rule), key))


def threads(cfg: GlobalConfig, rule: str) -> int:
    key = _spec(rule).threads
    return int(getattr(cfg.threads, key)) if key else 1


def gated(results: Path, study: str, run: str | None, rule: str) -> bool:
    """True when the run failed QC and `rule` comes after QC: its job only short-circuits."""
    from .state import run_qc

    if not run or rule in RUN_RULES:
        return False
    qc = run_qc(StudyPaths(Path(results), study), run)
    return qc is not None and not qc.get("passed")


def start_mb(cfg: GlobalConfig, rule: str, plan: StudyPlan, run: str | None) -> int:
    """First-attempt memory: per rule from config; an assembler's from the study's override or
    the assembler x biome heuristic, scaled by the run's bases (from ENA)."""
    spec = _spec(rule)
    if not spec.assembler:
        return resource(cfg, rule, "mem_mb")
    if plan.config.assembly_mem_mb:
        return plan.config.assembly_mem_mb
    if "mem_mb" in cfg.resources.get(rule, {}):
        return resource(cfg, rule, "mem_mb")
    # a co-assembly's reads are all its runs'
    members = [plan.runs[r] for r in plan.members(run or "") if r in plan.runs]
    bases = sum(r.base_count or 0 for r in members)
    return start_memory(cfg.memory, spec.assembler, plan.config.biome, bases)


def memory_mb(
    cfg: GlobalConfig,
    rule: str,
    plan: StudyPlan,
    wildcards: Mapping[str, str],
    attempt: int,
    *,
    record: bool,
) -> int:
    """This attempt's memory: the start value, grown only after out-of-memory failures (the
    job's own, or found in its Slurm log: OverMemoryKill leaves nothing else)."""
    results = Path(cfg.results_dir)
    run = wildcards.get("run")
    if attempt == 1 and gated(results, plan.accession, run, rule):
        return GATED_MEM_MB
    base = start_mb(cfg, rule, plan, run)
    if attempt == 1:  # no earlier failure of this series counts: no events to read
        return decide([], base, 1, cfg.memory).mem_mb
    paths = StudyPaths(results, plan.accession)
    events_file = events_path(paths.path("jobs", run), rule)
    if record:
        reconcile_slurm(events_file, paths.path("slurm_logs"), rule, dict(wildcards))
    return decide(read_events(events_file), base, attempt, cfg.memory).mem_mb


# analysis_taxonomy's outputs (path names; the bgzipped ones get their .gzi beside them, undeclared)
TAXONOMY_OUTPUTS = (
    "rrna_gff",
    "rrna_counts",
    "rrna_annotations",
    "ssu_fasta",
    "lsu_fasta",
    "ssu_annotations",
    "contig_taxonomy",
    "contig_annotations",
    "annotation_gff",
)


def source_identity(source) -> object:
    """What identifies a reference source for Snakemake's params (a change reruns its rule):
    its checksum when given (the same bytes from a moved mirror rebuild nothing), else where
    it is; recursively for a model holding sources (kraken2's genomes and taxonomy)."""
    from pydantic import BaseModel

    from .config import Source

    if isinstance(source, Source):
        rest = source.model_dump(exclude={"url", "path", "sha256", "md5"})
        if source.sha256 or source.md5:
            return {"sha256": source.sha256, "md5": source.md5, **rest}
        return {"location": source.location, **rest}
    if isinstance(source, BaseModel):
        return {k: source_identity(getattr(source, k)) for k in type(source).model_fields}
    if isinstance(source, list):
        return [source_identity(s) for s in source]
    return source


def decontamination_genomes(cfg: GlobalConfig, plan: StudyPlan) -> list[str]:
    """The genomes whose reads are removed from the study's runs (its hosts, by biome or its
    own `host_genomes`, and the contaminants); [] = its runs are not decontaminated."""
    return cfg.references.decontamination.for_biome(plan.config.biome, plan.config.host_genomes)


def decontamination_key(genomes: list[str]) -> str:
    from .references import decontamination_key as key

    return key(genomes)


def runtime_min(cfg: GlobalConfig, rule: str, study: str, run: str | None, attempt: int = 1) -> int:
    if attempt == 1 and gated(Path(cfg.results_dir), study, run, rule):
        return GATED_RUNTIME_MIN
    return resource(cfg, rule, "runtime")


# -- catalogue loads (local rules on the head node) ---------------------------------------------
def catalogue_slots(cfg: GlobalConfig) -> int:
    """The `catalogue` resource a load takes: 1 of the profiles' 1 with SQLite (one writer at a
    time), none with PostgreSQL (loads run side by side; the store queues them per study)."""
    return 0 if cfg.store_kind is StoreKind.POSTGRESQL else 1


def load_study(cfg: GlobalConfig, plan: StudyPlan, marker: Path | None) -> dict:
    from .catalogue import load_study as load
    from .catalogue.load import open_catalogue

    with open_catalogue(cfg) as store:
        counts = load(store, Path(cfg.results_dir), cfg, plan)
    if marker is not None:
        write_json(marker, {"study": plan.accession, "rows": counts})
    return counts


def load_run(cfg: GlobalConfig, plan: StudyPlan, run: str, marker: Path) -> dict:
    from .catalogue import load_run as load
    from .catalogue.load import open_catalogue

    with open_catalogue(cfg) as store:
        counts = load(store, Path(cfg.results_dir), cfg, plan, run)
    write_json(marker, {"study": plan.accession, "run": run, "rows": counts})
    return counts


def after_failure(cfg: GlobalConfig, plans: Mapping[str, StudyPlan]) -> None:
    """After a failed workflow: record failures only Slurm saw, then reload every study so the
    catalogue shows them. Never raises (it must not mask the workflow's own error)."""
    results = Path(cfg.results_dir)
    for acc, plan in plans.items():
        paths = StudyPaths(results, acc)
        try:
            if paths.path("slurm_logs").is_dir():
                for run in plan.units:
                    jobs_dir = paths.path("jobs", run)
                    for rule in all_rules():
                        f = events_path(jobs_dir, rule)
                        if f.exists():
                            reconcile_slurm(
                                f, paths.path("slurm_logs"), rule, {"study": acc, "run": run}
                            )
            if not paths.path("study_config").exists():
                continue
            counts = load_study(cfg, plan, None)
            print(f"catalogue: reloaded {acc} after the failure: {counts}", file=sys.stderr)
        except Exception as e:  # noqa: BLE001
            print(f"catalogue: could not reload {acc}: {e}", file=sys.stderr)


def load_pending(cfg: GlobalConfig, studies: Mapping[str, str]) -> None:
    """Catalogue stubs of the studies that could not be planned (their metadata fetch failed),
    so the failure shows there too. Never raises."""
    from .catalogue import load_study as load
    from .catalogue import open_store

    for acc in studies:
        try:
            with open_store(cfg.catalogue) as store:
                load(store, Path(cfg.results_dir), cfg, study=acc)
        except Exception as e:  # noqa: BLE001
            print(f"catalogue: could not record {acc}: {e}", file=sys.stderr)


def failure_lines(cfg: GlobalConfig) -> list[str]:
    """One line per failed run, assembly or analysis in the catalogue: study/run, rule, cause."""
    from .catalogue import CatalogueError, open_store

    lines = []
    try:
        with open_store(cfg.catalogue, create=False) as store:
            for table in ("runs", "assemblies", "analyses"):
                run = "accession" if table == "runs" else "run"
                for r in store.query(
                    f"select s.ena_accession study, t.{run} run, t.status_reason reason "
                    f"from {table} t join studies s on s.accession = t.study "
                    "where t.status = 'failed' and t.is_suppressed = 0 order by 1, 2"
                ):
                    lines.append(f"error: {r['study']}/{r['run']}: {r['reason']}")
    except CatalogueError:
        pass
    return list(dict.fromkeys(lines))


def results_dir_problem(cfg: GlobalConfig) -> str | None:
    """Why results cannot be written, or None."""
    results = Path(cfg.results_dir)
    try:
        results.mkdir(parents=True, exist_ok=True)
        probe = results / f".preflight.{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        return f"{results}: the results dir is not writable ({e.strerror or e})"
    return None


def catalogue_problem(cfg: GlobalConfig) -> str | None:
    """Why a PostgreSQL catalogue cannot be used (unreachable, refused, another schema), or None
    (a SQLite catalogue is a file the loads make)."""
    from .catalogue import CatalogueError, open_store
    from .catalogue.store import SchemaMismatch

    if cfg.store_kind is not StoreKind.POSTGRESQL:
        return None
    try:
        with open_store(cfg.catalogue):
            return None
    except SchemaMismatch:
        return None  # the first load rebuilds it from the result files
    except CatalogueError as e:
        return f"catalogue: {e}"


def preflight(
    cfg: GlobalConfig, plans: Mapping[str, StudyPlan], *, check_tools: bool = True
) -> list[str]:
    """Problems that would make jobs fail, found before the first one starts: an unwritable
    results dir, tools missing from PATH, an unreachable ENA download host."""
    problems = [p] if (p := results_dir_problem(cfg)) else []
    if p := catalogue_problem(cfg):
        problems.append(p)
    results = Path(cfg.results_dir)
    pending = [
        (acc, run)
        for acc, plan in plans.items()
        for run in plan.eligible
        if not StudyPaths(results, acc).path("loaded_run", run).exists()
    ]
    if pending and check_tools:
        rules = set(RUN_RULES) | set(REFERENCE_RULES)
        for plan in plans.values():
            for analysis in plan.config.analyses:
                rules |= set(PIPELINES[analysis].rules)
        missing = sorted({b for r in rules for b in _spec(r).binaries if shutil.which(b) is None})
        if missing:
            problems.append(
                f"not on PATH: {', '.join(missing)} (install them, or run with "
                "--software-deployment-method conda)"
            )
    to_download = [
        (acc, run)
        for acc, run in pending
        if not StudyPaths(results, acc).path("raw", run).exists() and plans[acc].fastq(run)
    ]
    if to_download:
        acc, run = to_download[0]
        url = file_url(plans[acc].decisions[run].fastq[0], cfg.ena.download_scheme)
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443, "ftp": 21}.get(parts.scheme, 443)
        try:
            socket.create_connection((parts.hostname, port), timeout=10).close()
        except OSError as e:
            problems.append(
                f"{acc}/{run}: ENA's download host {parts.hostname}:{port} is unreachable "
                f"({e.strerror or type(e).__name__}); {len(to_download)} run(s) to download"
            )
    return problems


def checks_tools(workflow) -> bool:
    """Whether tools must be on this machine's PATH: local jobs, no conda deployment (on a
    cluster they may exist only on the compute nodes)."""
    plugin = getattr(workflow, "executor_plugin", None)
    local = getattr(plugin, "name", "local") in ("local", "dryrun", "touch")
    return local and not uses_conda(workflow)


def uses_conda(workflow) -> bool:
    """Whether the workflow deploys tools itself (then PATH need not have them)."""
    methods = getattr(getattr(workflow, "deployment_settings", None), "deployment_method", ())
    return any(str(m).lower().endswith("conda") for m in methods or ())


# -- publish (local rule, after every load) ----------------------------------------------------
def publish(cfg: GlobalConfig, marker: Path | None = None, log: Path | None = None) -> dict:
    """Write public.db (`cfg.publish.public_db`) from the catalogue: its public, unsuppressed
    records only, swapped in atomically (a running `mgnify-db serve` follows it). A PostgreSQL
    catalogue is first exported to catalogue.db (`cfg.catalogue_db`) for curators. The rows of
    each table go to `marker` (the rule's output) and `log`."""
    from .catalogue.publish import publish_store

    counts = publish_store(cfg.catalogue, cfg.catalogue_db, Path(cfg.publish.public_db))
    text = json.dumps({"public_db": cfg.publish.public_db, "rows": counts})
    for path in filter(None, (log, marker)):
        write_text_atomic(path, text)
    return counts
