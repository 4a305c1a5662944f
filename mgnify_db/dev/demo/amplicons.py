"""Amplicon runs of the demo: PCR in silico on real genomes, MiSeq pairs simulated with ART's
amplicon mode, chimeras spiked in on purpose.

The truth written beside the reads (``truth/{run}.tsv``) has the pairs of each genome and of
each chimera: a genus profile with known abundances.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

from ...io import read_fasta
from .errors import DemoBuildError
from .simulate import Read, art_amplicon, write_run
from .spec import DemoSpec

_IUPAC = {
    "A": "A",
    "C": "C",
    "G": "G",
    "T": "T",
    "R": "[AG]",
    "Y": "[CT]",
    "S": "[CG]",
    "W": "[AT]",
    "K": "[GT]",
    "M": "[AC]",
    "B": "[CGT]",
    "D": "[AGT]",
    "H": "[ACT]",
    "V": "[ACG]",
    "N": "[ACGT]",
}
_COMPLEMENT = str.maketrans("ACGTRYSWKMBDHVN", "TGCAYRSWMKVHDBN")


def reverse_complement(seq: str) -> str:
    return seq.upper().translate(_COMPLEMENT)[::-1]


def _pattern(primer: str) -> re.Pattern[str]:
    return re.compile("".join(_IUPAC[c] for c in primer.upper()))


def in_silico_pcr(fasta: Path, forward: str, reverse: str, max_length: int = 600) -> list[str]:
    """Every product of the primer pair on either strand of every record (primers included,
    exact matches of the degenerate primers): one per gene copy."""
    fwd, rev = _pattern(forward), _pattern(reverse_complement(reverse))
    products = []
    for _, seq in read_fasta(fasta):
        seq = seq.upper()
        for strand in (seq, reverse_complement(seq)):
            for m in fwd.finditer(strand):
                end = rev.search(strand, m.end(), m.end() + max_length)
                if end:
                    products.append(strand[m.start() : end.end()])
    return products


def simulate_amplicon_run(
    spec: DemoSpec,
    run: dict[str, Any],
    genome_files: dict[str, Path],
    out: Path,
    work: Path,
) -> dict[str, str]:
    """Simulate one amplicon run: `amplicons` (genome -> read pairs, split over its distinct
    amplicons by copy number) and `chimeras` (two genomes, the breakpoint, pairs)."""
    acc = run["run_accession"]
    seed = int(run["seed"])
    primers = run.get("primers") or {}
    if not primers.get("forward") or not primers.get("reverse"):
        raise DemoBuildError(f"{acc}: an amplicon run needs primers: {{forward, reverse}}")
    sim = {"art_profile": "MSv1", "read_length": 250, **(run.get("simulation") or {})}
    amplicons: dict[str, Counter[str]] = {}
    for key in [*run["amplicons"], *(g for c in run.get("chimeras", []) for g in c["parents"])]:
        if key not in amplicons:
            found = in_silico_pcr(genome_files[key], primers["forward"], primers["reverse"])
            if not found:
                raise DemoBuildError(f"{acc}: the primers amplify nothing in {key}")
            amplicons[key] = Counter(found)
    templates: list[tuple[str, str, int]] = []  # (name, sequence, pairs)
    truth = ["source\torganism\tamplicon_length\tcopies\tread_count"]
    for key, pairs in run["amplicons"].items():
        copies = amplicons[key]
        total = sum(copies.values())
        for i, (seq, n) in enumerate(sorted(copies.items())):
            templates.append((f"{key}_{i}", seq, round(int(pairs) * n / total)))
        length = len(copies.most_common(1)[0][0])
        truth.append(f"{key}\t{spec.genomes[key].organism}\t{length}\t{total}\t{pairs}")
    for chimera in run.get("chimeras", []):
        a, b = (amplicons[k].most_common(1)[0][0] for k in chimera["parents"])
        cut = int(chimera["breakpoint"])
        name = "chimera_" + "_".join(chimera["parents"])
        templates.append((name, a[:cut] + b[cut:], int(chimera["pairs"])))
        truth.append(f"{name}\tchimera\t{len(a[:cut] + b[cut:])}\t0\t{chimera['pairs']}")
    reads: list[tuple[Read, ...]] = []
    for i, (name, seq, pairs) in enumerate(templates):
        if pairs <= 0:
            continue
        workdir = work / f"{acc}_{name}"
        workdir.mkdir(parents=True)
        reads += art_amplicon(seq, name, workdir, pairs=pairs, seed=seed * 10 + i, sim=sim)
    random.Random(seed).shuffle(reads)
    return write_run(acc, reads, out, truth, paired=True)
