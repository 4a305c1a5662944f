"""No private byte reaches an anonymous user of a real `mgnify-db serve` (notes/datasette.md §2).

The catalogue holds one public and one private study (samples, one shared; runs, one suppressed;
an assembly, an analysis, annotations, downloads of real files, job events), every private value
carrying a marker (privacy_data.PRIVATE_MARKERS). Anonymous requests to every table and row of
both databases in JSON, CSV and HTML, SQL, `_where=`, `_search=`, facets, FTS and FTS shadow
tables, the `/-/` pages, database downloads, private files and every plugin route must show no
marker; a private record's URL must answer exactly as a missing one's. A curator's token opens
the catalogue paths."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import time
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import pytest
from privacy_data import PRIVATE_MARKERS, PUBLIC_MARKERS, build_catalogue
from support import free_port, tool

TOKEN, SECRET = "privacy-probe-curator-token-0123456789", "privacy-probe-files-secret"
CURATOR = {"Authorization": f"Bearer {TOKEN}"}
PRIVATE_FILE = "/files/MGYA00000777/ERR7770001_contigs.fa.gz"
# a private accession -> one of the same shape that exists nowhere
TWINS = {
    "MGYS00000777": "MGYS00000888",
    "MGYA00000777": "MGYA00000888",
    "LZ00000777": "LZ00000888",
    "ERR7770001": "ERR8880001",
    "SAMEA77770001": "SAMEA88880001",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory, store_kind, request):
    """(base URL, catalogue) of `mgnify-db serve` on a free port, publishing first."""
    root = tmp_path_factory.mktemp("privacy")
    cat = build_catalogue(root, store=store_kind, request=request)
    port = free_port()
    env = {**os.environ, "MGNIFY_CURATOR_TOKEN": TOKEN, "MGNIFY_FILES_SECRET": SECRET}
    log = (root / "serve.log").open("w")
    server = subprocess.Popen(
        [tool("mgnify-db"), "serve", str(cat.db), "--port", str(port)],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
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
                    pytest.fail(
                        f"mgnify-db serve did not answer: {(root / 'serve.log').read_text()}"
                    )
                time.sleep(0.1)
        with httpx.Client(base_url=base, follow_redirects=True, timeout=10) as client:
            yield client, cat
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def tables(db: Path) -> list[str]:
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
    finally:
        conn.close()


def probes(cat) -> list[str]:
    """Every anonymous request path probed."""
    public_tables = tables(cat.results / "public.db")
    catalogue_tables = tables(cat.db)
    assert "studies_fts_data" in public_tables and "events" in catalogue_tables
    paths = [
        "/",
        "/.json",
        "/public",
        "/public.json",
        "/catalogue",
        "/catalogue.json",
        "/public.db",
        "/catalogue.db",
        # SQL, _where, search, facets
        "/public.json?sql=select * from studies",
        "/public.csv?sql=select * from samples",
        "/public.json?sql=select group_concat(title, ' ') t, group_concat(abstract) a from studies",
        "/public.json?sql=select * from studies_fts where studies_fts match 'embargoed'",
        "/public.json?sql=select * from sqlite_master",
        "/public/studies.json?_where=1=1&_shape=array",
        "/public/studies.json?_search=embargoed&_shape=array",
        "/public/samples.json?_search=burrow&_shape=array",
        "/public/studies?_search=soil",
        "/public/runs.json?_facet=status&_facet=study&_facet=sample",
        "/public/samples.json?_facet=biome&_facet=country",
        "/public/downloads.json?_facet=download_group&_facet=study",
        "/public/downloads.csv?_stream=on",
        "/public/annotations.json?_sort=term",
        "/catalogue.json?sql=select * from studies",
        "/catalogue.csv?sql=select * from studies",
        "/catalogue/studies.json?_where=is_private=1",
        "/catalogue/studies.json?_search=embargoed",
        "/catalogue/studies.json?_facet=center_name",
        "/catalogue/samples_fts.json?_search=burrow",
        # Datasette's own pages
        "/-/metadata.json",
        "/-/plugins.json",
        "/-/databases.json",
        "/-/versions.json",
        "/-/settings.json",
        "/-/threads.json",
        "/-/actor.json",
        "/-/allow-debug",
        "/-/permissions",
        "/-/messages",
        "/_internal",
        "/_internal/tables.json",
        "/_internal/columns.json",
        # files: private (bare, signed badly, asking for a link), and a public one
        PRIVATE_FILE,
        PRIVATE_FILE + "?sign=1",
        PRIVATE_FILE + "?expires=99999999999&token=" + "0" * 64,
        "/files/MGYA00000001/ERR0000001_contigs.fa.gz",
        "/files/MGYS00000777/study_summary.tsv",
        # private records' own pages
        "/public/studies/MGYS00000777",
        "/public/studies/MGYS00000777.json",
        "/public/analyses/MGYA00000777.json",
        "/public/assemblies/LZ00000777.json",
        "/public/runs/ERR7770001.json",
        "/public/samples/SAMEA77770001.json",
        "/public/runs.json?sample=SAMEA77770001",
        "/public/annotations.json?analysis=MGYA00000777",
        "/catalogue/studies/MGYS00000777",
        "/catalogue/studies/MGYS00000777.json",
        "/catalogue/runs/ERR7770001.csv",
        # browse pages: biome browser, canned queries, feed, sitemap, robots, search-all
        "/biomes",
        "/biomes?all=1",
        "/public/biome_studies?lineage=root",
        "/public/biome_studies.json?lineage=root:Environmental",
        "/public/new_studies",
        "/public/new_studies.atom",
        "/public/new_studies.json",
        "/public/downloads_for?accession=ERR7770001",
        "/public/downloads_for.json?accession=SAMEA77770001",
        "/sitemap.xml",
        "/robots.txt",
        "/-/search?q=QUOKKA",
        "/-/search?q=embargoed",
        "/-/search.json?q=QUOKKA",
    ]
    paths += api_probes()
    for db, names in (("public", public_tables), ("catalogue", catalogue_tables)):
        for t in names:
            paths += [f"/{db}/{quote(t)}", f"/{db}/{quote(t)}.json", f"/{db}/{quote(t)}.csv"]
    return paths


API = "/metagenomics/api/v2"
# values of each path parameter of MGnify's API, by the path's first segment: public, private,
# suppressed
API_KEYS = {
    "studies": ["MGYS00000001", "MGYS00000777"],
    "insdc": ["PRJEB00011", "ERP00011", "PRJEB77777", "ERP77777"],
    "samples": ["SAMEA00000001", "SAMEA00000002", "SAMEA77770001"],
    "runs": ["ERR0000001", "ERR7770001", "ERR7770002", "ERR0000002"],
    "assemblies": ["LZ00000001", "LZ00000777"],
    "analyses": ["MGYA00000001", "MGYA00000777"],
    "publications": ["12345"],
    "super-studies": ["ocean-atlas"],
    "genomes": ["MGYG000000001"],
    "catalogues": ["ocean-atlas"],
}
API_QUERIES = [
    "/studies/?search=QUOKKA",
    "/studies/?search=embargoed",
    "/studies/?search=PRJEB77777",
    "/studies/?search=ERP77777",
    "/studies/?biome_lineage=root&page_size=100",
    "/studies/?has_analyses_from_pipeline=V6",
    "/studies/?order=-updated_at",
    "/samples/?search=burrow",
    "/samples/?search=SAMEA7777",
    "/samples/?biome_lineage=root",
    "/runs/?has_experiment_type=METAG",
    "/analyses/?page_size=100",
    "/assemblies/",
    "/publications/?title=plankton",
    "/super-studies/",
    "/biomes/?max_depth=2",
    "/my-data/studies/",
    "/openapi.json",
    "/docs",
    "/",
    "/no/such/path",
]


def api_probes() -> list[str]:
    """Every path of MGnify's API v2 (ours and the auth ones) with public, private and
    suppressed keys, and queries that would find private records if a filter leaked."""
    from mgnify_db.web.api.spec import document

    paths = [API + q for q in API_QUERIES]
    for template in document()["paths"]:
        rest = template.removeprefix(API)
        segments = rest.strip("/").split("/")
        head = "insdc" if rest.startswith("/studies/insdc/") else segments[0]
        if head == "genomes" and len(segments) > 1 and segments[1] == "catalogues":
            head = "catalogues"
        values = API_KEYS.get(head, ["x"])
        if "{" not in template:
            paths.append(template)
            continue
        for value in values:
            path = re.sub(r"\{accession\}|\{pubmed_id\}|\{slug\}|\{catalogue_id\}", value, template)
            paths.append(path.replace("{annotation_type}", "pfams"))
    return paths


def markers_in(text: str, path: str) -> list[str]:
    """Private markers in a response, except one the request itself names (an echo)."""
    asked = unquote(path)
    return [m for m in PRIVATE_MARKERS if m in text and m not in asked]


def body(response: httpx.Response) -> str:
    return response.content.decode("utf-8", "replace")


def timeless(text: str) -> str:
    """A page without the time its queries took."""
    text = re.sub(r'"query_ms": [0-9.e-]+', '"query_ms": 0', text)
    return re.sub(r"[0-9.]+ ?ms\b", "0ms", text)


def test_anonymous_probe_finds_no_private_byte(served):
    client, cat = served
    paths = probes(cat)
    assert len(paths) >= 30
    leaks, seen_public = {}, set()
    for path in paths:
        r = client.get(path)
        assert r.status_code < 500, (path, r.status_code, body(r)[:300])
        if found := markers_in(body(r), path):
            leaks[path] = (r.status_code, found)
        seen_public |= {m for m in PUBLIC_MARKERS if m in body(r)}
    assert not leaks, leaks
    for table in tables(cat.results / "public.db"):
        assert client.get(f"/public/{table}").status_code == 200, table
    assert seen_public == set(PUBLIC_MARKERS)  # the probe reaches the public data


def test_a_wrong_token_is_anonymous(served):
    client, _ = served
    for headers in ({"Authorization": "Bearer nope"}, {"Authorization": TOKEN}):
        for path in ("/catalogue/studies.json", "/catalogue.json?sql=select 1", PRIVATE_FILE):
            r = client.get(path, headers=headers)
            assert r.status_code in (403, 404), path
            assert not markers_in(body(r), path)


def test_private_records_answer_as_missing_ones(served):
    client, cat = served
    for path in probes(cat):
        if not any(acc in path for acc in TWINS):
            continue
        twin = path
        for acc, other in TWINS.items():
            twin = twin.replace(acc, other)
        r, t = client.get(path), client.get(twin)
        assert r.status_code == t.status_code, (path, r.status_code, t.status_code)
        expected = timeless(body(t))
        for acc, other in TWINS.items():
            expected = expected.replace(other, acc)
        assert timeless(body(r)) == expected, path


def test_searches_and_sql_on_public_find_nothing_private(served):
    client, _ = served
    for path in (
        "/public/studies.json?_search=embargoed&_shape=array",
        "/public/studies.json?_search=QUOKKA&_shape=array",
        "/public/samples.json?_search=burrow&_shape=array",
        "/public.json?sql=select * from studies_fts where studies_fts match 'embargoed'"
        "&_shape=array",
        "/public.json?sql=select * from studies where title like '%25QUOKKA%25'&_shape=array",
        "/public/studies.json?_where=title like '%25QUOKKA%25'&_shape=array",
    ):
        r = client.get(path)
        assert (r.status_code, r.json()) == (200, []), path
    r = client.get("/public/studies.json?_search=plankton&_shape=array")
    assert [row["accession"] for row in r.json()] == ["MGYS00000001"]


def test_database_downloads(served):
    client, cat = served
    r = client.get("/public.db")
    assert r.status_code == 200
    assert r.content == (cat.results / "public.db").read_bytes()
    assert not [m for m in PRIVATE_MARKERS if m.encode() in r.content]
    assert client.get("/catalogue.db").status_code == 403


def test_private_api_records_answer_not_found(served):
    client, cat = served
    private = [p for p in api_probes() if any(k in p for k in TWINS) or "ERR0000002" in p]
    assert len(private) >= 15
    for path in private:
        r = client.get(path)
        assert (r.status_code, r.json()) == (404, {"detail": "Not Found"}), path
        assert client.get(path, headers=CURATOR).status_code == 200, path


def test_every_plugin_route_is_probed(served):
    from datasette.app import Datasette
    from datasette.plugins import pm

    _, cat = served
    paths = [p.partition("?")[0] for p in probes(cat)]
    ds = Datasette(memory=True)
    for routes in pm.hook.register_routes(datasette=ds):
        for regex, _view in routes or []:
            assert any(re.match(regex, p) for p in paths), f"no probe of the route {regex}"


def test_a_curator_sees_the_catalogue(served):
    client, cat = served
    assert client.get("/catalogue", headers=CURATOR).status_code == 200
    catalogue_paths = [
        "/catalogue.json?sql=select * from studies",
        "/catalogue.csv?sql=select * from studies",
        "/catalogue/studies.json",
        "/catalogue/studies.csv",
        "/catalogue/studies",
        "/catalogue/studies.json?_where=is_private=1",
        "/catalogue/studies.json?_search=embargoed",
        "/catalogue/studies.json?_facet=center_name",
        "/catalogue/studies/MGYS00000777.json",
        "/catalogue/studies_fts.json",
        "/catalogue/samples_fts.json?_search=burrow",
        "/catalogue/samples.json",
        "/catalogue/runs/ERR7770001.csv",
        "/catalogue/annotations.json",
        "/catalogue/downloads.json",
        "/catalogue/events.json",
        "/catalogue/_meta.json",
        PRIVATE_FILE,
    ]
    for path in catalogue_paths:
        anonymous = client.get(path)
        assert anonymous.status_code in (403, 404), path
        r = client.get(path, headers=CURATOR)
        assert r.status_code == 200, (path, r.status_code)
        assert markers_in(body(r), path), path
    for table in tables(cat.db):  # every page renders (its configured facets exist)
        assert client.get(f"/catalogue/{table}", headers=CURATOR).status_code == 200, table
    r = client.get(PRIVATE_FILE + "?sign=1", headers=CURATOR)
    signed = client.get(r.json()["url"])
    assert signed.status_code == 200 and signed.content == cat.private_file.content
    assert client.get("/-/actor.json", headers=CURATOR).json() == {"actor": {"id": "curator"}}
