"""The ranks of a distributed run: per-rank progress, the ``rank-behind`` and ``rank-silent`` alerts, and the rank
that failed first (issue 21).

Each ``RankLine`` updates its rank (lines, last step, when it printed last, its last line); each ``RankError`` its
errors, the first fatal one of the run and the rank a launcher names as the root cause. Alerts, each raised once
per rank and re-armed when the rank catches up or prints again:

- ``rank-behind``: a rank's last step lags the median of the ranks' last steps by more than ``behind_steps``
  (checked when the leading step advances: once per step of the run, not per line).
- ``rank-silent``: a rank that states steps printed nothing for ``silent_factor`` median step intervals (and at
  least ``silent_min_s``) while the others are past it. Three ways to see it: the others keep printing meanwhile
  (checked on their lines, at most every quarter interval); the clock runs on while the rank's last step is
  behind the leading one (``time_alerts``, from the caller's timer: the others wait for it in a collective); or it
  reports a step that long after the first rank did (the log shows it afterwards, also without a clock).

Times: the log's own (each line's timestamp) when the ranks' lines carry one, else arrival times (``now``); a state
uses one or the other (``Ranks.clock``). The median step interval is that of the leading step's advances; without
two of them, the run's seconds per step.
"""

from __future__ import annotations

import math
import statistics

from hwmon.events import Event, RankError, RankLine
from hwmon.model.dist_state import LIMITS, MAX_RANKS, STEP_FIRST_SEEN_KEPT, RankInfo, RankLimits, Ranks
from hwmon.model.reducer.alerts import add_alert
from hwmon.model.reducer.handler import Handler
from hwmon.model.state import Alert, RunState

__all__ = ["HANDLERS", "configure", "forget_arrivals", "median_interval", "rank_time", "time_alerts"]

_MIN_INTERVALS = 2
ERROR_CHARS = 500
"""A rank's first error is kept up to this many characters (4096 ranks stay within a few MB)."""


def configure(limits: RankLimits) -> None:
    """The limits every run's ranks are judged by from now on (the CLI reads ``HWMON_RANK_*``)."""
    LIMITS[0] = limits


def _epoch(event: Event) -> float | None:
    ts = event.ts
    if ts is None:
        return None
    try:
        return ts.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def rank_time(ranks: Ranks, event: Event, now: float | None) -> float | None:
    """The time of ``event`` on the ranks' clock (see the module doc), or None when it has none."""
    if not ranks.clock:
        if event.ts is not None and _epoch(event) is not None:
            ranks.clock = "log"
        elif now is not None:
            ranks.clock = "arrival"
        else:
            return None
    if ranks.clock == "arrival":
        return now
    ts = event.ts
    if ts is None:
        return None
    if ts != ranks.epoch_of[0]:
        # Many ranks' lines share a second: the conversion (a local-time lookup) is done once per timestamp.
        ranks.epoch_of = (ts, _epoch(event))
    return ranks.epoch_of[1]


def _front_median(ranks: Ranks) -> float | None:
    times = list(ranks.front_times)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b >= a]
    if len(gaps) >= _MIN_INTERVALS:
        median = statistics.median(gaps)
        if median > 0:
            return median
    return None


def median_interval(state: RunState) -> float | None:
    """The usual time between steps: the median interval of the leading step's advances (computed when the leading
    step advances, not per line), else the run's seconds per step."""
    if state.ranks.interval is not None:
        return state.ranks.interval
    seconds = state.step_seconds
    return seconds if seconds is not None and math.isfinite(seconds) and seconds > 0 else None


def _where(info: RankInfo) -> str:
    return f" on {info.host}" if info.host else ""


def _quote(info: RankInfo) -> str:
    return f"; its last line: {info.text}" if info.text else ""


def _rank(ranks: Ranks, number: int) -> RankInfo | None:
    info = ranks.table.get(number)
    if info is None:
        if len(ranks.table) >= MAX_RANKS:
            ranks.dropped += 1
            return None
        info = ranks.table[number] = RankInfo(number)
    return info


def _rank_line(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, RankLine)
    ranks = state.ranks
    info = _rank(ranks, event.rank)
    if info is None:
        return
    info.lines += max(0, event.lines)
    info.line = event.line
    if event.text:
        info.text = event.text
    if event.host:
        info.host = event.host
    if event.ts is not None:
        info.last_ts = event.ts
    t = rank_time(ranks, event, now)
    previous_at = info.last_at
    if t is not None:
        info.last_at = t
    was_silent, info.silent = info.silent, False
    step = event.step
    if step is None:
        _scan_silence(state, event, t, now)
        return
    if step != info.last_step:
        info.step_reports += 1
    info.last_step = step
    limits = ranks.limits
    if t is not None and step is not None:
        first = ranks.first_seen.get(step)
        if first is None:
            ranks.first_seen[step] = t
            while len(ranks.first_seen) > STEP_FIRST_SEEN_KEPT:
                ranks.first_seen.popitem(last=False)
        elif previous_at is not None and not was_silent:
            _late_report(state, event, now, info, t - first, t - previous_at)
    if ranks.front_step is None or step > ranks.front_step:
        ranks.front_step = step
        if t is not None:
            ranks.front_times.append(t)
            ranks.interval = _front_median(ranks)
        _scan_behind(state, event, now, limits)
    elif info.behind and ranks.front_step is not None:
        median_step = _median_step(ranks)
        if median_step is not None and median_step - step <= limits.behind_steps // 2:
            info.behind = False
    _scan_silence(state, event, t, now)


def _threshold(state: RunState) -> float | None:
    median = median_interval(state)
    if median is None:
        return None
    limits = state.ranks.limits
    return max(limits.silent_factor * median, limits.silent_min_s)


def _late_report(
    state: RunState, event: Event, now: float | None, info: RankInfo, after_first: float, gap: float
) -> None:
    """A rank reporting a step long after the first rank did, after a long silence of its own: it held the others
    up (seen afterwards, so also in a whole-log summary with timestamps)."""
    threshold = _threshold(state)
    if threshold is None or after_first <= threshold or gap <= threshold or info.step_reports < 2:
        return
    median = median_interval(state) or 0.0
    add_alert(
        state,
        Alert(
            "rank-silent",
            f"rank {info.rank}{_where(info)} was silent for {gap:.0f} s ({gap / median:.1f}x the usual "
            f"{median:.1f} s) and reported step {info.last_step} {after_first:.0f} s after the first rank",
            line=event.line,
            at=now,
        ),
    )


def _median_step(ranks: Ranks) -> float | None:
    steps = [info.last_step for info in ranks.table.values() if info.last_step is not None]
    return statistics.median(steps) if len(steps) >= 2 else None


def _scan_behind(state: RunState, event: Event, now: float | None, limits: RankLimits) -> None:
    ranks = state.ranks
    median_step = _median_step(ranks)
    if median_step is None:
        return
    for info in ranks.table.values():
        if info.last_step is None:
            continue
        lag = median_step - info.last_step
        if lag > limits.behind_steps and not info.behind:
            info.behind = True
            add_alert(
                state,
                Alert(
                    "rank-behind",
                    f"rank {info.rank}{_where(info)} is {lag:.0f} steps behind (step {info.last_step}, the ranks' "
                    f"median {median_step:.0f}){_quote(info)}",
                    line=event.line,
                    at=now,
                ),
            )
        elif info.behind and lag <= limits.behind_steps // 2:
            info.behind = False


def _scan_silence(state: RunState, event: Event, t: float | None, now: float | None) -> None:
    """Ranks that went quiet while another rank's line arrives at ``t`` (at most every quarter interval)."""
    ranks = state.ranks
    if t is None or len(ranks.table) < 2:
        return
    median = median_interval(state)
    if median is None:
        return
    if ranks.scanned_at is not None and t - ranks.scanned_at < median / 4:
        return
    ranks.scanned_at = t
    for alert in _silence(state, t, median, event.line, now):
        add_alert(state, alert)


def _silence(state: RunState, t: float, median: float, line: int, now: float | None) -> list[Alert]:
    """Ranks that printed nothing for longer than the threshold at ``t`` while the leading step is past theirs:
    the others went on without them (or wait for them in a collective). A rank level with the leading step is
    never silent: when every rank waits, none is to blame (that is a stall)."""
    ranks = state.ranks
    limits = ranks.limits
    threshold = max(limits.silent_factor * median, limits.silent_min_s)
    front = ranks.front_step
    new: list[Alert] = []
    for info in ranks.table.values():
        if info.silent or info.last_at is None or info.step_reports < 2:
            continue
        quiet = t - info.last_at
        if quiet <= threshold or front is None or info.last_step is None or info.last_step >= front:
            continue
        passed = _passed_at(ranks, info.last_step)
        if passed is not None and t - passed <= threshold:
            continue  # the others only just went past it (after a pause every rank shared)
        info.silent = True
        where = f" at step {info.last_step} (the others reached {front})"
        alert = Alert(
            "rank-silent",
            f"rank {info.rank}{_where(info)} silent for {quiet:.0f} s ({quiet / median:.1f}x the usual "
            f"{median:.1f} s){where}{_quote(info)}",
            line=line,
            at=now,
        )
        new.append(alert)
    return new


def _passed_at(ranks: Ranks, step: int) -> float | None:
    """When some rank first reported a step past ``step`` (the earliest such step still remembered)."""
    found: float | None = None
    for seen, at in ranks.first_seen.items():
        if seen > step and (found is None or at < found):
            found = at
    return found


def time_alerts(state: RunState, now: float, log_now: float | None = None) -> list[Alert]:
    """``rank-silent`` alerts the passage of time reveals: a rank behind the leading step that printed nothing for
    too long while the others wait for it. ``now`` is the caller's clock; ``log_now`` the same moment in the log's
    time (``hwmon.model.figures.log_now``), used when the ranks' clock is the log's. The caller records them
    (``hwmon.model.reducer.record_time_alerts``)."""
    ranks = state.ranks
    if len(ranks.table) < 2:
        return []
    t = log_now if ranks.clock == "log" else now if ranks.clock == "arrival" else None
    median = median_interval(state)
    if t is None or median is None:
        return []
    return _silence(state, t, median, 0, now)


def forget_arrivals(state: RunState) -> None:
    """The source is reading a backlog: its arrival times say nothing about the run's pace (see
    ``hwmon.model.alerts.check``)."""
    ranks = state.ranks
    if ranks.clock == "arrival":
        ranks.front_times.clear()
        ranks.interval = None
        ranks.first_seen.clear()
        ranks.scanned_at = None
        for info in ranks.table.values():
            info.last_at = None


def _rank_error(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, RankError)
    ranks = state.ranks
    info = _rank(ranks, event.rank)
    if info is None:
        return
    if event.host and info.host is None:
        info.host = event.host
    if event.root_cause:
        ranks.root_cause = event.rank
        return
    info.errors += 1
    if event.fatal:
        message = event.message[:ERROR_CHARS]
        if info.first_error is None:
            info.first_error = message
        if ranks.first_failure is None:
            ranks.first_failure = (event.rank, message, event.line)


HANDLERS: dict[type[Event], Handler] = {
    RankLine: _rank_line,
    RankError: _rank_error,
}
