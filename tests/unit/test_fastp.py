"""QC gate and fastp wrapper; fastp runs on reads ART simulates from a small random genome."""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from mgnify_db.proc import ToolError
from mgnify_db.tools.fastp import fastp_command, parse_fastp_json, qc_gate, run_fastp


def report(before: int, after: int) -> dict:
    """A minimal fastp report with the fields the gate reads."""

    def block(reads: int) -> dict:
        return {
            "total_reads": reads,
            "total_bases": reads * 150,
            "q30_rate": 0.9,
            "gc_content": 0.5,
        }

    return {
        "summary": {
            "fastp_version": "0.23.2",
            "before_filtering": block(before),
            "after_filtering": block(after),
        },
        "duplication": {"rate": 0.01},
    }


def test_gate_exactly_min_reads_passes():
    result = qc_gate(report(1000, 1000), min_reads=1000)
    assert result.passed and result.reason is None
    assert result.tool == "fastp" and result.tool_version == "0.23.2"


def test_gate_below_min_reads_fails_with_reason():
    result = qc_gate(report(1000, 812), min_reads=1000)
    assert not result.passed
    assert result.reason == "812 reads left after QC (< 1000)"


def test_gate_exactly_max_filtered_fraction_passes():
    result = qc_gate(report(10_000, 1000), max_filtered_fraction=0.9)
    assert result.filtered_fraction == pytest.approx(0.9)
    assert result.passed


def test_gate_above_max_filtered_fraction_fails():
    result = qc_gate(report(10_000, 999), min_reads=10, max_filtered_fraction=0.9)
    assert not result.passed
    assert result.reason == "90.0% of reads removed by QC (> 90%)"


def test_gate_reports_both_reasons():
    result = qc_gate(report(100_000, 500))
    assert result.reason == "500 reads left after QC (< 1000); 99.5% of reads removed by QC (> 90%)"


def test_gate_empty_input():
    result = qc_gate(report(0, 0))
    assert not result.passed and result.filtered_fraction == 0
    assert result.reason == "no reads in the input"


def test_gate_rejects_non_fastp_json():
    with pytest.raises(ValueError, match="not a fastp JSON report"):
        qc_gate({"summary": {}})


def test_fastp_command_single_and_paired(tmp_path):
    single = fastp_command([Path("r.fq.gz")], [Path("o.fq.gz")], Path("j"), Path("h"), 4, [])
    assert single == ["fastp", "-i", "r.fq.gz", "-o", "o.fq.gz", "-j", "j", "-h", "h", "-w", "4"]
    paired = fastp_command(
        [Path("a"), Path("b")], [Path("oa"), Path("ob")], Path("j"), Path("h"), 2, ["-l", "50"]
    )
    assert paired[:9] == ["fastp", "-i", "a", "-o", "oa", "-I", "b", "-O", "ob"]
    assert paired[-2:] == ["-l", "50"]
    with pytest.raises(ValueError):
        fastp_command([Path("a")], [Path("oa"), Path("ob")], Path("j"), Path("h"), 1, [])
    with pytest.raises(ValueError):
        fastp_command(
            [Path(x) for x in "abc"], [Path(x) for x in "def"], Path("j"), Path("h"), 1, []
        )


@pytest.fixture(scope="module")
def reads(tmp_path_factory) -> list[Path]:
    """~4,000 simulated 2x150 reads (2,000 pairs) from a 30 kb random genome."""
    tmp = tmp_path_factory.mktemp("reads")
    rng = random.Random(7)
    genome = tmp / "genome.fa"
    genome.write_text(">g\n" + "".join(rng.choice("ACGT") for _ in range(30_000)) + "\n")
    art = "art_illumina -ss HS25 -p -l 150 -f 20 -m 350 -s 50 -na -rs 11".split()
    subprocess.run([*art, "-i", genome, "-o", tmp / "sim_"], check=True, capture_output=True)
    return [tmp / "sim_1.fq", tmp / "sim_2.fq"]


def fastq_count(path: Path) -> int:
    return sum(1 for _ in path.open()) // 4


def test_run_fastp_paired(reads, tmp_path):
    out, log = tmp_path / "qc", tmp_path / "logs" / "qc.log"
    pairs = fastq_count(reads[0])
    assert 1500 < pairs < 2500
    result = run_fastp(
        reads,
        out,
        threads=2,
        min_reads=1000,
        max_filtered_fraction=0.9,
        expected_reads=2 * pairs,  # fastp's total_reads counts both mates
        log=log,
    )
    names = {p.name for p in out.iterdir()}
    assert names == {"reads_1.fastq.gz", "reads_2.fastq.gz", "fastp.json", "fastp.html", "qc.json"}
    # the attempt's temp dir became `out`; only the lock file stays beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == [".qc.lock", "logs", "qc"]
    assert out.stat().st_mode & 0o777 == 0o777 & ~current_umask()
    assert result.reads_before == 2 * pairs
    assert result.passed and result.reason is None
    assert 0 <= result.filtered_fraction < 0.1
    assert 0.45 < result.gc_content_after < 0.55
    assert result.tool_version  # from the report, e.g. "0.23.2"
    assert json.loads((out / "qc.json").read_text()) == result.model_dump(mode="json")
    raw = parse_fastp_json(out / "fastp.json")
    assert raw["summary"]["before_filtering"]["total_reads"] == result.reads_before
    assert "fastp" in log.read_text()


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_run_fastp_single_end_gate_fails_but_completes(reads, tmp_path):
    out = tmp_path / "qc"
    result = run_fastp(
        reads[:1],
        out,
        threads=1,
        min_reads=100_000,
        max_filtered_fraction=0.9,
        log=tmp_path / "qc.log",
    )
    assert not result.passed
    assert result.reason == f"{result.reads_after} reads left after QC (< 100000)"
    assert result.reads_before == fastq_count(reads[0])
    assert not (out / "reads_2.fastq.gz").exists()
    assert json.loads((out / "qc.json").read_text())["passed"] is False


def test_run_fastp_failure_raises_with_log_tail_and_drops_stale_result(tmp_path):
    out = tmp_path / "qc"
    out.mkdir()
    (out / "qc.json").write_text('{"passed": true}')
    with pytest.raises(ToolError, match="(?s)fastp failed with exit code.*Failed to open file"):
        run_fastp([tmp_path / "missing.fq"], out, threads=1, log=tmp_path / "qc.log")
    assert not out.exists()  # an earlier attempt's result does not outlive a failed retry
    assert sorted(p.name for p in tmp_path.iterdir()) == [".qc.lock", "qc.log"]


def test_run_fastp_empty_input_gives_valid_gzip(tmp_path):
    empty = tmp_path / "empty.fq"
    empty.write_text("")
    result = run_fastp([empty], tmp_path / "qc", threads=1, log=tmp_path / "qc.log")
    assert not result.passed and result.reason == "no reads in the input"
    with gzip.open(tmp_path / "qc" / "reads_1.fastq.gz") as fh:
        assert fh.read() == b""


# Faults found by testing: fastp exits 0 on broken input and the run published as completed.


def test_run_fastp_fails_on_a_truncated_gzip_though_fastp_exits_0(reads, tmp_path):
    """A gzip cut at 60% (ENA's md5 can match such a file): fastp reads part, says ERROR."""
    whole = gzip.compress(reads[0].read_bytes(), mtime=0)
    cut = tmp_path / "cut.fastq.gz"
    cut.write_bytes(whole[: int(len(whole) * 0.6)])
    out, log = tmp_path / "qc", tmp_path / "qc.log"
    with pytest.raises(ToolError, match="(?s)fastp exited 0 but reported broken input.*ERROR"):
        run_fastp([cut], out, threads=1, min_reads=10, log=log)
    assert "ERROR" in log.read_text()
    assert not out.exists()  # no reads, no qc.json: QC did not finish


def test_run_fastp_fails_on_mates_with_different_read_numbers(reads, tmp_path):
    short = tmp_path / "short_2.fq"
    lines = reads[1].read_text().splitlines(keepends=True)
    short.write_text("".join(lines[: len(lines) // 2]))
    out = tmp_path / "qc"
    with pytest.raises(ToolError, match="different read numbers"):
        run_fastp([reads[0], short], out, threads=1, min_reads=10, log=tmp_path / "qc.log")
    assert not out.exists()


def test_run_fastp_fails_when_it_reads_other_than_the_expected_reads(reads, tmp_path):
    pairs = fastq_count(reads[0])
    out = tmp_path / "qc"
    with pytest.raises(ToolError, match=f"fastp read {2 * pairs} reads, expected {2 * pairs + 2}"):
        run_fastp(reads, out, threads=1, expected_reads=2 * pairs + 2, log=tmp_path / "qc.log")
    assert not out.exists()


# Two attempts never write the same place.


def test_run_fastp_fails_at_once_while_another_attempt_holds_the_lock(reads, tmp_path):
    out = tmp_path / "qc"
    live = tmp_path / ".qc.tmp.live"  # the running attempt's work dir
    live.mkdir()
    (live / "reads_1.fastq.gz").write_bytes(b"being written")
    with open(tmp_path / ".qc.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(ToolError, match=f"another attempt is running in {tmp_path}"):
            run_fastp(reads, out, threads=1, log=tmp_path / "qc.log")
    assert (live / "reads_1.fastq.gz").read_bytes() == b"being written"
    assert not out.exists()


def test_run_fastp_removes_a_dead_attempts_work_dir(reads, tmp_path):
    dead = tmp_path / ".qc.tmp.dead"
    dead.mkdir()
    (dead / "reads_1.fastq.gz").write_bytes(b"half")
    run_fastp(reads[:1], tmp_path / "qc", threads=1, min_reads=10, log=tmp_path / "qc.log")
    assert not dead.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".qc.lock", "qc", "qc.log"]
