"""The bundled demo studies: reads simulated with ART from real genomes, as an ENA mirror data dir.

The hand-written metadata lives in ``demo/ena/`` (study.json, samples.json, runs.yaml: the public
study PRJEB00001) and ``demo/ena/private/`` (the same plus access.yaml: the private study
PRJEB77777, held by a data-hub account, owned by a Webin account; the build writes the mirror's
``access.json`` from it). Genomes
come only from a Debian package (``apt-get download``) and PyPI sdists (``pip download``), cached
in ``$MGNIFY_CACHE`` (default ``~/.cache/mgnify-snake``). Builds are byte-identical for the same
spec and scale. See `mgnify_db.dev.mirror` for the data directory layout; besides it the build
writes ``truth/{run}.tsv`` (reads per genome), ``truth/genomes/{accession}.fna.gz``,
``references/`` (the reference databases' source files, `references`) and a stamp.

Modules: `spec` (the demo/ena files), `genomes` (fetching them), `simulate` (ART, FASTQ),
`build` (`build_demo`). The CLI is ``mgnify-db demo build``.
"""

from .build import BUILD_VERSION, STAMP_NAME, build_demo, write_references_config
from .errors import DemoBuildError
from .genomes import debian_file, debian_tree, default_cache_dir, fetch_genome
from .spec import DemoSpec, Genome, StudySpec, dcc_environment, load_spec

__all__ = [
    "BUILD_VERSION",
    "STAMP_NAME",
    "DemoBuildError",
    "DemoSpec",
    "Genome",
    "StudySpec",
    "build_demo",
    "debian_file",
    "debian_tree",
    "dcc_environment",
    "default_cache_dir",
    "fetch_genome",
    "load_spec",
    "write_references_config",
]
