"""Host/contaminant read removal (minimap2) on real genomes: yeast as host, an archaeal slice as
contaminant, phage lambda as what must be kept; reads simulated by ART, whose read names tell
their origin."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from support import packaged_file

from mgnify_db.dev.demo.genomes import default_cache_dir
from mgnify_db.io import md5sum, read_fasta
from mgnify_db.proc import ToolError
from mgnify_db.tools.decontam import (
    DecontamGate,
    DecontamResult,
    check_gates,
    decontaminate,
    index_references,
    read_index_info,
    sidecar_path,
)

LAMBDA = ("bowtie2-examples", "usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")
PYBARRNAP = ("pybarrnap", "0.5.2")  # its wheel ships S. cerevisiae S288c (12 Mb) and an archaeon
YEAST = "pybarrnap/example_data/fungus.fna"
ARCHAEA = "pybarrnap/example_data/archaea.fna"
HOST, CONTAMINANT = "host:yeast", "contaminant:archaea"


def pypi_wheel_file(name: str, version: str, member: str) -> bytes:
    """A file of a PyPI wheel, downloaded once (pip) into the project's cache."""
    downloads = default_cache_dir() / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    if not sorted(downloads.glob(pattern)):
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
        cmd += [f"{name}=={version}", "-d", str(downloads), "-q", "--disable-pip-version-check"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"could not download the {name} wheel: {done.stderr[-2000:]}")
    with zipfile.ZipFile(sorted(downloads.glob(pattern))[-1]) as wheel:
        return wheel.read(member)


def write_fasta(path: Path, name: str, seq: str) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt") as fh:
        fh.write(f">{name}\n")
        fh.writelines(seq[i : i + 80] + "\n" for i in range(0, len(seq), 80))
    return path


def art(genome: Path, prefix: Path, fold: float, seed: int) -> list[Path]:
    """ART 2x150 reads (HiSeq 2500, 350 bp fragments) named `<sequence name>-<n>/1|2`."""
    cmd = f"art_illumina -ss HS25 -p -l 150 -f {fold} -m 350 -s 50 -na -rs {seed}".split()
    subprocess.run([*cmd, "-i", genome, "-o", prefix], check=True, capture_output=True)
    return [Path(f"{prefix}1.fq"), Path(f"{prefix}2.fq")]


def fastq_names(path: Path) -> list[str]:
    with gzip.open(path, "rt") as fh:
        return [line[1:].split()[0] for i, line in enumerate(fh) if i % 4 == 0]


def origin(read_name: str) -> str:
    return read_name.split("/")[0].rsplit("-", 1)[0]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("decontam")
    yeast = tmp / "yeast.fna"
    yeast.write_bytes(pypi_wheel_file(*PYBARRNAP, YEAST))
    archaea = tmp / "archaea.fna"
    archaea.write_bytes(pypi_wheel_file(*PYBARRNAP, ARCHAEA))
    chromosome = list(read_fasta(yeast))[3][1]  # chromosome III, 317 kb
    (_, archaeon), *_ = read_fasta(archaea)
    lam = "".join(seq for _, seq in read_fasta(packaged_file(*LAMBDA)))
    # (name, sequence, fold): 200 kb of the host, 50 kb of the contaminant, lambda to keep
    sources = [
        ("yeast_slice", chromosome[50_000:250_000], 10),
        ("archaea_slice", archaeon[:50_000], 10),
        ("lambda", lam, 20),
    ]
    mixed = [tmp / "mixed_1.fq", tmp / "mixed_2.fq"]
    for seed, (name, seq, fold) in enumerate(sources, 1):
        genome = write_fasta(tmp / f"{name}.fa", name, seq)
        for mate, part in zip(mixed, art(genome, tmp / f"{name}_", fold, seed), strict=True):
            with open(mate, "a") as out:
                out.write(part.read_text())
    # The contaminant's FASTA is gzipped: indexing reads either.
    arch_gz = write_fasta(tmp / "archaea.fa.gz", "archaea_slice", archaeon[:50_000])
    index = tmp / "index" / "refs.mmi"
    info = index_references([(HOST, yeast), (CONTAMINANT, arch_gz)], index, threads=2)
    with open(mixed[0]) as fh:
        pairs_in = Counter(origin(line[1:].split()[0]) for i, line in enumerate(fh) if i % 4 == 0)
    return {
        "tmp": tmp,
        "index": index,
        "info": info,
        "reads": mixed,
        "yeast": yeast,
        "archaea": arch_gz,
        "pairs_in": pairs_in,
    }


def test_index_sidecar_maps_labels_to_sequences(data):
    info = data["info"]
    assert info.labels == [HOST, CONTAMINANT]
    assert len(info.sequences[HOST]) == 16  # S288c's chromosomes
    assert info.sequences[CONTAMINANT] == ["archaea_slice"]
    assert info.label_of()["archaea_slice"] == CONTAMINANT
    assert [f.md5 for f in info.fastas] == [md5sum(data["yeast"]), md5sum(data["archaea"])]
    assert info.fastas[0].bases == 12_071_326 and info.fastas[1].bases == 50_000
    assert read_index_info(data["index"]) == info
    assert json.loads(sidecar_path(data["index"]).read_text()) == info.model_dump(mode="json")
    assert sorted(p.name for p in data["index"].parent.iterdir()) == [
        ".refs.mmi.lock",
        "refs.mmi",
        "refs.mmi.json",
    ]


def test_decontaminate_pairs(data, tmp_path):
    out = tmp_path / "decontam"
    result = decontaminate(data["reads"], data["index"], out, threads=2, log=tmp_path / "d.log")
    pairs_in = data["pairs_in"]
    r1, r2 = fastq_names(out / "reads_1.fastq.gz"), fastq_names(out / "reads_2.fastq.gz")
    assert [n.split("/")[0] for n in r1] == [n.split("/")[0] for n in r2]  # mates in step
    kept = Counter(origin(n) for n in r1)
    assert kept["yeast_slice"] <= 0.01 * pairs_in["yeast_slice"]  # >= 99 % removed
    assert kept["archaea_slice"] <= 0.01 * pairs_in["archaea_slice"]
    assert pairs_in["lambda"] - kept["lambda"] <= 0.001 * pairs_in["lambda"]  # <= 0.1 % lost
    # counts are reads, both mates counted, as fastp's
    assert result.paired
    assert result.reads_in == 2 * sum(pairs_in.values())
    assert result.reads_kept == 2 * len(r1)
    assert result.reads_removed == result.reads_in - result.reads_kept
    assert sum(result.removed_by_label.values()) == result.reads_removed
    # each removed pair counted under the reference its reads came from
    assert result.removed_by_label == {
        HOST: 2 * (pairs_in["yeast_slice"] - kept["yeast_slice"]),
        CONTAMINANT: 2 * (pairs_in["archaea_slice"] - kept["archaea_slice"]),
    }
    assert result.kept_ratio == pytest.approx(result.reads_kept / result.reads_in)
    assert result.references == [HOST, CONTAMINANT]
    assert sorted(p.name for p in out.iterdir()) == [
        "decontam.json",
        "reads_1.fastq.gz",
        "reads_2.fastq.gz",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".decontam.lock", "d.log", "decontam"]
    assert json.loads((out / "decontam.json").read_text()) == result.model_dump(mode="json")
    assert check_gates(result) is None


def test_a_pair_goes_when_one_mate_maps(data, tmp_path):
    """Mate 1 from the host, mate 2 from lambda: the pair is removed, both reads on the host."""
    records = {}  # origin -> the first pair of that origin, as 2 FASTQ records
    with open(data["reads"][0]) as f1, open(data["reads"][1]) as f2:
        lines1, lines2 = f1.read().splitlines(), f2.read().splitlines()
    for i in range(0, len(lines1), 4):
        records.setdefault(origin(lines1[i][1:]), (lines1[i + 1 : i + 4], lines2[i + 1 : i + 4]))
    yeast, lam = records["yeast_slice"], records["lambda"]
    r1, r2 = tmp_path / "r_1.fq", tmp_path / "r_2.fq"
    r1.write_text("\n".join(["@chimera/1", *yeast[0], "@lambda-x/1", *lam[0]]) + "\n")
    r2.write_text("\n".join(["@chimera/2", *lam[1], "@lambda-x/2", *lam[1]]) + "\n")
    result = decontaminate([r1, r2], data["index"], tmp_path / "out")
    assert fastq_names(tmp_path / "out" / "reads_1.fastq.gz") == ["lambda-x"]
    assert fastq_names(tmp_path / "out" / "reads_2.fastq.gz") == ["lambda-x"]
    assert (result.reads_in, result.reads_kept) == (4, 2)
    assert result.removed_by_label == {HOST: 2, CONTAMINANT: 0}


def test_decontaminate_single_end(data, tmp_path):
    out = tmp_path / "single"
    result = decontaminate(data["reads"][:1], data["index"], out, threads=2)
    kept = Counter(origin(n) for n in fastq_names(out / "reads_1.fastq.gz"))
    pairs_in = data["pairs_in"]
    assert not result.paired and result.reads_in == sum(pairs_in.values())
    assert kept["yeast_slice"] <= 0.01 * pairs_in["yeast_slice"]
    assert pairs_in["lambda"] - kept["lambda"] <= 0.001 * pairs_in["lambda"]
    assert result.reads_kept == sum(kept.values())
    assert sorted(p.name for p in out.iterdir()) == ["decontam.json", "reads_1.fastq.gz"]


def test_decontaminate_no_reads(data, tmp_path):
    empty = [tmp_path / "e_1.fq", tmp_path / "e_2.fq"]
    for path in empty:
        path.write_text("")
    result = decontaminate(empty, data["index"], tmp_path / "out")
    assert (result.reads_in, result.reads_kept, result.kept_ratio) == (0, 0, 0.0)
    assert result.removed_by_label == {HOST: 0, CONTAMINANT: 0}
    for name in ("reads_1.fastq.gz", "reads_2.fastq.gz"):
        assert gzip.decompress((tmp_path / "out" / name).read_bytes()) == b""
    assert check_gates(result) == "low_reads_count: no reads in the input"


def test_decontaminate_failure_leaves_no_result(data, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "reads_1.fastq.gz").write_bytes(b"an earlier attempt's")
    with pytest.raises(ToolError, match=r"minimap2 \| samtools fastq failed with exit code"):
        decontaminate([tmp_path / "missing.fq"], data["index"], out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.lock"]


def test_index_without_references_is_refused(data, tmp_path):
    with pytest.raises(ValueError, match="no reference"):
        index_references([], tmp_path / "refs.mmi")
    index = tmp_path / "refs.mmi"
    index.write_bytes(b"")
    with pytest.raises(ValueError, match="no sidecar"):
        decontaminate(data["reads"], index, tmp_path / "out")
    sidecar_path(index).write_text(json.dumps({"fastas": [], "sequences": {}}))
    with pytest.raises(ValueError, match="holds no reference sequence"):
        decontaminate(data["reads"], index, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_index_refuses_bad_references(data, tmp_path):
    empty = tmp_path / "empty.fa"
    empty.write_text("")
    with pytest.raises(ValueError, match="holds no sequence"):
        index_references([(HOST, empty)], tmp_path / "a.mmi")
    fastq = tmp_path / "reads.fa"
    fastq.write_text("@r1\nACGT\n+\nIIII\n")
    with pytest.raises(ValueError, match="not a FASTA"):
        index_references([(HOST, fastq)], tmp_path / "b.mmi")
    with pytest.raises(ValueError, match="archaea_slice is in both"):
        index_references([(HOST, data["archaea"]), (CONTAMINANT, data["archaea"])], tmp_path / "c")
    with pytest.raises(ValueError, match="invalid reference label"):
        index_references([("", data["archaea"])], tmp_path / "d.mmi")
    assert not any(p.name.endswith((".mmi", ".json")) for p in tmp_path.iterdir())


def test_reindexing_replaces_index_and_sidecar(data, tmp_path):
    index = tmp_path / "refs.mmi"
    index_references([(CONTAMINANT, data["archaea"])], index)
    first = index.read_bytes()
    lam = data["tmp"] / "lambda.fa"
    info = index_references([(CONTAMINANT, data["archaea"]), ("contaminant:lambda", lam)], index)
    assert index.read_bytes() != first
    assert read_index_info(index) == info
    assert info.sequences == {CONTAMINANT: ["archaea_slice"], "contaminant:lambda": ["lambda"]}


def result_of(reads_in: int, kept: int) -> DecontamResult:
    return DecontamResult(
        reads_in=reads_in,
        reads_removed=reads_in - kept,
        reads_kept=kept,
        removed_by_label={HOST: reads_in - kept},
        kept_ratio=kept / reads_in if reads_in else 0.0,
        references=[HOST],
        paired=True,
    )


def test_gates_are_miassemblers():
    assert DecontamGate() == DecontamGate(min_kept_ratio=0.1, min_reads=1000)
    assert check_gates(result_of(10_000, 5_000)) is None
    # both limits inclusive, as fastp.qc_gate's
    assert check_gates(result_of(10_000, 1_000)) is None
    assert check_gates(result_of(2_000, 1_000), min_reads=1_000, min_kept_ratio=0.5) is None
    low = check_gates(result_of(1_200, 999))
    assert low == "low_reads_count: 999 reads left after decontamination (< 1000)"
    ratio = check_gates(result_of(100_000, 9_000))
    assert ratio == (
        "filter_ratio_threshold_exceeded: 9.0% of reads kept after decontamination (< 10%)"
    )
    both = check_gates(result_of(100_000, 500))
    assert both is not None and both.startswith("low_reads_count: 500 reads")
    assert "; filter_ratio_threshold_exceeded: 0.5% of reads kept" in both
    assert check_gates(result_of(100, 90), min_reads=50, min_kept_ratio=0.95) == (
        "filter_ratio_threshold_exceeded: 90.0% of reads kept after decontamination (< 95%)"
    )
