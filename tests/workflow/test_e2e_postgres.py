"""The demo end to end with its catalogue in PostgreSQL: the same catalogue as on SQLite, the
files Datasette serves exported from the store, a re-run that does nothing."""

from __future__ import annotations

import pytest
from support import assert_same_catalogue, snakemake

from mgnify_db.catalogue import dump, open_store
from mgnify_db.catalogue.publish import generation
from mgnify_db.config import StoreKind, load_global

pytestmark = pytest.mark.e2e


def test_the_demo_on_postgresql_holds_what_it_holds_on_sqlite(demo_run_pg, demo_run):
    """Every row as in the SQLite demo (accessions may be allocated in another order: loads
    ran side by side), the exported catalogue.db being the store's current generation, and
    public.db published from it."""
    cfg = load_global(demo_run_pg / "config" / "config.yaml")
    assert cfg.store_kind is StoreKind.POSTGRESQL
    exported = demo_run_pg / "results" / "catalogue.db"
    assert_same_catalogue(exported, demo_run / "results" / "catalogue.db")
    with open_store(cfg.catalogue, create=False) as pg, open_store(exported) as copy:
        assert dump(pg) == dump(copy)
        assert pg.generation() == generation(exported)
    assert generation(demo_run_pg / "results" / "public.db") == generation(exported)
    log = (demo_run_pg / "results" / "logs" / "catalogue_publish.log").read_text()
    assert '"studies": 1' in log


def test_a_rerun_on_postgresql_does_nothing(demo_run_pg):
    cfg = load_global(demo_run_pg / "config" / "config.yaml")
    with open_store(cfg.catalogue, create=False) as pg:
        before = dump(pg)
    proc = snakemake(demo_run_pg)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Nothing to be done" in proc.stdout + proc.stderr
    with open_store(cfg.catalogue, create=False) as pg:
        assert dump(pg) == before
