"""The project's Datasette plugin, in-process (datasette.client): the served catalogue follows
the file (a rebuild swaps it in), and `mgnify-db serve` runs Datasette with the metadata."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import yaml
from support import make_study

from mgnify_db.catalogue import rebuild
from mgnify_db.cli import METADATA
from mgnify_db.config import GlobalConfig


def make_results(results: Path, study: str = "PRJEB1") -> Path:
    make_study(results, study, 1)
    return results


def datasette_plugin():
    from datasette.plugins import pm

    from mgnify_db.web import plugin

    return pm, plugin


def test_plugin_is_registered_through_the_entry_point():
    from importlib.metadata import entry_points

    pm, plugin = datasette_plugin()
    assert "mgnify_db.web.plugin" in {ep.value for ep in entry_points(group="datasette")}
    assert pm.is_registered(plugin), "pip install -e . --no-deps registers the entry point"


CURATOR = {"Authorization": "Bearer test-token"}


async def studies_served(ds, requests: int = 8) -> set[str]:
    """ENA accessions in /catalogue/studies.json, over enough requests to use every SQL thread."""
    seen = set()
    for _ in range(requests):
        response = await ds.client.get("/catalogue/studies.json?_shape=array", headers=CURATOR)
        assert response.status_code == 200, response.text
        seen |= {row["ena_accession"] for row in response.json()}
    return seen


@pytest.mark.parametrize("threads", [3, 0], ids=["threaded", "non-threaded"])
def test_datasette_serves_the_catalogue_rebuild_swapped_in(tmp_path, threads, monkeypatch):
    monkeypatch.setenv("MGNIFY_CURATOR_TOKEN", "test-token")
    from datasette.app import Datasette

    pm, plugin = datasette_plugin()
    if not pm.is_registered(plugin):  # covered by test_plugin_is_registered_through_the_entry_point
        pm.register(plugin)
    db = tmp_path / "catalogue.db"
    rebuild(db, make_results(tmp_path / "a"), GlobalConfig())
    metadata = yaml.safe_load(METADATA.read_text())

    async def scenario() -> None:
        ds = Datasette([str(db)], metadata=metadata, settings={"num_sql_threads": threads})
        await ds.invoke_startup()
        assert await studies_served(ds) == {"PRJEB1"}
        inode = db.stat().st_ino
        rebuild(db, make_results(tmp_path / "b", "PRJEB2"), GlobalConfig())
        assert db.stat().st_ino != inode  # replaced by rename, not rewritten
        assert await studies_served(ds) == {"PRJEB2"}
        response = await ds.client.get("/catalogue/runs.json?_shape=array", headers=CURATOR)
        assert {r["accession"] for r in response.json()} == {"ERR2000001", "ERR2999999"}
        page = await ds.client.get("/catalogue/runs", headers=CURATOR)
        assert page.status_code == 200 and "ERR2000001" in page.text
        # the catalogue is the curators': anonymous requests are refused
        assert (await ds.client.get("/catalogue/runs.json")).status_code == 403

    asyncio.run(scenario())


def test_serve_runs_datasette_with_the_catalogue_and_metadata(tmp_path):
    from mgnify_db.cli import datasette_args

    args = datasette_args(tmp_path / "c.db", "127.0.0.1", 8001)
    assert args[:5] == [sys.executable, "-m", "datasette", "serve", str(tmp_path / "c.db")]
    assert args[args.index("--metadata") + 1] == str(METADATA)
    assert METADATA == Path(__file__).resolve().parents[2] / "mgnify_db" / "web" / "metadata.yaml"


def test_public_pages_follow_a_republished_public_db(tmp_path, monkeypatch):
    """public.db's query results, table counts, pages and sitemap are kept per published file:
    a publish (a new file swapped in by rename) is served at once; anonymous pages are kept
    (ETag, 304), never a curator's, nor SQL with randomness."""
    monkeypatch.setenv("MGNIFY_CURATOR_TOKEN", "test-token")
    from datasette.app import Datasette

    from mgnify_db.catalogue.publish import publish

    pm, plugin = datasette_plugin()
    if not pm.is_registered(plugin):
        pm.register(plugin)
    catalogue, public = tmp_path / "catalogue.db", tmp_path / "public.db"
    rebuild(catalogue, make_results(tmp_path / "a"), GlobalConfig())
    publish(catalogue, public)
    metadata = yaml.safe_load(METADATA.read_text())

    async def served(ds) -> dict[str, str]:
        pages = {}
        for path in ("/public/studies", "/public", "/", "/sitemap.xml"):
            response = await ds.client.get(path)
            assert response.status_code == 200, (path, response.text)
            pages[path] = response.text
        rows = (await ds.client.get("/public/studies.json?_shape=array")).json()
        pages["json"] = " ".join(r["ena_accession"] for r in rows)
        return pages

    async def scenario() -> None:
        ds = Datasette([str(catalogue), str(public)], metadata=metadata)
        await ds.invoke_startup()
        first = await served(ds)
        assert first == await served(ds)  # kept, the same
        assert first["json"] == "PRJEB1" and "PRJEB1" in first["/public/studies"]
        (accession,) = {
            r["accession"]
            for r in await ds.get_database("public").execute("select accession from studies")
        }
        assert f"/public/studies/{accession}</loc>" in first["/sitemap.xml"]

        page = await ds.client.get("/public/studies")
        etag = page.headers["etag"]
        assert (
            await ds.client.get("/public/studies", headers={"if-none-match": etag})
        ).status_code == 304
        curator = await ds.client.get(
            "/public/studies", headers={"Authorization": "Bearer test-token"}
        )
        assert "etag" not in curator.headers
        assert curator.headers["cache-control"] == "private, no-store"
        randoms = {
            (await ds.client.get("/public.json?sql=select+random()+as+r&_shape=array")).json()[0][
                "r"
            ]
            for _ in range(3)
        }
        assert len(randoms) > 1

        rebuild(catalogue, make_results(tmp_path / "b", "PRJEB2"), GlobalConfig())
        inode = public.stat().st_ino
        publish(catalogue, public)
        assert public.stat().st_ino != inode  # replaced by rename
        second = await served(ds)
        assert second["json"] == "PRJEB2" and "PRJEB2" in second["/public/studies"]
        assert "PRJEB1" not in second["/public/studies"]
        assert second["/sitemap.xml"] != first["/sitemap.xml"]
        assert (
            await ds.client.get("/public/studies", headers={"if-none-match": etag})
        ).status_code == 200

    asyncio.run(scenario())
