"""HMMER (pyhmmer): protein domains of CDS against Pfam-style models (MGnify's Pfam annotation)."""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Literal

import pyhmmer
from pydantic import BaseModel
from pyhmmer.easel import Alphabet, DigitalSequenceBlock, TextSequence
from pyhmmer.plan7 import HMM, HMMFile

from ..io import open_text, read_fasta, read_reads, temp_path

DOMAIN_TABLE_COLUMNS = (
    "protein",
    "accession",
    "name",
    "description",
    "score",
    "evalue",
    "env_from",
    "env_to",
    "hmm_from",
    "hmm_to",
)
AMINO = Alphabet.amino()


class DomainHit(BaseModel):
    """One included domain of a protein (CDS): Pfam accession without version, HMMER's
    domain bit score (1 decimal, as HMMER prints it) and independent e-value (3 digits)."""

    protein: str
    accession: str  # e.g. PF00005; the model's name if it has no accession
    name: str
    description: str
    score: float
    evalue: float
    env_from: int
    env_to: int
    hmm_from: int
    hmm_to: int


class DomainCount(BaseModel):
    """MGnify's Pfam summary row: proteins with at least one domain of `accession`."""

    accession: str
    description: str
    count: int


class HmmSetInfo(BaseModel):
    n_models: int
    n_with_gathering: int
    n_names: int  # distinct model names
    n_accessions: int  # distinct accessions (versions dropped), models without one not counted


@contextmanager
def _hmm_file(path: Path) -> Iterator[HMMFile]:
    """HMMER3 text or binary (hmmpress .h3m) models, gzipped or not. A `.hmm` with pressed
    siblings (`.hmm.h3m`...) is read from its pressed copy (pyhmmer's default)."""
    path = Path(path)
    if path.suffix == ".gz":
        # pyhmmer reads binary-mode file objects of either format; gzip.open is one.
        with gzip.open(path, "rb") as raw, HMMFile(raw, alphabet=AMINO) as hmms:
            yield hmms
    else:
        with HMMFile(path, alphabet=AMINO) as hmms:
            yield hmms


def _accession(hmm: HMM) -> str:
    """Pfam accession without its version (PF00005.30 -> PF00005), else the model's name."""
    return hmm.accession.split(".", 1)[0] if hmm.accession else hmm.name


def _gathering_checked(hmms: Iterable[HMM], path: Path) -> Iterator[HMM]:
    """The models, failing on the first one without GA (pyhmmer's own error names no model)."""
    for hmm in hmms:
        if not hmm.cutoffs.gathering_available():
            raise ValueError(f"{path}: model {hmm.name} has no gathering (GA) cutoffs")
        yield hmm


def _digital_proteins(proteins: Path) -> Iterator:
    """Proteins of a (gz) FASTA as digital sequences; a trailing `*` (stop) is dropped."""
    for header, seq in read_fasta(proteins):
        name, _, description = header.partition(" ")
        text = TextSequence(name=name, description=description.strip(), sequence=seq.rstrip("*"))
        try:
            yield text.digitize(AMINO)
        except ValueError as exc:
            raise ValueError(
                f"{proteins}: protein {name} is not an amino-acid sequence: {exc}"
            ) from None


def read_proteins(proteins: Path) -> DigitalSequenceBlock:
    """Proteins of a (gz) FASTA as digital sequences; a trailing `*` (stop) is dropped."""
    return DigitalSequenceBlock(AMINO, _digital_proteins(proteins))


def search_domains(
    proteins: Path,
    hmms: Path,
    *,
    threads: int = 1,
    cutoff: Literal["gathering", "evalue"] = "gathering",
    evalue: float = 1e-5,
    z: float | None = None,
    chunk: int | None = None,
) -> list[DomainHit]:
    """Included domains of every model of `hmms` in the proteins (pyhmmer's hmmsearch).

    cutoff "gathering": the models' GA thresholds (Pfam's), as `hmmsearch --cut_ga`; a model
    without GA is a ValueError naming it and the file. "evalue": sequence e-value and domain
    independent e-value at most `evalue` (HMMER's domain threshold is on the smaller conditional
    e-value, so the independent one, the table's, is checked too). E-values use hmmsearch's
    default Z (number of proteins), as the command line does, unless `z` fixes it (sequences
    and domains). Models stream from the file: one in memory per thread. With `chunk`, the
    proteins are read and searched that many at a time (memory bounded; give `z` too, or each
    chunk's E-values use its own size). Sorted by protein, envelope start, accession.
    No proteins: no hits (models not read).
    """
    if cutoff not in ("gathering", "evalue"):
        raise ValueError(f"cutoff must be 'gathering' or 'evalue', got {cutoff!r}")
    proteins, hmms = Path(proteins), Path(hmms)
    if cutoff == "gathering":
        options: dict = {"bit_cutoffs": "gathering"}
    else:
        options = {"E": evalue, "domE": evalue, "incE": evalue, "incdomE": evalue}
    if z is not None:
        options |= {"Z": z, "domZ": z}
    hits: list[DomainHit] = []
    for targets in _protein_blocks(proteins, chunk):
        hits += _search_block(targets, hmms, cutoff, evalue, threads, options)
    hits.sort(key=lambda h: (h.protein, h.env_from, h.accession, h.env_to, h.name))
    return hits


def _protein_blocks(proteins: Path, chunk: int | None) -> Iterator[DigitalSequenceBlock]:
    """The proteins in blocks of `chunk` (None: one block); no proteins, no block."""
    block = DigitalSequenceBlock(AMINO)
    for protein in _digital_proteins(proteins):
        block.append(protein)
        if chunk is not None and len(block) >= chunk:
            yield block
            block = DigitalSequenceBlock(AMINO)
    if block:
        yield block


def _search_block(
    targets: DigitalSequenceBlock, hmms: Path, cutoff: str, evalue: float, threads: int, options
) -> list[DomainHit]:
    hits: list[DomainHit] = []
    with _hmm_file(hmms) as models:
        queries = _gathering_checked(models, hmms) if cutoff == "gathering" else models
        for top_hits in pyhmmer.hmmsearch(queries, targets, cpus=max(1, threads), **options):
            hmm = top_hits.query
            accession, description = _accession(hmm), _clean(hmm.description or "")
            for hit in top_hits.included:
                for domain in hit.domains.included:
                    if cutoff == "evalue" and domain.i_evalue > evalue:
                        continue
                    hits.append(
                        DomainHit(
                            protein=hit.name,
                            accession=accession,
                            name=hmm.name,
                            description=description,
                            score=round(domain.score, 1),
                            evalue=float(f"{domain.i_evalue:.3g}"),
                            env_from=domain.env_from,
                            env_to=domain.env_to,
                            hmm_from=domain.alignment.hmm_from,
                            hmm_to=domain.alignment.hmm_to,
                        )
                    )
    return hits


def _clean(text: str) -> str:
    """One line without tabs: a description must not break the TSV."""
    return " ".join(text.split())


def write_domain_table(hits: Iterable[DomainHit], path: Path) -> int:
    """The per-CDS domain table (TSV with a header; the caller bgzips it), written atomically
    (temp name, then rename). Returns the number of rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    n = 0
    try:
        with open(tmp, "w") as fh:
            fh.write("\t".join(DOMAIN_TABLE_COLUMNS) + "\n")
            for h in hits:
                row = (h.protein, h.accession, h.name, _clean(h.description), f"{h.score:.1f}")
                row += (f"{h.evalue:.3g}", h.env_from, h.env_to, h.hmm_from, h.hmm_to)
                fh.write("\t".join(map(str, row)) + "\n")
                n += 1
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n


def read_domain_table(path: Path) -> list[DomainHit]:
    """A table of write_domain_table (plain or gzipped) back as hits."""
    with open_text(path) as fh:
        header = fh.readline().rstrip("\n").split("\t")
        if tuple(header) != DOMAIN_TABLE_COLUMNS:
            raise ValueError(f"{path}: not a domain table (header {header})")
        return [
            DomainHit(**dict(zip(DOMAIN_TABLE_COLUMNS, line.rstrip("\n").split("\t"), strict=True)))
            for line in fh
            if line.strip()
        ]


def domain_counts(hits: Iterable[DomainHit]) -> list[DomainCount]:
    """Per accession, the number of distinct proteins with at least one domain of it (MGnify's
    `pfam, description, count`), most frequent first, then by accession."""
    proteins: dict[str, set[str]] = {}
    descriptions: dict[str, str] = {}
    for h in hits:
        proteins.setdefault(h.accession, set()).add(h.protein)
        descriptions.setdefault(h.accession, h.description)
    return [
        DomainCount(accession=acc, description=descriptions[acc], count=len(found))
        for acc, found in sorted(proteins.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]


def hmm_set_info(path: Path) -> HmmSetInfo:
    """How many models a file holds, how many with GA, distinct names and accessions."""
    n = n_ga = 0
    names: set[str] = set()
    accessions: set[str] = set()
    with _hmm_file(Path(path)) as hmms:
        for hmm in hmms:
            n += 1
            n_ga += hmm.cutoffs.gathering_available()
            names.add(hmm.name)
            if hmm.accession:
                accessions.add(_accession(hmm))
    return HmmSetInfo(
        n_models=n, n_with_gathering=n_ga, n_names=len(names), n_accessions=len(accessions)
    )


@lru_cache
def hmmer_version() -> str:
    """pyhmmer's version and that of the HMMER it wraps: "pyhmmer 0.12.3 (HMMER 3.4)"."""
    # pyhmmer exposes no HMMER version; the header of a model it writes names it.
    buf = io.BytesIO()
    HMM(AMINO, 1, "version").write(buf)
    header = buf.getvalue().split(b"\n", 1)[0].decode()  # HMMER3/f [3.4 | Aug 2023]
    inner = header.partition("[")[2].partition("|")[0].strip()
    return f"pyhmmer {pyhmmer.__version__} (HMMER {inner or 'unknown'})"


_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def read_frames(reads: Iterable[Path], out: Path, *, min_length: int = 30) -> tuple[int, int]:
    """The six-frame translations of reads (FASTQ/FASTA, gz ok), cut at stop codons, as a
    protein FASTA of the pieces at least `min_length` long, named `<read>/<mate>_<frame>_<n>`
    (frames f0..f2 on the read, r0..r2 on its reverse complement). Returns (reads, pieces)."""
    dna = Alphabet.dna()
    n_reads = n_pieces = 0
    with open(out, "w") as fh:
        for mate, path in enumerate(reads, 1):
            for name, seq in read_reads(path):
                n_reads += 1
                if set(seq) - {"A", "C", "G", "T", "N"}:
                    continue
                for strand, text in (("f", seq), ("r", seq.translate(_COMPLEMENT)[::-1])):
                    for frame in range(3):
                        usable = (len(text) - frame) // 3 * 3
                        if usable < 3 * min_length:
                            continue
                        sub = TextSequence(name=b"r", sequence=text[frame : frame + usable])
                        protein = sub.digitize(dna).translate().textize().sequence
                        for i, part in enumerate(protein.split("*")):
                            if len(part) >= min_length:
                                fh.write(f">{name}/{mate}_{strand}{frame}_{i}\n{part}\n")
                                n_pieces += 1
    return n_reads, n_pieces
