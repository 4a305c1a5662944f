"""The browse pages of the demo site in a real browser (the session's headless Chromium): home
page, search, a study, an analysis with its annotation chart, the samples map, the biome
browser; the Atom feed, sitemap and robots.txt over HTTP; none of them shows an anonymous
user anything of the private demo study. Screenshots go to test-artifacts/screenshots/.

MGNIFY_TEST_SITE (+ MGNIFY_TEST_SITE_TOKEN, a curator token) runs them against an already
running `mgnify-db serve` of the demo instead of the `site` fixture's (to develop quickly)."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET

import httpx
import pytest
from support import SITE_TOKEN

pytestmark = pytest.mark.e2e
ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
API = "/metagenomics/api/v2"


@pytest.fixture(scope="module")
def base(request, store_kind) -> str:
    # store_kind named here (not only through `site`, asked for at run time) so that pytest
    # runs the module once per store
    return os.environ.get("MGNIFY_TEST_SITE") or request.getfixturevalue("site")


@pytest.fixture(scope="module")
def client(base):
    with httpx.Client(base_url=base, timeout=20) as client:
        yield client


@pytest.fixture(scope="module")
def page(base, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(15_000)
    yield page
    page.close()


def shoot(page, screenshots, name: str) -> None:
    path = screenshots / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    assert path.stat().st_size > 5_000


def rows(client, path: str, **headers) -> list[dict]:
    r = client.get(path, headers=headers)
    assert r.status_code == 200, path
    return r.json()


def test_home_page_counts_links_and_search(base, page, screenshots):
    from playwright.sync_api import expect

    page.goto(base, wait_until="networkidle")
    assert int(page.locator("#count-studies").inner_text().replace(",", "")) >= 1
    assert int(page.locator("#count-analyses").inner_text().replace(",", "")) >= 1
    for link, href in (
        ("#link-map", "/public/samples"),
        ("#link-biomes", "/biomes"),
        ("#link-feed", "/public/new_studies.atom"),
        ("#link-api", f"{API}/docs"),
    ):
        assert page.locator(link).get_attribute("href") == href
    shoot(page, screenshots, "home")
    page.fill("#search-all-q", "mock")
    page.locator("form.mgnify-search input[type=submit]").click()
    page.wait_for_url(re.compile(r"/-/search\?q=mock"))
    results = page.locator("#search-all-results")  # studies and samples
    expect(results).to_contain_text(re.compile(r"MGYS\d{8}"))
    expect(results).to_contain_text(re.compile(r"SAMEA\d+"))
    shoot(page, screenshots, "search")


def test_study_search_and_row_links(base, page, screenshots):
    from playwright.sync_api import expect

    page.goto(f"{base}/public/studies?_search=mock", wait_until="networkidle")
    expect(page.locator("h3").first).to_contain_text('where search matches "mock"')
    page.locator("td.col-accession a").first.click()
    page.wait_for_load_state("networkidle")
    acc = page.url.rsplit("/", 1)[1]
    assert re.fullmatch(r"MGYS\d{8}", acc)
    links = "p.mgnify-links a[data-rel={}]"
    assert page.locator(links.format("api")).get_attribute("href") == f"{API}/studies/{acc}"
    downloads = page.locator(links.format("downloads")).get_attribute("href")
    assert downloads == f"/public/downloads?study={acc}"
    shoot(page, screenshots, "study")
    page.goto(f"{base}{downloads}", wait_until="networkidle")
    expect(page.locator("td.col-url a").first).to_have_attribute("href", re.compile("^/files/"))


def test_analysis_page_chart_qc_and_downloads(base, page, client, screenshots):
    from playwright.sync_api import expect

    (first,) = rows(client, "/public/annotations.json?_shape=array&_size=1")
    acc = first["analysis"]
    page.goto(f"{base}/public/analyses/{acc}", wait_until="networkidle")
    bars = page.locator("svg.mgnify-chart rect.bar")
    assert bars.count() >= 1
    box = bars.first.bounding_box()
    assert box and box["width"] > 0 and box["height"] > 0  # drawn, not just in the markup
    # One chart per taxonomy type the analysis has (every type when it has none), by name.
    types = rows(
        client,
        f"/public.json?sql=select+distinct+type+from+annotations+where+analysis%3D%3Aa&a={acc}"
        "&_shape=array",
    )
    charts = page.locator("figure.mgnify-chart").evaluate_all(
        "l => l.map(f => f.getAttribute('data-type'))"
    )
    every = sorted(t["type"] for t in types)
    taxonomies = [t for t in every if t.startswith("taxonomies__")]
    assert charts == (taxonomies or every)  # taxonomies only, when there are any
    expect(page.locator("table.mgnify-qc tbody tr").first).to_contain_text("Reads")
    files = page.locator("section.mgnify-downloads a")
    assert files.count() >= 1
    assert all(
        h.startswith(f"/files/{acc}/")
        for h in files.evaluate_all("l => l.map(a => a.getAttribute('href'))")
    )
    api = {
        a.get_attribute("data-rel"): a.get_attribute("href")
        for a in page.locator("p.mgnify-links a").all()
    }
    assert api["api"] == f"{API}/analyses/{acc}"
    assert api["api-annotations"] == f"{API}/analyses/{acc}/annotations"
    shoot(page, screenshots, "analysis")


def test_samples_map_renders_markers(base, page, screenshots):
    from playwright.sync_api import expect

    # The tiles come from the internet (refused here): the markers must show without them.
    page.goto(f"{base}/public/samples", wait_until="load")
    markers = page.locator(".leaflet-marker-icon")  # single markers and clusters alike
    expect(markers.first).to_be_visible(timeout=15_000)
    assert markers.count() >= 1
    shoot(page, screenshots, "samples-map")


def test_biome_browser_lists_the_tree_and_its_studies(base, page, screenshots):
    from playwright.sync_api import expect

    page.goto(f"{base}/biomes", wait_until="networkidle")
    biomes = page.locator("li.biome")
    assert biomes.count() >= 2
    expect(biomes.first).to_have_attribute("data-lineage", "root")
    shoot(page, screenshots, "biomes")
    biomes.last.locator("a").click()  # the deepest lineage listed (depth first, with studies)
    page.wait_for_load_state("networkidle")
    assert "/public/biome_studies?lineage=" in page.url
    expect(page.locator("td.col-accession").first).to_contain_text(re.compile(r"MGYS\d{8}"))
    shoot(page, screenshots, "biome-studies")


def test_atom_feed_of_new_studies(client):
    r = client.get("/public/new_studies.atom")
    assert r.status_code == 200 and "xml" in r.headers["content-type"]
    feed = ET.fromstring(r.content)
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    assert 1 <= len(entries) <= 20
    for entry in entries:
        assert entry.findtext(f"{ATOM}id").startswith("urn:mgnify:study:MGYS")
        assert entry.findtext(f"{ATOM}updated")
        assert entry.find(f"{ATOM}link").get("href").startswith("/public/studies/MGYS")


def test_sitemap_and_robots(client):
    r = client.get("/sitemap.xml")
    assert r.status_code == 200
    locs = [u.findtext(f"{SITEMAP}loc") for u in ET.fromstring(r.content)]
    paths = {httpx.URL(loc).path for loc in locs}
    assert {"/", "/biomes", "/public/studies"} <= paths
    assert any(re.fullmatch(r"/public/studies/MGYS\d{8}", p) for p in paths)
    assert any(re.fullmatch(r"/public/analyses/MGYA\d{8}", p) for p in paths)
    assert not any(p.startswith("/catalogue") for p in paths)
    robots = client.get("/robots.txt").text.splitlines()
    assert "Disallow: /catalogue" in robots
    assert any(line.startswith("Sitemap: ") and line.endswith("/sitemap.xml") for line in robots)


def private_study(client) -> tuple[set[str], set[str]]:
    """The private demo study's marker text and accessions (and those of its records), and its
    biome's lineage with the lineage's ancestors, read by a curator."""
    token = os.environ.get("MGNIFY_TEST_SITE_TOKEN", SITE_TOKEN)
    curator = {"Authorization": f"Bearer {token}"}
    found = rows(client, "/catalogue/studies.json?_shape=array&is_private=1", **curator)
    assert found, "the demo has a private study"
    markers, lineages = {"PRIVATE-MARKER"}, set()
    for study in found:
        labels = study["biome"].split(":")
        lineages |= {":".join(labels[:n]) for n in range(1, len(labels) + 1)}
        acc = study["accession"]
        markers |= {acc, study["ena_accession"]}
        for table, col in (
            ("runs", "accession"),
            ("analyses", "accession"),
            ("assemblies", "accession"),
            ("study_samples", "sample"),
        ):
            got = rows(
                client, f"/catalogue/{table}.json?_shape=array&_size=max&study={acc}", **curator
            )
            markers |= {r[col] for r in got}
    return markers, lineages


def browse_paths(client, lineages: set[str]) -> list[str]:
    """Every browse page, feed and sitemap, each public record's page and downloads, and the
    studies of `lineages`."""
    paths = [
        "/",
        "/biomes",
        "/biomes?all=1",
        "/-/search?q=marker",
        "/public/studies?_search=private",
        "/public/samples",
        "/public/new_studies",
        "/public/new_studies.atom",
        "/public/new_studies.json",
        "/sitemap.xml",
        "/robots.txt",
    ]
    paths += [f"/public/biome_studies?lineage={lineage}" for lineage in sorted(lineages)]
    for table in ("studies", "samples", "runs", "assemblies", "analyses"):
        for r in rows(client, f"/public/{table}.json?_shape=array&_size=max&_col=accession"):
            paths.append(f"/public/{table}/{r['accession']}")
            paths.append(f"/public/downloads_for?accession={r['accession']}")
    return paths


def test_browse_pages_show_nothing_private(client):
    markers, lineages = private_study(client)
    leaks = {}
    for path in browse_paths(client, lineages):
        r = client.get(path)
        assert r.status_code == 200, path
        found = [m for m in markers if m in r.text and m not in path]
        if found:
            leaks[path] = found
    assert not leaks, leaks
