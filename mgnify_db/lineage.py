"""Taxonomic lineages, written one way: MGnify's `sk__Bacteria;k__;p__Bacillota;...;g__Bacillus`.

Ranks are sk (superkingdom/domain), k, p, c, o, f, g, s. A lineage stops after its lowest known
rank; an unknown rank above it stays as an empty `k__`. Names are stored as MGnify writes them:
whitespace becomes `_` (`s__Escherichia_coli`).
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, field_validator

# What MGnify's summaries call a sequence with no lineage at all.
UNCLASSIFIED = "Unclassified"


class Rank(StrEnum):
    """The ranks of an MGnify lineage, highest first."""

    superkingdom = "superkingdom"
    kingdom = "kingdom"
    phylum = "phylum"
    class_ = "class"
    order = "order"
    family = "family"
    genus = "genus"
    species = "species"

    @property
    def prefix(self) -> str:
        """`sk`, `k`, `p`, `c`, `o`, `f`, `g` or `s`."""
        return _PREFIXES[self]

    @property
    def field(self) -> str:
        """The Lineage field holding this rank (`class_` for class: a Python keyword)."""
        return self.name


RANKS: tuple[Rank, ...] = tuple(Rank)
_PREFIXES = dict(zip(RANKS, ("sk", "k", "p", "c", "o", "f", "g", "s"), strict=True))
RANK_BY_PREFIX = {rank.prefix: rank for rank in RANKS}


class Lineage(BaseModel):
    """Names per rank (None = unknown). Build with `Lineage.of({...})` or `Lineage.parse(...)`."""

    model_config = ConfigDict(frozen=True)

    superkingdom: str | None = None
    kingdom: str | None = None
    phylum: str | None = None
    class_: str | None = None
    order: str | None = None
    family: str | None = None
    genus: str | None = None
    species: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _mgnify_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        name = re.sub(r"\s+", "_", str(value).strip())
        if ";" in name:
            raise ValueError(f"a rank name cannot hold ';': {value!r}")
        return name or None

    @classmethod
    def of(cls, names: dict[Rank | str, str | None]) -> Lineage:
        """A lineage from {rank: name}; ranks as Rank or their names (`"class"`, `"genus"`)."""
        return cls(**{Rank(rank).field: name for rank, name in names.items()})

    @classmethod
    def parse(cls, text: str) -> Lineage:
        """Read an MGnify lineage string; "" and "Unclassified" give the empty lineage."""
        text = text.strip()
        if text in ("", UNCLASSIFIED):
            return cls()
        names: dict[Rank, str] = {}
        last = -1
        for part in text.split(";"):
            prefix, sep, name = part.strip().partition("__")
            rank = RANK_BY_PREFIX.get(prefix)
            if not sep or rank is None:
                raise ValueError(f"not an MGnify lineage (bad rank {part!r}): {text!r}")
            if RANKS.index(rank) <= last:
                raise ValueError(f"not an MGnify lineage (ranks out of order): {text!r}")
            last = RANKS.index(rank)
            if name:
                names[rank] = name
        return cls.of(names)

    def get(self, rank: Rank | str) -> str | None:
        return getattr(self, Rank(rank).field)

    def names(self) -> dict[Rank, str]:
        """The known ranks and their names, highest first."""
        return {rank: name for rank in RANKS if (name := self.get(rank)) is not None}

    def lowest(self) -> tuple[Rank, str] | None:
        """The lowest known rank and its name; None for an empty lineage."""
        known = self.names()
        return next(reversed(known.items())) if known else None

    def at(self, rank: Rank | str) -> Lineage:
        """This lineage cut after `rank` (a lineage that stops higher is returned unchanged)."""
        keep = RANKS[: RANKS.index(Rank(rank)) + 1]
        return Lineage.of({r: n for r, n in self.names().items() if r in keep})

    def mgnify(self) -> str:
        """`sk__Bacteria;k__;p__...`: every rank down to the lowest known one; "" if none."""
        lowest = self.lowest()
        if lowest is None:
            return ""
        ranks = RANKS[: RANKS.index(lowest[0]) + 1]
        return ";".join(f"{rank.prefix}__{self.get(rank) or ''}" for rank in ranks)

    def __bool__(self) -> bool:
        return self.lowest() is not None

    def __str__(self) -> str:
        return self.mgnify()
