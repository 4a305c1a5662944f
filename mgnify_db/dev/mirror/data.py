"""A mirror data directory: its records (reloaded when a portal file changes), and writing one."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from ...ena.models import EnaRun
from ...io import write_text_atomic
from .errors import MirrorError

#: Stands for the server's ``host:port`` in record values (``fastq_ftp``).
PLACEHOLDER = "{mirror}"
#: Where FASTQ files live in a data directory (served at ``/vol1/fastq/...``).
FASTQ_ROOT = "vol1/fastq"

#: The accession field of each result, always returned first (as ENA does).
PRIMARY_FIELDS = {
    "study": "study_accession",
    "sample": "sample_accession",
    "read_run": "run_accession",
    "read_experiment": "experiment_accession",
    "analysis": "analysis_accession",
    "assembly": "accession",
}


def fastq_dir(run: str) -> str:
    """A run's FASTQ directory relative to the data directory, as ENA lays them out
    (``vol1/fastq/ERR000/ERR0000001``)."""
    return f"{FASTQ_ROOT}/{run[:6]}/{run}"


def write_portal(
    directory: Path,
    records: Mapping[str, Sequence[Mapping[str, str]]],
    *,
    indent: int | None = 1,
) -> None:
    """Write ``DIR/portal/{result}.json`` for each result (atomically: a serving mirror reloads
    changed files and must never read half of one). ``indent=None``: compact, and several times
    faster to write (json's C encoder does not indent)."""
    for result, recs in records.items():
        text = json.dumps(list(recs), indent=indent) + "\n"
        write_text_atomic(Path(directory) / "portal" / f"{result}.json", text)


class PortalData:
    """The records of a mirror data directory, reloaded when a portal file changes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.portal = directory / "portal"
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[str, float, int], ...] | None = None
        self._records: dict[str, list[dict[str, str]]] = {}
        self._fields: dict[str, list[str]] = {}

    def _files(self) -> list[Path]:
        """The portal's JSON files; hidden ones are writes in progress (`write_portal`)."""
        if not self.portal.is_dir():
            return []
        return sorted(p for p in self.portal.glob("*.json") if not p.name.startswith("."))

    def _current_stamp(self) -> tuple[tuple[str, float, int], ...]:
        return tuple((p.name, p.stat().st_mtime, p.stat().st_size) for p in self._files())

    def _load(self) -> None:
        with self._lock:
            stamp = self._current_stamp()
            if stamp == self._stamp:
                return
            records: dict[str, list[dict[str, str]]] = {}
            for path in self._files():
                if path.name == "return_fields.json":
                    continue
                data = json.loads(path.read_text())
                if not isinstance(data, list):
                    raise ValueError(f"{path}: expected a JSON list of records")
                records[path.stem] = [
                    {k: "" if v is None else str(v) for k, v in rec.items()} for rec in data
                ]
            override_path = self.portal / "return_fields.json"
            overrides = json.loads(override_path.read_text()) if override_path.exists() else {}
            fields: dict[str, list[str]] = {}
            for result, recs in records.items():
                if result in overrides:
                    fields[result] = list(overrides[result])
                    continue
                names: dict[str, None] = {}
                primary = PRIMARY_FIELDS.get(result)
                if primary:
                    names[primary] = None
                for rec in recs:
                    names.update(dict.fromkeys(rec))
                if result == "read_run":
                    names.update(dict.fromkeys(EnaRun.model_fields))
                fields[result] = list(names)
            for result, names in overrides.items():
                records.setdefault(result, [])
                fields[result] = list(names)
            self._records, self._fields, self._stamp = records, fields, stamp

    def results(self) -> list[str]:
        """Names of the results this mirror holds."""
        self._load()
        return list(self._records)

    def records(self, result: str) -> list[dict[str, str]]:
        """Records of ``result``; raise `MirrorError` for an unknown result."""
        self._load()
        if result not in self._records:
            raise MirrorError(
                f"Invalid result: {result}. Valid results: {', '.join(self._records)}"
            )
        return self._records[result]

    def return_fields(self, result: str) -> list[str]:
        """Return fields of ``result`` (validated)."""
        self.records(result)
        return self._fields[result]

    def primary_field(self, result: str) -> str | None:
        """The accession field always returned for ``result`` (if it is a return field)."""
        primary = PRIMARY_FIELDS.get(result)
        return primary if primary in self.return_fields(result) else None
