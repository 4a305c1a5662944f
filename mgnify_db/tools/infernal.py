"""Infernal cmsearch: rRNA genes (SSU, LSU, 5S, 5.8S) with Rfam models, kingdom-aware.

Models come as flat Infernal 1.1 CM files (full Rfam `.cm` by config; by default the Rfam rRNA
models that pybarrnap ships cmpress'ed only: prepare_cm turns either into one flat file).
MGnify's way: `cmsearch --hmmonly --cut_ga -Z 1000` (the models' filter HMMs only: with the
CMs E. coli's genome took 57 s, not 9 s), then overlapping hits resolved within Rfam's clans.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import IO

from pydantic import BaseModel

from ..io import open_text, read_fasta, temp_path
from ..proc import run_logged, version

# cmsearch's -Z (search space, Mb): fixed as MGnify does, so an E-value does not depend on the
# size of the assembly it comes from.
CMSEARCH_Z_MB = 1000
# E-value threshold when GA thresholds are not used (cut_ga=False, or a model without GA).
DEFAULT_EVALUE = 1e-5
# Covering less of the model than this marks a hit partial (barrnap's --lencutoff): --hmmonly
# leaves tblout's trunc column "-".
PARTIAL_COVERAGE = 0.8

RRNA_KINDS = ("SSU", "LSU", "5S", "5.8S")
# Rfam clans of rRNA models (CL00111 SSU, CL00112 LSU with 5.8S, CL00113 5S): only hits of one
# clan compete for a stretch of sequence. 5.8S is homologous to the 5' end of prokaryotic LSU.
_CLAN = {"SSU": "CL00111", "LSU": "CL00112", "5.8S": "CL00112", "5S": "CL00113"}
_PRODUCTS = {
    ("SSU", "bac"): "16S ribosomal RNA",
    ("SSU", "arc"): "16S ribosomal RNA",
    ("SSU", "euk"): "18S ribosomal RNA",
    ("SSU", "mito"): "mitochondrial small subunit ribosomal RNA",
    ("SSU", None): "small subunit ribosomal RNA",
    ("LSU", "bac"): "23S ribosomal RNA",
    ("LSU", "arc"): "23S ribosomal RNA",
    ("LSU", "euk"): "28S ribosomal RNA",
    ("LSU", "mito"): "mitochondrial large subunit ribosomal RNA",
    ("LSU", None): "large subunit ribosomal RNA",
}


def rrna_kind(model_name: str) -> str | None:
    """The kind, "SSU", "LSU", "5S" or "5.8S", of Rfam's rRNA models (SSU_rRNA_bacteria, _archaea,
    _eukarya, _microsporidia, SSU_trypano_mito, LSU_..., 5S_rRNA, mtPerm-5S, 5_8S_rRNA);
    None for any other model."""
    if re.match(r"(SSU|LSU)_(rRNA|trypano)", model_name):
        return model_name[:3]
    if model_name in ("5S_rRNA", "mtPerm-5S"):
        return "5S"
    if model_name == "5_8S_rRNA":
        return "5.8S"
    return None


def model_kingdom(model_name: str) -> str | None:
    """The kingdom a model is for, in barrnap's words ("bac", "arc", "euk", "mito"); None for
    models of all kingdoms (5S_rRNA, 5_8S_rRNA) or unknown ones."""
    name = model_name.lower()
    if "mito" in name or name.startswith("mt"):
        return "mito"
    for suffix, kingdom in (
        ("_bacteria", "bac"),
        ("_archaea", "arc"),
        ("_eukarya", "euk"),
        ("_microsporidia", "euk"),
    ):
        if name.endswith(suffix):
            return kingdom
    return None


def rrna_product(kind: str | None, kingdom: str | None) -> str | None:
    """INSDC-style product: "16S ribosomal RNA", "23S ...", "18S ...", "28S ...", "5S ..."."""
    if kind in ("5S", "5.8S"):
        return f"{kind} ribosomal RNA"
    if kind is None:
        return None
    return _PRODUCTS.get((kind, kingdom), _PRODUCTS[(kind, None)])


class CmModel(BaseModel):
    """One covariance model of a flat CM file."""

    name: str
    accession: str | None = None
    description: str | None = None
    clen: int  # consensus length
    ga: float | None = None  # Rfam's gathering threshold (bits)
    checksum: str | None = None
    kind: str | None = None  # rrna_kind
    kingdom: str | None = None  # model_kingdom


def _first_line(fh: IO[str], path: Path) -> str:
    """The first line of a flat Infernal 1.1 CM file; ValueError for anything else."""
    try:
        first = fh.readline()
    except UnicodeDecodeError:  # a binary (cmpress'ed) file
        first = "(binary)"
    if not first.startswith("INFERNAL1/a"):
        raise ValueError(
            f"{path}: not a flat Infernal 1.1 CM file (first line {first[:40]!r}); "
            "prepare_cm converts pressed or older ones"
        )
    return first


def _cm_records(path: Path) -> Iterator[tuple[CmModel, str]]:
    """(model, its text: the CM and its filter HMM) of a flat Infernal 1.1 CM file (or .gz)."""
    with open_text(path) as fh:
        lines = [_first_line(fh, path)]
        for line in fh:
            if line.startswith("INFERNAL1/a"):
                yield _cm_header(lines, path), "".join(lines)
                lines = []
            lines.append(line)
        yield _cm_header(lines, path), "".join(lines)


def _cm_header(lines: list[str], path: Path) -> CmModel:
    """The model of a CM's header lines (those before its `CM` line)."""
    tags: dict[str, str] = {}
    for line in lines[1:]:
        if line.strip() == "CM":  # the model's body starts
            break
        tag, _, value = line.partition(" ")
        tags.setdefault(tag, value.strip())
    if "NAME" not in tags or "CLEN" not in tags:
        raise ValueError(f"{path}: a CM without NAME or CLEN")
    name = tags["NAME"]
    return CmModel(
        name=name,
        accession=tags.get("ACC"),
        description=tags.get("DESC"),
        clen=int(tags["CLEN"]),
        ga=float(tags["GA"]) if "GA" in tags else None,
        checksum=tags.get("CKSUM"),
        kind=rrna_kind(name),
        kingdom=model_kingdom(name),
    )


def cm_models(path: Path) -> list[CmModel]:
    """The models of a flat CM file (plain or gzipped), from their headers only."""
    path = Path(path)
    models = []
    with open_text(path) as fh:
        header: list[str] | None = [_first_line(fh, path)]
        for line in fh:
            if header is None:
                if line.startswith("INFERNAL1/a"):
                    header = [line]
            elif line.strip() == "CM":
                models.append(_cm_header(header, path))
                header = None
            else:
                header.append(line)
    if header is not None:
        raise ValueError(f"{path}: ends inside a CM header")
    return models


def prepare_cm(
    source: Path | Sequence[Path],
    dest: Path,
    *,
    log: Path | None = None,
    keep: Callable[[CmModel], bool] | None = None,
) -> list[CmModel]:
    """One flat Infernal 1.1 CM file `dest` (atomically) from one or more sources, each a flat
    CM file (gzipped or not, any Infernal version) or a cmpress'ed binary `.i1m` (pybarrnap
    ships only those): Infernal's `cmconvert` reads all of them. A model in several sources
    (5S_rRNA is in pybarrnap's bac, arc and euk sets) is kept once; two different models of
    one name are a ValueError. `keep`: which models to write (default all; none kept is a
    ValueError). Returns the models written.
    """
    sources = [Path(source)] if isinstance(source, str | os.PathLike) else [Path(s) for s in source]
    if not sources:
        raise ValueError("prepare_cm needs at least one CM file")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    kept: dict[str, tuple[CmModel, Path]] = {}
    tmp_dest = temp_path(dest)
    try:
        with tempfile.TemporaryDirectory(prefix="mgnify-cm.") as tmp, open(tmp_dest, "w") as out:
            tool_log = Path(log) if log else Path(tmp) / "cmconvert.log"
            for i, src in enumerate(sources):
                flat = Path(tmp) / f"{i}.cm"
                # cmconvert records its command line in the models' COM lines: run where the
                # source is, writing to stdout, so no temp path makes the result differ.
                cmd = ["cmconvert", "-a", src.name]
                run_logged(cmd, tool_log, stdout=flat, cwd=src.resolve().parent)
                for model, text in _cm_records(flat):
                    if keep is not None and not keep(model):
                        continue
                    if model.name in kept:
                        other, where = kept[model.name]
                        if other.checksum != model.checksum or other.clen != model.clen:
                            raise ValueError(
                                f"two different models named {model.name}: in {where} and {src}"
                            )
                        continue
                    kept[model.name] = (model, src)
                    out.write(text)
        if not kept:
            raise ValueError(f"no models to keep in {', '.join(map(str, sources))}")
        os.replace(tmp_dest, dest)
    finally:
        tmp_dest.unlink(missing_ok=True)
    return [model for model, _ in kept.values()]


def prepare_rrna_cm(
    source: Path | Sequence[Path], dest: Path, *, log: Path | None = None
) -> list[CmModel]:
    """prepare_cm keeping only the rRNA models (SSU, LSU, 5S, 5.8S): from a full Rfam.cm, the
    dozen that cmsearch then runs instead of ~4,000."""
    return prepare_cm(source, dest, log=log, keep=lambda model: model.kind is not None)


class RnaHit(BaseModel):
    """One cmsearch hit (a tblout line); start <= end, 1-based, whatever the strand."""

    seqid: str
    model: str
    accession: str | None
    start: int
    end: int
    strand: str
    score: float  # bits
    evalue: float
    truncated: str  # tblout's trunc: "no", "5'", "3'", "5'&3'"; "-" with --hmmonly
    kind: str | None  # rrna_kind(model)
    kingdom: str | None  # model_kingdom(model)
    mdl_from: int
    mdl_to: int
    model_length: int | None = None  # the model's CLEN, when known
    included: bool = True  # tblout's inc "!" (else "?")

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def partial(self) -> bool:
        """Truncated by the sequence end (CM mode), or covering < 80% of the model."""
        if self.truncated not in ("no", "-"):
            return True
        covered = self.mdl_to - self.mdl_from + 1
        return bool(self.model_length) and covered < PARTIAL_COVERAGE * self.model_length

    @property
    def product(self) -> str | None:
        return rrna_product(self.kind, self.kingdom)

    @property
    def region_id(self) -> str:
        """`{seqid}-{model}/{start}-{end}`, `/{end}-{start}` on the minus strand."""
        first, last = (self.end, self.start) if self.strand == "-" else (self.start, self.end)
        return f"{self.seqid}-{self.model}/{first}-{last}"


def parse_tblout(path: Path, model_lengths: Mapping[str, int] | None = None) -> list[RnaHit]:
    """Every hit of a cmsearch `--tblout` file (18 columns), in file order."""
    hits = []
    lengths = model_lengths or {}
    with open_text(path) as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            cols = line.split(maxsplit=17)
            if len(cols) < 17:
                raise ValueError(f"{path}: not a cmsearch tblout line: {line!r}")
            seq_from, seq_to = int(cols[7]), int(cols[8])
            model = cols[2]
            hits.append(
                RnaHit(
                    seqid=cols[0],
                    model=model,
                    accession=None if cols[3] == "-" else cols[3],
                    start=min(seq_from, seq_to),
                    end=max(seq_from, seq_to),
                    strand=cols[9],
                    score=float(cols[14]),
                    evalue=float(cols[15]),
                    truncated=cols[10],
                    kind=rrna_kind(model),
                    kingdom=model_kingdom(model),
                    mdl_from=int(cols[5]),
                    mdl_to=int(cols[6]),
                    model_length=lengths.get(model),
                    included=cols[16] == "!",
                )
            )
    return hits


def _clan(hit: RnaHit) -> str:
    return _CLAN[hit.kind] if hit.kind else f"model:{hit.model}"


def resolve_overlaps(hits: Iterable[RnaHit]) -> list[RnaHit]:
    """Of hits overlapping on one sequence and strand, within one Rfam rRNA clan (SSU; LSU with
    5.8S; 5S), keep the best-scoring one; sorted by seqid, start.

    Several kingdoms' models hit one gene (the bacterial, archaeal and eukaryotic SSU models
    all hit a 16S), and a model also hits pieces of another kingdom's gene. Like MGnify's
    cmsearch-deoverlap --clanin, but only kept hits remove others (its --maxkeep): else the
    yeast 5.8S is lost to a bacterial LSU model's partial hit that itself loses to the 28S.
    Other models' hits are only compared with hits of the same model.
    """
    ranked = sorted(
        hits, key=lambda h: (-h.score, h.evalue, -h.length, h.model, h.seqid, h.start, h.strand)
    )
    kept: dict[tuple[str, str, str], list[RnaHit]] = {}
    for hit in ranked:
        group = kept.setdefault((hit.seqid, hit.strand, _clan(hit)), [])
        if not any(k.start <= hit.end and hit.start <= k.end for k in group):
            group.append(hit)
    return sorted(
        (h for group in kept.values() for h in group),
        key=lambda h: (h.seqid, h.start, h.end, h.strand, h.model),
    )


def _has_sequence(path: Path) -> bool:
    """Whether a (gz) FASTA holds at least one record (reads only up to the first)."""
    with open_text(path) as fh:
        return any(line.startswith(">") for line in fh)


def _write_plain(src: Path, dest: Path) -> None:
    with open_text(src) as fin, open(dest, "w") as fout:
        for line in fin:
            fout.write(line)


def run_cmsearch(
    sequences: Path,
    cm: Path,
    tblout: Path,
    *,
    threads: int = 1,
    hmmonly: bool = True,
    cut_ga: bool = True,
    evalue: float | None = None,
    log: Path | None = None,
) -> list[RnaHit]:
    """cmsearch the (gz) FASTA `sequences` with the flat CM file `cm` (see prepare_cm); write
    its `tblout` (atomically) and return its included hits (not de-overlapped).

    cut_ga: Rfam's GA thresholds (`--cut_ga`) when every model has one; else, or with
    cut_ga=False, `-E`/`--incE` `evalue` (default DEFAULT_EVALUE). E-values are for a fixed
    1000 Mb search space (`-Z`), as MGnify. hmmonly: the models' filter HMMs only (MGnify's
    choice for rRNA: a full CM search takes ~6x longer). cmsearch cannot read gzipped FASTA
    with more than one model, so that is decompressed next to `tblout` first. No sequence:
    cmsearch is not run (it fails on an empty file) and the tblout holds only a comment.
    """
    sequences, cm, tblout = Path(sequences), Path(cm), Path(tblout)
    models = cm_models(cm)
    if not models:
        raise ValueError(f"{cm}: no models")
    tblout.parent.mkdir(parents=True, exist_ok=True)
    if log is not None:
        log = Path(log)
        log.parent.mkdir(parents=True, exist_ok=True)
    if cut_ga and all(m.ga is not None for m in models):
        thresholds = ["--cut_ga"]
    else:
        e = f"{evalue if evalue is not None else DEFAULT_EVALUE:g}"
        thresholds = ["-E", e, "--incE", e]
    tmp_tbl = temp_path(tblout)
    try:
        with tempfile.TemporaryDirectory(prefix="mgnify-cmsearch.") as tmp:
            tool_log = log or Path(tmp) / "cmsearch.log"
            if not _has_sequence(sequences):
                tmp_tbl.write_text(f"# {sequences}: no sequence, cmsearch not run\n")
                with open(tool_log, "a") as fh:
                    fh.write(f"{sequences}: no sequence, cmsearch not run\n")
            else:
                fasta = sequences
                if sequences.suffix == ".gz":
                    fasta = tblout.with_name(f".{tblout.name}.{os.getpid()}.fa")
                    _write_plain(sequences, fasta)
                cmd = ["cmsearch", "--cpu", str(max(1, threads)), "--noali", "-o", os.devnull]
                cmd += ["-Z", str(CMSEARCH_Z_MB), "--tblout", str(tmp_tbl), *thresholds]
                cmd += ["--hmmonly"] if hmmonly else []
                try:
                    run_logged([*cmd, str(cm), str(fasta)], tool_log)
                finally:
                    if fasta != sequences:
                        fasta.unlink(missing_ok=True)
            os.replace(tmp_tbl, tblout)
    finally:
        tmp_tbl.unlink(missing_ok=True)
    lengths = {m.name: m.clen for m in models}
    return [h for h in parse_tblout(tblout, lengths) if h.included]


_COMPLEMENT = str.maketrans("ACGTURYKMBVDHNacgturykmbvdhn", "TGCAAYRMKVBHDNtgcaayrmkvbhdn")


def reverse_complement(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]


def extract_rrna(
    sequences: Path, hits: Iterable[RnaHit], out: Path, kinds: Sequence[str] = ("SSU",)
) -> int:
    """FASTA (gzipped if `.gz`) of the hit regions of `kinds`, minus-strand ones reverse-
    complemented, ids `{seqid}-{model}/{start}-{end}` (`/{end}-{start}` on the minus strand);
    in the order of the sequences, then of starts. Written atomically; returns the count."""
    unknown = set(kinds) - set(RRNA_KINDS)
    if unknown:
        raise ValueError(f"rRNA kinds must be among {RRNA_KINDS}, got {sorted(unknown)}")
    wanted: dict[str, list[RnaHit]] = {}
    for hit in hits:
        if hit.kind in kinds:
            wanted.setdefault(hit.seqid, []).append(hit)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(out)
    count = 0
    try:
        with open_text(tmp, "w") as fh:
            for header, seq in read_fasta(sequences) if wanted else ():
                seqid = header.split(maxsplit=1)[0] if header else ""
                for hit in sorted(wanted.pop(seqid, ()), key=lambda h: (h.start, h.end)):
                    if hit.end > len(seq):
                        raise ValueError(f"{hit.region_id} is beyond {seqid} ({len(seq)} bp)")
                    region = seq[hit.start - 1 : hit.end]
                    region = reverse_complement(region) if hit.strand == "-" else region
                    fh.write(f">{hit.region_id}\n")
                    fh.writelines(region[i : i + 80] + "\n" for i in range(0, len(region), 80))
                    count += 1
                if not wanted:
                    break
        if wanted:
            raise ValueError(f"{sequences} has no sequence {sorted(wanted)[0]} (of a hit)")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return count


def _gff_escape(value: str) -> str:
    """GFF3 column 9 value: ; = & , tab newline and % percent-encoded."""
    return "".join(f"%{ord(c):02X}" if c in ";=&,\t\n%" else c for c in value)


def rrna_gff_lines(hits: Iterable[RnaHit]) -> list[str]:
    """GFF3 lines (source `cmsearch`, type `rRNA`, score = bits) of the rRNA hits."""
    lines = []
    for hit in hits:
        attrs = [("ID", hit.region_id), ("Name", hit.model)]
        if hit.product:
            attrs.append(("product", hit.product))
        if hit.accession:
            attrs.append(("rfam", hit.accession))
        if hit.kingdom:
            attrs.append(("kingdom", hit.kingdom))
        attrs.append(("evalue", f"{hit.evalue:.2g}"))
        if hit.partial:
            attrs.append(("partial", "true"))
        column9 = ";".join(f"{key}={_gff_escape(value)}" for key, value in attrs)
        where = f"{hit.seqid}\tcmsearch\trRNA\t{hit.start}\t{hit.end}"
        lines.append(f"{where}\t{hit.score:.1f}\t{hit.strand}\t.\t{column9}")
    return lines


@lru_cache
def infernal_version() -> str | None:
    """Infernal's version ("1.1.4") from `cmsearch -h`, or None if it cannot be run."""
    match = re.search(r"INFERNAL (\d+(?:\.\d+)+)", version(["cmsearch", "-h"]) or "")
    return match.group(1) if match else None
