"""What the run model keeps about distributed runs and their scheduler (issue 21): the ranks, the Slurm job, how
the run ended and why. Plain mutable data held by ``RunState`` (``ranks``, ``job``, ``end``, ``cause``); only the
reducer (``hwmon.model.reducer.ranks`` and ``hwmon.model.reducer.job``) changes it. Bounded: at most ``MAX_RANKS``
ranks, a shortened last line each, a few dozen recent step times."""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "MAX_RANKS",
    "Cause",
    "EndReason",
    "JobFacts",
    "RankInfo",
    "RankLimits",
    "Ranks",
]

MAX_RANKS = 4096
"""Ranks followed one by one in a run's state; more are counted in ``Ranks.dropped``."""
FRONT_TIMES_KEPT = 64
STEP_FIRST_SEEN_KEPT = 64


@dataclass(frozen=True, slots=True)
class RankLimits:
    """When a rank is behind or silent (configurable: ``HWMON_RANK_BEHIND``, ``HWMON_RANK_SILENT``,
    ``HWMON_RANK_SILENT_MIN_S``; see ``hwmon.model.reducer.ranks.configure``).

    - ``behind_steps``: a rank whose last step lags the median of the ranks' last steps by more than this.
    - ``silent_factor``: a rank that states steps and printed nothing for this many median step intervals while
      the others are past it (or reported a step this long after the first rank did).
    - ``silent_min_s``: never a silence shorter than this many seconds (sub-second jitter is not a hang).
    """

    behind_steps: int = 10
    silent_factor: float = 2.0
    silent_min_s: float = 1.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> tuple[RankLimits, list[str]]:
        """The limits ``HWMON_RANK_BEHIND`` (steps), ``HWMON_RANK_SILENT`` (median intervals) and
        ``HWMON_RANK_SILENT_MIN_S`` (seconds) set (the model reads no environment itself: the CLI passes it), and
        one complaint per value that is not a positive number (its default is kept)."""
        complaints: list[str] = []
        values: dict[str, float] = {}
        for key, name in (
            ("HWMON_RANK_BEHIND", "behind_steps"),
            ("HWMON_RANK_SILENT", "silent_factor"),
            ("HWMON_RANK_SILENT_MIN_S", "silent_min_s"),
        ):
            text = env.get(key)
            if text is None or not text.strip():
                continue
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not math.isfinite(value) or value <= 0 or value > 1e9:
                complaints.append(f"{key}={text[:40]!r} is not a positive number; using the default")
                continue
            values[name] = value
        default = cls()
        limits = cls(
            behind_steps=int(values.get("behind_steps", default.behind_steps)),
            silent_factor=values.get("silent_factor", default.silent_factor),
            silent_min_s=values.get("silent_min_s", default.silent_min_s),
        )
        return limits, complaints


LIMITS: list[RankLimits] = [RankLimits()]
"""The limits a new run's ``Ranks`` starts with (``hwmon.model.reducer.ranks.configure`` replaces them)."""


@dataclass(slots=True)
class RankInfo:
    """One rank: its host when known, lines and errors, its last step and when it printed last."""

    rank: int
    host: str | None = None
    lines: int = 0
    errors: int = 0
    last_step: int | None = None
    # Its steps changed this many times (a rank that states steps is expected to keep stating them).
    step_reports: int = 0
    # The log's own time of its last line, and its last line's time on the state's rank clock (see Ranks.clock).
    last_ts: datetime | None = None
    last_at: float | None = None
    text: str = ""
    line: int = 0
    first_error: str | None = None
    # Alerts standing for this rank (re-armed when it catches up / prints again).
    behind: bool = False
    silent: bool = False


@dataclass(slots=True)
class Ranks:
    """Every rank of the run (see ``RankInfo``) and what the rank alerts measure against."""

    table: dict[int, RankInfo] = field(default_factory=dict)
    dropped: int = 0
    # Times are the log's own (epoch seconds of each line's timestamp) when the ranks' lines carry timestamps,
    # else arrival times on the injected clock: decided by the first timed line, never mixed.
    clock: str = ""
    # The highest step any rank reported, the times it advanced (for the median step interval), and when each
    # recent step was first reported by any rank.
    front_step: int | None = None
    front_times: deque[float] = field(default_factory=lambda: deque(maxlen=FRONT_TIMES_KEPT))
    # The median interval of ``front_times`` (kept up to date as they change).
    interval: float | None = None
    first_seen: OrderedDict[int, float] = field(default_factory=OrderedDict)
    scanned_at: float | None = None
    # The last log timestamp converted to epoch seconds, and the result (lines of one second share it).
    epoch_of: tuple[datetime | None, float | None] = (None, None)
    # The rank that failed first (its first fatal error, in the log's order), and the rank a launcher named as
    # the root cause (torch elastic), with the host it named.
    first_failure: tuple[int, str, int] | None = None
    root_cause: int | None = None
    limits: RankLimits = field(default_factory=lambda: LIMITS[0])

    @property
    def count(self) -> int:
        """How many ranks were seen."""
        return len(self.table) + (1 if self.dropped else 0)


@dataclass(slots=True)
class JobFacts:
    """The scheduler's view of the run's job (Slurm), as last told: state, reason, time limit, requeues."""

    job_id: str = ""
    state: str = ""
    reason: str = ""
    time_limit_s: float | None = None
    # The job's run time at the latest report, and when that was (the state's clock / the log's time).
    elapsed_s: float | None = None
    elapsed_at: float | None = None
    restarts: int = 0
    # Requeues/restarts seen in this run (the scheduler's count or the log's own); a requeue's gap is open until
    # training resumes (its time is the ``queue`` phase it opened: ``hwmon.model.distributed.requeue_seconds``).
    requeues: int = 0
    requeue_pending: bool = False
    # The ``eta`` alert stands (raised once; re-armed when the run would finish in time again).
    eta_warned: bool = False


@dataclass(slots=True)
class EndReason:
    """Why the run ended, in the scheduler's words when it has them (``code``: ``TIMEOUT``, ``OUT_OF_MEMORY``,
    ``CANCELLED``, ``NODE_FAIL``, ``PREEMPTED``, ``DEADLINE``, ``BOOT_FAIL``, ``FAILED``, ``COMPLETED``), else from
    the log (``OOM_KILLED``, ``SIGNAL``, ``OUT_OF_MEMORY``). ``detail`` says it in words (``time limit``, ``exit
    code 1``, ``signal 9 (SIGKILL)``, ``by alice``); ``source`` is ``slurm``, ``log`` or ``supervisor``;
    ``seconds`` the job's run time when the scheduler said it."""

    code: str
    detail: str = ""
    source: str = "log"
    seconds: float | None = None
    exit_code: int | None = None
    signal: int | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class Cause:
    """A known failure signature the run's errors match: what it is and what to try (see
    ``hwmon.model.causes``)."""

    name: str
    hint: str
    message: str = ""
    line: int = 0
    # How much it explains (3 a root cause, 2 a hang or a limit, 1 a consequence), and the end reason it means
    # when it ends the run ("" none).
    weight: int = 2
    end: str = ""
    end_detail: str = ""
