"""Known failures and what to try: a table of error signatures (data), matched against the run's errors and its
scheduler end state, giving the run's cause in one line with a next step (issue 21). Pure.

Each row (``CauseRule``): a name, a regex searched in an error's message, the hint, the end reason the failure
means when it ends the run (``OUT_OF_MEMORY`` for a CUDA or IPU out-of-memory error: the header then says so),
and a weight: a root cause (out of memory, a collective timeout) outranks what follows from it (a peer's
connection closed, the launcher's ``ChildFailedError``), so the run's cause is the weightiest fatal match, the
first one among equals.

Users add rows in their format files (``[[cause]]`` tables: ``match``, ``name``, ``hint``, optional ``end`` and
``weight``; ``hwmon.parsers.userformats`` checks them, ``hwmon.sources.formats.install`` installs them) and packages
through the same entry points; ``install`` puts them before the built-in rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from hwmon.model.dist_state import Cause

__all__ = ["BUILTIN", "CauseRule", "install", "match", "match_end", "rules"]

_MAX_MESSAGE = 300


@dataclass(frozen=True, slots=True)
class CauseRule:
    """One known failure: ``pattern`` searched in an error message; ``end``/``end_detail`` the end reason it
    means when fatal (``""``: none); ``weight`` (3 root cause, 2 a hang or a limit, 1 a consequence)."""

    name: str
    pattern: re.Pattern[str]
    hint: str
    end: str = ""
    end_detail: str = ""
    weight: int = 2
    source: str = "built-in"


def _rule(name: str, pattern: str, hint: str, end: str = "", end_detail: str = "", weight: int = 2) -> CauseRule:
    return CauseRule(name, re.compile(pattern, re.IGNORECASE), hint, end, end_detail, weight)


BUILTIN: tuple[CauseRule, ...] = (
    _rule(
        "CUDA out of memory",
        r"CUDA out of memory|OutOfMemoryError: CUDA|CUDA error: out of memory|CUBLAS_STATUS_ALLOC_FAILED|"
        r"cudaErrorMemoryAllocation|HIP out of memory",
        "reduce the micro-batch size, enable activation checkpointing, or shard the model (FSDP/ZeRO); "
        "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True if memory is fragmented",
        "OUT_OF_MEMORY",
        "CUDA out of memory",
        3,
    ),
    _rule(
        "IPU out of memory on tile",
        r"Out of memory on tile|Out of memory: Cannot fit all variable data onto one or more tiles|"
        r"poplar_error: .*?(?:out of memory|memory allocation)|graph_memory_allocation_error|"
        r"Memory allocation error .{0,80}tile",
        "reduce the micro-batch size, lower availableMemoryProportion, enable recomputation, or pipeline the "
        "model over more IPUs",
        "OUT_OF_MEMORY",
        "IPU tile memory",
        3,
    ),
    _rule(
        "host out of memory",
        r"Out of memory: Kill(?:ed)? process|oom-kill(?:er)? event|oom_kill_process|Detected \d+ oom[_-]kill",
        "the node or the job's cgroup ran out of host memory: ask Slurm for more (--mem), or use fewer "
        "dataloader workers / smaller prefetch",
        "OUT_OF_MEMORY",
        "host memory (OOM killer)",
        3,
    ),
    _rule(
        "NCCL collective timeout",
        r"Watchdog caught collective operation timeout|collective operation timeout|NCCL.{0,40}time(?:d )?out|"
        r"ProcessGroupNCCL.{0,80}[Tt]imeout|DistBackendError.{0,200}[Tt]ime(?:d )?out",
        "a rank stopped joining the collectives: NCCL_DEBUG=INFO; check the rank that was silent (rank-silent "
        "alert) — its traceback, its node; TORCH_NCCL_ASYNC_ERROR_HANDLING=1 fails fast",
        weight=2,
    ),
    _rule(
        "NCCL error",
        r"NCCL error|ncclSystemError|ncclInternalError|ncclUnhandledCudaError|ncclInvalidUsage|ncclRemoteError",
        "NCCL_DEBUG=INFO (and NCCL_DEBUG_SUBSYS=INIT,NET) to see which rank and link; check the network "
        "interface (NCCL_SOCKET_IFNAME) and that every rank runs the same NCCL",
        weight=2,
    ),
    _rule(
        "Cerebras compile error",
        r"Compil(?:e|ation) (?:failed|error)|CompileError|Failed to compile|cerebras.{0,40}compil\w* (?:error|failed)",
        "the compile log names the op or shape it could not place: check the model for unsupported ops, run "
        "with --validate-only / --compile-only to iterate faster",
        weight=3,
    ),
    _rule(
        "Cerebras appliance error",
        r"Appliance\w*(?:Error|Exception)|ApplianceResourceExhausted|ApplianceDropModeComplete|"
        r"cerebras.appliance.errors|wsjob-\S+ (?:failed|FAILED)",
        "an appliance-side failure: rerun; if it repeats, keep the job id and look at csctl get job / the "
        "appliance logs, and check the cluster's status",
        weight=2,
    ),
    _rule(
        "Slurm time limit",
        r"DUE TO TIME LIMIT",
        "the job ran past its time limit: resume from the last checkpoint with a longer --time, or checkpoint "
        "more often",
        "TIMEOUT",
        "time limit",
        2,
    ),
    _rule(
        "a peer rank died",
        r"Connection closed by peer|Connection reset by peer|remote worker crash|"
        r"NCCL communicator was aborted|Socket Timeout|RendezvousClosedError|RendezvousTimeoutError",
        "another rank failed first and this one lost it: the first failing rank's error is the cause",
        weight=1,
    ),
    _rule(
        "torch.distributed worker failed",
        r"ChildFailedError|torch\.distributed\.elastic\.multiprocessing\.errors|"
        r"torch\.distributed\.elastic\.\w+\.\w+Error",
        "a worker process failed: the first failing rank's traceback is the cause (decorate main with "
        "torch.distributed.elastic.multiprocessing.errors.record to get it in the launcher's report)",
        weight=1,
    ),
)
"""The built-in failure signatures, most specific first."""

_END_CAUSES: dict[str, tuple[str, str]] = {
    "TIMEOUT": (
        "Slurm time limit",
        "the job ran past its time limit: resume from the last checkpoint with a longer --time, or checkpoint "
        "more often",
    ),
    "OUT_OF_MEMORY": (
        "Slurm out of memory",
        "the job hit its Slurm memory limit: ask for more (--mem / --mem-per-cpu) or lower the per-rank batch and "
        "dataloader workers",
    ),
    "NODE_FAIL": ("node failure", "a node of the job failed: resubmit (or --requeue), excluding the node"),
    "PREEMPTED": (
        "preempted",
        "a higher-priority job took the nodes: submit with --requeue and resume from the last checkpoint",
    ),
    "DEADLINE": ("Slurm deadline", "the job could not finish before its --deadline"),
    "BOOT_FAIL": ("node boot failure", "the nodes failed to boot: resubmit; tell the admins if it repeats"),
}

_USER: list[CauseRule] = []


def install(user_rules: Iterable[CauseRule]) -> None:
    """The user's rows (they are tried before the built-in ones), replacing any installed before."""
    _USER[:] = list(user_rules)


def rules() -> tuple[CauseRule, ...]:
    """Every row, the user's first."""
    return (*_USER, *BUILTIN)


def match(message: str, line: int = 0) -> Cause | None:
    """The cause an error message matches (the first row that does), or None."""
    for rule in (*_USER, *BUILTIN):
        if rule.pattern.search(message) is not None:
            return Cause(rule.name, rule.hint, message[:_MAX_MESSAGE], line, rule.weight, rule.end, rule.end_detail)
    return None


def match_end(state: str, line: int = 0) -> Cause | None:
    """The cause a scheduler end state means by itself (``TIMEOUT``, ``OUT_OF_MEMORY``...), or None."""
    found = _END_CAUSES.get(state)
    if found is None:
        return None
    return Cause(found[0], found[1], state, line, 3)
