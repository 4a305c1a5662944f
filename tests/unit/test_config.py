import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mgnify_db.cli import cli
from mgnify_db.config import ConfigError, json_schemas, load_global, load_studies, load_study

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_configs_are_valid():
    cfg = load_global(REPO / "config" / "config.yaml")
    assert cfg.ena.portal_url == "https://www.ebi.ac.uk/ena/portal/api"  # production default
    assert cfg.catalogue_path == Path("results/catalogue.db")
    assert list(load_studies(REPO / "demo" / "studies")) == ["PRJEB00001"]


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "accession: PRJEB1\nbiom: root\n",
            "PRJEB1.yaml: biom: unknown field (did you mean biome?)",
        ),
        ("accession: PRJEB1\n", "PRJEB1.yaml: biome: Field required"),
        ("accession: PRJEB1\nbiome: Marine\n", "PRJEB1.yaml: biome: 'Marine' is not a lineage"),
        (
            "accession: PRJEB1\nbiome: root\nexclude_runs: [RUN1]\n",
            "PRJEB1.yaml: exclude_runs: 'RUN1' is not an ENA run accession",
        ),
        ("accession: PRJEB1\nbiome: root\nsample_limit: 0\n", "PRJEB1.yaml: sample_limit:"),
        (
            "accession: PRJEB1\nbiome: root\nlibrary_source_policy: everything\n",
            "PRJEB1.yaml: library_source_policy: Input should be",
        ),
        ("accession: [unclosed\n", "PRJEB1.yaml: line 2: not valid YAML"),
        ("accession: PRJEB2\nbiome: root\n", "accession: 'PRJEB2' differs from the file name"),
    ],
)
def test_bad_study_gives_one_line_naming_file_and_field(tmp_path, text, expected):
    path = write(tmp_path, "PRJEB1.yaml", text)
    with pytest.raises(ConfigError) as err:
        load_study(path)
    assert expected in str(err.value)
    assert str(err.value).startswith(str(path))
    assert "\n" not in str(err.value)


def test_bad_global_config(tmp_path):
    path = write(tmp_path, "config.yaml", "ena:\n  retries: many\n")
    with pytest.raises(ConfigError, match=r"config.yaml: ena.retries: Input should be a valid"):
        load_global(path)
    path = write(tmp_path, "config.yaml", "ena:\n  download_scheme: gopher\n")
    with pytest.raises(ConfigError, match="ena.download_scheme: must be one of"):
        load_global(path)


def test_cli_check_prints_one_line(tmp_path):
    studies = tmp_path / "studies"
    studies.mkdir()
    write(studies, "PRJEB1.yaml", "accession: PRJEB1\nbiome: root\nanalysis: [assembly]\n")
    res = CliRunner().invoke(
        cli,
        [
            "config",
            "check",
            "--config",
            str(REPO / "config/config.yaml"),
            "--studies",
            str(studies),
        ],
    )
    assert res.exit_code == 1
    assert res.output.strip().splitlines() == [
        f"error: {studies / 'PRJEB1.yaml'}: analysis: unknown field (did you mean analyses?)"
    ]


def test_schemas_in_workflow_are_generated_from_the_models():
    for name, schema in json_schemas().items():
        on_disk = json.loads((REPO / "workflow" / "schemas" / name).read_text())
        assert on_disk == schema, "regenerate: mgnify-db config schema --write workflow/schemas"


def test_snakemake_stops_before_any_job_with_one_line(tmp_path):
    import subprocess
    import sys

    studies = tmp_path / "studies"
    studies.mkdir()
    write(studies, "PRJEB1.yaml", "accession: PRJEB1\nbiome: root\nlibrary_strategy: [WGS]\n")
    snakemake = Path(sys.executable).parent / "snakemake"
    proc = subprocess.run(
        [
            str(snakemake),
            "-n",
            "--snakefile",
            str(REPO / "workflow" / "Snakefile"),
            "--directory",
            str(REPO),
            "--config",
            f"studies_dir={studies}",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {studies / 'PRJEB1.yaml'}: library_strategy: unknown field "
        "(did you mean library_strategies?)"
    )
    assert not (tmp_path / "results").exists()
