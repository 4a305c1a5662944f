import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mgnify_db.cli import cli
from mgnify_db.config import (
    ConfigError,
    check_references,
    json_schemas,
    load_global,
    load_studies,
    load_study,
)

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_configs_are_valid():
    cfg = load_global(REPO / "config" / "config.yaml")
    assert cfg.ena.portal_url == "https://www.ebi.ac.uk/ena/portal/api"  # production default
    assert cfg.catalogue_db == Path("results/catalogue.db")
    demo = load_studies(REPO / "demo" / "studies")
    assert list(demo) == ["PRJEB00001", "PRJEB00002", "PRJEB00003", "PRJEB00004", "PRJEB77777"]
    check_references(load_global(REPO / "demo" / "config.yaml"), demo)


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


# --- faults: unreadable files, silent coercions, silent YAML, study file names ----------------
def one_error(call, *args) -> str:
    """The ConfigError `call(*args)` raises, checked to be one line."""
    with pytest.raises(ConfigError) as err:
        call(*args)
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8 text (byte 0x89 at offset 0;"),
        (
            "accession: PRJEB1\nbiome: caf\xe9\n".encode("latin-1"),
            "not UTF-8 text (byte 0xe9 at offset 28;",
        ),
        (b"accession: PRJEB1\x00\x01\n", "not YAML text (character #x0000 at offset 17;"),
    ],
    ids=["binary", "latin-1", "nul-bytes"],
)
def test_binary_or_non_utf8_study_file_is_one_line(tmp_path, content, expected):
    path = tmp_path / "PRJEB1.yaml"
    path.write_bytes(content)
    assert one_error(load_study, path) == f"{path}: {expected} a binary file?)"
    assert one_error(load_studies, tmp_path).startswith(f"{path}: not ")


def test_directory_named_yaml_in_studies_dir_is_one_line(tmp_path):
    write(tmp_path, "PRJEB1.yaml", "accession: PRJEB1\nbiome: root\n")
    (tmp_path / "PRJEB2.yaml").mkdir()
    assert one_error(load_studies, tmp_path) == (
        f"{tmp_path / 'PRJEB2.yaml'}: is a directory, not a YAML file"
    )


def test_yml_study_files_count_too(tmp_path):
    write(tmp_path, "PRJEB1.yaml", "accession: PRJEB1\nbiome: root\n")
    write(tmp_path, "PRJEB2.yml", "accession: PRJEB2\nbiome: root\n")
    write(tmp_path, ".PRJEB3.yaml", "editor's backup: not read\n")
    assert list(load_studies(tmp_path)) == ["PRJEB1", "PRJEB2"]
    write(tmp_path, "PRJEB4.yml", "accession: PRJEB5\nbiome: root\n")
    assert "accession: 'PRJEB5' differs from the file name (PRJEB4.yml)" in one_error(
        load_studies, tmp_path
    )


def test_one_study_as_both_yaml_and_yml_is_an_error(tmp_path):
    write(tmp_path, "PRJEB1.yaml", "accession: PRJEB1\nbiome: root\n")
    write(tmp_path, "PRJEB1.yml", "accession: PRJEB1\nbiome: root:Engineered\n")
    assert one_error(load_studies, tmp_path) == (
        f"{tmp_path}: both PRJEB1.yaml and PRJEB1.yml configure PRJEB1: keep one"
    )


def test_duplicate_yaml_keys_are_an_error_naming_key_and_lines(tmp_path):
    path = write(tmp_path, "PRJEB1.yaml", "accession: PRJEB1\nbiome: root\nbiome: root:Other\n")
    assert one_error(load_study, path) == (
        f"{path}: line 3: duplicate key 'biome' (first on line 2)"
    )
    path = write(tmp_path, "config.yaml", "ena:\n  retries: 1\n  page_size: 5\n  retries: 2\n")
    assert one_error(load_global, path) == (
        f"{path}: line 4: duplicate key 'retries' (first on line 2)"
    )
    # a YAML merge (<<) may still be overridden by the mapping's own key
    path = write(tmp_path, "config.yaml", "x: &d {retries: 1}\nena:\n  <<: *d\n  retries: 2\n")
    assert "x: unknown field" in one_error(load_global, path)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("sample_limit: true\n", "PRJEB1.yaml: sample_limit: must be a whole number, not true"),
        ("sample_limit: false\n", "PRJEB1.yaml: sample_limit: must be a whole number, not false"),
        ("assembly_mem_mb: true\n", "PRJEB1.yaml: assembly_mem_mb: must be a whole number"),
    ],
)
def test_true_is_not_a_number_in_a_study(tmp_path, text, expected):
    path = write(tmp_path, "PRJEB1.yaml", "accession: PRJEB1\nbiome: root\n" + text)
    assert expected in one_error(load_study, path)
    ok = write(
        tmp_path,
        "PRJEB1.yaml",
        "accession: PRJEB1\nbiome: root\nis_private: true\nwebin_owner: Webin-1\n",
    )
    assert load_study(ok).is_private is True


def test_true_is_not_a_number_in_the_global_config(tmp_path):
    path = write(tmp_path, "config.yaml", "ena:\n  backoff_seconds: true\n")
    assert (
        one_error(load_global, path) == f"{path}: ena.backoff_seconds: must be a number, not true"
    )
    path = write(tmp_path, "config.yaml", "threads: {megahit: true}\n")
    assert "threads.megahit: must be a whole number, not true" in one_error(load_global, path)


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "assembly_megahit: {mem_mb: -4000}",
            "resources.assembly_megahit.mem_mb: must be a whole number of MB >= 1, not -4000",
        ),
        (
            "qc_fastp: {runtime: 0}",
            "resources.qc_fastp.runtime: must be a whole number of minutes >= 1, not 0",
        ),
        (
            "qc_fastp: {mem_mb: true}",
            "resources.qc_fastp.mem_mb: must be a whole number of MB >= 1, not true",
        ),
        (
            "megahit_assembly: {mem_mb: 9000}",
            "resources.megahit_assembly: unknown rule (did you mean",
        ),
        (
            "assembly_megahit: {mem_gb: 9}",
            "resources.assembly_megahit.mem_gb: unknown key (did you",
        ),
        ("assembly_megahit: 9000", "resources.assembly_megahit: must be a mapping of mem_mb and"),
    ],
)
def test_bad_resources_name_rule_and_key(tmp_path, text, expected):
    path = write(tmp_path, "config.yaml", f"resources:\n  {text}\n")
    assert one_error(load_global, path).startswith(f"{path}: {expected}")


def test_unknown_rule_in_resources_suggests_the_closest(tmp_path):
    from mgnify_db.pipelines import all_rules

    path = write(tmp_path, "config.yaml", "resources:\n  assembly_megahitt: {mem_mb: 9000}\n")
    assert one_error(load_global, path).endswith("unknown rule (did you mean assembly_megahit?)")
    rules = "\n".join(f"  {rule}: {{mem_mb: 500, runtime: 10}}" for rule in all_rules())
    cfg = load_global(write(tmp_path, "config.yaml", f"resources:\n{rules}\n"))
    assert set(cfg.resources) == set(all_rules())


def test_cli_check_reports_a_binary_study_file_in_one_line(tmp_path):
    studies = tmp_path / "studies"
    studies.mkdir()
    (studies / "PRJEB1.yaml").write_bytes(b"\xff\xfe\x00binary")
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
    assert res.output.splitlines() == [
        f"error: {studies / 'PRJEB1.yaml'}: not UTF-8 text (byte 0xff at offset 0; a binary file?)"
    ]


def test_a_private_study_needs_its_webin_owner(tmp_path):
    path = write(tmp_path, "PRJEB1.yaml", "accession: PRJEB1\nbiome: root\nis_private: true\n")
    assert one_error(load_study, path).endswith(
        "PRJEB1.yaml: webin_owner: required when is_private is true"
    )
    ok = write(tmp_path, "PRJEB1.yaml", "accession: PRJEB1\nbiome: root\nwebin_owner: WEBIN-7\n")
    assert load_study(ok).webin_owner == "Webin-7"
    bad = write(tmp_path, "PRJEB1.yaml", "accession: PRJEB1\nbiome: root\nwebin_owner: me\n")
    assert "webin_owner: 'me' is not a Webin account" in one_error(load_study, bad)


def test_publications_and_super_studies_must_be_described(tmp_path):
    from mgnify_db.config import GlobalConfig, check_references

    cfg = GlobalConfig(
        studies_dir=str(tmp_path),
        publications={123: {"title": "A paper", "published_year": 2024}},
        super_studies={"ocean-atlas": {"title": "Ocean atlas"}},
    )
    study = load_study(
        write(tmp_path, "PRJEB1.yaml", "accession: PRJEB1\nbiome: root\npublications: [123]\n")
    )
    check_references(cfg, {"PRJEB1": study})
    for text, expected in (
        ("publications: [9]", "publications: 9 is not described in config.yaml publications:"),
        ("super_studies: [ocean-atlass]", "(did you mean ocean-atlas?)"),
    ):
        study = load_study(
            write(tmp_path, "PRJEB1.yaml", f"accession: PRJEB1\nbiome: root\n{text}\n")
        )
        assert expected in one_error(check_references, cfg, {"PRJEB1": study})


def test_the_catalogue_is_a_sqlite_file_or_a_postgresql_database():
    """A PostgreSQL URL names the store; the file curators are served is then publish's export.
    A password in the URL, or no database, is refused in one line."""
    from mgnify_db.config import ConfigError, GlobalConfig, StoreKind, parse_global

    cfg = GlobalConfig(catalogue="postgresql://mgnify@db.example.org:5432/mgnify")
    assert cfg.store_kind is StoreKind.POSTGRESQL
    assert cfg.catalogue_db == Path("results/catalogue.db")
    cfg = GlobalConfig(catalogue="sqlite:///x/c.db")
    assert (cfg.store_kind, cfg.catalogue_db) == (StoreKind.SQLITE, Path("x/c.db"))
    for url, message in (
        ("postgresql://u:secret@h/db", "no password in the catalogue URL"),
        ("postgresql://u@h/db?sslmode=require&password=secret", "no password in the catalogue"),
        ("postgresql://h", "name the database"),
        ("mysql://h/db", "must be sqlite:///PATH or postgresql://"),
    ):
        with pytest.raises(ConfigError) as e:
            parse_global({"catalogue": url}, "config.yaml")
        assert str(e.value).startswith("config.yaml: catalogue: ")
        assert message in str(e.value) and "secret" not in str(e.value)


def test_a_postgresql_catalogues_export_is_never_public_db():
    """publish.catalogue_db holds private rows: never public.db's path, and named catalogue.db
    (the name Datasette gates to curators)."""
    from mgnify_db.config import ConfigError, parse_global

    url = "postgresql://mgnify@db/mgnify"
    for publish, message in (
        ({"catalogue_db": "results/public.db"}, "must be a file named catalogue.db"),
        (
            {"catalogue_db": "out/catalogue.db", "public_db": "out/catalogue.db"},
            "must not be publish.public_db",
        ),
    ):
        with pytest.raises(ConfigError) as e:
            parse_global({"catalogue": url, "publish": publish}, "config.yaml")
        assert str(e.value).startswith(f"config.yaml: publish.catalogue_db: {message}")
    parse_global({"catalogue": "sqlite:///x.db", "publish": {"catalogue_db": "ignored.db"}})
