"""Blocking calls to external programs (``squeue``, ``scontrol``, ``sacct``, ``gc-monitor``, NVML) kept off the
event loop that draws the screen, in **daemon** threads.

Why not ``asyncio.to_thread`` or a Textual thread worker: both run on the event loop's default executor, and
``asyncio.run`` waits for that executor's threads when it ends, so a ``squeue`` that hangs on an unreachable
controller holds ``q`` until its own timeout (20 s and more). A daemon thread is never waited for: the program
quits at once, and ``reap_children`` ends the external commands still running then, so none is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")

# The external commands a view may still be waiting for when it quits (ended by ``reap_children``).
EXTERNAL_COMMANDS = frozenset({"squeue", "scontrol", "sacct", "sbatch", "scancel", "gc-monitor", "nvidia-smi"})


async def call_off_loop(fn: Callable[[], T], *, name: str = "hwmon-call") -> T:
    """``fn()`` in a daemon thread, awaited without blocking the loop (a cancelled await leaves the thread to end
    on its own; nothing waits for it)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(setter: Callable[[], None]) -> None:
        if not future.done():
            setter()

    def run() -> None:
        try:
            result = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task as it is
            error = exc
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting any more
                loop.call_soon_threadsafe(deliver, lambda: future.set_exception(error))
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, lambda: future.set_result(result))

    threading.Thread(target=run, name=name, daemon=True).start()
    return await future


class Poller(Generic[T]):
    """Calls ``fn`` every ``every`` seconds in a daemon thread and keeps its last result, so a reader (the event
    loop, a follower's ``end_when``) never waits on the call. ``note`` says what is wrong when the call failed or
    has not answered for ``slow_s`` seconds ("squeue did not answer for 12s"); "" when all is well."""

    def __init__(
        self,
        fn: Callable[[], T],
        every: float,
        *,
        what: str = "the call",
        slow_s: float = 3.0,
        on_result: Callable[[], object] | None = None,
    ) -> None:
        self._fn = fn
        self.every = every
        self.what = what
        self.slow_s = slow_s
        self._on_result = on_result
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._latest: T | None = None
        self._has_result = False
        self._error = ""
        self._busy_since: float | None = None
        self.calls = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start calling (once; later calls do nothing)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=f"hwmon-poll {self.what}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop calling (a call under way is left to end on its own; nothing waits for it)."""
        self._stop.set()
        self._wake.set()

    def poke(self) -> None:
        """Call again now rather than at the next interval."""
        self._wake.set()

    @property
    def has_result(self) -> bool:
        """Whether a call has returned yet."""
        return self._has_result

    @property
    def latest(self) -> T | None:
        """The last result (None before the first one)."""
        with self._lock:
            return self._latest

    @property
    def note(self) -> str:
        """Why the figures may be stale: a failure, or a call that has not answered for ``slow_s``."""
        with self._lock:
            busy, error = self._busy_since, self._error
        if busy is not None and time.monotonic() - busy >= self.slow_s:
            return f"{self.what} has not answered for {time.monotonic() - busy:.0f}s"
        return error

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                self._busy_since = time.monotonic()
            self.calls += 1
            try:
                result = self._fn()
            except Exception as exc:  # noqa: BLE001 - shown as the note; the last good result stays
                with self._lock:
                    self._error = str(exc) or type(exc).__name__
                    self._busy_since = None
            else:
                with self._lock:
                    self._latest, self._has_result, self._error = result, True, ""
                    self._busy_since = None
            if self._stop.is_set():
                return
            if self._on_result is not None:
                with contextlib.suppress(Exception):
                    self._on_result()
            self._wake.wait(self.every)
            self._wake.clear()


def reap_children(names: Iterable[str] = EXTERNAL_COMMANDS) -> list[int]:
    """End this process's own child processes running one of ``names`` (external commands a view was still
    waiting for when it quit): SIGTERM, then SIGKILL after 0.2 s. Returns their pids. Only direct children of this
    process are touched, by pid."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a dependency
        return []
    wanted = set(names)
    try:
        children = psutil.Process(os.getpid()).children()
    except psutil.Error:
        return []
    ended: list[psutil.Process] = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            if child.name() in wanted or os.path.basename((child.cmdline() or [""])[0]) in wanted:
                child.terminate()
                ended.append(child)
    if ended:
        _gone, alive = psutil.wait_procs(ended, timeout=0.2)
        for child in alive:
            with contextlib.suppress(psutil.Error):
                child.kill()
        # Wait for them too, so none is left a zombie for an init that may not reap it (a container's PID 1).
        psutil.wait_procs(alive, timeout=0.2)
    return [child.pid for child in ended]
