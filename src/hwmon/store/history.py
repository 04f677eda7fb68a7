"""The run history: a local SQLite database of every run hwmon summarised or watched to its end (one row per run,
one per phase). What a row holds and what is expected of a new run are decided by the pure
``hwmon.model.history``; this module only stores and loads.

``$HWMON_HISTORY`` names the database file (``off`` disables the history), else
``$XDG_STATE_HOME/hwmon/history.sqlite``, else ``~/.local/state/hwmon/history.sqlite``.

Robustness: WAL journal and a busy timeout, every write one short ``BEGIN IMMEDIATE`` transaction, so two
dashboards recording at once queue instead of failing or corrupting the file; the schema is versioned
(``PRAGMA user_version``) and migrated forward inside such a transaction. A database that is corrupt, truncated,
locked past the timeout or of a newer schema degrades to "no history": reads give nothing, writes are skipped, and
one warning is printed per process — the command itself goes on.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hwmon.model.history import Expected, PastRun, RunEntry
from hwmon.model.state import RunState

__all__ = [
    "SCHEMA_VERSION",
    "History",
    "HistoryRow",
    "expectations",
    "history_path",
    "open_history",
    "remember",
    "worth_recording",
]

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 5000
RECENT_RUNS = 500
"""Expectations look at this many most recent runs (the history itself keeps everything)."""

_MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1
    """
    CREATE TABLE IF NOT EXISTS runs (
        id INTEGER PRIMARY KEY,
        fingerprint TEXT NOT NULL UNIQUE,
        key_kind TEXT NOT NULL,
        job_key TEXT NOT NULL,
        source TEXT NOT NULL,
        vendor TEXT,
        device TEXT,
        status TEXT NOT NULL,
        command TEXT,
        model TEXT,
        started TEXT,
        ended TEXT,
        wall_s REAL,
        first_step_s REAL,
        steps INTEGER NOT NULL DEFAULT 0,
        last_step INTEGER,
        final_loss REAL,
        min_loss REAL,
        rate REAL,
        rate_unit TEXT,
        recorded TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS runs_job_key ON runs(job_key);
    CREATE TABLE IF NOT EXISTS phases (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        name TEXT NOT NULL,
        seconds REAL,
        detail TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (run_id, idx)
    );
    """,
)
assert len(_MIGRATIONS) == SCHEMA_VERSION

_warned = False


def _warn_once(message: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        print(f"hwmon: warning: {message}; going on without run history", file=sys.stderr)


def history_path() -> Path | None:
    """The database file, or None when ``HWMON_HISTORY=off``."""
    explicit = os.environ.get("HWMON_HISTORY")
    if explicit:
        if explicit.lower() in ("off", "0", "no", "none"):
            return None
        return Path(explicit).expanduser()
    state_home = os.environ.get("XDG_STATE_HOME")
    base = Path(state_home).expanduser() if state_home else Path.home() / ".local" / "state"
    return base / "hwmon" / "history.sqlite"


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """A recorded run as ``hwmon history`` lists it."""

    id: int
    recorded: str
    key_kind: str
    job_key: str
    source: str
    vendor: str | None
    status: str
    started: str | None
    wall_s: float | None
    first_step_s: float | None
    steps: int
    final_loss: float | None
    phases: tuple[tuple[str, float | None], ...]

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "recorded": self.recorded,
            "key_kind": self.key_kind,
            "job_key": self.job_key,
            "source": self.source,
            "vendor": self.vendor,
            "status": self.status,
            "started": self.started,
            "wall_seconds": self.wall_s,
            "first_step_seconds": self.first_step_s,
            "steps": self.steps,
            "final_loss": self.final_loss,
            "phases": [{"name": n, "seconds": s} for n, s in self.phases],
        }


class History:
    """One open history database. Every method degrades to "nothing" (and one warning) on a database error."""

    def __init__(self, path: Path, warn: Callable[[str], None] = _warn_once) -> None:
        self.path = path
        self._warn = warn
        self._conn: sqlite3.Connection | None = None
        self.broken = False

    # ------------------------------------------------------------------ connection

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is not None or self.broken:
            return self._conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            self._fail(exc)
            return None
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            # Switching a new file to WAL takes an exclusive lock and SQLite answers "locked" at once, without the
            # busy handler, while another process does the same: retry for as long as the busy timeout allows.
            _retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
            self._migrate(conn)
        except sqlite3.Error as exc:
            conn.close()
            self._fail(exc)
            return None
        self._conn = conn
        return conn

    def _fail(self, exc: BaseException) -> None:
        self.broken = True
        reason = " ".join(str(exc).split()) or type(exc).__name__
        self._warn(f"run history {self.path} unusable ({reason})")
        return None

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"schema version {version} is newer than this hwmon's {SCHEMA_VERSION}")
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated between our read and our lock: read again under the lock.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for number in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[number].split(";"):
                    if statement.strip():
                        conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection | None]:
        conn = self._connect()
        if conn is None:
            yield None
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ------------------------------------------------------------------ writes

    def record(self, entry: RunEntry, now: datetime | None = None) -> bool:
        """Record (or update: same fingerprint) one run and its phases. False when the history is unusable."""
        recorded = (now or datetime.now().astimezone()).isoformat(timespec="seconds")
        try:
            with self._write() as conn:
                if conn is None:
                    return False
                # Plain SELECT/UPDATE/INSERT under the write lock rather than an upsert with RETURNING: those need
                # SQLite 3.35, older than what the clusters' system Pythons link against.
                values = (
                    entry.key_kind,
                    entry.job_key,
                    entry.source,
                    entry.vendor,
                    entry.device,
                    entry.status,
                    entry.command,
                    entry.model,
                    entry.started,
                    entry.ended,
                    entry.wall_s,
                    entry.first_step_s,
                    entry.steps,
                    entry.last_step,
                    entry.final_loss,
                    entry.min_loss,
                    entry.rate,
                    entry.rate_unit,
                    recorded,
                )
                found = conn.execute("SELECT id FROM runs WHERE fingerprint = ?", (entry.fingerprint,)).fetchone()
                if found is not None:
                    run_id = int(found[0])
                    conn.execute(
                        "UPDATE runs SET key_kind = ?, job_key = ?, source = ?, vendor = ?, device = ?, status = ?, "
                        "command = ?, model = ?, started = ?, ended = ?, wall_s = ?, first_step_s = ?, steps = ?, "
                        "last_step = ?, final_loss = ?, min_loss = ?, rate = ?, rate_unit = ?, recorded = ? "
                        "WHERE id = ?",
                        (*values, run_id),
                    )
                else:
                    cursor = conn.execute(
                        "INSERT INTO runs (key_kind, job_key, source, vendor, device, status, command, model, started, "
                        "ended, wall_s, first_step_s, steps, last_step, final_loss, min_loss, rate, rate_unit, "
                        "recorded, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (*values, entry.fingerprint),
                    )
                    run_id = int(cursor.lastrowid or 0)
                conn.execute("DELETE FROM phases WHERE run_id = ?", (run_id,))
                conn.executemany(
                    "INSERT INTO phases (run_id, idx, name, seconds, detail) VALUES (?, ?, ?, ?, ?)",
                    [(run_id, i, name, seconds, detail) for i, (name, seconds, detail) in enumerate(entry.phases)],
                )
            return True
        except sqlite3.Error as exc:
            self._fail(exc)
            return False

    # ------------------------------------------------------------------ reads

    def _read(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        conn = self._connect()
        if conn is None:
            return []
        try:
            return list(conn.execute(sql, args).fetchall())
        except sqlite3.Error as exc:
            self._fail(exc)
            return []

    def _phases(self, ids: list[int]) -> dict[int, list[tuple[str, float | None]]]:
        out: dict[int, list[tuple[str, float | None]]] = {i: [] for i in ids}
        if not ids:
            return out
        marks = ",".join("?" * len(ids))
        for run_id, name, seconds in self._read(
            f"SELECT run_id, name, seconds FROM phases WHERE run_id IN ({marks}) ORDER BY run_id, idx", tuple(ids)
        ):
            if isinstance(run_id, int) and run_id in out:
                out[run_id].append((str(name), _float(seconds)))
        return out

    def runs(self, limit: int = 100) -> list[HistoryRow]:
        """The most recently recorded runs, newest first."""
        rows = self._read(
            "SELECT id, recorded, key_kind, job_key, source, vendor, status, started, wall_s, first_step_s, steps, "
            "final_loss FROM runs ORDER BY COALESCE(started, recorded) DESC, id DESC LIMIT ?",
            (_limit(limit),),
        )
        phases = self._phases([int(r[0]) for r in rows])
        out = []
        for r in rows:
            run_id = int(r[0])
            out.append(
                HistoryRow(
                    run_id,
                    str(r[1]),
                    str(r[2]),
                    str(r[3]),
                    str(r[4]),
                    None if r[5] is None else str(r[5]),
                    str(r[6]),
                    None if r[7] is None else str(r[7]),
                    _float(r[8]),
                    _float(r[9]),
                    _int(r[10]),
                    _float(r[11]),
                    tuple(phases.get(run_id, [])),
                )
            )
        return out

    def past_runs(self, exclude_fingerprint: str | None = None, limit: int = RECENT_RUNS) -> list[PastRun]:
        """Recent runs with their per-phase totals (newest first), for ``expected_phases``."""
        from hwmon.model.history import phase_totals

        rows = self._read(
            "SELECT id, job_key, vendor, wall_s, fingerprint, status FROM runs ORDER BY recorded DESC, id DESC LIMIT ?",
            (_limit(limit),),
        )
        rows = [r for r in rows if exclude_fingerprint is None or r[4] != exclude_fingerprint]
        phases = self._phases([int(r[0]) for r in rows])
        return [
            PastRun(
                job_key=str(r[1]),
                vendor=None if r[2] is None else str(r[2]),
                phases=phase_totals(phases.get(int(r[0]), [])),
                wall_s=_float(r[3]),
                status=str(r[5]),
            )
            for r in rows
        ]


def _retry_locked(action: Callable[[], object]) -> object:
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(0.1, delay * 2)


def _float(value: Any) -> float | None:
    """A stored number, or None: the file is data (SQLite keeps any type in any column), never a crash."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _int(value: Any) -> int:
    number = _float(value)
    return int(number) if number is not None and abs(number) < 2**63 else 0


# SQLite integers are 64-bit: a larger LIMIT (``history -n 99999999999999999999``) is all rows anyway.
MAX_LIMIT = 2**62


def _limit(value: int) -> int:
    return max(1, min(int(value), MAX_LIMIT))


def open_history(path: Path | None = None) -> History | None:
    """The history at ``path`` (default: ``history_path()``), or None when it is turned off."""
    target = path if path is not None else history_path()
    return None if target is None else History(target)


def expectations(state: RunState, history: History | None, command: str | None = None) -> dict[str, Expected]:
    """Expected phase durations for the run in ``state`` from the runs recorded before it (itself excluded)."""
    from hwmon.model.history import expected_phases, job_key, run_entry

    if history is None:
        return {}
    own = run_entry(state, state.source, command).fingerprint
    _, key = job_key(state, command)
    return expected_phases(key, state.vendor, history.past_runs(exclude_fingerprint=own))


def worth_recording(state: RunState) -> bool:
    """A run is recorded when the log showed one: a phase or a step (not an empty or unrelated file)."""
    return bool(state.phases) or state.steps.count > 0


def remember(state: RunState, source: str, command: str | None = None, *, finished: bool = True) -> dict[str, Expected]:
    """What ``summary`` and the end of a watch do: the run's expectations from past runs, then the run itself
    recorded. A run not ``finished`` (still going: its supervisor says so, or its log was written to lately) is
    recorded as ``running`` — its ended phases teach, and a later read of the same run updates its one row — never
    as a finished run. Never raises for the history's sake; returns {} when the history is off or unusable."""
    from hwmon.model.history import run_entry

    history = open_history()
    if history is None:
        return {}
    try:
        expected = expectations(state, history, command)
        if worth_recording(state):
            entry = run_entry(state, source, command)
            if not finished and entry.status not in ("succeeded", "failed", "stopped"):
                entry = dataclasses.replace(entry, status="running")
            history.record(entry)
        return expected
    finally:
        history.close()


def record_if_ended(state: RunState, source: str, status: str | None = None) -> None:
    """The end of a watch (dashboard or plain mode): record the run when it ended (``status``, the supervisor's
    record when there is one, else the model's). A history problem never breaks the watch."""
    final = status or state.status
    if final not in ("succeeded", "failed", "stopped", "lost"):
        return
    try:
        remember(state, source)
    except Exception:  # noqa: BLE001 - the history is a convenience; leaving the dashboard must not fail on it
        return
