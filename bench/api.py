"""API and pages under load: HTTP latency of `mgnify-db serve` vs the same SQL run directly.

A generated catalogue (default 1,000 studies, ~20 samples and runs each, assemblies, analyses,
downloads, publications, super studies and 1,000,000 annotation rows; every 20th study private,
a few suppressed), published to public.db, cached under --cache keyed by the parameters and the
schema version (--fresh makes it again). `mgnify-db serve` runs it on a free port; then, one
endpoint at a time, 8 client threads (one keep-alive `requests.Session` each) warm it and send
--requests requests in all:
  api       - every GET operation of MGnify's document (mgnify_db/web/api/openapi_v2.json) under
              /metagenomics/api/v2/: lists at page 1 and at their last page, details, sub-lists,
              filters, annotations of the analysis with the most rows (first and last page)
  pages     - Datasette's pages: /, /public, table pages, search, row pages, atom feed, sitemap
Baseline, same run, same machine: for each endpoint the SQL that serves it (count and page of a
list, the detail lookups, the annotation page as a primary-key range), run with sqlite3 on
public.db from 8 threads, the same number of times. Ratio = HTTP p95 / SQL p95.
Alternatives (the same endpoints again, a first visit's cost): the API's answer cache off; the
page cache off; the page cache off with suggest_facets on.
Target (issue "API v2"): p95 < 50 ms for every endpoint, 8 concurrent clients.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mgnify_db.catalogue.biomes import biome_path, tree_lineages  # noqa: E402
from mgnify_db.catalogue.dialect import create_indexes, create_table  # noqa: E402
from mgnify_db.catalogue.publish import publish  # noqa: E402
from mgnify_db.catalogue.schema import SCHEMA_VERSION, TABLES  # noqa: E402
from mgnify_db.catalogue.store import SqliteStore  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS_MD = Path(__file__).with_name("RESULTS.md")
OPENAPI = ROOT / "mgnify_db" / "web" / "api" / "openapi_v2.json"
API = "/metagenomics/api/v2"
GENERATOR_VERSION = 1  # bump when the generated data changes shape: the cache key includes it
PAGE = 100  # the API's default (and maximum) page size; Datasette's table pages show 100 too
CLIENTS = 8
TARGET_MS = 50.0
BUDGET_S = 10.0  # per endpoint and server: a slow page stops early (fewer requests, say so)
CURATOR_TOKEN = "bench-curator-token-" + "0" * 12
API_SECRET = "bench-api-secret-" + "1" * 32
SECTION = "## API and pages"


# -- the catalogue ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Params:
    studies: int = 1000
    per_study: int = 20  # samples and runs per study
    annotations: int = 1_000_000
    seed: int = 1

    def key(self) -> str:
        # the DDL too: a new index must reach the cached files (SCHEMA_VERSION does not move)
        shape = [create_table(t) + "".join(create_indexes(t)) for t in TABLES.values()]
        text = json.dumps([GENERATOR_VERSION, SCHEMA_VERSION, shape, *self.__dict__.values()])
        return hashlib.sha256(text.encode()).hexdigest()[:12]


WORDS = (
    "marine sediment soil gut rumen hot spring wastewater biofilm permafrost mangrove lake "
    "river estuary compost rhizosphere ocean coral sponge saliva skin glacier"
).split()
CENTRES = ("EMG", "JGI", "BGI", "SANGER", "UOS", "MPI-BREMEN", "NCBI", "UCSD")
BIG_ANALYSES = (50_000, 40_000, 30_000, 25_000, 20_000, 15_000, 10_000, 10_000, 5_000, 5_000)
RANKS = ("superkingdom", "phylum", "class", "order", "family", "genus", "species")


def _insert(conn: sqlite3.Connection, table: str, rows) -> int:
    """executemany of tuples in the table's column order (generators welcome); rows inserted."""
    cols = list(TABLES[table].columns)
    names = ", ".join(f"[{c}]" for c in cols)
    cur = conn.executemany(
        f"INSERT INTO [{table}] ({names}) VALUES ({', '.join('?' * len(cols))})", rows
    )
    return cur.rowcount


def _row(table: str, **values) -> tuple:
    cols = TABLES[table].columns
    unknown = set(values) - set(cols)
    assert not unknown, f"{table}: no columns {unknown}"
    return tuple(values.get(c) for c in cols)


def generate(path: Path, p: Params) -> dict[str, int]:
    """Write a catalogue of `p` at `path` (the store's schema, rows by executemany in one
    transaction); the number of rows of each table."""
    SqliteStore(path).close()  # schema, indexes, FTS triggers, biome tree, _meta
    rng = random.Random(p.seed)
    lineages = tree_lineages()
    leaves = [
        x
        for x in lineages
        if x.count(":") >= 2 and not any(y.startswith(x + ":") for y in lineages)
    ]
    env = [x for x in leaves if x.startswith("root:Environmental")]
    now = "2026-11-30T12:00:00+00:00"
    rows: dict[str, list[tuple]] = {t: [] for t in TABLES}
    ana_counter = asm_counter = 0
    completed: list[tuple[str, bool]] = []  # (analysis, public)
    for s in range(1, p.studies + 1):
        mgys = f"MGYS{s:08d}"
        private = s % 20 == 0
        suppressed = s % 97 == 0
        vis = {
            "is_private": int(private),
            "is_suppressed": int(suppressed),
            "suppression_reason": "ancestor_suppressed" if suppressed else None,
            "webin_owner": f"Webin-{1000 + s % 7}" if private else None,
        }
        biome = rng.choice(env if s % 2 else leaves)
        words = rng.sample(WORDS, 3)
        title = f"{words[0].title()} {words[1]} metagenome from {words[2]} site {s}"
        rows["studies"].append(
            _row(
                "studies",
                accession=mgys,
                id=s,
                ena_accession=f"PRJEB{10000 + s}",
                ena_accessions=json.dumps([f"PRJEB{10000 + s}", f"ERP{100000 + s}"]),
                title=title,
                abstract=f"Shotgun and amplicon sequencing of {' and '.join(words)} samples. " * 4,
                center_name=rng.choice(CENTRES),
                metadata=json.dumps({"study_name": f"study-{s}"}),
                biome=biome,
                first_public=f"20{10 + s % 16}-0{1 + s % 9}-15",
                features=json.dumps({"has_v6_analyses": True, "has_prev6_analyses": False}),
                results_dir=f"studies/PRJEB{10000 + s}",
                created_at=now,
                updated_at=f"2026-{1 + s % 12:02d}-{1 + s % 28:02d}T00:00:00+00:00",
                runs_total=p.per_study,
                runs_eligible=p.per_study,
                runs_skipped=0,
                runs_qc_failed=0,
                **vis,
            )
        )
        for j in range(p.per_study):
            n = s * 1000 + j
            sample, run = f"SAMEA{n:09d}", f"ERR{n:09d}"
            rows["samples"].append(
                _row(
                    "samples",
                    accession=sample,
                    ena_accessions=json.dumps([sample, f"ERS{n:09d}"]),
                    secondary_accession=f"ERS{n:09d}",
                    title=f"{words[j % 3]} sample {j} of study {s}",
                    scientific_name=f"{words[0]} metagenome",
                    tax_id="410658",
                    latitude=round(rng.uniform(-70, 70), 4),
                    longitude=round(rng.uniform(-180, 180), 4),
                    collection_date="2024-05-01",
                    country=rng.choice(("Norway", "Spain", "Brazil", "Japan", "Kenya", "Canada")),
                    location=f"{words[2]} site {s}",
                    environment_biome=words[0],
                    environment_feature=words[1],
                    environment_material=words[2],
                    biome=biome,
                    metadata=json.dumps({"sample_alias": f"s{n}"}),
                    updated_at=now,
                    **vis,
                )
            )
            rows["study_samples"].append(
                _row(
                    "study_samples",
                    id=f"{mgys}/{sample}",
                    study=mgys,
                    sample=sample,
                    biome=biome,
                    **vis,
                )
            )
            etype = ("METAG", "METAG", "METAG", "AMPLI", "AMPLI", "METAT")[j % 6]
            label = {"METAG": "Metagenomic", "AMPLI": "Amplicon", "METAT": "Metatranscriptomic"}
            status = "failed" if j == 7 else "completed"
            rows["runs"].append(
                _row(
                    "runs",
                    accession=run,
                    study=mgys,
                    sample=sample,
                    experiment_type=etype,
                    experiment_type_label=label[etype],
                    library_strategy="AMPLICON" if etype == "AMPLI" else "WGS",
                    library_source="METAGENOMIC",
                    library_layout="PAIRED",
                    instrument_platform="ILLUMINA",
                    instrument_model="Illumina NovaSeq 6000",
                    read_count=100_000 + j,
                    base_count=30_000_000,
                    fastq=json.dumps(
                        [{"url": f"ftp/{run}_1.fastq.gz"}, {"url": f"ftp/{run}_2.fastq.gz"}]
                    ),
                    status="completed",
                    qc_reads_before=200_000,
                    qc_reads_after=190_000,
                    updated_at=now,
                    **vis,
                )
            )
            analysed = [(None, etype)]
            if etype == "METAG" and j % 2 == 0:
                asm_counter += 1
                asm = f"LZ{asm_counter:08d}"
                analysed.append((asm, "ASSEM"))
                rows["assemblies"].append(
                    _row(
                        "assemblies",
                        accession=asm,
                        id=asm_counter,
                        ena_accessions="[]",
                        run=run,
                        study=mgys,
                        assembly_study=mgys,
                        sample=sample,
                        pipeline="assembly",
                        assembler="megahit",
                        assembler_version="1.2.9",
                        status="completed",
                        n_contigs=1000 + j,
                        total_length=5_000_000,
                        n50=8000,
                        updated_at=now,
                        **vis,
                    )
                )
                rows["assembly_runs"].append(
                    _row("assembly_runs", id=f"{asm}/{run}", assembly=asm, run=run, study=mgys)
                )
            for asm, a_type in analysed:
                ana_counter += 1
                mgya = f"MGYA{ana_counter:08d}"
                a_status = status if asm is None else "completed"
                rows["analyses"].append(
                    _row(
                        "analyses",
                        accession=mgya,
                        id=ana_counter,
                        study=mgys,
                        sample=sample,
                        run=run,
                        assembly=asm,
                        experiment_type=a_type,
                        experiment_type_label="Assembly" if asm else label[etype],
                        pipeline="assembly" if asm else "raw-reads",
                        pipeline_version="V6",
                        status=a_status,
                        is_ready=int(a_status == "completed"),
                        annotations_digest=uuid.UUID(int=ana_counter).hex,
                        cds_count=2000 + j,
                        rrna_16s=1,
                        rrna_total=2,
                        quality_control=json.dumps({"after_filtering": {"total_reads": 190_000}}),
                        results_dir=f"studies/PRJEB{10000 + s}/runs/{run}",
                        updated_at=now,
                        **vis,
                    )
                )
                if a_status != "completed":
                    continue
                completed.append((mgya, not (private or suppressed)))
                for alias, group, ftype in (
                    (f"{run}_taxonomy.tsv.gz", "taxonomy", "tsv"),
                    (f"{run}_pfams.tsv.gz", "functional_annotation", "tsv"),
                ):
                    rows["downloads"].append(
                        _row(
                            "downloads",
                            id=f"{mgya}/{alias}",
                            study=mgys,
                            analysis=mgya,
                            alias=alias,
                            path=f"studies/PRJEB{10000 + s}/runs/{run}/{alias}",
                            file_type=ftype,
                            download_type="Taxonomic analysis",
                            download_group=group,
                            short_description=alias,
                            size_bytes=12345,
                            md5="0" * 32,
                            url=f"/files/{mgya}/{alias}",
                            **vis,
                        )
                    )
    # publications (every 3rd study cites one or two) and super studies (25 studies each)
    pubs = 300
    rows["publications"] = [
        _row(
            "publications",
            pubmed_id=30_000_000 + i,
            title=f"A survey of {WORDS[i % len(WORDS)]} microbiomes ({i})",
            published_year=2000 + i % 26,
            doi=f"10.1000/bench.{i}",
            authors="Doe J, Roe R",
            metadata="{}",
        )
        for i in range(pubs)
    ]
    for s in range(3, p.studies + 1, 3):
        for k in range(1 + s % 2):
            pm = 30_000_000 + (s + k) % pubs
            rows["study_publications"].append(
                _row(
                    "study_publications",
                    id=f"MGYS{s:08d}/{pm}",
                    study=f"MGYS{s:08d}",
                    publication=pm,
                )
            )
    for k in range(10):
        slug = f"super-study-{k}"
        rows["super_studies"].append(
            _row(
                "super_studies", slug=slug, title=f"Super study {k}", description="Grouped studies"
            )
        )
        for i in range(25):
            s = 1 + (k * 97 + i * 7) % p.studies
            rows["super_study_studies"].append(
                _row(
                    "super_study_studies",
                    id=f"{slug}/{s}",
                    super_study=slug,
                    study=f"MGYS{s:08d}",
                    is_flagship=int(i < 2),
                )
            )
    counts = {}
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    for table in TABLES:
        if table in ("annotations", "biomes"):
            continue
        counts[table] = _insert(conn, table, rows[table])
    counts["annotations"] = _insert(conn, "annotations", _annotations(completed, p, rng))
    conn.execute("INSERT OR REPLACE INTO _meta VALUES ('generation', ?)", [uuid.uuid4().hex])
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    conn.close()
    return counts


def _annotations(completed: list[tuple[str, bool]], p: Params, rng: random.Random):
    """p.annotations rows over the completed analyses: the first public ones get BIG_ANALYSES
    rows each, the rest share what is left (uneven: 10% to 190% of the mean); half SSU taxa,
    half Pfam domains. Yields rows in primary-key order."""
    public = [a for a, pub in completed if pub]
    big = dict(zip(public[:: max(1, len(public) // len(BIG_ANALYSES))], BIG_ANALYSES, strict=False))
    rest = [a for a, _ in completed if a not in big]
    left = max(0, p.annotations - sum(big.values()))
    mean = left / max(1, len(rest))
    sizes = dict(big)
    x = 0.0
    for i, a in enumerate(rest):  # pairs (a, b) get mean*(1+x), mean*(1-x): the sum holds
        x = rng.uniform(-0.9, 0.9) if i % 2 == 0 else -x
        sizes[a] = int(mean * (1 + x))
    short = p.annotations - sum(sizes.values())
    for a in rest[: abs(short)]:
        sizes[a] += 1 if short > 0 else -1
    for analysis, _ in completed:
        n = sizes[analysis]
        ssu, pfam = n // 2, n - n // 2
        for i in range(pfam):
            yield (
                analysis,
                "pfams",
                f"PF{i:05d}",
                f"Domain of unknown function {i}",
                None,
                None,
                None,
                1 + (i * 7919) % 1000,
            )
        for i in range(ssu):
            rank = RANKS[i % len(RANKS)]
            yield (
                analysis,
                "taxonomies__ssu",
                f"SILVA:{100000 + i}",
                f"Taxon {i}",
                f"Organism {i}",
                f"sk__Bacteria;p__Phylum{i % 40};c__Class{i % 300}",
                rank,
                1 + (i * 104729) % 5000,
            )


def catalogue(cache: Path, p: Params, fresh: bool) -> tuple[Path, float | None]:
    """The cached catalogue.db (with public.db beside it) for `p`; seconds spent generating
    (None: taken from the cache)."""
    where = cache / f"api-{p.key()}"
    if (where / "public.db").is_file() and not fresh:
        return where / "catalogue.db", None
    shutil.rmtree(where, ignore_errors=True)
    tmp = cache / f".api-{p.key()}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.perf_counter()
    counts = generate(tmp / "catalogue.db", p)
    t_gen = time.perf_counter() - t0
    t1 = time.perf_counter()
    published = publish(tmp / "catalogue.db", tmp / "public.db")
    t_pub = time.perf_counter() - t1
    (tmp / "params.json").write_text(
        json.dumps(
            {
                "params": p.__dict__,
                "schema_version": SCHEMA_VERSION,
                "rows": counts,
                "public_rows": published,
                "generate_s": t_gen,
                "publish_s": t_pub,
            },
            indent=1,
        )
    )
    tmp.rename(where)
    print(
        f"generated {where}: {counts['annotations']:,} annotation rows, catalogue"
        f" {t_gen:.1f} s, publish {t_pub:.1f} s",
        file=sys.stderr,
    )
    return where / "catalogue.db", t_gen + t_pub


# -- endpoints ----------------------------------------------------------------------------------
@dataclass
class Endpoint:
    """One URL and the SQL statements that serve it (the baseline runs them in order)."""

    name: str
    path: str
    sql: list[tuple[str, tuple]] = field(default_factory=list)
    kind: str = "api"  # "api" or "page"
    db: str = "public"  # the file the baseline reads
    curator: bool = False
    operation: str = ""  # the document's path template it covers
    limit_ms: float = 0  # a time limit per statement (Datasette's 10 ms on table counts)


PUB = "is_private = 0 AND is_suppressed = 0"  # the API's rule, applied in public.db too


def _list(
    table: str,
    where: str = "",
    params: tuple = (),
    page: int = 1,
    order: str = "accession",
    cols: str = "*",
) -> list[tuple[str, tuple]]:
    """A list's count and page queries."""
    cond = f"{PUB} AND {where}" if where else PUB
    return [
        (f"SELECT count(*) FROM {table} WHERE {cond}", params),
        (
            f"SELECT {cols} FROM {table} WHERE {cond} ORDER BY {order} LIMIT {PAGE} OFFSET ?",
            (*params, (page - 1) * PAGE),
        ),
    ]


def _last(n: int) -> int:
    return max(1, math.ceil(n / PAGE))


def _biome_in(lineage: str, column: str = "biome") -> tuple[str, tuple]:
    """`column` is the lineage or below: through the biomes' path index (as the API's
    `descendants_where`)."""
    path = biome_path(lineage)
    sql = f"{column} IN (SELECT lineage FROM biomes WHERE path = ? OR (path > ? AND path < ?))"
    return sql, (path, path + ".", path + "/")


def choose(public_db: Path) -> dict:
    """Accessions and sizes the endpoints use, from public.db."""
    con = sqlite3.connect(f"file:{public_db}?mode=ro", uri=True)
    one = lambda sql, *a: con.execute(sql, a).fetchone()  # noqa: E731
    c: dict = {}
    c["study"], c["study_ena"] = one(
        "SELECT s.accession, s.ena_accession FROM studies s WHERE EXISTS (SELECT 1 FROM"
        " study_publications p WHERE p.study = s.accession) ORDER BY s.accession LIMIT 1 OFFSET 40"
    )
    c["sample"] = one(
        "SELECT sample FROM runs r WHERE EXISTS (SELECT 1 FROM assemblies a"
        " WHERE a.run = r.accession) ORDER BY sample LIMIT 1 OFFSET 500"
    )[0]
    c["run"] = one("SELECT run FROM assemblies ORDER BY run LIMIT 1 OFFSET 300")[0]
    c["assembly"] = one("SELECT accession FROM assemblies ORDER BY accession LIMIT 1 OFFSET 300")[0]
    c["big"], c["big_type_rows"] = one(
        "SELECT analysis, count(*) FROM annotations WHERE type = 'taxonomies__ssu'"
        " GROUP BY analysis ORDER BY 2 DESC LIMIT 1"
    )
    c["big_rows"] = one("SELECT count(*) FROM annotations WHERE analysis = ?", c["big"])[0]
    c["small"], c["small_rows"] = one(
        "SELECT analysis, n FROM (SELECT analysis, count(*) n FROM annotations GROUP BY analysis)"
        " WHERE n BETWEEN 20 AND 60 ORDER BY analysis LIMIT 1"
    )
    c["analysis"] = one("SELECT accession FROM analyses ORDER BY accession LIMIT 1 OFFSET 1000")[0]
    c["pubmed"] = one("SELECT pubmed_id FROM publications ORDER BY pubmed_id LIMIT 1 OFFSET 10")[0]
    c["slug"] = one("SELECT slug FROM super_studies ORDER BY slug LIMIT 1")[0]
    c["search"] = "sediment"
    for t in ("studies", "samples", "runs", "assemblies", "analyses", "publications", "biomes"):
        c[f"n_{t}"] = one(f"SELECT count(*) FROM {t}")[0]
    c["n_analyses"] = one(f"SELECT count(*) FROM analyses WHERE is_ready = 1 AND {PUB}")[0]
    c["n_analysed_runs"] = one(
        "SELECT count(*) FROM runs r WHERE EXISTS"
        " (SELECT 1 FROM analyses a WHERE a.run = r.accession)"
    )[0]
    c["private_owner"] = "Webin-1000"
    con.close()
    return c


def api_endpoints(c: dict) -> list[Endpoint]:
    """Every GET operation of MGnify's document, with the SQL our catalogue answers it with
    (none for genomes: the catalogue has no genome tables)."""
    s, smp, run, asm = c["study"], c["sample"], c["run"], c["assembly"]
    ana, big, small = c["analysis"], c["big"], c["small"]
    env = _biome_in("root:Environmental", "biome")
    aquatic = _biome_in("root:Environmental:Aquatic", "biome")
    srch = f"%{c['search']}%"
    analysed = "EXISTS (SELECT 1 FROM analyses a WHERE a.run = runs.accession)"
    annot = (
        "SELECT * FROM annotations WHERE analysis = ? AND type = ? ORDER BY term"
        f" LIMIT {PAGE} OFFSET ?"
    )
    ssu_last = _last(c["big_type_rows"])
    E = Endpoint
    eps = [
        E("studies/", f"{API}/studies/", _list("studies"), operation="/studies/"),
        E(
            f"studies/?page={_last(c['n_studies'])}",
            f"{API}/studies/?page={_last(c['n_studies'])}",
            _list("studies", page=_last(c["n_studies"])),
            operation="/studies/",
        ),
        E(
            "studies/?biome_lineage=root:Environmental",
            f"{API}/studies/?biome_lineage=root:Environmental",
            _list("studies", env[0], env[1]),
            operation="/studies/",
        ),
        E(
            f"studies/?search={c['search']}",
            f"{API}/studies/?search={c['search']}",
            _list(
                "studies",
                "(title LIKE ? OR accession = ? OR ena_accessions LIKE ?)",
                (srch, c["search"], srch),
            ),
            operation="/studies/",
        ),
        E(
            "studies/{acc}",
            f"{API}/studies/{s}",
            [
                (f"SELECT * FROM studies WHERE accession = ? AND {PUB}", (s,)),
                (
                    "SELECT * FROM biomes WHERE lineage = (SELECT biome FROM studies WHERE"
                    " accession = ?)",
                    (s,),
                ),
                (
                    "SELECT * FROM downloads WHERE study = ? AND analysis IS NULL AND"
                    f" assembly IS NULL AND {PUB}",
                    (s,),
                ),
            ],
            operation="/studies/{accession}",
        ),
        E(
            "studies/insdc/{acc}",
            f"{API}/studies/insdc/{c['study_ena']}",
            [
                (
                    f"SELECT accession FROM studies WHERE ena_accession = ? AND {PUB}",
                    (c["study_ena"],),
                )
            ],
            operation="/studies/insdc/{accession}",
        ),
        E(
            "studies/{acc}/analyses/",
            f"{API}/studies/{s}/analyses/",
            _list("analyses", "study = ?", (s,)),
            operation="/studies/{accession}/analyses/",
        ),
        E(
            "studies/{acc}/samples/",
            f"{API}/studies/{s}/samples/",
            [
                (
                    "SELECT count(*) FROM study_samples l JOIN samples x ON x.accession = l.sample"
                    " WHERE l.study = ? AND x.is_private = 0 AND x.is_suppressed = 0",
                    (s,),
                ),
                (
                    "SELECT x.* FROM study_samples l JOIN samples x ON x.accession = l.sample WHERE"
                    " l.study = ? AND x.is_private = 0 AND x.is_suppressed = 0 ORDER BY"
                    f" x.accession LIMIT {PAGE}",
                    (s,),
                ),
            ],
            operation="/studies/{accession}/samples/",
        ),
        E(
            "studies/{acc}/publications/",
            f"{API}/studies/{s}/publications/",
            [
                ("SELECT count(*) FROM study_publications WHERE study = ?", (s,)),
                (
                    "SELECT p.* FROM study_publications l JOIN publications p ON"
                    " p.pubmed_id = l.publication"
                    f" WHERE l.study = ? ORDER BY p.pubmed_id LIMIT {PAGE}",
                    (s,),
                ),
            ],
            operation="/studies/{accession}/publications/",
        ),
        E("samples/", f"{API}/samples/", _list("samples"), operation="/samples/"),
        E(
            f"samples/?page={_last(c['n_samples'])}",
            f"{API}/samples/?page={_last(c['n_samples'])}",
            _list("samples", page=_last(c["n_samples"])),
            operation="/samples/",
        ),
        E(
            "samples/?biome_lineage=root:Environmental:Aquatic",
            f"{API}/samples/?biome_lineage=root:Environmental:Aquatic",
            _list("samples", aquatic[0], aquatic[1]),
            operation="/samples/",
        ),
        E(
            f"samples/?search={c['search']}",
            f"{API}/samples/?search={c['search']}",
            _list("samples", "(title LIKE ? OR accession = ?)", (srch, c["search"])),
            operation="/samples/",
        ),
        E(
            "samples/{acc}",
            f"{API}/samples/{smp}",
            [
                (f"SELECT * FROM samples WHERE accession = ? AND {PUB}", (smp,)),
                (
                    "SELECT s.* FROM study_samples l JOIN studies s ON s.accession ="
                    f" l.study WHERE l.sample = ? AND s.{PUB.replace(' AND ', ' AND s.')}",
                    (smp,),
                ),
            ],
            operation="/samples/{accession}",
        ),
        E(
            "samples/{acc}/runs/",
            f"{API}/samples/{smp}/runs/",
            _list("runs", "sample = ?", (smp,)),
            operation="/samples/{accession}/runs/",
        ),
        E(
            "samples/{acc}/assemblies/",
            f"{API}/samples/{smp}/assemblies/",
            _list("assemblies", "sample = ?", (smp,)),
            operation="/samples/{accession}/assemblies/",
        ),
        E("runs/", f"{API}/runs/", _list("runs", analysed), operation="/runs/"),
        E(
            f"runs/?page={_last(c['n_analysed_runs'])}",
            f"{API}/runs/?page={_last(c['n_analysed_runs'])}",
            _list("runs", analysed, page=_last(c["n_analysed_runs"])),
            operation="/runs/",
        ),
        E(
            "runs/?has_experiment_type=METAG",
            f"{API}/runs/?has_experiment_type=METAG",
            _list("runs", f"experiment_type = ? AND {analysed}", ("METAG",)),
            operation="/runs/",
        ),
        E(
            "runs/{acc}",
            f"{API}/runs/{run}",
            [
                (f"SELECT * FROM runs WHERE accession = ? AND {PUB}", (run,)),
                (
                    "SELECT accession, experiment_type, pipeline_version FROM analyses"
                    f" WHERE run = ? AND {PUB}",
                    (run,),
                ),
            ],
            operation="/runs/{accession}",
        ),
        E(
            "runs/{acc}/analyses/",
            f"{API}/runs/{run}/analyses/",
            _list("analyses", "run = ?", (run,)),
            operation="/runs/{accession}/analyses/",
        ),
        E(
            "runs/{acc}/assemblies/",
            f"{API}/runs/{run}/assemblies/",
            _list("assemblies", "run = ?", (run,)),
            operation="/runs/{accession}/assemblies/",
        ),
        E("assemblies/", f"{API}/assemblies/", _list("assemblies"), operation="/assemblies/"),
        E(
            f"assemblies/?page={_last(c['n_assemblies'])}",
            f"{API}/assemblies/?page={_last(c['n_assemblies'])}",
            _list("assemblies", page=_last(c["n_assemblies"])),
            operation="/assemblies/",
        ),
        E(
            "assemblies/{acc}",
            f"{API}/assemblies/{asm}",
            [
                (f"SELECT * FROM assemblies WHERE accession = ? AND {PUB}", (asm,)),
                (f"SELECT * FROM downloads WHERE assembly = ? AND {PUB}", (asm,)),
            ],
            operation="/assemblies/{accession}",
        ),
        E(
            "assemblies/{acc}/analyses",
            f"{API}/assemblies/{asm}/analyses",
            _list("analyses", "assembly = ?", (asm,)),
            operation="/assemblies/{accession}/analyses",
        ),
        E(
            "assemblies/{acc}/genome-links",
            f"{API}/assemblies/{asm}/genome-links",
            [(f"SELECT 1 FROM assemblies WHERE accession = ? AND {PUB}", (asm,))],
            operation="/assemblies/{accession}/genome-links",
        ),
        E(
            "assemblies/{acc}/additional-contained-genomes",
            f"{API}/assemblies/{asm}/additional-contained-genomes",
            [(f"SELECT 1 FROM assemblies WHERE accession = ? AND {PUB}", (asm,))],
            operation="/assemblies/{accession}/additional-contained-genomes",
        ),
        E(
            "analyses/",
            f"{API}/analyses/",
            _list("analyses", "is_ready = 1"),
            operation="/analyses/",
        ),
        E(
            f"analyses/?page={_last(c['n_analyses'])}",
            f"{API}/analyses/?page={_last(c['n_analyses'])}",
            _list("analyses", "is_ready = 1", page=_last(c["n_analyses"])),
            operation="/analyses/",
        ),
        E(
            "analyses/{acc}",
            f"{API}/analyses/{ana}",
            [
                (f"SELECT * FROM analyses WHERE accession = ? AND {PUB}", (ana,)),
                (f"SELECT * FROM downloads WHERE analysis = ? AND {PUB}", (ana,)),
                (
                    "SELECT * FROM studies WHERE accession = (SELECT study FROM analyses"
                    " WHERE accession = ?)",
                    (ana,),
                ),
            ],
            operation="/analyses/{accession}",
        ),
        E(
            f"analyses/{{acc}}/annotations ({c['small_rows']} rows)",
            f"{API}/analyses/{small}/annotations",
            [
                (f"SELECT * FROM analyses WHERE accession = ? AND {PUB}", (small,)),
                ("SELECT * FROM annotations WHERE analysis = ? ORDER BY type, term", (small,)),
            ],
            operation="/analyses/{accession}/annotations",
        ),
        E(
            f"analyses/{{big}}/annotations/taxonomies__ssu ({c['big_type_rows']:,} rows)",
            f"{API}/analyses/{big}/annotations/taxonomies__ssu",
            [
                (f"SELECT * FROM analyses WHERE accession = ? AND {PUB}", (big,)),
                (
                    "SELECT count(*) FROM annotations WHERE analysis = ? AND type = ?",
                    (big, "taxonomies__ssu"),
                ),
                (annot, (big, "taxonomies__ssu", 0)),
            ],
            operation="/analyses/{accession}/annotations/{annotation_type}",
        ),
        E(
            f"analyses/{{big}}/annotations/taxonomies__ssu?page={ssu_last}",
            f"{API}/analyses/{big}/annotations/taxonomies__ssu?page={ssu_last}",
            [
                (f"SELECT * FROM analyses WHERE accession = ? AND {PUB}", (big,)),
                (
                    "SELECT count(*) FROM annotations WHERE analysis = ? AND type = ?",
                    (big, "taxonomies__ssu"),
                ),
                (annot, (big, "taxonomies__ssu", (ssu_last - 1) * PAGE)),
            ],
            operation="/analyses/{accession}/annotations/{annotation_type}",
        ),
        E(
            "analyses/{big}/annotations/pfams",
            f"{API}/analyses/{big}/annotations/pfams",
            [
                (f"SELECT * FROM analyses WHERE accession = ? AND {PUB}", (big,)),
                (
                    "SELECT count(*) FROM annotations WHERE analysis = ? AND type = ?",
                    (big, "pfams"),
                ),
                (annot, (big, "pfams", 0)),
            ],
            operation="/analyses/{accession}/annotations/{annotation_type}",
        ),
        E(
            "publications/",
            f"{API}/publications/",
            [
                ("SELECT count(*) FROM publications", ()),
                (f"SELECT * FROM publications ORDER BY pubmed_id LIMIT {PAGE}", ()),
            ],
            operation="/publications/",
        ),
        E(
            "publications/{id}",
            f"{API}/publications/{c['pubmed']}",
            [
                ("SELECT * FROM publications WHERE pubmed_id = ?", (c["pubmed"],)),
                (
                    "SELECT s.accession, s.title FROM study_publications l JOIN studies s"
                    " ON s.accession ="
                    " l.study WHERE l.publication = ?",
                    (c["pubmed"],),
                ),
            ],
            operation="/publications/{pubmed_id}",
        ),
        E(
            "publications/{id}/annotations",
            f"{API}/publications/{c['pubmed']}/annotations",
            [("SELECT * FROM publications WHERE pubmed_id = ?", (c["pubmed"],))],
            operation="/publications/{pubmed_id}/annotations",
        ),
        E(
            "super-studies/",
            f"{API}/super-studies/",
            [
                ("SELECT count(*) FROM super_studies", ()),
                (f"SELECT * FROM super_studies ORDER BY slug LIMIT {PAGE}", ()),
            ],
            operation="/super-studies/",
        ),
        E(
            "super-studies/{slug}",
            f"{API}/super-studies/{c['slug']}",
            [
                ("SELECT * FROM super_studies WHERE slug = ?", (c["slug"],)),
                (
                    "SELECT s.*, l.is_flagship FROM super_study_studies l JOIN studies s ON"
                    " s.accession ="
                    " l.study WHERE l.super_study = ? ORDER BY s.accession",
                    (c["slug"],),
                ),
            ],
            operation="/super-studies/{slug}",
        ),
        E(
            "biomes/",
            f"{API}/biomes/",
            [
                ("SELECT count(*) FROM biomes", ()),
                (f"SELECT * FROM biomes ORDER BY path LIMIT {PAGE}", ()),
            ],
            operation="/biomes/",
        ),
        E(
            "biomes/?max_depth=3",
            f"{API}/biomes/?max_depth=3",
            [
                ("SELECT count(*) FROM biomes WHERE depth <= ?", (3,)),
                (f"SELECT * FROM biomes WHERE depth <= ? ORDER BY path LIMIT {PAGE}", (3,)),
            ],
            operation="/biomes/",
        ),
        E(
            "biomes/?biome_lineage=root:Host-associated",
            f"{API}/biomes/?biome_lineage=root:Host-associated",
            [
                (
                    "SELECT count(*) FROM biomes b WHERE"
                    f" {_biome_in('root:Host-associated', 'lineage')[0]}",
                    _biome_in("root:Host-associated", "lineage")[1],
                ),
                (
                    f"SELECT * FROM biomes WHERE {_biome_in('root:Host-associated', 'lineage')[0]}"
                    f" ORDER BY path LIMIT {PAGE}",
                    _biome_in("root:Host-associated", "lineage")[1],
                ),
            ],
            operation="/biomes/",
        ),
        E(
            "my-data/studies/ (curator)",
            f"{API}/my-data/studies/",
            [
                ("SELECT count(*) FROM studies WHERE is_private = 1 AND is_suppressed = 0", ()),
                (
                    "SELECT * FROM studies WHERE is_private = 1 AND is_suppressed = 0 ORDER"
                    " BY accession"
                    f" LIMIT {PAGE}",
                    (),
                ),
            ],
            db="catalogue",
            curator=True,
            operation="/my-data/studies/",
        ),
    ]
    genomes = [
        ("genomes/", "/genomes/", "/genomes/"),
        ("genomes/{acc}", "/genomes/MGYG000000001", "/genomes/{accession}"),
        (
            "genomes/{acc}/annotations",
            "/genomes/MGYG000000001/annotations",
            "/genomes/{accession}/annotations",
        ),
        ("genomes/catalogues/", "/genomes/catalogues/", "/genomes/catalogues/"),
        (
            "genomes/catalogues/{id}",
            "/genomes/catalogues/human-gut-v2-0-2",
            "/genomes/catalogues/{catalogue_id}",
        ),
        (
            "genomes/catalogues/{id}/genomes/",
            "/genomes/catalogues/human-gut-v2-0-2/genomes/",
            "/genomes/catalogues/{catalogue_id}/genomes/",
        ),
    ]
    eps += [E(name, API + path, [], operation=op) for name, path, op in genomes]
    return eps


def datasette_facets(table: str, cols: list[str], where: str = "", params: tuple = ()) -> list:
    """Datasette 0.65's facet queries of a table page (one per configured facet)."""
    w = f"WHERE {where}" if where else ""
    return [
        (
            f"SELECT {c} AS value, count(*) AS count FROM (SELECT * FROM {table} {w}) WHERE"
            f" {c} IS NOT"
            f" NULL GROUP BY {c} ORDER BY count DESC, value LIMIT 31",
            params,
        )
        for c in cols
    ]


def table_page(
    table: str, order: str, facets: list[str], where: str = "", params: tuple = (), size: int = 100
) -> list:
    """A Datasette table page: count, the first `size` + 1 rows, the facets."""
    w = f"WHERE {where}" if where else ""
    return [
        (f"SELECT count(*) FROM {table} {w}", params),
        (f"SELECT * FROM {table} {w} ORDER BY {order} LIMIT {size + 1}", params),
        *datasette_facets(table, facets, where, params),
    ]


def page_endpoints(c: dict, public_db: Path) -> list[Endpoint]:
    """Datasette's main pages, with the queries Datasette runs for them."""
    con = sqlite3.connect(f"file:{public_db}?mode=ro", uri=True)
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    con.close()
    counts = [(f"SELECT count(*) FROM [{t}]", ()) for t in tables]
    fts = ("rowid IN (SELECT rowid FROM studies_fts WHERE studies_fts MATCH ?)", (c["search"],))
    s, big = c["study"], c["big"]
    refs = [
        (t.name, col)
        for t in TABLES.values()
        for col, other, _ in t.foreign_keys
        if other in ("studies", "analyses") and t.name != "events"
    ]
    row_refs = lambda other, acc: [  # noqa: E731
        (f"SELECT count(*) FROM [{t}] WHERE [{col}] = ?", (acc,))
        for t, col in refs
        if TABLES[t].foreign_keys
        and any(o == other and cc == col for cc, o, _ in TABLES[t].foreign_keys)
    ]
    P = lambda name, path, sql: Endpoint(name, path, sql, kind="page")  # noqa: E731
    return [
        Endpoint("/ (index)", "/", counts, "page", limit_ms=10),
        Endpoint("/public (database)", "/public", counts, "page", limit_ms=10),
        P("/biomes", "/biomes", [("SELECT * FROM biomes ORDER BY lineage", ())]),
        P(
            "/public/studies",
            "/public/studies",
            table_page("studies", "accession", ["biome", "center_name"]),
        ),
        P(
            "/public/studies?_size=20 (a smaller page)",
            "/public/studies?_size=20",
            table_page("studies", "accession", ["biome", "center_name"], size=20),
        ),
        P(
            "/public/studies.json (same queries, no HTML)",
            "/public/studies.json",
            table_page("studies", "accession", ["biome", "center_name"]),
        ),
        P(
            f"/public/studies?_search={c['search']}",
            f"/public/studies?_search={c['search']}",
            table_page("studies", "accession", ["biome", "center_name"], *fts),
        ),
        P(
            "/public/samples (map)",
            "/public/samples",
            table_page("samples", "accession", ["biome", "environment_biome", "country"]),
        ),
        P(
            "/public/analyses",
            "/public/analyses",
            table_page("analyses", "accession", ["status", "experiment_type", "pipeline", "study"]),
        ),
        P(
            "/public/studies/{acc} (row)",
            f"/public/studies/{s}",
            [("SELECT * FROM studies WHERE accession = ?", (s,)), *row_refs("studies", s)],
        ),
        P(
            "/public/analyses/{big} (row)",
            f"/public/analyses/{big}",
            [("SELECT * FROM analyses WHERE accession = ?", (big,)), *row_refs("analyses", big)],
        ),
        P(
            f"/public/annotations?analysis={{big}} ({c['big_rows']:,} rows)",
            f"/public/annotations?analysis={big}",
            [
                ("SELECT count(*) FROM annotations WHERE analysis = ?", (big,)),
                (
                    "SELECT * FROM annotations WHERE analysis = ? ORDER BY analysis, type,"
                    " term LIMIT 101",
                    (big,),
                ),
            ],
        ),
        sitemap(),
        *atom_feeds(),
        P("/-/versions.json (no SQL: the floor)", "/-/versions.json", []),
    ]


def _metadata() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "mgnify_db" / "web" / "metadata.yaml").read_text()) or {}


def atom_feeds() -> list[Endpoint]:
    """The public database's canned queries that datasette-atom renders (they select atom_id):
    /public/<query>.atom, with the query as the baseline; a probe of /public/studies.atom when
    the metadata has none."""
    queries = ((_metadata().get("databases") or {}).get("public") or {}).get("queries") or {}
    out = []
    for name, q in queries.items():
        sql = q.get("sql", "") if isinstance(q, dict) else str(q)
        if "atom_id" in sql:
            out.append(
                Endpoint(f"/public/{name}.atom", f"/public/{name}.atom", [(sql, ())], "page")
            )
    return out or [Endpoint("/public/studies.atom", "/public/studies.atom", [], "page")]


def sitemap() -> Endpoint:
    """/sitemap.xml, with datasette-sitemap's configured SQL as the baseline."""
    conf = (_metadata().get("plugins") or {}).get("datasette-sitemap") or {}
    sql = [(conf["sql"], ())] if conf.get("sql") else []
    return Endpoint("/sitemap.xml", "/sitemap.xml", sql, "page")


# -- load ---------------------------------------------------------------------------------------
@dataclass
class Result:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    wall_s: float = 0.0
    note: str = ""

    def pct(self, q: float) -> float | None:
        xs = sorted(self.latencies_ms)
        if not xs:
            return None
        return xs[min(len(xs) - 1, max(0, math.ceil(q * len(xs)) - 1))]

    @property
    def rate(self) -> float | None:
        return len(self.latencies_ms) / self.wall_s if self.wall_s else None


class Pool:
    """CLIENTS threads, each keeping its own HTTP session / sqlite3 connection across calls."""

    def __init__(self, n: int = CLIENTS):
        self.n = n
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(n)

    def run(self, make_call, total: int, budget_s: float = 0) -> Result:
        """`make_call(local)` -> a function that does one request and returns its status; each
        thread does one call to warm up, then all start together and share `total` calls
        (stopping early once `budget_s` seconds have passed, when set)."""
        barrier = threading.Barrier(self.n)
        per = [total // self.n + (i < total % self.n) for i in range(self.n)]
        res = Result()
        lock = threading.Lock()
        starts, ends = [], []

        def work(k: int) -> None:
            call = make_call(self.local)
            try:
                call()
            except Exception:  # the timed loop records it
                pass
            barrier.wait()
            times, codes = [], Counter()
            t_start = time.perf_counter()
            for _ in range(k):
                t0 = time.perf_counter()
                if budget_s and t0 - t_start > budget_s:
                    break
                try:
                    code = call()
                except Exception as e:  # a refused connection, a SQL error: count, go on
                    code = type(e).__name__
                times.append((time.perf_counter() - t0) * 1000)
                codes[code] += 1
            with lock:
                res.latencies_ms += times
                res.statuses += codes
                starts.append(t_start)
                ends.append(time.perf_counter())

        list(self.pool.map(work, per))
        res.wall_s = max(ends) - min(starts)
        return res

    def close(self) -> None:
        self.pool.shutdown()


def http_call(base: str, ep: Endpoint):
    headers = {"Authorization": f"Bearer {CURATOR_TOKEN}"} if ep.curator else {}

    def make(local):
        if not hasattr(local, "session"):
            local.session = requests.Session()
        session = local.session

        def call():
            r = session.get(base + ep.path, headers=headers, allow_redirects=False, timeout=60)
            r.content  # noqa: B018  (the whole body, as a client reads it)
            return r.status_code

        return call

    return make


def sql_call(dbs: dict[str, Path], ep: Endpoint):
    def make(local):
        conns = local.__dict__.setdefault("conns", {})
        if ep.db not in conns:
            conns[ep.db] = sqlite3.connect(f"file:{dbs[ep.db]}?mode=ro", uri=True)
        con = conns[ep.db]

        def call():
            for sql, params in ep.sql:
                if ep.limit_ms:  # as Datasette: interrupted after the limit, then ignored
                    end = time.perf_counter() + ep.limit_ms / 1000
                    con.set_progress_handler(lambda end=end: time.perf_counter() > end, 1000)
                try:
                    con.execute(sql, params).fetchall()
                except sqlite3.OperationalError as e:
                    if not ep.limit_ms or "interrupted" not in str(e):
                        raise
                finally:
                    con.set_progress_handler(None, 0)
            return "ok"

        return call

    return make


def sql_plan(db: Path, ep: Endpoint) -> str:
    """What in the baseline's plans is not an index lookup: full scans and sorts."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    found = []
    try:
        for sql, params in ep.sql:
            for row in con.execute(f"EXPLAIN QUERY PLAN {sql}", params):
                d = row[-1]
                if d.startswith("SCAN ") and " USING " not in d:
                    found.append("scan " + d.split()[1])
                elif "TEMP B-TREE" in d:
                    found.append("sort")
    except sqlite3.Error as e:
        return f"error: {e}"
    finally:
        con.close()
    return ", ".join(dict.fromkeys(found))


# -- the server ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(results_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MGNIFY_CURATOR_TOKEN": CURATOR_TOKEN,
        "MGNIFY_API_SECRET": API_SECRET,
        # what `mgnify-db serve` sets before it execs datasette (for the direct alternatives)
        "MGNIFY_RESULTS_DIR": str(results_dir),
        "MGNIFY_FILES_LINK_LIFETIME": "3600",
        "MGNIFY_ENA_WEBIN_AUTH_URL": os.environ.get(
            "MGNIFY_ENA_WEBIN_AUTH_URL", "http://127.0.0.1:9/auth"
        ),
    }


def start(cmd: list[str], env: dict, log: Path, port: int) -> subprocess.Popen:
    """Start a server and wait until it answers (a minute at most)."""
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(base + "/-/versions.json", timeout=2).status_code == 200:
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.2)
    stop(proc)
    raise RuntimeError(f"server did not answer in 60 s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- the run ------------------------------------------------------------------------------------
def ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def status_text(r: Result) -> str:
    one = len(r.statuses) == 1
    return " ".join(f"{k}" if one else f"{k}x{v}" for k, v in r.statuses.most_common())


def measure(pool: Pool, base: str, eps: list[Endpoint], n: int, label: str) -> dict[str, Result]:
    """Each endpoint under CLIENTS concurrent clients; pages that 404 are skipped; an API
    endpoint that does not answer 200 gets 2 rounds only (its status is what matters)."""
    out = {}
    probe = requests.Session()
    for ep in eps:
        headers = {"Authorization": f"Bearer {CURATOR_TOKEN}"} if ep.curator else {}
        try:
            r = probe.get(base + ep.path, allow_redirects=False, timeout=60, headers=headers)
            code = r.status_code
        except requests.RequestException as e:
            code = type(e).__name__
        if ep.kind == "page" and code == 404:
            out[ep.name] = Result(statuses=Counter({404: 1}), note="404: skipped")
            continue
        total = n if code == 200 else 2 * CLIENTS
        out[ep.name] = r = pool.run(http_call(base, ep), total, BUDGET_S)
        print(
            f"  {label:<8} {ep.name:<62} {status_text(r):<10} p50 {ms(r.pct(0.5)):>6}"
            f"  p95 {ms(r.pct(0.95)):>6} ms",
            file=sys.stderr,
        )
    return out


def machine() -> str:
    import datasette

    cpu = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((ln.split(":", 1)[1].strip() for ln in cpu if ln.startswith("model name")), "?")
    return (
        f"{os.cpu_count()} CPUs ({model}), load average {os.getloadavg()[0]:.1f} at the start,"
        f" Python {platform.python_version()}, SQLite {sqlite3.sqlite_version},"
        f" Datasette {datasette.__version__}, requests {requests.__version__}"
    )


def settings_in_effect(base: str, args: list[str], headers: dict[str, str]) -> list[str]:
    got = requests.get(base + "/-/settings.json", timeout=10).json()
    keep = (
        "suggest_facets",
        "num_sql_threads",
        "sql_time_limit_ms",
        "facet_time_limit_ms",
        "default_cache_ttl",
        "max_returned_rows",
        "default_page_size",
    )
    shown = [a for a in args[3:] if "/" not in a and not a.isdigit() and a != "127.0.0.1"]
    immutable = "-i" in args or "--immutable" in args
    out = [
        "`mgnify-db serve` (mgnify_db/cli.py `datasette_args`): `" + " ".join(shown) + "`",
        "Datasette settings (/-/settings.json): " + ", ".join(f"{k}={got.get(k)}" for k in keep),
        "immutable (-i): "
        + (
            "yes"
            if immutable
            else "no: both files are mutable (the plugin follows a re-published file);"
            " Datasette counts tables on every page instead of once at start-up"
        ),
    ]
    out += [f"Cache-Control of {k}: {v}" for k, v in headers.items()]
    return out


def coverage(eps: list[Endpoint]) -> list[str]:
    doc = json.loads(OPENAPI.read_text())
    ops = {p.removeprefix(API) for p, v in doc["paths"].items() if "get" in v and p.startswith(API)}
    return sorted(ops - {e.operation for e in eps if e.kind == "api"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=160, help="requests per endpoint, all clients")
    ap.add_argument("--studies", type=int, default=Params.studies)
    ap.add_argument("--annotations", type=int, default=Params.annotations)
    default_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    ap.add_argument("--cache", type=Path, default=default_cache / "mgnify-db-bench")
    ap.add_argument("--fresh", action="store_true", help="generate the catalogue again")
    ap.add_argument("--only", default="", help="only endpoints whose name contains this")
    ap.add_argument(
        "--no-alternatives",
        action="store_true",
        help="skip the runs without the caches (and with suggest_facets on)",
    )
    ap.add_argument("--write", action="store_true", help=f"replace '{SECTION}' in RESULTS.md")
    args = ap.parse_args()
    p = Params(studies=args.studies, annotations=args.annotations)
    t_run = time.time()
    host = machine()
    catalogue_db, t_gen = catalogue(args.cache, p, args.fresh)
    public_db = catalogue_db.with_name("public.db")
    info = json.loads(catalogue_db.with_name("params.json").read_text())
    c = choose(public_db)
    eps = api_endpoints(c) + page_endpoints(c, public_db)
    if args.only:
        eps = [e for e in eps if args.only in e.name]
    dbs = {"public": public_db, "catalogue": catalogue_db}
    pool = Pool()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = Path(tempfile.gettempdir()) / f"bench-api-{os.getpid()}.log"
    env = server_env(catalogue_db.parent)
    from mgnify_db.cli import datasette_args

    ds_args = datasette_args(catalogue_db, "127.0.0.1", port, public_db=public_db)
    serve = [sys.executable, "-m", "mgnify_db.cli", "serve", str(catalogue_db), "--port", str(port)]
    proc = start(serve, env, log, port)
    try:
        probe = {
            "API list": f"{API}/studies/",
            "table page": "/public/studies",
            "row page": f"/public/studies/{c['study']}",
        }
        cache_headers = {
            k: requests.get(base + v, timeout=30).headers.get("cache-control", "(none)")
            for k, v in probe.items()
        }
        settings = settings_in_effect(base, ds_args, cache_headers)
        http = measure(pool, base, eps, args.requests, "http")
    finally:
        stop(proc)
    sql, plans = {}, {}
    for ep in eps:
        plans[ep.name] = sql_plan(dbs[ep.db], ep) if ep.sql else ""
        if ep.sql and http[ep.name].latencies_ms:
            sql[ep.name] = pool.run(sql_call(dbs, ep), args.requests)
    alt: dict[str, dict[str, Result]] = {}
    if not args.no_alternatives:
        lists = ("studies/", "samples/", "runs/")
        pages = [
            e
            for e in eps
            if http[e.name].statuses.get(200) and (e.kind == "page" or e.name in lists)
        ]
        api = [e for e in eps if e.kind == "api" and http[e.name].latencies_ms]
        at = ds_args.index("suggest_facets") + 1
        # label -> (datasette arguments, extra environment, endpoints)
        # Both caches answer a repeated request from memory, and the load repeats each URL:
        # these runs show what a request costs when it is not in them (a first visit).
        no_pages = {"MGNIFY_PAGE_CACHE_MB": "0"}
        variants = {
            "API answers not cached": (ds_args, no_pages, api),
            "pages not cached": (ds_args, no_pages, pages),
            "pages not cached, suggest_facets on": (
                [*ds_args[:at], "on", *ds_args[at + 1 :]],
                no_pages,
                pages,
            ),
        }
        for label, (cmd, extra, subset) in variants.items():
            port = free_port()
            at = cmd.index("--port") + 1
            cmd = [*cmd[:at], str(port), *cmd[at + 1 :]]
            proc = start(cmd, {**env, **extra}, log, port)
            try:
                alt[label] = measure(pool, f"http://127.0.0.1:{port}", subset, args.requests, label)
            finally:
                stop(proc)
    pool.close()
    wall = time.time() - t_run
    lines = report(eps, http, sql, plans, alt, c, info, t_gen, host, settings, args.requests, wall)
    print("\n".join(lines))
    if args.write:
        write_results(lines)


def report(eps, http, sql, plans, alt, c, info, t_gen, host, settings, n, wall) -> list[str]:
    """The figures: what was measured, the settings, the table, the alternatives."""
    rows, made = info["public_rows"], info["rows"]
    gen = f"catalogue {info['generate_s']:.1f} s + publish {info['publish_s']:.1f} s"
    gen = f"generated in this run ({gen})" if t_gen is not None else f"from the cache ({gen})"
    out = [
        f"Catalogue: {info['params']['studies']:,} studies (every 20th private, every 97th"
        f" suppressed), {made['samples']:,} samples, {made['runs']:,} runs,"
        f" {made['assemblies']:,} assemblies, {made['analyses']:,} analyses,"
        f" {made['annotations']:,} annotation rows; public.db: {rows['studies']:,} studies,"
        f" {rows['analyses']:,} analyses, {rows['annotations']:,} annotation rows; {gen}.",
        f"Largest analysis {c['big']}: {c['big_rows']:,} rows ({c['big_type_rows']:,}"
        f" taxonomies__ssu); small one {c['small']}: {c['small_rows']} rows.",
        f"Machine: {host}, {os.getloadavg()[0]:.1f} at the end. The server (one Datasette"
        f" process: event loop + SQL threads) and the {CLIENTS} client threads share these CPUs;"
        " the SQL baseline runs afterwards in the bench's process (8 threads, sqlite3 on"
        " public.db, one connection each), the server stopped.",
        f"Load: {CLIENTS} concurrent clients (keep-alive sessions), each endpoint warmed (one"
        f" request per client) then {n} requests in all (not answering 200: {2 * CLIENTS};"
        f" an endpoint stops after {BUDGET_S:.0f} s: n says how many were made);"
        f" the baseline runs the endpoint's queries {n} times the same way."
        f" The run took {wall / 60:.1f} min.",
        "",
        *[f"- {s}" for s in settings],
        "",
        f"Times in ms; **bold**: p95 over the {TARGET_MS:.0f} ms target. ratio = HTTP p95 / SQL"
        " p95. plan: what the baseline's query plans do besides index lookups.",
        "",
        "| endpoint | status | n | HTTP p50 | HTTP p95 | HTTP max | req/s | SQL p50 | SQL p95"
        " | ratio | plan |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    skipped = []
    for ep in eps:
        h, s = http[ep.name], sql.get(ep.name)
        if h.note:
            skipped.append(f"{ep.path} ({h.note})")
            continue
        p95 = h.pct(0.95)
        hp95 = f"**{ms(p95)}**" if p95 and p95 >= TARGET_MS and h.statuses.get(200) else ms(p95)
        ratio = f"{p95 / s.pct(0.95):.1f}x" if s and s.pct(0.95) and p95 else "-"
        name = ("API " if ep.kind == "api" else "") + ep.name
        out.append(
            f"| {name} | {status_text(h)} | {len(h.latencies_ms)} | {ms(h.pct(0.5))} | {hp95}"
            f" | {ms(h.pct(1.0))}"
            f" | {h.rate or 0:.0f} | {ms(s.pct(0.5) if s else None)}"
            f" | {ms(s.pct(0.95) if s else None)} | {ratio} | {plans.get(ep.name, '')} |"
        )
    if skipped:
        out += ["", "Skipped (not served): " + "; ".join(skipped)]
    if missing := coverage(eps):
        out += ["", "GET operations of openapi_v2.json not measured: " + ", ".join(missing)]
    if alt:
        labels = list(alt)
        out += [
            "",
            "Alternatives (the same endpoints, the server started with one setting changed),"
            " p50 / p95 ms:",
            "",
            "| endpoint | as served | " + " | ".join(labels) + " |",
            "|---|---:|" + "---:|" * len(labels),
        ]
        for name in [e.name for e in eps if any(e.name in alt[k] for k in labels)]:
            runs = (http[name], *(alt[k].get(name, Result()) for k in labels))
            cells = [f"{ms(r.pct(0.5))} / {ms(r.pct(0.95))}" for r in runs]
            out.append(f"| {name} | " + " | ".join(cells) + " |")
    return out


def write_results(lines: list[str]) -> None:
    """Replace the section SECTION of RESULTS.md (or add it at the end)."""
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# Benchmark results\n"
    head = SECTION + "\n"
    section = f"{head}\nWritten by `bench/run api --write` ({time.strftime('%Y-%m-%d %H:%M')}).\n\n"
    section += "\n".join(lines) + "\n"
    if head in text:
        start = text.index(head)
        end = text.find("\n## ", start + len(head))
        text = text[:start] + section + (text[end:] if end != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS_MD.write_text(text)


if __name__ == "__main__":
    main()
