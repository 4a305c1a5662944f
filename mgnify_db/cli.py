"""`mgnify-db`: a CLI that mirrors the library (config, ena-mirror, demo, catalogue, serve)."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import tempfile
from collections.abc import MutableMapping
from difflib import get_close_matches
from pathlib import Path
from typing import NoReturn

import click
import yaml

from .config import (
    ConfigError,
    StoreKind,
    check_references,
    json_schemas,
    load_global,
    load_studies,
    sqlite_path,
    store_kind,
)

DEFAULT_CONFIG = Path("config/config.yaml")
METADATA = Path(__file__).parent / "web" / "metadata.yaml"
# The browse pages' templates (home, row pages, /biomes): a template dir, so that they win over
# plugins' own (datasette-search-all's index.html).
TEMPLATES = Path(__file__).parent / "web" / "templates"


@click.group()
@click.version_option(package_name="mgnify-snake")
def cli():
    """MGnify's metagenomics production system: catalogue, ENA mirror and tools."""


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def one_line(exc: BaseException) -> str:
    """An exception in one line (a pydantic error: its first problem, located)."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{exc.title}: {'.'.join(map(str, err['loc'])) or '(top level)'}: {err['msg']}"
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


# --- config -----------------------------------------------------------------------------------
@cli.group()
def config():
    """Check config files and write their JSON schemas."""


@config.command("check")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_CONFIG,
    show_default=True,
)
@click.option(
    "--studies",
    "studies_dir",
    type=click.Path(path_type=Path),
    help="studies dir [default: the config's studies_dir]",
)
def config_check(config_path: Path, studies_dir: Path | None):
    """Validate the global config and every study file; one line per problem.

    \b
    Example:
        mgnify-db config check --studies demo/studies
    """
    try:
        cfg = load_global(config_path)
        studies = load_studies(studies_dir or Path(cfg.studies_dir))
        check_references(
            cfg.model_copy(update={"studies_dir": str(studies_dir or cfg.studies_dir)}), studies
        )
    except ConfigError as e:
        fail(str(e))
    click.echo(f"ok: {config_path} and {len(studies)} studies: {', '.join(studies) or '-'}")


@config.command("schema")
@click.option(
    "--write",
    "out_dir",
    type=click.Path(path_type=Path),
    help="write *.schema.json files into this dir (default: print)",
)
def config_schema(out_dir: Path | None):
    """The JSON schemas of config.yaml and study files, generated from the pydantic models."""
    for name, schema in json_schemas().items():
        text = json.dumps(schema, indent=2, sort_keys=True) + "\n"
        if out_dir:
            (out_dir / name).write_text(text)
            click.echo(f"wrote {out_dir / name}")
        else:
            click.echo(text)


# --- ENA mirror and demo ----------------------------------------------------------------------
@cli.group("ena-mirror")
def ena_mirror():
    """The project's offline ENA (Portal API subset + FASTQ files)."""


@ena_mirror.command("serve")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8123, type=int, show_default=True, envvar="MGNIFY_MIRROR_PORT")
def ena_mirror_serve(directory: Path, host: str, port: int):
    """Serve recorded ENA responses and FASTQ files from DIRECTORY until Ctrl-C."""
    from .dev.mirror import serve_forever

    try:
        serve_forever(directory, host, port)
    except FileNotFoundError as exc:  # not a mirror data directory (no portal/)
        raise click.ClickException(str(exc)) from None


@cli.group()
def demo():
    """The bundled demo study (reads simulated from real genomes)."""


@demo.command("build")
@click.argument("out_dir", type=click.Path(path_type=Path), default=Path("results/demo/ena"))
@click.option(
    "--scale",
    type=float,
    default=1.0,
    show_default=True,
    help="multiply every coverage (tests use less)",
)
def demo_build(out_dir: Path, scale: float):
    """Build the demo's ENA mirror directory (idempotent), and OUT_DIR/references/config.yaml:
    the `references:` config of its reference files (give it to snakemake with --configfile)."""
    from .dev.demo import build_demo, write_references_config

    built = build_demo(out_dir, scale=scale)
    write_references_config(built, built / "references" / "config.yaml")
    click.echo(built)


@demo.command("synthetic")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--accession", default="PRJEB90001", show_default=True, help="PRJEB<digits>")
@click.option("--runs", "n_runs", type=int, default=1000, show_default=True)
@click.option(
    "--samples-per-run",
    type=float,
    default=1.0,
    show_default=True,
    help="1: a sample per run; 0.25: one per 4 runs",
)
@click.option("--single", is_flag=True, help="single-end runs (default paired)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--fastq", is_flag=True, help="also write tiny FASTQ files (default: metadata only)")
def demo_synthetic(
    out_dir: Path,
    accession: str,
    n_runs: int,
    samples_per_run: float,
    single: bool,
    seed: int,
    fastq: bool,
):
    """Write a synthetic study of N WGS metagenomic runs as an ENA mirror dir (scale tests)."""
    from .dev.synthetic import write_synthetic_study

    try:
        out = write_synthetic_study(
            out_dir,
            accession,
            n_runs,
            samples_per_run=samples_per_run,
            paired=not single,
            seed=seed,
            fastq=fastq,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    click.echo(out)


# --- catalogue --------------------------------------------------------------------------------
@cli.group()
def catalogue():
    """Load, rebuild and dump the catalogue."""


db_option = click.option(
    "--catalogue",
    "--db",
    "db_path",
    metavar="PATH|URL",
    help="a SQLite file, sqlite:///PATH or postgresql://[USER@]HOST[:PORT]/DB"
    " [default: the config's `catalogue`]",
)
results_option = click.option(
    "--results", type=click.Path(path_type=Path), default=Path("results"), show_default=True
)


def store_errors() -> tuple[type[BaseException], ...]:
    """What the catalogue's database drivers raise (sqlite3's, psycopg's)."""
    from .catalogue.store import driver_errors

    return driver_errors()


def result_errors() -> tuple[type[BaseException], ...]:
    """What reading a study's result files can raise (unreadable, not JSON, not the model)."""
    from pydantic import ValidationError

    return (OSError, ValidationError, json.JSONDecodeError)


def store_problem(where: str | Path, exc: BaseException) -> str:
    """A database driver's error in one line, naming the catalogue (a URL without password)."""
    from .catalogue.pg_store import redacted

    if isinstance(exc, sqlite3.Error):
        if getattr(exc, "sqlite_errorname", "").startswith("SQLITE_READONLY"):
            return f"{where}: the catalogue is read-only ({exc})"
        return f"{where}: SQLite: {one_line(exc)}"
    return f"{redacted(str(where))}: PostgreSQL: {one_line(exc)}"


def catalogue_of(db_path: str | None, config_path: Path) -> str:
    """The catalogue a command works on: `--catalogue`, else the config's."""
    from .config import check_catalogue_url

    if not db_path:
        return _global(config_path).catalogue
    if "://" not in db_path:
        return db_path  # a SQLite file
    try:
        return check_catalogue_url(db_path)
    except ValueError as e:
        fail(f"--catalogue {db_path.split('@')[-1]}: {e}")


def is_postgres(catalogue: str) -> bool:
    return store_kind(catalogue) is StoreKind.POSTGRESQL


def check_catalogue(catalogue: str | Path, *, writing: bool = False) -> None:
    """Fail in one line unless `catalogue` is an mgnify-db catalogue (and, when `writing`, of
    this schema version). Looks read-only: a missing file or database, or another program's
    SQLite file, is never created or given the catalogue's tables."""
    from .catalogue.schema import SCHEMA_VERSION

    if is_postgres(str(catalogue)):
        from .catalogue.pg_store import PostgresStore
        from .catalogue.store import CatalogueError

        try:
            PostgresStore(str(catalogue), create=False).close()
        except CatalogueError as e:
            fail(str(e))
        return
    db_path = sqlite_path(catalogue)
    if not db_path.exists():
        fail(f"{db_path}: no catalogue here (run the workflow, or mgnify-db catalogue rebuild)")
    if db_path.is_dir():
        fail(f"{db_path}: is a directory, not a catalogue file")
    if db_path.stat().st_size == 0:
        fail(f"{db_path}: an empty file, not a catalogue")
    try:
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in conn.execute("select name from sqlite_master")}
            missing = sorted({"_meta", "studies"} - tables)
            version = None
            if not missing:
                row = conn.execute("select value from _meta where key = 'schema_version'")
                version = (row.fetchone() or [None])[0]
        finally:
            conn.close()
    except sqlite3.Error as e:
        fail(f"{db_path}: not readable as SQLite ({e})")
    if missing:
        fail(f"{db_path}: a SQLite file, not an mgnify-db catalogue (no {missing[0]} table)")
    if writing and str(version) != str(SCHEMA_VERSION):
        fail(
            f"{db_path}: catalogue schema version {version}, this mgnify-db writes version "
            f"{SCHEMA_VERSION} (mgnify-db catalogue rebuild makes a new one)"
        )


def config_option_for(help: str):
    """`--config` (the global config file), with what the command reads from it."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path),
        default=DEFAULT_CONFIG,
        show_default=True,
        help=help,
    )


config_option = config_option_for("global config (memory policy for the events' explanations)")


def _global(config_path: Path):
    from .config import GlobalConfig

    if not config_path.exists() and config_path == DEFAULT_CONFIG:
        return GlobalConfig()
    try:
        return load_global(config_path)
    except ConfigError as e:
        fail(str(e))


@catalogue.command("load")
@click.argument("study")
@db_option
@results_option
@config_option
@click.option("--run", "runs", multiple=True, help="only these runs")
def catalogue_load(
    study: str, db_path: str | None, results: Path, config_path: Path, runs: tuple[str, ...]
):
    """Load STUDY (its ENA accession; its result files) into the catalogue; idempotent.

    \b
    Example:
        mgnify-db catalogue load PRJEB00001 --run ERR0000001
    """
    from .catalogue import CatalogueError, load_run, load_study, open_store
    from .plan import PlanError, recorded_plan

    cfg = _global(config_path)
    db_path = catalogue_of(db_path, config_path)
    check_catalogue(db_path, writing=True)
    try:
        plan = recorded_plan(results, study)
        unknown = [r for r in runs if r not in plan.decisions]
        if unknown:
            fail(f"{study}: no run {', '.join(unknown)} in its ENA metadata")
        with open_store(db_path, create=False) as store:
            if runs:
                counts: dict = {}
                for run in runs:
                    for t, n in load_run(store, results, cfg, plan, run).items():
                        counts[t] = counts.get(t, 0) + n
            else:
                counts = load_study(store, results, cfg, plan)
    except (PlanError, CatalogueError) as e:
        fail(str(e))
    except store_errors() as e:
        fail(store_problem(db_path, e))
    except result_errors() as e:
        fail(f"{study}: its result files: {one_line(e)}")
    click.echo(json.dumps(counts))


@catalogue.command("rebuild")
@db_option
@results_option
@config_option
@click.option("--allow-empty", is_flag=True, help="replace the catalogue even with no study")
def catalogue_rebuild(db_path: str | None, results: Path, config_path: Path, allow_empty: bool):
    """Recreate the catalogue from the result files alone (same rows, same accessions).

    The new catalogue replaces the old one atomically (a SQLite file by rename, PostgreSQL in
    one transaction); `mgnify-db serve` picks it up. On any failure the old catalogue is left
    as it was.
    """
    from .catalogue import CatalogueError, rebuild
    from .catalogue.pg_store import redacted
    from .plan import PlanError

    cfg = _global(config_path)
    catalogue = catalogue_of(db_path, config_path)
    if not is_postgres(catalogue):
        path = sqlite_path(catalogue)
        if path.is_dir() or (path.exists() and path.stat().st_size):
            check_catalogue(path)  # never replace another program's file
        if path.parent.is_dir():
            try:
                tempfile.TemporaryFile(dir=path.parent).close()
            except OSError as e:
                fail(f"{path.parent}: cannot write a new catalogue here ({e.strerror or e})")
    try:
        totals = rebuild(catalogue, results, cfg, allow_empty=allow_empty)
    except CatalogueError as e:
        _remove_rebuild_leftovers(catalogue)
        fail(str(e))
    except (PlanError, *store_errors(), *result_errors()) as e:
        _remove_rebuild_leftovers(catalogue)
        fail(f"{redacted(catalogue)}: not rebuilt, left as it was: {one_line(e)}")
    click.echo(json.dumps(totals))


def _remove_rebuild_leftovers(catalogue: str) -> None:
    """The half-built file of a failed rebuild in this process (named as catalogue.load does;
    a PostgreSQL rebuild builds in a temporary directory, removed by itself)."""
    if is_postgres(catalogue):
        return
    db_path = sqlite_path(catalogue)
    tmp = db_path.with_name(f".{db_path.name}.{os.getpid()}.rebuild")
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)


@catalogue.command("dump")
@db_option
@config_option_for("global config: where the catalogue is")
@click.option("--table", "tables", multiple=True, help="only these tables")
@click.option("--canonical", is_flag=True, help="natural keys instead of accessions, no job ids")
def catalogue_dump(
    db_path: str | None, config_path: Path, tables: tuple[str, ...], canonical: bool
):
    """Print a JSON dump (rows sorted by key) for comparing catalogues."""
    from .catalogue import TABLES, CatalogueError, dump, open_store

    for table in tables:
        if table not in TABLES:
            near = get_close_matches(table, TABLES, 1)
            hint = f"did you mean {near[0]}? " if near else ""
            fail(f"no table {table!r} in the catalogue ({hint}tables: {', '.join(TABLES)})")
    db_path = catalogue_of(db_path, config_path)
    check_catalogue(db_path)
    try:
        with open_store(db_path, create=False) as store:
            data = dump(store, tables or tuple(TABLES), canonical=canonical)
    except CatalogueError as e:
        fail(str(e))
    except store_errors() as e:
        fail(store_problem(db_path, e))
    click.echo(json.dumps(data, indent=1, sort_keys=True, default=str))


@catalogue.command("status")
@db_option
@config_option_for("global config: where the catalogue is")
def catalogue_status(db_path: str | None, config_path: Path):
    """Counts of runs, assemblies and analyses by status, per study."""
    from .catalogue import CatalogueError, open_store

    db_path = catalogue_of(db_path, config_path)
    check_catalogue(db_path)
    try:
        with open_store(db_path, create=False) as store:
            for table in ("runs", "assemblies", "analyses"):
                for row in store.query(
                    f"select study, status, count(*) n from {table} "
                    "group by study, status order by study, status"
                ):
                    click.echo(f"{row['study']}\t{table}\t{row['status']}\t{row['n']}")
    except CatalogueError as e:
        fail(str(e))
    except store_errors() as e:
        fail(store_problem(db_path, e))


@catalogue.command("publish")
@config_option_for("global config: where the catalogue, catalogue.db and public.db are")
@db_option
@click.option(
    "--public", "public_db", type=click.Path(path_type=Path), help="[default: the config's]"
)
def catalogue_publish(config_path: Path, db_path: str | None, public_db: Path | None):
    """Write public.db: the catalogue's public, unsuppressed records only, full-text indexes
    rebuilt, vacuumed (no private byte inside); swapped in atomically (`serve` follows it).
    A PostgreSQL catalogue is first exported to the config's `publish.catalogue_db`.

    \b
    Example:
        mgnify-db catalogue publish --config config/config.yaml
    """
    from .catalogue.publish import PublishError, publish_store

    cfg = _global(config_path)
    catalogue = catalogue_of(db_path, config_path)
    catalogue_db = Path(cfg.publish.catalogue_db) if is_postgres(catalogue) else None
    public_db = public_db or Path(cfg.publish.public_db)
    check_catalogue(catalogue)
    try:
        counts = publish_store(catalogue, catalogue_db or sqlite_path(catalogue), public_db)
    except PublishError as e:
        fail(str(e))
    except store_errors() as e:
        fail(store_problem(catalogue, e))
    click.echo(json.dumps(counts))


@catalogue.command("migrate")
@click.option("--from", "source", required=True, metavar="PATH|URL", help="the catalogue to copy")
@click.option("--to", "target", required=True, metavar="PATH|URL", help="where it goes")
@click.option("--replace", is_flag=True, help="overwrite a target that holds studies")
def catalogue_migrate(source: str, target: str, replace: bool):
    """Move a catalogue to another store, row for row (same accessions, same generation):
    sqlite:///PATH or a path, postgresql://[USER@]HOST[:PORT]/DB. The target is written in one
    transaction, then both are dumped and compared.

    \b
    Example:
        mgnify-db catalogue migrate --from results/catalogue.db \\
            --to postgresql://mgnify@db.example.org/mgnify
    """
    from .catalogue.move import move
    from .catalogue.pg_store import redacted
    from .catalogue.store import CatalogueError

    source = catalogue_of(source, DEFAULT_CONFIG)
    target = catalogue_of(target, DEFAULT_CONFIG)
    check_catalogue(source)
    try:
        counts = move(source, target, replace=replace)
    except CatalogueError as e:
        fail(str(e))
    except store_errors() as e:
        fail(f"{redacted(source)} -> {redacted(target)}: {one_line(e)}")
    click.echo(f"{redacted(source)} -> {redacted(target)}: {json.dumps(counts)}")


# --- ENA ----------------------------------------------------------------------------------------
@cli.group()
def ena():
    """ENA metadata of configured studies."""


@ena.command("refresh")
@click.argument("study")
@config_option
def ena_refresh(study: str, config_path: Path):
    """Fetch STUDY's metadata from ENA again (runs and samples ENA dropped are kept, withdrawn).

    The next workflow run re-plans the study and reloads it.
    """
    from .ena.client import EnaError
    from .smk import fetch_metadata

    cfg = _global(config_path)
    try:
        configured = load_studies(Path(cfg.studies_dir)).get(study)
    except ConfigError as e:
        fail(str(e))
    private = configured.is_private if configured else None
    try:
        out = fetch_metadata(cfg, study, private=private)
    except EnaError as e:
        fail(f"{study}: ENA: {e}")
    click.echo(f"{study}: metadata refreshed in {out}")


@cli.command()
@results_option
def timings(results: Path):
    """Wall time and peak memory per rule, from the workflow's benchmark files."""
    from .ops.timings import format_timings, rule_timings

    bench = results / "benchmarks"
    if not bench.is_dir():
        fail(f"{bench}: no benchmark files yet")
    click.echo(format_timings(rule_timings(bench)))


# --- Datasette --------------------------------------------------------------------------------
@cli.command()
@click.argument("db_path", required=False, type=click.Path(path_type=Path))
@config_option_for("global config: catalogue, publish.public_db, results_dir, link lifetime")
@click.option(
    "--public",
    "public_db",
    type=click.Path(path_type=Path),
    help="public database [default: public.db beside DB_PATH, else the config's]",
)
@click.option(
    "--results",
    "results_dir",
    type=click.Path(path_type=Path),
    help="results dir files are served from [default: DB_PATH's dir, else the config's]",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, type=int, show_default=True, envvar="MGNIFY_PORT")
@click.option("--metadata", type=click.Path(exists=True, path_type=Path), default=METADATA)
def serve(
    db_path: Path | None,
    config_path: Path,
    public_db: Path | None,
    results_dir: Path | None,
    host: str,
    port: int,
    metadata: Path,
):
    """Serve public.db to everyone and the catalogue to curators, with Datasette, until Ctrl-C.

    DB_PATH is the catalogue [default: the config's `catalogue`; with PostgreSQL, the SQLite
    copy publish exports for curators, `publish.catalogue_db`, exported first when the
    catalogue changed since]. public.db is published first when it is missing or older than
    the catalogue. Curators send `Authorization: Bearer
    <token>`, the tokens being those of MGNIFY_CURATOR_TOKEN (comma-separated) in this
    command's environment; MGNIFY_FILES_SECRET enables signed links to private files
    (/files/<owner>/<alias>?sign=1). Owners of private studies log in to the API with their
    Webin account (checked at ena.webin_auth_url, or MGNIFY_ENA_WEBIN_AUTH_URL); its tokens are
    signed with MGNIFY_API_SECRET (>= 32 characters; random for this process when unset). A
    `catalogue rebuild` or `publish` meanwhile is served from the next request on (the plugin
    mgnify_db.web.plugin, registered with Datasette through the package's entry point).
    """
    from .catalogue.publish import PublishError, export_store, is_stale, publish
    from .web.auth import MIN_TOKEN_LENGTH, TOKEN_ENV, curator_tokens
    from .web.files import LIFETIME_ENV, RESULTS_ENV

    cfg = _global(config_path)
    catalogue_db = db_path or cfg.catalogue_db
    near = db_path.parent if db_path else None
    public_db = public_db or (near / "public.db" if near else Path(cfg.publish.public_db))
    results_dir = results_dir or near or Path(cfg.results_dir)
    if db_path is None and is_postgres(cfg.catalogue):
        check_catalogue(cfg.catalogue)
        try:
            if export_store(cfg.catalogue, catalogue_db):
                click.echo(f"exported {catalogue_db} from the catalogue", err=True)
        except PublishError as e:
            fail(str(e))
    check_catalogue(catalogue_db)
    # Datasette names a database after its file, and the catalogue's access rule (metadata
    # `databases: catalogue: allow`) is on that name: another name would serve it to anyone.
    for path, name in ((catalogue_db, "catalogue"), (public_db, "public")):
        if path.stem != name:
            fail(
                f"{path}: served databases are named after their files: this one must be {name}.db"
            )
    gate = (yaml.safe_load(metadata.read_text()) or {}).get("databases", {}).get("catalogue", {})
    if gate.get("allow") != {"id": "curator"}:
        fail(
            f"{metadata}: databases: catalogue: allow must be {{id: curator}}"
            " (without it the catalogue, private studies included, is served to anyone)"
        )
    if short := [t for t in curator_tokens() if len(t) < MIN_TOKEN_LENGTH]:
        fail(f"{TOKEN_ENV}: {len(short)} token(s) shorter than {MIN_TOKEN_LENGTH} characters")
    set_api_environment(cfg.ena.webin_auth_url)
    if is_stale(catalogue_db, public_db):
        try:
            counts = publish(catalogue_db, public_db)
        except PublishError as e:
            fail(str(e))
        click.echo(f"published {public_db}: {json.dumps(counts)}", err=True)
    if not curator_tokens():
        click.echo(f"note: {TOKEN_ENV} is not set: nobody can see the catalogue database", err=True)
    os.environ[RESULTS_ENV] = str(results_dir.resolve())
    os.environ[LIFETIME_ENV] = str(cfg.publish.link_lifetime_seconds)
    args = datasette_args(catalogue_db, host, port, metadata, public_db=public_db)
    os.execvp(args[0], args)


def set_api_environment(
    webin_auth_url: str, environ: MutableMapping[str, str] | None = None
) -> None:
    """The API's login settings for the plugin: ENA's Webin service (MGNIFY_ENA_WEBIN_AUTH_URL,
    unless already set) and the token secret (MGNIFY_API_SECRET: refused if short; a random one
    for this process when unset), with the token lifetimes checked."""
    import secrets

    from .web.api.auth_views import WEBIN_URL_ENV
    from .web.tokens import MIN_SECRET_LENGTH, SECRET_ENV, TokenConfigError, TokenSettings

    environ = os.environ if environ is None else environ
    if not environ.get(WEBIN_URL_ENV):
        environ[WEBIN_URL_ENV] = webin_auth_url
    secret = environ.get(SECRET_ENV, "")
    if secret and len(secret) < MIN_SECRET_LENGTH:
        fail(f"{SECRET_ENV} is shorter than {MIN_SECRET_LENGTH} characters")
    if not secret:
        environ[SECRET_ENV] = secrets.token_urlsafe(48)
        click.echo(
            f"note: {SECRET_ENV} is not set: API tokens are signed with a random secret and"
            " stop working when this server stops",
            err=True,
        )
    try:
        TokenSettings.from_env(environ)
    except TokenConfigError as e:
        fail(str(e))


def datasette_args(
    db_path: Path, host: str, port: int, metadata: Path = METADATA, public_db: Path | None = None
) -> list[str]:
    """`datasette serve` of the catalogue (then public.db): both mutable, so that the plugin
    follows a rebuilt or re-published file."""
    # suggest_facets costs ~0.5 s per page on large tables (measured); facets are configured.
    return [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        str(db_path),
        *([str(public_db)] if public_db else []),
        "--host",
        host,
        "--port",
        str(port),
        "--metadata",
        str(metadata),
        "--template-dir",
        str(TEMPLATES),
        "--setting",
        "suggest_facets",
        "off",
        "--setting",
        "sql_time_limit_ms",
        "1000",
    ]


if __name__ == "__main__":
    cli()
