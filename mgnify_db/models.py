"""Shared states and codes: the processing status of records and MGnify's experiment types."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Processing state of a run, assembly or analysis."""

    PENDING = "pending"
    RUNNING = "running"
    SKIPPED = "skipped"
    QC_FAILED = "qc_failed"
    FAILED = "failed"
    COMPLETED = "completed"


class ExperimentType(StrEnum):
    """MGnify experiment types (codes as in MGnify, labels in `EXPERIMENT_TYPE_LABELS`)."""

    METAGENOMIC = "METAG"
    METATRANSCRIPTOMIC = "METAT"
    AMPLICON = "AMPLI"
    ASSEMBLY = "ASSEM"
    UNKNOWN = "UNKNO"


EXPERIMENT_TYPE_LABELS = {
    ExperimentType.METAGENOMIC: "Metagenomic",
    ExperimentType.METATRANSCRIPTOMIC: "Metatranscriptomic",
    ExperimentType.AMPLICON: "Amplicon",
    ExperimentType.ASSEMBLY: "Assembly",
    ExperimentType.UNKNOWN: "Unknown",
}
