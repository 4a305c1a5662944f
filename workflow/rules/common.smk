# Config, wildcards and input functions. Logic lives in mgnify_db; this file only wires it.
import sys
from pathlib import Path

from mgnify_db import workflow as wf
from mgnify_db.jobs import memory_log
from mgnify_db.results import pattern

try:
    CFG = wf.load_config(config)
    STUDIES = wf.load_studies(CFG)
except wf.ConfigError as e:
    # One line naming the file, field and problem; a traceback would bury it.
    sys.exit(f"error: {e}")

RESULTS = CFG.results_dir
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
# Where profiles/slurm's `slurm-logdir` puts the plugin's job logs: keep the two equal.
SLURM_LOGS = pattern("slurm_logs", RESULTS)


wildcard_constraints:
    study="|".join(STUDIES) or "NO_STUDY_CONFIGURED",
    run=r"[EDS]RR\d+",


def P(name):
    """A results path pattern (mgnify_db.results.PATTERNS), wildcards left in."""
    return pattern(name, RESULTS)


def decisions(study):
    ena_json = checkpoints.ena_metadata.get(study=study).output[0]
    return wf.decisions(Path(ena_json), STUDIES[study])


def eligible_runs(study):
    return [d.run_accession for d in decisions(study) if d.eligible]


def run_fastq(wildcards):
    """The run's FASTQ files (url, md5, bytes) in layout order."""
    decision = next(d for d in decisions(wildcards.study) if d.run_accession == wildcards.run)
    return [f.model_dump() for f in decision.fastq]


def jobs_file(rule_name, study_level=False):
    return f"{P('study_jobs' if study_level else 'jobs')}/{rule_name}.jsonl"


def qc_passed(wildcards):
    qc_dir = checkpoints.qc_fastp.get(study=wildcards.study, run=wildcards.run).output.qc
    return wf.qc_passed(Path(qc_dir))


def run_results(wildcards):
    """What a run's catalogue load waits for: QC, and if it passed, assembly and analysis."""
    files = {"qc": P("qc"), "study": P("loaded_study")}
    if qc_passed(wildcards):
        files |= {"assembly": P("assembly"), "analysis": P("analysis")}
    return {k: v.format(**wildcards) for k, v in files.items()}


def all_loaded(wildcards):
    targets = []
    for study in STUDIES:
        targets.append(P("loaded_study").format(study=study))
        targets += [P("loaded_run").format(study=study, run=r) for r in eligible_runs(study)]
    return targets


def mem_mb(rule_name):
    """Start memory from config (assembly: the biome heuristic); a retry after an
    out-of-memory failure asks for more, any other failure keeps it."""

    def get(wildcards, attempt):
        study, run = wildcards.study, wildcards.get("run")
        ena_json = Path(P("ena").format(study=study))
        base = wf.start_mb(CFG, rule_name, STUDIES[study], ena_json if run else None, run)
        records = Path(jobs_file(rule_name, run is None).format(**wildcards))
        return wf.memory_mb(
            CFG, rule_name, base, attempt, dict(wildcards), memory_log(records),
            Path(SLURM_LOGS), record=not workflow.dryrun,
        )

    return get


def attempt(wildcards, attempt):
    """Exposed as a resource so that the job records the attempt it is."""
    return attempt


def runtime(rule_name):
    return wf.runtime_min(CFG, rule_name)
