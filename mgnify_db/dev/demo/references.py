"""The demo's reference files, from packages only, written under the mirror's ``references/``:
the workflow's `reference_*` rules build their databases from them as from production's.

- ``pfam.hmm.gz``: the Pfam models (with GA cutoffs) of PyPI's micomplete sdist (Bact105 and
  Arch131, Pfam entries only);
- ``rrna.cm.i1m``: Rfam's rRNA covariance models inside PyPI's pybarrnap sdist (cmpress'ed);
- ``ssu.fasta.gz``: 5,181 16S genes with lineages, Debian's microbiomeutil-data;
- ``taxonomy.tsv`` (demo/references) and ``genomes/*.fna.gz``: the kraken2 database's genomes,
  the community's less Corynebacterium and Legionella (deliberately absent) plus decoys and
  Coxiella, Legionella's near relative;
- ``yeast.fna.gz``: the host genome decontamination removes.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import shutil
from pathlib import Path

from .errors import DemoBuildError
from .genomes import debian_file, pypi_file
from .spec import DemoSpec

#: demo/references in the source tree (the taxonomy of the kraken2 genomes)
SOURCE_DIR = Path(__file__).resolve().parents[3] / "demo" / "references"
PFAM_SDIST = "micomplete==1.1.1"
PFAM_MEMBERS = ("micomplete/share/Bact105.hmm", "micomplete/share/Arch131.hmm")
RFAM_SDIST = "pybarrnap==0.5.2"
RFAM_MEMBER = "src/pybarrnap/db/cm/all.cm.i1m"
SSU_DEBIAN = ("microbiomeutil-data", "usr/share/microbiomeutil-data/RESOURCES/rRNA16S.gold.fasta")
#: genome key -> NCBI taxid (demo/references/taxonomy.tsv) of the kraken2 database's genomes
KRAKEN2_GENOMES = {
    "lambda": 10710,
    "tindicus": 9000002,
    "ecoli": 562,
    "mruminantium": 83816,
    "coxiella": 777,  # a near relative (same order) of the raw-reads study's absent Legionella
}
HOST = "yeast"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _gzip(src: Path, dest: Path) -> None:
    with open(src, "rb") as fh, open(dest, "wb") as raw:
        with gzip.GzipFile("", "wb", 1, raw, mtime=0) as gz:
            shutil.copyfileobj(fh, gz)


def pfam_models(texts: list[str]) -> str:
    """The Pfam entries (ACC PF...) of HMMER3 files, each once (first file wins)."""
    seen, out = set(), []
    for text in texts:
        for model in re.split(r"(?m)^//\s*$\n?", text):
            if not model.strip():
                continue
            acc = re.search(r"(?m)^ACC\s+(\S+)", model)
            if acc and acc.group(1).startswith("PF") and acc.group(1).split(".")[0] not in seen:
                seen.add(acc.group(1).split(".")[0])
                out.append(model.rstrip("\n") + "\n//\n")
    return "".join(out)


def build_references(
    spec: DemoSpec, genome_files: dict[str, Path], out: Path, cache_dir: Path
) -> dict:
    """Write the reference files into `out` and return their `references:` config (paths
    relative to the mirror data dir, with sha256)."""
    out.mkdir(parents=True, exist_ok=True)
    texts = []
    for member in PFAM_MEMBERS:
        path = pypi_file(PFAM_SDIST, member, out / ".pfam.tmp", cache_dir)
        texts.append(path.read_text())
        path.unlink()
    models = pfam_models(texts)
    if not models:
        raise DemoBuildError(f"no Pfam models found in {PFAM_SDIST}")
    with gzip.GzipFile(out / "pfam.hmm.gz", "wb", 1, mtime=0) as gz:
        gz.write(models.encode())
    pypi_file(RFAM_SDIST, RFAM_MEMBER, out / "rrna.cm.i1m", cache_dir)
    _gzip(debian_file(*SSU_DEBIAN, cache_dir), out / "ssu.fasta.gz")
    shutil.copyfile(SOURCE_DIR / "taxonomy.tsv", out / "taxonomy.tsv")
    (out / "genomes").mkdir(exist_ok=True)
    for key in [*KRAKEN2_GENOMES, HOST]:
        _gzip(genome_files[key], out / "genomes" / f"{spec.genomes[key].accession}.fna.gz")

    def source(rel: str, **extra) -> dict:
        return {"path": f"references/{rel}", "sha256": _sha256(out / rel), **extra}

    return {
        "pfam": source("pfam.hmm.gz"),
        "rfam": source("rrna.cm.i1m"),
        "ssu": source("ssu.fasta.gz"),
        "kraken2": {
            "taxonomy": source("taxonomy.tsv"),
            "genomes": [
                source(f"genomes/{spec.genomes[k].accession}.fna.gz", taxid=taxid)
                for k, taxid in KRAKEN2_GENOMES.items()
            ],
        },
        "decontamination": {
            "genomes": {HOST: source(f"genomes/{spec.genomes[HOST].accession}.fna.gz")},
            "hosts": {"root:Engineered:Food production": [HOST]},
        },
    }


def references_config(data_dir: Path) -> dict:
    """The `references:` config of a built demo at `data_dir` (absolute paths)."""
    import json

    refs = json.loads((Path(data_dir) / "references" / "references.json").read_text())

    def absolute(node):
        if isinstance(node, dict):
            return {
                k: (str(Path(data_dir) / v) if k == "path" else absolute(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [absolute(v) for v in node]
        return node

    return absolute(refs)
