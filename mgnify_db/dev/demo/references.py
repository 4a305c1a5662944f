"""The demo's reference files, from packages only, written under the mirror's ``references/``:
the workflow's `reference_*` rules build their databases from them as from production's.

- ``pfam.hmm.gz``: the Pfam models (with GA cutoffs) of PyPI's micomplete sdist (Bact105 and
  Arch131, Pfam entries only);
- ``rrna.cm.i1m``: Rfam's rRNA covariance models inside PyPI's pybarrnap sdist (cmpress'ed);
- ``ssu.fasta.gz``: 5,181 16S genes with lineages, Debian's microbiomeutil-data;
- ``lsu.fasta.gz``: the bacterial and archaeal 23S genes of SILVA's LSURef 93 (Debian's
  ncbi-rrna-data, a BLAST database) whose genus the 16S file holds, with that genus' lineage
  (SILVA's titles name the organism, not its lineage);
- ``taxonomy.tsv`` (demo/references) and ``genomes/*.fna.gz``: the kraken2 database's genomes,
  the communities' less Corynebacterium and Legionella (deliberately absent), plus Coxiella
  (Legionella's near relative), a second E. coli strain (536) and a decoy (H. pylori G27);
- ``yeast.fna.gz``: the host genome decontamination removes.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
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
#: SILVA LSURef 93 as a BLAST database (blastdbcmd, ncbi-blast+, reads it)
LSU_DEBIAN = ("ncbi-rrna-data", "usr/share/ncbi/data/LSURef_93.fasta.nsq")
#: genome key -> NCBI taxid (demo/references/taxonomy.tsv) of the kraken2 database's genomes
KRAKEN2_GENOMES = {
    "lambda": 10710,
    "tindicus": 9000002,
    "ecoli": 562,
    "mruminantium": 83816,
    "coxiella": 777,  # a near relative (same order) of the raw-reads study's absent Legionella
    "ecoli536": 562,  # another strain of the raw-reads study's E. coli (K-12)
    "hpylori": 210,  # a decoy: in no demo community
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


def genus_lineages(gold: Path) -> dict[str, str]:
    """Genus -> its lineage (`Bacteria; Phylum; Class; Order; Family; Genus`, tab-separated last
    field of the gold 16S file's headers); the first record of a genus wins."""
    out: dict[str, str] = {}
    with open(gold) as fh:
        for line in fh:
            if line.startswith(">"):
                lineage = line.rstrip("\n").split("\t")[-1]
                ranks = [r.strip() for r in lineage.split(";")]
                if len(ranks) == 6 and all(ranks):
                    out.setdefault(ranks[-1], "; ".join(ranks))
    return out


def lsu_records(
    records: Iterable[tuple[str, str]], lineages: dict[str, str]
) -> Iterator[tuple[str, str]]:
    """(header, sequence) with a tab-separated lineage (`ID<TAB>organism<TAB>lineage`, which
    the SSU reference's reader takes) of SILVA LSU records (`gb|ACC| Genus species strain...`,
    sequence) of bacteria and archaea whose genus has a lineage. A eukaryote of a bacterial
    genus' name (a 26S/28S/18S title) is left out; an accession seen again gets `.2`, `.3`..."""
    seen: dict[str, int] = {}
    for title, seq in records:
        ident, _, organism = title.strip().partition(" ")
        genus = organism.split(" ", 1)[0]
        lineage = lineages.get(genus)
        if lineage is None or not lineage.startswith(("Bacteria;", "Archaea;")):
            continue
        if re.search(r"\b(?:18|25|26|28)S\b", organism):
            continue
        acc = next((part for part in ident.split("|")[1:] if part), ident)
        seen[acc] = seen.get(acc, 0) + 1
        label = acc if seen[acc] == 1 else f"{acc}.{seen[acc]}"
        organism = re.sub(r"\s+\d+ bp$", "", organism)
        yield f"{label}\t{organism}\t{lineage}", seq


def _blast_records(db: Path) -> Iterator[tuple[str, str]]:
    """(title, sequence) of every record of a BLAST nucleotide database (blastdbcmd)."""
    cmd = ["blastdbcmd", "-db", str(db), "-entry", "all", "-outfmt", "%t\t%s"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    except OSError as exc:
        raise DemoBuildError(f"blastdbcmd: {exc}; install ncbi-blast+ (scripts/setup)") from None
    except subprocess.CalledProcessError as exc:
        said = (exc.stderr or "").strip().splitlines()[-1:] or [f"exit {exc.returncode}"]
        raise DemoBuildError(f"blastdbcmd could not read {db}: {said[0]}") from None
    for line in proc.stdout.splitlines():
        title, _, seq = line.rpartition("\t")
        if title and seq:
            yield title, seq


def build_lsu(gold: Path, db: Path, dest: Path) -> int:
    """Write the demo's LSU reference (gzipped FASTA, gold 16S headers); returns its records."""
    n = 0
    with open(dest, "wb") as raw, gzip.GzipFile("", "wb", 6, raw, mtime=0) as gz:
        for header, seq in lsu_records(_blast_records(db), genus_lineages(gold)):
            gz.write(f">{header}\n{seq}\n".encode())
            n += 1
    if not n:
        raise DemoBuildError(f"{db}: no bacterial or archaeal LSU record with a known genus")
    return n


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
    gold = debian_file(*SSU_DEBIAN, cache_dir)
    _gzip(gold, out / "ssu.fasta.gz")
    build_lsu(gold, debian_file(*LSU_DEBIAN, cache_dir).with_suffix(""), out / "lsu.fasta.gz")
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
        "lsu": source("lsu.fasta.gz"),
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
