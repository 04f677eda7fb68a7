"""The run's job as its scheduler tells it, how the run ended and why, and one logical run across requeues
(issue 21).

- ``JobState`` (``scontrol``/``sacct`` through the Slurm source or the watcher's record; or Slurm's own lines in
  the output) keeps ``state.job`` (state, reason, time limit, run time, restarts) and, at a final state, the run's
  end reason (``state.end``): ``TIMEOUT``, ``OUT_OF_MEMORY``, ``CANCELLED``, ``NODE_FAIL``, ``PREEMPTED``...
- Without the scheduler's word, the log's own evidence ends a run too (read from events other modules own, as an
  observer): the kernel's OOM killer or an out-of-memory error (``OUT_OF_MEMORY``), a signal (``SIGNAL``), the
  supervisor's record of a signal or exit code. The scheduler's specific states win over the log; an OOM in the log
  wins over a bare ``FAILED``.
- Errors are matched against the failure-cause table (``hwmon.model.causes``): the first match is the run's cause.
- ``RunRequeued`` (or the scheduler's restart count going up): the run continues as the same logical run; the
  current phase closes and a ``queue`` phase (``requeued``) stands for the gap until output resumes, so the
  timeline shows it as overhead; a step counter that starts again after it, or a new run's start marker, does not
  start a new run (``continues``).
"""

from __future__ import annotations

from hwmon.events import ErrorSeen, Event, JobState, RunOutcome, RunRequeued, StepBatch, StepMetrics
from hwmon.model import causes
from hwmon.model.dist_state import EndReason
from hwmon.model.reducer.handler import Handler
from hwmon.model.reducer.timeline import open_phase
from hwmon.model.state import RunState

__all__ = ["HANDLERS", "OBSERVERS", "REQUEUE_DETAIL", "continues"]

REQUEUE_DETAIL = "requeued"
"""The detail of the ``queue`` phase that stands for a requeue's gap (``hwmon.model.distributed`` finds it)."""

FINAL_STATES = frozenset(
    {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "DEADLINE", "BOOT_FAIL"}
)
# The scheduler's end states that say more than any log line can; FAILED/COMPLETED say less than a log's OOM.
_SPECIFIC = FINAL_STATES - {"FAILED", "COMPLETED"}
_REASON_WORDS = {
    "TIMEOUT": "time limit",
    "OUT_OF_MEMORY": "the job's memory limit",
    "NODE_FAIL": "node failure",
    "PREEMPTED": "preempted",
    "DEADLINE": "deadline",
    "BOOT_FAIL": "node boot failure",
}
# Log-derived ends that a later resumption of output turns into a requeue (the job was requeued after them).
_REQUEUABLE = frozenset({"PREEMPTED", "NODE_FAIL"})


def _rank(end: EndReason | None) -> int:
    """How much an end reason says: the scheduler's specific states, then an OOM seen anywhere, the scheduler's
    plain failure, the supervisor's record, a signal line in the log."""
    if end is None:
        return -1
    if end.source == "slurm" and end.code in _SPECIFIC:
        return 4
    if end.code in ("OUT_OF_MEMORY", "OOM_KILLED"):
        return 3
    if end.source == "slurm":
        return 2
    if end.source == "log" and end.code in _SPECIFIC:
        return 2
    if end.source == "supervisor":
        return 1
    return 0


def _set_end(state: RunState, end: EndReason) -> None:
    if _rank(end) >= _rank(state.end):
        state.end = end


def _words(event: JobState) -> str:
    parts: list[str] = []
    if event.state in _REASON_WORDS:
        parts.append(_REASON_WORDS[event.state])
    if event.by:
        parts.append(f"by {event.by}")
    if event.state in _REASON_WORDS:
        pass  # the signal is how Slurm ends such a job (SIGTERM at the time limit): it says nothing more
    elif event.signal:
        parts.append(f"signal {event.signal}")
    elif event.exit_code:
        parts.append(f"exit code {event.exit_code}")
    reason = event.reason.strip()
    if reason and reason not in ("None", "TimeLimit") and not parts:
        parts.append(reason)
    return ", ".join(parts)


def _job_state(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, JobState)
    job = state.job
    if event.origin == "scheduler":
        if event.restarts > job.restarts:
            job.restarts = event.restarts
            if job.restarts > job.requeues:
                # A requeue the log did not tell (a truncated output, a preemption): its gap began at the last
                # output before it.
                since = state.last_output_at if state.last_output_at is not None else now
                _requeued(state, event, since, f"Slurm requeued the job (restart {event.restarts})")
        job.job_id = event.job_id or job.job_id
        job.state = event.state
        job.reason = event.reason
        if event.time_limit_s is not None:
            job.time_limit_s = event.time_limit_s
        if event.elapsed_s is not None:
            job.elapsed_s = event.elapsed_s
            job.elapsed_at = now
    if event.state in FINAL_STATES:
        source = "slurm" if event.origin == "scheduler" else "log"
        seconds = event.elapsed_s if event.origin == "scheduler" else None
        end = EndReason(event.state, _words(event), source, seconds, event.exit_code, event.signal, event.line)
        _set_end(state, end)
        found = causes.match_end(event.state, event.line)
        if found is not None and (state.cause is None or found.weight >= state.cause.weight):
            state.cause = found


def _error(state: RunState, event: Event, now: float | None) -> None:
    """Observer of ``ErrorSeen``: the failure cause, and the end a fatal OOM or signal means."""
    assert isinstance(event, ErrorSeen)
    found = causes.match(event.message, event.line)
    if found is not None and (state.cause is None or (event.fatal and found.weight > state.cause.weight)):
        state.cause = found
    if not event.fatal:
        return
    if event.kind == "oom":
        _set_end(state, EndReason("OOM_KILLED", "the kernel's out-of-memory killer", "log", line=event.line))
    elif found is not None and found.end:
        _set_end(state, EndReason(found.end, found.end_detail, "log", line=event.line))
    elif event.kind == "signal" and state.ranks.first_failure is None:
        # A signal line after a rank failed is the launcher tearing the others down, not why the run ended.
        _set_end(state, EndReason("SIGNAL", event.message[:160], "log", line=event.line))


def _outcome(state: RunState, event: Event, now: float | None) -> None:
    """Observer of ``RunOutcome``: the supervisor's record of a signal or a non-zero exit."""
    assert isinstance(event, RunOutcome)
    if event.status != "failed":
        return
    if event.signal is not None:
        end = EndReason("SIGNAL", f"signal {event.signal}", "supervisor", signal=event.signal, line=event.line)
    else:
        end = EndReason("FAILED", f"exit code {event.exit_code}", "supervisor", exit_code=event.exit_code)
    _set_end(state, end)


def _requeued(state: RunState, event: Event, now: float | None, detail: str) -> None:
    """One more requeue: the run goes on; a ``queue`` phase opened at ``now`` stands for the gap."""
    job = state.job
    job.requeues = max(job.requeues + 1, job.restarts)
    job.requeue_pending = True
    current = state.current_phase
    if current is not None and current.name == "queue" and current.detail.startswith(REQUEUE_DETAIL):
        return
    open_phase(state, "queue", event, now, f"{REQUEUE_DETAIL}: {detail}")
    if state.status == "failed" and (state.end is None or state.end.code in _REQUEUABLE):
        # The end the log showed (preemption, a node failure) was not the run's end: the job came back.
        state.status = "running" if now is not None else "unknown"
        state.end = None


def _run_requeued(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, RunRequeued)
    job = state.job
    if job.requeue_pending and job.restarts >= job.requeues + 1:
        return  # the scheduler already told this one
    if event.restarts is not None:
        job.restarts = max(job.restarts, event.restarts)
    _requeued(state, event, now, event.reason or "the job was requeued")


def continues(state: RunState, event: Event, now: float | None) -> bool:
    """Whether what would start a new run (a step counter starting again, a run-start marker after the end) is the
    same logical run resuming after a requeue or a restart: the reducer then keeps the run. Called by the step and
    run handlers before they reset."""
    end = state.end
    if not state.job.requeue_pending and end is not None and end.source == "log" and end.code in _REQUEUABLE:
        _requeued(state, event, now, f"output resumed after {end.code}")
    return state.job.requeue_pending


def _step(state: RunState, event: Event, now: float | None) -> None:
    """Observer of steps: training resumed, the requeue's gap is over (its ``queue`` phase closed when the train
    phase opened)."""
    state.job.requeue_pending = False


HANDLERS: dict[type[Event], Handler] = {
    JobState: _job_state,
    RunRequeued: _run_requeued,
}

OBSERVERS: dict[type[Event], Handler] = {
    ErrorSeen: _error,
    RunOutcome: _outcome,
    StepMetrics: _step,
    StepBatch: _step,
}
"""Handlers of event types other modules own, run after the owner's (``hwmon.model.reducer.dispatch``)."""
