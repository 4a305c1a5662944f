"""Reads of one demo run: ART per genome, shuffled, renamed, written as gzipped FASTQ."""

from __future__ import annotations

import gzip
import io
import random
import shutil
from pathlib import Path
from typing import Any

from ...io import md5sum
from ..mirror import PLACEHOLDER, fastq_dir
from .errors import DemoBuildError, run_tool
from .spec import DemoSpec

Read = tuple[str, str, str]  # name, sequence, quality


def _parse_fastq(path: Path) -> list[Read]:
    lines = path.read_text().splitlines()
    return [(lines[i][1:], lines[i + 1], lines[i + 3]) for i in range(0, len(lines) - 3, 4)]


def art(
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
    run_tool(
        cmd,
        workdir,
        workdir / "art.log",
        "ART read simulation failed",
        "install art-nextgen-simulation-tools",
    )
    if paired:
        r1, r2 = _parse_fastq(workdir / "art_1.fq"), _parse_fastq(workdir / "art_2.fq")
        if len(r1) != len(r2):
            raise DemoBuildError(f"ART wrote {len(r1)} R1 but {len(r2)} R2 reads for {fasta}")
        return list(zip(r1, r2, strict=True))
    return [(r,) for r in _parse_fastq(workdir / "art_.fq")]


def write_fastq_gz(path: Path, reads: list[Read]) -> None:
    """Gzip (mtime 0, no file name) so the bytes depend only on the reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw, gzip.GzipFile("", "wb", 1, raw, mtime=0) as gz:
        buf = io.StringIO()
        for i, (name, seq, qual) in enumerate(reads, 1):
            buf.write(f"@{name}\n{seq}\n+\n{qual}\n")
            if i % 20000 == 0:
                gz.write(buf.getvalue().encode())
                buf = io.StringIO()
        gz.write(buf.getvalue().encode())


def _amount(run: dict[str, Any], key: str, scale: float) -> tuple[float | None, int | None]:
    """(coverage, fixed read count) of one genome in a run."""
    if key in run.get("reads", {}):
        return None, int(run["reads"][key])
    return float(run["coverage"][key]) * (1.0 if run.get("unscaled") else scale), None


def simulate_run(
    spec: DemoSpec,
    run: dict[str, Any],
    genome_files: dict[str, Path],
    out: Path,
    work: Path,
    scale: float,
) -> dict[str, str]:
    """Simulate, shuffle and write one run; return its ENA read_run record (without metadata).

    Also writes ``out/truth/{run}.tsv``: reads per genome.
    """
    if "amplicons" in run:
        from .amplicons import simulate_amplicon_run

        return simulate_amplicon_run(spec, run, genome_files, out, work)
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
        simulated = art(
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
    return write_run(acc, [reads[j] for j in order], out, truth, paired=paired)


def write_run(
    acc: str, reads: list[tuple[Read, ...]], out: Path, truth: list[str], *, paired: bool
) -> dict[str, str]:
    """Write a run's reads (in this order, renamed `<run>.<n>`) and its truth table
    (``out/truth/{run}.tsv``); return its ENA read_run record (without metadata)."""
    n_mates = 2 if paired else 1
    rel_dir = fastq_dir(acc)
    names = [f"{acc}_{m}.fastq.gz" for m in (1, 2)] if paired else [f"{acc}.fastq.gz"]
    for mate, fname in enumerate(names):
        renamed = [
            (f"{acc}.{n} {read[mate][0]}", read[mate][1], read[mate][2])
            for n, read in enumerate(reads, 1)
        ]
        write_fastq_gz(out / rel_dir / fname, renamed)
    (out / "truth").mkdir(exist_ok=True)
    (out / "truth" / f"{acc}.tsv").write_text("\n".join(truth) + "\n")
    files = [out / rel_dir / f for f in names]
    return {
        "read_count": str(len(reads)),
        "base_count": str(sum(len(mate[1]) for pair in reads for mate in pair[:n_mates])),
        "fastq_ftp": ";".join(f"{PLACEHOLDER}/{rel_dir}/{f}" for f in names),
        "fastq_md5": ";".join(md5sum(p) for p in files),
        "fastq_bytes": ";".join(str(p.stat().st_size) for p in files),
    }


def art_amplicon(
    sequence: str, name: str, workdir: Path, *, pairs: int, seed: int, sim: dict[str, Any]
) -> list[tuple[Read, Read]]:
    """`pairs` read pairs of one amplicon with ART's amplicon mode (both mates start at the
    amplicon's ends: the first with the forward primer, the second with the reverse one)."""
    fasta = workdir / "amplicon.fa"
    fasta.write_text(f">{name}\n{sequence}\n")
    cmd = ["art_illumina", "-amp", "-p", "-na", "-ss", str(sim["art_profile"])]
    cmd += ["-l", str(sim["read_length"]), "-c", str(pairs), "-i", str(fasta)]
    cmd += ["-rs", str(seed), "-o", str(workdir / "art_")]
    run_tool(
        cmd,
        workdir,
        workdir / "art.log",
        "ART amplicon simulation failed",
        "install art-nextgen-simulation-tools",
    )
    r1, r2 = _parse_fastq(workdir / "art_1.fq"), _parse_fastq(workdir / "art_2.fq")
    shutil.rmtree(workdir)
    if len(r1) != len(r2) or len(r1) != pairs:
        raise DemoBuildError(f"ART wrote {len(r1)}/{len(r2)} reads for {pairs} pairs of {name}")
    return list(zip(r1, r2, strict=True))
