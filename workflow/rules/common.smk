# Config, plans, wildcards and input functions. Logic lives in mgnify_db (mgnify_db/smk.py is
# the adapter); this file only wires it.
import sys
from pathlib import Path

from mgnify_db import smk
from mgnify_db.config import study_file, study_references
from mgnify_db.paths import pattern
from mgnify_db.pipelines import PIPELINES, amplicon, raw_reads

try:
    CFG = smk.load_config(config, smk.config_source(workflow.configfiles))
    STUDIES = smk.load_studies(CFG)
except smk.ConfigError as e:
    # One line naming the file, field and problem; a traceback would bury it.
    sys.exit(f"error: {e}")

RESULTS = CFG.results_dir
if problem := smk.results_dir_problem(CFG):
    sys.exit(f"error: {problem}")
# Each study's plan (which runs, how) is decided once here, in the head process. Studies with
# no ENA metadata yet have it fetched first: the run list is then known before the DAG is built,
# so no input function ever waits on a checkpoint.
PLANS, PLAN_PROBLEMS = smk.plan_studies(CFG, STUDIES)
for _study, _problem in PLAN_PROBLEMS.items():
    print(f"error: {_study}: ENA metadata: {_problem}", file=sys.stderr)
for _study, _plan in PLANS.items():
    if _problem := _plan.coassembly_problem():
        sys.exit(f"error: {study_file(Path(CFG.studies_dir), _study)}: {_problem}")
if PLAN_PROBLEMS and not PLANS:
    smk.load_pending(CFG, PLAN_PROBLEMS)
    sys.exit("error: no study could be planned (see above); nothing to do")


wildcard_constraints:
    study="|".join(PLANS) or "NO_STUDY_PLANNED",
    # a run accession, or a co-assembly's name (its results sit beside its runs')
    run=smk.unit_pattern(PLANS),
    assembler="|".join(PIPELINES["assembly"].assemblers),
    genomes=r"[^/]+",


def P(name, **fixed):
    """A results path pattern (mgnify_db.paths.PATTERNS), wildcards left in."""
    return pattern(name, RESULTS, **fixed)


def LOG(rule, run=True):
    return P("log" if run else "study_log", rule=rule)


def BENCH(rule, run=True):
    return P("benchmark" if run else "study_benchmark", rule=rule)


def JOBS(rule):
    """The job's event log (one per job; the job is its only writer)."""
    return P("job_events", rule=rule)


def REF_LOG(rule, reference):
    return P("reference_log", rule=rule, reference=reference)


def REF_BENCH(rule, reference):
    return P("reference_benchmark", rule=rule, reference=reference)


def ref_resource(rule, key):
    """A reference rule's memory or runtime: from config `resources:`, else its default."""
    return lambda wildcards, attempt: smk.resource(CFG, rule, key) * (1 if key == "runtime" else attempt)


TAXONOMY_OUTPUTS = {n: P(n) for n in smk.TAXONOMY_OUTPUTS}


def decontamination_index(wildcards):
    """The index of the genomes removed from this study's runs (hosts and contaminants)."""
    genomes = smk.decontamination_genomes(CFG, PLANS[wildcards.study])
    return P("reference_decontamination", genomes=smk.decontamination_key(genomes))


def assembly_qc(wildcards):
    """The QC of the runs assembled together: the run's own, or a co-assembly's runs'."""
    plan = PLANS[wildcards.study]
    return [P("qc").format(study=wildcards.study, run=r) for r in plan.members(wildcards.run)]


def assembly_reads(wildcards):
    """The reads assembled (one folder per run): decontaminated where the study has genomes
    to remove, else QC's."""
    plan = PLANS[wildcards.study]
    name = "decontaminated" if smk.decontamination_genomes(CFG, plan) else "qc"
    return [P(name).format(study=wildcards.study, run=r) for r in plan.members(wildcards.run)]


def clean_reads(wildcards):
    """A run's reads after QC: decontaminated where the study has genomes to remove."""
    plan = PLANS[wildcards.study]
    name = "decontaminated" if smk.decontamination_genomes(CFG, plan) else "qc"
    return P(name).format(**wildcards)


def raw_reads_references(wildcards):
    """The optional references raw_reads_taxonomy reads: LSU and read taxonomy (kraken2)."""
    refs = {}
    if CFG.references.lsu is not None:
        refs["lsu"] = P("reference_lsu")
    if CFG.references.kraken2 is not None:
        refs["kraken2"] = P("reference_kraken2")
    return refs


def taxonomy_references(wildcards):
    """The databases analysis_taxonomy reads (kraken2's only when configured)."""
    refs = {"cm": P("reference_rfam"), "ssu": P("reference_ssu")}
    if CFG.references.kraken2 is not None:
        refs["kraken2"] = P("reference_kraken2")
    return refs


def run_fastq(wildcards):
    """The run's FASTQ files (url, md5, bytes) in layout order."""
    return PLANS[wildcards.study].fastq(wildcards.run)


def run_read_count(wildcards):
    """ENA's read count, checked against the reads downloaded (None: not comparable)."""
    return PLANS[wildcards.study].read_count(wildcards.run)


def run_layout(wildcards):
    layout = PLANS[wildcards.study].decisions[wildcards.run].layout
    return str(layout) if layout else None


def run_targets(wildcards):
    """What a run's catalogue load waits for: QC and every result of the study's pipelines
    (the assembly by the run's assembler)."""
    plan = PLANS[wildcards.study]
    files = {} if wildcards.run in plan.coassemblies else {"qc": P("qc")}
    for analysis in plan.pipelines(wildcards.run):
        files |= {name: P(name) for name in PIPELINES[analysis].targets}
    fill = {**wildcards, "assembler": plan.assembler(wildcards.run)}
    return {k: v.format(**fill) for k, v in files.items()}


def run_assembly(wildcards):
    """The run's assembly (its stats and contigs) by its assembler: what its analysis reads."""
    assembler = PLANS[wildcards.study].assembler(wildcards.run)
    return {
        name: P(name, assembler=assembler).format(**wildcards) for name in ("assembly", "contigs")
    }


def all_loaded(wildcards):
    targets = []
    for study, plan in PLANS.items():
        targets.append(P("loaded_study").format(study=study))
        targets += [P("loaded_run").format(study=study, run=run) for run in plan.units]
    return targets


def mem_mb(rule):
    """Start memory from config (assemblers: the biome heuristic); a retry after an
    out-of-memory failure asks for more, any other failure keeps it."""

    def get(wildcards, attempt):
        return smk.memory_mb(
            CFG, rule, PLANS[wildcards.study], wildcards, attempt, record=not workflow.dryrun
        )

    return get


def runtime(rule):
    def get(wildcards, attempt):
        return smk.runtime_min(CFG, rule, wildcards.study, wildcards.get("run"), attempt)

    return get


def threads(rule):
    return smk.threads(CFG, rule)


def attempt(wildcards, attempt):
    """Exposed as a resource so that the job records the attempt it is."""
    return attempt
