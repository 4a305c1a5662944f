"""Reference databases: fetched from config `references:` (a URL or a path, checksum checked) and
built into <results_dir>/references/ by the `reference_*` rules, each with a `reference.json`
saying what it was built from. Analyses record those manifests, so a result names its databases.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import shutil
import tarfile
import tempfile
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import requests
from pydantic import BaseModel

from .config import GenomeSource, Kraken2Reference, Source
from .io import now, read_json, temp_path, write_json
from .proc import ToolError

log = logging.getLogger(__name__)

MANIFEST = "reference.json"
CHUNK = 1 << 20


class FetchedFile(BaseModel):
    """A source as fetched: where from, its size and checksums."""

    location: str
    bytes: int
    sha256: str
    md5: str


class Manifest(BaseModel):
    """`reference.json` beside a built database."""

    reference: str  # pfam, rfam, ssu, lsu, kraken2, decontamination
    sources: list[FetchedFile]
    built: str  # UTC time
    details: dict = {}


def manifest_path(built: Path) -> Path:
    """The manifest of a database whose main file (or directory) is `built`."""
    return built.parent / MANIFEST


def read_manifest(built: Path) -> Manifest | None:
    data = read_json(manifest_path(built))
    return Manifest.model_validate(data) if data else None


def _open_source(source: Source, timeout: float) -> Iterator[bytes]:
    if source.path is not None:
        path = Path(source.path)
        if not path.is_file():
            raise ToolError(f"reference {path}: file not found")
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk
        return
    url = str(source.url)
    if url.startswith("file://"):
        yield from _open_source(Source(path=urllib.parse.urlparse(url).path), timeout)
        return
    if url.startswith("ftp://"):
        from urllib.request import urlopen

        with urlopen(url, timeout=timeout) as resp:  # ftp: what requests cannot fetch
            while chunk := resp.read(CHUNK):
                yield chunk
        return
    try:
        with requests.get(url, stream=True, timeout=timeout) as resp:
            resp.raise_for_status()
            yield from resp.iter_content(CHUNK)
    except requests.RequestException as e:
        raise ToolError(f"reference {url}: {e}") from None


def fetch(source: Source, dest: Path, *, timeout: float = 60.0, attempts: int = 3) -> FetchedFile:
    """Copy or download `source` to `dest` (atomically) and check its checksum; a mismatch is
    fetched again, up to `attempts` times, then a ToolError naming the source."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    problem = ""
    for _ in range(max(1, attempts)):
        tmp = temp_path(dest)
        sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
        try:
            with open(tmp, "wb") as out:
                for chunk in _open_source(source, timeout):
                    out.write(chunk)
                    sha.update(chunk)
                    md5.update(chunk)
                    size += len(chunk)
            got = FetchedFile(
                location=source.location, bytes=size, sha256=sha.hexdigest(), md5=md5.hexdigest()
            )
            wanted = {k: getattr(source, k) for k in ("sha256", "md5") if getattr(source, k)}
            bad = [k for k, v in wanted.items() if getattr(got, k) != v]
            if not bad:
                tmp.replace(dest)
                return got
            problem = ", ".join(f"{k} {getattr(got, k)} is not {wanted[k]}" for k in bad)
            if source.path is not None:
                break  # a local file does not change by reading it again
        finally:
            tmp.unlink(missing_ok=True)
    raise ToolError(f"reference {source.location}: {problem}")


def gunzipped(path: Path) -> Path:
    """`path` itself, or its gunzipped copy beside it (`.gz` dropped) when it is gzip."""
    with open(path, "rb") as fh:
        if fh.read(2) != b"\x1f\x8b":
            return path
    plain = path.with_name(path.name.removesuffix(".gz") + ("" if path.suffix == ".gz" else ".u"))
    with gzip.open(path, "rb") as src, open(plain, "wb") as out:
        shutil.copyfileobj(src, out, CHUNK)
    return plain


@contextmanager
def _workdir(near: Path) -> Iterator[Path]:
    near.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=near.parent, prefix=f".{near.name}.") as tmp:
        yield Path(tmp)


def _publish_file(src: Path, dest: Path) -> None:
    tmp = temp_path(dest)
    shutil.move(src, tmp)
    tmp.replace(dest)


def _write_manifest(built: Path, reference: str, sources: list[FetchedFile], **details) -> Manifest:
    m = Manifest(reference=reference, sources=sources, built=now(), details=details)
    write_json(manifest_path(built), m.model_dump(mode="json"))
    return m


def _name_for(source: Source, default: str) -> str:
    tail = Path(urllib.parse.urlparse(source.location).path).name
    return tail or default


def build_pfam(source: Source, out: Path, *, cutoff: str = "gathering") -> Manifest:
    """The protein-domain HMMs (Pfam-A in production) as one plain HMMER3 file; with the
    gathering cutoff every model must carry GA thresholds (checked now, not per run)."""
    from .tools.hmmer import hmm_set_info

    with _workdir(out) as work:
        fetched = fetch(source, work / _name_for(source, "pfam.hmm"))
        plain = gunzipped(work / _name_for(source, "pfam.hmm"))
        info = hmm_set_info(plain)
        if cutoff == "gathering" and info.n_with_gathering < info.n_models:
            raise ToolError(
                f"reference {source.location}: {info.n_models - info.n_with_gathering} of"
                f" {info.n_models} models have no GA cutoff (set tools.pfam.cutoff: evalue)"
            )
        _publish_file(plain, out)
    return _write_manifest(out, "pfam", [fetched], **info.model_dump(mode="json"))


def build_rfam(source: Source, out: Path) -> Manifest:
    """The rRNA covariance models (SSU, LSU, 5S, 5.8S) as a flat CM file for cmsearch."""
    from .tools.infernal import prepare_rrna_cm

    with _workdir(out) as work:
        fetched = fetch(source, work / _name_for(source, "rfam.cm"))
        models = prepare_rrna_cm(work / _name_for(source, "rfam.cm"), out)
    return _write_manifest(
        out, "rfam", [fetched], models=[m.model_dump(mode="json") for m in models]
    )


def build_rrna_reference(source: Source, out: Path, name: Literal["ssu", "lsu"]) -> Manifest:
    """An rRNA reference with lineages (`name`: ssu or lsu) in SINTAX format."""
    from .tools.sintax import prepare_reference

    with _workdir(out) as work:
        fetched = fetch(source, work / _name_for(source, f"{name}.fasta"))
        info = prepare_reference(work / _name_for(source, f"{name}.fasta"), out)
    return _write_manifest(out, name, [fetched], **info.model_dump(mode="json"))


def _dmp_cells(raw: bytes) -> list[str]:
    """The cells of a taxdump line (`a\t|\tb\t|\n`)."""
    return raw.decode().rstrip("\n").removesuffix("\t|").split("\t|\t")


def taxonomy_table(path: Path, out: Path) -> None:
    """Write the taxonomy TSV (taxid, parent, rank, name) from a TSV or NCBI's taxdump .tar.gz
    (nodes.dmp + names.dmp, scientific names)."""
    if not tarfile.is_tarfile(path):
        shutil.copyfile(gunzipped(path), out)
        return
    with tarfile.open(path) as tar:
        members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
        if not {"nodes.dmp", "names.dmp"} <= set(members):
            raise ToolError(f"{path}: a taxdump needs nodes.dmp and names.dmp")
        names: dict[str, str] = {}
        with tar.extractfile(members["names.dmp"]) as fh:  # type: ignore[union-attr]
            for raw in fh:
                cells = _dmp_cells(raw)
                if len(cells) >= 4 and cells[3].startswith("scientific name"):
                    names[cells[0]] = cells[1]
        with tar.extractfile(members["nodes.dmp"]) as fh, open(out, "w") as dest:  # type: ignore[union-attr]
            dest.write("#taxid\tparent\trank\tname\n")
            for raw in fh:
                cells = _dmp_cells(raw)
                dest.write(f"{cells[0]}\t{cells[1]}\t{cells[2]}\t{names.get(cells[0], '')}\n")


def build_kraken2(ref: Kraken2Reference, out: Path, *, threads: int = 1, log_file=None) -> Manifest:
    """The kraken2 database (directory `out`) built from the configured genomes, with the
    taxonomy table beside its files (lineages are named from it)."""
    from .tools.kraken2 import Taxonomy, build_database

    with _workdir(out) as work:
        fetched = [fetch(ref.taxonomy, work / "taxonomy.src")]
        taxonomy_table(work / "taxonomy.src", work / "taxonomy.tsv")
        taxonomy = Taxonomy.load(work / "taxonomy.tsv")
        genomes: list[tuple[Path, int]] = []
        for i, g in enumerate(ref.genomes):
            path = work / f"genome{i}.fna.gz"
            fetched.append(fetch(g, path))
            genomes.append((path, g.taxid))
        if missing := sorted({g.taxid for g in ref.genomes} - set(taxonomy.taxids())):
            raise ToolError(f"references.kraken2: taxids {missing} are not in the taxonomy")
        info = build_database(genomes, taxonomy, out, threads=threads, log=log_file)
        shutil.copyfile(work / "taxonomy.tsv", out / "taxonomy.tsv")
    return _write_manifest(out, "kraken2", fetched, **info.model_dump(mode="json"))


def decontamination_key(names: Sequence[str]) -> str:
    """The `{genomes}` wildcard of a set of decontamination genomes."""
    return "+".join(sorted(names))


def build_decontamination(
    genomes: dict[str, Source], names: Sequence[str], out: Path, *, threads: int = 1, log_file=None
) -> Manifest:
    """One minimap2 index of the genomes `names` (hosts and contaminants removed together)."""
    from .tools.decontam import index_references

    unknown = [n for n in names if n not in genomes]
    if unknown:
        raise ToolError(f"references.decontamination.genomes has no {', '.join(unknown)}")
    with _workdir(out) as work:
        fetched, fastas = [], []
        for name in sorted(names):
            path = work / f"{name}.fa.gz"
            fetched.append(fetch(genomes[name], path))
            fastas.append((name, path))
        info = index_references(fastas, out, threads=threads, log=log_file)
    return _write_manifest(out, "decontamination", fetched, genomes=sorted(names), **_dump(info))


def _dump(model: BaseModel | None) -> dict:
    return model.model_dump(mode="json") if model is not None else {}


__all__ = [
    "FetchedFile",
    "GenomeSource",
    "Manifest",
    "build_decontamination",
    "build_kraken2",
    "build_pfam",
    "build_rfam",
    "build_rrna_reference",
    "decontamination_key",
    "fetch",
    "read_manifest",
]
