"""The demo's mirror data directory: simulate every run, write the records, install atomically."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ...io import write_text_atomic
from ..mirror import write_access, write_portal
from .errors import DemoBuildError
from .genomes import default_cache_dir, fetch_genome
from .references import build_references, references_config
from .simulate import simulate_run
from .spec import SIM_KEYS, DemoSpec, StudySpec, load_spec

STAMP_NAME = ".demo-build.json"
#: Bump when the build's output changes for the same spec (invalidates existing builds).
#: 2: several studies (a private one, with the mirror's access.json).
#: 3: reference files (references/) and the science study.
#: 4: the LSU reference; the kraken2 database's second E. coli strain and decoy.
BUILD_VERSION = 4
#: Sample fields copied into each of its runs' records.
FROM_SAMPLE = (
    "secondary_sample_accession",
    "sample_title",
    "host_tax_id",
    "host_scientific_name",
    "collection_date",
    "country",
    "location",
    "lat",
    "lon",
)


def records(spec: DemoSpec, simulated: dict[str, dict[str, str]]) -> dict[str, list[dict]]:
    """The portal records (study, sample, read_run) of every study and its simulated runs."""
    out: dict[str, list[dict]] = {"study": [], "sample": [], "read_run": []}
    for study in spec.studies:
        for result, recs in study_records(spec, study, simulated).items():
            out[result].extend(recs)
    return out


def study_records(
    spec: DemoSpec, study_spec: StudySpec, simulated: dict[str, dict[str, str]]
) -> dict[str, list[dict]]:
    """The portal records (study, sample, read_run) of one study."""
    study = study_spec.study
    study_ids = {
        "study_accession": study["study_accession"],
        "secondary_study_accession": study.get("secondary_study_accession", ""),
    }
    samples = [{**s, **study_ids} for s in study_spec.samples]
    by_sample = {s["sample_accession"]: s for s in samples}
    runs = []
    for run in study_spec.runs:
        sample = by_sample[run["sample_accession"]]
        record = {
            "run_accession": run["run_accession"],
            "sample_accession": run["sample_accession"],
            **study_ids,
            **{k: sample.get(k, "") for k in FROM_SAMPLE},
            **study_spec.run_defaults,
            **{k: str(v) for k, v in run.items() if k not in SIM_KEYS},
            **simulated[run["run_accession"]],
        }
        if "nominal_length" not in record and record["library_layout"].upper() == "PAIRED":
            record["nominal_length"] = str(spec.simulation.get("fragment_mean", 350))
        runs.append(record)
    return {"study": [study], "sample": samples, "read_run": runs}


def _stamp_hash(spec: DemoSpec, scale: float) -> str:
    key = f"{BUILD_VERSION}\0{spec.digest}\0{scale!r}"
    return hashlib.sha256(key.encode()).hexdigest()


def _is_complete(out_dir: Path, stamp_hash: str) -> bool:
    try:
        return json.loads((out_dir / STAMP_NAME).read_text()).get("hash") == stamp_hash
    except (OSError, ValueError):
        return False


def access(spec: DemoSpec) -> tuple[dict[str, tuple[str, list[str]]], dict[str, str]]:
    """The mirror's access (`write_access` arguments): data hub -> (password, its studies);
    Webin account -> password."""
    hubs: dict[str, tuple[str, list[str]]] = {}
    webin: dict[str, str] = {}
    for study in spec.private_studies:
        assert study.data_hub is not None
        user, password = study.data_hub
        if user in hubs and hubs[user][0] != password:
            raise DemoBuildError(f"data hub {user} is given two passwords")
        hubs.setdefault(user, (password, []))[1].append(study.accession)
        if study.webin:
            webin[study.webin[0]] = study.webin[1]
    return hubs, webin


def build_demo(out_dir: Path, cache_dir: Path | None = None, *, scale: float = 1.0) -> Path:
    """Write the demo studies' mirror data directory at ``out_dir`` and return it (with
    ``access.json`` when a study is private).

    A no-op if ``out_dir`` already holds a complete build of the same spec and ``scale`` (every
    coverage is multiplied by ``scale``; fixed read counts are not). Builds beside ``out_dir`` and
    renames, so an interrupted build never looks complete.
    """
    out_dir = Path(out_dir).absolute()  # ART runs in a work dir: relative paths would break
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    spec = load_spec()
    stamp_hash = _stamp_hash(spec, scale)
    if _is_complete(out_dir, stamp_hash):
        return out_dir
    started = time.monotonic()
    cache = Path(cache_dir).absolute() if cache_dir else default_cache_dir()
    genome_files = {key: fetch_genome(g, cache) for key, g in spec.genomes.items()}
    if shutil.which("art_illumina") is None:
        raise DemoBuildError(
            "art_illumina not found: install Debian's art-nextgen-simulation-tools"
        )

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.building-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        work = tmp / ".work"
        work.mkdir()
        with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
            futures = {
                run["run_accession"]: pool.submit(
                    simulate_run, spec, run, genome_files, tmp, work, scale
                )
                for run in spec.runs
            }
            simulated = {acc: f.result() for acc, f in futures.items()}
        work.rmdir()
        genomes_dir = tmp / "truth" / "genomes"
        genomes_dir.mkdir(parents=True)
        for genome in spec.genomes.values():
            with (genomes_dir / f"{genome.accession}.fna.gz").open("wb") as raw:
                with gzip.GzipFile("", "wb", 1, raw, mtime=0) as gz:
                    gz.write(genome_files[genome.key].read_bytes())
        refs = build_references(spec, genome_files, tmp / "references", cache)
        write_text_atomic(tmp / "references" / "references.json", json.dumps(refs, indent=1) + "\n")
        write_portal(tmp, records(spec, simulated))
        hubs, webin = access(spec)
        if hubs or webin:
            write_access(tmp, hubs, webin)
        stamp = {
            "hash": stamp_hash,
            "scale": scale,
            "build_version": BUILD_VERSION,
            "seconds": round(time.monotonic() - started, 1),
        }
        # not io.write_json: it sorts keys, and the stamp has always been in this order
        write_text_atomic(tmp / STAMP_NAME, json.dumps(stamp, indent=1) + "\n")
        _install(tmp, out_dir, stamp_hash)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def write_references_config(data_dir: Path, dest: Path) -> Path:
    """A config file (`references:` only) naming a built demo's reference files, for
    `snakemake --configfile ... <dest>`."""
    import yaml

    text = "# Written by `mgnify-db demo build`: the demo's reference files (absolute paths).\n"
    refs = _only_paths(references_config(data_dir))
    write_text_atomic(dest, text + yaml.safe_dump({"references": refs}))
    return dest


def _only_paths(value):
    """Each source's `url: null` said outright: Snakemake merges config files key by key, and
    config.yaml's default URLs must not stay next to the demo's paths."""
    if isinstance(value, list):
        return [_only_paths(v) for v in value]
    if isinstance(value, dict):
        out = {k: _only_paths(v) for k, v in value.items()}
        return {"url": None, **out} if "path" in out and "url" not in out else out
    return value


def _install(tmp: Path, out_dir: Path, stamp_hash: str) -> None:
    """Move the finished build to ``out_dir``, replacing a stale one."""
    old = None
    if out_dir.exists() or out_dir.is_symlink():
        old = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
        out_dir.rename(old)
    try:
        tmp.rename(out_dir)
    except OSError:
        if not _is_complete(out_dir, stamp_hash):  # not a concurrent build of the same thing
            raise
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink()
