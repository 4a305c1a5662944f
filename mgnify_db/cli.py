"""`mgnify-db`: a CLI that mirrors the library (config, ena-mirror, demo, catalogue, serve)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from .config import ConfigError, json_schemas, load_global, load_studies

DEFAULT_CONFIG = Path("config/config.yaml")
METADATA = Path(__file__).parent / "data" / "metadata.yaml"


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
    from .mirror import serve_forever

    serve_forever(directory, host, port)


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
    from .demo import build_demo

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


@catalogue.command("load")
@click.argument("study")
@db_option
@results_option
@click.option("--run", "runs", multiple=True, help="only these runs")
def catalogue_load(study: str, db_path: Path, results: Path, runs: tuple[str, ...]):
    """Load STUDY (its result files) into the catalogue; idempotent."""
    from .catalogue import load, open_db

    try:
        counts = load(open_db(db_path), results, study, list(runs) or None)
    except FileNotFoundError as e:
        fail(str(e))
    click.echo(json.dumps(counts))


@catalogue.command("rebuild")
@db_option
@results_option
def catalogue_rebuild(db_path: Path, results: Path):
    """Recreate the catalogue from the result files alone (same rows, same accessions)."""
    from .catalogue import rebuild

    click.echo(json.dumps(rebuild(db_path, results)))


@catalogue.command("dump")
@db_option
@click.option("--table", "tables", multiple=True, help="only these tables")
def catalogue_dump(db_path: Path, tables: tuple[str, ...]):
    """Print a canonical JSON dump (rows sorted by key) for comparing catalogues."""
    from .catalogue import TABLES, dump, open_db

    click.echo(
        json.dumps(
            dump(open_db(db_path), tables or tuple(TABLES)), indent=1, sort_keys=True, default=str
        )
    )


@catalogue.command("status")
@db_option
def catalogue_status(db_path: Path):
    """Counts of runs, assemblies and analyses by status, per study."""
    from .catalogue import open_db

    db = open_db(db_path)
    for table in ("runs", "assemblies", "analyses"):
        for row in db.query(
            f"select study, status, count(*) n from {table} "
            "group by study, status order by study, status"
        ):
            click.echo(f"{row['study']}\t{table}\t{row['status']}\t{row['n']}")


@cli.command()
@results_option
def timings(results: Path):
    """Wall time and peak memory per rule, from the workflow's benchmark files."""
    from .timings import format_timings, rule_timings

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
