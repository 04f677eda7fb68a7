"""What was told, on disk: a small SQLite file, so that a watch killed and restarted (or two watches sharing a
state directory) never tells an event twice.

``$XDG_STATE_HOME/hwmon/notify.sqlite`` by default (``HWMON_NOTIFY_STATE=PATH`` moves it). Rows:

- ``told(sink, run_key, key, state, pid, at)``: ``sending`` while a process tells it (the claim), ``sent`` once a
  sink took it. A claim of a process that died is taken over; a claim given up (the sink kept failing) is removed
  so a later watch tries again. ``sink`` is a digest of the sink's spec (a webhook URL may hold a token).
- ``runs(run_key, generation, first_seen)``: the runs a watch has seen. A run the ledger does not know, found when
  a watch starts, has its events so far recorded as ``baseline`` (sink ``*``) instead of told: starting
  ``watch --all`` for the first time does not replay every old run's end.

A ledger that cannot be opened or written (read-only directory, a damaged file) costs only the memory of restarts:
one warning, then an in-memory ledger.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["Ledger", "ledger_path", "sink_id"]

BASELINE_SINK = "*"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS told (
    sink TEXT NOT NULL, run_key TEXT NOT NULL, key TEXT NOT NULL,
    state TEXT NOT NULL, pid INTEGER NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (sink, run_key, key)
);
CREATE TABLE IF NOT EXISTS runs (
    run_key TEXT PRIMARY KEY, generation INTEGER NOT NULL DEFAULT 0, first_seen REAL NOT NULL
);
"""


def ledger_path() -> Path:
    """Where the ledger lives (``HWMON_NOTIFY_STATE``, else ``$XDG_STATE_HOME/hwmon/notify.sqlite``)."""
    explicit = os.environ.get("HWMON_NOTIFY_STATE")
    if explicit:
        return Path(explicit).expanduser()
    state_home = os.environ.get("XDG_STATE_HOME")
    base = Path(state_home).expanduser() if state_home else Path.home() / ".local" / "state"
    return base / "hwmon" / "notify.sqlite"


def sink_id(spec: str) -> str:
    """The ledger's name for a sink: a digest of its spec (never the spec itself, which may hold a token)."""
    return hashlib.sha256(spec.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Ledger:
    """The told-events ledger (see the module docstring). Thread-safe: the sinks' workers record from their
    threads."""

    def __init__(self, path: Path | None, *, warn: Callable[[str], None] | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._warn = warn
        self.note = ""
        self._closed = False
        self._conn = self._open(path)

    def _open(self, path: Path | None) -> sqlite3.Connection:
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(str(path), timeout=10.0, check_same_thread=False, isolation_level=None)
                conn.executescript(_SCHEMA)
                return conn
            except (OSError, sqlite3.Error) as exc:
                self.note = f"notification ledger {path} unusable ({exc}); a restart may repeat notifications"
                if self._warn is not None:
                    self._warn(self.note)
        conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        conn.executescript(_SCHEMA)
        return conn

    def _run(self, sql: str, args: tuple[object, ...] = ()) -> sqlite3.Cursor | None:
        with self._lock:
            if self._closed:
                return None
            try:
                return self._conn.execute(sql, args)
            except sqlite3.Error as exc:
                if self._warn is not None and not self.note:
                    self.note = f"notification ledger error ({exc})"
                    self._warn(self.note)
                return None

    def close(self) -> None:
        """Close the file; later calls do nothing (a sink's worker may outlive the watch by a moment)."""
        with self._lock:
            self._closed = True
            self._conn.close()

    # ------------------------------------------------------------------------------------------------ runs

    def run_generation(self, run_key: str) -> int | None:
        """The run's generation (how often its log started over) when the ledger knows the run, else None."""
        cur = self._run("SELECT generation FROM runs WHERE run_key = ?", (run_key,))
        row = cur.fetchone() if cur is not None else None
        return None if row is None else int(row[0])

    def add_run(self, run_key: str, generation: int = 0) -> None:
        """Remember the run (or its new generation)."""
        self._run(
            "INSERT INTO runs (run_key, generation, first_seen) VALUES (?, ?, ?) "
            "ON CONFLICT(run_key) DO UPDATE SET generation = excluded.generation",
            (run_key, generation, time.time()),
        )

    def baseline(self, run_key: str, key: str) -> None:
        """Record an event that happened before the watch saw the run: it is never told."""
        self._run(
            "INSERT OR IGNORE INTO told (sink, run_key, key, state, pid, at) VALUES (?, ?, ?, 'baseline', ?, ?)",
            (BASELINE_SINK, run_key, key, self._pid, time.time()),
        )

    # ------------------------------------------------------------------------------------------------ told

    def claim(self, sink: str, run_key: str, key: str) -> bool:
        """Take the right to tell ``key`` of ``run_key`` through ``sink``: False when it was told (or baselined,
        or another live process is telling it)."""
        with self._lock:
            if self._closed:
                return False
            try:
                conn = self._conn
                if conn.execute(
                    "SELECT 1 FROM told WHERE sink = ? AND run_key = ? AND key = ?", (BASELINE_SINK, run_key, key)
                ).fetchone():
                    return False
                cur = conn.execute(
                    "INSERT OR IGNORE INTO told (sink, run_key, key, state, pid, at) VALUES (?, ?, ?, 'sending', ?, ?)",
                    (sink, run_key, key, self._pid, time.time()),
                )
                if cur.rowcount == 1:
                    return True
                row = conn.execute(
                    "SELECT state, pid FROM told WHERE sink = ? AND run_key = ? AND key = ?", (sink, run_key, key)
                ).fetchone()
                if row is None or row[0] != "sending" or row[1] == self._pid or _alive(int(row[1])):
                    return False
                # A claim left by a process that died before the sink took the notice: tell it now.
                cur = conn.execute(
                    "UPDATE told SET pid = ?, at = ? WHERE sink = ? AND run_key = ? AND key = ? AND pid = ?",
                    (self._pid, time.time(), sink, run_key, key, row[1]),
                )
                return cur.rowcount == 1
            except sqlite3.Error as exc:
                if self._warn is not None and not self.note:
                    self.note = f"notification ledger error ({exc})"
                    self._warn(self.note)
                return True

    def sent(self, sink: str, run_key: str, key: str) -> None:
        """The sink took it."""
        self._run(
            "UPDATE told SET state = 'sent', at = ? WHERE sink = ? AND run_key = ? AND key = ?",
            (time.time(), sink, run_key, key),
        )

    def release(self, sink: str, run_key: str, key: str) -> None:
        """Telling it was given up: a later watch may try again."""
        self._run(
            "DELETE FROM told WHERE sink = ? AND run_key = ? AND key = ? AND state = 'sending'", (sink, run_key, key)
        )

    def told(self, sink: str | None = None) -> list[tuple[str, str, str, str]]:
        """(sink, run_key, key, state) rows, for tests and ``watch --list-told``."""
        if sink is None:
            cur = self._run("SELECT sink, run_key, key, state FROM told ORDER BY at")
        else:
            cur = self._run("SELECT sink, run_key, key, state FROM told WHERE sink = ? ORDER BY at", (sink,))
        return [tuple(r) for r in cur.fetchall()] if cur is not None else []
