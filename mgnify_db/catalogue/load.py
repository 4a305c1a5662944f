"""Loading the catalogue from results: a study, one run, or everything (rebuild)."""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..config import GlobalConfig, StoreKind, StudyConfig, sqlite_path, store_kind
from ..ids import Ledger
from ..io import read_json
from ..jobs import MemoryPolicy
from ..paths import PATTERNS, StudyPaths, ledger_path, studies_in
from ..plan import StudyPlan, recorded_plan
from ..state import coassembly_state, run_state
from .rows import pending_study_rows, run_rows, study_accession, study_rows
from .store import CatalogueError, SchemaMismatch, SqliteStore, SqlStore, open_store

log = logging.getLogger(__name__)


def recorded_config(results: Path, cfg: GlobalConfig) -> GlobalConfig:
    """`cfg` with the memory policy the jobs ran under (recorded in the results), if any."""
    data = read_json(Path(PATTERNS["memory_policy"].format(results=results)))
    return cfg.model_copy(update={"memory": MemoryPolicy.model_validate(data)}) if data else cfg


def counts(rows: dict[str, list]) -> dict[str, int]:
    return {t: len(r) for t, r in rows.items()}


def load_study(
    store: SqlStore,
    results: Path,
    cfg: GlobalConfig,
    plan: StudyPlan | None = None,
    study: str | None = None,
) -> dict[str, int]:
    """Replace a study's rows with those its files give now (one transaction)."""
    cfg = recorded_config(results, cfg)
    ledger = Ledger.shared(ledger_path(results))
    paths = StudyPaths(Path(results), plan.accession if plan else study)
    if plan is None and not paths.path("ena").exists() and paths.path("pending_config").exists():
        config = StudyConfig.model_validate(read_json(paths.path("pending_config")))
        mgys = study_accession(config.accession, ledger)
        made = store.replace_study(mgys, lambda: pending_study_rows(config, results, ledger, cfg))
        return counts(made)
    plan = plan or recorded_plan(results, study)
    mgys = study_accession(plan.accession, ledger)
    rows = store.replace_study(mgys, lambda: study_rows(plan, results, ledger, cfg))
    return counts(rows)


def load_run(
    store: SqlStore, results: Path, cfg: GlobalConfig, plan: StudyPlan, run: str
) -> dict[str, int]:
    """Replace one run's rows, or a co-assembly's (`run` = its name); the study's own rows
    are loaded first if missing, and a co-assembly's runs' rows too."""
    cfg = recorded_config(results, cfg)
    ledger = Ledger.shared(ledger_path(results))
    mgys = study_accession(plan.accession, ledger)
    if run in plan.coassemblies:
        return load_coassembly(store, results, cfg, plan, run, ledger, mgys)
    sample = plan.runs[run].sample_accession if run in plan.runs else None
    if not any(store.query("select 1 from studies where accession = ?", [mgys])) or not any(
        store.query("select 1 from samples where accession = ?", [sample])
    ):
        # the study (or, after an ENA refresh, the run's sample) is not loaded yet
        return load_study(store, results, cfg, plan)
    if run not in plan.decisions:
        raise CatalogueError(f"{plan.accession}: no run {run} in its ENA metadata")
    paths = StudyPaths(Path(results), plan.accession)

    def make_rows():
        state = run_state(paths, plan, run, ledger)
        return run_rows(plan, state, results, ledger, mgys, cfg)

    return counts(store.replace_run(mgys, run, make_rows))


def load_coassembly(
    store: SqlStore,
    results: Path,
    cfg: GlobalConfig,
    plan: StudyPlan,
    name: str,
    ledger: Ledger,
    mgys: str,
) -> dict[str, int]:
    """Replace a co-assembly's rows; its runs' rows are loaded first where missing (its
    assembly links them)."""
    members = plan.coassemblies[name]
    loaded = {
        r["accession"]
        for r in store.query(
            "select accession from runs where study = ? and accession in"
            f" ({', '.join('?' * len(members))})",
            [mgys, *members],
        )
    }
    for run in members:
        if run not in loaded:
            load_run(store, results, cfg, plan, run)
    paths = StudyPaths(Path(results), plan.accession)

    def make_rows():
        state = coassembly_state(paths, plan, name, ledger)
        return run_rows(plan, state, results, ledger, mgys, cfg)

    return counts(store.replace_run(mgys, name, make_rows, coassembly=True))


def rebuild(
    catalogue: str | Path, results: Path, cfg: GlobalConfig, *, allow_empty: bool = False
) -> dict:
    """Recreate the catalogue (a SQLite path or URL, or a PostgreSQL URL) from the result files
    alone, then swap it in atomically: a SQLite file by rename; a PostgreSQL catalogue built in
    a SQLite file first, then moved in with one transaction.

    Refuses (CatalogueError) when `results` holds no study, unless `allow_empty`: a mistyped
    path must never replace a catalogue with an empty one.
    """
    results = Path(results)
    studies = studies_in(results)
    if not studies and not allow_empty:
        raise CatalogueError(
            f"{results}: no study results found (results/studies/<ACC>/ena.json); "
            "refusing to replace the catalogue with an empty one (--allow-empty to force)"
        )
    if store_kind(str(catalogue)) is StoreKind.POSTGRESQL:
        from .pg_store import PostgresStore

        with tempfile.TemporaryDirectory(prefix="mgnify-rebuild-") as tmp:
            built = Path(tmp) / "catalogue.db"
            totals = _build(built, results, cfg, studies)
            with open_store(built, create=False) as source:
                target = PostgresStore(str(catalogue), schema=False)
                try:
                    target.rebuild_from(source)
                finally:
                    target.close()
        return totals
    db_path = sqlite_path(catalogue)
    tmp = db_path.with_name(f".{db_path.name}.{os.getpid()}.rebuild")
    totals = _build(tmp, results, cfg, studies)
    tmp.replace(db_path)
    for suffix in ("-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    return totals


def _build(path: Path, results: Path, cfg: GlobalConfig, studies: list[str]) -> dict[str, int]:
    """A new SQLite catalogue at `path` of `studies`' result files; the rows per table."""
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)
    totals: dict[str, int] = {}
    with open_store(path) as store:
        for study in studies:
            for t, n in load_study(store, results, cfg, study=study).items():
                totals[t] = totals.get(t, 0) + n
        store.checkpoint()
        store.db.execute("PRAGMA journal_mode = DELETE")
    return totals


@contextmanager
def open_catalogue(cfg: GlobalConfig) -> Iterator[SqlStore]:
    """The workflow's catalogue; one made by an older schema is first rebuilt from the files
    (results are the source of truth, so nothing is lost)."""
    if cfg.store_kind is StoreKind.POSTGRESQL:
        from .pg_store import REBUILD, PostgresStore, holding

        try:
            store: SqlStore = PostgresStore(cfg.catalogue)
        except SchemaMismatch as e:
            with holding(cfg.catalogue, REBUILD):  # one rebuild; other loaders wait, then open
                try:
                    store = PostgresStore(cfg.catalogue)
                except SchemaMismatch:
                    log.warning("catalogue: %s; rebuilding it now", e)
                    rebuild(cfg.catalogue, Path(cfg.results_dir), cfg, allow_empty=True)
                    store = PostgresStore(cfg.catalogue)
    else:
        path = cfg.catalogue_db
        try:
            store = SqliteStore(path)
        except SchemaMismatch as e:
            lock = path.with_name(f".{path.name}.rebuild.lock")
            with open(lock, "w") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)  # one rebuild; a second loader waits, then opens
                try:
                    store = SqliteStore(path)
                except SchemaMismatch:
                    log.warning("catalogue: %s; rebuilding it now", e)
                    rebuild(path, Path(cfg.results_dir), cfg, allow_empty=True)
                    store = SqliteStore(path)
    try:
        yield store
    finally:
        store.close()
