"""barrnap: rRNA genes on contigs, once per kingdom, overlapping hits merged."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

from ..io import open_text, temp_path
from ..proc import run_logged, version

BARRNAP_KINGDOMS = ("bac", "arc", "euk", "mito")


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

    @property
    def product(self) -> str:
        """barrnap's product attribute without its `(partial)` mark, e.g. `16S ribosomal RNA`."""
        match = re.search(r"(?:^|;)product=([^;]+)", self.attributes)
        return match.group(1).replace("(partial)", "").strip() if match else ""

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


class RrnaKind(BaseModel):
    """One kind of rRNA gene found, and how many times."""

    name: str  # barrnap's Name, e.g. `16S_rRNA`
    product: str  # e.g. `16S ribosomal RNA` (partial genes are counted with whole ones)
    count: int


def rrna_kinds(hits: Iterable[RrnaHit]) -> list[RrnaKind]:
    """One entry per rRNA kind (barrnap's Name) among `hits`, most frequent first, then by name.

    Count the merged hits (merge_rrna_hits) for genes; per kind they match rrna_counts.
    """
    counts: dict[str, int] = {}
    products: dict[str, str] = {}
    for hit in hits:
        counts[hit.name] = counts.get(hit.name, 0) + 1
        if not products.get(hit.name):
            products[hit.name] = hit.product
    return [
        RrnaKind(name=name, product=products[name], count=n)
        for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


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
    match = re.search(r"(\d+(?:\.\d+)+)", version(["barrnap", "--version"]) or "")
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
    try:
        with open_text(tmp_out, "w") as fh:
            fh.write("##gff-version 3\n")
            fh.writelines(hit.gff_line() + "\n" for hit in merged)
        os.replace(tmp_out, gff_out)
    finally:
        tmp_out.unlink(missing_ok=True)
    return rrna_counts(merged)
