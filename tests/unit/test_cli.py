"""`mgnify-db catalogue ...` and `serve` faults: one `error:` line, exit 1, nothing created or
destroyed; and Datasette following a catalogue that `rebuild` replaced."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from mgnify_db.catalogue import TABLES, rebuild
from mgnify_db.cli import METADATA, cli
from mgnify_db.config import GlobalConfig, StudyConfig
from mgnify_db.ena.client import StudyMetadata
from mgnify_db.paths import StudyPaths

STUDY, RUN = "PRJEB00001", "ERR0000001"


def make_results(results: Path, study: str = STUDY, run: str = RUN) -> Path:
    """The least a study's results need for a catalogue load: study.json and ena.json."""
    paths = StudyPaths(results, study)
    config = StudyConfig(accession=study, biome="root:Environmental:Aquatic:Marine")
    sample = f"SAMEA{run[3:]}"
    metadata = StudyMetadata.model_validate(
        {
            "study": {"study_accession": study, "study_title": f"Study {study}"},
            "samples": [{"sample_accession": sample}],
            "runs": [
                {
                    "run_accession": run,
                    "sample_accession": sample,
                    "library_strategy": "WGS",
                    "library_source": "METAGENOMIC",
                    "library_layout": "PAIRED",
                    "read_count": 10,
                    "fastq_ftp": f"h/{run}_1.fastq.gz;h/{run}_2.fastq.gz",
                }
            ],
        }
    )
    paths.path("ena").parent.mkdir(parents=True, exist_ok=True)
    paths.path("study_config").write_text(json.dumps(config.model_dump(mode="json")))
    paths.path("ena").write_text(metadata.model_dump_json())
    return results


def invoke(*args: str | Path):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_error(res) -> str:
    """The single `error:` line of a failed command (the output holds nothing else)."""
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    (line,) = res.output.splitlines()
    assert line.startswith("error: ")
    return line.removeprefix("error: ")


def snapshot(directory: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under `directory`: inode, mtime and content."""
    return {
        str(p.relative_to(directory)): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(autouse=True)
def no_exec(monkeypatch):
    """`serve` ends by exec'ing Datasette: that would replace the test process."""

    def refuse(*args):
        raise AssertionError(f"serve would exec {args}")

    monkeypatch.setattr("mgnify_db.cli.os.execvp", refuse)


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return make_results(tmp_path / "results")


@pytest.fixture
def catalogue(tmp_path: Path, results: Path) -> Path:
    db = tmp_path / "catalogue.db"
    rebuild(db, results, GlobalConfig())
    return db


# --- 1. a missing catalogue is never created; unknown runs ------------------------------------
@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["dump"],
        ["dump", "--table", "runs"],
        ["load", STUDY],
        ["load", STUDY, "--run", RUN],
    ],
)
def test_missing_catalogue_is_not_created(tmp_path, results, command):
    db = tmp_path / "nothere" / "catalogue.db"
    before = snapshot(tmp_path)
    res = invoke(
        "catalogue", *command, "--db", db, *(["--results", results] * (command[0] == "load"))
    )
    assert one_error(res).startswith(f"{db}: no catalogue here (run the workflow")
    assert not db.parent.exists()
    assert snapshot(tmp_path) == before


def test_load_of_an_unknown_run_is_one_line(catalogue, results):
    before = snapshot(catalogue.parent)
    res = invoke(
        "catalogue", "load", STUDY, "--run", "ERR9999999", "--db", catalogue, "--results", results
    )
    assert one_error(res) == f"{STUDY}: no run ERR9999999 in its ENA metadata"
    assert snapshot(catalogue.parent) == before
    res = invoke("catalogue", "load", STUDY, "--run", RUN, "--db", catalogue, "--results", results)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["runs"] == 1


# --- 2. files that are not (usable) catalogues --------------------------------------------------
COMMANDS = [
    ["catalogue", "status"],
    ["catalogue", "dump"],
    ["catalogue", "load", STUDY],
    ["catalogue", "rebuild"],
    ["serve"],
]


def run_on(command: list[str], db: Path, results: Path):
    if command == ["serve"]:
        return invoke("serve", db)
    extra = ["--results", results] if command[1] in ("load", "rebuild") else []
    return invoke(*command, "--db", db, *extra)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[-1])
def test_non_sqlite_file_is_refused_and_untouched(tmp_path, results, command):
    db = tmp_path / "catalogue.db"
    db.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    before = snapshot(tmp_path)
    assert one_error(run_on(command, db, results)) == (
        f"{db}: not readable as SQLite (file is not a database)"
    )
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[-1])
def test_another_programs_sqlite_file_is_refused_and_untouched(tmp_path, results, command):
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table notes (text)")
        conn.execute("insert into notes values ('mine')")
    conn.close()
    before = snapshot(tmp_path)
    assert one_error(run_on(command, db, results)) == (
        f"{db}: a SQLite file, not an mgnify-db catalogue (no _meta table)"
    )
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", COMMANDS[:3] + COMMANDS[4:], ids=lambda c: c[-1])
def test_empty_file_is_refused(tmp_path, results, command):
    db = tmp_path / "catalogue.db"
    db.touch()
    assert one_error(run_on(command, db, results)) == f"{db}: an empty file, not a catalogue"
    assert db.stat().st_size == 0


def test_rebuild_replaces_an_empty_file(tmp_path, results):
    db = tmp_path / "catalogue.db"
    db.touch()
    assert invoke("catalogue", "rebuild", "--db", db, "--results", results).exit_code == 0
    assert invoke("catalogue", "status", "--db", db).output == "MGYS00000001\truns\tpending\t1\n"


def test_directory_as_db_is_refused(tmp_path, results):
    res = invoke("catalogue", "status", "--db", tmp_path)
    assert one_error(res) == f"{tmp_path}: is a directory, not a catalogue file"


def test_load_into_an_older_schema_is_refused(catalogue, results):
    with sqlite3.connect(catalogue) as conn:
        conn.execute("update _meta set value = '1' where key = 'schema_version'")
    conn.close()
    before = snapshot(catalogue.parent)
    res = invoke("catalogue", "load", STUDY, "--db", catalogue, "--results", results)
    assert one_error(res).startswith(f"{catalogue}: catalogue schema version 1, this mgnify-db")
    assert snapshot(catalogue.parent) == before


def make_read_only(db: Path) -> None:
    """A catalogue SQLite itself refuses to write, for every user root included: a file format
    write version above 2 (header byte 18) makes SQLite open the file read-only."""
    with db.open("r+b") as f:
        f.seek(18)
        f.write(bytes([3]))


def test_load_into_a_read_only_catalogue_is_one_line(catalogue, results):
    make_read_only(catalogue)
    before = snapshot(catalogue.parent)
    res = invoke("catalogue", "load", STUDY, "--db", catalogue, "--results", results)
    assert one_error(res) == (
        f"{catalogue}: the catalogue is read-only (attempt to write a readonly database)"
    )
    assert snapshot(catalogue.parent) == before
    res = invoke("catalogue", "status", "--db", catalogue)  # reading is fine
    assert res.exit_code == 0 and "\truns\tpending\t1" in res.output


def without_dac_override(*args: str | Path) -> subprocess.CompletedProcess:
    """`mgnify-db ARGS` as root without CAP_DAC_OVERRIDE: file modes bind it as any user."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or not setpriv:
        pytest.skip("needs root and setpriv to drop CAP_DAC_OVERRIDE")
    mgnify_db = Path(sys.executable).parent / "mgnify-db"
    cmd = [setpriv, "--bounding-set=-dac_override,-dac_read_search", mgnify_db, *args]
    probe = subprocess.run([setpriv, "--bounding-set=-dac_override", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"setpriv cannot drop capabilities here: {probe.stderr.decode().strip()}")
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True)


def test_chmod_444_catalogue_as_root_is_one_line(catalogue, results):
    catalogue.chmod(0o444)
    before = snapshot(catalogue.parent)
    proc = without_dac_override("catalogue", "load", STUDY, "--db", catalogue, "--results", results)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"error: {catalogue}: the catalogue is read-only (attempt to write a readonly database)"
    ]
    assert snapshot(catalogue.parent) == before


def test_rebuild_into_a_read_only_directory_is_one_line(tmp_path, catalogue, results):
    catalogue.parent.chmod(0o555)
    try:
        before = snapshot(catalogue.parent)
        proc = without_dac_override("catalogue", "rebuild", "--db", catalogue, "--results", results)
        assert proc.returncode == 1
        assert proc.stderr.splitlines() == [
            f"error: {catalogue.parent}: cannot write a new catalogue here (Permission denied)"
        ]
        assert snapshot(catalogue.parent) == before
    finally:
        catalogue.parent.chmod(0o755)


def test_dump_of_an_unknown_table_is_one_line(catalogue):
    res = invoke("catalogue", "dump", "--db", catalogue, "--table", "nosuch")
    assert one_error(res).startswith(
        "no table 'nosuch' in the catalogue (tables: biomes, publications"
    )
    res = invoke("catalogue", "dump", "--db", catalogue, "--table", "run")
    assert one_error(res).startswith("no table 'run' in the catalogue (did you mean runs? tables:")
    res = invoke("catalogue", "dump", "--db", catalogue, "--table", "runs")
    assert [r["accession"] for r in json.loads(res.output)["runs"]] == [RUN]


# --- 4. rebuild never loses the catalogue ------------------------------------------------------
def test_rebuild_with_a_mistyped_results_dir_keeps_the_catalogue(tmp_path, catalogue):
    before = snapshot(tmp_path)
    res = invoke("catalogue", "rebuild", "--db", catalogue, "--results", tmp_path / "resluts")
    assert one_error(res).startswith(
        f"{tmp_path / 'resluts'}: no study results found (results/studies/<ACC>/ena.json); "
        "refusing to replace the catalogue with an empty one"
    )
    assert snapshot(tmp_path) == before


def test_rebuild_failing_midway_keeps_the_catalogue_and_no_temporary_file(tmp_path, catalogue):
    broken = make_results(tmp_path / "results", "PRJEB00002", "ERR0000002")
    StudyPaths(broken, "PRJEB00002").path("study_config").write_text('{"accession": "PRJEB00002"}')
    before = snapshot(catalogue.parent)
    res = invoke("catalogue", "rebuild", "--db", catalogue, "--results", broken)
    assert one_error(res) == (
        f"{catalogue}: not rebuilt, left as it was: StudyConfig: biome: Field required"
    )
    assert snapshot(catalogue.parent) == before


def test_rebuild_replaces_the_catalogue(tmp_path, catalogue, results):
    res = invoke("catalogue", "rebuild", "--db", catalogue, "--results", results)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["runs"] == 1
    assert sorted(p.name for p in catalogue.parent.iterdir()) == ["catalogue.db", "results"]


# --- 5. Datasette follows a rebuilt catalogue --------------------------------------------------
# --- metadata.yaml matches the catalogue schema ------------------------------------------------
def test_metadata_names_only_catalogue_columns_and_facets_indexed_columns():
    tables = yaml.safe_load(METADATA.read_text())["databases"]["catalogue"]["tables"]
    assert set(tables) == set(TABLES)
    for name, spec in tables.items():
        table = TABLES[name]
        named = set(spec.get("columns", {})) | set(spec.get("facets", []))
        named |= {spec[k] for k in ("sort", "sort_desc") if k in spec}
        assert named <= set(table.columns), f"{name}: no column {named - set(table.columns)}"
        indexed = {cols[0] for cols in table.indexes} | {table.pk}
        assert set(spec.get("facets", [])) <= indexed, f"{name}: facet without an index"
    for name in ("samples", "runs", "assemblies", "analyses", "downloads"):
        assert {"is_suppressed", "suppression_reason"} <= set(tables[name]["columns"]), name
