"""A mirror data directory: its records (reloaded when a portal file changes), and writing one."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from ...ena.models import EnaRun
from ...io import write_text_atomic
from .access import ACCESS_FILE, STUDY_FIELDS, Access, load_access
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
    """The records of a mirror data directory, reloaded when a portal file (or access.json)
    changes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.portal = directory / "portal"
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[str, float, int], ...] | None = None
        self._records: dict[str, list[dict[str, str]]] = {}
        self._fields: dict[str, list[str]] = {}
        self._access = Access()
        # data hub -> lower-case accessions (primary and secondary) of the studies it holds
        self._private: dict[str, set[str]] = {}
        self._visible: dict[tuple[str, str | None], list[dict[str, str]]] = {}

    def _files(self) -> list[Path]:
        """The portal's JSON files; hidden ones are writes in progress (`write_portal`)."""
        if not self.portal.is_dir():
            return []
        return sorted(p for p in self.portal.glob("*.json") if not p.name.startswith("."))

    def _current_stamp(self) -> tuple[tuple[str, float, int], ...]:
        access = self.directory / ACCESS_FILE
        files = self._files() + ([access] if access.exists() else [])
        return tuple((p.name, p.stat().st_mtime, p.stat().st_size) for p in files)

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
            access = load_access(self.directory)
            self._records, self._fields, self._access = records, fields, access
            self._private = _private_accessions(access, records.get("study", []))
            self._visible = {}
            self._stamp = stamp

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

    @property
    def access(self) -> Access:
        """Who may see what (``access.json``)."""
        self._load()
        return self._access

    def visible_records(self, result: str, viewer: str | None = None) -> list[dict[str, str]]:
        """Records of ``result`` that ``viewer`` (a data hub; None = anonymous) may see: all but
        those of private studies held by other data hubs."""
        self.records(result)  # loads; raises for an unknown result
        with self._lock:  # one consistent snapshot (a reload replaces all three)
            records, private, cache = self._records.get(result, []), self._private, self._visible
        hidden = {a for hub, accs in private.items() if hub != viewer for a in accs}
        if not hidden:
            return records
        key = (result, viewer)
        if key not in cache:
            cache[key] = [r for r in records if not _names_any(r, hidden)]
        return cache[key]

    def return_fields(self, result: str) -> list[str]:
        """Return fields of ``result`` (validated)."""
        self.records(result)
        return self._fields[result]

    def primary_field(self, result: str) -> str | None:
        """The accession field always returned for ``result`` (if it is a return field)."""
        primary = PRIMARY_FIELDS.get(result)
        return primary if primary in self.return_fields(result) else None


def _split(value: str) -> list[str]:
    return [v.strip().lower() for v in value.split(";") if v.strip()]


def _names_any(record: dict[str, str], accessions: set[str]) -> bool:
    """True if the record's study fields name one of ``accessions`` (lower case)."""
    return any(a in accessions for f in STUDY_FIELDS for a in _split(record.get(f, "")))


def _private_accessions(access: Access, studies: list[dict[str, str]]) -> dict[str, set[str]]:
    """Data hub -> the accessions of its studies: as listed, plus the other (primary or
    secondary) accessions of their study records."""
    out: dict[str, set[str]] = {}
    for hub, (_, listed) in access.hubs.items():
        accs = {a.lower() for a in listed}
        for rec in studies:
            names = {a for f in STUDY_FIELDS for a in _split(rec.get(f, ""))}
            if names & accs:
                accs |= names
        out[hub] = accs
    return out
