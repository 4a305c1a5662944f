"""Every results, log and benchmark path pattern, in one table.

Rules (workflow/rules/common.smk), steps, state and loaders all take their paths from here.
`{study}` is the study's ENA accession (its config file's name); `{run}` an ENA run accession;
`{rule}` a rule name, which is also its step's name and its log and benchmark folder;
`{assembler}` the assembler of an assembly (megahit, metaspades).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STUDY = "{results}/studies/{study}"
RUN = STUDY + "/runs/{run}"  # {run}: a run accession, or a co-assembly's name
PATTERNS: dict[str, str] = {
    # study level
    "study_config": STUDY + "/study.json",
    # the publications and super studies the study is in, as config.yaml described them
    "study_references": STUDY + "/references.json",
    "config_history": STUDY + "/config_history.jsonl",  # every recorded config, appended
    # the config of a study whose ENA metadata could not be fetched yet (its catalogue stub)
    "pending_config": STUDY + "/study.pending.json",
    "ena": STUDY + "/ena.json",
    "study_jobs": STUDY + "/jobs",
    "loaded_study": STUDY + "/loaded/study.json",
    # each run's (and co-assembly's) results folder
    "runs": STUDY + "/runs",
    # run level: reads and QC
    "raw": RUN + "/raw",
    "qc": RUN + "/qc",
    "qc_json": RUN + "/qc/qc.json",
    "fastp_html": RUN + "/qc/fastp.html",
    # decontamination (runs of studies with host or contaminant genomes): the reads kept
    "decontaminated": RUN + "/decontamination",
    "decontamination_json": RUN + "/decontamination/decontamination.json",
    # assembly by one assembler (contigs >= the minimum length; coverage from the reads mapped
    # back); {assembler}: megahit or metaspades
    "contigs": RUN + "/assembly/{assembler}/contigs.fa.gz",
    "assembly": RUN + "/assembly/{assembler}/assembly.json",
    "contig_coverage": RUN + "/assembly/{assembler}/coverage.tsv",
    # assembly analysis: CDS and their Pfam domains
    "cds_faa": RUN + "/analysis/cds.faa",
    "cds_gff": RUN + "/analysis/cds.gff",
    "cds_counts": RUN + "/analysis/cds.json",
    "pfam_domains": RUN + "/analysis/pfam_domains.tsv.gz",
    # ... rRNA genes, SSU taxonomy, contig taxonomy, all features as one GFF
    "rrna_gff": RUN + "/analysis/rrna.gff",
    "rrna_counts": RUN + "/analysis/rrna.json",
    "ssu_fasta": RUN + "/analysis/ssu.fasta.gz",
    "lsu_fasta": RUN + "/analysis/lsu.fasta.gz",
    "contig_taxonomy": RUN + "/analysis/contig_taxonomy.tsv.gz",
    "annotation_gff": RUN + "/analysis/annotation_summary.gff.gz",
    # annotation tables (mgnify_db.pipelines.annotations): bgzipped TSV, index = path + ".gzi"
    "rrna_annotations": RUN + "/analysis/rrna_annotations.tsv.gz",
    "pfam_annotations": RUN + "/analysis/pfam_annotations.tsv.gz",
    "ssu_annotations": RUN + "/analysis/ssu_taxonomy.tsv.gz",
    "contig_annotations": RUN + "/analysis/contig_taxonomy_summary.tsv.gz",
    # amplicon analysis: primers found, ASVs and their reads (MGnify's formats), the reads
    # dereplicated (what the read taxonomy classifies)
    "asv_json": RUN + "/amplicon/asv.json",
    "primers_fasta": RUN + "/amplicon/primers.fasta",
    "asv_fasta": RUN + "/amplicon/asv_seqs.fasta",
    "asv_counts": RUN + "/amplicon/asv_read_counts.tsv",
    "amplicon_uniques": RUN + "/amplicon/uniques.fasta.gz",
    # ... the amplified region, read (closed-reference) and ASV taxonomy
    "amplicon_taxonomy_json": RUN + "/amplicon/taxonomy.json",
    "asv_taxonomy": RUN + "/amplicon/asv_taxonomy.tsv",
    "amplicon_rank_counts": RUN + "/amplicon/ssu_rank_counts.tsv",
    "amplicon_ssu_annotations": RUN + "/amplicon/ssu_taxonomy.tsv.gz",
    "asv_annotations": RUN + "/amplicon/asv_taxonomy_summary.tsv.gz",
    # raw-reads analysis: rRNA reads (SSU, LSU) and their taxonomy, read taxonomy (kraken2)...
    "reads_taxonomy_json": RUN + "/raw_reads/taxonomy.json",
    "reads_ssu_fasta": RUN + "/raw_reads/ssu_reads.fasta.gz",
    "reads_lsu_fasta": RUN + "/raw_reads/lsu_reads.fasta.gz",
    "reads_kraken2_report": RUN + "/raw_reads/kraken2_report.txt",
    "reads_ssu_annotations": RUN + "/raw_reads/ssu_taxonomy.tsv.gz",
    "reads_lsu_annotations": RUN + "/raw_reads/lsu_taxonomy.tsv.gz",
    "reads_annotations": RUN + "/raw_reads/reads_taxonomy.tsv.gz",
    # ... and Pfam on the reads
    "reads_function_json": RUN + "/raw_reads/function.json",
    "reads_pfam_annotations": RUN + "/raw_reads/pfam_summary.tsv.gz",
    "reads_pfam_hits": RUN + "/raw_reads/pfam_reads.tsv.gz",  # read, Pfam entries
    # job events: one <rule>.jsonl per job
    "jobs": RUN + "/jobs",
    "job_events": RUN + "/jobs/{rule}.jsonl",
    "loaded_run": STUDY + "/loaded/{run}.json",
    # logs and benchmarks mirror the rule name; the Slurm plugin's job logs (`slurm-logdir` in
    # profiles/slurm must name the same folder)
    "log": "{results}/logs/{rule}/{study}/{run}.log",
    "study_log": "{results}/logs/{rule}/{study}.log",
    "benchmark": "{results}/benchmarks/{rule}/{study}/{run}.tsv",
    "study_benchmark": "{results}/benchmarks/{rule}/{study}.tsv",
    "slurm_logs": "{results}/logs/slurm",
    # reference databases, built from config `references:` (each dir has its reference.json)
    "reference_pfam": "{results}/references/pfam/pfam.hmm",
    "reference_rfam": "{results}/references/rfam/rrna.cm",
    "reference_ssu": "{results}/references/ssu/ssu.fasta",
    "reference_lsu": "{results}/references/lsu/lsu.fasta",
    "reference_kraken2": "{results}/references/kraken2/db",
    # one minimap2 index per set of genomes removed together ({genomes}: names joined by "+")
    "reference_decontamination": "{results}/references/decontamination/{genomes}/index.mmi",
    "reference_log": "{results}/logs/{rule}/{reference}.log",
    "reference_benchmark": "{results}/benchmarks/{rule}/{reference}.tsv",
    # results-wide
    "ledger": "{results}/accessions.tsv",
    # the memory policy the jobs ran under: the catalogue's memory events are explained with it
    "memory_policy": "{results}/memory_policy.json",
    # public.db's rows, written by `catalogue_publish` after public.db is swapped in. The rule's
    # output is this marker, not public.db: Snakemake deletes a job's outputs before it runs,
    # and public.db must stay in place (a server is reading it) until the new one replaces it.
    "published": "{results}/published.json",
}


def pattern(name: str, results: str | Path, **fixed: str) -> str:
    """A path pattern with `{study}`/`{run}`/`{rule}` left as Snakemake wildcards."""
    text = PATTERNS[name].replace("{results}", str(results))
    for key, value in fixed.items():
        text = text.replace("{" + key + "}", value)
    return text


@dataclass(frozen=True)
class StudyPaths:
    """The paths of one study's results."""

    results: Path
    study: str

    def path(self, name: str, run: str = "", rule: str = "", assembler: str = "") -> Path:
        return Path(
            PATTERNS[name].format(
                results=self.results, study=self.study, run=run, rule=rule, assembler=assembler
            )
        )

    def rel(self, name: str, run: str = "", assembler: str = "") -> str:
        """The path relative to the results dir (as stored in the catalogue)."""
        return str(self.path(name, run, assembler=assembler).relative_to(self.results))


def ledger_path(results: Path) -> Path:
    return Path(PATTERNS["ledger"].format(results=results))


def studies_in(results: Path) -> list[str]:
    """ENA accessions of the studies under `results` with metadata and a recorded config, or
    with only a pending config (their metadata could not be fetched yet)."""
    found = set()
    for d in (Path(results) / "studies").glob("*/"):
        if (d / "ena.json").exists() and (d / "study.json").exists():
            found.add(d.name)
        elif not (d / "ena.json").exists() and (d / "study.pending.json").exists():
            found.add(d.name)
    return sorted(found)
