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
from support import REPO, demo_webin

MGNIPY_PYTHON = REPO / ".venv-mgnipy" / "bin" / "python"
SESSION = Path(__file__).with_name("mgnipy_session.py")


def demo_accessions(catalogue: Path) -> tuple[str, str]:
    """(the public study, the private study) of the demo catalogue."""
    with sqlite3.connect(catalogue) as db:
        rows = dict(db.execute("select is_private, accession from studies order by accession"))
    return rows[0], rows[1]


@pytest.fixture(scope="module")
def seen(site, demo_run, tmp_path_factory) -> dict:
    if not MGNIPY_PYTHON.exists():
        pytest.fail("mgnipy is not installed: run scripts/setup --tests")
    public, private = demo_accessions(demo_run / "results" / "catalogue.db")
    user, password = demo_webin()
    proc = subprocess.run(
        [str(MGNIPY_PYTHON), str(SESSION), f"{site}/", public, private],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path_factory.mktemp("mgnipy"),  # mgnipy reads a .env from the working dir
        env={
            **os.environ,
            "HOME": str(tmp_path_factory.mktemp("home")),
            "MGNIPY_WEBIN_USER": user,
            "MGNIPY_WEBIN_PASSWORD": password,
        },
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {**result, "public": public, "private": private}


def test_mgnipy_lists_studies_without_private_ones(seen):
    assert seen["public"] in seen["listed_studies"]
    assert seen["private"] not in seen["listed_studies"]
    assert seen["studies_count"] == seen["generated_list_count"] == len(seen["listed_studies"])


def test_mgnipy_fetches_a_study_its_analyses_annotations_and_downloads(seen):
    assert seen["study"]["accession"] == seen["public"]
    assert seen["study"]["title"]
    assert seen["analyses"], "the demo's public study has completed analyses"
    for detail in seen["analysis_details"]:
        assert detail["pipeline_version"] == "V6"
        assert detail["downloads"], detail
        assert all(d["url"].startswith("http") for d in detail["downloads"]), detail
        assert "rrnas" in detail["annotation_types"]
        assert detail["taxonomies_ssu_count"] == 0  # no SSU taxonomy in the demo's analysis yet


def test_the_private_study_is_missing_anonymously_and_there_for_its_owner(seen):
    assert seen["private_study_anonymous_status"] == 404
    assert seen["owner_has_token"]
    assert seen["my_studies"] == [seen["private"]]
    assert seen["private_study"]["accession"] == seen["private"]
    assert "PRIVATE-MARKER" in seen["private_study"]["title"]
