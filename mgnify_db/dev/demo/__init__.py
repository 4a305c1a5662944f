"""The bundled demo study: reads simulated with ART from real genomes, as an ENA mirror data dir.

The hand-written metadata lives in ``demo/ena/`` (study.json, samples.json, runs.yaml). Genomes
come only from a Debian package (``apt-get download``) and PyPI sdists (``pip download``), cached
in ``$MGNIFY_CACHE`` (default ``~/.cache/mgnify-snake``). Builds are byte-identical for the same
spec and scale. See `mgnify_db.dev.mirror` for the data directory layout; besides it the build
writes ``truth/{run}.tsv`` (reads per genome), ``truth/genomes/{accession}.fna.gz`` and a stamp.

Modules: `spec` (the demo/ena files), `genomes` (fetching them), `simulate` (ART, FASTQ),
`build` (`build_demo`). The CLI is ``mgnify-db demo build``.
"""

from .build import BUILD_VERSION, STAMP_NAME, build_demo
from .errors import DemoBuildError
from .genomes import debian_file, debian_tree, default_cache_dir, fetch_genome
from .spec import DemoSpec, Genome, load_spec

__all__ = [
    "BUILD_VERSION",
    "STAMP_NAME",
    "DemoBuildError",
    "DemoSpec",
    "Genome",
    "build_demo",
    "debian_file",
    "debian_tree",
    "default_cache_dir",
    "fetch_genome",
    "load_spec",
]
