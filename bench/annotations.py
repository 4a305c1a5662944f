"""Annotation rows: the catalogue's load vs a raw executemany, and `publish` at that size.

One study with 200 analyses and N annotation rows (default 1,000,000) in a catalogue file:
  first     - `SqliteStore.replace_study` of the study's rows on an empty catalogue (inserts,
              counts refreshed, one transaction)
  changed   - the same on a catalogue holding them, every table changed (all rows deleted and
              inserted again: the worst case)
  same      - a re-load of unchanged tables (their digests equal: the rows are kept)
  raw       - sqlite3 executemany of the same rows (tuples) into the same table (same primary
              key, same schema) in one transaction: the baseline the target is set against
  publish   - `publish` of that catalogue into public.db (half the analyses private)
Target (issue "The catalogue as MGnify's"): ours >= 0.8x raw's speed; publish in seconds.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mgnify_db.catalogue.dialect import create_table  # noqa: E402
from mgnify_db.catalogue.schema import TABLES  # noqa: E402
from mgnify_db.catalogue.store import SqliteStore  # noqa: E402

RESULTS_MD = Path(__file__).with_name("RESULTS.md")
N_ANALYSES = 200


def make_rows(study: str, n: int, private: bool, digest: str = "v1") -> dict[str, list[dict]]:
    per = n // N_ANALYSES
    vis = {"is_private": int(private), "is_suppressed": 0}
    analyses = [
        {
            "accession": f"MGYA{study[-4:]}{a:04d}",
            "study": study,
            "status": "completed",
            "annotations_digest": digest,  # the tables' digest: a new one means new tables
            **vis,
        }
        for a in range(N_ANALYSES)
    ]
    kinds = ("pfams", "taxonomies__ssu")
    annotations = [
        {
            "analysis": ana["accession"],
            "type": kinds[i % 2],
            "term": f"PF{i:05d}",
            "description": f"Domain of unknown function {i}",
            "organism": None,
            "lineage": "sk__Bacteria;k__;p__Bacillota" if i % 2 else None,
            "rank": "phylum" if i % 2 else None,
            "count": (i * 7919) % 1000 + 1,
        }
        for ana in analyses
        for i in range(per)
    ]
    rows = {t: [] for t in TABLES}
    rows["studies"] = [{"accession": study, "ena_accession": f"PRJEB{study[-4:]}", **vis}]
    rows["analyses"] = analyses
    rows["annotations"] = annotations
    return rows


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def raw_load(path: Path, rows: list[dict]) -> float:
    cols = list(TABLES["annotations"].columns)
    tuples = [tuple(r[c] for c in cols) for r in rows]  # prepared outside the timing
    con = sqlite3.connect(path)
    con.execute(create_table(TABLES["annotations"]))
    sql = f"INSERT INTO annotations VALUES ({', '.join('?' * len(cols))})"

    def go():
        with con:
            con.executemany(sql, tuples)

    t = timed(go)
    con.close()
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        public = make_rows("MGYS00000001", args.rows // 2, private=False)
        private = make_rows("MGYS00000002", args.rows - args.rows // 2, private=True)
        n = len(public["annotations"]) + len(private["annotations"])
        store = SqliteStore(tmp / "catalogue.db")
        t_first = timed(lambda: store.replace_study("MGYS00000001", lambda: public))
        t_first += timed(lambda: store.replace_study("MGYS00000002", lambda: private))
        # the same tables again (digests equal: their rows are kept)
        t_same = timed(lambda: store.replace_study("MGYS00000001", lambda: public))
        t_same += timed(lambda: store.replace_study("MGYS00000002", lambda: private))
        # every table changed (new digests): every row deleted and inserted again
        for rows in (public, private):
            for a in rows["analyses"]:
                a["annotations_digest"] = "v2"
        t_again = timed(lambda: store.replace_study("MGYS00000001", lambda: public))
        t_again += timed(lambda: store.replace_study("MGYS00000002", lambda: private))
        store.checkpoint()
        store.close()
        t_raw = raw_load(tmp / "raw.db", public["annotations"] + private["annotations"])
        try:
            from mgnify_db.catalogue.publish import publish
        except ImportError:
            publish = None
        t_pub = timed(lambda: publish(tmp / "catalogue.db", tmp / "public.db")) if publish else None
        size = (tmp / "catalogue.db").stat().st_size / 1e6
    lines = [
        f"annotation rows: {n:,} (2 studies x {N_ANALYSES} analyses), catalogue {size:.0f} MB",
        f"  raw executemany, one transaction:        {t_raw:6.2f} s  ({n / t_raw:,.0f} rows/s)",
        f"  replace_study, empty catalogue:          {t_first:6.2f} s"
        f"  speed {t_raw / t_first:.2f}x raw",
        f"  replace_study, re-load, tables changed:  {t_again:6.2f} s"
        f"  speed {t_raw / t_again:.2f}x raw (every row deleted and inserted)",
        f"  replace_study, re-load, same tables:     {t_same:6.2f} s  (rows kept)",
    ]
    if t_pub is not None:
        lines.append(f"  publish public.db (half private):        {t_pub:6.2f} s")
    print("\n".join(lines))
    if not args.no_write:
        write_results(lines)


def write_results(
    lines: list[str], head: str = "## Annotation rows and publish", name: str = "annotations"
) -> None:
    """Replace (or add) the section `head` of bench/RESULTS.md with `lines`."""
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# Benchmark results\n"
    section = f"{head}\n\nWritten by `bench/run {name}` ({time.strftime('%Y-%m-%d')}).\n\n```\n"
    section += "\n".join(lines) + "\n```\n"
    if head in text:
        start = text.index(head)
        end = text.find("\n## ", start + len(head))
        text = text[:start] + section + (text[end + 1 :] if end != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS_MD.write_text(text)


if __name__ == "__main__":
    main()
