"""kraken2: per-contig (or per-read) taxonomy against a database built from genomes and a taxonomy.

There is no NCBI taxonomy dump in any package, so a database is built from a small hand-written
one (`Taxonomy`, e.g. demo/references/taxonomy.tsv) written as an NCBI taxdump. Lineages are
MGnify's (mgnify_db.lineage).

kraken2 2.1.2's report leaves the rank code of root and superkingdom rows empty (kraken2 issues
#759, #888): nothing here reads report rank codes, lineages come from `Taxonomy`.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel, ConfigDict

from ..io import open_text, read_fasta, read_json, temp_path, write_model
from ..lineage import UNCLASSIFIED, Lineage, Rank
from ..proc import ToolError, log_tail, run_logged, version
from . import attempt_dir, publish_dir

# NCBI rank -> MGnify rank; every other NCBI rank (clade, subphylum, species group, ...) is left
# out of lineages. NCBI renamed superkingdom to domain in 2025 (and Viruses' rank to
# "acellular root"): older and newer taxdumps give the same lineages.
NCBI_RANKS: dict[str, Rank] = {
    "superkingdom": Rank.superkingdom,
    "domain": Rank.superkingdom,
    "acellular root": Rank.superkingdom,
    "kingdom": Rank.kingdom,
    "phylum": Rank.phylum,
    "class": Rank.class_,
    "order": Rank.order,
    "family": Rank.family,
    "genus": Rank.genus,
    "species": Rank.species,
}
# The files kraken2 reads at classification time; the rest of a build (library, taxonomy) is not
# published.
DATABASE_FILES = ("hash.k2d", "opts.k2d", "taxo.k2d")
DATABASE_JSON = "database.json"
UNCLASSIFIED_TAXID = 0
CONTIG_TABLE_COLUMNS = ("contig", "length", "taxid", "rank", "name", "lineage")


class Taxon(BaseModel):
    model_config = ConfigDict(frozen=True)

    taxid: int
    parent: int
    rank: str  # NCBI's rank, e.g. "genus", "no rank", "species group"
    name: str


class Taxonomy:
    """A taxonomy tree (NCBI taxids): names, ranks and MGnify lineages, and its taxdump."""

    def __init__(self, taxa: Iterable[Taxon]):
        self._taxa: dict[int, Taxon] = {}
        for taxon in taxa:
            if taxon.taxid in self._taxa:
                raise ValueError(f"taxonomy: taxid {taxon.taxid} given twice")
            if taxon.taxid == UNCLASSIFIED_TAXID:
                raise ValueError("taxonomy: taxid 0 means unclassified to kraken2")
            self._taxa[taxon.taxid] = taxon
        roots = [t.taxid for t in self._taxa.values() if t.parent == t.taxid]
        if len(roots) != 1:
            raise ValueError(f"taxonomy: expected one root (taxid = parent), found {roots}")
        for taxon in self._taxa.values():
            if taxon.parent not in self._taxa:
                raise ValueError(f"taxonomy: {taxon.taxid}'s parent {taxon.parent} is missing")
        self.root = roots[0]
        self._lineages: dict[int, Lineage] = {}

    @classmethod
    def load(cls, path: Path) -> Taxonomy:
        """Read a TSV of taxid, parent, rank, name (`#` lines are comments)."""
        taxa = []
        with open_text(path) as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip() or line.startswith("#"):
                    continue
                cols = line.rstrip("\n").split("\t")
                if len(cols) != 4:
                    raise ValueError(f"{path}:{n}: expected taxid, parent, rank, name: {line!r}")
                taxid, parent, rank, name = cols
                taxa.append(Taxon(taxid=int(taxid), parent=int(parent), rank=rank, name=name))
        return cls(taxa)

    @classmethod
    def from_taxdump(cls, directory: Path) -> Taxonomy:
        """Read nodes.dmp and names.dmp (scientific names) of an NCBI-style taxdump."""
        directory = Path(directory)
        names: dict[int, str] = {}
        for fields in _dmp_rows(directory / "names.dmp"):
            if fields[3] == "scientific name":
                names[int(fields[0])] = fields[1]
        taxa = []
        for fields in _dmp_rows(directory / "nodes.dmp"):
            taxid = int(fields[0])
            taxa.append(
                Taxon(taxid=taxid, parent=int(fields[1]), rank=fields[2], name=names[taxid])
            )
        return cls(taxa)

    def __contains__(self, taxid: object) -> bool:
        return taxid in self._taxa

    def __iter__(self) -> Iterator[Taxon]:
        return iter(self._taxa.values())

    def __len__(self) -> int:
        return len(self._taxa)

    def taxids(self) -> list[int]:
        return sorted(self._taxa)

    def taxon(self, taxid: int) -> Taxon:
        try:
            return self._taxa[taxid]
        except KeyError:
            raise KeyError(f"taxid {taxid} is not in the taxonomy") from None

    def name(self, taxid: int) -> str:
        return self.taxon(taxid).name

    def rank(self, taxid: int) -> str:
        """NCBI's rank of `taxid` ("genus", "no rank", ...)."""
        return self.taxon(taxid).rank

    def path(self, taxid: int) -> list[int]:
        """Taxids from the root down to `taxid`."""
        path = [taxid]
        while (parent := self.taxon(path[-1]).parent) != path[-1]:
            path.append(parent)
            if len(path) > len(self._taxa):
                raise ValueError(f"taxonomy: a cycle above taxid {taxid}")
        return path[::-1]

    def lineage(self, taxid: int) -> Lineage:
        """MGnify lineage of `taxid` (its ancestors at MGnify ranks; the root's is empty)."""
        if taxid not in self._lineages:
            names: dict[Rank, str] = {}
            for node in self.path(taxid):
                taxon = self._taxa[node]
                if (rank := NCBI_RANKS.get(taxon.rank)) is not None:
                    names[rank] = taxon.name
            self._lineages[taxid] = Lineage.of(names)
        return self._lineages[taxid]

    def write_taxdump(self, directory: Path) -> None:
        """nodes.dmp and names.dmp in NCBI's `\\t|\\t` format, plus the empty merged.dmp and
        delnodes.dmp that kraken2-build and mmseqs createtaxdb insist on."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        nodes, names = [], []
        for t in sorted(self._taxa.values(), key=lambda t: t.taxid):
            # NCBI's 13 node fields; consumers read only the first three, the rest are defaults
            fields = [t.taxid, t.parent, t.rank, "", 0, 0, 11, 0, 0, 0, 0, 0, ""]
            nodes.append("\t|\t".join(map(str, fields)) + "\t|\n")
            names.append(f"{t.taxid}\t|\t{t.name}\t|\t\t|\tscientific name\t|\n")
        for name, lines in (("nodes.dmp", nodes), ("names.dmp", names)):
            _write_lines(directory / name, lines)
        for name in ("merged.dmp", "delnodes.dmp"):
            _write_lines(directory / name, [])


def _dmp_rows(path: Path) -> Iterator[list[str]]:
    with open(path) as fh:
        for line in fh:
            if line.strip():
                yield [f.strip() for f in line.rstrip("\n").removesuffix("|").split("\t|\t")]


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    """Write atomically, plain or gzip by suffix."""
    tmp = temp_path(path)
    try:
        with open_text(tmp, "w") as fh:
            fh.writelines(lines)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def scratch_log(log: Path | None) -> Iterator[Path]:
    """`log` (emptied), or a throwaway one: run_logged needs a file, ToolError quotes its tail.

    Shared by the tool modules that take an optional log (sintax too).
    """
    if log is not None:
        log = Path(log)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        yield log
        return
    with tempfile.TemporaryDirectory(prefix="mgnify-kraken2.") as tmp:
        yield Path(tmp) / "kraken2.log"


@lru_cache
def kraken2_version() -> str | None:
    """kraken2's version ("2.1.2") from `kraken2 --version`, or None if it cannot be run."""
    match = re.search(r"version (\d+(?:\.\d+)+)", version(["kraken2", "--version"]) or "")
    return match.group(1) if match else None


# ---------------------------------------------------------------------------------------------
# Building a database


class DatabaseSequence(BaseModel):
    seqid: str  # first word of the genome's FASTA header
    taxid: int
    length: int
    genome: str  # the genome file's name


class DatabaseInfo(BaseModel):
    """database.json: what a kraken2 database holds."""

    kraken2_version: str | None
    build_threads: int  # the hash table's bytes depend on it (its calls do not)
    sequences: list[DatabaseSequence]
    taxids: list[int]  # of the genomes, sorted
    taxonomy_nodes: int
    total_length: int


def read_database_info(db_dir: Path) -> DatabaseInfo | None:
    """A database's database.json, or None if it has none."""
    data = read_json(Path(db_dir) / DATABASE_JSON)
    return DatabaseInfo.model_validate(data) if data is not None else None


def _library_records(fasta: Path, taxid: int, out: TextIO) -> list[DatabaseSequence]:
    """Append a genome to `out` with headers `>{seqid}|kraken:taxid|{taxid}`, the form
    kraken2-build reads without an accession2taxid map."""
    records = []
    for header, seq in read_fasta(fasta):
        seqid = header.split()[0] if header.split() else ""
        if not seqid:
            raise ValueError(f"{fasta}: a sequence without an id")
        out.write(f">{seqid}|kraken:taxid|{taxid}\n")
        out.writelines(seq[i : i + 80] + "\n" for i in range(0, len(seq), 80))
        records.append(
            DatabaseSequence(seqid=seqid, taxid=taxid, length=len(seq), genome=fasta.name)
        )
    if not records:
        raise ValueError(f"{fasta}: no sequence")
    return records


def _check_built(build: Path, sequences: list[DatabaseSequence], log: Path) -> None:
    """Fail unless kraken2-build took every sequence: it silently skips some header styles
    (`gi|..|ref|ACC|`: its map gets the id without `gi|`, so the sequence matches no taxid)."""
    mapped: dict[str, str] = {}
    map_file = build / "seqid2taxid.map"
    if map_file.exists():
        for line in map_file.read_text().splitlines():
            seqid, _, taxid = line.partition("\t")
            mapped[seqid] = taxid
    missing = [
        s for s in sequences if mapped.get(f"{s.seqid}|kraken:taxid|{s.taxid}") != str(s.taxid)
    ]
    if missing:
        listed = ", ".join(f"{s.seqid} (in {s.genome})" for s in missing[:10])
        raise ToolError(
            f"kraken2-build left out {len(missing)} of {len(sequences)} sequences: {listed}; "
            "it drops some header styles (e.g. `gi|..|ref|ACC|`): give plain ids"
        )
    done = re.findall(r"Completed processing of (\d+) sequences", log.read_text(errors="replace"))
    if not done or int(done[-1]) != len(sequences):
        raise ToolError(
            f"kraken2-build processed {done[-1] if done else 'no'} of {len(sequences)} sequences;"
            f" last lines of {log}:\n{log_tail(log)}"
        )


def build_database(
    genomes: list[tuple[Path, int]],
    taxonomy: Taxonomy,
    db_dir: Path,
    *,
    threads: int = 1,
    log: Path | None = None,
) -> DatabaseInfo:
    """Build a kraken2 database of `genomes` (FASTA, gz ok; each with its taxid) into `db_dir`.

    `db_dir` gets only hash.k2d, opts.k2d, taxo.k2d and database.json, published at once (by
    rename) when the build has succeeded and every sequence is in it. The build works in a
    fresh `.{db_dir.name}.tmp.*` dir next to `db_dir` (mgnify_db.tools.attempt_dir).

    kraken2-build's default (ordered) build, not --fast-build: the same genomes, in the same
    order, on the same number of threads give a byte-identical hash.k2d and taxo.k2d (another
    thread count gives other bytes but the same calls); --fast-build differed on every build,
    even on one thread, for barely less time (5 genomes, 8.8 Mb: 2.3 s vs 2.9 s). opts.k2d is
    never identical: kraken2 writes a struct with uninitialised padding. The ordered build's
    threads wait on each other, so on a busy machine more threads can take longer (5 genomes:
    3.5 s on 2 idle cores, 8-23 s on 2 busy ones); one thread is the default.
    """
    db_dir = Path(db_dir)
    if not genomes:
        raise ValueError("a kraken2 database needs at least one genome")
    for fasta, taxid in genomes:
        if taxid not in taxonomy:
            raise ValueError(f"{fasta}: taxid {taxid} is not in the taxonomy")
    with attempt_dir(db_dir.parent, db_dir.name) as work, scratch_log(log) as log_path:
        build, library = work / "build", work / "library.fna"
        taxonomy.write_taxdump(build / "taxonomy")
        sequences: list[DatabaseSequence] = []
        seen: dict[str, str] = {}
        # One library file: kraken2-build copies each added file under a random name and builds
        # from them in directory order, so genomes added one by one give a table whose bytes
        # change from build to build.
        with open(library, "w") as out:
            for fasta, taxid in genomes:
                for s in _library_records(Path(fasta), taxid, out):
                    if s.seqid in seen:  # kraken2 would give the id one of the two taxids
                        raise ValueError(
                            f"sequence {s.seqid} is in both {seen[s.seqid]} and {fasta}"
                        )
                    seen[s.seqid] = str(fasta)
                    sequences.append(s)
        run_logged(["kraken2-build", "--add-to-library", library, "--db", build], log_path)
        threads = max(1, threads)
        run_logged(["kraken2-build", "--build", "--db", build, "--threads", threads], log_path)
        _check_built(build, sequences, log_path)
        published = work / "db"
        published.mkdir()
        for name in DATABASE_FILES:
            (build / name).rename(published / name)
        info = DatabaseInfo(
            kraken2_version=kraken2_version(),
            build_threads=threads,
            sequences=sequences,
            taxids=sorted({taxid for _, taxid in genomes}),
            taxonomy_nodes=len(taxonomy),
            total_length=sum(s.length for s in sequences),
        )
        write_model(published / DATABASE_JSON, info)
        publish_dir(published, db_dir)
    return info


# ---------------------------------------------------------------------------------------------
# Classifying


class Call(BaseModel):
    """One line of kraken2's --output."""

    seqid: str
    taxid: int  # 0 = unclassified
    length: int  # of a read pair: both mates

    @property
    def classified(self) -> bool:
        return self.taxid != UNCLASSIFIED_TAXID


def read_calls(path: Path) -> Iterator[Call]:
    """kraken2's --output lines (C/U, seqid, taxid, length, k-mer LCAs), lazily: reads are many."""
    with open_text(path) as fh:
        for line in fh:
            if not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 4:
                raise ValueError(f"{path}: not a kraken2 output line: {line!r}")
            length = sum(int(n) for n in cols[3].split("|"))  # paired: "151|149"
            yield Call(seqid=cols[1], taxid=int(cols[2]), length=length)


def classify(
    sequences: Path,
    db_dir: Path,
    out: Path,
    *,
    threads: int = 1,
    confidence: float = 0.0,
    paired: Sequence[Path] | None = None,
    report: Path | None = None,
    log: Path | None = None,
    parse: bool = True,
) -> list[Call]:
    """Classify `sequences` (FASTA/FASTQ, gz ok) against the database in `db_dir`.

    Writes kraken2's per-sequence output to `out` (and its report to `report`), atomically.
    `paired`: the mate file(s) of `sequences` (R2 for R1), classified as pairs. Input without
    any sequence gives an empty `out` (kraken2 itself then writes no file). Returns the calls,
    or nothing without `parse` (millions of reads: count them from the report instead).
    """
    out = Path(out)
    inputs = [Path(sequences), *(Path(p) for p in paired or ())]
    if paired is not None and len(inputs) != 2:
        raise ValueError(f"paired: expected the one mate file of {sequences}, got {paired}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = temp_path(out)
    tmp_report = temp_path(Path(report)) if report else None
    cmd = ["kraken2", "--db", db_dir, "--threads", max(1, threads)]
    cmd += ["--confidence", f"{confidence:g}", "--output", tmp_out]
    if tmp_report:
        cmd += ["--report", tmp_report]
    cmd += ["--paired", *inputs] if paired is not None else inputs
    try:
        with scratch_log(log) as log_path:
            run_logged(cmd, log_path)
        tmp_out.touch()  # kraken2 opens its output at the first sequence
        calls = list(read_calls(tmp_out)) if parse else []
        if tmp_report and report:
            tmp_report.touch()
            os.replace(tmp_report, report)
        os.replace(tmp_out, out)
    finally:
        tmp_out.unlink(missing_ok=True)
        if tmp_report:
            tmp_report.unlink(missing_ok=True)
    return calls


# ---------------------------------------------------------------------------------------------
# Contig taxonomy tables and summaries


class ContigTaxon(BaseModel):
    """One row of the contig taxonomy table."""

    contig: str
    length: int
    taxid: int  # 0 = unclassified
    rank: str | None  # NCBI's rank of taxid; None if unclassified
    name: str | None  # the taxon's name; None if unclassified
    lineage: str  # MGnify lineage; "" if unclassified (or at a taxon above every MGnify rank)


def contig_taxonomy(calls: Iterable[Call], taxonomy: Taxonomy) -> list[ContigTaxon]:
    """One row per call, with the taxon's rank, name and MGnify lineage."""
    rows = []
    for call in calls:
        if not call.classified:
            rows.append(
                ContigTaxon(
                    contig=call.seqid,
                    length=call.length,
                    taxid=0,
                    rank=None,
                    name=None,
                    lineage="",
                )
            )
            continue
        rows.append(
            ContigTaxon(
                contig=call.seqid,
                length=call.length,
                taxid=call.taxid,
                rank=taxonomy.rank(call.taxid),
                name=taxonomy.name(call.taxid),
                lineage=taxonomy.lineage(call.taxid).mgnify(),
            )
        )
    return rows


def write_contig_table(rows: Iterable[ContigTaxon], path: Path) -> None:
    """TSV (gzip if `.gz`) with header contig, length, taxid, rank, name, lineage; atomic."""
    lines = ["\t".join(CONTIG_TABLE_COLUMNS) + "\n"]
    for r in rows:
        cells = [r.contig, r.length, r.taxid, r.rank or "", r.name or "", r.lineage]
        lines.append("\t".join(map(str, cells)) + "\n")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    _write_lines(Path(path), lines)


def read_contig_table(path: Path) -> list[ContigTaxon]:
    """The rows of a table written by write_contig_table."""
    rows = []
    with open_text(path) as fh:
        header = fh.readline().rstrip("\n").split("\t")
        if tuple(header) != CONTIG_TABLE_COLUMNS:
            raise ValueError(f"{path}: not a contig taxonomy table (header {header})")
        for line in fh:
            contig, length, taxid, rank, name, lineage = line.rstrip("\n").split("\t")
            rows.append(
                ContigTaxon(
                    contig=contig,
                    length=int(length),
                    taxid=int(taxid),
                    rank=rank or None,
                    name=name or None,
                    lineage=lineage,
                )
            )
    return rows


class TaxonCount(BaseModel):
    lineage: str  # MGnify lineage, or "Unclassified"
    contigs: int
    bases: int


def lineage_summary(
    rows: Iterable[ContigTaxon], *, rank: Rank | str = "genus", min_length: int = 0
) -> list[TaxonCount]:
    """Contigs and bases per lineage cut at `rank`, most bases first (then by lineage).

    A contig classified only above `rank` counts under its own lineage; one without a lineage
    (unclassified, or at root) under "Unclassified". Contigs shorter than `min_length` are left
    out.
    """
    counts: dict[str, list[int]] = {}
    for row in rows:
        if row.length < min_length:
            continue
        lineage = Lineage.parse(row.lineage).at(rank).mgnify() or UNCLASSIFIED
        tally = counts.setdefault(lineage, [0, 0])
        tally[0] += 1
        tally[1] += row.length
    return [
        TaxonCount(lineage=lineage, contigs=n, bases=bases)
        for lineage, (n, bases) in sorted(counts.items(), key=lambda kv: (-kv[1][1], kv[0]))
    ]


def report_counts(report: Path) -> dict[int, int]:
    """Sequences (pairs) kraken2 assigned to each taxon itself, from its report (columns:
    percentage, clade count, direct count, rank code, taxid, name); taxid 0 = unclassified."""
    counts: dict[int, int] = {}
    with open_text(report) as fh:
        for line in fh:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 6 and int(cols[2]):
                counts[int(cols[4])] = counts.get(int(cols[4]), 0) + int(cols[2])
    return counts
