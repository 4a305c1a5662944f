"""`mgnify-db`: a CLI that mirrors the library (config, ena-mirror, demo, catalogue, serve)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from .config import ConfigError, json_schemas, load_global, load_studies

DEFAULT_CONFIG = Path("config/config.yaml")
METADATA = Path(__file__).parent / "web" / "metadata.yaml"


@click.group()
@click.version_option(package_name="mgnify-snake")
def cli():
    """MGnify's metagenomics production system: catalogue, ENA mirror and tools."""


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


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
    """Build the demo's ENA mirror directory (idempotent)."""
    from .dev.demo import build_demo

    click.echo(build_demo(out_dir, scale=scale))


# --- catalogue --------------------------------------------------------------------------------
@cli.group()
def catalogue():
    """Load, rebuild and dump the catalogue."""


db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path),
    default=Path("results/catalogue.db"),
    show_default=True,
)
results_option = click.option(
    "--results", type=click.Path(path_type=Path), default=Path("results"), show_default=True
)


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_CONFIG,
    show_default=True,
    help="global config (memory policy for the events' explanations)",
)


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
    study: str, db_path: Path, results: Path, config_path: Path, runs: tuple[str, ...]
):
    """Load STUDY (its ENA accession; its result files) into the catalogue; idempotent.

    \b
    Example:
        mgnify-db catalogue load PRJEB00001 --run ERR0000001
    """
    from .catalogue import CatalogueError, load_run, load_study, open_store
    from .plan import PlanError, recorded_plan

    cfg = _global(config_path)
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
    click.echo(json.dumps(counts))


@catalogue.command("rebuild")
@db_option
@results_option
@config_option
@click.option("--allow-empty", is_flag=True, help="replace the catalogue even with no study")
def catalogue_rebuild(db_path: Path, results: Path, config_path: Path, allow_empty: bool):
    """Recreate the catalogue from the result files alone (same rows, same accessions).

    The new file replaces the old one atomically; `mgnify-db serve` picks it up.
    """
    from .catalogue import CatalogueError, rebuild

    try:
        click.echo(
            json.dumps(rebuild(db_path, results, _global(config_path), allow_empty=allow_empty))
        )
    except CatalogueError as e:
        fail(str(e))


@catalogue.command("dump")
@db_option
@click.option("--table", "tables", multiple=True, help="only these tables")
@click.option("--canonical", is_flag=True, help="natural keys instead of accessions, no job ids")
def catalogue_dump(db_path: Path, tables: tuple[str, ...], canonical: bool):
    """Print a JSON dump (rows sorted by key) for comparing catalogues."""
    from .catalogue import TABLES, CatalogueError, dump, open_store

    try:
        with open_store(db_path, create=False) as store:
            data = dump(store, tables or tuple(TABLES), canonical=canonical)
    except CatalogueError as e:
        fail(str(e))
    click.echo(json.dumps(data, indent=1, sort_keys=True, default=str))


@catalogue.command("status")
@db_option
def catalogue_status(db_path: Path):
    """Counts of runs, assemblies and analyses by status, per study."""
    from .catalogue import CatalogueError, open_store

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
        out = fetch_metadata(cfg, study)
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
@click.argument("db_path", type=click.Path(path_type=Path), default=Path("results/catalogue.db"))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, type=int, show_default=True, envvar="MGNIFY_PORT")
@click.option("--metadata", type=click.Path(exists=True, path_type=Path), default=METADATA)
def serve(db_path: Path, host: str, port: int, metadata: Path):
    """Publish the catalogue with Datasette until Ctrl-C."""
    if not db_path.exists():
        fail(f"{db_path}: no catalogue yet (run the workflow, or mgnify-db catalogue rebuild)")
    args = datasette_args(db_path, host, port, metadata)
    os.execvp(args[0], args)


def datasette_args(db_path: Path, host: str, port: int, metadata: Path = METADATA) -> list[str]:
    # suggest_facets costs ~0.5 s per page on large tables (measured); facets are configured.
    return [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        str(db_path),
        "--host",
        host,
        "--port",
        str(port),
        "--metadata",
        str(metadata),
        "--setting",
        "suggest_facets",
        "off",
        "--setting",
        "sql_time_limit_ms",
        "1000",
    ]


if __name__ == "__main__":
    cli()
