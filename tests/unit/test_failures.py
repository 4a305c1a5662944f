"""Failure classification: out of memory, timeout or other, from an exit code and text."""

from __future__ import annotations

import pytest

from mgnify_db.jobs import FailureCause, classify_failure

OOM = FailureCause.OUT_OF_MEMORY
TIMEOUT = FailureCause.TIMEOUT
OTHER = FailureCause.OTHER


@pytest.mark.parametrize(
    ("exit_code", "text", "expected"),
    [
        (None, "slurmstepd-vm: error: StepId=4.0 exceeded memory limit (5 > 4), being killed", OOM),
        (None, "slurmstepd: error: Exceeded job memory limit", OOM),
        (137, "", OOM),
        (-9, "", OOM),
        (1, "terminate called after throwing an instance of 'std::bad_alloc'", OOM),
        (1, "Traceback (most recent call last):\n  ...\nMemoryError", OOM),
        (
            1,
            'Error occurs when running "sdbg_builder count", please refer to log\n[Exit code -9]',
            OOM,
        ),  # MEGAHIT wrapper, sub-process SIGKILLed
        (1, "megahit_core assemble ...; Exit code -9", OOM),
        (1, "/bin/bash: line 1:  1234 Killed                  megahit -1 r1.fq", OOM),
        (1, "srun: error: localhost: task 0: Killed", OOM),
        (1, "process ended by signal 9", OOM),
        (1, "mmap(2) failed. Reason: Cannot allocate memory. Error code: 12", OOM),  # SPAdes
        (1, "ERROR: failed to allocate 8 GB of memory", OOM),
        (1, "fatal: unable to allocate 1024 bytes", OOM),
        (1, "not enough memory to build the graph", OOM),
        (0, "slurmstepd: error: Detected 1 oom-kill event(s) in StepId=7.batch", OOM),
        (None, "SLURM status is: 'OUT_OF_MEMORY'", OOM),
        (1, "Exception in thread main java.lang.OutOfMemoryError: Java heap space", OOM),
        (
            None,
            "slurmstepd: error: *** JOB 3 ON localhost CANCELLED AT 2026-11-25T09:06:11 "
            "DUE TO TIME LIMIT ***",
            TIMEOUT,
        ),
        (None, "SLURM status is: 'TIMEOUT'. Reason: Unknown", TIMEOUT),
        (1, "error: time limit exceeded", TIMEOUT),
        # memory evidence wins; SIGKILL after a time limit is still a timeout
        (None, "DUE TO TIME LIMIT\nexceeded memory limit", OOM),
        (137, "*** JOB 3 ON n1 CANCELLED AT 2026-11-25T09:06:11 DUE TO TIME LIMIT ***", TIMEOUT),
        (3, "Command 'exit 3' returned non-zero exit status 3.", OTHER),
        (-7, 'Error occurs when running "builder build" for k = 29 [Exit code -7]', OTHER),
        (-6, "[Exit code -6]", OTHER),
        (1, "", OTHER),
        (None, "", OTHER),
        (None, None, OTHER),
        (1, "task was being killed by the user", OTHER),  # lowercase "killed" is no evidence
        (1, "could not allocate port 8080", OTHER),
        (1, "--timeout 30 given", OTHER),  # a tool's option is not Slurm's TIMEOUT state
    ],
)
def test_classify_failure(exit_code, text, expected):
    assert classify_failure(exit_code, text) is expected


def test_causes_are_strings_in_records():
    assert [str(c) for c in FailureCause] == ["out_of_memory", "timeout", "other"]
    assert FailureCause("timeout") is TIMEOUT
