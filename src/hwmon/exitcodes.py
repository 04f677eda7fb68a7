"""Exit codes of the ``hwmon`` command, one per kind of failure (listed in ``hwmon --help``)."""

from __future__ import annotations

OK = 0
RUN_FAILED = 1  # the monitored run failed (attach/run/summary of a failed run with --exit-status)
BAD_INPUT = 2  # a log file that is missing, unreadable, or a directory
RUN_NOT_FOUND = 3  # no run with that id (or prefix), or the prefix is ambiguous
STOP_CONFLICT = 4  # the run is not running, or another `hwmon stop` is already stopping it
DEVICE_UNAVAILABLE = 5  # the device's software stack (poptorch, cerebras.pytorch, CUDA) cannot be used
DATA_NOT_FOUND = 6  # training data missing and cannot be fetched
MISSING_PACKAGE = 7  # an optional package a command needs is not installed (pyarrow for parquet export...)
CANNOT_WRITE = 8  # an output file or directory cannot be written (export -o)
INTERRUPTED = 130  # Ctrl-C
USAGE = 64  # bad command line: unknown command, workload, flag or value

DESCRIPTIONS: dict[int, str] = {
    OK: "success",
    RUN_FAILED: "the monitored run failed",
    BAD_INPUT: "log file missing, unreadable or a directory",
    RUN_NOT_FOUND: "no such run id (or ambiguous prefix)",
    STOP_CONFLICT: "run not running, or already being stopped",
    DEVICE_UNAVAILABLE: "device software stack unavailable (poptorch / cerebras.pytorch / CUDA)",
    DATA_NOT_FOUND: "training data not found",
    MISSING_PACKAGE: "an optional package is not installed (pyarrow, tensorboardX)",
    CANNOT_WRITE: "an output file or directory cannot be written",
    USAGE: "bad command line (unknown command, workload, flag or value)",
    INTERRUPTED: "interrupted (Ctrl-C)",
}


class HwmonError(Exception):
    """An expected failure: printed as one line on stderr, exits with ``code``; never a traceback."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
