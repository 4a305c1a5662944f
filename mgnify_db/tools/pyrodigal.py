"""pyrodigal: CDS prediction on contigs (metagenome mode), deterministic protein ids."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import IO

import pyrodigal

from ..io import open_text, read_fasta, temp_path

TOOL_VERSION = pyrodigal.__version__
# Contigs handed to the thread pool at a time: bounds memory on large assemblies.
CDS_BATCH = 256


def _batches(items: Iterable, size: int) -> Iterator[list]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def predict_cds(contigs: Path, faa_out: Path, gff_out: Path, *, threads: int = 1) -> int:
    """Predict CDS with pyrodigal in meta mode; write proteins (no trailing '*') and GFF3.

    Input may be plain or gzipped FASTA; outputs are gzipped if named `.gz`, and written to
    this process's temp files, renamed into place only when both are complete. An empty input
    gives 0, an empty protein FASTA and a GFF with only its header. Returns the number of CDS.
    """
    finder = pyrodigal.GeneFinder(meta=True)
    count = 0
    faa_out, gff_out = Path(faa_out), Path(gff_out)
    for out in (faa_out, gff_out):
        out.parent.mkdir(parents=True, exist_ok=True)
    faa_tmp, gff_tmp = temp_path(faa_out), temp_path(gff_out)
    try:
        with (
            open_text(faa_tmp, "w") as faa,
            open_text(gff_tmp, "w") as gff,
            ThreadPoolExecutor(max_workers=max(1, threads)) as pool,
        ):
            gff.write("##gff-version 3\n")
            index = 0
            for batch in _batches(read_fasta(contigs), CDS_BATCH):
                # find_genes releases the GIL, so threads run contigs in parallel; map keeps order.
                results = pool.map(finder.find_genes, [seq for _, seq in batch])
                for (header, _), genes in zip(batch, results, strict=True):
                    index += 1
                    seq_id = header.split(maxsplit=1)[0] if header else ""
                    count += len(genes)
                    _write_genes(genes, seq_id, index, faa, gff)
        os.replace(faa_tmp, faa_out)
        os.replace(gff_tmp, gff_out)
    finally:
        faa_tmp.unlink(missing_ok=True)
        gff_tmp.unlink(missing_ok=True)
    return count


# pyrodigal numbers sequences in the order find_genes is called, which threads make random;
# Prodigal's number is the contig's 1-based index in the input, so put that back.
_FAA_SEQNUM = re.compile(r"(# ID=)\d+_")
_GFF_SEQNUM = re.compile(r"(seqnum=)\d+;")


def _write_genes(
    genes: pyrodigal.Genes, seq_id: str, index: int, faa: IO[str], gff: IO[str]
) -> None:
    buf = io.StringIO()
    genes.write_translations(buf, sequence_id=seq_id, include_stop=False)
    faa.write(_FAA_SEQNUM.sub(rf"\g<1>{index}_", buf.getvalue()))
    buf = io.StringIO()
    genes.write_gff(buf, sequence_id=seq_id, header=False, include_translation_table=True)
    gff.write(_GFF_SEQNUM.sub(rf"\g<1>{index};", buf.getvalue()))
