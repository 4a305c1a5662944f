"""Read QC with fastp and the QC gate that decides whether a run goes on to assembly.

Also holds the small process/file helpers the other tool wrappers (assembly, analysis) share.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

LOG_TAIL_LINES = 20


class ToolError(RuntimeError):
    """An external tool failed; the message names the tool, its exit code and its log tail."""


def log_tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log, for error messages."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def run_logged(
    cmd: Sequence[str], log: Path, *, stdout: Path | None = None, cwd: Path | None = None
) -> None:
    """Run `cmd`, appending the command line and its stderr (and stdout unless `stdout`) to `log`.

    Raises ToolError with the log tail if the tool is missing or exits non-zero.
    """
    cmd = [str(c) for c in cmd]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as err:
        err.write("$ " + " ".join(cmd) + "\n")
        err.flush()
        try:
            if stdout is None:
                rc = subprocess.run(cmd, stdout=err, stderr=err, cwd=cwd).returncode
            else:
                with open(stdout, "w") as out:
                    rc = subprocess.run(cmd, stdout=out, stderr=err, cwd=cwd).returncode
        except FileNotFoundError as exc:
            raise ToolError(f"{cmd[0]} not found on PATH") from exc
    if rc != 0:
        raise ToolError(
            f"{cmd[0]} failed with exit code {rc}; last lines of {log}:\n{log_tail(log)}"
        )


def temp_path(path: Path) -> Path:
    """A hidden sibling of `path` to write into before os.replace (same filesystem; umask kept)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")


def write_model_atomic(path: Path, model: BaseModel) -> None:
    """Write a model as JSON via temp file + rename: readers and retries never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        tmp.write_text(model.model_dump_json(indent=1) + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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
    extra_args: Sequence[str] = (),
    log: Path,
) -> QcResult:
    """Run fastp and the QC gate into `out_dir`.

    Writes reads_1.fastq.gz (+ reads_2.fastq.gz if paired), fastp.json, fastp.html and, last and
    atomically, qc.json (the QcResult; its presence means QC finished, passed or not).
    """
    _check_layout(reads)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    qc_json = out_dir / "qc.json"
    # A stale marker from an earlier attempt must not outlive a failed retry.
    qc_json.unlink(missing_ok=True)
    out_reads = [out_dir / f"reads_{i}.fastq.gz" for i in range(1, len(reads) + 1)]
    fastp_json, fastp_html = out_dir / "fastp.json", out_dir / "fastp.html"
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    cmd = fastp_command(reads, out_reads, fastp_json, fastp_html, threads, extra_args)
    run_logged(cmd, log)
    for path in out_reads:
        _fix_empty_gzip(path)
    result = qc_gate(
        parse_fastp_json(fastp_json),
        min_reads=min_reads,
        max_filtered_fraction=max_filtered_fraction,
    )
    write_model_atomic(qc_json, result)
    return result
