"""Downloading a run's FASTQ files from the project's ENA mirror, and verifying their content."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
import time
from pathlib import Path

import pytest

from mgnify_db.config import EnaSettings
from mgnify_db.dev.mirror import MirrorServer
from mgnify_db.ena.download import DownloadError, ReadCheck, fetch_file, fetch_run, verify_reads
from mgnify_db.ena.models import FastqFile

FASTQ_DIR = "vol1/fastq/ERR000"


def fastq_text(n: int, seed: int, length: int = 100) -> str:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        seq = "".join(rng.choices("ACGT", k=length))
        records.append(f"@r{i} {i}/1\n{seq}\n+\n{'I' * length}\n")
    return "".join(records)


def gz(text: str) -> bytes:
    return gzip.compress(text.encode(), mtime=0)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# A run's files as ENA serves them; each md5 is that of the served bytes, as ENA's would be.
GOOD_1, GOOD_2 = gz(fastq_text(2000, 1)), gz(fastq_text(2000, 2))
TRUNCATED = GOOD_1[: int(len(GOOD_1) * 0.6)]
SHORT_2 = gz(fastq_text(1800, 3))
SERVED = {
    "ERR0000001/ERR0000001_1.fastq.gz": GOOD_1,
    "ERR0000001/ERR0000001_2.fastq.gz": GOOD_2,
    "ERR0000002/ERR0000002_1.fastq.gz": TRUNCATED,
    "ERR0000003/ERR0000003_1.fastq.gz": GOOD_1,
    "ERR0000003/ERR0000003_2.fastq.gz": SHORT_2,
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ena")
    (d / "portal").mkdir()
    for name, data in SERVED.items():
        write(d / FASTQ_DIR / name, data)
    return d


@pytest.fixture
def server(data_dir):
    with MirrorServer(data_dir, port=0) as m:
        yield m


def settings(server, **kw) -> EnaSettings:
    base = dict(
        portal_url=server.portal_url,
        download_scheme="http",
        retries=3,
        backoff_seconds=0.01,
        timeout_seconds=5,
    )
    return EnaSettings(**(base | kw))


def served(server, run: str) -> list[FastqFile]:
    """The run's files as ENA lists them: host/path, md5 and size."""
    return [
        FastqFile(
            url=f"{server.address}/{FASTQ_DIR}/{name}",
            md5=hashlib.md5(data).hexdigest(),
            bytes=len(data),
        )
        for name, data in SERVED.items()
        if name.startswith(run + "/")
    ]


def file_requests(server, at_least: int) -> list[int]:
    """Statuses of the file requests; waits for `at_least` of them, as the mirror logs a request
    only after answering it (the client may be done first)."""
    deadline = time.monotonic() + 5
    while True:
        statuses = [r["status"] for r in server.requests if r["path"].startswith("/vol1/")]
        if len(statuses) >= at_least or time.monotonic() > deadline:
            return statuses
        time.sleep(0.01)


# fetch_file: md5 and size


def test_download_verifies_md5_and_retries(server, tmp_path):
    fastq = served(server, "ERR0000001")[0]
    dest = tmp_path / fastq.name
    server.add_fault(status=200, body=b"garbage", path_prefix="/vol1/")
    fetch_file(fastq, dest, settings(server))
    assert dest.read_bytes() == GOOD_1
    assert file_requests(server, 2) == [200, 200]  # corrupt first, good second
    assert not server.faults
    assert [p.name for p in tmp_path.iterdir()] == [fastq.name]  # no temp file left


def test_download_mismatch_never_leaves_a_file(server, tmp_path):
    bad = served(server, "ERR0000001")[0].model_copy(update={"md5": "0" * 32})
    with pytest.raises(DownloadError, match="md5 .* != ENA's 0000.* after 2 attempts"):
        fetch_file(bad, tmp_path / "x.fastq.gz", settings(server, download_attempts=2))
    assert list(tmp_path.iterdir()) == []


# verify_reads: gzip integrity, FASTQ records, mates, ENA's read count


def test_verify_reads_paired_and_single(tmp_path):
    r1 = write(tmp_path / "a_1.fastq.gz", GOOD_1)
    r2 = write(tmp_path / "a_2.fastq.gz", GOOD_2)
    check = verify_reads([r1, r2], expected_reads=2000, layout="PAIRED")
    assert check == ReadCheck(
        layout="PAIRED",
        files=["a_1.fastq.gz", "a_2.fastq.gz"],
        reads=[2000, 2000],
        bases=[200_000, 200_000],
        expected_reads=2000,
    )
    assert (check.total_reads, check.total_bases) == (4000, 400_000)
    single = verify_reads([r1], expected_reads=None, layout="single")
    assert single.reads == [2000] and single.layout == "SINGLE"


def test_verify_reads_truncated_gzip(tmp_path):
    cut = write(tmp_path / "cut.fastq.gz", TRUNCATED)
    with pytest.raises(DownloadError, match=re.escape(f"{cut}: corrupt gzip (")):
        verify_reads([cut], expected_reads=None, layout="SINGLE")


def test_verify_reads_gzip_with_a_bad_crc(tmp_path):
    data = bytearray(GOOD_1)
    data[-8] ^= 0xFF  # the CRC-32 of the member's trailer
    bad = write(tmp_path / "bad.fastq.gz", bytes(data))
    with pytest.raises(DownloadError, match=re.escape(f"{bad}: corrupt gzip (") + ".*CRC"):
        verify_reads([bad], expected_reads=None, layout="SINGLE")


def test_verify_reads_not_gzip(tmp_path):
    plain = write(tmp_path / "plain.fastq.gz", fastq_text(3, 1).encode())
    with pytest.raises(DownloadError, match="plain.fastq.gz: corrupt gzip"):
        verify_reads([plain], expected_reads=None, layout="SINGLE")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (">c1\nACGT\n>c2\nACGT\n", "record 1 is not FASTQ (b'>c1')"),
        ("@r1\nACGT\n+\nIIII\n@r2\nACGT\n+\nIII\n", "record 2: sequence and quality lengths"),
        ("@r1\nACGT\n+\nIIII\n@r2\nACGT\n", "record 2 cut short"),
        ("@r1\nACGT\n+\nIIII\n\n@r2\nACGT\n+\nIIII\n", "record 2 is not FASTQ (b'')"),
    ],
    ids=["fasta", "qual-length", "cut-record", "blank-line"],
)
def test_verify_reads_fastq_structure(tmp_path, text, problem):
    path = write(tmp_path / "x.fastq.gz", gz(text))
    with pytest.raises(DownloadError, match=re.escape(f"{path}: {problem}")):
        verify_reads([path], expected_reads=None, layout="SINGLE")


def test_verify_reads_accepts_trailing_blank_lines_crlf_and_no_final_newline(tmp_path):
    path = write(tmp_path / "x.fastq.gz", gz("@r1\r\nACGT\r\n+\r\nIIII\r\n\n\n"))
    assert verify_reads([path], expected_reads=1, layout="SINGLE").bases == [4]
    path = write(tmp_path / "y.fastq.gz", gz("@r1\nACGT\n+\nIIII\n@r2\nAC\n+\nII"))
    assert verify_reads([path], expected_reads=2, layout="SINGLE").bases == [6]


def test_verify_reads_records_across_chunks(tmp_path):
    """Files larger than a read chunk (1 MiB): records cut by chunk boundaries count once."""
    text = fastq_text(9000, 4, length=151)  # ~2.8 MB of FASTQ
    path = write(tmp_path / "big.fastq.gz", gz(text))
    assert verify_reads([path], expected_reads=9000, layout="SINGLE").bases == [9000 * 151]
    broken = text.replace("\n+\n", "\nX\n", 7000).replace("\nX\n", "\n+\n", 6999)
    path = write(tmp_path / "broken.fastq.gz", gz(broken))
    with pytest.raises(DownloadError, match="record 7000 is not FASTQ"):
        verify_reads([path], expected_reads=None, layout="SINGLE")


def test_verify_reads_mates_differ(tmp_path):
    r1 = write(tmp_path / "a_1.fastq.gz", GOOD_1)
    r2 = write(tmp_path / "a_2.fastq.gz", SHORT_2)
    with pytest.raises(DownloadError, match="mates differ: 2000 reads in a_1.fastq.gz, 1800 in"):
        verify_reads([r1, r2], expected_reads=None, layout="PAIRED")


def test_verify_reads_read_count_differs_from_enas(tmp_path):
    r1 = write(tmp_path / "a_1.fastq.gz", GOOD_1)
    r2 = write(tmp_path / "a_2.fastq.gz", GOOD_2)
    # ENA counts pairs for a paired run: 2000, not 4000
    with pytest.raises(DownloadError, match="read_count is 4000 but 2000 reads were seen per mate"):
        verify_reads([r1, r2], expected_reads=4000, layout="PAIRED")
    with pytest.raises(DownloadError, match="read_count is 2001 but 2000 reads were seen \\("):
        verify_reads([r1], expected_reads=2001, layout="SINGLE")


def test_verify_reads_layout_and_file_count(tmp_path):
    r1 = write(tmp_path / "a_1.fastq.gz", GOOD_1)
    with pytest.raises(DownloadError, match="a PAIRED run needs 2 FASTQ file"):
        verify_reads([r1], expected_reads=None, layout="PAIRED")
    with pytest.raises(ValueError, match="layout must be SINGLE or PAIRED"):
        verify_reads([r1], expected_reads=None, layout="INTERLEAVED")


# fetch_run: downloads, then verifies; a run's corrupt reads never look complete


def test_fetch_run_writes_reads_json(server, tmp_path):
    files = served(server, "ERR0000001")
    out = [tmp_path / f.name for f in files]
    check = fetch_run(files, out, settings(server), expected_reads=2000, layout="PAIRED")
    assert check.reads == [2000, 2000] and check.expected_reads == 2000
    assert [p.read_bytes() for p in out] == [GOOD_1, GOOD_2]
    assert json.loads((tmp_path / "reads.json").read_text()) == check.model_dump(mode="json")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*(f.name for f in files), "reads.json"]
    )


def test_fetch_run_truncated_gzip_matching_enas_md5_fails(server, tmp_path):
    files = served(server, "ERR0000002")
    with pytest.raises(DownloadError, match="ERR0000002_1.fastq.gz: corrupt gzip"):
        fetch_run(files, [tmp_path / f.name for f in files], settings(server), layout="SINGLE")
    assert list(tmp_path.iterdir()) == []  # no files, no reads.json
    assert file_requests(server, 1) == [200]  # md5 matched: no pointless retry


def test_fetch_run_mates_with_unequal_read_counts_fail(server, tmp_path):
    files = served(server, "ERR0000003")
    out = [tmp_path / f.name for f in files]
    with pytest.raises(DownloadError, match="mates differ: 2000 reads in ERR0000003_1"):
        fetch_run(files, out, settings(server), layout="PAIRED")  # layout inferred: also PAIRED
    assert list(tmp_path.iterdir()) == []


def test_fetch_run_read_count_mismatch_fails(server, tmp_path):
    files = served(server, "ERR0000001")
    (tmp_path / "reads.json").write_text("{}")  # an earlier attempt's
    with pytest.raises(DownloadError, match="ENA's read_count is 2500 but 2000 reads were seen"):
        fetch_run(files, [tmp_path / f.name for f in files], settings(server), expected_reads=2500)
    assert list(tmp_path.iterdir()) == []
