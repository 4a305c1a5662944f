"""MEGAHIT: assembly into canonically named contigs, and their statistics."""

from __future__ import annotations

import gzip
import io
import os
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

from ..io import read_fasta, temp_path, write_model
from ..proc import ToolError, log_tail, run_logged, version
from . import attempt_dir

# Snakemake's mem_mb is decimal megabytes (mem_mib is the binary one).
BYTES_PER_MB = 1_000_000
# MEGAHIT's -m bounds only the SdBG (succinct de Bruijn graph) construction; reading the input,
# the assembly/local-assembly steps and the Python driver come on top (a 20x lambda run peaks at
# ~270 MB RSS with -m 50 MB). Give SdBG 3/4 of the job's memory, keep 1/4 as headroom.
MEGAHIT_SDBG_SHARE = 0.75


class AssemblyStats(BaseModel):
    n_contigs: int
    total_length: int
    n50: int
    l50: int
    largest_contig: int
    gc_content: float  # G+C over A+C+G+T (ambiguous bases excluded)
    assembler: str = "megahit"
    assembler_version: str | None = None
    min_contig_len: int | None = None
    # reads mapped back (mgnify_db.tools.coverage), as MGnify's miassembler: `coverage` = read
    # bases laid on the contigs / bases sequenced before QC, `coverage_depth` = length-weighted
    # mean depth; `covered_fraction` = share of the contigs' bases covered by >= 1 read
    coverage: float | None = None
    coverage_depth: float | None = None
    covered_fraction: float | None = None
    # the runs whose reads were assembled (several for a co-assembly)
    runs: list[str] | None = None
    # the assembly's own QC gate (qc.min_contigs): a failing assembly is not analysed
    passed: bool = True
    reason: str | None = None


def contig_stats(fasta: Path) -> AssemblyStats:
    """Contig count, length, N50/L50, largest contig and GC of a (gz) FASTA; empty file = zeros."""
    lengths: list[int] = []
    gc = acgt = 0
    for _, seq in read_fasta(fasta):
        seq = seq.upper()
        lengths.append(len(seq))
        n_gc = seq.count("G") + seq.count("C")
        gc += n_gc
        acgt += n_gc + seq.count("A") + seq.count("T")
    lengths.sort(reverse=True)
    total = sum(lengths)
    n50 = l50 = 0
    running = 0
    for i, length in enumerate(lengths, 1):
        running += length
        if 2 * running >= total:
            n50, l50 = length, i
            break
    return AssemblyStats(
        n_contigs=len(lengths),
        total_length=total,
        n50=n50,
        l50=l50,
        largest_contig=lengths[0] if lengths else 0,
        gc_content=gc / acgt if acgt else 0.0,
    )


def megahit_memory_bytes(mem_mb: int) -> int:
    """MEGAHIT `-m` in bytes for a job given `mem_mb` (never a fraction of the machine)."""
    if mem_mb <= 0:
        raise ValueError(f"mem_mb must be positive, got {mem_mb}")
    # MEGAHIT reads -m values in (0, 1] as a fraction of the machine's RAM; stay well above that.
    return max(2, int(mem_mb * BYTES_PER_MB * MEGAHIT_SDBG_SHARE))


def megahit_command(
    reads: Sequence[Path],
    out_dir: Path,
    *,
    threads: int,
    mem_mb: int,
    k_list: str | None = None,
    min_contig_len: int = 500,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """MEGAHIT command line: -1/-2 for paired (2 files), -r for single (1 file)."""
    if len(reads) == 2:
        cmd = ["megahit", "-1", str(reads[0]), "-2", str(reads[1])]
    elif len(reads) == 1:
        cmd = ["megahit", "-r", str(reads[0])]
    else:
        raise ValueError(f"expected 1 (single) or 2 (paired) read files, got {len(reads)}")
    cmd += [
        "-o",
        str(out_dir),
        "-t",
        str(max(1, threads)),
        "-m",
        str(megahit_memory_bytes(mem_mb)),
        "--min-contig-len",
        str(min_contig_len),
    ]
    if k_list:
        cmd += ["--k-list", k_list]
    return cmd + [str(a) for a in extra_args]


@lru_cache
def megahit_version() -> str | None:
    """MEGAHIT's version ("1.2.9") from `megahit --version`, or None if it cannot be run."""
    out = version(["megahit", "--version"])
    if out is None:
        return None
    match = re.search(r"v?(\d+(?:\.\d+)+)", out)
    return match.group(1) if match else out


def write_renamed_contigs(src: Path, dest: Path, prefix: str | None) -> int:
    """Write contigs to gzipped `dest` (atomically) in a canonical order and naming.

    MEGAHIT's contig ids and order depend on thread timing (the same sequences come out as
    k99_0 or k99_1194 from one run to the next), so contigs are sorted (longest first, then by
    sequence) and named `{prefix}_{n}`, keeping MEGAHIT's flag/multi/len. The same reads then
    give byte-identical contigs, CDS and GFF files on any executor. Holds the contigs in memory.
    """
    contigs = []
    for name, seq in read_fasta(src):
        description = name.split(maxsplit=1)[1] if " " in name else ""
        contigs.append((-len(seq), seq, description))
    contigs.sort()
    tmp = temp_path(dest)
    try:
        # no name and mtime 0 in the gzip header, so equal contigs give equal files
        with open(tmp, "wb") as fh, gzip.GzipFile("", "wb", 6, fh, mtime=0) as raw:
            with io.TextIOWrapper(raw) as fout:
                for n, (_, seq, description) in enumerate(contigs, 1):
                    name = f"{prefix}_{n}" if prefix else f"contig_{n}"
                    fout.write(f">{name} {description}".rstrip() + "\n")
                    for i in range(0, len(seq), 80):
                        fout.write(seq[i : i + 80] + "\n")
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return len(contigs)


def run_megahit(
    reads: Sequence[Path],
    out_dir: Path,
    *,
    threads: int,
    mem_mb: int,
    k_list: str | None = None,
    min_contig_len: int = 500,
    contig_prefix: str | None = None,
    extra_args: Sequence[str] = (),
    log: Path,
) -> AssemblyStats:
    """Assemble `reads` into `out_dir`: contigs.fa.gz, then (last, atomically) assembly.json.

    Contigs are named `{contig_prefix}_{n}` in a canonical order (see write_renamed_contigs).
    An assembly with 0 contigs is a valid, completed result. MEGAHIT works in a fresh
    `out_dir/.megahit.tmp.*` dir, under the lock `out_dir/.megahit.lock`: an attempt finding
    another one live fails at once with ToolError; a dead attempt's work dir is removed.
    """
    out_dir, log = Path(out_dir), Path(log)
    stats_json, contigs = out_dir / "assembly.json", out_dir / "contigs.fa.gz"
    with attempt_dir(out_dir, "megahit") as work:
        # An earlier attempt's result must not outlive a failed retry.
        stats_json.unlink(missing_ok=True)
        contigs.unlink(missing_ok=True)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        # MEGAHIT refuses an existing -o dir, so it gets a new one inside the attempt's own.
        megahit_out = work / "out"
        cmd = megahit_command(
            reads,
            megahit_out,
            threads=threads,
            mem_mb=mem_mb,
            k_list=k_list,
            min_contig_len=min_contig_len,
            extra_args=extra_args,
        )
        run_logged(cmd, log)
        final = megahit_out / "final.contigs.fa"
        if not final.exists():
            raise ToolError(f"megahit wrote no {final}; last lines of {log}:\n{log_tail(log)}")
        write_renamed_contigs(final, contigs, contig_prefix)
        stats = contig_stats(contigs).model_copy(
            update={"assembler_version": megahit_version(), "min_contig_len": min_contig_len}
        )
        write_model(stats_json, stats)
    return stats
