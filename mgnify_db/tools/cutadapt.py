"""cutadapt: which known amplicon primers a run's reads start with, and their removal.

Detection runs cutadapt once with every known primer anchored at the reads' 5' ends (forward
primers on the first mate, reverse primers on the second; no indels, so that a primer one base
shorter than another cannot claim its reads) and reads the matches per primer from its JSON
report. A primer is present when it starts at least `min_fraction` of the reads; the one with
the most matches wins on each side.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel

from ..proc import run_logged, version
from .kraken2 import scratch_log

IUPAC = set("ACGTRYSWKMBDHVN")


class PrimerMatch(BaseModel):
    name: str
    sequence: str
    reads: int  # reads of its mate starting with it
    fraction: float


class PrimerDetection(BaseModel):
    """The primers found at the reads' starts (None: none reaches the fraction)."""

    reads: int
    forward: PrimerMatch | None = None
    reverse: PrimerMatch | None = None
    candidates: list[PrimerMatch] = []  # every known primer with at least one match

    @property
    def found(self) -> bool:
        return self.forward is not None or self.reverse is not None


class TrimReport(BaseModel):
    reads_in: int
    reads_out: int  # pairs (or reads) kept: with the primers found, trimmed


def check_primer(name: str, sequence: str) -> str:
    """The primer in upper case; ValueError naming it if it is not IUPAC DNA."""
    seq = sequence.strip().upper()
    if not seq or set(seq) - IUPAC:
        raise ValueError(f"primer {name}: {sequence!r} is not an IUPAC DNA sequence")
    return seq


def cutadapt_version() -> str | None:
    out = version(["cutadapt", "--version"])
    return out.splitlines()[0].strip() if out else None


def _anchored(flag: str, primers: Mapping[str, str]) -> list[str]:
    args: list[str] = []
    for name, seq in primers.items():
        args += [flag, f"{name}=^{check_primer(name, seq)}"]
    return args


def _matches(report: dict, key: str, primers: Mapping[str, str], reads: int) -> list[PrimerMatch]:
    out = []
    for adapter in report.get(key) or []:
        n = int(adapter.get("total_matches") or 0)
        if n and adapter["name"] in primers:
            name = adapter["name"]
            out.append(
                PrimerMatch(
                    name=name,
                    sequence=check_primer(name, primers[name]),
                    reads=n,
                    fraction=round(n / reads, 6) if reads else 0.0,
                )
            )
    return sorted(out, key=lambda m: (-m.reads, m.name))


def detect_primers(
    reads: Sequence[Path],
    forward: Mapping[str, str],
    reverse: Mapping[str, str],
    report: Path,
    *,
    min_fraction: float = 0.5,
    threads: int = 1,
    log: Path | None = None,
) -> PrimerDetection:
    """Which of the known primers start the reads (mate 1: forward, mate 2: reverse; a single-
    end run is searched for forward primers only). cutadapt's JSON report goes to `report`."""
    cmd = ["cutadapt", "-j", max(1, threads), "--no-indels", "--json", report]
    cmd += _anchored("-g", forward)
    paired = len(reads) == 2
    if paired:
        cmd += _anchored("-G", reverse) if reverse else []
        cmd += ["-o", "/dev/null", "-p", "/dev/null", *reads]
    else:
        cmd += ["-o", "/dev/null", *reads]
    with scratch_log(log) as log_path:
        run_logged(cmd, log_path, stdout=Path("/dev/null"))
    data = json.loads(Path(report).read_text())
    n = int(data["read_counts"]["input"])
    fwd = _matches(data, "adapters_read1", forward, n)
    rev = _matches(data, "adapters_read2", reverse, n) if paired else []

    def best(matches: list[PrimerMatch]) -> PrimerMatch | None:
        return matches[0] if matches and matches[0].fraction >= min_fraction else None

    return PrimerDetection(reads=n, forward=best(fwd), reverse=best(rev), candidates=fwd + rev)


def trim_primers(
    reads: Sequence[Path],
    out: Sequence[Path],
    detection: PrimerDetection,
    report: Path,
    *,
    threads: int = 1,
    log: Path | None = None,
) -> TrimReport:
    """Remove the detected primers from the reads' starts; pairs without them are dropped (they
    are not the amplicon). With no primer detected the reads are copied through unchanged."""
    cmd = ["cutadapt", "-j", max(1, threads), "--no-indels", "--json", report]
    if detection.forward:
        cmd += ["-g", f"{detection.forward.name}=^{detection.forward.sequence}"]
    if detection.reverse and len(reads) == 2:
        cmd += ["-G", f"{detection.reverse.name}=^{detection.reverse.sequence}"]
    if detection.found:
        cmd += ["--discard-untrimmed"]
        if len(reads) == 2:
            # both primers found: a pair is kept only with each on its mate ("any" untrimmed
            # mate drops it); one found: the other mate never has one ("both")
            both = detection.forward is not None and detection.reverse is not None
            cmd += ["--pair-filter=any" if both else "--pair-filter=both"]
    cmd += ["-o", out[0]] + (["-p", out[1]] if len(reads) == 2 else []) + list(reads)
    with scratch_log(log) as log_path:
        run_logged(cmd, log_path, stdout=Path("/dev/null"))
    data = json.loads(Path(report).read_text())
    counts = data["read_counts"]
    return TrimReport(reads_in=int(counts["input"]), reads_out=int(counts["output"]))


def primers_fasta(detection: PrimerDetection) -> str:
    """MGnify's primer-identification FASTA: the primers found (`>name` then sequence); the
    reverse primer as given (5'->3' on the reverse strand). Empty when none was found."""
    out = []
    for match in (detection.forward, detection.reverse):
        if match is not None:
            out.append(f">{match.name}\n{match.sequence}\n")
    return "".join(out)


def read_primers_fasta(path: Path) -> dict[str, str]:
    """A primers FASTA (ours, or MGnify's `<run>_primers.fasta`): name -> sequence."""
    primers: dict[str, str] = {}
    name = None
    for line in Path(path).read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            primers[name] = ""
        elif name is not None and line.strip():
            primers[name] += line.strip().upper()
    return {k: v for k, v in primers.items() if re.fullmatch(r"[ACGTRYSWKMBDHVN]+", v)}
