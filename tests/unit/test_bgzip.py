"""bgzip (mgnify_db.tools.bgzip): BGZF output whose .gzi index lets bgzip read any slice."""

from __future__ import annotations

import gzip
import random
import struct
import subprocess
from pathlib import Path

import pytest

from mgnify_db.proc import ToolError
from mgnify_db.tools.bgzip import bgzip, bgzip_version, index_path


@pytest.fixture(scope="module")
def text(tmp_path_factory) -> tuple[Path, bytes]:
    """A TSV of ~600 kB: several 64 kB BGZF blocks, so the index has entries."""
    rng = random.Random(7)
    lines = ["term\tdescription\tcount\n"]
    lines += [
        f"T{i:06d}\t{''.join(rng.choice('ACGT ') for _ in range(rng.randint(5, 60)))}\t{i}\n"
        for i in range(16_000)
    ]
    data = "".join(lines).encode()
    path = tmp_path_factory.mktemp("bgzip") / "table.tsv"
    path.write_bytes(data)
    return path, data


def read_slice(gz: Path, offset: int, size: int) -> bytes:
    """`bgzip -b offset -s size`: a slice read through the .gzi index."""
    cmd = ["bgzip", "-b", str(offset), "-s", str(size), str(gz)]
    return subprocess.run(cmd, check=True, capture_output=True).stdout


def test_bgzip_output_and_index_are_valid(text, tmp_path):
    src, data = text
    log = tmp_path / "bgzip.log"
    out = bgzip(src, tmp_path / "table.tsv.gz", log=log)
    assert out == tmp_path / "table.tsv.gz" and src.exists()  # the input is kept
    gzi = index_path(out)
    assert gzi == tmp_path / "table.tsv.gz.gzi" and gzi.exists()
    assert gzip.decompress(out.read_bytes()) == data  # BGZF is plain gzip to a reader
    (n_blocks,) = struct.unpack("<Q", gzi.read_bytes()[:8])
    assert n_blocks >= 8 and gzi.stat().st_size == 8 + 16 * n_blocks
    # slices at the start, inside a block, across block boundaries (64 kB) and at the end
    for offset, size in ((0, 100), (1234, 5000), (65_000, 3000), (300_001, 70_000)):
        assert read_slice(out, offset, size) == data[offset : offset + size]
    assert read_slice(out, len(data) - 50, 50) == data[-50:]
    # the same index bgzip makes when it reindexes the file
    again = tmp_path / "again.gzi"
    subprocess.run(["bgzip", "-r", "-I", str(again), str(out)], check=True)
    assert again.read_bytes() == gzi.read_bytes()
    assert "$ bgzip" in log.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "again.gzi",
        "bgzip.log",
        "table.tsv.gz",
        "table.tsv.gz.gzi",
    ]  # no temp files left


def test_bgzip_default_name_and_replace(tmp_path):
    src = tmp_path / "x.tsv"
    src.write_text("a\tb\n")
    out = bgzip(src)
    assert out == tmp_path / "x.tsv.gz" and gzip.decompress(out.read_bytes()) == b"a\tb\n"
    src.write_text("c\td\n")
    bgzip(src)  # an existing output is replaced
    assert gzip.decompress(out.read_bytes()) == b"c\td\n" and index_path(out).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.tsv", "x.tsv.gz", "x.tsv.gz.gzi"]


def test_bgzip_failure_leaves_nothing(tmp_path):
    with pytest.raises(ToolError, match="bgzip failed"):
        bgzip(tmp_path / "missing.tsv", tmp_path / "out.tsv.gz")
    assert list(tmp_path.iterdir()) == []


def test_bgzip_missing_tool(tmp_path, monkeypatch):
    src = tmp_path / "x.tsv"
    src.write_text("a\n")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    with pytest.raises(ToolError, match="not found on PATH"):
        bgzip(src)
    assert [p.name for p in tmp_path.iterdir()] == ["x.tsv"]


def test_bgzip_version():
    assert bgzip_version() and bgzip_version()[0].isdigit()
