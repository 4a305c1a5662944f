"""The browse pages (home, /biomes, row pages with their links, chart and downloads, canned
queries, the Atom feed, sitemap, robots.txt, search) show an anonymous user no private marker
of the hand-made catalogue (privacy_data), served by a real `mgnify-db serve`."""

from __future__ import annotations

import os
import subprocess
import time

import httpx
import pytest
from privacy_data import (
    BIOME,
    PRIVATE_MARKERS,
    PUBLIC_ANALYSIS,
    PUBLIC_STUDY,
    SHARED_SAMPLE,
    build_catalogue,
)
from support import free_port, tool

TOKEN = "browse-privacy-curator-token-0123456789"
# Every browse path, with the private records' accessions where a path takes one: they must
# answer as for a record that does not exist.
PATHS = [
    "/",
    "/biomes",
    "/biomes?all=1",
    "/sitemap.xml",
    "/robots.txt",
    "/-/search?q=QUOKKA",
    "/public/new_studies",
    "/public/new_studies.atom",
    "/public/new_studies.json",
    "/public/samples",
    "/public/studies?_search=QUOKKA",
    *[f"/public/biome_studies?lineage={b}" for b in ("root", BIOME)],
    f"/public/studies/{PUBLIC_STUDY}",
    f"/public/analyses/{PUBLIC_ANALYSIS}",
    f"/public/samples/{SHARED_SAMPLE}",
    "/public/runs/ERR0000001",
    *[
        f"/public/downloads_for?accession={a}"
        for a in ("ERR0000001", "ERR0000002", SHARED_SAMPLE, "ERR7770001", "SAMEA77770001")
    ],
    f"/public/downloads?study={PUBLIC_STUDY}",
]


@pytest.fixture(scope="module")
def client(tmp_path_factory, store_kind, request):
    root = tmp_path_factory.mktemp("browse-privacy")
    cat = build_catalogue(root, store=store_kind, request=request)
    port = free_port()
    env = {**os.environ, "MGNIFY_CURATOR_TOKEN": TOKEN}
    server = subprocess.Popen(
        [tool("mgnify-db"), "serve", str(cat.db), "--port", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/-/versions.json", timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("mgnify-db serve did not answer")
                time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=10) as client:
            yield client
    finally:
        server.terminate()
        server.wait(10)


def test_browse_pages_show_no_private_marker(client):
    leaks = {}
    for path in PATHS:
        r = client.get(path)
        assert r.status_code == 200, path
        found = [m for m in PRIVATE_MARKERS if m in r.text and m not in path]
        if found:
            leaks[path] = found
    assert not leaks, leaks


def test_public_pages_do_show_public_records(client):
    """The probe above would pass on empty pages: these show the public study's records."""
    assert PUBLIC_STUDY in client.get("/public/new_studies.atom").text
    assert f"/public/studies/{PUBLIC_STUDY}" in client.get("/sitemap.xml").text
    assert PUBLIC_STUDY in client.get(f"/public/biome_studies?lineage={BIOME}").text
    page = client.get(f"/public/analyses/{PUBLIC_ANALYSIS}").text
    assert f"/metagenomics/api/v2/analyses/{PUBLIC_ANALYSIS}/annotations" in page
    assert 'class="bar"' in page  # its annotations charted
    assert "data-lineage" in client.get("/biomes").text
