"""Host and contaminant removal: reads mapped (minimap2) to labelled references are dropped.

One minimap2 short-read index holds every reference (host genome, phiX, ...); a sidecar JSON
beside it maps each reference sequence back to its label ("host:yeast", "contaminant:phiX"),
so one pass over the reads removes them all and says which reference took how many reads.

minimap2 rather than bowtie2 (or miassembler's bwa-mem2): on 100k simulated 2x150 pairs against
the 12 Mb yeast genome both removed 100 % of the yeast pairs and 0 of the others, but minimap2
indexed in 1 s (bowtie2-build: 23 s) and mapped in 4 s (bowtie2: 22 s) on 2 threads.
"""

from __future__ import annotations

import gzip
import math
import os
import re
import shlex
import shutil
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

from ..io import md5sum, open_text, read_json, write_model
from ..proc import ToolError, log_tail, run_logged, version
from . import attempt_dir, publish_dir
from .fastp import _check_layout

PRESET = "sr"
# minimap2 splits an index every -I bases (default 4G); a multi-part index reports each read
# once per part (unmapped in all but one), which breaks "unmapped = kept". One part, always:
# -I only bounds a batch, memory follows the references' actual size.
SINGLE_PART_INDEX = "100G"
# Counts primary records by reference (RNAME). minimap2 gives an unmapped mate of a mapped read
# its mate's RNAME, so a pair is "*" only when both mates are unmapped: the reads kept.
# mawk has no bitwise and(): flags 0x100 (secondary) and 0x800 (supplementary) by division.
COUNT_BY_REFERENCE = (
    'BEGIN { FS = "\\t" } /^@/ { next } '
    "int($2 / 256) % 2 == 0 && int($2 / 2048) % 2 == 0 { n[$3]++ } "
    'END { for (r in n) print r "\\t" n[r] }'
)
UNMAPPED = "*"
LABEL = re.compile(r"^[^\t\n]+$")


class ReferenceFasta(BaseModel):
    """One FASTA of an index."""

    label: str
    path: str
    md5: str
    n_sequences: int
    bases: int


class IndexInfo(BaseModel):
    """The sidecar of a decontamination index (`<index>.json`)."""

    preset: str = PRESET
    tool: str = "minimap2"
    tool_version: str | None = None
    fastas: list[ReferenceFasta]
    sequences: dict[str, list[str]]  # label -> sequence ids (the first word of each header)

    @property
    def labels(self) -> list[str]:
        return list(self.sequences)

    def label_of(self) -> dict[str, str]:
        """Sequence id -> label."""
        return {seq: label for label, ids in self.sequences.items() for seq in ids}


class DecontamResult(BaseModel):
    """Outcome of decontamination; read counts count both mates of a pair (as fastp does)."""

    reads_in: int
    reads_removed: int
    reads_kept: int
    removed_by_label: dict[str, int]  # every label of the index, 0 when it took nothing
    kept_ratio: float
    references: list[str]
    paired: bool
    tool: str = "minimap2"
    tool_version: str | None = None


class DecontamGate(BaseModel):
    """miassembler's short-read gates (v3.0.3 `short_reads_filter_ratio_threshold` and
    `short_reads_low_reads_count_threshold`), applied to the reads left after decontamination."""

    min_kept_ratio: float = 0.1
    min_reads: int = 1000


DEFAULT_GATE = DecontamGate()


@lru_cache
def minimap2_version() -> str | None:
    """minimap2's version ("2.24-r1122"), or None if it cannot be run."""
    return version(["minimap2", "--version"])


def sidecar_path(index: Path) -> Path:
    """`<index>.json`: the labels, sequence ids and FASTA md5s of an index."""
    index = Path(index)
    return index.with_name(index.name + ".json")


def read_index_info(index: Path) -> IndexInfo:
    """The sidecar of `index`; ValueError if it is missing or names no reference sequence."""
    data = read_json(sidecar_path(index))
    if data is None:
        raise ValueError(f"{index} has no sidecar {sidecar_path(index)}: not built by us")
    info = IndexInfo.model_validate(data)
    if not any(info.sequences.values()):
        raise ValueError(f"decontamination index {index} holds no reference sequence")
    return info


def _copy_fasta(
    src: Path, label: str, out, seen: dict[str, str]
) -> tuple[ReferenceFasta, list[str]]:
    """Append a (gz) FASTA to `out`; its record and sequence ids (unique across all FASTAs)."""
    ids: list[str] = []
    bases = 0
    with open_text(src) as fh:
        for line in fh:
            if line.startswith(">"):
                words = line[1:].split()
                if not words:
                    raise ValueError(f"{src}: a FASTA header without a name")
                seq_id = words[0]
                if seq_id in seen:
                    raise ValueError(
                        f"sequence {seq_id} is in both {seen[seq_id]} and {src}: "
                        "its reads could not be told apart"
                    )
                seen[seq_id] = str(src)
                ids.append(seq_id)
            elif not ids and line.strip():
                raise ValueError(f"{src} is not a FASTA file (no '>' before the first sequence)")
            else:
                bases += len(line.strip())
            out.write(line if line.endswith("\n") else line + "\n")
    if not ids:
        raise ValueError(f"{src} holds no sequence")
    ref = ReferenceFasta(
        label=label, path=str(src), md5=md5sum(src), n_sequences=len(ids), bases=bases
    )
    return ref, ids


def index_references(
    fastas: Sequence[tuple[str, Path]], out: Path, *, threads: int = 1, log: Path | None = None
) -> IndexInfo:
    """Build one minimap2 short-read index (`out`, e.g. `refs.mmi`) of labelled FASTAs (gz ok).

    `fastas` are (label, path); a label may name several files. The sidecar `<out>.json`
    (IndexInfo) maps labels to sequence ids and records each FASTA's md5. Both are written
    under temp names and renamed, the sidecar last (its old copy removed first): an index
    without a sidecar is one being rebuilt. ValueError without references, for an empty or
    non-FASTA file, or a sequence id found in two files.
    """
    if not fastas:
        raise ValueError("no reference FASTA to index")
    for label, _ in fastas:
        if not LABEL.match(label or ""):
            raise ValueError(f"invalid reference label {label!r}")
    out = Path(out)
    with attempt_dir(out.parent, out.name) as work:
        log = Path(log) if log is not None else work / "index.log"
        combined, seen = work / "references.fa", {}
        refs: list[ReferenceFasta] = []
        sequences: dict[str, list[str]] = {}
        with open(combined, "w") as fh:
            for label, path in fastas:
                ref, ids = _copy_fasta(Path(path), label, fh, seen)
                refs.append(ref)
                sequences.setdefault(label, []).extend(ids)
        tmp_index = work / "index.mmi"
        cmd = ["minimap2", "-x", PRESET, "-I", SINGLE_PART_INDEX, "-t", str(max(1, threads))]
        run_logged([*cmd, "-d", tmp_index, combined], log)
        info = IndexInfo(tool_version=minimap2_version(), fastas=refs, sequences=sequences)
        sidecar = sidecar_path(out)
        sidecar.unlink(missing_ok=True)
        os.replace(tmp_index, out)
        write_model(sidecar, info)
    return info


def _pipeline(
    reads: Sequence[Path], index: Path, out_reads: Sequence[Path], work: Path, threads: int
) -> tuple[str, Path]:
    """The bash script mapping reads and writing the kept ones; and its per-reference counts."""
    fifo, counts = work / "sam.fifo", work / "counts.tsv"
    os.mkfifo(fifo)
    mapper = ["minimap2", "-ax", PRESET, "--secondary=no", "-t", str(max(1, threads))]
    mapper += [str(index), *map(str, reads)]
    # Kept: unmapped primary reads, and for pairs only those whose mate is unmapped too (0x4 +
    # 0x8); secondary and supplementary records (0x900) are never reads.
    fastq = ["samtools", "fastq", "-F", "0x900", "-c", "4"]
    if len(reads) == 2:
        fastq += ["-f", "12", "-1", out_reads[0], "-2", out_reads[1], "-0", "/dev/null"]
    else:
        fastq += ["-f", "4", "-0", out_reads[0]]
    fastq += ["-s", "/dev/null", "-"]
    q = shlex.quote
    script = "\n".join(
        [
            # One pass over the SAM stream: tee feeds the counter through a FIFO, no SAM on disk.
            f"awk {q(COUNT_BY_REFERENCE)} < {q(str(fifo))} > {q(str(counts))} &",
            "counter=$!",
            f"{shlex.join(mapper)} | tee {q(str(fifo))} | {shlex.join(map(str, fastq))}",
            "status=$?",
            'wait "$counter"',
            "counted=$?",
            '[ "$status" -ne 0 ] && exit "$status"',
            'exit "$counted"',
        ]
    )
    return script, counts


def run_pipeline(script: str, log: Path, name: str) -> None:
    """Run a bash script (a pipeline) via run_logged; its ToolError names `name`, not bash."""
    try:
        run_logged(["bash", "-c", "set -o pipefail\n" + script], log)
    except ToolError as e:
        raise ToolError(
            f"{name} failed with exit code {e.returncode}; last lines of {log}:\n{log_tail(log)}",
            e.returncode,
        ) from e


def _read_counts(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in Path(path).read_text().splitlines():
        ref, _, n = line.rpartition("\t")
        counts[ref] = counts.get(ref, 0) + int(n)
    return counts


def _ensure_gzip(path: Path) -> None:
    # samtools writes no file at all when no read is kept; an empty gzip is a valid "no reads".
    if not path.exists() or path.stat().st_size == 0:
        with gzip.open(path, "wb"):
            pass


def decontaminate(
    reads: Sequence[Path],
    index: Path,
    out_dir: Path,
    *,
    threads: int = 1,
    log: Path | None = None,
) -> DecontamResult:
    """Remove reads that map to the index's references; write the rest into `out_dir`.

    `reads`: 1 file (single-end) or 2 (paired). A pair is removed when either mate maps.
    `out_dir` gets reads_1.fastq.gz (+ reads_2.fastq.gz), named as fastp's QC output so the
    next step takes either, and decontam.json (the DecontamResult). Written in a fresh temp dir
    beside it and renamed to `out_dir` on success, under the lock `.<out_dir name>.lock`.
    ValueError for an index without references (skip the step instead); ToolError if a tool
    fails.
    """
    _check_layout(reads)
    info = read_index_info(index)
    label_of = info.label_of()
    out_dir = Path(out_dir)
    with attempt_dir(out_dir.parent, out_dir.name) as work:
        # A stale result from an earlier attempt must not outlive a failed retry.
        shutil.rmtree(out_dir, ignore_errors=True)
        if log is None:
            log = work / "decontam.log"
        log = Path(log)
        log.parent.mkdir(parents=True, exist_ok=True)
        out_reads = [work / f"reads_{i}.fastq.gz" for i in range(1, len(reads) + 1)]
        script, counts_path = _pipeline(reads, index, out_reads, work, threads)
        run_pipeline(script, log, "minimap2 | samtools fastq")
        counts = _read_counts(counts_path)
        for path in (counts_path, work / "sam.fifo", work / "decontam.log"):
            path.unlink(missing_ok=True)
        for path in out_reads:
            _ensure_gzip(path)
        removed = dict.fromkeys(info.labels, 0)
        for ref, n in counts.items():
            if ref == UNMAPPED:
                continue
            if ref not in label_of:
                raise ToolError(f"minimap2 mapped reads to {ref}, which {index}'s sidecar lacks")
            removed[label_of[ref]] += n
        reads_in = sum(counts.values())
        kept = counts.get(UNMAPPED, 0)
        result = DecontamResult(
            reads_in=reads_in,
            reads_removed=reads_in - kept,
            reads_kept=kept,
            removed_by_label=removed,
            kept_ratio=kept / reads_in if reads_in else 0.0,
            references=info.labels,
            paired=len(reads) == 2,
            tool_version=minimap2_version(),
        )
        write_model(work / "decontam.json", result)
        publish_dir(work, out_dir)
    return result


def check_gates(
    result: DecontamResult,
    *,
    min_kept_ratio: float = DEFAULT_GATE.min_kept_ratio,
    min_reads: int = DEFAULT_GATE.min_reads,
) -> str | None:
    """Why the decontaminated reads should not be assembled, or None when they pass.

    miassembler's gates with its defaults (10 % of reads kept, 1000 reads), and its reason
    codes (`filter_ratio_threshold_exceeded`, `low_reads_count`) leading each reason. Limits
    are inclusive, as fastp.qc_gate's: exactly `min_reads` reads pass (miassembler fails them).
    """
    if result.reads_in == 0:
        return "low_reads_count: no reads in the input"
    reasons = []
    if result.reads_kept < min_reads:
        reasons.append(
            f"low_reads_count: {result.reads_kept} reads left after decontamination (< {min_reads})"
        )
    # isclose: 100 of 1000 reads kept is exactly 10 %, whatever the float division gives.
    ratio = result.kept_ratio
    if ratio < min_kept_ratio and not math.isclose(ratio, min_kept_ratio):
        reasons.append(
            f"filter_ratio_threshold_exceeded: {result.kept_ratio:.1%} of reads kept after "
            f"decontamination (< {min_kept_ratio:.0%})"
        )
    return "; ".join(reasons) or None
