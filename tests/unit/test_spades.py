"""metaSPAdes wrapper: command, memory, a real assembly of phage lambda (ART reads), and a real
out-of-memory failure that classify_failure must call out of memory."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from support import packaged_file

from mgnify_db.io import read_fasta
from mgnify_db.jobs import FailureCause, classify_failure
from mgnify_db.proc import ToolError
from mgnify_db.tools.spades import (
    _filter_contigs,
    run_metaspades,
    spades_command,
    spades_errors,
    spades_memory_gb,
    spades_version,
)

LAMBDA = ("bowtie2-examples", "usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")
LAMBDA_LENGTH = 48_502


@pytest.fixture(scope="module")
def lambda_reads(tmp_path_factory) -> list[Path]:
    """2x150 reads at 25x (~4,000 pairs) from phage lambda."""
    tmp = tmp_path_factory.mktemp("lambda")
    genome = tmp / "lambda.fa"
    genome.write_text(">lambda\n" + "".join(s for _, s in read_fasta(packaged_file(*LAMBDA))))
    art = "art_illumina -ss HS25 -p -l 150 -f 25 -m 350 -s 50 -na -rs 3".split()
    subprocess.run([*art, "-i", genome, "-o", tmp / "lambda_"], check=True, capture_output=True)
    return [tmp / "lambda_1.fq", tmp / "lambda_2.fq"]


def test_spades_memory_gb():
    # GiB, rounded down from 90 % of the job's decimal megabytes
    assert spades_memory_gb(100_000) == 83  # 1e11 * 0.9 / 2**30 = 83.8
    assert spades_memory_gb(4_000) == 3
    assert spades_memory_gb(500) == 1  # SPAdes' least
    with pytest.raises(ValueError):
        spades_memory_gb(0)


def test_spades_command():
    cmd = spades_command(
        [Path("r1.fq"), Path("r2.fq")],
        Path("out"),
        threads=8,
        mem_mb=16_000,
        k_list="21,33,55",
        extra_args=["--phred-offset", "33"],
    )
    expected = "spades.py --meta -1 r1.fq -2 r2.fq -o out -t 8 -m 13 --only-assembler -k 21,33,55"
    assert cmd == [*expected.split(), "--phred-offset", "33"]
    plain = spades_command([Path("a"), Path("b")], Path("o"), threads=0, mem_mb=1000)
    assert "-k" not in plain and plain[plain.index("-t") + 1] == "1"
    for reads in ([Path("r.fq")], [Path("a"), Path("b"), Path("c")], []):
        with pytest.raises(ValueError, match="paired-end reads only"):
            spades_command(reads, Path("out"), threads=1, mem_mb=1000)


def test_spades_version():
    assert spades_version() == "3.15.5"  # Debian's spades 3.15.5, as miassembler's


def test_run_metaspades_lambda(lambda_reads, tmp_path):
    out = tmp_path / "assembly"
    stats = run_metaspades(
        lambda_reads,
        out,
        threads=2,
        mem_mb=2000,
        contig_prefix="ERR0000001",
        log=tmp_path / "spades.log",
    )
    assert abs(stats.total_length - LAMBDA_LENGTH) <= 0.05 * LAMBDA_LENGTH
    assert stats.largest_contig >= 0.9 * LAMBDA_LENGTH
    assert stats.assembler == "metaspades" and stats.assembler_version == "3.15.5"
    assert stats.min_contig_len == 500
    assert sorted(p.name for p in out.iterdir()) == [
        ".metaspades.lock",
        "assembly.json",
        "contigs.fa.gz",
    ]
    headers = [h for h, _ in read_fasta(out / "contigs.fa.gz")]
    assert [h.split()[0] for h in headers] == [
        f"ERR0000001_{i}" for i in range(1, len(headers) + 1)
    ]
    assert all(" cov=" in h and " len=" in h for h in headers)
    assert json.loads((out / "assembly.json").read_text()) == stats.model_dump(mode="json")
    assert "--only-assembler" in (tmp_path / "spades.log").read_text()


def test_run_metaspades_zero_contigs_is_a_valid_assembly(lambda_reads, tmp_path):
    few = [tmp_path / "few_1.fq", tmp_path / "few_2.fq"]
    for src, dest in zip(lambda_reads, few, strict=True):
        dest.write_text("".join(src.read_text().splitlines(keepends=True)[:40]))
    stats = run_metaspades(few, tmp_path / "asm", threads=1, mem_mb=1000)
    assert stats.n_contigs == stats.total_length == 0
    assert (tmp_path / "asm" / "assembly.json").exists()


def test_contigs_filtered_by_length_with_spades_coverage_kept(tmp_path):
    src = tmp_path / "contigs.fasta"
    src.write_text(
        ">NODE_1_length_6_cov_12.5\nACGTAC\n>NODE_2_length_4_cov_3.0\nACGT\n>odd\nAAAAA\n"
    )
    _filter_contigs(src, tmp_path / "out.fa", min_len=5)
    assert [h for h, _ in read_fasta(tmp_path / "out.fa")] == [
        "NODE_1_length_6_cov_12.5 cov=12.5 len=6",
        "odd len=5",
    ]


def test_single_end_is_refused_before_anything_is_removed(tmp_path):
    out = tmp_path / "asm"
    out.mkdir()
    (out / "assembly.json").write_text("{}")
    with pytest.raises(ValueError, match="paired-end reads only"):
        run_metaspades([tmp_path / "r.fq"], out, threads=1, mem_mb=1000)
    assert (out / "assembly.json").read_text() == "{}"


def test_run_metaspades_failure_raises_and_leaves_no_result(tmp_path):
    out = tmp_path / "asm"
    out.mkdir()
    (out / "assembly.json").write_text("{}")
    (out / "contigs.fa.gz").write_bytes(b"earlier contigs")
    missing = [tmp_path / "missing_1.fq", tmp_path / "missing_2.fq"]
    with pytest.raises(ToolError) as failure:
        run_metaspades(missing, out, threads=1, mem_mb=1000, log=tmp_path / "spades.log")
    assert "not found" in str(failure.value)
    assert classify_failure(failure.value.returncode, str(failure.value)) is FailureCause.OTHER
    assert sorted(p.name for p in out.iterdir()) == [".metaspades.lock"]


def test_out_of_memory_is_classified_as_such(lambda_reads, tmp_path, monkeypatch):
    """SPAdes under a 500 MB address-space limit (as its own -m sets, but below its 1 GB least):
    spades-core's allocator (mimalloc) fails within a second. A hard `ulimit -v`: SPAdes lowers
    its own limit to it (an unprivileged process cannot raise a hard limit)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "spades.py"
    wrapper.write_text('#!/bin/sh\nulimit -v 500000\nexec /usr/bin/spades.py "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    out, log = tmp_path / "asm", tmp_path / "spades.log"
    with pytest.raises(ToolError) as failure:
        run_metaspades(lambda_reads, out, threads=2, mem_mb=2000, log=log)
    message = str(failure.value)
    assert "Memory limit set to 0.476837 Gb" in log.read_text()  # SPAdes saw the limit
    assert "mimalloc: error: unable to allocate OS memory" in message
    assert message.splitlines()[-1].startswith("mimalloc: error")  # the event's message
    assert classify_failure(failure.value.returncode, message) is FailureCause.OUT_OF_MEMORY
    assert not (out / "assembly.json").exists() and not (out / "contigs.fa.gz").exists()
    # the memory line is found anywhere in the log, not only in its last lines
    assert any("Cannot allocate memory" in line for line in spades_errors(log))
