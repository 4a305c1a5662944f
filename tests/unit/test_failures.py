"""Failure classification: out of memory, timeout or other, from an exit code and text."""

from __future__ import annotations

import pytest

from mgnify_db.jobs import FailureCause, classify_failure

OOM = FailureCause.OUT_OF_MEMORY
TIMEOUT = FailureCause.TIMEOUT
OTHER = FailureCause.OTHER

SPADES_MIMALLOC = (
    "mimalloc: error: unable to allocate OS memory (268435456 bytes, error code: 12 [Cannot "
    "allocate memory], address: (nil), large only: 0, allow large: 1)"
)


def spades_step_failed(code: int) -> str:
    """The line spades.py prints when one of its binaries exits with `code`."""
    core = "['/usr/libexec/spades/spades-core', '/tmp/asm/K21/configs/config.info']"
    return f'== Error ==  system call for: "{core}" finished abnormally, OS return value: {code}'


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
        # SPAdes 3.15.5: spades-core's mimalloc under an address-space limit (a real run under
        # `ulimit -v 500000`; test_spades runs it), then the driver's report of the step
        (250, SPADES_MIMALLOC + "\n" + spades_step_failed(-6), OOM),
        (250, "mimalloc: error: unable to allocate memory (1073741824 bytes)", OOM),
        (250, "mimalloc: error: unable to allocate thread local heap metadata (4096 bytes)", OOM),
        (255, "Not enough memory to run SPAdes. ", OOM),
        (1, "Memory allocation failure in model construction.", OOM),  # HMMER in spades-core
        (1, "Error allocating memory for seed list", OOM),  # SSW in spades-core
        (247, spades_step_failed(-9), OOM),  # spades-core SIGKILLed (a real run, kill -9)
        (250, spades_step_failed(-6), OTHER),  # an abort without a memory message
        (245, spades_step_failed(-11), OTHER),
        (247, spades_step_failed(-91), OTHER),
        # a warning SPAdes prints and runs on: no memory evidence
        (
            1,
            "Failed to limit memory to 4 Gb, setrlimit(2) call failed, errno = 1 (Operation not "
            "permitted). Watch your memory consumption!",
            OTHER,
        ),
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
