"""MGnify's API v2 read operations (in-process Datasette over the hand-made catalogue of
privacy_data and its public.db): every operation, paging, filters, visibility (anonymous,
owner, curator), django-ninja-like errors, and every answer valid against MGnify's document."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sqlite3

import jsonschema
import pytest
import yaml
from privacy_data import (
    PRIVATE_ANALYSIS,
    PRIVATE_ASSEMBLY,
    PRIVATE_MARKERS,
    PRIVATE_STUDY,
    PUBLIC_ANALYSIS,
    PUBLIC_ASSEMBLY,
    PUBLIC_STUDY,
    SHARED_SAMPLE,
    build_catalogue,
)
from support import through_store

from mgnify_db.catalogue.publish import publish
from mgnify_db.cli import METADATA
from mgnify_db.web import tokens
from mgnify_db.web.api import API_ROOT, handlers, routes
from mgnify_db.web.api.query import ApiError, Page, page_of, visible
from mgnify_db.web.api.shapes import Links, annotations_object
from mgnify_db.web.api.spec import DOCUMENT, document, operations
from mgnify_db.web.viewer import Viewer

TOKEN, SECRET = "api-test-curator-token-0123456789", "api-test-files-secret"
CURATOR = {"Authorization": f"Bearer {TOKEN}"}
OWNER = Viewer(webin="Webin-777")
STRANGER = Viewer(webin="Webin-999")
API_SECRET = "api-test-token-secret-0123456789abcdef"
SHA256 = "a73b08492caf99ebd97aee9b792d599c7803aae27a71ddd00fe1cd3927430216"


class Site:
    """A Datasette over the catalogue and its public.db, on one event loop."""

    def __init__(self, tmp_path, store: str = "sqlite", request=None):
        from datasette.app import Datasette
        from datasette.plugins import pm

        from mgnify_db.web import plugin

        if not pm.is_registered(plugin):
            pm.register(plugin)
        self.cat = build_catalogue(tmp_path)
        with sqlite3.connect(self.cat.db) as conn:  # a few more terms, to page through
            conn.executemany(
                "INSERT INTO annotations (analysis, type, term, description, count)"
                " VALUES (?, 'pfams', ?, ?, ?)",
                [(PUBLIC_ANALYSIS, f"PF0000{i}", f"plankton domain {i}", i) for i in range(2, 6)],
            )
            conn.execute(  # ENA's fields, and one MGnify's document does not allow
                "UPDATE samples SET metadata = ? WHERE accession = 'SAMEA00000001'",
                [json.dumps({"country": "Norway", "lat": 60.1, "our_own_field": 1})],
            )
            conn.execute(  # ENA's first_public is a date: no time at all to go by
                "UPDATE studies SET metadata = ?, first_public = '2020-05-01' WHERE accession = ?",
                [json.dumps({"study_alias": "OOPS", "not_an_ena_field": 2}), PUBLIC_STUDY],
            )
            # a lineage that extends another's last label (not its descendant), and two whose
            # paths are the same, inserted against their lineage order (only the catalogue
            # keeps the last two: publish drops biomes no public record names)
            conn.executemany(
                "INSERT INTO biomes (lineage, biome_name, path, depth, parent)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        "root:Environmental:AquaticX",
                        "AquaticX",
                        "root.environmental.aquaticx",
                        3,
                        "root:Environmental",
                    ),
                    ("root:Zeta-X", "Zeta-X", "root.zeta_x", 2, "root"),
                    ("root:Zeta X", "Zeta X", "root.zeta_x", 2, "root"),
                ],
            )
            conn.execute(
                "UPDATE samples SET biome = 'root:Environmental:AquaticX' WHERE accession = ?",
                [SHARED_SAMPLE],
            )
        conn.close()
        through_store(self.cat.db, store, request)
        publish(self.cat.db, self.cat.results / "public.db")
        metadata = yaml.safe_load(METADATA.read_text())
        metadata["plugins"]["mgnify-db"] = {"results_dir": str(self.cat.results)}
        self.ds = Datasette(
            [str(self.cat.db), str(self.cat.results / "public.db")], metadata=metadata
        )
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.ds.invoke_startup())

    def get(self, path: str, headers: dict | None = None, method: str = "GET", **kw):
        url = path if path.startswith("/") and not path.startswith(API_ROOT + "/") else path
        if not path.startswith("/"):
            url = f"{API_ROOT}/{path}"
        return self.run(self.ds.client.request(method, url, headers=headers or {}, **kw))

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def db(self, name: str = "catalogue"):
        return self.ds.databases[name]


@pytest.fixture(scope="module")
def site(tmp_path_factory, store_kind, request):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MGNIFY_CURATOR_TOKEN", TOKEN)
        mp.setenv("MGNIFY_FILES_SECRET", SECRET)
        mp.setenv(tokens.SECRET_ENV, API_SECRET)
        s = Site(tmp_path_factory.mktemp("api"), store_kind, request)
        yield s
        s.loop.close()


# -- schema validation ------------------------------------------------------------------------
def operation_for(path: str, method: str = "GET") -> dict:
    """The document's operation whose route serves `path` (without query)."""
    bare = path.partition("?")[0]
    for regex, view in routes():
        if re.match(regex, f"{API_ROOT}/{bare}"):
            for op in operations().values():
                if op["operationId"] == view.__name__ and op["method"] == method:
                    return op
    raise AssertionError(f"no operation serves {path}")


# RFC 3339 `date-time` (jsonschema checks it only with a package we do not install)
DATE_TIME = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")
FORMATS = jsonschema.FormatChecker()
FORMATS.checks("date-time")(lambda v: not isinstance(v, str) or bool(DATE_TIME.fullmatch(v)))


def assert_valid(op: dict, status: int, body) -> None:
    """`body` is valid against the operation's response schema of `status` in MGnify's
    document (200; `$ref`s resolved, formats checked) or our error shapes."""
    if status == 200:
        content = op["responses"]["200"]["content"]["application/json"]
        schema = {**content["schema"], "components": document()["components"]}
        jsonschema.Draft202012Validator(schema, format_checker=FORMATS).validate(body)
    elif status == 422:
        assert isinstance(body["detail"], list) and body["detail"], body
        for e in body["detail"]:
            assert set(e) >= {"type", "loc", "msg"} and e["loc"][0] in ("query", "path")
    else:
        assert body == {"detail": {401: "Unauthorized", 404: "Not Found"}[status]}, body


def call(site: Site, path: str, status: int = 200, headers=None, method="GET", **kw):
    """GET (or POST) an API path; check its status and its body's schema; the body."""
    r = site.get(path, headers=headers, method=method, **kw)
    assert r.status_code == status, (path, r.status_code, r.text[:500])
    body = r.json()
    assert_valid(operation_for(path, method), status, body)
    return body


def test_schema_validation_is_real():
    """A missing required field, a wrong type in a nested `$ref` and a date that is no
    date-time all fail."""
    op = operations()["get_mgnify_study"]
    good = {
        "accession": PUBLIC_STUDY,
        "ena_accessions": [],
        "title": "t",
        "biome": None,
        "updated_at": "2020-05-01T00:00:00+00:00",
        "metadata": {},
        "downloads": [],
    }
    assert_valid(op, 200, good)
    for bad in (
        {k: v for k, v in good.items() if k != "title"},
        good | {"biome": {"biome_name": 1, "lineage": "root"}},
        good | {"updated_at": "2020-05-01"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            assert_valid(op, 200, bad)


# Every operation, anonymous: (path, status)
ANONYMOUS_CALLS = [
    ("studies/", 200),
    ("studies", 200),
    (f"studies/{PUBLIC_STUDY}", 200),
    (f"studies/{PUBLIC_STUDY}/", 200),
    (f"studies/{PRIVATE_STUDY}", 404),
    ("studies/insdc/PRJEB00011", 200),
    ("studies/insdc/ERP00011", 200),
    ("studies/insdc/PRJEB77777", 404),
    (f"studies/{PUBLIC_STUDY}/analyses/", 200),
    (f"studies/{PRIVATE_STUDY}/analyses/", 404),
    (f"studies/{PUBLIC_STUDY}/publications/", 200),
    (f"studies/{PRIVATE_STUDY}/publications/", 404),
    (f"studies/{PUBLIC_STUDY}/samples/", 200),
    (f"studies/{PRIVATE_STUDY}/samples/", 404),
    ("super-studies/", 200),
    ("super-studies/ocean-atlas", 200),
    ("super-studies/nope", 404),
    ("samples/", 200),
    ("samples/SAMEA00000001", 200),
    ("samples/SAMEA77770001", 404),
    ("samples/SAMEA00000001/runs/", 200),
    ("samples/SAMEA77770001/runs/", 404),
    ("samples/SAMEA00000001/assemblies/", 200),
    ("samples/SAMEA77770001/assemblies/", 404),
    ("runs/", 200),
    ("runs/ERR0000001", 200),
    ("runs/ERR0000002", 404),  # suppressed
    ("runs/ERR7770001", 404),
    ("runs/ERR0000001/analyses/", 200),
    ("runs/ERR7770001/analyses/", 404),
    ("runs/ERR0000001/assemblies/", 200),
    ("runs/ERR0000002/assemblies/", 404),
    ("assemblies/", 200),
    (f"assemblies/{PUBLIC_ASSEMBLY}", 200),
    (f"assemblies/{PRIVATE_ASSEMBLY}", 404),
    (f"assemblies/{PUBLIC_ASSEMBLY}/analyses", 200),
    (f"assemblies/{PRIVATE_ASSEMBLY}/analyses", 404),
    (f"assemblies/{PUBLIC_ASSEMBLY}/genome-links", 200),
    (f"assemblies/{PRIVATE_ASSEMBLY}/genome-links", 404),
    (f"assemblies/{PUBLIC_ASSEMBLY}/additional-contained-genomes", 200),
    (f"assemblies/{PRIVATE_ASSEMBLY}/additional-contained-genomes", 404),
    ("analyses/", 200),
    (f"analyses/{PUBLIC_ANALYSIS}", 200),
    (f"analyses/{PRIVATE_ANALYSIS}", 404),
    (f"analyses/{PUBLIC_ANALYSIS}/annotations", 200),
    (f"analyses/{PRIVATE_ANALYSIS}/annotations", 404),
    (f"analyses/{PUBLIC_ANALYSIS}/annotations/pfams", 200),
    (f"analyses/{PUBLIC_ANALYSIS}/annotations/taxonomies__ssu", 200),
    (f"analyses/{PRIVATE_ANALYSIS}/annotations/pfams", 404),
    ("publications/", 200),
    ("publications/12345", 200),
    ("publications/99999", 404),
    ("publications/12345/annotations", 200),
    ("publications/99999/annotations", 404),
    ("biomes/", 200),
    ("genomes/", 200),
    ("genomes/MGYG000000001", 404),
    ("genomes/MGYG000000001/annotations", 404),
    ("genomes/catalogues/", 200),
    ("genomes/catalogues/human-gut-v2-0", 404),
    ("genomes/catalogues/human-gut-v2-0/genomes/", 404),
    ("my-data/studies/", 401),
]


@pytest.mark.parametrize(("path", "status"), ANONYMOUS_CALLS)
def test_anonymous_answers_are_schema_valid(site, path, status):
    body = call(site, path, status)
    text = json.dumps(body)
    assert not [m for m in PRIVATE_MARKERS if m in text and m not in path], (path, text)


def test_every_operation_is_served_and_called():
    ours = set(handlers.OPERATIONS)
    mine = {
        op_id
        for op_id, op in operations().items()
        if not op["path"].endswith(("sliding", "refresh", "verify"))
    }
    assert ours == mine
    called = {operation_for(p)["operationId"] for p, _ in ANONYMOUS_CALLS}
    assert called | {"genome_fragment_search"} == ours


def test_the_contract_is_mgnifys_document_unchanged():
    assert hashlib.sha256(DOCUMENT.read_bytes()).hexdigest() == SHA256


# -- contents ---------------------------------------------------------------------------------
def test_lists_show_public_records_only_even_to_curators(site):
    for headers in (None, CURATOR):
        studies = call(site, "studies/", headers=headers)
        assert [s["accession"] for s in studies["items"]] == [PUBLIC_STUDY]
        runs = call(site, "runs/", headers=headers)
        assert [r["accession"] for r in runs["items"]] == ["ERR0000001"]
        analyses = call(site, "analyses/", headers=headers)
        assert [a["accession"] for a in analyses["items"]] == [PUBLIC_ANALYSIS]
        assert call(site, "assemblies/", headers=headers)["count"] == 1
        samples = call(site, "samples/", headers=headers)
        assert {s["accession"] for s in samples["items"]} == {"SAMEA00000001", SHARED_SAMPLE}


def test_study_detail(site):
    study = call(site, f"studies/{PUBLIC_STUDY}")
    assert study["ena_accessions"] == ["PRJEB00011", "ERP00011"]
    assert study["first_accession"] == "PRJEB00011"
    assert study["biome"] == {
        "biome_name": "Marine",
        "lineage": "root:Environmental:Aquatic:Marine",
    }
    assert study["metadata"]["study_title"] == "Open ocean plankton survey"
    assert study["metadata"]["center_name"] == "EMBL-EBI"
    assert study["metadata"]["secondary_study_accession"] == "ERP00011"
    assert (
        study["metadata"]["study_alias"] == "OOPS" and "not_an_ena_field" not in study["metadata"]
    )
    assert study["updated_at"] == "2020-05-01T00:00:00+00:00"  # from first_public, a date
    sample = call(site, "samples/SAMEA00000001")
    assert sample["metadata"] == {
        "country": "Norway",
        "lat": 60.1,
        "sample_title": "plankton net tow",
    }
    (download,) = study["downloads"]
    assert download["alias"] == "study_summary.tsv" and download["file_type"] == "tsv"
    assert download["url"] == f"http://localhost/files/{PUBLIC_STUDY}/study_summary.tsv"
    assert download["parent_identifier"] == PUBLIC_STUDY and download["parent_is_private"] is False


def test_analysis_detail_and_annotations(site):
    a = call(site, f"analyses/{PUBLIC_ANALYSIS}")
    assert a["pipeline_version"] == "V6" and a["experiment_type"] == "Assembly"
    assert a["run"]["accession"] == "ERR0000001" and a["assembly"]["accession"] == PUBLIC_ASSEMBLY
    assert [r["accession"] for r in a["read_run"]] == ["ERR0000001"]
    aliases = {d["alias"] for d in a["downloads"]}
    assert {"ERR0000001_contigs.fa.gz", "ERR0000001_cds.faa"} <= aliases
    contigs = next(d for d in a["downloads"] if d["alias"] == "ERR0000001_contigs.fa.gz")
    assert contigs["index_files"] == [
        {
            "index_type": "fai",
            "path": "contigs.fa.gz.fai",
            "url": f"http://localhost/files/{PUBLIC_ANALYSIS}/ERR0000001_contigs.fa.gz.fai",
        }
    ]
    assert a["results_dir"] is None
    with sqlite3.connect(site.cat.db) as conn:
        md5 = dict(conn.execute("SELECT alias, md5 FROM downloads WHERE md5 IS NOT NULL"))
    conn.close()
    assert md5 and all(d["md5"] == md5[d["alias"]] for d in a["downloads"] if d["alias"] in md5)
    annotated = call(site, f"analyses/{PUBLIC_ANALYSIS}/annotations")
    assert len(annotated["annotations"]["pfams"]) == 5
    assert annotated["annotations"]["taxonomies"]["ssu"] == [
        {"count": 9, "description": "Bacteria", "organism": "Bacteria"}
    ]


def test_annotations_of_a_type_are_paged(site):
    path = f"analyses/{PUBLIC_ANALYSIS}/annotations/pfams"
    first = call(site, f"{path}?page_size=2")
    assert first["count"] == 5
    assert [i["description"] for i in first["items"]] == [
        "7tm_1 plankton receptor",
        "plankton domain 2",
    ]
    third = call(site, f"{path}?page_size=2&page=3")
    assert [i["count"] for i in third["items"]] == [5]
    assert call(site, f"{path}?page_size=2&page=4") == {"count": 5, "items": []}
    assert call(site, f"{path}?page_size=1000")["count"] == 5
    body = call(site, f"analyses/{PUBLIC_ANALYSIS}/annotations/nope", 422)
    assert body["detail"][0]["loc"] == ["path", "annotation_type"]


def test_annotations_object_nests_double_underscore_types():
    rows = [
        {"type": "pfams", "term": "PF1", "count": 1},
        {"type": "rrnas", "term": "16S_rRNA", "description": "16S", "count": 2},
        {"type": "taxonomies__ssu", "term": "B", "lineage": "sk__B", "count": 3},
    ]
    out = annotations_object(rows)
    assert set(out) == {"pfams", "rrnas", "taxonomies"}
    assert out["taxonomies"]["ssu"] == [{"count": 3, "description": "B", "organism": "sk__B"}]


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ("page=0", "page"),
        ("page=abc", "page"),
        ("page_size=0", "page_size"),
        ("page_size=x", "page_size"),
        ("order=title", "order"),
        ("has_analyses_from_pipeline=V9", "has_analyses_from_pipeline"),
    ],
)
def test_bad_query_values_are_422(site, query, loc):
    body = call(site, f"studies/?{query}", 422)
    assert body["detail"][0]["loc"] == ["query", loc]


def test_more_422s(site):
    assert call(site, "runs/?has_experiment_type=WGS", 422)["detail"][0]["loc"][1] == (
        "has_experiment_type"
    )
    assert call(site, "biomes/?max_depth=0", 422)["detail"][0]["loc"] == ["query", "max_depth"]
    assert call(site, "publications/abc", 422)["detail"][0]["loc"] == ["path", "pubmed_id"]
    assert call(site, "publications/?published_after=x", 422)
    assert call(site, "samples/?order=bad", 422)


def test_paging(site):
    everything = call(site, "biomes/?page_size=100")
    assert everything["count"] > 100 and len(everything["items"]) == 100  # clamped, not refused
    assert everything["items"][:2] == [
        {"biome_name": "root", "lineage": "root"},
        {"biome_name": "Engineered", "lineage": "root:Engineered"},
    ]
    second = call(site, "biomes/?page_size=2&page=2")["items"]
    assert second == everything["items"][2:4]
    last = -(-everything["count"] // 100)
    assert len(call(site, f"biomes/?page={last}")["items"]) == everything["count"] - 100 * (
        last - 1
    )
    assert call(site, "biomes/?page_size=101")["items"] == everything["items"]
    assert call(site, "studies/?page=5") == {"count": 1, "items": []}
    huge = "9" * 30
    assert call(site, f"studies/?page={huge}&page_size={huge}") == {"count": 1, "items": []}
    assert call(site, f"biomes/?max_depth={huge}")["count"] == everything["count"]
    call(site, f"publications/{huge}", 404)
    assert call(site, f"publications/?published_after={huge}")["count"] == 0
    assert page_of({"page": 2, "page_size": 500}) == Page(2, 100)
    assert page_of({}) == Page(1, 100)
    assert page_of({}, 50).size == 50


def test_filters(site):
    def accessions(path):
        return [i.get("accession") or i.get("lineage") for i in call(site, path)["items"]]

    assert accessions("studies/?biome_lineage=root:Environmental") == [PUBLIC_STUDY]
    assert accessions("studies/?biome_lineage=root:Engineered") == []
    assert accessions("studies/?has_analyses_from_pipeline=V6") == [PUBLIC_STUDY]
    assert accessions("studies/?has_analyses_from_pipeline=V5") == []
    assert accessions("studies/?search=PLANKTON") == [PUBLIC_STUDY]
    assert accessions("studies/?search=erp00011") == [PUBLIC_STUDY]
    assert accessions(f"studies/?search={PUBLIC_STUDY}") == [PUBLIC_STUDY]
    assert accessions("studies/?search=embargoed") == []
    assert accessions("studies/?order=-accession") == [PUBLIC_STUDY]
    assert accessions("samples/?search=net tow") == ["SAMEA00000001"]
    assert accessions("samples/?biome_lineage=root:Environmental:Aquatic") == ["SAMEA00000001"]
    assert accessions("samples/?order=-sample_title") == [SHARED_SAMPLE, "SAMEA00000001"]
    assert accessions("runs/?has_experiment_type=METAG") == ["ERR0000001"]
    assert accessions("runs/?has_experiment_type=AMPLI") == []
    aquatic = accessions("biomes/?biome_lineage=root:Environmental:Aquatic&max_depth=4")
    assert (
        aquatic[:1] == ["root:Environmental:Aquatic"]
        and "root:Environmental:Aquatic:Marine" in aquatic
    )
    assert all(b.startswith("root:Environmental:Aquatic") and b.count(":") <= 3 for b in aquatic)
    assert "root:Environmental:AquaticX" not in aquatic  # not a descendant: a longer label
    assert "root:Environmental:AquaticX" in accessions(
        "biomes/?biome_lineage=root:Environmental&max_depth=3"
    )
    assert accessions("samples/?biome_lineage=root:Environmental") == [
        "SAMEA00000001",
        SHARED_SAMPLE,
    ]
    assert accessions("biomes/?max_depth=1") == ["root"]
    pubs = call(site, "publications/?published_after=2019&published_before=2020&title=plankton")
    assert [p["pubmed_id"] for p in pubs["items"]] == [12345]
    assert call(site, "publications/?published_after=2021")["count"] == 0
    assert call(site, "publications/?order=-published_year")["count"] == 1


@pytest.mark.parametrize("value", ["%25", "_", "%25plankton", "Open_ocean", "\\"])
def test_search_wildcards_are_literal(site, value):
    """`%` and `_` in a search are characters to find, not LIKE's wildcards (icontains)."""
    for path in (f"studies/?search={value}", f"samples/?search={value}"):
        assert call(site, path)["count"] == 0, path
    assert call(site, f"publications/?title={value}")["count"] == 0


def test_ties_are_broken_by_the_key(site):
    """Biomes whose paths are the same come in lineage order, so pages never overlap."""
    db = site.db()  # the catalogue: publish keeps no biome that no public record names

    def page(n: int) -> dict:
        return site.run(handlers.list_mgnify_biomes(db, {"page": n}))

    count = page(1)["count"]
    lineages = [b["lineage"] for n in range(1, count // 100 + 2) for b in page(n)["items"]]
    assert len(lineages) == len(set(lineages)) == count
    assert [b for b in lineages if b.startswith("root:Zeta")] == ["root:Zeta X", "root:Zeta-X"]


def test_related_records(site):
    pub = call(site, "publications/12345")
    assert [s["accession"] for s in pub["studies"]] == [PUBLIC_STUDY]  # not the private one
    sample = call(site, f"samples/{SHARED_SAMPLE}")
    assert [s["accession"] for s in sample["studies"]] == [PUBLIC_STUDY]
    ss = call(site, "super-studies/ocean-atlas")
    assert [s["accession"] for s in ss["related_studies"] + ss["flagship_studies"]] == [
        PUBLIC_STUDY
    ]
    assert ss["genome_catalogues"] == []
    run = call(site, "runs/ERR0000001")
    assert (
        run["study"]["accession"] == PUBLIC_STUDY and run["sample"]["accession"] == "SAMEA00000001"
    )
    assert call(site, f"studies/{PUBLIC_STUDY}/samples/")["count"] == 2
    assert call(site, "runs/ERR0000001/assemblies/")["items"][0]["accession"] == PUBLIC_ASSEMBLY
    assert call(site, "super-studies/")["items"] == [
        {"slug": "ocean-atlas", "title": "Ocean atlas", "description": None, "logo_url": None}
    ]


def test_genome_search(site):
    body = call(site, "genome-search/", method="POST", json={"query": "ACGT", "threshold": 0.4})
    assert body == {"data": {"query": "ACGT", "threshold": 0.4, "results": []}}
    assert call(site, "genome-search/", method="POST")["data"]["query"] is None
    assert site.get("genome-search/").status_code == 405


# -- viewers ----------------------------------------------------------------------------------
PRIVATE_PATHS = [
    f"studies/{PRIVATE_STUDY}",
    f"studies/{PRIVATE_STUDY}/analyses/",
    f"studies/{PRIVATE_STUDY}/samples/",
    f"studies/{PRIVATE_STUDY}/publications/",
    "samples/SAMEA77770001",
    "samples/SAMEA77770001/runs/",
    "runs/ERR7770001",
    "runs/ERR7770001/analyses/",
    f"assemblies/{PRIVATE_ASSEMBLY}",
    f"assemblies/{PRIVATE_ASSEMBLY}/analyses",
    f"analyses/{PRIVATE_ANALYSIS}",
    f"analyses/{PRIVATE_ANALYSIS}/annotations",
    f"analyses/{PRIVATE_ANALYSIS}/annotations/pfams",
    "runs/ERR0000002",
]


@pytest.mark.parametrize("path", PRIVATE_PATHS)
def test_curators_see_private_and_suppressed_records(site, path):
    call(site, path, 404)
    call(site, path, 200, headers=CURATOR)


def test_a_bad_token_is_401(site):
    for path in ("studies/", f"studies/{PUBLIC_STUDY}", "my-data/studies/"):
        call(site, path, 401, headers={"Authorization": "Bearer not-a-token"})


def test_my_data(site):
    mine = call(site, "my-data/studies/", headers=CURATOR)
    assert [s["accession"] for s in mine["items"]] == [PRIVATE_STUDY]
    db = site.db()
    owned = site.run(handlers.list_private_mgnify_studies(db, {}, OWNER))
    assert [s["accession"] for s in owned["items"]] == [PRIVATE_STUDY]
    assert site.run(handlers.list_private_mgnify_studies(db, {}, STRANGER))["count"] == 0


def test_owners_see_their_private_records(site):
    db, links = site.db(), Links(base="http://x", secret=SECRET, sign_private=True)
    study = site.run(handlers.get_mgnify_study(db, {"accession": PRIVATE_STUDY}, OWNER, links))
    assert study["title"].startswith("QUOKKA")
    analysis = site.run(
        handlers.get_mgnify_analysis(db, {"accession": PRIVATE_ANALYSIS}, OWNER, links)
    )
    (download,) = analysis["downloads"]
    assert download["parent_is_private"] is True
    assert re.fullmatch(
        rf"http://x/files/{PRIVATE_ANALYSIS}/ERR7770001_contigs.fa.gz\?expires=\d+&token=[0-9a-f]{{64}}",
        download["url"],
    )
    assert_valid(operations()["get_mgnify_analysis"], 200, analysis)
    samples = site.run(handlers.list_mgnify_study_samples(db, {"accession": PRIVATE_STUDY}, OWNER))
    assert {s["accession"] for s in samples["items"]} == {SHARED_SAMPLE, "SAMEA77770001"}
    shared = site.run(handlers.get_mgnify_sample(db, {"accession": SHARED_SAMPLE}, OWNER))
    assert {s["accession"] for s in shared["studies"]} == {PUBLIC_STUDY, PRIVATE_STUDY}
    # a signed link fetches the file
    r = site.get(download["url"].removeprefix("http://x"))
    assert r.status_code == 200 and r.content == site.cat.private_file.content
    # suppressed records stay hidden from owners; other accounts see nothing private
    for viewer in (OWNER, STRANGER):
        with pytest.raises(ApiError) as e:
            site.run(handlers.get_analysed_run(db, {"accession": "ERR0000002"}, viewer))
        assert e.value.status == 404
    for coro in (
        handlers.get_mgnify_study(db, {"accession": PRIVATE_STUDY}, STRANGER, links),
        handlers.list_sample_runs(db, {"accession": "SAMEA77770001"}, STRANGER),
    ):
        with pytest.raises(ApiError) as e:
            site.run(coro)
        assert e.value.body == {"detail": "Not Found"}


def webin_token(account: str) -> dict:
    """The headers of a request with a valid API token of a Webin account."""
    token = tokens.issue(account, tokens.TokenSettings(API_SECRET))
    return {"Authorization": f"Bearer {token}"}


def test_webin_tokens_over_http(site):
    """A token shows its account's private records, to it alone; another account's token and
    no token get exactly the answer of a missing record; nothing of theirs is cached."""
    owner, stranger = webin_token(OWNER.webin), webin_token(STRANGER.webin)
    r = site.get(f"studies/{PRIVATE_STUDY}", headers=owner)
    assert r.status_code == 200 and r.json()["title"].startswith("QUOKKA")
    assert r.headers["cache-control"] == "private, no-store"
    assert_valid(operations()["get_mgnify_study"], 200, r.json())
    for path in PRIVATE_PATHS[:-1]:  # the last one is suppressed: hidden from its owner too
        assert site.get(path, headers=owner).status_code == 200, path
        for headers in (stranger, None):
            other = site.get(path, headers=headers)
            missing = site.get(path.replace("777", "888"), headers=headers)
            assert (other.status_code, other.content) == (404, missing.content), path
            assert other.headers == missing.headers, path
    call(site, "runs/ERR0000002", 404, headers=owner)
    (download,) = call(site, f"analyses/{PRIVATE_ANALYSIS}", headers=owner)["downloads"]
    assert "?expires=" in download["url"] and "&token=" in download["url"]
    (unsigned,) = call(site, f"analyses/{PRIVATE_ANALYSIS}", headers=CURATOR)["downloads"]
    assert "?" not in unsigned["url"]  # a curator's own token opens the file
    shared = f"samples/{SHARED_SAMPLE}"
    assert len(call(site, shared, headers=owner)["studies"]) == 2
    assert [s["accession"] for s in call(site, shared, headers=stranger)["studies"]] == [
        PUBLIC_STUDY
    ]
    mine = call(site, "my-data/studies/", headers=owner)
    assert [s["accession"] for s in mine["items"]] == [PRIVATE_STUDY]
    assert call(site, "my-data/studies/", headers=stranger) == {"count": 0, "items": []}
    assert call(site, "studies/", headers=owner)["count"] == 1  # top-level lists: public only
    call(site, "studies/insdc/PRJEB77777", 404, headers=owner)


def test_visibility_sql():
    assert visible(Viewer(curator=True)) == ("1 = 1", [])
    assert visible(OWNER, "s") == (
        "(s.is_suppressed = 0 AND (s.is_private = 0 OR s.webin_owner = ?))",
        ["Webin-777"],
    )
    assert visible(Viewer()) == ("(is_private = 0 AND is_suppressed = 0)", [])


def test_unknown_api_paths_are_404(site):
    call_status = site.get("no-such-thing/at/all")
    assert call_status.status_code == 404 and call_status.json() == {"detail": "Not Found"}


# -- the document and the docs page -------------------------------------------------------------
def test_openapi_json_is_served_with_our_additions(site):
    r = site.get("openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["servers"][0]["url"] == "http://localhost"
    assert "mgnipy 0.3.0" in doc["info"]["x-mgnify-snake"]["source"]
    assert doc["paths"].keys() == document()["paths"].keys()
    study = doc["paths"][f"{API_ROOT}/studies/{{accession}}"]["get"]["responses"]
    assert study["404"]["x-mgnify-snake"] is True
    assert doc["paths"][f"{API_ROOT}/studies/"]["get"]["responses"]["422"]["x-mgnify-snake"]
    assert {} in doc["paths"][f"{API_ROOT}/studies/{{accession}}"]["get"]["security"]
    assert {} not in doc["paths"][f"{API_ROOT}/my-data/studies/"]["get"]["security"]
    genome = doc["paths"][f"{API_ROOT}/genomes/{{accession}}"]["get"]["responses"]["200"]
    link = genome["links"]["GetCatalogueForGenome"]
    assert link["parameters"] == {"catalogue_id": "$response.body#/catalogue_id"}
    download = doc["components"]["schemas"]["MGnifyAnalysisDownloadFile"]["properties"]["md5"]
    assert download["x-mgnify-snake"] is True
    assert document()["servers"] == []  # the shipped document is not changed in memory


@pytest.mark.parametrize("path", [API_ROOT + "/", API_ROOT + "/docs", API_ROOT])
def test_docs_page(site, path):
    r = site.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert 'href="/metagenomics/api/v2/openapi.json"' in html
    assert "<script" not in html and "http://" not in html.replace("https://www.ebi", "")
    for op in operations().values():
        assert f"id='op-{op['operationId']}'" in html
    assert "id='schema-MGnifyStudyDetail'" in html
    assert "No data behind these yet" in html and "genomes" in html


def test_public_answers_are_kept_until_the_next_publish(tmp_path, monkeypatch):
    """Anonymous answers are kept per published public.db (the plugin's PageCache): a publish
    (a new file swapped in by rename) is answered from the next request on."""
    monkeypatch.setenv("MGNIFY_CURATOR_TOKEN", TOKEN)
    site = Site(tmp_path)
    path = f"{API_ROOT}/studies/{PUBLIC_STUDY}"
    first = site.get(path)
    assert first.status_code == 200 and first.headers["cache-control"] == "public, max-age=60"
    kept = site.get(path)  # answered from memory: with the ETag the cache gives it
    assert kept.json() == first.json() and kept.headers.get("etag")
    assert site.get(path, headers={"If-None-Match": kept.headers["etag"]}).status_code == 304
    with sqlite3.connect(site.cat.db) as conn:
        conn.execute("UPDATE studies SET title = 'a new title' WHERE accession = ?", [PUBLIC_STUDY])
    conn.close()
    publish(site.cat.db, site.cat.results / "public.db")
    assert site.get(path).json()["title"] == "a new title"
    # an owner's or curator's answer comes from the catalogue: never kept, never shared
    mine = site.get(f"{API_ROOT}/studies/{PRIVATE_STUDY}", headers=CURATOR)
    assert mine.status_code == 200 and mine.headers["cache-control"] == "private, no-store"
