"""Assembly statistics and the MEGAHIT wrapper (real run on phage lambda reads simulated by ART)."""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import packaged_file

from mgnify_db.io import read_fasta
from mgnify_db.proc import ToolError
from mgnify_db.tools.megahit import (
    contig_stats,
    megahit_command,
    megahit_memory_bytes,
    megahit_version,
    run_megahit,
    write_renamed_contigs,
)

LAMBDA = ("bowtie2-examples", "usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")


def write_fasta(path: Path, records: dict[str, str]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt") as fh:
        for name, seq in records.items():
            fh.write(f">{name} some description\n")
            fh.writelines(seq[i : i + 60] + "\n" for i in range(0, len(seq), 60))
    return path


# Lengths 80, 70, 50, 40, 30, 20 (total 290): 80 + 70 = 150 >= 145, so N50 = 70 and L50 = 2.
CONTIGS = {
    "c3": "A" * 50,
    "c1": "GC" * 40,
    "c2": "AT" * 35,
    "c4": "N" * 40,
    "c5": "acgt" * 7 + "gc",
    "c6": "G" * 20,
}


@pytest.mark.parametrize("name", ["contigs.fa", "contigs.fa.gz"])
def test_contig_stats_known_n50(tmp_path, name):
    stats = contig_stats(write_fasta(tmp_path / name, CONTIGS))
    assert (stats.n_contigs, stats.total_length, stats.largest_contig) == (6, 290, 80)
    assert (stats.n50, stats.l50) == (70, 2)
    # GC over A/C/G/T only: (80 + 0 + 0 + 16 + 20) / (290 - 40 Ns)
    assert stats.gc_content == pytest.approx(116 / 250)


def test_contig_stats_empty_file(tmp_path):
    empty = tmp_path / "empty.fa.gz"
    with gzip.open(empty, "wt"):
        pass
    stats = contig_stats(empty)
    assert stats.n_contigs == stats.total_length == stats.n50 == stats.l50 == 0
    assert stats.largest_contig == 0 and stats.gc_content == 0.0


def test_read_fasta_keeps_full_header(tmp_path):
    path = write_fasta(tmp_path / "x.fa", {"a": "ACGT" * 20})
    assert list(read_fasta(path)) == [("a some description", "ACGT" * 20)]


def test_megahit_memory_bytes():
    assert megahit_memory_bytes(4000) == 3_000_000_000
    assert megahit_memory_bytes(1) > 1  # never a value MEGAHIT reads as a machine fraction
    with pytest.raises(ValueError):
        megahit_memory_bytes(0)


def test_megahit_command():
    paired = megahit_command(
        [Path("r1"), Path("r2")],
        Path("out"),
        threads=4,
        mem_mb=1000,
        k_list="21,41",
        min_contig_len=500,
        extra_args=["--no-mercy"],
    )
    expected = "megahit -1 r1 -2 r2 -o out -t 4 -m 750000000 --min-contig-len 500 --k-list 21,41"
    assert paired == [*expected.split(), "--no-mercy"]
    single = megahit_command([Path("r")], Path("out"), threads=1, mem_mb=1000, min_contig_len=200)
    assert single[1:3] == ["-r", "r"] and "--k-list" not in single
    with pytest.raises(ValueError):
        megahit_command([], Path("out"), threads=1, mem_mb=1000, min_contig_len=200)


@pytest.fixture(scope="module")
def lambda_reads(tmp_path_factory) -> list[Path]:
    """2x150 reads at 20x (~3,200 pairs) from phage lambda (48,502 bp)."""
    tmp = tmp_path_factory.mktemp("lambda")
    genome = tmp / "lambda.fa"
    genome.write_bytes(gzip.decompress(packaged_file(*LAMBDA).read_bytes()))
    art = "art_illumina -ss HS25 -p -l 150 -f 20 -m 350 -s 50 -na -rs 5".split()
    subprocess.run([*art, "-i", genome, "-o", tmp / "lambda_"], check=True, capture_output=True)
    return [tmp / "lambda_1.fq", tmp / "lambda_2.fq"]


def test_run_megahit_lambda_removes_a_dead_attempts_work_dir(lambda_reads, tmp_path):
    out = tmp_path / "assembly"
    dead = out / ".megahit.tmp.dead"  # a killed attempt's (nobody holds the lock)
    (dead / "out").mkdir(parents=True)
    (dead / "out" / "checkpoints.txt").write_text("killed attempt\n")
    stats = run_megahit(
        lambda_reads,
        out,
        threads=2,
        mem_mb=1000,
        k_list="21,41,61,81,99",
        min_contig_len=500,
        contig_prefix="ERR0000001",
        log=tmp_path / "megahit.log",
    )
    assert stats.n_contigs >= 1
    assert 46_000 <= stats.largest_contig <= 48_600
    assert stats.assembler == "megahit" and stats.assembler_version == megahit_version()
    assert stats.min_contig_len == 500
    # no work dir left, the dead one included; the lock file stays
    assert sorted(p.name for p in out.iterdir()) == [
        ".megahit.lock",
        "assembly.json",
        "contigs.fa.gz",
    ]
    names = [h for h, _ in read_fasta(out / "contigs.fa.gz")]
    assert [h.split()[0] for h in names] == [f"ERR0000001_{i}" for i in range(1, len(names) + 1)]
    assert all("len=" in h for h in names)
    assert json.loads((out / "assembly.json").read_text()) == stats.model_dump(mode="json")


def test_run_megahit_zero_contigs_is_a_valid_assembly(lambda_reads, tmp_path):
    few = tmp_path / "few.fq"
    few.write_text("".join(lambda_reads[0].read_text().splitlines(keepends=True)[:40]))
    stats = run_megahit(
        [few],
        tmp_path / "asm",
        threads=1,
        mem_mb=500,
        k_list=None,
        min_contig_len=500,
        log=tmp_path / "megahit.log",
    )
    assert stats.n_contigs == 0 and stats.total_length == 0
    with gzip.open(tmp_path / "asm" / "contigs.fa.gz", "rt") as fh:
        assert fh.read() == ""
    assert (tmp_path / "asm" / "assembly.json").exists()


def test_run_megahit_failure_raises_and_leaves_no_result(tmp_path):
    out = tmp_path / "asm"
    out.mkdir()
    (out / "assembly.json").write_text("{}")
    (out / "contigs.fa.gz").write_bytes(b"earlier contigs")
    with pytest.raises(ToolError, match="megahit failed"):
        run_megahit(
            [tmp_path / "missing.fq"],
            out,
            threads=1,
            mem_mb=500,
            k_list=None,
            min_contig_len=500,
            log=tmp_path / "megahit.log",
        )
    assert sorted(p.name for p in out.iterdir()) == [".megahit.lock"]


def test_contigs_are_written_in_a_canonical_order(tmp_path):
    """MEGAHIT's ids depend on thread timing; the written contigs must not."""
    a, b = tmp_path / "a.fa", tmp_path / "b.fa"
    a.write_text(">k99_7 flag=1 len=4\nACGT\n>k99_1 flag=0 len=6\nAAACCC\n>k99_2 len=4\nAAAA\n")
    b.write_text(">k99_0 len=4\nAAAA\n>k99_9 flag=1 len=4\nACGT\n>k99_3 flag=0 len=6\nAAACCC\n")
    assert write_renamed_contigs(a, tmp_path / "a.fa.gz", "R") == 3
    write_renamed_contigs(b, tmp_path / "b.fa.gz", "R")
    assert [h for h, _ in read_fasta(tmp_path / "a.fa.gz")] == [
        "R_1 flag=0 len=6",
        "R_2 len=4",
        "R_3 flag=1 len=4",
    ]
    # the same contigs under other ids and in another order: byte-identical output
    assert (tmp_path / "a.fa.gz").read_bytes() == (tmp_path / "b.fa.gz").read_bytes()


def test_megahit_version():
    assert megahit_version() == "1.2.9"  # Debian's megahit 1.2.9


# Two attempts never write the same place: a retry and the orphan of a killed attempt raced on
# one fixed work dir.


def test_run_megahit_fails_at_once_while_another_attempt_runs(lambda_reads, tmp_path):
    out = tmp_path / "asm"
    live = out / ".megahit.tmp.live"  # the running attempt's work dir
    (live / "out").mkdir(parents=True)
    (live / "out" / "checkpoints.txt").write_text("running\n")
    (out / "contigs.fa.gz").write_bytes(b"earlier contigs")
    holder = subprocess.Popen(["flock", out / ".megahit.lock", "sleep", "30"])
    try:
        deadline = time.monotonic() + 10
        while not locked(out / ".megahit.lock"):
            assert time.monotonic() < deadline, "flock did not take the lock"
            time.sleep(0.02)
        started = time.monotonic()
        with pytest.raises(ToolError, match=f"another attempt is running in {out}"):
            run_megahit(
                lambda_reads,
                out,
                threads=1,
                mem_mb=500,
                min_contig_len=500,
                log=tmp_path / "megahit.log",
            )
        assert time.monotonic() - started < 2  # at once, without running MEGAHIT
    finally:
        holder.kill()
        holder.wait()
    assert (live / "out" / "checkpoints.txt").read_text() == "running\n"
    assert (out / "contigs.fa.gz").read_bytes() == b"earlier contigs"


def locked(path: Path) -> bool:
    if not path.exists():
        return False
    with open(path) as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


# A killed job never leaves its tool running.


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has exited; only its exit status waits to be read


def start_job(tmp_path: Path) -> tuple[subprocess.Popen, int]:
    """A Python job running a tool (a sleep) through proc.run_logged: (job, the tool's pid)."""
    pidfile = tmp_path / "tool.pid"
    tool = f"echo $$ > {pidfile}.tmp && mv {pidfile}.tmp {pidfile} && exec sleep 300"
    code = "from pathlib import Path\nfrom mgnify_db.proc import run_logged\n"
    code += f"run_logged(['sh', '-c', {tool!r}], Path({str(tmp_path / 'tool.log')!r}))\n"
    job = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 20
    while not pidfile.exists():
        if job.poll() is not None or time.monotonic() > deadline:
            job.kill()
            pytest.fail("the tool did not start")
        time.sleep(0.02)
    return job, int(pidfile.read_text())


def stop(job: subprocess.Popen, tool: int) -> None:
    job.kill()
    job.wait()
    if alive(tool):
        os.kill(tool, signal.SIGKILL)


def test_a_tool_dies_with_its_job_on_sigterm(tmp_path):
    job, tool = start_job(tmp_path)
    try:
        assert alive(tool)
        job.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        while alive(tool):
            assert time.monotonic() < deadline, f"tool {tool} outlived its job"
            time.sleep(0.02)
    finally:
        stop(job, tool)


def test_a_job_ends_on_sigterm_while_its_tool_runs(tmp_path):
    job, tool = start_job(tmp_path)
    try:
        job.send_signal(signal.SIGTERM)
        assert job.wait(3) == 128 + signal.SIGTERM
        assert not alive(tool)
    except subprocess.TimeoutExpired:
        pytest.fail("the job did not end on SIGTERM")
    finally:
        stop(job, tool)


def test_a_tool_dies_when_the_workflow_is_killed(tmp_path):
    """SIGKILL of the process that started the job (Snakemake) leaves no tool behind."""
    pidfile = tmp_path / "tool.pid"
    code = (
        "import subprocess, sys, time, os\n"
        "job = subprocess.Popen([sys.executable, '-c', 'from pathlib import Path\\n"
        "from mgnify_db.proc import run_logged\\n"
        f'run_logged(["sh", "-c", "echo $$ > {pidfile}; exec sleep 300"], '
        f'Path("{tmp_path / "tool.log"}"))\'])\n'
        f"while not os.path.exists('{pidfile}') or not open('{pidfile}').read().strip():\n"
        "    time.sleep(0.05)\n"
        "os._exit(0)\n"  # the workflow dies abruptly: no signal handler, no cleanup
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and "Z" not in _state(pid):
        assert time.monotonic() < deadline, "the tool outlived the killed workflow"
        time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return "Z"
