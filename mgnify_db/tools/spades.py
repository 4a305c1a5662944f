"""metaSPAdes: the second assembler (miassembler's default for paired short reads).

Its contigs are published as MEGAHIT's are: filtered by length, canonically ordered and named
(megahit.write_renamed_contigs), with the same AssemblyStats.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from ..io import read_fasta, write_model
from ..proc import ToolError, log_tail, run_logged, version
from . import attempt_dir
from .megahit import BYTES_PER_MB, AssemblyStats, contig_stats, write_renamed_contigs

GIB = 1 << 30  # SPAdes' "Gb" (its log: `ulimit -v 500000` KiB is "Memory limit set to 0.4768 Gb")
# SPAdes' -m becomes each of its binaries' RLIMIT_AS (address space, always above its RSS) and
# sizes its k-mer buffers. The job's limit also holds the spades.py driver and page cache: 90 %.
SPADES_MEMORY_SHARE = 0.9
# What SPAdes 3.15.5 prints when memory runs out (strings of spades-core and its mimalloc, and
# runs under `ulimit -v`), plus the driver's report of a failed step: carried into the
# ToolError, whose text classify_failure reads, since they may lie beyond the log's last lines.
SPADES_ERROR = re.compile(
    r"^== Error ==|mimalloc: error|terminate called|bad_alloc|Not enough memory|mmap\(2\) failed"
    r"|out of memory|Cannot allocate memory|Memory allocation fail|Error allocating memory",
    re.IGNORECASE,
)
SPADES_ERROR_LINES = 10
SPADES_CONTIG = re.compile(r"^NODE_\d+_length_(\d+)_cov_([\d.]+)")


def spades_memory_gb(mem_mb: int) -> int:
    """SPAdes `-m` (whole GiB, at least 1) for a job given `mem_mb` (decimal megabytes)."""
    if mem_mb <= 0:
        raise ValueError(f"mem_mb must be positive, got {mem_mb}")
    # Rounded down, so SPAdes stops itself (with a memory message) before the job's limit is hit;
    # 1 is SPAdes' least, above the share for jobs under ~1.2 GB.
    return max(1, math.floor(mem_mb * BYTES_PER_MB * SPADES_MEMORY_SHARE / GIB))


def _check_paired(reads: Sequence[Path]) -> None:
    if len(reads) != 2:
        raise ValueError(
            f"metaSPAdes assembles paired-end reads only (2 files), got {len(reads)} file(s); "
            "assemble single-end reads with MEGAHIT"
        )


def spades_command(
    reads: Sequence[Path],
    out_dir: Path,
    *,
    threads: int,
    mem_mb: int,
    k_list: str | None = None,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """metaSPAdes command line for paired reads (2 files), without read error correction.

    `--only-assembler` as miassembler (`spades_only_assembler = true`): the reads are QC'd, and
    BayesHammer's correction costs time and memory. `k_list` is SPAdes' -k ("21,33,55").
    """
    _check_paired(reads)
    cmd = ["spades.py", "--meta", "-1", str(reads[0]), "-2", str(reads[1]), "-o", str(out_dir)]
    cmd += ["-t", str(max(1, threads)), "-m", str(spades_memory_gb(mem_mb)), "--only-assembler"]
    if k_list:
        cmd += ["-k", k_list]
    return cmd + [str(a) for a in extra_args]


@lru_cache
def spades_version() -> str | None:
    """SPAdes' version ("3.15.5") from `spades.py --version`, or None if it cannot be run."""
    out = version(["spades.py", "--version"])
    if out is None:
        return None
    match = re.search(r"v?(\d+(?:\.\d+)+)", out)
    return match.group(1) if match else out


def spades_errors(log: Path) -> list[str]:
    """The lines of a SPAdes log that say why it failed (memory ones included), last ones."""
    try:
        text = Path(log).read_text(errors="replace")
    except FileNotFoundError:
        return []
    lines = [line.strip() for line in text.splitlines() if not line.startswith("$ ")]
    found = list(dict.fromkeys(line for line in lines if SPADES_ERROR.search(line)))
    # The driver's "== Error ==" first: the cause (a memory message) ends the list.
    return sorted(found[-SPADES_ERROR_LINES:], key=lambda line: not line.startswith("== Error"))


def _filter_contigs(src: Path, dest: Path, min_len: int) -> None:
    """Contigs of >= `min_len` bp, named as SPAdes with its length and k-mer coverage kept as
    MEGAHIT-style `len=`/`cov=` words (write_renamed_contigs keeps a header's description)."""
    with open(dest, "w") as out:
        for name, seq in read_fasta(src):
            if len(seq) < min_len:
                continue
            match = SPADES_CONTIG.match(name)
            description = f" cov={match.group(2)} len={len(seq)}" if match else f" len={len(seq)}"
            out.write(f">{name.split()[0]}{description}\n{seq}\n")


def run_metaspades(
    reads: Sequence[Path],
    out_dir: Path,
    *,
    threads: int,
    mem_mb: int,
    k_list: str | None = None,
    min_contig_len: int = 500,
    contig_prefix: str | None = None,
    extra_args: Sequence[str] = (),
    log: Path | None = None,
) -> AssemblyStats:
    """Assemble paired `reads` into `out_dir`: contigs.fa.gz, then (last, atomically)
    assembly.json (assembler "metaspades").

    As run_megahit: contigs >= `min_contig_len` named `{contig_prefix}_{n}` in a canonical
    order; 0 contigs is a valid result; SPAdes works in a fresh `out_dir/.metaspades.tmp.*`,
    under the lock `out_dir/.metaspades.lock`. Raises ToolError with SPAdes' error lines (its
    memory messages, for classify_failure) and the log's tail. Without `log`, SPAdes' output
    goes to a log in the attempt's dir, gone with it.
    """
    _check_paired(reads)  # before anything of an earlier attempt is removed
    spades_memory_gb(mem_mb)
    out_dir = Path(out_dir)
    stats_json, contigs = out_dir / "assembly.json", out_dir / "contigs.fa.gz"
    with attempt_dir(out_dir, "metaspades") as work:
        # An earlier attempt's result must not outlive a failed retry.
        stats_json.unlink(missing_ok=True)
        contigs.unlink(missing_ok=True)
        log = Path(log) if log is not None else work / "metaspades.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        spades_out = work / "out"
        cmd = spades_command(
            reads, spades_out, threads=threads, mem_mb=mem_mb, k_list=k_list, extra_args=extra_args
        )
        try:
            run_logged(cmd, log)
        except ToolError as e:
            if not (errors := spades_errors(log)):
                raise
            # Last, so that a job event's one-line message (the last line) is SPAdes' reason.
            said = "\n".join(errors)
            raise ToolError(
                f"metaSPAdes failed with exit code {e.returncode}; last lines of {log}:\n"
                f"{log_tail(log)}\nSPAdes reported:\n{said}",
                e.returncode,
            ) from e
        final = spades_out / "contigs.fasta"
        if not final.exists():
            raise ToolError(f"metaSPAdes wrote no {final}; last lines of {log}:\n{log_tail(log)}")
        filtered = work / "filtered.fa"
        _filter_contigs(final, filtered, min_contig_len)
        write_renamed_contigs(filtered, contigs, contig_prefix)
        update = {
            "assembler": "metaspades",
            "assembler_version": spades_version(),
            "min_contig_len": min_contig_len,
        }
        stats = contig_stats(contigs).model_copy(update=update)
        write_model(stats_json, stats)
    return stats
