"""The assembly science, timed and scored: the demo's science study (PRJEB00002) run with the
local executor, then per job its wall time and peak memory (Snakemake's benchmark files), and
every fidelity figure against the community's known truth.

Baseline, measured in the same run: MEGAHIT alone (same reads, same k-list and threads) against
the `assembly_megahit` job (MEGAHIT + contig renaming + coverage), and the sum of the jobs'
times against the workflow's wall time (what Snakemake and our steps add).

    bench/run science [--no-write]
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from support import SCIENCE_STUDY, snakemake, studies_dir, write_workdir  # noqa: E402

from mgnify_db.dev import score  # noqa: E402
from mgnify_db.dev.demo import build_demo  # noqa: E402
from mgnify_db.dev.mirror import MirrorServer  # noqa: E402
from mgnify_db.io import read_fasta  # noqa: E402

RESULTS_MD = Path(__file__).with_name("RESULTS.md")
HEAD = "## Assembly science"
RUN = "ERR0000201"
# genome accession -> (name, coverage, true genus, in the kraken2 database)
TRUTH = {
    "NC_001416.1": ("lambda", 40, "g__Lambdavirus", True),
    "CP002683.1": ("T. indicus", 12, "g__Thermodesulfatator", True),
    "NZ_LN831026.1": ("C. diphtheriae", 6, "g__Corynebacterium", False),
}
HOST = "S288C"


def jobs(benchmarks: Path) -> list[tuple[str, str, float, float]]:
    """(rule, what, wall s, peak RSS MB) of every job's benchmark file."""
    out = []
    for tsv in sorted(benchmarks.rglob("*.tsv")):
        rows = tsv.read_text().splitlines()
        cells = dict(zip(rows[0].split("\t"), rows[-1].split("\t"), strict=False))
        rss = float(cells["max_rss"]) if cells.get("max_rss", "NA") != "NA" else 0.0
        what = str(tsv.relative_to(benchmarks / tsv.relative_to(benchmarks).parts[0]))
        out.append((tsv.relative_to(benchmarks).parts[0], what[:-4], float(cells["s"]), rss))
    return out


def bare_megahit(reads_dir: Path, tmp: Path) -> float:
    reads = sorted(reads_dir.glob("reads_*.fastq.gz"))
    t0 = time.monotonic()
    subprocess.run(
        ["megahit", "-1", reads[0], "-2", reads[1], "-o", tmp / "megahit", "-t", "2"]
        + ["--k-list", "21,41,61,81,99", "--min-contig-len", "500"],
        check=True,
        capture_output=True,
    )
    return time.monotonic() - t0


def fidelity(work: Path, data: Path, tmp: Path) -> list[str]:
    run_dir = work / "results" / "studies" / SCIENCE_STUDY / "runs" / RUN
    genomes = {a: data / "truth" / "genomes" / f"{a}.fna.gz" for a in [*TRUTH, HOST]}
    lines = []
    seq_genome = {sid: a for a, p in genomes.items() for sid in score.sequence_ids(p)}
    qc = score.reads_by_origin(run_dir / "qc" / "reads_1.fastq.gz", seq_genome)
    kept = score.reads_by_origin(run_dir / "decontamination" / "reads_1.fastq.gz", seq_genome)
    community = sum(v for k, v in qc.items() if k != HOST)
    lines.append(
        f"decontamination: host pairs removed {1 - kept.get(HOST, 0) / qc[HOST]:.4f} "
        f"(of {qc[HOST]}), community pairs removed "
        f"{1 - sum(v for k, v in kept.items() if k != HOST) / community:.5f} (of {community})"
    )
    contigs = run_dir / "assembly" / "megahit" / "contigs.fa.gz"
    aln = score.align_contigs(contigs, {a: genomes[a] for a in TRUTH}, tmp / "c.paf")
    lengths = {a: sum(len(s) for _, s in read_fasta(genomes[a])) for a in TRUTH}
    for a, s in score.genome_fractions(aln, lengths).items():
        lines.append(
            f"genome fraction {TRUTH[a][0]} ({TRUTH[a][1]}x): {s.fraction:.4f} in {s.contigs}"
            " contigs"
        )
    lines.append(f"chimeric contigs > 10 kb: {len(score.chimeras(aln))}")
    with gzip.open(run_dir / "analysis" / "contig_taxonomy.tsv.gz", "rt") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        rows = [dict(zip(header, ln.rstrip("\n").split("\t"), strict=True)) for ln in fh]
    tax = score.taxonomy_scores(
        rows, score.contig_genomes(aln), {a: t[2] for a, t in TRUTH.items()}
    )
    for a, s in tax.items():
        lines.append(
            f"contig taxonomy {TRUTH[a][0]} ({'in' if TRUTH[a][3] else 'absent from'} the DB): "
            f"right genus {s.right_fraction:.4f}, wrong genus {s.wrong_fraction:.4f}, above genus "
            f"{s.above / s.bases:.4f}, unclassified {s.unclassified / s.bases:.4f} of {s.bases} bp"
        )
    spades = run_dir.parent / "ERR0000202" / "assembly" / "metaspades" / "contigs.fa.gz"
    lam = "NC_001416.1"
    aln = score.align_contigs(spades, {lam: genomes[lam]}, tmp / "s.paf")
    frac = score.genome_fractions(aln, {lam: lengths[lam]})[lam].fraction
    lines.append(f"metaSPAdes genome fraction lambda (30x, ERR0000202): {frac:.4f}")
    return lines


def write_results(lines: list[str]) -> None:
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# Benchmark results\n"
    section = f"{HEAD}\n\nWritten by `bench/run science` ({time.strftime('%Y-%m-%d %H:%M')} UTC)."
    section += "\n\n```\n" + "\n".join(lines) + "\n```\n"
    if HEAD + "\n" in text:
        start = text.index(HEAD + "\n")
        end = text.find("\n## ", start + len(HEAD))
        text = text[:start] + section + (text[end + 1 :] if end != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS_MD.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data = build_demo(tmp / "ena", scale=1.0)
        with MirrorServer(data, port=0) as mirror:
            work = tmp / "work"
            dirs = studies_dir(work, (SCIENCE_STUDY,))
            write_workdir(work, mirror.portal_url, studies_dir=str(dirs))
            t0 = time.monotonic()
            proc = snakemake(work, timeout=3600)
            wall = time.monotonic() - t0
            if proc.returncode != 0:
                sys.exit(f"the science workflow failed:\n{proc.stderr[-3000:]}")
        timed = jobs(work / "results" / "benchmarks")
        run_dir = work / "results" / "studies" / SCIENCE_STUDY / "runs" / RUN
        bare = bare_megahit(run_dir / "decontamination", tmp)
        job = next(s for r, w, s, _ in timed if r == "assembly_megahit" and w.endswith(RUN))
        lines = [
            f"science study {SCIENCE_STUDY}: 2 runs ({RUN}: 145k read pairs, 43.6 Mbp), 2 CPUs",
            f"workflow wall time: {wall:.1f} s; sum of its jobs: {sum(t[2] for t in timed):.1f} s",
            f"assembly_megahit job {job:.1f} s vs MEGAHIT alone (baseline) {bare:.1f} s:"
            f" ratio {job / bare:.2f}x",
            "",
            f"{'rule':<27} {'job':<26} {'wall s':>7} {'peak RSS MB':>11}",
        ]
        lines += [f"{r:<27} {w:<26} {s:>7.1f} {m:>11.0f}" for r, w, s, m in timed]
        lines += ["", *fidelity(work, data, tmp)]
    print("\n".join(lines))
    if not args.no_write:
        write_results(lines)


if __name__ == "__main__":
    main()
