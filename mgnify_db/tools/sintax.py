"""vsearch SINTAX: SSU (16S) taxonomy of sequences against a reference with lineages.

The reference is a SINTAX FASTA (`>ID;tax=d:Bacteria,p:...,g:...,s:...;`), written by
`prepare_reference` from a SINTAX file or from the lineage-in-header style of Debian's
microbiomeutil-data rRNA16S.gold.fasta. Lineages are MGnify's (mgnify_db.lineage): SINTAX's
d (domain) is sk.

Reproducibility: SINTAX bootstraps random k-mer subsets. vsearch 2.22 gives the same output for
the same --randseed only on one thread: with two, both the confidences and the order of the
output lines changed from run to run (300 mutated 16S queries, 3 runs). So a seeded run uses
--threads 1 whatever `threads` says; it is fast (10 queries vs 5,181 references: 0.3 s).
"""

from __future__ import annotations

import gzip
import io
import os
import re
import subprocess
from collections.abc import Iterable, Iterator
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

from ..io import open_text, read_fasta, temp_path
from ..lineage import UNCLASSIFIED, Lineage, Rank
from ..proc import run_logged
from .kraken2 import scratch_log

# SINTAX rank letters -> MGnify ranks; `t` (strain) has no MGnify rank and is left out.
SINTAX_RANKS: dict[str, Rank] = {
    "d": Rank.superkingdom,
    "k": Rank.kingdom,
    "p": Rank.phylum,
    "c": Rank.class_,
    "o": Rank.order,
    "f": Rank.family,
    "g": Rank.genus,
    "s": Rank.species,
}
IGNORED_SINTAX_RANKS = {"t"}
LETTER = {rank: letter for letter, rank in SINTAX_RANKS.items()}
# The gold file's lineages: domain; phylum; class; order; family; genus.
GOLD_RANKS = (Rank.superkingdom, Rank.phylum, Rank.class_, Rank.order, Rank.family, Rank.genus)
_SIZE = re.compile(r";size=(\d+)")


class HeaderStyle(StrEnum):
    """How a reference FASTA gives lineages."""

    sintax = "sintax"  # >ID;tax=d:Bacteria,p:...;
    lineage = "lineage"  # >ID description<TAB>...<TAB>Bacteria; Phylum; ...; Genus (gold 16S)


class ReferenceInfo(BaseModel):
    style: HeaderStyle
    sequences: int
    with_species: int
    genera: int
    domains: dict[str, int]  # superkingdom name -> sequences


def _sintax_name(name: str) -> str:
    """A name SINTAX can hold: `,` `;` `:` separate its fields; whitespace as MGnify writes it."""
    return re.sub(r"[\s,;:]+", "_", name.strip()).strip("_")


def _parse_sintax_header(header: str) -> tuple[str, dict[Rank, str]]:
    label, _, rest = header.partition(";tax=")
    names: dict[Rank, str] = {}
    for field in rest.split(";", 1)[0].split(","):
        letter, sep, name = field.strip().partition(":")
        if not sep or (letter not in SINTAX_RANKS and letter not in IGNORED_SINTAX_RANKS):
            raise ValueError(f"not a SINTAX rank {field!r} in header {header!r}")
        if letter in SINTAX_RANKS and name:
            names[SINTAX_RANKS[letter]] = name
    return label.split()[0], names


def _parse_lineage_header(header: str) -> tuple[str, dict[Rank, str]]:
    """The gold 16S style. Genome records: `ID<TAB>Organism strain<TAB>ids<TAB>lineage`; RDP
    records: `ID Organism (T); strain; acc Organism<TAB>lineage`. The species, not in the
    lineage, is the organism's first two words when the first is the genus (`Acinetobacter
    sp.` included: MGnify keeps such names), a subgenus in parentheses skipped."""
    fields = header.split("\t")
    ranks = [n.strip() for n in fields[-1].split(";")]
    if len(fields) < 2 or len(ranks) != len(GOLD_RANKS) or not all(ranks):
        raise ValueError(
            f"expected `;tax=` or a tab-separated lineage of {len(GOLD_RANKS)} ranks: {header!r}"
        )
    label, _, description = fields[0].partition(" ")
    organism = fields[1] if len(fields) > 2 else description
    names = dict(zip(GOLD_RANKS, ranks, strict=True))
    # a subgenus (`Moraxella (Branhamella) ovis`) or a type mark `(T)` is not the epithet
    words = [w for w in organism.split() if not (w.startswith("(") and w.endswith(")"))]
    if len(words) >= 2 and words[0] == names[Rank.genus]:
        names[Rank.species] = f"{words[0]} {words[1]}"
    return label, names


def prepare_reference(source: Path, dest: Path) -> ReferenceInfo:
    """Write `source` (SINTAX or gold-16S-style FASTA, gz ok) as a SINTAX FASTA `dest`.

    Bases are upper-cased (the gold file's case means nothing); `dest` is gzipped if it ends
    in `.gz` (no name or time in the header: the same source gives the same bytes), and
    written atomically.
    """
    source, dest = Path(source), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    styles: set[HeaderStyle] = set()
    n = with_species = 0
    genera: set[str] = set()
    domains: dict[str, int] = {}
    tmp = temp_path(dest)
    try:
        with open(tmp, "wb") as raw:
            gz = gzip.GzipFile("", "wb", 6, raw, mtime=0) if dest.suffix == ".gz" else None
            with io.TextIOWrapper(gz or raw) as out:
                for header, seq in read_fasta(source):
                    style = HeaderStyle.sintax if ";tax=" in header else HeaderStyle.lineage
                    styles.add(style)
                    if style is HeaderStyle.sintax:
                        label, names = _parse_sintax_header(header)
                    else:
                        label, names = _parse_lineage_header(header)
                    tax = ",".join(
                        f"{LETTER[rank]}:{_sintax_name(name)}" for rank, name in names.items()
                    )
                    out.write(f">{label};tax={tax};\n")
                    seq = seq.upper()
                    out.writelines(seq[i : i + 80] + "\n" for i in range(0, len(seq), 80))
                    n += 1
                    with_species += Rank.species in names
                    if Rank.genus in names:
                        genera.add(names[Rank.genus])
                    domain = names.get(Rank.superkingdom, "")
                    domains[domain] = domains.get(domain, 0) + 1
            if gz:
                gz.close()
        if n == 0:
            raise ValueError(f"{source}: no sequence")
        if len(styles) > 1:
            raise ValueError(f"{source}: mixes header styles {sorted(styles)}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return ReferenceInfo(
        style=styles.pop(),
        sequences=n,
        with_species=with_species,
        genera=len(genera),
        domains=dict(sorted(domains.items())),
    )


@lru_cache
def vsearch_version() -> str | None:
    """vsearch's version ("2.22.1") from `vsearch --version`, or None if it cannot be run."""
    # proc.version reads stdout first, and vsearch prints its citation there, the version on
    # stderr
    try:
        out = subprocess.run(["vsearch", "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"vsearch v(\d+(?:\.\d+)+)", out.stderr + out.stdout)
    return match.group(1) if match else None


class SintaxCall(BaseModel):
    """One query's SINTAX result."""

    query: str  # the query's id (its header up to the first blank)
    abundance: int = 1  # the query's `;size=N` (dereplicated amplicons), else 1
    lineage: Lineage  # the ranks passing the cutoff; empty = unclassified
    prediction: Lineage  # every rank SINTAX predicted, passing the cutoff or not
    confidences: dict[Rank, float]  # of the prediction's ranks
    strand: str | None  # "+" or "-"; None if there is no prediction

    @property
    def classified(self) -> bool:
        """At least the domain passes the cutoff."""
        return bool(self.lineage)


def _parse_prediction(text: str) -> tuple[dict[Rank, str], dict[Rank, float]]:
    names: dict[Rank, str] = {}
    confidences: dict[Rank, float] = {}
    for field in filter(None, text.split(",")):
        letter, _, rest = field.partition(":")
        match = re.fullmatch(r"(.*)\(([\d.]+)\)", rest)
        name, confidence = (match.group(1), float(match.group(2))) if match else (rest, None)
        if letter in IGNORED_SINTAX_RANKS:
            continue
        rank = SINTAX_RANKS.get(letter)
        if rank is None:
            raise ValueError(f"not a SINTAX rank: {field!r}")
        names[rank] = name
        if confidence is not None:
            confidences[rank] = confidence
    return names, confidences


def read_sintax(path: Path) -> Iterator[SintaxCall]:
    """vsearch --tabbedout lines: label, prediction(confidence), strand, ranks passing cutoff."""
    with open_text(path) as fh:
        for line in fh:
            if not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            cols += [""] * (4 - len(cols))
            label = cols[0]
            prediction, confidences = _parse_prediction(cols[1])
            passing, _ = _parse_prediction(cols[3])
            size = _SIZE.search(label)
            yield SintaxCall(
                query=label.split()[0].split(";")[0] if label.split() else label,
                abundance=int(size.group(1)) if size else 1,
                lineage=Lineage.of(passing),
                prediction=Lineage.of(prediction),
                confidences=confidences,
                strand=cols[2] or None,
            )


def classify(
    queries: Path,
    reference: Path,
    out: Path,
    *,
    cutoff: float = 0.8,
    threads: int = 1,
    seed: int | None = 1,
    log: Path | None = None,
) -> list[SintaxCall]:
    """SINTAX-classify `queries` (FASTA/FASTQ, gz ok) against a SINTAX `reference`.

    Writes vsearch's --tabbedout to `out` atomically. With a `seed` the run is reproducible and
    single-threaded (see the module doc); `seed=None` (or 0) lets vsearch use `threads` and
    chance.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(out)
    cmd = ["vsearch", "--sintax", queries, "--db", reference, "--tabbedout", tmp]
    # both strands: reads and amplicons come in either orientation (vsearch's default is plus)
    cmd += ["--sintax_cutoff", f"{cutoff:g}", "--strand", "both", "--no_progress"]
    if seed:  # vsearch reads 0 as "no seed"
        cmd += ["--randseed", seed, "--threads", 1]
    else:
        cmd += ["--threads", max(1, threads)]
    try:
        with scratch_log(log) as log_path:
            run_logged(cmd, log_path)
        tmp.touch()
        calls = list(read_sintax(tmp))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return calls


class TaxonCount(BaseModel):
    lineage: str  # MGnify lineage, or "Unclassified"
    count: int


def taxonomy_counts(calls: Iterable[SintaxCall]) -> list[TaxonCount]:
    """Queries (weighted by abundance) per MGnify lineage, most first, then by lineage."""
    counts: dict[str, int] = {}
    for call in calls:
        lineage = call.lineage.mgnify() or UNCLASSIFIED
        counts[lineage] = counts.get(lineage, 0) + call.abundance
    return [
        TaxonCount(lineage=lineage, count=n)
        for lineage, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
