"""fastp: read QC into a run's QC directory, its report as a model, and the QC gate."""

from __future__ import annotations

import gzip
import json
import math
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from ..io import write_model
from ..proc import ToolError, log_tail, run_logged
from . import attempt_dir, publish_dir

# fastp reports broken input on stderr and still exits 0: a truncated gzip gives "ERROR:
# sequence and quality have different length" after part of the reads; mates of unequal length
# give "WARNNIG: different read numbers" (sic, 0.23) and fastp drops the longer file's surplus.
FASTP_ERROR = re.compile(r"^ERROR\b|different read numbers", re.IGNORECASE)


class QcResult(BaseModel):
    """Outcome of read QC; read counts are fastp's `total_reads` (both mates for paired runs)."""

    reads_before: int
    reads_after: int
    bases_before: int
    bases_after: int
    q30_rate_before: float
    q30_rate_after: float
    gc_content_after: float
    duplication_rate: float
    filtered_fraction: float
    passed: bool
    reason: str | None = None
    tool: str = "fastp"
    tool_version: str | None = None


def parse_fastp_json(path: Path) -> dict:
    """Load a fastp `-j` report."""
    return json.loads(Path(path).read_text())


def qc_gate(
    fastp_json: dict, *, min_reads: int = 1000, max_filtered_fraction: float = 0.9
) -> QcResult:
    """Judge a fastp report: pass if >= `min_reads` reads survive and <= the fraction is removed.

    Reads are fastp's `total_reads`, which for a paired run counts both mates (1000 = 500 pairs).
    Both limits are inclusive: exactly `min_reads` reads or exactly `max_filtered_fraction` pass.
    """
    try:
        summary = fastp_json["summary"]
        before, after = summary["before_filtering"], summary["after_filtering"]
        reads_before, reads_after = int(before["total_reads"]), int(after["total_reads"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a fastp JSON report (missing {exc})") from exc
    # An empty input has nothing filtered; the min_reads check fails it instead.
    filtered = 1 - reads_after / reads_before if reads_before else 0.0
    reasons = []
    if reads_before == 0:
        reasons.append("no reads in the input")
    elif reads_after < min_reads:
        reasons.append(f"{reads_after} reads left after QC (< {min_reads})")
    # isclose: 1 - 1000/10000 must count as exactly 90 %, not 90.00000000000001 %.
    if filtered > max_filtered_fraction and not math.isclose(filtered, max_filtered_fraction):
        reasons.append(f"{filtered:.1%} of reads removed by QC (> {max_filtered_fraction:.0%})")
    return QcResult(
        reads_before=reads_before,
        reads_after=reads_after,
        bases_before=int(before.get("total_bases", 0)),
        bases_after=int(after.get("total_bases", 0)),
        q30_rate_before=float(before.get("q30_rate", 0.0)),
        q30_rate_after=float(after.get("q30_rate", 0.0)),
        gc_content_after=float(after.get("gc_content", 0.0)),
        duplication_rate=float(fastp_json.get("duplication", {}).get("rate", 0.0)),
        filtered_fraction=filtered,
        passed=not reasons,
        reason="; ".join(reasons) or None,
        tool_version=summary.get("fastp_version"),
    )


def _check_layout(reads: Sequence[Path], out_reads: Sequence[Path] | None = None) -> None:
    if len(reads) not in (1, 2):
        raise ValueError(f"expected 1 (single) or 2 (paired) read files, got {len(reads)}")
    if out_reads is not None and len(out_reads) != len(reads):
        raise ValueError(f"{len(reads)} input read files but {len(out_reads)} outputs")


def fastp_command(
    reads: Sequence[Path],
    out_reads: Sequence[Path],
    json_path: Path,
    html_path: Path,
    threads: int,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """fastp command line for a single-end (1 file) or paired-end (2 files) run."""
    _check_layout(reads, out_reads)
    cmd = ["fastp", "-i", str(reads[0]), "-o", str(out_reads[0])]
    if len(reads) == 2:
        cmd += ["-I", str(reads[1]), "-O", str(out_reads[1])]
    # fastp caps -w at 16 itself (with a warning); keep the request as Snakemake gave it.
    cmd += ["-j", str(json_path), "-h", str(html_path), "-w", str(max(1, threads))]
    return cmd + [str(a) for a in extra_args]


def fastp_errors(log: Path) -> list[str]:
    """The lines of a fastp log that report broken input (fastp may still have exited 0)."""
    try:
        text = Path(log).read_text(errors="replace")
    except FileNotFoundError:
        return []
    # "$ fastp ..." lines are the command lines run_logged writes (paths could match).
    lines = (line for line in text.splitlines() if not line.startswith("$ "))
    return [line for line in lines if FASTP_ERROR.search(line)]


def _fix_empty_gzip(path: Path) -> None:
    # fastp writes a 0-byte (invalid) .gz when no reads are left; make it a valid empty gzip.
    if path.suffix == ".gz" and path.exists() and path.stat().st_size == 0:
        with gzip.open(path, "wb"):
            pass


def run_fastp(
    reads: Sequence[Path],
    out_dir: Path,
    *,
    threads: int,
    min_reads: int = 1000,
    max_filtered_fraction: float = 0.9,
    expected_reads: int | None = None,
    extra_args: Sequence[str] = (),
    log: Path,
) -> QcResult:
    """Run fastp and the QC gate into the directory `out_dir`.

    `out_dir` gets reads_1.fastq.gz (+ reads_2.fastq.gz if paired), fastp.json, fastp.html and
    qc.json (the QcResult: QC finished, passed or not). All are written into a fresh hidden temp
    dir beside it, renamed to `out_dir` only on success: `out_dir` exists only complete, and an
    earlier attempt's `out_dir` is removed before fastp runs. `out_dir.parent/.<name>.lock` is
    held throughout; another live attempt makes this one fail at once.

    Raises ToolError if fastp fails, reports broken input in its log (an `ERROR` line, or mates
    with different read numbers; fastp exits 0 on both), or reads a number of reads other than
    `expected_reads` (over all files: fastp counts both mates).
    """
    _check_layout(reads)
    out_dir, log = Path(out_dir), Path(log)
    with attempt_dir(out_dir.parent, out_dir.name) as work:
        # A stale result from an earlier attempt must not outlive a failed retry.
        shutil.rmtree(out_dir, ignore_errors=True)
        result = _fastp_into(
            reads,
            work,
            threads=threads,
            min_reads=min_reads,
            max_filtered_fraction=max_filtered_fraction,
            expected_reads=expected_reads,
            extra_args=extra_args,
            log=log,
        )
        publish_dir(work, out_dir)
    return result


def _fastp_into(
    reads: Sequence[Path],
    work: Path,
    *,
    threads: int,
    min_reads: int,
    max_filtered_fraction: float,
    expected_reads: int | None,
    extra_args: Sequence[str],
    log: Path,
) -> QcResult:
    out_reads = [work / f"reads_{i}.fastq.gz" for i in range(1, len(reads) + 1)]
    fastp_json = work / "fastp.json"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    cmd = fastp_command(reads, out_reads, fastp_json, work / "fastp.html", threads, extra_args)
    run_logged(cmd, log)
    if errors := fastp_errors(log):
        shown = "\n".join(errors[:5])
        raise ToolError(f"fastp exited 0 but reported broken input in {log}:\n{shown}")
    result = qc_gate(
        parse_fastp_json(fastp_json),
        min_reads=min_reads,
        max_filtered_fraction=max_filtered_fraction,
    )
    if expected_reads is not None and result.reads_before != expected_reads:
        raise ToolError(
            f"fastp read {result.reads_before} reads, expected {expected_reads}; "
            f"last lines of {log}:\n{log_tail(log)}"
        )
    for path in out_reads:
        _fix_empty_gzip(path)
    write_model(work / "qc.json", result)
    return result
