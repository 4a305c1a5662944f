"""Per-job overhead of Slurm: the demo study with the local executor vs profiles/slurm.

Both runs in the same invocation, same machine, same demo data (the baseline is the local run).
Starts the project's one-node Slurm cluster if it is not running (and stops it afterwards).
Prints wall times, the ratio, the overhead per job, and per-rule times from the benchmark files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from support import snakemake, write_workdir  # noqa: E402

from mgnify_db.dev.demo import build_demo  # noqa: E402
from mgnify_db.dev.mirror import MirrorServer  # noqa: E402
from mgnify_db.ops.timings import format_timings, rule_timings  # noqa: E402

SCALE = float(os.environ.get("MGNIFY_BENCH_SCALE", "1.0"))
CLUSTER = REPO / "scripts" / "slurm-cluster"


def run(profile: str, portal_url: str, tmp: Path) -> tuple[float, Path, int]:
    workdir = write_workdir(tmp / profile, portal_url)
    t0 = time.monotonic()
    proc = snakemake(workdir, profile=profile, timeout=3600)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"{profile} run failed:\n{proc.stderr[-3000:]}")
    jobs = sum(t.jobs for t in rule_timings(workdir / "results" / "benchmarks"))
    return wall, workdir, jobs


def main() -> None:
    started = subprocess.run([CLUSTER, "status"], capture_output=True).returncode != 0
    if started:
        subprocess.run([CLUSTER, "start"], check=True)
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            data = build_demo(tmp / "ena", scale=SCALE)
            with MirrorServer(data, port=0) as mirror:
                local, local_dir, jobs = run("local", mirror.portal_url, tmp)
                slurm, slurm_dir, _ = run("slurm", mirror.portal_url, tmp)
            print(f"demo study (scale {SCALE}), {jobs} tool jobs + local catalogue jobs")
            print(f"  local executor (baseline): {local:7.1f} s")
            print(
                f"  Slurm (profiles/slurm):    {slurm:7.1f} s   ratio {slurm / local:.2f}x, "
                f"overhead {(slurm - local) / jobs:.1f} s per tool job"
            )
            for name, d in (("local", local_dir), ("slurm", slurm_dir)):
                print(f"\nper rule ({name}):")
                print(format_timings(rule_timings(d / "results" / "benchmarks")))
    finally:
        if started:
            subprocess.run([CLUSTER, "stop"], check=True)


if __name__ == "__main__":
    main()
