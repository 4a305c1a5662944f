"""Scoring results against the known truth of a simulated community (the demo's science study):
genome fraction, chimeras, decontamination, Pfam recovery, rRNA recovery, contig taxonomy.

Reads simulated by the demo carry their origin in their names (`{run}.{n} {seqid}-{k}/1`, ART's
name after the space); contigs are placed on the reference genomes with minimap2 (asm5).
"""

from __future__ import annotations

import gzip
import re
import subprocess
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..io import read_fasta

# ART names a read `<seqid>-<n>/<mate>`; the demo puts it after the run's own name.
_ART_NAME = re.compile(r"^@?\S+ (\S+)-\d+(?:/[12])?$")


def read_origin(header: str) -> str | None:
    """The reference sequence id a simulated read came from (None: not an ART name)."""
    m = _ART_NAME.match(header.strip())
    return m.group(1) if m else None


def reads_by_origin(fastq: Path, seq_to_genome: Mapping[str, str]) -> dict[str, int]:
    """Reads of a (gz) FASTQ per genome (by the ids of `seq_to_genome`; others as `other`)."""
    counts: dict[str, int] = defaultdict(int)
    opener = gzip.open if str(fastq).endswith(".gz") else open
    with opener(fastq, "rt") as fh:
        for i, line in enumerate(fh):
            if i % 4 == 0:
                origin = read_origin(line)
                counts[seq_to_genome.get(origin or "", "other")] += 1
    return dict(counts)


def sequence_ids(fasta: Path) -> list[str]:
    return [header.split()[0] for header, _ in read_fasta(fasta)]


@dataclass
class Alignment:
    contig: str
    contig_length: int
    genome: str
    target: str
    target_start: int
    target_end: int
    matches: int
    block: int


def align_contigs(
    contigs: Path, references: Mapping[str, Path], paf: Path, *, threads: int = 2
) -> list[Alignment]:
    """Primary alignments (minimap2 -x asm5 -c --secondary=no) of the contigs on the
    reference genomes (`references`: genome name -> FASTA); written to `paf` as well."""
    target_genome: dict[str, str] = {}
    joined = paf.with_suffix(".refs.fa")
    with open(joined, "w") as out:
        for genome, fasta in references.items():
            for header, seq in read_fasta(fasta):
                target_genome[header.split()[0]] = genome
                out.write(f">{header.split()[0]}\n{seq}\n")
    with open(paf, "w") as fh:
        subprocess.run(
            ["minimap2", "-x", "asm5", "-c", "--secondary=no", "-t", str(threads), joined, contigs],
            stdout=fh,
            stderr=subprocess.DEVNULL,
            check=True,
        )
    joined.unlink()
    out_rows = []
    for line in paf.read_text().splitlines():
        c = line.split("\t")
        if "tp:A:P" not in c[12:]:
            continue
        out_rows.append(
            Alignment(
                contig=c[0],
                contig_length=int(c[1]),
                genome=target_genome[c[5]],
                target=c[5],
                target_start=int(c[7]),
                target_end=int(c[8]),
                matches=int(c[9]),
                block=int(c[10]),
            )
        )
    return out_rows


def _union(intervals: Iterable[tuple[int, int]]) -> int:
    total, end = 0, -1
    for s, e in sorted(intervals):
        if e <= end:
            continue
        total += e - max(s, end)
        end = e
    return total


@dataclass
class GenomeScore:
    genome: str
    length: int
    fraction: float
    contigs: int


def genome_fractions(
    alignments: list[Alignment], genome_lengths: Mapping[str, int]
) -> dict[str, GenomeScore]:
    """Per genome: the share of its bases covered by primary contig alignments, and the contigs
    whose longest alignment is on it."""
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for a in alignments:
        spans[f"{a.genome}\t{a.target}"].append((a.target_start, a.target_end))
    covered: dict[str, int] = defaultdict(int)
    for key, iv in spans.items():
        covered[key.split("\t")[0]] += _union(iv)
    best = contig_genomes(alignments)
    counts: dict[str, int] = defaultdict(int)
    for genome in best.values():
        counts[genome] += 1
    return {
        g: GenomeScore(g, n, covered.get(g, 0) / n if n else 0.0, counts.get(g, 0))
        for g, n in genome_lengths.items()
    }


def contig_genomes(alignments: list[Alignment]) -> dict[str, str]:
    """Each aligned contig's genome: the one with most aligned bases."""
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for a in alignments:
        per[a.contig][a.genome] += a.block
    return {c: max(g, key=g.get) for c, g in per.items()}


def chimeras(alignments: list[Alignment], *, min_length: int = 10_000, min_part: int = 500):
    """Contigs >= `min_length` with >= `min_part` bp aligned to each of two genomes."""
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    length: dict[str, int] = {}
    for a in alignments:
        per[a.contig][a.genome] += a.block
        length[a.contig] = a.contig_length
    return sorted(
        c
        for c, g in per.items()
        if length[c] >= min_length and sum(1 for v in g.values() if v >= min_part) > 1
    )


@dataclass
class TaxonomyScore:
    genome: str
    bases: int = 0  # bases of its contigs (>= min length)
    right: int = 0  # ... classified to its genus
    wrong: int = 0  # ... classified to another genus (or below one)
    above: int = 0  # ... classified above genus, consistently
    unclassified: int = 0
    contigs: int = 0
    wrong_examples: list[str] = field(default_factory=list)

    @property
    def right_fraction(self) -> float:
        return self.right / self.bases if self.bases else 0.0

    @property
    def wrong_fraction(self) -> float:
        return self.wrong / self.bases if self.bases else 0.0


def taxonomy_scores(
    contig_rows: Iterable[dict],
    placed: Mapping[str, str],
    genus_of: Mapping[str, str | None],
    *,
    min_length: int = 1000,
) -> dict[str, TaxonomyScore]:
    """Per genome, bases of its contigs (placed by alignment) by kraken2's call against the
    genome's true genus (`genus_of`: genome -> `g__Name` or None when absent from the DB)."""
    scores: dict[str, TaxonomyScore] = {}
    for row in contig_rows:
        genome = placed.get(row["contig"])
        length = int(row["length"])
        if genome is None or length < min_length:
            continue
        s = scores.setdefault(genome, TaxonomyScore(genome))
        s.bases += length
        s.contigs += 1
        lineage = row.get("lineage") or ""
        genus = next((p for p in lineage.split(";") if p.startswith("g__") and p != "g__"), None)
        truth = genus_of.get(genome)
        if not lineage:
            s.unclassified += length
        elif genus is None:
            s.above += length
        elif genus == truth:
            s.right += length
        else:
            s.wrong += length
            if len(s.wrong_examples) < 5:
                s.wrong_examples.append(f"{row['contig']} {length} {genus}")
    return scores


def identity_hits(queries: Path, targets: Path, *, threads: int = 2) -> dict[str, float]:
    """Best alignment of each query on the targets (minimap2 -c): identity times the query's
    aligned share, in 0..1 (1 = the whole query found identical)."""
    out = subprocess.run(
        ["minimap2", "-c", "-x", "asm5", "--secondary=no", "-t", str(threads), targets, queries],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    best: dict[str, float] = {}
    for line in out.splitlines():
        c = line.split("\t")
        qlen, qs, qe, matches, block = int(c[1]), int(c[2]), int(c[3]), int(c[9]), int(c[10])
        score = (matches / block) * ((qe - qs) / qlen) if block and qlen else 0.0
        best[c[0]] = max(best.get(c[0], 0.0), score)
    return best


def distinct_sequences(fasta: Path) -> dict[str, str]:
    """id -> sequence of the distinct sequences (first id of each)."""
    seen: dict[str, str] = {}
    for header, seq in read_fasta(fasta):
        if seq.upper() not in seen.values():
            seen[header.split()[0]] = seq.upper()
    return seen


def genus_profile(counts: Mapping[str, int], *, unassigned: str = "(no genus)") -> dict[str, int]:
    """Reads per genus (`g__Name`) from reads per MGnify lineage; lineages classified above
    genus go to `unassigned`, unclassified ones are left out."""
    from ..lineage import UNCLASSIFIED, Lineage

    out: dict[str, int] = {}
    for text, n in counts.items():
        if text == UNCLASSIFIED or not text:
            continue
        genus = Lineage.parse(text).get("genus")
        key = f"g__{genus}" if genus else unassigned
        out[key] = out.get(key, 0) + n
    return out


def profile_l1(truth: Mapping[str, float], reported: Mapping[str, float]) -> float:
    """L1 distance between two profiles, each renormalised to 1 (0 = equal, 2 = disjoint)."""
    t_total, r_total = sum(truth.values()) or 1, sum(reported.values()) or 1
    keys = set(truth) | set(reported)
    return sum(abs(truth.get(k, 0) / t_total - reported.get(k, 0) / r_total) for k in keys)


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rank correlation (ties get their mean rank)."""

    def ranks(values: list[float]) -> list[float]:
        order = sorted(range(len(values)), key=lambda i: values[i])
        out = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for k in range(i, j + 1):
                out[order[k]] = (i + j) / 2 + 1
            i = j + 1
        return out

    rx, ry = ranks(list(x)), ranks(list(y))
    n = len(rx)
    mx, my = sum(rx) / n, sum(ry) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sx = sum((a - mx) ** 2 for a in rx) ** 0.5
    sy = sum((b - my) ** 2 for b in ry) ** 0.5
    return cov / (sx * sy) if sx and sy else 0.0
