"""The shipped biome tree, lineage paths, and the indexed "lineage and descendants" filter."""

from __future__ import annotations

import sqlite3
from importlib import resources
from pathlib import Path

import pytest
import yaml

from mgnify_db.catalogue.biomes import (
    TREE_FILE,
    ancestors,
    biome_path,
    biome_tree,
    descendants_where,
    lineage_rows,
)
from mgnify_db.config import DEFAULT_MEMORY, LINEAGE

REPO = Path(__file__).resolve().parents[2]

# Lineages the reference (emgapi-v2.md) and the repo's config, demo and tests name.
NAMED = [
    "root",
    "root:Host-associated:Human:Digestive system",
    "root:Host-associated:Human:Digestive system:Large intestine",
    "root:Host-associated:Human:Skin",
    "root:Host-associated:Mammals",
    "root:Environmental:Aquatic:Marine",
    "root:Environmental:Terrestrial:Soil",
    "root:Environmental:Terrestrial:Soil:Forest soil",
    "root:Engineered:Bioreactor",
    "root:Engineered:Wastewater",
    "root:Mixed",
]
TOP_LEVEL = {
    "root:Environmental": ["Air", "Aquatic", "Terrestrial"],
    "root:Environmental:Aquatic": [
        "Marine",
        "Freshwater",
        "Non-marine Saline and Alkaline",
        "Thermal springs",
        "Sediment",
    ],
    "root:Environmental:Terrestrial": ["Soil", "Deep subsurface"],
    "root:Engineered": [
        "Bioreactor",
        "Bioremediation",
        "Biotransformation",
        "Built environment",
        "Food production",
        "Lab enrichment",
        "Lab Synthesis",
        "Modeled",
        "Solid waste",
        "Wastewater",
    ],
    "root:Host-associated": [
        "Algae",
        "Amphibia",
        "Animal",
        "Annelida",
        "Arthropoda",
        "Birds",
        "Cnidaria",
        "Echinodermata",
        "Fish",
        "Fungi",
        "Human",
        "Insecta",
        "Invertebrates",
        "Mammals",
        "Microbial",
        "Mollusca",
        "Plants",
        "Porifera",
        "Protists",
        "Reptile",
        "Tunicates",
    ],
    "root:Host-associated:Human": [
        "Digestive system",
        "Skin",
        "Respiratory system",
        "Reproductive system",
        "Circulatory system",
    ],
    "root:Host-associated:Human:Digestive system": ["Oral", "Large intestine"],
    "root:Host-associated:Mammals": ["Digestive system", "Respiratory system", "Skin"],
}


@pytest.fixture(scope="module")
def tree() -> list[dict]:
    return biome_tree()


def test_biome_path():
    assert biome_path("root") == "root"
    assert (
        biome_path("root:Host-associated:Human:Digestive system (Gut)")
        == "root.host_associated.human.digestive_system_gut"
    )
    assert (
        biome_path("root:Environmental:Aquatic:Thermal springs:Near-boiling (>90C)")
        == "root.environmental.aquatic.thermal_springs.near_boiling_90c"
    )
    assert biome_path("root:Environmental:Aquatic:Non-marine Saline and Alkaline") == (
        "root.environmental.aquatic.non_marine_saline_and_alkaline"
    )
    assert biome_path("root:Sol über:A & B") == "root.sol_ber.a_b"  # non-ASCII and '&' dropped
    # a path is its own path
    assert biome_path("root.host_associated.human") == "root.host_associated.human"


def test_lineage_rows():
    rows = lineage_rows("root:Environmental:Aquatic")
    assert rows == [
        {"lineage": "root", "biome_name": "root", "path": "root", "depth": 1, "parent": None},
        {
            "lineage": "root:Environmental",
            "biome_name": "Environmental",
            "path": "root.environmental",
            "depth": 2,
            "parent": "root",
        },
        {
            "lineage": "root:Environmental:Aquatic",
            "biome_name": "Aquatic",
            "path": "root.environmental.aquatic",
            "depth": 3,
            "parent": "root:Environmental",
        },
    ]
    assert ancestors("root") == ["root"]
    # a lineage the tree lacks gets the same shape of rows
    assert lineage_rows("root:Other")[-1]["parent"] == "root"


def test_tree_closed_under_parents_and_ordered(tree):
    seen: set[str] = set()
    for row in tree:
        assert row["parent"] is None or row["parent"] in seen, row  # parents first
        assert row == lineage_rows(row["lineage"])[-1]
        seen.add(row["lineage"])
    assert tree[0]["lineage"] == "root"
    assert [r for r in tree if r["parent"] is None] == [tree[0]]
    assert len(seen) == len(tree)
    assert biome_tree() == tree  # deterministic
    assert 200 <= len(tree) <= 1000


def test_tree_paths_unique_and_valid(tree):
    paths = [r["path"] for r in tree]
    assert len(set(paths)) == len(paths)
    for row in tree:
        assert LINEAGE.match(row["lineage"]), row
        assert row["path"].count(".") == row["depth"] - 1, row
        assert all(row["path"].split(".")), row  # no empty label


def test_tree_file_lists_every_ancestor():
    text = resources.files("mgnify_db.catalogue").joinpath(TREE_FILE).read_text()
    header, *lineages = text.splitlines()
    assert header == "lineage"
    assert len(set(lineages)) == len(lineages)
    assert set(lineages) == {a for ln in lineages for a in ancestors(ln)}


def _repo_lineages() -> set[str]:
    found = set(DEFAULT_MEMORY.start_mb["megahit"])
    for f in [*REPO.glob("demo/studies/*.yaml"), *REPO.glob("config/studies/*.yaml")]:
        found.add(yaml.safe_load(f.read_text())["biome"])
    return found


def test_named_lineages_in_tree(tree):
    lineages = {r["lineage"] for r in tree}
    wanted = set(NAMED) | _repo_lineages()
    assert wanted - lineages == set()
    for parent, names in TOP_LEVEL.items():
        missing = {f"{parent}:{n}" for n in names} - lineages
        assert not missing, missing


def _db(rows: list[dict]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE biomes (lineage TEXT PRIMARY KEY, biome_name TEXT, path TEXT,"
        " depth INTEGER, parent TEXT)"
    )
    db.execute("CREATE INDEX idx_biomes_path ON biomes (path)")
    db.executemany(
        "INSERT INTO biomes VALUES (:lineage, :biome_name, :path, :depth, :parent)", rows
    )
    return db


def test_descendants_where(tree):
    db = _db(tree)
    sql, params = descendants_where("root:Engineered")
    got = {r[0] for r in db.execute(f"SELECT lineage FROM biomes WHERE {sql}", params)}
    assert got == {
        r["lineage"]
        for r in tree
        if r["lineage"] == "root:Engineered" or r["lineage"].startswith("root:Engineered:")
    }
    sql, params = descendants_where("root")
    assert db.execute(f"SELECT count(*) FROM biomes WHERE {sql}", params).fetchone()[0] == len(tree)
    # a path is accepted too, and a leaf is its own only descendant
    sql, params = descendants_where("root.mixed")
    assert [r[0] for r in db.execute(f"SELECT lineage FROM biomes WHERE {sql}", params)] == [
        "root:Mixed"
    ]


def test_descendants_where_not_siblings_sharing_a_prefix():
    lineages = ["root", "root:A", "root:A:B", "root:A B", "root:AB", "root:A0", "root:A-C:D"]
    db = _db([lineage_rows(ln)[-1] for ln in lineages])
    sql, params = descendants_where("root:A")
    got = sorted(r[0] for r in db.execute(f"SELECT lineage FROM biomes WHERE {sql}", params))
    assert got == ["root:A", "root:A:B"]


def test_descendants_where_uses_the_index(tree):
    db = _db(tree)
    sql, params = descendants_where("root:Host-associated:Human")
    plan = " ".join(
        str(r[-1])
        for r in db.execute(f"EXPLAIN QUERY PLAN SELECT * FROM biomes WHERE {sql}", params)
    )
    assert "SEARCH biomes USING INDEX idx_biomes_path (path=?)" in plan, plan
    assert "SEARCH biomes USING INDEX idx_biomes_path (path>? AND path<?)" in plan, plan
    assert "SCAN" not in plan, plan
    # qualified, in a join from a table that names a biome by lineage
    db.execute("CREATE TABLE studies (accession TEXT PRIMARY KEY, biome TEXT)")
    db.execute("CREATE INDEX idx_studies_biome ON studies (biome)")
    sql, params = descendants_where("root:Host-associated:Human", column="b.path")
    query = f"SELECT s.* FROM studies s JOIN biomes b ON b.lineage = s.biome WHERE {sql}"
    plan = " ".join(str(r[-1]) for r in db.execute(f"EXPLAIN QUERY PLAN {query}", params))
    assert "SEARCH b USING INDEX idx_biomes_path" in plan, plan
    assert "SCAN" not in plan, plan
    with pytest.raises(ValueError):
        descendants_where("root", column="path; DROP TABLE biomes")
