"""Download a run's FASTQ files from ENA (or the mirror), verified by md5 and size.

A file is written to `<name>.part` and renamed only once its md5 and size match ENA's, so a
partial or corrupt file never looks complete; a mismatch deletes it and tries again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import requests

from .config import EnaSettings
from .ena import make_session
from .models import FastqFile

log = logging.getLogger(__name__)
CHUNK = 1 << 20


class DownloadError(RuntimeError):
    pass


def file_url(fastq: FastqFile, scheme: str) -> str:
    """ENA's fastq_ftp values are host/path with no scheme."""
    return fastq.url if "://" in fastq.url else f"{scheme}://{fastq.url}"


def md5sum(path: Path) -> str:
    h = hashlib.md5()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def fetch_file(
    fastq: FastqFile,
    dest: Path,
    settings: EnaSettings,
    session: requests.Session | None = None,
) -> Path:
    """Download one file to `dest`, verified; retries `settings.download_attempts` times."""
    session = session or make_session(settings)
    url = file_url(fastq, settings.download_scheme)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    problem = ""
    for attempt in range(1, settings.download_attempts + 1):
        part.unlink(missing_ok=True)
        try:
            with session.get(url, stream=True, timeout=settings.timeout_seconds) as resp:
                if resp.status_code != 200:
                    raise DownloadError(f"HTTP {resp.status_code}")
                h, size = hashlib.md5(), 0
                with part.open("wb") as fh:
                    for chunk in resp.iter_content(CHUNK):
                        fh.write(chunk)
                        h.update(chunk)
                        size += len(chunk)
            if fastq.bytes is not None and size != fastq.bytes:
                raise DownloadError(f"size {size} != ENA's {fastq.bytes}")
            if fastq.md5 and h.hexdigest() != fastq.md5:
                raise DownloadError(f"md5 {h.hexdigest()} != ENA's {fastq.md5}")
            part.replace(dest)
            return dest
        except (DownloadError, requests.exceptions.RequestException) as e:
            problem = f"{type(e).__name__}: {e}" if not isinstance(e, DownloadError) else str(e)
            log.warning(
                "%s: attempt %d/%d failed: %s", url, attempt, settings.download_attempts, problem
            )
            part.unlink(missing_ok=True)
            if attempt < settings.download_attempts:
                time.sleep(settings.backoff_seconds * attempt)
    raise DownloadError(f"{url}: {problem} after {settings.download_attempts} attempts")


def fetch_run(files: list[FastqFile], outputs: list[Path], settings: EnaSettings) -> list[Path]:
    """Download a run's files (in layout order) to the given output paths."""
    if len(files) != len(outputs):
        raise DownloadError(f"{len(files)} ENA files for {len(outputs)} outputs")
    session = make_session(settings)
    return [fetch_file(f, dest, settings, session) for f, dest in zip(files, outputs, strict=True)]
