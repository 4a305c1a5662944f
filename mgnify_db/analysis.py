"""Contig analysis: CDS prediction (pyrodigal) and rRNA detection (barrnap)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import IO

import pyrodigal
from pydantic import BaseModel

from .assembly import AssemblyStats, open_text, read_fasta
from .qc import run_logged, temp_path

BARRNAP_KINGDOMS = ("bac", "arc", "euk", "mito")
# Contigs handed to the thread pool at a time: bounds memory on large assemblies.
CDS_BATCH = 256


def _batches(items: Iterable, size: int) -> Iterator[list]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def predict_cds(contigs: Path, faa_out: Path, gff_out: Path, *, threads: int = 1) -> int:
    """Predict CDS with pyrodigal in meta mode; write proteins (no trailing '*') and GFF3.

    Input may be plain or gzipped FASTA; outputs are gzipped if named `.gz`. An empty input gives
    0, an empty protein FASTA and a GFF with only its header. Returns the number of CDS.
    """
    finder = pyrodigal.GeneFinder(meta=True)
    count = 0
    for out in (faa_out, gff_out):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    with (
        open_text(faa_out, "w") as faa,
        open_text(gff_out, "w") as gff,
        ThreadPoolExecutor(max_workers=max(1, threads)) as pool,
    ):
        gff.write("##gff-version 3\n")
        index = 0
        for batch in _batches(read_fasta(contigs), CDS_BATCH):
            # find_genes releases the GIL, so threads run contigs in parallel; map keeps order.
            results = pool.map(finder.find_genes, [seq for _, seq in batch])
            for (header, _), genes in zip(batch, results, strict=True):
                index += 1
                seq_id = header.split(maxsplit=1)[0] if header else ""
                count += len(genes)
                _write_genes(genes, seq_id, index, faa, gff)
    return count


# pyrodigal numbers sequences in the order find_genes is called, which threads make random;
# Prodigal's number is the contig's 1-based index in the input, so put that back.
_FAA_SEQNUM = re.compile(r"(# ID=)\d+_")
_GFF_SEQNUM = re.compile(r"(seqnum=)\d+;")


def _write_genes(
    genes: pyrodigal.Genes, seq_id: str, index: int, faa: IO[str], gff: IO[str]
) -> None:
    buf = io.StringIO()
    genes.write_translations(buf, sequence_id=seq_id, include_stop=False)
    faa.write(_FAA_SEQNUM.sub(rf"\g<1>{index}_", buf.getvalue()))
    buf = io.StringIO()
    genes.write_gff(buf, sequence_id=seq_id, header=False, include_translation_table=True)
    gff.write(_GFF_SEQNUM.sub(rf"\g<1>{index};", buf.getvalue()))


class RrnaHit(BaseModel):
    """One barrnap feature."""

    seqid: str
    source: str
    start: int
    end: int
    evalue: float
    strand: str
    attributes: str
    kingdom: str | None = None

    @property
    def name(self) -> str:
        """barrnap's Name attribute, e.g. `16S_rRNA`, `5_8S_rRNA`."""
        match = re.search(r"(?:^|;)Name=([^;]+)", self.attributes)
        return match.group(1) if match else ""

    @property
    def key(self) -> str:
        """Normalised product key: `16S_rRNA` -> `rRNA_16S`, `5_8S_rRNA` -> `rRNA_5_8S`."""
        return "rRNA_" + self.name.removesuffix("_rRNA")

    @property
    def partial(self) -> bool:
        return "(partial)" in self.attributes

    def gff_line(self) -> str:
        attrs = self.attributes
        if self.kingdom and "kingdom=" not in attrs:
            attrs += f";kingdom={self.kingdom}"
        # barrnap puts the e-value in the score column.
        where = f"{self.seqid}\t{self.source}\trRNA\t{self.start}\t{self.end}"
        return f"{where}\t{self.evalue:g}\t{self.strand}\t.\t{attrs}"


def parse_barrnap_gff(path: Path, kingdom: str | None = None) -> list[RrnaHit]:
    """Parse barrnap's GFF3 (score column = e-value)."""
    hits = []
    with open_text(path) as fh:
        for line in fh:
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) != 9:
                raise ValueError(f"{path}: not a 9-column GFF line: {line!r}")
            attrs = cols[8]
            found = re.search(r"(?:^|;)kingdom=([^;]+)", attrs)
            hits.append(
                RrnaHit(
                    seqid=cols[0],
                    source=cols[1],
                    start=int(cols[3]),
                    end=int(cols[4]),
                    evalue=float(cols[5]) if cols[5] != "." else 1.0,
                    strand=cols[6],
                    attributes=attrs,
                    kingdom=kingdom or (found.group(1) if found else None),
                )
            )
    return hits


def merge_rrna_hits(hits: Iterable[RrnaHit]) -> list[RrnaHit]:
    """Keep the best hit (lowest e-value, then longest) among overlapping ones per contig/strand.

    Needed because several kingdom models (e.g. bac and arc 16S) hit the same gene.
    """
    hits = list(hits)
    order = {seqid: i for i, seqid in reversed(list(enumerate(h.seqid for h in hits)))}
    kept: list[RrnaHit] = []
    for hit in sorted(hits, key=lambda h: (h.evalue, -(h.end - h.start))):
        if not any(
            k.seqid == hit.seqid
            and k.strand == hit.strand
            and k.start <= hit.end
            and hit.start <= k.end
            for k in kept
        ):
            kept.append(hit)
    return sorted(kept, key=lambda h: (order[h.seqid], h.start, h.end))


def rrna_counts(hits: Iterable[RrnaHit]) -> dict[str, int]:
    """Counts by normalised product key (only products found)."""
    counts: dict[str, int] = {}
    for hit in hits:
        counts[hit.key] = counts.get(hit.key, 0) + 1
    return dict(sorted(counts.items()))


def _plain_fasta(contigs: Path, tmp_dir: Path) -> Path | None:
    """An uncompressed copy in `tmp_dir` for barrnap; None if it holds no sequence."""
    has_seq = False
    target = tmp_dir / "contigs.fa"
    with open_text(contigs) as fin, open(target, "w") as fout:
        for line in fin:
            has_seq = has_seq or bool(line.strip() and not line.startswith(">"))
            fout.write(line)
    return target if has_seq else None


@lru_cache
def barrnap_version() -> str | None:
    """barrnap's version ("0.9") from `barrnap --version`, or None if it cannot be run."""
    try:
        proc = subprocess.run(["barrnap", "--version"], capture_output=True, text=True)
    except OSError:
        return None
    match = re.search(r"(\d+(?:\.\d+)+)", proc.stdout + proc.stderr)
    return match.group(1) if match else None


def run_barrnap(
    contigs: Path,
    gff_out: Path,
    *,
    kingdoms: Sequence[str] = ("bac", "arc"),
    threads: int = 1,
    evalue: float = 1e-6,
    log: Path,
) -> dict[str, int]:
    """Run barrnap once per kingdom, merge overlapping hits, write one GFF3; return counts.

    Counts are keyed `rRNA_16S`, `rRNA_23S`, `rRNA_5S`, `rRNA_5_8S`, `rRNA_18S`, ... (only those
    found). An input without sequence gives a header-only GFF and {} (barrnap itself would fail).
    """
    unknown = set(kingdoms) - set(BARRNAP_KINGDOMS)
    if unknown or not kingdoms:
        raise ValueError(f"barrnap kingdoms must be among {BARRNAP_KINGDOMS}, got {kingdoms}")
    contigs, gff_out, log = Path(contigs), Path(gff_out), Path(log)
    gff_out.parent.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    hits: list[RrnaHit] = []
    # barrnap 0.9 aborts ("nhmmer failed to run") when any line of nhmmer's output matches
    # /fail|error/i, and that output echoes the working dir and the FASTA path: a project dir
    # called e.g. "test_failed_run" breaks it. So it runs in a system temp dir, on a copy there.
    with tempfile.TemporaryDirectory(prefix="mgnify-barrnap.") as tmp:
        tmp_dir = Path(tmp)
        fasta = _plain_fasta(contigs, tmp_dir)
        if fasta is None:
            with open(log, "a") as fh:
                fh.write(f"{contigs}: no sequence, barrnap not run (nhmmer fails on it)\n")
        opts = ["--threads", str(max(1, threads)), "--evalue", f"{evalue:g}", "--quiet"]
        for kingdom in kingdoms if fasta else ():
            raw = tmp_dir / f"{kingdom}.gff"
            cmd = ["barrnap", "--kingdom", kingdom, *opts, fasta.name]
            run_logged(cmd, log.resolve(), stdout=raw, cwd=tmp_dir)
            hits += parse_barrnap_gff(raw, kingdom)
    merged = merge_rrna_hits(hits)
    tmp_out = temp_path(gff_out)
    with open_text(tmp_out, "w") as fh:
        fh.write("##gff-version 3\n")
        fh.writelines(hit.gff_line() + "\n" for hit in merged)
    os.replace(tmp_out, gff_out)
    return rrna_counts(merged)


class AnalysisSummary(BaseModel):
    """Per-assembly analysis summary (analysis.json)."""

    n_contigs: int
    assembly_length: int
    cds_count: int
    rrna_16s: int = 0
    rrna_23s: int = 0
    rrna_5s: int = 0
    rrna_5_8s: int = 0
    rrna_18s: int = 0
    rrna_28s: int = 0
    rrna_total: int = 0
    rrna_counts: dict[str, int] = {}
    assembler: str | None = None
    assembler_version: str | None = None
    cds_tool: str = "pyrodigal"
    cds_tool_version: str = pyrodigal.__version__
    rrna_tool: str = "barrnap"
    rrna_tool_version: str | None = None


def summarise_analysis(
    cds_count: int,
    rrna_counts: dict[str, int],
    assembly_stats: AssemblyStats,
    *,
    rrna_tool_version: str | None = None,
) -> AnalysisSummary:
    """Combine the CDS count, rRNA counts (as from run_barrnap) and assembly stats.

    `rrna_total` counts every rRNA feature, including kinds without their own field (e.g. 12S).
    """
    return AnalysisSummary(
        n_contigs=assembly_stats.n_contigs,
        assembly_length=assembly_stats.total_length,
        cds_count=cds_count,
        rrna_16s=rrna_counts.get("rRNA_16S", 0),
        rrna_23s=rrna_counts.get("rRNA_23S", 0),
        rrna_5s=rrna_counts.get("rRNA_5S", 0),
        rrna_5_8s=rrna_counts.get("rRNA_5_8S", 0),
        rrna_18s=rrna_counts.get("rRNA_18S", 0),
        rrna_28s=rrna_counts.get("rRNA_28S", 0),
        rrna_total=sum(rrna_counts.values()),
        rrna_counts=dict(rrna_counts),
        assembler=assembly_stats.assembler,
        assembler_version=assembly_stats.assembler_version,
        rrna_tool_version=rrna_tool_version or barrnap_version(),
    )
