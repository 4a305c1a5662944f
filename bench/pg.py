"""PostgreSQL catalogue: COPY loads vs a raw COPY, study loads at once, export and publish.

A private server from `scripts/postgres start` in /var/tmp/mgnify-bench-pg-PID with its DURABLE
settings (MGNIFY_PG_FAST unset: fsync, synchronous_commit, full_page_writes on), stopped and
removed at the end; or `--url` of a running one. A fresh database for every measurement.
  A. N annotation rows (default 1,000,000: bench/annotations.py's `make_rows`, 2 studies x 200
     analyses, one private), `PostgresStore.replace_study` on an empty catalogue:
       first    - inserts (annotations by COPY), counts and shared rows, a transaction a study
       changed  - a re-load with every digest changed (all rows deleted and inserted again)
       same     - a re-load with equal digests (the rows are kept)
       raw      - `COPY annotations (...) FROM STDIN` of the same rows (tuples prepared outside
                  the timing) into the store's own empty catalogue (same DDL, primary key and
                  deferred foreign key to analyses, whose 400 rows are loaded first, untimed),
                  one transaction: the baseline the target is set against
     first and raw are best of 3, interleaved. Target: ours >= 0.8x raw's speed.
  B. 8 studies (50,000 annotation rows each, scaled with --rows; 4 samples each, 2 of them
     shared with 3 other studies) loaded at once by 8 processes vs one after another in one
     process vs one study alone (best of 3 each); every concurrent load's rows must equal the
     sequential load's (`dump`). On 2 cores expect at most ~1.6-1.9x.
  C. `export` (PostgreSQL -> catalogue.db) then `publish` (catalogue.db -> public.db) of A's
     catalogue, against `publish` of a SqliteStore loaded with the same rows.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import psycopg  # noqa: E402
from annotations import make_rows, write_results  # noqa: E402

from mgnify_db.catalogue.dialect import q  # noqa: E402
from mgnify_db.catalogue.dump import dump  # noqa: E402
from mgnify_db.catalogue.move import export  # noqa: E402
from mgnify_db.catalogue.pg_store import PostgresStore, redacted  # noqa: E402
from mgnify_db.catalogue.publish import publish  # noqa: E402
from mgnify_db.catalogue.schema import TABLES, Rows  # noqa: E402
from mgnify_db.catalogue.store import SqliteStore  # noqa: E402

RESULTS_MD = HERE / "RESULTS.md"
HEAD = "## PostgreSQL catalogue: loads, concurrency, export and publish"
N_PAR, PAR_ROWS, REPEAT = 8, 50_000, 3
BIOME = "root:Engineered:Bioreactor"
Studies = list[tuple[str, Rows]]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def fig(label: str, t: float, rest: str = "") -> str:
    return f"  {label + ':':<41}{t:6.2f} s  {rest}".rstrip()


def runs(ts: list[float]) -> str:
    return f"best of {len(ts)}: " + ", ".join(f"{t:.2f}" for t in ts)


@contextmanager
def server(url: str | None) -> Iterator[tuple[str, str]]:
    """(admin URL, how it was started): `url`, or a private durable server, removed after."""
    if url:
        yield url, f"an existing server ({redacted(url)})"
        return
    pgdir = Path(f"/var/tmp/mgnify-bench-pg-{os.getpid()}")
    env = {k: v for k, v in os.environ.items() if k not in ("MGNIFY_PG_FAST", "MGNIFY_PG_PORT")}
    env |= {"MGNIFY_PG_DIR": str(pgdir), "MGNIFY_PG_DB": "bench"}  # a free port: the script's
    script = [str(HERE.parent / "scripts" / "postgres")]
    try:
        out = subprocess.run([*script, "start"], env=env, stdout=subprocess.PIPE, text=True)
        if out.returncode:
            sys.exit(f"bench/pg.py: scripts/postgres start failed (exit {out.returncode})")
        yield out.stdout.strip().splitlines()[-1], f"a private server in {pgdir}"
    finally:
        subprocess.run([*script, "stop"], env=env, check=False)
        shutil.rmtree(pgdir, ignore_errors=True)


@contextmanager
def fresh_db(admin: str) -> Iterator[str]:
    """A new, empty database on the server (dropped afterwards, WITH (FORCE))."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(urlsplit(admin)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def load(store: PostgresStore | SqliteStore, studies: Studies) -> None:
    for study, rows in studies:
        store.replace_study(study, lambda rows=rows: rows)


def raw_copy(admin: str, studies: Studies, tuples: list[tuple]) -> tuple[float, float]:
    """The raw COPY's time, and its COMMIT's (the deferred foreign-key checks)."""
    with fresh_db(admin) as url:
        store = PostgresStore(url)  # the same DDL; studies and analyses in, untimed
        load(store, [(s, {**rows, "annotations": []}) for s, rows in studies])
        store.close()
        cols = ", ".join(map(q, TABLES["annotations"].columns))
        with psycopg.connect(url, autocommit=True) as conn:

            def go() -> float:
                with conn.transaction(), conn.cursor() as cur:
                    with cur.copy(f"COPY annotations ({cols}) FROM STDIN") as cp:
                        for row in tuples:
                            cp.write_row(row)
                    copied = time.perf_counter()
                return time.perf_counter() - copied

            return timed(go)


def first_load(
    admin: str, studies: Studies, then: Callable[[PostgresStore], Any] | None = None
) -> tuple[float, Any]:
    """The first load of `studies` into an empty catalogue (its schema made untimed); then
    `then(store)` on the loaded catalogue."""
    with fresh_db(admin) as url:
        store = PostgresStore(url)
        t = timed(lambda: load(store, studies))[0]
        out = then(store) if then else None
        store.close()
    return t, out


def reloads_and_export(store: PostgresStore, studies: Studies, tmp: Path) -> tuple:
    """Re-loads (same tables; then every digest changed), the size, `export` to catalogue.db."""
    t_same = timed(lambda: load(store, studies))[0]
    for _, rows in studies:
        for a in rows["analyses"]:
            a["annotations_digest"] = "v2"
    t_changed = timed(lambda: load(store, studies))[0]
    size = store.query("SELECT pg_database_size(current_database()) AS b")
    t_export = timed(lambda: export(store, tmp / "catalogue.db"))[0]
    return t_same, t_changed, next(size)["b"] / 1e6, t_export


def concurrent_rows(i: int, n: int) -> tuple[str, Rows]:
    """A study of `n` annotation rows and 4 samples: 2 its own, 2 of a pool of 4 shared."""
    study = f"MGYS0000{10 + i:04d}"
    private = i % 2
    rows = make_rows(study, n, private=bool(private))
    own, pool = [f"SAMEA{study[-4:]}{j}" for j in range(2)], [f"SAMEA9999{j}" for j in range(4)]
    samples = [*own, pool[i % 4], pool[(i + 1) % 4]]
    rows["studies"][0]["biome"] = BIOME
    vis = {"is_private": 0, "is_suppressed": 0}  # a sample's own: its links' are derived
    rows["samples"] = [
        {"accession": s, "title": f"sample {s}", "biome": BIOME, **vis} for s in samples
    ]
    rows["study_samples"] = [
        {"id": f"{study}/{s}", "study": study, "sample": s, "biome": BIOME,
         "is_private": private, "is_suppressed": 0}
        for s in samples
    ]  # fmt: skip
    for k, a in enumerate(rows["analyses"]):
        a["sample"] = samples[k % len(samples)]
    return study, rows


def _child(url: str, study: str, rows: Rows, barrier: Any) -> None:
    store = PostgresStore(url)
    barrier.wait()
    store.replace_study(study, lambda: rows)
    store.close()


def at_once(admin: str, batch: Studies) -> tuple[float, dict]:
    """`batch` loaded by one process a study, all at once: wall time and the rows."""
    with fresh_db(admin) as url:
        PostgresStore(url).close()  # the schema, made once
        fork = multiprocessing.get_context("fork")
        barrier = fork.Barrier(len(batch) + 1)  # connected: the clock starts
        procs = [fork.Process(target=_child, args=(url, s, r, barrier)) for s, r in batch]
        for p in procs:
            p.start()
        barrier.wait()
        t0 = time.perf_counter()
        for p in procs:
            p.join()
        t = time.perf_counter() - t0
        if codes := [p.exitcode for p in procs if p.exitcode]:
            sys.exit(f"bench/pg.py: concurrent loads failed (exit codes {codes})")
        store = PostgresStore(url, create=False)
        rows = dump(store)
        store.close()
    return t, rows


def context(admin: str, how: str) -> list[str]:
    with psycopg.connect(admin, autocommit=True) as conn:

        def show(name: str) -> str:
            return str(conn.execute(f"SHOW {name}").fetchone()[0])

        durable = ", ".join(
            f"{k}={show(k)}" for k in ("fsync", "synchronous_commit", "full_page_writes")
        )
        version = show("server_version")
        memory = ", ".join(f"{k}={show(k)}" for k in ("shared_buffers", "max_wal_size"))
    fast = "durable" if "off" not in durable else "NOT durable"
    return [
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start,"
        f" Python {sys.version.split()[0]}",
        f"PostgreSQL {version} ({how}), psycopg {psycopg.__version__} ({psycopg.pq.__impl__})",
        f"server settings ({fast}): {durable}; {memory}",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--url", help="an existing server (postgresql://...) instead of a private one")
    ap.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = ap.parse_args()
    public = make_rows("MGYS00000001", args.rows // 2, private=False)
    private = make_rows("MGYS00000002", args.rows - args.rows // 2, private=True)
    studies: Studies = [("MGYS00000001", public), ("MGYS00000002", private)]
    cols = list(TABLES["annotations"].columns)
    tuples = [tuple(r[c] for c in cols) for _, rows in studies for r in rows["annotations"]]
    n = len(tuples)
    per = max(args.rows * PAR_ROWS // 1_000_000, 1_000)
    batch = [concurrent_rows(i, per) for i in range(N_PAR)]
    with server(args.url) as (admin, how), tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        lines = context(admin, how)
        print("\n".join(lines), flush=True)
        # A: best of 3 first loads and raw COPYs, interleaved; the last catalogue goes on to C
        firsts, raws, commits = [], [], []
        for i in range(REPEAT):
            t, commit = raw_copy(admin, studies, tuples)
            raws.append(t)
            commits.append(commit)
            then = (lambda s: reloads_and_export(s, studies, tmp)) if i == REPEAT - 1 else None
            t, after = first_load(admin, studies, then)
            firsts.append(t)
        t_same, t_changed, pg_mb, t_export = after
        t_pub, pg_counts = timed(lambda: publish(tmp / "catalogue.db", tmp / "public.db"))
        t_first, t_raw = min(firsts), min(raws)
        lite = SqliteStore(tmp / "lite.db")
        t_lite = timed(lambda: load(lite, studies))[0]
        lite.checkpoint()
        lite.close()
        t_lite_pub, lite_counts = timed(lambda: publish(tmp / "lite.db", tmp / "lite-public.db"))
        cat_mb = (tmp / "catalogue.db").stat().st_size / 1e6
        speed = t_raw / t_first
        lines += [
            f"A. annotation rows: {n:,} (2 studies x 200 analyses, one private),"
            f" database {pg_mb:.0f} MB",
            fig("raw COPY, one transaction", t_raw, f"({n / t_raw:,.0f} rows/s; {runs(raws)})"),
            fig(
                "  of which COMMIT",
                commits[raws.index(t_raw)],
                "(the deferred foreign-key checks of every row)",
            ),
            fig(
                "replace_study, empty catalogue",
                t_first,
                f"speed {speed:.2f}x raw ({runs(firsts)}; target >= 0.8x:"
                f" {'met' if speed >= 0.8 else 'MISSED'})",
            ),
            fig(
                "replace_study, re-load, tables changed",
                t_changed,
                f"speed {t_raw / t_changed:.2f}x raw (every row deleted and inserted)",
            ),
            fig("replace_study, re-load, same tables", t_same, "(rows kept)"),
        ]
        print("\n".join(lines[-6:]), flush=True)
        # B: one alone, the batch one after another, the batch at once (interleaved)
        alone, seq, par = [], [], []
        t, want = first_load(admin, batch, dump)
        seq.append(t)
        same = True
        for i in range(REPEAT):
            alone.append(first_load(admin, batch[:1])[0])
            if i:
                seq.append(first_load(admin, batch)[0])
            t, got = at_once(admin, batch)
            par.append(t)
            same = same and got == want
        shared = len(want["samples"])
        lines += [
            f"B. {N_PAR} studies x {per:,} annotation rows, {shared} samples ({N_PAR * 4} links,"
            " 4 samples each shared by 4 studies)",
            fig("one study alone", min(alone), f"({runs(alone)})"),
            fig(f"{N_PAR} one after another, one process", min(seq), f"({runs(seq)})"),
            fig(
                f"{N_PAR} at once, {N_PAR} processes",
                min(par),
                f"speedup {min(seq) / min(par):.2f}x ({runs(par)}; ideal on"
                f" {os.cpu_count()} cores: {os.cpu_count()}x, ~1.6-1.9x expected)",
            ),
            f"  rows after each concurrent load equal the sequential load's (dump): {same}",
        ]
        print("\n".join(lines[-5:]), flush=True)
        lines += [
            f"C. publish of A's catalogue ({n:,} annotation rows), catalogue.db {cat_mb:.0f} MB",
            fig("export PostgreSQL -> catalogue.db", t_export),
            fig("publish catalogue.db -> public.db", t_pub),
            fig(
                "export + publish",
                t_export + t_pub,
                f"({(t_export + t_pub) / t_lite_pub:.1f}x the SQLite-only publish)",
            ),
            fig("SQLite-only: publish of a SqliteStore", t_lite_pub, f"(its load: {t_lite:.2f} s)"),
            f"  public.db rows equal (both paths): {pg_counts == lite_counts}",
            f"load average at the end: {os.getloadavg()[0]:.1f}",
        ]
        print("\n".join(lines[-7:]), flush=True)
    if not args.no_write:
        write_results(lines, HEAD, "pg")
    if not same or pg_counts != lite_counts:
        sys.exit("bench/pg.py: the rows differ (see above)")


if __name__ == "__main__":
    main()
