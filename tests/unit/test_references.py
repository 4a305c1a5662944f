"""Reference sources (a URL or a path, checksums) and their config."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
from pathlib import Path

import pytest

from mgnify_db.config import (
    ConfigError,
    DecontaminationReferences,
    GlobalConfig,
    Source,
    StudyConfig,
    check_references,
    parse_global,
)
from mgnify_db.proc import ToolError
from mgnify_db.references import fetch, gunzipped, taxonomy_table


@pytest.fixture(scope="module")
def http_dir(tmp_path_factory):
    """A real HTTP server on 127.0.0.1 over a temp dir: (dir, base URL)."""
    root = tmp_path_factory.mktemp("www")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_fetch_a_path_and_a_url_with_their_checksums(tmp_path, http_dir):
    root, base = http_dir
    data = b">c1\nACGT\n" * 1000
    (root / "ref.fa").write_bytes(data)
    sha, md5 = hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()
    got = fetch(Source(path=str(root / "ref.fa"), sha256=sha), tmp_path / "a.fa")
    assert (tmp_path / "a.fa").read_bytes() == data and got.md5 == md5 and got.bytes == len(data)
    got = fetch(Source(url=f"{base}/ref.fa", md5=md5), tmp_path / "b.fa")
    assert got.sha256 == sha and got.location == f"{base}/ref.fa"
    with pytest.raises(ToolError, match="sha256 .* is not 0{64}"):
        fetch(Source(url=f"{base}/ref.fa", sha256="0" * 64), tmp_path / "c.fa", attempts=2)
    assert not (tmp_path / "c.fa").exists()  # nothing half-checked is left
    with pytest.raises(ToolError, match="404"):
        fetch(Source(url=f"{base}/missing.fa"), tmp_path / "d.fa")
    with pytest.raises(ToolError, match="file not found"):
        fetch(Source(path=str(root / "missing.fa")), tmp_path / "e.fa")


def test_gunzipped_leaves_plain_files_alone(tmp_path):
    import gzip

    plain = tmp_path / "x.hmm"
    plain.write_text("HMMER3/f\n")
    assert gunzipped(plain) == plain
    packed = tmp_path / "y.hmm.gz"
    packed.write_bytes(gzip.compress(b"HMMER3/f\n"))
    assert gunzipped(packed).read_text() == "HMMER3/f\n"


def test_taxonomy_from_an_ncbi_taxdump(tmp_path):
    nodes = "1\t|\t1\t|\tno rank\t|\n2\t|\t1\t|\tsuperkingdom\t|\n561\t|\t2\t|\tgenus\t|\n"
    names = (
        "1\t|\troot\t|\t\t|\tscientific name\t|\n"
        "2\t|\tBacteria\t|\t\t|\tscientific name\t|\n"
        "2\t|\teubacteria\t|\t\t|\tgenbank common name\t|\n"
        "561\t|\tEscherichia\t|\t\t|\tscientific name\t|\n"
    )
    dump = tmp_path / "taxdump.tar.gz"
    with tarfile.open(dump, "w:gz") as tar:
        for name, text in (("nodes.dmp", nodes), ("names.dmp", names)):
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    taxonomy_table(dump, tmp_path / "taxonomy.tsv")
    lines = (tmp_path / "taxonomy.tsv").read_text().splitlines()
    assert lines[1:] == [
        "1\t1\tno rank\troot",
        "2\t1\tsuperkingdom\tBacteria",
        "561\t2\tgenus\tEscherichia",
    ]


def test_a_source_is_one_place_with_well_formed_checksums():
    with pytest.raises(ValueError, match="exactly one of url and path"):
        Source(url="https://x/y", path="y")
    with pytest.raises(ValueError, match="exactly one of url and path"):
        Source()
    with pytest.raises(ValueError, match="not an http"):
        Source(url="s3://bucket/key")
    with pytest.raises(ValueError, match="lowercase hex md5"):
        Source(path="x", md5="XYZ")


def test_hosts_by_the_longest_biome_prefix_and_a_study_override():
    d = DecontaminationReferences(
        genomes={g: Source(path=f"{g}.fa") for g in ("human", "mouse", "phiX")},
        hosts={"root:Host-associated": ["human"], "root:Host-associated:Mammals:Mouse": ["mouse"]},
        contaminants=["phiX"],
    )
    assert d.for_biome("root:Host-associated:Human:Digestive system") == ["human", "phiX"]
    assert d.for_biome("root:Host-associated:Mammals:Mouse:Gut") == ["mouse", "phiX"]
    assert d.for_biome("root:Host-associatedX") == ["phiX"]  # a prefix is whole lineage parts
    assert d.for_biome("root:Host-associated", override=[]) == ["phiX"]
    with pytest.raises(ValueError, match="'cow' is not in decontamination.genomes"):
        DecontaminationReferences(genomes={}, hosts={"root:Host-associated": ["cow"]})


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match=r"references\.kraken2\.genomes\.0\.taxid"):
        parse_global(
            {
                "references": {
                    "kraken2": {"taxonomy": {"path": "t.tsv"}, "genomes": [{"path": "g.fa"}]}
                }
            }
        )
    cfg = GlobalConfig()
    study = StudyConfig(accession="PRJEB1", biome="root:Host-associated", host_genomes=["hman"])
    with pytest.raises(ConfigError, match=r"PRJEB1.yaml: host_genomes: 'hman' is not in config"):
        check_references(cfg, {"PRJEB1": study})


def test_production_defaults_are_the_real_services():
    refs = GlobalConfig().references
    assert refs.pfam.url.startswith("https://ftp.ebi.ac.uk/pub/databases/Pfam/")
    assert refs.rfam.url.startswith("https://ftp.ebi.ac.uk/pub/databases/Rfam/")
    assert refs.kraken2 is None and refs.decontamination.genomes == {}
    assert isinstance(Path(refs.ssu.url).name, str)
