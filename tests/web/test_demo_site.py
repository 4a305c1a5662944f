"""The demo's own catalogue served by `mgnify-db serve`: anonymous users see nothing of the
private demo study on any probed path, a curator sees all of it, and every download URL serves
the bytes whose size and md5 the catalogue states."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from urllib.parse import quote

import httpx
import pytest
from support import SITE_TOKEN

pytestmark = pytest.mark.e2e
CURATOR = {"Authorization": f"Bearer {SITE_TOKEN}"}


def query(db, sql, params=()):
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def demo(site, demo_workdir):
    db = demo_workdir / "results" / "catalogue.db"
    (private,) = query(db, "select * from studies where is_private")
    acc = private["accession"]
    markers = {"PRIVATE-MARKER", private["ena_accession"], acc}
    for table, col in (
        ("runs", "accession"),
        ("analyses", "accession"),
        ("assemblies", "accession"),
    ):
        markers |= {r[col] for r in query(db, f"select {col} from {table} where study = ?", [acc])}
    markers |= {
        r["sample"] for r in query(db, "select sample from study_samples where study = ?", [acc])
    }
    with httpx.Client(base_url=site, timeout=20) as client:
        yield client, db, private, markers


def test_anonymous_users_see_nothing_of_the_private_study(demo):
    client, db, private, markers = demo
    tables = [r["name"] for r in query(db, "select name from sqlite_master where type='table'")]
    private_files = query(db, "select url from downloads where is_private")
    assert private_files
    paths = [
        "/",
        "/public",
        "/public.json?sql=select * from studies",
        "/public.json?sql=select * from samples",
        "/public.json?sql=select group_concat(title) from studies",
        "/public/studies.json?_search=PRIVATE",
        "/public/runs.json?_facet=study&_facet=sample",
        "/public.db",
        "/catalogue.db",
        "/-/metadata.json",
        *[d["url"] for d in private_files],
        *[
            f"/public/studies/{private['accession']}.json",
            f"/catalogue/studies/{private['accession']}",
        ],
    ]
    for db_name in ("public", "catalogue"):
        for t in tables:
            paths += [
                f"/{db_name}/{quote(t)}.json?_size=max",
                f"/{db_name}/{quote(t)}.csv?_size=max",
            ]
    assert len(paths) >= 30
    leaks = {}
    for path in paths:
        r = client.get(path)
        text = r.content.decode("utf-8", "replace")
        found = [m for m in markers if m in text and m not in path]
        if found:
            leaks[path] = found
    assert not leaks, leaks


def test_a_curator_sees_all_of_it(demo):
    client, db, private, markers = demo
    r = client.get("/catalogue/studies.json?_shape=array&_where=is_private=1", headers=CURATOR)
    assert [s["accession"] for s in r.json()] == [private["accession"]]
    seen = set()
    for table in ("studies", "runs", "analyses", "assemblies", "study_samples", "samples"):
        r = client.get(f"/catalogue/{table}.json?_shape=array&_size=max", headers=CURATOR)
        assert r.status_code == 200, table
        seen |= {m for m in markers if m in r.text}
    assert seen == markers
    for d in query(db, "select * from downloads where is_private and not is_suppressed"):
        r = client.get(d["url"], headers=CURATOR)
        assert r.status_code == 200 and hashlib.md5(r.content).hexdigest() == d["md5"], d["url"]


def test_every_public_download_serves_the_file_the_catalogue_describes(demo):
    client, db, _, _ = demo
    downloads = query(db, "select * from downloads where not is_private and not is_suppressed")
    assert downloads
    for d in downloads:
        r = client.get(d["url"])
        assert r.status_code == 200, d["url"]
        assert len(r.content) == d["size_bytes"], d["url"]
        assert hashlib.md5(r.content).hexdigest() == d["md5"], d["url"]
        for index in json.loads(d["index_files"] or "[]"):
            assert client.get(index["url"]).status_code == 200, index["url"]
    # a range of a file: the bytes at that offset
    d = downloads[0]
    whole = client.get(d["url"]).content
    part = client.get(d["url"], headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole[10:20]
