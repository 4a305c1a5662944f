"""Catalogue load speed: mgnify_db's loader vs a raw sqlite3 executemany of the same rows.

A synthetic results tree (N studies x M runs, every run QC'd, assembled and analysed) is loaded
with `catalogue.rebuild` (read result files, derive rows, replace each study's rows in one
transaction). Baselines, same rows, same machine, same run:
  raw      - sqlite3 executemany of the already-derived rows, one transaction, no indexes/FTS
  derive   - deriving the rows from the result files alone (no database)
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mgnify_db.catalogue import TABLES, rebuild  # noqa: E402
from mgnify_db.catalogue.rows import study_rows  # noqa: E402
from mgnify_db.config import GlobalConfig  # noqa: E402
from mgnify_db.ids import Ledger  # noqa: E402
from mgnify_db.io import write_json  # noqa: E402
from mgnify_db.paths import StudyPaths, ledger_path, studies_in  # noqa: E402
from mgnify_db.plan import recorded_plan  # noqa: E402

N_STUDIES, N_RUNS = 20, 100


def make_results(results: Path) -> None:
    for s in range(N_STUDIES):
        acc = f"PRJEB9{s:04d}"
        paths = StudyPaths(results, acc)
        write_json(paths.path("study_config"), {"accession": acc, "biome": "root:Engineered"})
        runs = [
            {
                "run_accession": f"ERR9{s:03d}{r:04d}",
                "sample_accession": f"SAMEA9{s}{r}",
                "library_strategy": "WGS",
                "library_source": "METAGENOMIC",
                "library_layout": "PAIRED",
                "read_count": 1000 + r,
                "base_count": 300000,
                "fastq_ftp": "h/a_1.fastq.gz;h/a_2.fastq.gz",
                "fastq_md5": "x;y",
            }
            for r in range(N_RUNS)
        ]
        write_json(
            paths.path("ena"),
            {
                "study": {"study_accession": acc, "study_title": f"Study {s}"},
                "samples": [{"sample_accession": r["sample_accession"], "lat": 1.0} for r in runs],
                "runs": runs,
            },
        )
        for r in runs:
            run = r["run_accession"]
            write_json(
                paths.path("qc_json", run),
                {"passed": True, "reads_before": 2000, "reads_after": 1900},
            )
            write_json(paths.path("assembly", run), {"n_contigs": 10, "n50": 1000})
            write_json(paths.path("analysis", run), {"cds_count": 100, "rrna_total": 1})


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results"
        cfg = GlobalConfig()
        make_results(results)
        studies = studies_in(results)
        rows_by_study = []

        def derive():
            ledger = Ledger(ledger_path(results))
            rows_by_study.clear()
            for study in studies:
                plan = recorded_plan(results, study)
                rows_by_study.append(study_rows(plan, results, ledger, cfg))

        ours = timed(lambda: rebuild(Path(tmp) / "catalogue.db", results, cfg))
        t_derive = timed(derive)

        def raw():
            con = sqlite3.connect(Path(tmp) / "raw.db")
            for name, table in TABLES.items():
                cols = ", ".join(f"[{c}]" for c in table.columns)
                pk = ", ".join(f"[{c}]" for c in table.pk_columns)
                con.execute(f"create table [{name}] ({cols}, primary key ({pk}))")
            with con:
                for rows in rows_by_study:
                    for name, table in TABLES.items():
                        cols = list(table.columns)
                        sql = (
                            f"insert or replace into [{name}] values ({', '.join('?' * len(cols))})"
                        )
                        got = rows.get(name, [])
                        con.executemany(sql, ([r.get(c) for c in cols] for r in got))
            con.close()

        t_raw = timed(raw)
        n = sum(len(v) for rows in rows_by_study for v in rows.values())
        print(f"catalogue load: {N_STUDIES} studies x {N_RUNS} runs = {n} rows")
        print(f"  mgnify_db rebuild (files, rows, upserts, indexes, FTS): {ours:6.2f} s")
        print(f"  baseline: derive the rows from the files only:        {t_derive:6.2f} s")
        print(f"  baseline: raw sqlite3 executemany of those rows:      {t_raw:6.2f} s")
        print(
            f"  ratio rebuild / (derive + raw): {ours / (t_derive + t_raw):.2f}x; "
            f"database part vs raw: {(ours - t_derive) / t_raw:.2f}x"
        )


if __name__ == "__main__":
    main()
