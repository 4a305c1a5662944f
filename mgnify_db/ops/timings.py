"""Wall time and peak memory per rule, from Snakemake's `benchmark:` files."""

from __future__ import annotations

import csv
from pathlib import Path

from pydantic import BaseModel


class RuleTiming(BaseModel):
    rule: str
    jobs: int
    total_s: float
    max_s: float
    max_rss_mb: float


def rule_timings(benchmarks: Path) -> list[RuleTiming]:
    """One row per rule over `benchmarks/<rule>/**/*.tsv` (the last repeat of each job)."""
    out = []
    for rule_dir in sorted(p for p in benchmarks.iterdir() if p.is_dir()):
        seconds, rss = [], []
        for tsv in sorted(rule_dir.rglob("*.tsv")):
            rows = list(csv.DictReader(tsv.open(), delimiter="\t"))
            if rows:
                seconds.append(float(rows[-1]["s"]))
                rss.append(float(rows[-1]["max_rss"]) if rows[-1]["max_rss"] != "NA" else 0.0)
        if seconds:
            out.append(
                RuleTiming(
                    rule=rule_dir.name,
                    jobs=len(seconds),
                    total_s=sum(seconds),
                    max_s=max(seconds),
                    max_rss_mb=max(rss),
                )
            )
    return out


def format_timings(timings: list[RuleTiming]) -> str:
    lines = [f"{'rule':<20} {'jobs':>4} {'total s':>8} {'max s':>7} {'max RSS MB':>10}"]
    lines += [
        f"{t.rule:<20} {t.jobs:>4} {t.total_s:>8.1f} {t.max_s:>7.1f} {t.max_rss_mb:>10.0f}"
        for t in timings
    ]
    return "\n".join(lines)
