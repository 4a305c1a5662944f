"""The assembly pipeline's analysis summary (mgnify_db.pipelines.assembly)."""

from __future__ import annotations

from mgnify_db.pipelines.assembly import summarise_analysis
from mgnify_db.tools.megahit import AssemblyStats


def test_summarise_analysis():
    stats = AssemblyStats(
        n_contigs=12,
        total_length=48_000,
        n50=9000,
        l50=2,
        largest_contig=20_000,
        gc_content=0.5,
        assembler_version="1.2.9",
        min_contig_len=500,
    )
    summary = summarise_analysis(
        62, {"rRNA_16S": 2, "rRNA_5S": 3, "rRNA_12S": 1}, stats, rrna_tool_version="0.9"
    )
    assert (summary.cds_count, summary.n_contigs, summary.assembly_length) == (62, 12, 48_000)
    assert (summary.rrna_16s, summary.rrna_23s, summary.rrna_5s) == (2, 0, 3)
    assert summary.rrna_total == 6  # the 12S has no field of its own but counts
    assert summary.rrna_counts == {"rRNA_16S": 2, "rRNA_5S": 3, "rRNA_12S": 1}
    assert summary.assembler_version == "1.2.9" and summary.rrna_tool_version == "0.9"
    assert summary.cds_tool == "pyrodigal" and summary.cds_tool_version
