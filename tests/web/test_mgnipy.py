"""EBI's own client, mgnipy 0.3.0, works unchanged against our server (the demo's `mgnify-db
serve`): only its base_url is ours. It runs in its own venv (`scripts/setup --tests`) through
`mgnipy_session.py`, as a user's script would."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from support import DEMO_WEBIN_ACCOUNT, DEMO_WEBIN_PASSWORD, REPO

MGNIPY_PYTHON = REPO / ".venv-mgnipy" / "bin" / "python"
SESSION = Path(__file__).with_name("mgnipy_session.py")


def demo_accessions(catalogue: Path) -> tuple[str, str]:
    """(the public study, the private study) of the demo catalogue."""
    with sqlite3.connect(catalogue) as db:
        rows = dict(db.execute("select is_private, accession from studies order by accession"))
    return rows[0], rows[1]


@pytest.fixture(scope="module")
def seen(site, demo_workdir, tmp_path_factory) -> dict:
    if not MGNIPY_PYTHON.exists():
        pytest.fail("mgnipy is not installed: run scripts/setup --tests")
    public, private = demo_accessions(demo_workdir / "results" / "catalogue.db")
    proc = subprocess.run(
        [str(MGNIPY_PYTHON), str(SESSION), f"{site}/", public, private],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path_factory.mktemp("mgnipy"),  # mgnipy reads a .env from the working dir
        env={
            **os.environ,
            "HOME": str(tmp_path_factory.mktemp("home")),
            "BASE_URL": f"{site}/",
            "MGNIPY_WEBIN_USER": DEMO_WEBIN_ACCOUNT,
            "MGNIPY_WEBIN_PASSWORD": DEMO_WEBIN_PASSWORD,
        },
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {**result, "public": public, "private": private, "site": site}


def test_mgnipy_lists_studies_without_private_ones(seen):
    assert seen["public"] in seen["listed_studies"]
    assert seen["private"] not in seen["listed_studies"]
    assert seen["studies_count"] == seen["generated_list_count"] == len(seen["listed_studies"])


def test_mgnipy_fetches_a_study_its_analyses_annotations_and_downloads(seen):
    assert seen["study"]["accession"] == seen["public"]
    assert seen["study"]["title"]
    assert seen["analyses"], "the demo's public study has completed analyses"
    details = seen["analysis_details"]
    assert [d["accession"] for d in details] == seen["analyses"]
    for detail in details:
        assert detail["pipeline_version"] == "V6"
        aliases = {d["alias"] for d in detail["downloads"]}
        assert f"{detail['accession']}_cds.gff" in aliases, detail
        assert all(d["url"].startswith(f"{seen['site']}/files/") for d in detail["downloads"])
        # SINTAX's SSU taxonomy, paged through the typed endpoint (0 when no SSU was assembled)
        assert isinstance(detail["taxonomies_ssu_count"], int)
    # barrnap's rRNA genes, served as the annotation type `rrnas` (not every run has one)
    assert any("rrnas" in d["annotation_types"] for d in details)


def test_the_private_study_is_missing_anonymously_and_there_for_its_owner(seen):
    assert seen["private_study_anonymous_status"] == 404
    assert seen["owner_has_token"]
    assert seen["my_studies"] == [seen["private"]]
    assert seen["private_study"]["accession"] == seen["private"]
    assert "PRIVATE-MARKER" in seen["private_study"]["title"]
