"""The fleet: every run hwmon knows of, one row each, kept current incrementally.

Three kinds of entry: supervised runs (the run registry, including runs submitted with ``--sbatch``), the user's
other Slurm jobs (``squeue --me``) and recently attached logs (``hwmon.store.recent``: local files, remote
``HOST:PATH`` followed over ssh, ``slurm:ID``). Each entry's log has a tracker that keeps a byte offset, a stream
parser and a ``RunState``: a refresh reads only the bytes added since the last one (a ``stat`` when nothing
changed), never the whole log again; a log first seen is read from its last ``FIRST_READ_BYTES`` only. Remote logs
are followed by an ``SshFollower`` task each. The registry is re-listed every ``registry_every`` seconds and Slurm
asked every ``slurm_every`` seconds, so 20 runs cost a few ``stat`` calls a second.

The figures come from the model's own functions (status, current phase, ``eta_seconds``, ``target_step``), as in
every other view.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from hwmon import exitcodes
from hwmon.events import JobState, SourceEnded, Tick
from hwmon.model import alerts as alert_rules
from hwmon.model import figures
from hwmon.model.alerts import SILENCE_S
from hwmon.model.eta import eta_seconds
from hwmon.model.state import RunState
from hwmon.refs import RemoteRef, parse_remote
from hwmon.slurm import client as slurm
from hwmon.slurm.facts import job_event, record_event
from hwmon.slurm.parse import PENDING_STATES, JobInfo
from hwmon.slurm.watcher import slurm_state
from hwmon.sources.pipeline import Reader
from hwmon.sources.source import QUIET_FLUSH_S, outcome_events, quiet_span
from hwmon.sources.ssh import SshFollower
from hwmon.sources.ssh_stream import RemoteStream
from hwmon.store import recent, registry

FIRST_READ_BYTES = 512 * 1024
READ_BUDGET = 4 << 20
MAX_FINISHED_RUNS = 10
_HOST = socket.gethostname()
# The time-based judgements' default rule (the dashboard's defaults; a watch passes its own).
_TICK = alert_rules.tick()


@dataclass(frozen=True)
class FleetRow:
    """One line of the fleet table. ``ref`` (with ``ssh_opts``) is what ``hwmon attach`` takes for it; ``stop_ref``
    is what ``hwmon stop`` takes ("" when hwmon cannot stop it)."""

    key: str
    kind: str
    name: str
    where: str
    device: str
    status: str
    phase: str
    step: int | None
    target: int | None
    loss: float | None
    rate: float | None
    rate_unit: str
    eta_s: float | None
    alerts: int
    ref: str
    ssh_opts: tuple[str, ...] = ()
    stop_ref: str = ""
    order: float = 0.0


class LogTracker:
    """A local log read incrementally into a ``RunState`` (see the module docstring)."""

    def __init__(
        self, path: str | os.PathLike[str], clock: Callable[[], float] = time.monotonic, tick: Tick = _TICK
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        # The Tick this tracker's clock applies: the owner's stall/silence rule (the watch's --stall-min...).
        self._tick = tick
        self._ident: tuple[int, int] | None = None
        self._pos = 0
        self._aligned = True
        self.reads = 0
        # When the last bytes arrived (the injected clock) while the parser may still hold a line back.
        self._flush_due: float | None = None
        self._reset()

    def _reset(self) -> None:
        self.reader = Reader(str(self.path))
        self._told: tuple[object, ...] | None = None
        self._outcome_told: tuple[object, ...] | None = None

    @property
    def state(self) -> RunState:
        return self.reader.state

    def tell(self, event: JobState | None) -> None:
        """What Slurm says of the run's job (issue 21: its time limit, requeues, end), when it changed."""
        if event is None:
            return
        key = (event.state, event.reason, event.time_limit_s, event.restarts, event.exit_code, event.signal)
        if key != self._told:
            self._told = key
            self.reader.apply([event], self._clock())

    def tell_outcome(self, record: registry.RunRecord) -> None:
        """A supervised run's end as its supervisor recorded it (run.json), once: the model then knows the run
        ended (its clocks stop, and no Tick judges a finished run stalled or silent)."""
        key = ("outcome", record.status, record.exit_code, record.signal)
        if key != self._outcome_told and (events := outcome_events(record)):
            self._outcome_told = key
            self.reader.apply(events, self._clock())

    def poll(self) -> bool:
        """Read what was added since the last poll (a ``stat`` only, when nothing was); True when the state
        changed. A replaced or truncated file starts over."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        ident = (st.st_dev, st.st_ino)
        if ident != self._ident:
            first = self._ident is None
            self._ident = ident
            self._reset()
            self._pos = max(0, st.st_size - FIRST_READ_BYTES) if first else 0
            self._aligned = self._pos == 0
        elif st.st_size < self._pos:
            self._reset()
            self._pos = 0
            self._aligned = True
        if st.st_size <= self._pos:
            return self._judge_time(st.st_mtime)
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._pos)
                data = fh.read(min(READ_BUDGET, st.st_size - self._pos))
        except OSError:
            return False
        self._pos += len(data)
        if not self._aligned:
            # Started in the middle of a big log: begin at a line boundary so the first, cut line is not misread.
            cut = data.find(b"\n")
            if cut < 0:
                return False
            data = data[cut + 1 :]
            self._aligned = True
        self.reads += 1
        now = self._clock()
        self._flush_due = now
        # The one reader's fault policy: a parser bug stops this row's events, never the fleet.
        self.reader.feed(data, now)
        return True

    def _judge_time(self, mtime: float) -> bool:
        """Nothing new: let the clock judge the run, as a followed file is judged (``FollowSource``): after
        ``QUIET_FLUSH_S`` the parser releases what it held back (a crashed run's last exception line); a ``Tick``
        (stall, silence...); and once the file has been quiet past the silence threshold its source has ended (the
        run's end is unknown, its clocks stop, no ETA). True when that changed the row."""
        state = self.state
        version = state.version
        now = self._clock()
        if self._flush_due is not None and now - self._flush_due >= QUIET_FLUSH_S:
            self._flush_due = None
            self.reader.apply(self.reader.flush()[0], now)
        quiet = time.time() - mtime
        if quiet >= SILENCE_S and not state.source_ended and not figures.is_ended(state) and state.lines:
            self.reader.apply([SourceEnded(0, None, f"no new output for {quiet_span(quiet)}", quiet)], now)
        self.reader.apply([self._tick], now)
        return state.version != version


class RemoteTracker:
    """A remote log followed over ssh into a ``RunState`` (an asyncio task while the fleet view runs)."""

    def __init__(self, ref: RemoteRef, ssh_opts: Sequence[str], clock: Callable[[], float] = time.monotonic) -> None:
        self.ref = ref
        self.ssh_opts = tuple(ssh_opts)
        self._clock = clock
        self.reader = Reader(str(ref))
        self.status = "connecting"
        self._follower: SshFollower | None = None
        self._task: asyncio.Task[None] | None = None
        self._stream: RemoteStream | None = None

    @property
    def state(self) -> RunState:
        return self.reader.state

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        # Resume where the previous fleet view left this log (the state is kept between views).
        follower = SshFollower(self.ref, options=self.ssh_opts, resume=self._stream)
        self._stream = follower.stream
        self._follower = follower
        try:
            async for chunk in follower.chunks():
                if chunk.statuses:
                    self.status = chunk.statuses[-1]
                if chunk.data:
                    self.reader.feed(chunk.data, self._clock())
                if chunk.eof:
                    return
        except Exception as exc:  # never take the fleet down
            self.status = f"ssh failed: {exc}"

    def stop(self) -> None:
        if self._follower is not None:
            self._follower.close()
        self._follower = None

    async def wait_closed(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 5)


class CachedRegistry:
    """``registry.list_runs()`` for a view that asks every few seconds: a finished run's ``run.json`` is re-read only
    when it changed (a ``stat`` each), so a registry of hundreds of old runs costs almost nothing per refresh; a
    running one is re-read each time (whether its supervisor is alive is decided at read time)."""

    def __init__(self, root: Path | None = None) -> None:
        self._root = root
        self._cache: dict[Path, tuple[tuple[int, int], registry.RunRecord]] = {}

    def __call__(self) -> list[registry.RunRecord]:
        base = self._root if self._root is not None else registry.runs_root()
        try:
            dirs = [p for p in base.iterdir() if p.is_dir()]
        except OSError:
            return []
        records: list[registry.RunRecord] = []
        cache: dict[Path, tuple[tuple[int, int], registry.RunRecord]] = {}
        for run_dir in dirs:
            try:
                st = os.stat(run_dir / registry.RUN_FILE)
            except OSError:
                continue
            key = (st.st_mtime_ns, st.st_size)
            cached = self._cache.get(run_dir)
            if cached is not None and cached[0] == key and cached[1].status != "running":
                record: registry.RunRecord | None = cached[1]
            else:
                record = registry.load(run_dir)
            if record is None:
                continue
            cache[run_dir] = (key, record)
            records.append(record)
        self._cache = cache
        records.sort(key=lambda r: (r.started, r.run_id), reverse=True)
        return records


def _my_jobs() -> list[JobInfo]:
    if not slurm.available():
        return []
    return slurm.my_jobs()


@dataclass
class _Entry:
    key: str
    tracker: LogTracker | RemoteTracker | None = None
    seen: bool = True
    extra: dict[str, object] = field(default_factory=dict)


class Fleet:
    """The rows of the fleet view, refreshed incrementally (see the module docstring). Providers are injectable so
    tests and the bench can point it at their own registry, Slurm and attachment lists."""

    def __init__(
        self,
        *,
        runs: Callable[[], list[registry.RunRecord]] | None = None,
        jobs: Callable[[], list[JobInfo]] = _my_jobs,
        recents: Callable[[], list[recent.Recent]] = recent.load,
        clock: Callable[[], float] = time.monotonic,
        registry_every: float = 2.0,
        slurm_every: float = 5.0,
        max_finished: int = MAX_FINISHED_RUNS,
        tick: Tick = _TICK,
    ) -> None:
        self._runs_provider = runs if runs is not None else CachedRegistry()
        self._jobs_provider = jobs
        self._recents_provider = recents
        self._clock = clock
        self._tick = tick
        self.registry_every = registry_every
        self.slurm_every = slurm_every
        self.max_finished = max_finished
        self._runs: list[registry.RunRecord] = []
        self._jobs: list[JobInfo] = []
        self._recents: list[recent.Recent] = []
        self._listed_at = float("-inf")
        self._asked_slurm_at = float("-inf")
        self._entries: dict[str, _Entry] = {}
        self.slurm_note = ""
        self._jobs_changed = False
        self.version = 0
        self._lock = threading.Lock()

    # ---------------------------------------------------------------------------------------------- refreshing

    def refresh(self, force: bool = False, *, slurm: bool = True) -> bool:
        """List what is due, read what the logs added. True when anything shown may have changed. Safe to call from
        a worker thread while the UI thread calls ``rows()`` (one lock, held for local reads only: a refresh takes
        a few milliseconds). With ``slurm=False`` Slurm is not asked here: a view that may not wait on a hanging
        controller asks it with ``poll_slurm`` in a thread of its own."""
        if slurm and (force or time.monotonic() - self._asked_slurm_at >= self.slurm_every):
            self.poll_slurm()
        with self._lock:
            return self._refresh(force)

    def poll_slurm(self) -> bool:
        """Ask Slurm for the user's jobs now. The answer is taken under the lock, the question is not: ``rows()``
        never waits for ``squeue``. True when it was asked."""
        self._asked_slurm_at = time.monotonic()
        try:
            jobs: list[JobInfo] | None = self._jobs_provider()
            note = ""
        except exitcodes.HwmonError as exc:
            jobs, note = None, str(exc)
        with self._lock:
            if jobs is not None:
                self._jobs = jobs
            self.slurm_note = note
            self._jobs_changed = True
        return True

    def _refresh(self, force: bool) -> bool:
        now = time.monotonic()
        changed = self._jobs_changed
        self._jobs_changed = False
        if force or now - self._listed_at >= self.registry_every:
            self._listed_at = now
            runs = self._runs_provider()
            finished = [r for r in runs if r.status != "running"][: self.max_finished]
            self._runs = [r for r in runs if r.status == "running"] + finished
            self._recents = self._recents_provider()
            changed = True
        for entry in self._sync_entries():
            if isinstance(entry.tracker, LogTracker) and entry.tracker.poll():
                changed = True
        self._tell_jobs()
        if changed:
            self.version += 1
        return changed

    def _tell_jobs(self) -> None:
        """What Slurm says of each job (its time limit, restarts, end) goes to its run model too (issue 21: the ETA
        against the limit, the ``eta`` alert, the end reason in ``watch``)."""
        for record in self._runs:
            entry = self._entries.get(f"run:{record.run_id}")
            if entry is not None and isinstance(entry.tracker, LogTracker):
                entry.tracker.tell_outcome(record)
            if record.slurm_job_id and entry is not None and isinstance(entry.tracker, LogTracker):
                entry.tracker.tell(record_event(record.slurm_job_id, slurm_state(record)))
        for job in self._jobs:
            entry = self._entries.get(f"slurm:{job.job_id}")
            if entry is not None and isinstance(entry.tracker, LogTracker):
                entry.tracker.tell(job_event(job))

    def _entry(self, key: str, make: Callable[[], LogTracker | RemoteTracker | None]) -> _Entry:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(key, make())
        entry.seen = True
        return entry

    def _sync_entries(self) -> list[_Entry]:
        for entry in self._entries.values():
            entry.seen = False
        out: list[_Entry] = []
        for record in self._runs:
            out.append(
                self._entry(f"run:{record.run_id}", partial(LogTracker, record.log_path, self._clock, self._tick))
            )
        submitted = {r.slurm_job_id for r in self._runs if r.slurm_job_id}
        for job in self._jobs:
            if job.job_id in submitted:
                continue
            path = job.stdout

            def make(p: str = path) -> LogTracker | None:
                return LogTracker(p, self._clock, self._tick) if p else None

            out.append(self._entry(f"slurm:{job.job_id}", make))
        for item in self._recents:
            if item.kind == "ssh":
                try:  # re-derived from the checked ref, never replayed (recent.load checked it too)
                    remote = parse_remote(item.ref)
                except exitcodes.HwmonError:
                    continue
                if remote is None:
                    continue
                out.append(self._entry(f"ssh:{item.ref}", partial(RemoteTracker, remote, item.ssh_opts, self._clock)))
            elif item.kind == "file":
                out.append(self._entry(f"file:{item.ref}", partial(LogTracker, item.ref, self._clock, self._tick)))
        for key in [k for k, e in self._entries.items() if not e.seen]:
            entry = self._entries.pop(key)
            if isinstance(entry.tracker, RemoteTracker):
                entry.tracker.stop()
        return out

    def start_remote(self) -> None:
        """Start (or resume) following the remote logs; call from a running event loop."""
        for entry in self._entries.values():
            if isinstance(entry.tracker, RemoteTracker):
                entry.tracker.start()

    async def stop_remote(self, timeout: float = 5.0) -> None:
        """Stop the ssh followers (the states are kept; a later ``start_remote`` resumes at the byte offset),
        waiting ``timeout`` seconds at most for all of them together (a view quitting must not wait on ssh)."""
        trackers = [e.tracker for e in self._entries.values() if isinstance(e.tracker, RemoteTracker)]
        for tracker in trackers:
            tracker.stop()
        if trackers:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(t.wait_closed() for t in trackers)), timeout)

    # ---------------------------------------------------------------------------------------------- rows

    def rows(self) -> list[FleetRow]:
        """The table's rows, in listing order (supervised runs, Slurm jobs, recent attachments)."""
        with self._lock:
            return self._rows()

    def _rows(self) -> list[FleetRow]:
        now = self._clock()
        out: list[FleetRow] = []
        submitted = {r.slurm_job_id for r in self._runs if r.slurm_job_id}
        for index, record in enumerate(self._runs):
            entry = self._entries.get(f"run:{record.run_id}")
            state = entry.tracker.state if entry is not None and entry.tracker is not None else None
            status = record.status
            phase_override = None
            where = record.host if record.host and record.host != _HOST else "local"
            if record.slurm_job_id:
                info = slurm_state(record)
                where = f"job {record.slurm_job_id}"
                if status == "running" and str(info.get("state", "")) in PENDING_STATES:
                    status, phase_override = "queued", "queue"
            name = record.workload or (Path(record.command[0]).name if record.command else record.run_id)
            out.append(
                _row(
                    f"run:{record.run_id}",
                    "run",
                    name,
                    where,
                    record.device or "",
                    status,
                    state,
                    now,
                    ref=record.run_id,
                    stop_ref=record.run_id if status in ("running", "queued") else "",
                    phase=phase_override,
                    order=index,
                )
            )
        for index, job in enumerate(self._jobs):
            if job.job_id in submitted:
                continue
            entry = self._entries.get(f"slurm:{job.job_id}")
            state = entry.tracker.state if entry is not None and entry.tracker is not None else None
            status = "queued" if job.pending else ("running" if job.active else job.state.lower())
            out.append(
                _row(
                    f"slurm:{job.job_id}",
                    "slurm",
                    job.name or job.job_id,
                    f"job {job.job_id}",
                    "",
                    status,
                    state,
                    now,
                    ref=f"slurm:{job.job_id}",
                    stop_ref=f"slurm:{job.job_id}" if not job.final else "",
                    phase="queue" if job.pending else None,
                    order=1000 + index,
                )
            )
        for index, item in enumerate(self._recents):
            entry = self._entries.get(f"{item.kind}:{item.ref}")
            if entry is None or entry.tracker is None:
                continue
            state = entry.tracker.state
            if isinstance(entry.tracker, RemoteTracker):
                where = entry.tracker.ref.destination
                name = Path(entry.tracker.ref.path).name
                status = figures.display_status(state, self._clock())
                if entry.tracker.status.startswith(("reconnecting", "ssh ")):
                    status = "reconnecting" if entry.tracker.status.startswith("reconnecting") else "ssh error"
            else:
                where, name = "local", Path(item.ref).name
                status = figures.display_status(state, self._clock())
            out.append(
                _row(
                    f"{item.kind}:{item.ref}",
                    item.kind,
                    name,
                    where,
                    "",
                    status,
                    state,
                    now,
                    ref=item.ref,
                    ssh_opts=item.ssh_opts,
                    order=2000 + index,
                )
            )
        return out

    def state_of(self, key: str) -> RunState | None:
        """The tracked state behind a row (tests, the bench)."""
        entry = self._entries.get(key)
        return entry.tracker.state if entry is not None and entry.tracker is not None else None


def _row(
    key: str,
    kind: str,
    name: str,
    where: str,
    device: str,
    status: str,
    state: RunState | None,
    now: float,
    *,
    ref: str,
    ssh_opts: tuple[str, ...] = (),
    stop_ref: str = "",
    phase: str | None = None,
    order: float = 0.0,
) -> FleetRow:
    step = loss = rate = eta = target = None
    unit = ""
    alerts = 0
    shown_phase = phase or ""
    if state is not None:
        # The model's figures, as every view shows them.
        progress = figures.step_progress(state)
        if progress is not None:
            step, target = progress.step, progress.target
        _step, loss = figures.last_loss(state)
        now_rate = figures.current_rate(state)
        if now_rate is not None:
            rate, unit = now_rate.value, now_rate.unit
        if status in ("running", "stalled", "reconnecting"):
            eta = eta_seconds(state, now)
        if not shown_phase:
            current = state.current_phase
            shown_phase = current.name if current is not None else (state.phases[-1].name if state.phases else "")
        alerts = len(state.alerts)
        device = device or state.device or (state.vendor or "")
    return FleetRow(
        key=key,
        kind=kind,
        name=name,
        where=where,
        device=device,
        status=status,
        phase=shown_phase,
        step=step,
        target=target,
        loss=loss,
        rate=rate,
        rate_unit=unit,
        eta_s=eta,
        alerts=alerts,
        ref=ref,
        ssh_opts=ssh_opts,
        stop_ref=stop_ref,
        order=order,
    )
