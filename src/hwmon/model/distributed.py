"""The figures of distributed runs and their scheduler (issue 21), each a value function with its one spelling,
used by every view (header, plain mode, ``summary``, ``ls``, the ranks pane, ``watch``). Pure.

- ``run_error`` / the run's error: the first failing rank's exception (the rank a launcher names as the root
  cause first, else the rank that failed first in the log), not a later rank's echo of it.
- ``end_reason`` / ``fmt_end_reason``: ``TIMEOUT after 1h00m (time limit)``, ``OUT_OF_MEMORY (CUDA out of
  memory)``, ``CANCELLED by alice``; ``fmt_status_line``: ``failed — TIMEOUT after 1h00m (time limit)``.
- ``fmt_cause``: ``CUDA out of memory — try: reduce the micro-batch size, ...``.
- ``requeue_seconds`` / ``productive_seconds``: the time requeues cost (their ``queue`` gaps) and the wall time
  less it.
- ``rank_rows``, ``ranks_summary``: the ranks in order (bounded) for the pane and ``"ranks"`` in the summary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from hwmon.model import causes
from hwmon.model.dist_state import Cause, EndReason, RankInfo
from hwmon.model.figures import display_status, log_now, phase_durations, wall_seconds
from hwmon.model.fmt import fmt_duration
from hwmon.model.state import RunState

__all__ = [
    "MAX_RANKS_LISTED",
    "end_reason",
    "fmt_cause",
    "fmt_end_reason",
    "fmt_status_line",
    "productive_seconds",
    "RankView",
    "rank_rows",
    "rank_views",
    "ranks_summary",
    "requeue_seconds",
    "run_error",
    "summary_keys",
]

MAX_RANKS_LISTED = 1024
"""``"ranks"`` in ``summary --json`` lists at most this many ranks (``"ranks_listed"`` says when it cut)."""

_REQUEUE_DETAIL = "requeued"


def run_error(state: RunState) -> str | None:
    """The run's error in one line: the first failing rank's exception (the rank a launcher named as the root cause
    first), else the fatal error the log showed, else (a run failed by its exit code) its last error line, else the
    failure as recorded; None when there is none."""
    ranks = state.ranks
    if ranks.root_cause is not None:
        info = ranks.table.get(ranks.root_cause)
        if info is not None and info.first_error and not _echo_of_another(info, ranks.first_failure):
            return f"rank {info.rank}: {info.first_error}"
    if ranks.first_failure is not None:
        rank, message, _ = ranks.first_failure
        return f"rank {rank}: {message}"
    failed = next((alert for alert in state.alerts if alert.kind == "failed"), None)
    if failed is not None and failed.line > 0:
        return failed.message  # the fatal error the log showed
    if state.errors:
        # The run failed by its process's exit (the supervisor's or Slurm's record): its last error line says why.
        return state.errors[-1]
    return failed.message if failed is not None else None


def _is_consequence(message: str) -> bool:
    """An error that follows from another rank's failure (a peer's connection closed, the launcher's own report):
    a weight-1 row of the cause table."""
    cause = causes.match(message)
    return cause is not None and cause.weight <= 1


def _echo_of_another(info: RankInfo, first_failure: tuple[int, str, int] | None) -> bool:
    """True when the launcher's root cause (torch elastic's "first observed failure", which without
    ``@record`` is only the first child it saw exit: a race between the ranks) is a rank that merely lost its peer
    while another rank's own exception is in the log."""
    if first_failure is None or first_failure[0] == info.rank or info.first_error is None:
        return False
    return _is_consequence(info.first_error) and not _is_consequence(first_failure[1])


def end_reason(state: RunState) -> EndReason | None:
    """Why the run ended (the scheduler's state, or the log's OOM/signal evidence), when that says more than its
    status: a plain ``COMPLETED`` or the supervisor's bare exit code is none."""
    end = state.end
    if end is None or end.code == "COMPLETED" or (end.source == "supervisor" and end.code == "FAILED"):
        return None  # a plain exit code is the status's own detail (``failed (3)``), not a reason
    return end


def fmt_end_reason(state: RunState, now: float | None = None) -> str:
    """``TIMEOUT after 1h00m (time limit)``, ``CANCELLED by alice``, ``OOM_KILLED (the kernel's out-of-memory
    killer)``; ``""`` when there is none."""
    end = end_reason(state)
    if end is None:
        return ""
    text = end.code
    seconds = end.seconds
    if seconds is None and end.code in ("TIMEOUT", "DEADLINE"):
        seconds = wall_seconds(state, now)
    if seconds is not None and math.isfinite(seconds):
        text += f" after {fmt_duration(seconds)}"
    if end.detail:
        text += f" ({end.detail})" if not end.detail.startswith("by ") else f" {end.detail}"
    return text


def fmt_status_line(state: RunState, now: float | None = None, *, output_seen: bool = False) -> str:
    """The status word with the end reason when there is one: ``failed — TIMEOUT after 1h00m (time limit)``."""
    status = display_status(state, now, output_seen=output_seen)
    reason = fmt_end_reason(state, now) if status in ("failed", "stopped", "succeeded", "unknown") else ""
    return f"{status} — {reason}" if reason else status


def fmt_cause(cause: Cause | None) -> str:
    """``CUDA out of memory — try: reduce the micro-batch size, ...``; ``""`` without a cause."""
    if cause is None:
        return ""
    return f"{cause.name} — try: {cause.hint}" if cause.hint else cause.name


def requeue_seconds(state: RunState, now: float | None = None) -> float:
    """The time the run's requeues cost: its ``queue`` phases that stand for a requeue's gap."""
    total = 0.0
    for phase, seconds in zip(state.phases, phase_durations(state, now), strict=True):
        if phase.name == "queue" and phase.detail.startswith(_REQUEUE_DETAIL) and seconds is not None:
            total += seconds
    return total


def productive_seconds(state: RunState, now: float | None = None) -> float | None:
    """The run's wall time less what its requeues cost (None without a wall time)."""
    wall = wall_seconds(state, now)
    if wall is None:
        return None
    return max(0.0, wall - requeue_seconds(state, now))


def rank_rows(state: RunState, limit: int | None = None) -> list[RankInfo]:
    """The ranks in rank order (the first ``limit``)."""
    numbers = sorted(state.ranks.table)
    if limit is not None:
        numbers = numbers[:limit]
    return [state.ranks.table[n] for n in numbers]


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat()


def ranks_summary(state: RunState) -> list[dict[str, object]]:
    """``"ranks"`` of ``hwmon.summary/1``: one entry per rank (at most ``MAX_RANKS_LISTED``), in rank order; empty
    for a run with fewer than two ranks."""
    if len(state.ranks.table) < 2:
        return []
    return [
        {
            "rank": info.rank,
            "host": info.host,
            "last_step": info.last_step,
            "last_time": _iso(info.last_ts),
            "lines": info.lines,
            "errors": info.errors,
        }
        for info in rank_rows(state, MAX_RANKS_LISTED)
    ]


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def summary_keys(state: RunState) -> dict[str, object]:
    """The keys issue 21 adds to ``hwmon.summary/1`` (keys may be added, never removed)."""
    end = end_reason(state)
    job = state.job
    wall = wall_seconds(state, None)
    return {
        "ranks": ranks_summary(state),
        "ranks_count": len(state.ranks.table) + state.ranks.dropped if len(state.ranks.table) >= 2 else 0,
        "error": run_error(state),
        "end_reason": None
        if end is None
        else {
            "code": end.code,
            "detail": end.detail,
            "source": end.source,
            "seconds": _num(end.seconds),
            "text": fmt_end_reason(state, None),
        },
        "cause": None
        if state.cause is None
        else {"name": state.cause.name, "hint": state.cause.hint, "line": state.cause.line},
        "requeues": job.requeues,
        "productive_seconds": _num(productive_seconds(state, None)) if job.requeues else _num(wall),
        "time_limit_s": _num(job.time_limit_s),
    }


@dataclass(frozen=True, slots=True)
class RankView:
    """One rank as the ranks pane shows it: its step, how far behind the leading step, how long it has been
    quiet, and its state word (``failed``, ``silent``, ``behind``, ``ok``, or ``-`` for a rank that states no
    steps)."""

    info: RankInfo
    lag: int | None
    quiet_s: float | None
    flag: str


def _now_on_rank_clock(state: RunState, now: float | None) -> float | None:
    if state.ranks.clock == "arrival":
        return now
    if state.ranks.clock == "log":
        current = log_now(state, now)
        if current is not None:
            try:
                return current.timestamp()
            except (OverflowError, OSError, ValueError):
                return None
    return None


def rank_views(state: RunState, now: float | None, limit: int | None = None) -> list[RankView]:
    """The ranks in rank order (the first ``limit``) with what the pane shows of each (see ``RankView``)."""
    front = state.ranks.front_step
    t = _now_on_rank_clock(state, now)
    out: list[RankView] = []
    for info in rank_rows(state, limit):
        lag = None if front is None or info.last_step is None else max(0, front - info.last_step)
        quiet = None if t is None or info.last_at is None else max(0.0, t - info.last_at)
        if info.first_error is not None:
            flag = "failed"
        elif info.silent:
            flag = "silent"
        elif info.behind:
            flag = "behind"
        elif info.last_step is None:
            flag = "-"
        else:
            flag = "ok"
        out.append(RankView(info, lag, quiet, flag))
    return out
