"""vsearch for amplicons: pair merging, expected-error filtering, dereplication, UNOISE3
denoising, de novo chimera removal (UCHIME3), read counts per ASV, and closed-reference
taxonomy of reads (global alignment to the SSU reference; the lineage shared by the best
hits). SINTAX classification is mgnify_db.tools.sintax.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from pydantic import BaseModel

from ..io import open_text, read_fasta
from ..lineage import UNCLASSIFIED, Lineage, Rank
from ..proc import run_logged
from .kraken2 import scratch_log
from .sintax import vsearch_version  # noqa: F401 - the version of the tool this module runs

_SIZE = re.compile(r";size=(\d+)")


def _vsearch(args: Sequence, log: Path | None) -> None:
    with scratch_log(log) as log_path:
        run_logged(["vsearch", *args, "--no_progress"], log_path)


def size_of(label: str) -> int:
    match = _SIZE.search(label)
    return int(match.group(1)) if match else 1


def count_fasta(path: Path) -> tuple[int, int]:
    """(records, their summed `;size=`) of a FASTA file."""
    n = total = 0
    for header, _ in read_fasta(path):
        n += 1
        total += size_of(header)
    return n, total


def count_fastq(path: Path) -> int:
    with open_text(path) as fh:
        return sum(1 for _ in fh) // 4


def merge_pairs(r1: Path, r2: Path, out: Path, *, threads: int = 1, log: Path | None = None):
    """Merge overlapping mates into one read each (FASTQ); pairs that do not overlap are
    dropped. Mates longer than the amplicon overhang each other (staggered): their overhangs
    are cut, leaving the amplicon."""
    args = ["--fastq_mergepairs", r1, "--reverse", r2, "--fastq_allowmergestagger"]
    _vsearch([*args, "--fastqout", out, "--threads", threads], log)
    return count_fastq(out)


def filter_reads(
    reads: Path,
    out: Path,
    *,
    label: str,
    max_ee: float,
    min_length: int,
    log: Path | None = None,
) -> int:
    """Reads with at most `max_ee` expected errors and `min_length` bases, as FASTA relabelled
    `<label>.<n>` (the label is the sample of vsearch's tables)."""
    args = ["--fastq_filter", reads, "--fastq_maxee", f"{max_ee:g}"]
    args += ["--fastq_minlen", min_length, "--fastaout", out, "--relabel", f"{label}."]
    _vsearch(args, log)
    return count_fasta(out)[0]


def dereplicate(reads: Path, out: Path, *, log: Path | None = None) -> int:
    """Unique sequences with their abundance (`;size=`), most abundant first."""
    _vsearch(["--derep_fulllength", reads, "--sizeout", "--output", out], log)
    return count_fasta(out)[0]


def unoise(
    uniques: Path,
    out: Path,
    *,
    min_size: int,
    alpha: float,
    log: Path | None = None,
) -> int:
    """UNOISE3 denoising: the uniques of at least `min_size` reads that are not sequencing
    errors of a more abundant one (`alpha`: UNOISE's skew parameter)."""
    args = ["--cluster_unoise", uniques, "--minsize", min_size, "--unoise_alpha", f"{alpha:g}"]
    _vsearch([*args, "--sizein", "--sizeout", "--centroids", out], log)
    return count_fasta(out)[0]


def remove_chimeras(
    denoised: Path, out: Path, chimeras: Path, *, abskew: float, log: Path | None = None
) -> tuple[int, int]:
    """UCHIME3 de novo: (sequences kept, chimeras found). A chimera's parents must each be at
    least `abskew` times as abundant as it."""
    args = ["--uchime3_denovo", denoised, "--abskew", f"{abskew:g}", "--sizein", "--sizeout"]
    _vsearch([*args, "--nonchimeras", out, "--chimeras", chimeras], log)
    return count_fasta(out)[0], count_fasta(chimeras)[0]


def asv_counts(
    reads: Path,
    asvs: Path,
    table: Path,
    *,
    identity: float,
    threads: int = 1,
    log: Path | None = None,
) -> dict[str, int]:
    """Reads per ASV: each read counts for the ASV it matches best at `identity` or more."""
    args = ["--usearch_global", reads, "--db", asvs, "--id", f"{identity:g}"]
    _vsearch([*args, "--otutabout", table, "--threads", threads], log)
    counts: dict[str, int] = {}
    with open(table) as fh:
        next(fh, None)
        for line in fh:
            cols = line.rstrip("\n").split("\t")
            if len(cols) > 1:
                counts[cols[0].split(";")[0]] = sum(int(c) for c in cols[1:])
    return counts


class ReadTaxon(BaseModel):
    """A unique read's closed-reference lineage (the lineage its best hits share)."""

    query: str
    abundance: int
    lineage: Lineage
    identity: float | None  # of the best hits; None: no hit at the identity asked
    hits: int  # best hits (ties)


def _tax_of(target: str) -> Lineage:
    from .sintax import _parse_sintax_header

    return Lineage.of(_parse_sintax_header(target)[1])


def shared_lineage(lineages: Iterable[Lineage], agreement: float = 1.0) -> Lineage:
    """The lineage the best hits share, from the top rank down: a rank is kept while at least
    `agreement` of the lineages name the same taxon there (1.0: all of them, the lowest common
    ancestor)."""
    lineages = list(lineages)
    if not lineages:
        return Lineage()
    shared: dict[Rank, str] = {}
    for rank in Rank:
        names = Counter(lin.get(rank) for lin in lineages)
        if set(names) == {None}:
            continue  # a rank no hit names (references often skip kingdom): no disagreement
        name, n = names.most_common(1)[0]
        if name is None or n < agreement * len(lineages):
            break
        shared[rank] = name
        lineages = [lin for lin in lineages if lin.get(rank) == name]
    return Lineage.of(shared)


def closed_reference(
    uniques: Path,
    reference: Path,
    out: Path,
    *,
    identity: float,
    agreement: float = 1.0,
    threads: int = 1,
    log: Path | None = None,
) -> list[ReadTaxon]:
    """Closed-reference taxonomy of dereplicated reads: global alignment to every reference
    sequence at `identity` or more (both strands); a read takes the lineage its best hits
    (ties) share (`agreement`: shared_lineage). vsearch's hits go to `out` (query, target,
    identity)."""
    args = ["--usearch_global", uniques, "--db", reference, "--id", f"{identity:g}"]
    args += ["--maxaccepts", 16, "--maxrejects", 64, "--top_hits_only", "--strand", "both"]
    args += ["--output_no_hits", "--userfields", "query+target+id", "--userout", out]
    _vsearch([*args, "--threads", threads], log)
    return list(read_closed_reference(out, agreement))


def read_closed_reference(path: Path, agreement: float = 1.0) -> Iterator[ReadTaxon]:
    """Per query of vsearch's userout (query, target, id; `*` target = no hit), in file order."""
    best: dict[str, tuple[float | None, list[Lineage]]] = {}
    with open_text(path) as fh:
        for line in fh:
            query, target, ident = (line.rstrip("\n").split("\t") + ["", "", ""])[:3]
            if not query:
                continue
            if target in ("*", ""):
                best.setdefault(query, (None, []))
                continue
            identity = float(ident)
            current = best.get(query)
            if current is None or current[0] is None or identity > current[0]:
                best[query] = (identity, [_tax_of(target)])
            elif identity == current[0]:
                current[1].append(_tax_of(target))
    for query, (identity, lineages) in best.items():
        yield ReadTaxon(
            query=query.split(";")[0],
            abundance=size_of(query),
            lineage=shared_lineage(lineages, agreement),
            identity=identity,
            hits=len(lineages),
        )


def lineage_counts(taxa: Iterable[ReadTaxon]) -> Counter[str]:
    """Reads per MGnify lineage (unassigned reads under "Unclassified")."""
    counts: Counter[str] = Counter()
    for t in taxa:
        counts[t.lineage.mgnify() or UNCLASSIFIED] += t.abundance
    return counts
