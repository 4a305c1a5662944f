"""The accession ledger: allocated once, never reused, atomic across processes."""

import subprocess
from concurrent.futures import ProcessPoolExecutor

from support import finish_run, make_study, tool

from mgnify_db.catalogue import open_store
from mgnify_db.ids import AccessionKind, Ledger, accession, number


def test_allocates_once_and_remembers(tmp_path):
    ledger = Ledger(tmp_path / "a.tsv")
    assert [ledger.allocate("study", k) for k in ("A", "B", "A")] == [1, 2, 1]
    again = Ledger(tmp_path / "a.tsv")
    assert again.allocate("study", "B") == 2 and again.allocate("study", "C") == 3
    assert again.allocate("analysis", "C") == 1
    assert accession(AccessionKind.ANALYSIS, 7) == "MGYA00000007"
    assert accession(AccessionKind.ASSEMBLY, 7) == "LZ00000007"
    assert number("MGYS00000012") == 12


def test_a_line_cut_by_a_kill_is_not_an_allocation(tmp_path):
    path = tmp_path / "a.tsv"
    path.write_text("study\t1\tA\nstudy\t2\tB")  # no newline: torn
    ledger = Ledger(path)
    assert ledger.get("study", "B") is None
    assert ledger.allocate("study", "C") == 2  # B was never allocated: 2 is free
    assert Ledger(path).get("study", "C") == 2  # and the torn line did not swallow it


def _allocate(args):
    path, worker = args
    ledger = Ledger(path)
    return [ledger.allocate("analysis", f"w{worker}/{i}") for i in range(40)]


def test_concurrent_processes_never_share_an_accession(tmp_path):
    for trial in range(5):
        path = tmp_path / f"ledger{trial}.tsv"
        with ProcessPoolExecutor(4) as pool:
            got = [n for ns in pool.map(_allocate, [(path, w) for w in range(4)]) for n in ns]
        assert sorted(got) == list(range(1, 161)), f"trial {trial}: duplicates or gaps"
        lines = path.read_text().splitlines()
        assert len(lines) == 160 == len({ln.split("\t")[1] for ln in lines})


def test_concurrent_run_loads_give_unique_accessions(tmp_path):
    """The probe: three `catalogue load --run` at once on a fresh results dir."""
    for trial in range(3):
        results = tmp_path / f"r{trial}" / "results"
        paths, runs = make_study(results, "PRJEB1", 3)
        for run in runs:
            finish_run(paths, run)
        db = results / "catalogue.db"
        with open_store(db):
            pass  # the workflow creates the catalogue before loading
        procs = [
            subprocess.Popen(
                [
                    tool("mgnify-db"),
                    "catalogue",
                    "load",
                    "PRJEB1",
                    "--run",
                    run,
                    "--results",
                    str(results),
                    "--db",
                    str(db),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for run in runs
        ]
        for p in procs:
            assert p.wait(60) == 0, p.stderr.read()
        with open_store(db, create=False) as store:
            analyses = list(store.query("select accession, run from analyses"))
            assemblies = list(store.query("select accession, run from assemblies"))
        assert sorted(a["run"] for a in analyses) == runs, f"trial {trial}"
        assert len({a["accession"] for a in analyses}) == 3
        assert len({a["accession"] for a in assemblies}) == 3


def test_a_shared_ledger_sees_other_writers_and_a_replaced_file(tmp_path):
    path = tmp_path / "a.tsv"
    shared = Ledger.shared(path)
    assert shared.allocate("study", "A") == 1
    Ledger(path).allocate("study", "B")  # another process
    assert Ledger.shared(path) is shared and shared.get("study", "B") == 2
    path.write_text("study\t7\tZ\n")  # replaced (shorter): read afresh, never stale
    assert Ledger.shared(path).get("study", "B") is None
    assert Ledger.shared(path).get("study", "Z") == 7
