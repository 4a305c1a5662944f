"""The catalogue: a SQLite database (sqlite-utils) loaded from the results tree.

MGnify accessions (MGYS, MGYA) and assembly ids are allocated once, in an append-only ledger
beside the database (`accessions.tsv` in the results dir), so a rebuild from the result files
gives every object the same accession again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path

import sqlite_utils

from .models import EXPERIMENT_TYPE_LABELS, Status
from .results import ANALYSIS_PIPELINE, ASSEMBLER, StudyPaths, StudyState, studies_in, study_state

SCHEMA_VERSION = 1

TABLES: dict[str, dict] = {
    "biomes": dict(
        columns={"lineage": str, "name": str, "path": str, "depth": int, "parent": str},
        pk="lineage",
        foreign_keys=[("parent", "biomes", "lineage")],
    ),
    "studies": dict(
        columns={
            "accession": str,
            "id": int,
            "ena_accession": str,
            "secondary_accessions": str,
            "title": str,
            "abstract": str,
            "center_name": str,
            "biome": str,
            "is_private": int,
            "first_public": str,
            "runs_total": int,
            "runs_eligible": int,
            "runs_skipped": int,
            "runs_qc_failed": int,
            "assemblies_completed": int,
            "analyses_completed": int,
            "ena_missing_fields": str,
        },
        pk="accession",
        foreign_keys=[("biome", "biomes", "lineage")],
    ),
    "samples": dict(
        columns={
            "accession": str,
            "secondary_accession": str,
            "study": str,
            "title": str,
            "scientific_name": str,
            "tax_id": str,
            "latitude": float,
            "longitude": float,
            "collection_date": str,
            "country": str,
            "location": str,
            "environment_biome": str,
            "environment_feature": str,
            "environment_material": str,
            "metadata": str,
        },
        pk="accession",
        foreign_keys=[("study", "studies", "accession")],
    ),
    "runs": dict(
        columns={
            "accession": str,
            "study": str,
            "sample": str,
            "experiment_type": str,
            "library_strategy": str,
            "library_source": str,
            "library_layout": str,
            "inferred_layout": str,
            "instrument_platform": str,
            "instrument_model": str,
            "read_count": int,
            "base_count": int,
            "status": str,
            "status_reason": str,
            "job_id": str,
            "qc_reads_before": int,
            "qc_reads_after": int,
            "qc_bases_after": int,
            "qc_q30_rate": float,
            "qc_filtered_fraction": float,
            "fastq": str,
        },
        pk="accession",
        foreign_keys=[("study", "studies", "accession"), ("sample", "samples", "accession")],
    ),
    "assemblies": dict(
        columns={
            "id": int,
            "run": str,
            "study": str,
            "sample": str,
            "assembler": str,
            "assembler_version": str,
            "status": str,
            "status_reason": str,
            "job_id": str,
            "n_contigs": int,
            "total_length": int,
            "n50": int,
            "l50": int,
            "largest_contig": int,
            "gc_content": float,
        },
        pk="id",
        foreign_keys=[
            ("run", "runs", "accession"),
            ("study", "studies", "accession"),
            ("sample", "samples", "accession"),
        ],
    ),
    "analyses": dict(
        columns={
            "accession": str,
            "id": int,
            "study": str,
            "sample": str,
            "run": str,
            "assembly": int,
            "experiment_type": str,
            "pipeline": str,
            "status": str,
            "status_reason": str,
            "job_id": str,
            "cds_count": int,
            "rrna_16s": int,
            "rrna_23s": int,
            "rrna_5s": int,
            "rrna_total": int,
        },
        pk="accession",
        foreign_keys=[
            ("study", "studies", "accession"),
            ("sample", "samples", "accession"),
            ("run", "runs", "accession"),
            ("assembly", "assemblies", "id"),
        ],
    ),
    "downloads": dict(
        columns={
            "id": str,
            "study": str,
            "assembly": int,
            "analysis": str,
            "alias": str,
            "path": str,
            "file_type": str,
            "download_type": str,
            "download_group": str,
            "description": str,
            "size_bytes": int,
        },
        pk="id",
        foreign_keys=[
            ("study", "studies", "accession"),
            ("assembly", "assemblies", "id"),
            ("analysis", "analyses", "accession"),
        ],
    ),
    "events": dict(
        columns={
            "id": str,
            "time": str,
            "study": str,
            "run": str,
            "stage": str,
            "event": str,
            "attempt": int,
            "mem_mb": int,
            "threads": int,
            "job_id": str,
            "host": str,
            "cause": str,
            "message": str,
        },
        pk="id",
        foreign_keys=[("study", "studies", "accession"), ("run", "runs", "accession")],
    ),
}
# Every foreign key, facet and filter column (a test checks the facets of metadata.yaml).
INDEXES = {
    "biomes": [["parent"]],
    "studies": [["ena_accession"], ["biome"], ["center_name"]],
    "samples": [["study"], ["environment_biome"], ["country"]],
    "runs": [["study"], ["sample"], ["status"], ["library_strategy"], ["experiment_type"]],
    "assemblies": [["run", "assembler"], ["assembler"], ["study"], ["sample"], ["status"]],
    "analyses": [
        ["study"],
        ["sample"],
        ["run"],
        ["assembly"],
        ["status"],
        ["experiment_type"],
        ["pipeline"],
    ],
    "downloads": [
        ["study"],
        ["analysis"],
        ["assembly"],
        ["download_group"],
        ["file_type"],
        ["download_type"],
    ],
    "events": [["study"], ["run"], ["stage"], ["event"], ["cause"], ["time"]],
}
UNIQUE = {("studies", ("ena_accession",)), ("assemblies", ("run", "assembler"))}
ACCESSION_KINDS = {"study": "MGYS", "analysis": "MGYA", "assembly": ""}


def biome_path(lineage: str) -> str:
    """`root:Host-associated:Human` -> `root.host_associated.human` (MGnify's ltree labels)."""
    s = lineage.lower().encode("ascii", "ignore").decode().replace(":", ".")
    s = re.sub(r"[ ()\-]", "_", s)
    s = re.sub(r"_+", "_", s)
    s = re.sub(r"[^a-z0-9._]", "", s)
    return ".".join(part.strip("_") for part in s.split(".")).strip("._")


def biome_rows(lineage: str) -> list[dict]:
    parts = lineage.split(":")
    rows = []
    for depth in range(1, len(parts) + 1):
        lin = ":".join(parts[:depth])
        rows.append(
            {
                "lineage": lin,
                "name": parts[depth - 1],
                "path": biome_path(lin),
                "depth": depth,
                "parent": ":".join(parts[: depth - 1]) or None,
            }
        )
    return rows


class Ledger:
    """Append-only `kind<TAB>id<TAB>key` file: the one place ids are allocated."""

    def __init__(self, path: Path):
        self.path = path
        self.ids: dict[tuple[str, str], int] = {}
        self.next: dict[str, int] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                parts = line.split("\t")
                if len(parts) == 3 and parts[1].isdigit():
                    self._remember(parts[0], int(parts[1]), parts[2])

    def _remember(self, kind: str, id_: int, key: str) -> None:
        self.ids[(kind, key)] = id_
        self.next[kind] = max(self.next.get(kind, 1), id_ + 1)

    def allocate(self, kind: str, key: str) -> int:
        if (kind, key) in self.ids:
            return self.ids[(kind, key)]
        id_ = self.next.get(kind, 1)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as fh:  # written before the row, so no id is ever reused
            fh.write(f"{kind}\t{id_}\t{key}\n")
            fh.flush()
        self._remember(kind, id_, key)
        return id_


def mgnify_accession(kind: str, id_: int) -> str:
    return f"{ACCESSION_KINDS[kind]}{id_:08d}"


def open_db(path: Path) -> sqlite_utils.Database:
    """Open (creating if needed) the catalogue, with the schema in place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA busy_timeout = 30000")  # two loaders never fight; the second waits
    db.execute("PRAGMA foreign_keys = ON")
    ensure_schema(db)
    return db


def ensure_schema(db: sqlite_utils.Database) -> None:
    if db["studies"].exists():
        return
    db.enable_wal()
    with db.atomic():
        for name, spec in TABLES.items():
            db[name].create(
                spec["columns"],
                pk=spec["pk"],
                foreign_keys=spec["foreign_keys"],
                if_not_exists=True,
            )
        for name, indexes in INDEXES.items():
            for cols in indexes:
                unique = (name, tuple(cols)) in UNIQUE
                db[name].create_index(cols, unique=unique, if_not_exists=True)
        db["studies"].enable_fts(["title", "abstract"], create_triggers=True, tokenize="porter")
        db.execute("CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("INSERT OR REPLACE INTO _meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])


def _upsert(db: sqlite_utils.Database, table: str, rows: list[dict]) -> None:
    """Insert or update by primary key, in the caller's transaction.

    One `INSERT ... ON CONFLICT DO UPDATE` executemany: sqlite-utils' upsert runs an INSERT OR
    IGNORE plus an UPDATE per row, 2x the work (bench/catalogue_load.py).
    """
    if not rows:
        return
    cols = list(TABLES[table]["columns"])
    pk = TABLES[table]["pk"]
    names = ", ".join(f"[{c}]" for c in cols)
    updates = ", ".join(f"[{c}] = excluded.[{c}]" for c in cols if c != pk)
    sql = (
        f"INSERT INTO [{table}] ({names}) VALUES ({', '.join('?' * len(cols))}) "
        f"ON CONFLICT([{pk}]) DO UPDATE SET {updates}"
    )
    db.conn.executemany(sql, ([r.get(c) for c in cols] for r in rows))


def _event_id(e: dict) -> str:
    key = "|".join(str(e.get(k)) for k in ("run", "stage", "event", "attempt", "time", "job_id"))
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def _download(study: str, owner: dict, rel: str, results: Path, **kw) -> dict | None:
    p = results / rel
    if not p.exists():
        return None
    alias = kw.pop("alias", p.name)
    owner_key = owner.get("analysis") or f"assembly-{owner.get('assembly')}"
    return {
        "id": f"{owner_key}/{alias}",
        "study": study,
        "alias": alias,
        "path": rel,
        "size_bytes": p.stat().st_size,
        **owner,
        **kw,
    }


def records(state: StudyState, results: Path, ledger: Ledger) -> dict[str, list[dict]]:
    """Catalogue rows for a study state (pure apart from id allocation)."""
    cfg, meta = state.config, state.metadata
    ena = meta.study
    mgys = mgnify_accession("study", ledger.allocate("study", ena.accession))
    paths = StudyPaths(results, cfg.accession)
    rel = lambda name, run: str(paths.path(name, run).relative_to(results))  # noqa: E731
    out: dict[str, list[dict]] = {t: [] for t in TABLES}
    out["biomes"] = biome_rows(cfg.biome)
    out["samples"] = [
        {
            "accession": s.sample_accession,
            "secondary_accession": s.secondary_sample_accession,
            "study": mgys,
            "title": s.sample_title,
            "scientific_name": s.scientific_name,
            "tax_id": s.tax_id,
            "latitude": s.lat,
            "longitude": s.lon,
            "collection_date": s.collection_date,
            "country": s.country,
            "location": s.location,
            "environment_biome": s.environment_biome,
            "environment_feature": s.environment_feature,
            "environment_material": s.environment_material,
            "metadata": json.dumps(s.model_dump(exclude_none=True), sort_keys=True),
        }
        for s in meta.samples
    ]
    runs_by_acc = {r.run_accession: r for r in meta.runs}
    for st in state.runs:
        r, d, qc = runs_by_acc[st.run], st.decision, st.qc or {}
        out["runs"].append(
            {
                "accession": st.run,
                "study": mgys,
                "sample": r.sample_accession,
                "experiment_type": EXPERIMENT_TYPE_LABELS[d.experiment_type]
                if d.eligible
                else None,
                "library_strategy": r.library_strategy,
                "library_source": r.library_source,
                "library_layout": r.library_layout,
                "inferred_layout": d.layout if d.layout and d.layout != r.library_layout else None,
                "instrument_platform": r.instrument_platform,
                "instrument_model": r.instrument_model,
                "read_count": r.read_count,
                "base_count": r.base_count,
                "status": st.status,
                "job_id": st.job_id,
                "status_reason": st.reason,
                "qc_reads_before": qc.get("reads_before"),
                "qc_reads_after": qc.get("reads_after"),
                "qc_bases_after": qc.get("bases_after"),
                "qc_q30_rate": qc.get("q30_rate_after"),
                "qc_filtered_fraction": qc.get("filtered_fraction"),
                "fastq": json.dumps([f.url for f in r.fastq_files]),
            }
        )
        for j in st.jobs:
            out["events"].append(
                {
                    "time": j.get("time"),
                    "study": mgys,
                    "run": st.run,
                    "stage": j.get("stage"),
                    "event": j.get("event"),
                    "attempt": j.get("attempt"),
                    "mem_mb": j.get("mem_mb"),
                    "threads": j.get("threads"),
                    "job_id": j.get("job_id"),
                    "host": j.get("host"),
                    "cause": j.get("cause"),
                    "message": j.get("message"),
                }
            )
        if st.assembly_status is None:
            continue
        asm = st.assembly or {}
        asm_id = ledger.allocate("assembly", f"{st.run}/{ASSEMBLER}")
        out["assemblies"].append(
            {
                "id": asm_id,
                "run": st.run,
                "study": mgys,
                "sample": r.sample_accession,
                "assembler": ASSEMBLER,
                "assembler_version": asm.get("assembler_version"),
                "status": st.assembly_status,
                "job_id": st.assembly_job_id,
                "status_reason": st.assembly_reason,
                **{
                    k: asm.get(k)
                    for k in (
                        "n_contigs",
                        "total_length",
                        "n50",
                        "l50",
                        "largest_contig",
                        "gc_content",
                    )
                },
            }
        )
        mgya = mgnify_accession(
            "analysis", ledger.allocate("analysis", f"{st.run}/{ANALYSIS_PIPELINE}")
        )
        ana = st.analysis or {}
        out["analyses"].append(
            {
                "accession": mgya,
                "study": mgys,
                "sample": r.sample_accession,
                "run": st.run,
                "assembly": asm_id,
                "experiment_type": EXPERIMENT_TYPE_LABELS[d.experiment_type],
                "pipeline": ANALYSIS_PIPELINE,
                "status": st.analysis_status,
                "job_id": st.analysis_job_id,
                "status_reason": st.analysis_reason,
                **{
                    k: ana.get(k)
                    for k in ("cds_count", "rrna_16s", "rrna_23s", "rrna_5s", "rrna_total")
                },
            }
        )
        files = [
            (
                {"assembly": asm_id},
                rel("contigs", st.run),
                dict(
                    file_type="fasta",
                    download_type="Sequence data",
                    download_group="assembly",
                    alias=f"{st.run}_contigs.fa.gz",
                    description="Contigs (MEGAHIT)",
                ),
            ),
            (
                {"analysis": mgya},
                rel("qc", st.run) + "/fastp.html",
                dict(
                    file_type="html",
                    download_type="Quality control",
                    download_group="quality_control",
                    alias=f"{st.run}_fastp.html",
                    description="fastp QC report",
                ),
            ),
            (
                {"analysis": mgya},
                rel("cds_faa", st.run),
                dict(
                    file_type="fasta",
                    download_type="Coding Sequences",
                    download_group="coding_sequences",
                    alias=f"{mgya}_cds.faa",
                    description="Predicted proteins (pyrodigal, metagenome mode)",
                ),
            ),
            (
                {"analysis": mgya},
                rel("cds_gff", st.run),
                dict(
                    file_type="gff",
                    download_type="Coding Sequences",
                    download_group="coding_sequences",
                    alias=f"{mgya}_cds.gff",
                    description="Predicted CDS (GFF3)",
                ),
            ),
            (
                {"analysis": mgya},
                rel("rrna_gff", st.run),
                dict(
                    file_type="gff",
                    download_type="non-coding RNAs",
                    download_group="rrna",
                    alias=f"{mgya}_rrna.gff",
                    description="rRNA genes (barrnap, GFF3)",
                ),
            ),
        ]
        for owner, path, kw in files:
            if row := _download(mgys, owner, path, results, **kw):
                out["downloads"].append(row)
    for e in out["events"]:
        e["id"] = _event_id(e)
    out["studies"] = [
        {
            "accession": mgys,
            "id": int(mgys[4:]),
            "ena_accession": ena.accession,
            "secondary_accessions": json.dumps(ena.secondary_accessions),
            "title": ena.study_title,
            "abstract": ena.study_description,
            "center_name": ena.center_name,
            "biome": cfg.biome,
            "is_private": int(cfg.is_private),
            "first_public": ena.first_public,
            "ena_missing_fields": json.dumps(meta.missing_fields) if meta.missing_fields else None,
        }
    ]
    return out


def refresh_study_counts(db: sqlite_utils.Database, mgys: str) -> None:
    db.execute(
        """update studies set
             runs_total = (select count(*) from runs where study = :s),
             runs_eligible = (select count(*) from runs where study = :s and status != :skip),
             runs_skipped = (select count(*) from runs where study = :s and status = :skip),
             runs_qc_failed = (select count(*) from runs where study = :s and status = :qcf),
             assemblies_completed = (select count(*) from assemblies
                                     where study = :s and status = :done),
             analyses_completed = (select count(*) from analyses
                                   where study = :s and status = :done)
           where accession = :s""",
        {"s": mgys, "skip": Status.SKIPPED, "qcf": Status.QC_FAILED, "done": Status.COMPLETED},
    )


def load(
    db: sqlite_utils.Database, results: Path, study: str, runs: Iterable[str] | None = None
) -> dict[str, int]:
    """Load one study (or some of its runs) from the results tree; idempotent."""
    state = study_state(results, study, list(runs) if runs is not None else None)
    rows = records(state, results, Ledger(ledger_path(results)))
    with db.atomic():
        for table in TABLES:  # parents before children, as the foreign keys need
            _upsert(db, table, rows[table])
        refresh_study_counts(db, rows["studies"][0]["accession"])
    return {t: len(r) for t, r in rows.items()}


def ledger_path(results: Path) -> Path:
    return results / "accessions.tsv"


def rebuild(db_path: Path, results: Path) -> dict[str, int]:
    """Recreate the catalogue from the results tree alone."""
    tmp = db_path.with_name(db_path.name + ".rebuild")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    db = open_db(tmp)
    totals: dict[str, int] = {}
    for study in studies_in(results):
        for t, n in load(db, results, study).items():
            totals[t] = totals.get(t, 0) + n
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    tmp.replace(db_path)
    for suffix in ("-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    return totals


def dump(
    db: sqlite_utils.Database, tables: Iterable[str] = tuple(TABLES), *, canonical: bool = False
) -> dict[str, list]:
    """Every row, sorted by primary key.

    `canonical`: MGnify accessions and assembly ids replaced by the natural keys they were
    allocated for, and job ids (which say where it ran, not what) dropped, so two catalogues
    built independently (ids allocated in another order, by another executor) compare equal
    when they hold the same content.
    """
    out = {}
    for t in tables:
        pk = TABLES[t]["pk"]
        out[t] = [dict(r) for r in db.query(f"select * from [{t}] order by [{pk}]")]
    if not canonical:
        return out
    names: dict[str, str] = {}
    for kind, sql in (
        ("study", "select accession a, ena_accession k from studies"),
        ("assembly", "select id a, run || '/' || assembler k from assemblies"),
        ("analysis", "select accession a, run || '/' || pipeline k from analyses"),
    ):
        names |= {f"{kind}:{r['a']}": f"<{kind} {r['k']}>" for r in db.query(sql)}
    refs = {"study": "study", "assembly": "assembly", "analysis": "analysis"}
    own = {
        "studies": ("accession", "study"),
        "assemblies": ("id", "assembly"),
        "analyses": ("accession", "analysis"),
    }
    for t, rows in out.items():
        for row in rows:
            row.pop("id", None) if t in ("studies", "analyses") else None
            row.pop("job_id", None) if t != "events" else None
            if t in own:
                col, kind = own[t]
                row[col] = names.get(f"{kind}:{row[col]}", row[col])
            for col, kind in refs.items():
                if col in row and row[col] is not None:
                    row[col] = names.get(f"{kind}:{row[col]}", row[col])
            if t == "downloads":
                for mgya, name in ((k[9:], v) for k, v in names.items() if k[:9] == "analysis:"):
                    row["alias"] = row["alias"].replace(mgya, name)
                row["id"] = f"{row['analysis'] or row['assembly']}/{row['alias']}"
        rows.sort(key=lambda r: json.dumps(r, sort_keys=True, default=str))
    return out
