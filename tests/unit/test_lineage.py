"""MGnify lineage strings: writing, parsing, truncating (examples from MGnify v6 SILVA tables)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mgnify_db.lineage import RANKS, UNCLASSIFIED, Lineage, Rank

TRICHOCOCCUS = (
    "sk__Bacteria;k__;p__Bacillota;c__Bacilli;o__Lactobacillales;f__Carnobacteriaceae;"
    "g__Trichococcus"
)
PETRIMONAS = (
    "sk__Bacteria;k__;p__Bacteroidota;c__Bacteroidia;o__Bacteroidales;f__Dysgonomonadaceae;"
    "g__Petrimonas;s__Petrimonas_sp._B-17"
)


def test_ranks_in_order_with_mgnify_prefixes():
    assert [r.value for r in RANKS] == [
        "superkingdom",
        "kingdom",
        "phylum",
        "class",
        "order",
        "family",
        "genus",
        "species",
    ]
    assert [r.prefix for r in RANKS] == ["sk", "k", "p", "c", "o", "f", "g", "s"]
    assert Rank("class") is Rank.class_


@pytest.mark.parametrize("text", [TRICHOCOCCUS, PETRIMONAS, "sk__Bacteria;k__;p__Bacillota"])
def test_parse_and_write_round_trip(text):
    lineage = Lineage.parse(text)
    assert lineage.mgnify() == str(lineage) == text
    assert Lineage.parse(lineage.mgnify()) == lineage


def test_inner_unknown_ranks_kept_trailing_dropped():
    lineage = Lineage.of({"superkingdom": "Bacteria", Rank.phylum: "Bacillota", "genus": None})
    assert lineage.mgnify() == "sk__Bacteria;k__;p__Bacillota"
    assert lineage.kingdom is None and lineage.get("genus") is None
    gap = Lineage(superkingdom="Archaea", family="Methanococcaceae")
    assert gap.mgnify() == "sk__Archaea;k__;p__;c__;o__;f__Methanococcaceae"
    assert Lineage().mgnify() == "" and not Lineage() and gap


def test_names_use_underscores_as_mgnify_writes_them():
    lineage = Lineage(genus="Escherichia", species="Escherichia  coli ")
    assert lineage.species == "Escherichia_coli"
    assert lineage.mgnify() == "sk__;k__;p__;c__;o__;f__;g__Escherichia;s__Escherichia_coli"
    assert Lineage(genus="") == Lineage()  # empty = unknown
    with pytest.raises(ValidationError):
        Lineage(genus="a;b")


def test_at_truncates_and_lowest():
    lineage = Lineage.parse(PETRIMONAS)
    assert lineage.lowest() == (Rank.species, "Petrimonas_sp._B-17")
    genus = lineage.at("genus")
    assert genus.lowest() == (Rank.genus, "Petrimonas")
    assert genus.mgnify() == PETRIMONAS.rsplit(";", 1)[0]
    assert lineage.at(Rank.superkingdom).mgnify() == "sk__Bacteria"
    # a lineage that stops above the cut stays as it is
    order = Lineage.parse("sk__Bacteria;k__;p__Bacteroidota;c__Bacteroidia;o__Bacteroidales")
    assert order.at("genus") == order
    assert Lineage().lowest() is None and Lineage().at("genus") == Lineage()
    assert list(genus.names()) == [Rank.superkingdom, Rank.phylum, Rank.class_] + [
        Rank.order,
        Rank.family,
        Rank.genus,
    ]


def test_lineage_is_frozen_and_hashable():
    lineage = Lineage.parse(TRICHOCOCCUS)
    with pytest.raises(ValidationError):
        lineage.genus = "Other"
    assert len({lineage, Lineage.parse(TRICHOCOCCUS)}) == 1


@pytest.mark.parametrize("text", ["", "  ", UNCLASSIFIED])
def test_parse_empty(text):
    assert Lineage.parse(text) == Lineage()


@pytest.mark.parametrize(
    "text",
    ["Bacteria;Bacillota", "sk__Bacteria;x__Foo", "p__Bacillota;sk__Bacteria", "sk__A;sk__B"],
)
def test_parse_rejects_what_is_not_a_lineage(text):
    with pytest.raises(ValueError):
        Lineage.parse(text)
