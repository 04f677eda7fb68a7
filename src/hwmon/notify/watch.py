"""The headless follower behind ``hwmon watch``: the fleet's trackers, time alerts, notices, snapshots.

Every ``tick`` refreshes the fleet (``hwmon.sources.fleet.Fleet``: supervised runs, Slurm jobs, attached logs —
each log read incrementally, a ``stat`` when nothing changed), checks the time alerts of each live run
(``hwmon.model.alerts.check``: stall, silence), lets each run's ``NoticeDetector`` find what is new, and hands new
notices to the ``Notifier``. A run the ledger has never seen, found in the watch's first listing, has what it holds
so far recorded as ``baseline`` (not told) unless ``replay``; runs that appear later, and runs the ledger knows
(a restarted watch), are told everything not told yet. The figures for ``/metrics`` are taken as a ``RunSnapshot``
per run after each change (every ``snapshot_every`` seconds at least: an ETA ages).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hwmon.events import PhaseExpectations
from hwmon.model import alerts as time_alerts
from hwmon.model.fmt import fmt_number
from hwmon.model.history import PastRun, expected_phases, job_key
from hwmon.model.reducer import apply
from hwmon.model.state import RunState
from hwmon.notify.dispatch import Notifier
from hwmon.notify.ledger import Ledger
from hwmon.notify.metrics import RunSnapshot, snapshot
from hwmon.notify.notice import Notice, NoticeDetector, RunFacts, end_event
from hwmon.sources.fleet import Fleet, FleetRow

__all__ = ["Watch"]

_HOST = socket.gethostname()
# Row statuses of a run that may still raise time alerts.
_LIVE = ("running", "stalled", "waiting")
_DEFAULT_STALL = time_alerts.StallRule()


@dataclass
class _Run:
    facts: RunFacts
    detector: NoticeDetector
    # The tracker's state last seen (held: a new object means the log started over).
    state: RunState | None = None
    version: int = -1
    row: FleetRow | None = None
    snap_at: float = float("-inf")
    counts: dict[str, int] = field(default_factory=dict)
    baseline: bool = False


def facts_of(row: FleetRow) -> RunFacts:
    """Who the run behind a fleet row is (see ``RunFacts``)."""
    host = row.where
    if host in ("", "local") or host.startswith("job "):
        host = _HOST
    return RunFacts(
        key=row.key, run=row.ref, name=row.name, host=host, status=row.status, ref=row.ref, ssh_opts=row.ssh_opts
    )


class PhaseOverruns:
    """The ``phase-overrun`` check of every watched run: the history's expectations for the run's job (past runs
    re-read every ``reload_s``) fed to the reducer as a ``PhaseExpectations`` event; the alert itself is raised by
    the next ``Tick`` (the reducer's TICK_CHECKS), as the other time alerts."""

    def __init__(self, past: Callable[[], list[PastRun]] | None = None, reload_s: float = 600.0) -> None:
        self._past_provider = past if past is not None else _past_runs
        self._past: list[PastRun] = []
        self._loaded_at = float("-inf")
        self.reload_s = reload_s

    def __call__(self, state: RunState, now: float) -> None:
        if state.current_phase is None:
            return
        if time.monotonic() - self._loaded_at >= self.reload_s:
            self._loaded_at = time.monotonic()
            try:
                self._past = self._past_provider()
            except Exception:  # noqa: BLE001 - the history is a convenience; the watch goes on without it
                self._past = []
        if not self._past:
            return
        expected = expected_phases(job_key(state)[1], state.vendor, self._past)
        phases = tuple((name, exp.seconds, exp.runs, exp.basis) for name, exp in expected.items())
        if {name: (s, r, b) for name, s, r, b in phases} != state.expected_phases:
            apply(state, PhaseExpectations(state.lines, None, phases), now)
        # The phase-overrun itself is raised by the clock, as every time alert: the next Tick runs the reducer's
        # TICK_CHECKS (hwmon.model.reducer.clock), phase_overrun among them.


def _past_runs() -> list[PastRun]:
    from hwmon.store.history import open_history

    history = open_history()
    if history is None:
        return []
    try:
        return history.past_runs()
    finally:
        history.close()


class Watch:
    """See the module docstring. ``log`` gets one line per event and per run that appears; ``clock`` is the
    wall clock (Unix seconds) the fleet's trackers and the time alerts use."""

    def __init__(
        self,
        fleet: Fleet,
        notifier: Notifier | None,
        ledger: Ledger,
        *,
        replay: bool = False,
        clock: Callable[[], float] = time.time,
        log: Callable[[str, str], None] = lambda tag, text: None,
        stall: time_alerts.StallRule = _DEFAULT_STALL,
        silence_s: float = time_alerts.SILENCE_S,
        snapshot_every: float = 5.0,
        check_state: Callable[[RunState, float], None] | None = None,
    ) -> None:
        self.fleet = fleet
        self.notifier = notifier
        self.ledger = ledger
        self.replay = replay
        self.clock = clock
        self.log = log
        # The dashboard's rule (issue 19): a stall is ``stall.factor`` x the usual interval and >= ``stall.min_s``.
        self.stall_rule = stall
        self.silence_s = silence_s
        self.snapshot_every = snapshot_every
        self.check_state = check_state
        self.ticks = 0
        self._runs: dict[str, _Run] = {}
        self._snapshots: list[RunSnapshot] = []
        self._lock = threading.Lock()
        self.notices: list[Notice] = []
        # Bumped whenever the snapshots change (the textfile is rewritten only then).
        self.snapshot_version = 0
        self._listed = -1

    # ------------------------------------------------------------------------------------------------ reading

    def snapshots(self) -> list[RunSnapshot]:
        """The latest snapshot of every run (any thread: the metrics server's)."""
        with self._lock:
            return list(self._snapshots)

    def rows(self) -> list[FleetRow]:
        """The rows of the last tick."""
        return [run.row for run in self._runs.values() if run.row is not None]

    def all_ended(self) -> bool:
        """Every listed run has ended (and at least one is listed)."""
        rows = self.rows()
        return bool(rows) and all(end_event(row.status) is not None for row in rows)

    def any_failed(self) -> bool:
        return any(end_event(row.status) == "failed" for row in self.rows())

    # ------------------------------------------------------------------------------------------------ ticking

    def tick(self) -> list[Notice]:
        """One round (see the module docstring); the notices found in it."""
        first = self.ticks == 0
        self.ticks += 1
        self.fleet.refresh(force=first)
        now = self.clock()
        found: list[Notice] = []
        listed: set[str] = set()
        changed = False
        for row in self.fleet.rows():
            listed.add(row.key)
            state = self.fleet.state_of(row.key)
            run = self._runs.get(row.key)
            if run is None:
                run = self._new_run(row, first)
            fresh_state = state is not None and state is not run.state
            if state is not None:
                if fresh_state:
                    # Steps read from a backlog arrived all at once: their arrival times say nothing of the pace.
                    time_alerts.check(state, now, catching_up=True)
                elif row.status in _LIVE:
                    time_alerts.check(state, now, stall=self.stall_rule, silence_s=self.silence_s)
                if self.check_state is not None and row.status in _LIVE:
                    self.check_state(state, now)
                run.state = state
            facts = facts_of(row)
            notices = run.detector.update(facts, state, now)
            if run.detector.generation and fresh_state:
                self.ledger.add_run(row.key, run.detector.generation)
            for notice in notices:
                run.counts[notice.event] = run.counts.get(notice.event, 0) + 1
                if run.baseline:
                    self.ledger.baseline(notice.run_key, notice.key)
                    self.log(
                        notice.event, f"{notice.name} ({notice.run}): {notice.message} (before this watch: not told)"
                    )
                    continue
                found.append(notice)
                self._tell(notice)
            run.baseline = False
            version = state.version if state is not None else -1
            if row != run.row or version != run.version or notices or now - run.snap_at >= self.snapshot_every:
                run.row, run.version, run.snap_at = row, version, now
                changed = True
                run.facts = facts
        for key in [k for k in self._runs if k not in listed]:
            run = self._runs.pop(key)
            changed = True
            self.log("gone", f"{run.facts.name} ({run.facts.run}) is no longer listed")
        if changed:
            self._take_snapshots(now)
        if len(self._runs) != self._listed:
            self._listed = len(self._runs)
            self.log("watch", f"watching {self._listed} run{'s' if self._listed != 1 else ''}")
        return found

    def _new_run(self, row: FleetRow, first_tick: bool) -> _Run:
        facts = facts_of(row)
        known = self.ledger.run_generation(row.key)
        detector = NoticeDetector(facts)
        run = _Run(facts, detector)
        if known is None:
            self.ledger.add_run(row.key)
            # Present when the watch started and never seen by a watch: what it did so far is history.
            run.baseline = first_tick and not self.replay
        else:
            detector.generation = known
        self._runs[row.key] = run
        self.log("run", f"{facts.name} ({facts.run}) {facts.status}{' (known)' if known is not None else ''}")
        return run

    def _tell(self, notice: Notice) -> None:
        self.notices.append(notice)
        if len(self.notices) > 1000:
            del self.notices[:500]
        figures_text = ""
        if notice.step is not None:
            figures_text += f" step {notice.step}"
        if notice.loss is not None:
            figures_text += f" loss {fmt_number(notice.loss)}"
        told = ""
        if self.notifier is not None:
            if not self.notifier.wants(notice.event):
                told = " (not told: --on)"
            else:
                queued = self.notifier.submit(notice)
                told = "" if queued or not self.notifier.sinks else " (told before)"
        self.log(notice.event, f"{notice.name} ({notice.run}): {notice.message}{figures_text}{told}")

    def _take_snapshots(self, now: float) -> None:
        snaps = []
        for key, run in self._runs.items():
            row = run.row
            if row is None:
                continue
            snaps.append(
                snapshot(
                    run=run.facts.run,
                    name=run.facts.name,
                    host=run.facts.host,
                    kind=row.kind,
                    ref=row.ref,
                    status=row.status,
                    state=self.fleet.state_of(key),
                    now=now,
                    step=row.step,
                    target=row.target,
                    loss=row.loss,
                    rate=row.rate,
                    rate_unit=row.rate_unit,
                    eta_s=row.eta_s,
                    device=row.device,
                    alerts=run.counts,
                )
            )
        with self._lock:
            self._snapshots = snaps
            self.snapshot_version += 1
