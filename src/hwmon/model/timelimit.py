"""Will the run finish before its Slurm time limit? The time left (the job's ``TimeLimit`` minus its run time,
aged by the injected clock since ``scontrol`` said it), the run's ETA (``hwmon.model.eta``) against it, and how old
the last checkpoint is: what a user decides on (requeue, extend, save now). Pure.

``limit_verdict`` is the figure and ``fmt_limit`` its one spelling (``limit in 2h05m — will not finish; last
checkpoint 40m00s ago``); ``eta_alert`` raises the ``eta`` alert once when the verdict turns to "will not finish".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hwmon.model.eta import eta_seconds
from hwmon.model.figures import is_ended, log_now
from hwmon.model.fmt import fmt_duration
from hwmon.model.state import Alert, RunState

__all__ = ["LimitVerdict", "eta_alert", "fmt_limit", "limit_verdict", "time_left"]

_FINAL = frozenset(
    {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "DEADLINE", "BOOT_FAIL"}
)


@dataclass(frozen=True, slots=True)
class LimitVerdict:
    """The time left before the scheduler ends the job, the run's ETA (None: unknown), whether it finishes in
    time (None: no ETA to tell), and the age of the last checkpoint (None: none, or no time for it)."""

    left_s: float
    eta_s: float | None
    finishes: bool | None
    checkpoint_age_s: float | None
    checkpoints: int


def time_left(state: RunState, now: float | None) -> float | None:
    """Seconds until the job's time limit (``TimeLimit`` − run time), aged since the scheduler said it; None
    without a limit, without a clock, or once the run or the job has ended."""
    job = state.job
    if now is None or job.time_limit_s is None or job.elapsed_s is None or job.elapsed_at is None:
        return None
    if is_ended(state) or job.state in _FINAL or state.source_ended:
        return None
    elapsed = job.elapsed_s + max(0.0, now - job.elapsed_at)
    return max(0.0, job.time_limit_s - elapsed)


def _checkpoint_age(state: RunState, now: float | None) -> float | None:
    if not state.checkpoints:
        return None
    last = state.checkpoints[-1]
    if last.at is not None and now is not None:
        return max(0.0, now - last.at)
    current = log_now(state, now)
    if last.ts is not None and current is not None:
        return max(0.0, (current - last.ts).total_seconds())
    return None


def limit_verdict(state: RunState, now: float | None) -> LimitVerdict | None:
    """The run's ETA against its time limit (see ``LimitVerdict``), or None when the job has no limit to tell."""
    left = time_left(state, now)
    if left is None:
        return None
    eta = eta_seconds(state, now)
    finishes = None if eta is None or not math.isfinite(eta) else eta <= left
    return LimitVerdict(left, eta, finishes, _checkpoint_age(state, now), state.checkpoint_count)


def fmt_limit(verdict: LimitVerdict | None) -> str:
    """``limit in 2h05m — will not finish; last checkpoint 40m00s ago`` (``—`` and ``;`` parts only when known);
    ``""`` without a verdict."""
    if verdict is None:
        return ""
    text = f"limit in {fmt_duration(verdict.left_s)}"
    if verdict.finishes is False:
        text += " — will not finish"
        if verdict.checkpoint_age_s is not None:
            text += f"; last checkpoint {fmt_duration(verdict.checkpoint_age_s)} ago"
        elif not verdict.checkpoints:
            text += "; no checkpoint yet"
    elif verdict.finishes is True and verdict.eta_s is not None:
        text += f" — finishes with {fmt_duration(verdict.left_s - verdict.eta_s)} to spare"
    return text


def eta_alert(state: RunState, now: float) -> Alert | None:
    """The ``eta`` alert (not yet recorded: ``hwmon.model.alerts.check`` records it), once when the run turns out
    not to finish within its time limit at its current pace; re-armed when it would finish again."""
    verdict = limit_verdict(state, now)
    if verdict is None or verdict.finishes is None:
        return None
    job = state.job
    if verdict.finishes:
        job.eta_warned = False
        return None
    if job.eta_warned:
        return None
    job.eta_warned = True
    text = f"will not finish before the Slurm time limit: ETA {fmt_duration(verdict.eta_s)}, limit in "
    text += fmt_duration(verdict.left_s)
    if verdict.checkpoint_age_s is not None:
        text += f"; last checkpoint {fmt_duration(verdict.checkpoint_age_s)} ago"
    elif not verdict.checkpoints:
        text += "; no checkpoint yet"
    return Alert("eta", text, at=now)
