"""Per-contig read coverage: the reads mapped back to their assembly (minimap2 + samtools).

MGnify's coverage JSON (miassembler's calculate_assembly_coverage.py) has two numbers, from
`assembled = sum(contig length x mean depth)` (bases of reads laid on the assembly):
`coverage_depth = assembled / assembly length` (the length-weighted mean depth; ENA's
COVERAGE of the assembly), and `coverage = assembled / bases before QC` (the share of the
sequenced bases that ended up in the assembly, e.g. 0.048). `coverage` is not the share of the
assembly covered by reads: that one is `covered_fraction` here.
"""

from __future__ import annotations

import csv
import json
import shlex
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from ..io import write_text_atomic
from ..proc import run_logged
from . import attempt_dir
from .decontam import PRESET, SINGLE_PART_INDEX, minimap2_version, run_pipeline
from .fastp import _check_layout

SORT_MEMORY_PER_THREAD = "256M"
COLUMNS = ("contig", "length", "mapped_reads", "covered_bases", "mean_depth")


class ContigCoverage(BaseModel):
    """One row of the coverage table."""

    contig: str
    length: int
    mapped_reads: int  # reads with an alignment on the contig (supplementary ones too)
    covered_bases: int  # bases covered by >= 1 read
    mean_depth: float


class CoverageSummary(BaseModel):
    """The assembly's coverage; `coverage` and `coverage_depth` as in MGnify's coverage JSON."""

    n_contigs: int
    assembly_length: int
    assembled_bases: float  # sum of length x mean depth over contigs
    coverage_depth: float  # assembled_bases / assembly_length (0 for an empty assembly)
    coverage: float | None = None  # assembled_bases / bases before QC, when those are known
    covered_fraction: float  # share of assembly bases covered by >= 1 read
    reads_total: int  # primary reads given (both mates counted)
    reads_mapped: int
    mapped_read_fraction: float
    tool: str = "minimap2"
    tool_version: str | None = None


def coverage_script(contigs: Path, reads: Sequence[Path], bam: Path, *, threads: int = 1) -> str:
    """The pipeline mapping reads with minimap2 (short reads) into a coordinate-sorted BAM."""
    _check_layout(reads)
    threads = max(1, threads)
    mapper = ["minimap2", "-ax", PRESET, "-I", SINGLE_PART_INDEX, "-t", str(threads)]
    mapper += [str(contigs), *map(str, reads)]
    # samtools sort holds -m per thread (default 768M): bounded here, the job's memory is not
    # known and it spills to temp files beside the BAM instead.
    sort = ["samtools", "sort", "-@", str(threads - 1), "-m", SORT_MEMORY_PER_THREAD]
    sort += ["-T", str(bam) + ".sort", "-o", str(bam)]
    return f"{shlex.join(mapper)} | {shlex.join(sort)} -"


def parse_samtools_coverage(path: Path) -> list[ContigCoverage]:
    """Rows of `samtools coverage` output (every contig of the BAM header, covered or not)."""
    rows = []
    with open(path) as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            name, start, end, numreads, covbases, _, meandepth, *_ = line.rstrip("\n").split("\t")
            rows.append(
                ContigCoverage(
                    contig=name,
                    length=int(end) - int(start) + 1,
                    mapped_reads=int(numreads),
                    covered_bases=int(covbases),
                    mean_depth=float(meandepth),
                )
            )
    return rows


def summarise(
    rows: Sequence[ContigCoverage],
    *,
    reads_total: int,
    reads_mapped: int,
    bases_before_qc: int | None = None,
) -> CoverageSummary:
    """The assembly-wide numbers of a coverage table."""
    length = sum(r.length for r in rows)
    assembled = sum(r.length * r.mean_depth for r in rows)
    return CoverageSummary(
        n_contigs=len(rows),
        assembly_length=length,
        assembled_bases=assembled,
        coverage_depth=assembled / length if length else 0.0,
        coverage=assembled / bases_before_qc if bases_before_qc else None,
        covered_fraction=sum(r.covered_bases for r in rows) / length if length else 0.0,
        reads_total=reads_total,
        reads_mapped=reads_mapped,
        mapped_read_fraction=reads_mapped / reads_total if reads_total else 0.0,
        tool_version=minimap2_version(),
    )


def contig_coverage(
    contigs: Path,
    reads: Sequence[Path],
    out_tsv: Path,
    *,
    threads: int = 1,
    bases_before_qc: int | None = None,
    log: Path | None = None,
) -> CoverageSummary:
    """Map `reads` (1 file single-end, 2 paired) to `contigs` (gz ok); write the per-contig table.

    `out_tsv` (written atomically, with a header): contig, length, mapped_reads, covered_bases,
    mean_depth; every contig, in the contigs file's order. `bases_before_qc` (fastp's
    before-filtering total_bases) gives MGnify's `coverage`. The sorted BAM lives in a temp dir
    beside `out_tsv` only while the step runs. ToolError if a tool fails.
    """
    _check_layout(reads)
    out_tsv = Path(out_tsv)
    with attempt_dir(out_tsv.parent, out_tsv.name) as work:
        log = Path(log) if log is not None else work / "coverage.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        bam = work / "aligned.bam"
        script = coverage_script(contigs, reads, bam, threads=threads)
        run_pipeline(script, log, "minimap2 | samtools sort")
        table, flagstat = work / "coverage.txt", work / "flagstat.json"
        run_logged(["samtools", "coverage", "-o", table, bam], log)
        run_logged(["samtools", "flagstat", "-O", "json", bam], log, stdout=flagstat)
        rows = parse_samtools_coverage(table)
        passed = json.loads(flagstat.read_text())["QC-passed reads"]
        summary = summarise(
            rows,
            reads_total=int(passed["primary"]),
            reads_mapped=int(passed["primary mapped"]),
            bases_before_qc=bases_before_qc,
        )
        lines = ["\t".join(COLUMNS)]
        lines += [
            f"{r.contig}\t{r.length}\t{r.mapped_reads}\t{r.covered_bases}\t{r.mean_depth}"
            for r in rows
        ]
        write_text_atomic(out_tsv, "\n".join(lines) + "\n")
    return summary


def read_coverage_table(path: Path) -> list[ContigCoverage]:
    """The rows of a table written by contig_coverage."""
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [ContigCoverage.model_validate(row) for row in reader]
