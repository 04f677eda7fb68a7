"""Telling: one worker thread per sink, so a slow or failing sink never holds up the watch or another sink.

``Notifier.submit`` (the watch's thread) filters by ``--on``, claims each (sink, run, event) in the ledger — an
event already told is dropped here — and queues it for the sink's worker. A worker sends what is queued as soon as
its rate limit allows (a token bucket: ``burst`` at once, then ``per_minute``); notices held back by the limit go
out together as one message. A failed delivery is logged and retried with exponential backoff (``retry_base`` up
to ``retry_max`` seconds, ``attempts`` times); then it is given up (logged; its claim released, so a later watch
tries again). Nothing a sink does raises into the watch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hwmon.model.text import safe_text
from hwmon.notify.ledger import Ledger, sink_id
from hwmon.notify.notice import Notice, wanted
from hwmon.notify.sinks import Sink

__all__ = ["Delivery", "Notifier"]

DEFAULT_PER_MINUTE = 10.0
DEFAULT_BURST = 5


@dataclass(frozen=True, slots=True)
class Delivery:
    """A notice a sink took: which sink, and how long after the event was seen (seconds, the watch's clock)."""

    sink: str
    notice: Notice
    latency_s: float | None


class _Bucket:
    def __init__(self, per_minute: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate = max(per_minute, 0.001) / 60.0
        self.capacity = float(max(1, burst))
        self.tokens = self.capacity
        self._clock = clock
        self._at = clock()

    def _fill(self) -> None:
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._at) * self.rate)
        self._at = now

    def wait_s(self) -> float:
        """Seconds until a token is there (0: now)."""
        self._fill()
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        self._fill()
        self.tokens -= 1.0


class _Worker:
    def __init__(self, notifier: Notifier, sink: Sink) -> None:
        self.notifier = notifier
        self.sink = sink
        self.id = sink_id(sink.spec)
        self._queue: list[Notice] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._busy = False
        self._bucket = _Bucket(notifier.per_minute, notifier.burst, time.monotonic)
        self.thread = threading.Thread(target=self._loop, name=f"hwmon-notify-{sink.label}", daemon=True)

    def put(self, notice: Notice) -> None:
        with self._cond:
            self._queue.append(notice)
            self._cond.notify()

    def idle(self) -> bool:
        with self._cond:
            return not self._queue and not self._busy

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()

    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` unless stopping; True when stopping."""
        with self._cond:
            if not self._stopping and seconds > 0:
                self._cond.wait(seconds)
            return self._stopping

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue and self._stopping:
                    return
                self._busy = True
            # A new notice wakes the worker early: wait on until a token is really there.
            while (wait := self._bucket.wait_s()) > 0:
                if self._wait(wait):
                    self._give_up_all("the watch stopped while the rate limit held it back")
                    return
            with self._cond:
                # Within the limit each notice is its own message; a burst beyond it goes out as one.
                if len(self._queue) <= int(self._bucket.tokens):
                    batch = [self._queue.pop(0)]
                else:
                    batch, self._queue = self._queue, []
            self._bucket.take()
            self._deliver(batch)
            with self._cond:
                self._busy = False
                if self._stopping and not self._queue:
                    return

    def _deliver(self, batch: list[Notice]) -> None:
        n = self.notifier
        attempt = 0
        delay = n.retry_base
        last_try = False
        while True:
            attempt += 1
            try:
                self.sink.send(batch)
            except Exception as exc:  # noqa: BLE001 - a sink's failure is reported, never raised into the watch
                reason = safe_text(exc, 300) or type(exc).__name__
                if attempt >= n.attempts or last_try:
                    n.count(self.sink.label, ok=False)
                    n.log(f"{self.sink.label}: gave up after {attempt} attempts ({reason})")
                    for notice in batch:
                        n.ledger.release(self.id, notice.run_key, notice.key)
                    return
                n.count(self.sink.label, ok=False)
                n.log(f"{self.sink.label}: failed ({reason}); retry {attempt + 1} in {delay:.0f} s")
                # Stopping during the backoff: one last try now rather than losing it.
                last_try = self._wait(delay)
                delay = min(n.retry_max, delay * 2)
                # Notices that arrived meanwhile go out with this retry.
                with self._cond:
                    batch.extend(self._queue)
                    self._queue = []
                continue
            now = n.clock()
            for notice in batch:
                n.ledger.sent(self.id, notice.run_key, notice.key)
                latency = None if notice.seen_at is None else max(0.0, now - notice.seen_at)
                delivery = Delivery(self.sink.label, notice, latency)
                n.delivered(delivery)
            return

    def _give_up_all(self, reason: str) -> None:
        with self._cond:
            batch, self._queue = self._queue, []
            self._busy = False
        for notice in batch:
            self.notifier.ledger.release(self.id, notice.run_key, notice.key)
        if batch:
            self.notifier.log(f"{self.sink.label}: {len(batch)} not sent ({reason})")


class Notifier:
    """The sinks of a watch or a dashboard (see the module docstring). ``log`` receives one line per delivery,
    failure and give-up (thread-safe is the caller's concern: ``hwmon watch`` prints under a lock);
    ``on_delivery`` is called (in the sink's thread) for each notice a sink took."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        ledger: Ledger,
        *,
        on: frozenset[str] | None = None,
        per_minute: float = DEFAULT_PER_MINUTE,
        burst: int = DEFAULT_BURST,
        retry_base: float = 2.0,
        retry_max: float = 120.0,
        attempts: int = 8,
        log: Callable[[str], None] = lambda line: None,
        on_delivery: Callable[[Delivery], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ledger = ledger
        self.on = on
        self.per_minute = per_minute
        self.burst = burst
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.attempts = max(1, attempts)
        self.log = log
        self.clock = clock
        self._on_delivery = on_delivery
        self.deliveries: list[Delivery] = []
        # sink label -> [delivered, failed attempts], for /metrics.
        self._counts: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self._workers = [_Worker(self, sink) for sink in sinks]
        for worker in self._workers:
            worker.thread.start()

    @property
    def sinks(self) -> list[Sink]:
        return [w.sink for w in self._workers]

    def wants(self, event: str) -> bool:
        """Whether ``--on`` tells ``event``."""
        return wanted(self.on, event)

    def submit(self, notice: Notice) -> int:
        """Queue ``notice`` for every sink that has not told it yet; the number of sinks it was queued for."""
        if not self.wants(notice.event):
            return 0
        queued = 0
        for worker in self._workers:
            if self.ledger.claim(worker.id, notice.run_key, notice.key):
                worker.put(notice)
                queued += 1
        return queued

    def count(self, sink: str, *, ok: bool) -> None:
        with self._lock:
            counts = self._counts.setdefault(sink, [0, 0])
            counts[0 if ok else 1] += 1

    def counters(self) -> dict[str, tuple[int, int]]:
        """sink label -> (notices delivered, failed attempts)."""
        with self._lock:
            counts = {w.sink.label: (0, 0) for w in self._workers}
            counts.update({k: (v[0], v[1]) for k, v in self._counts.items()})
            return counts

    def delivered(self, delivery: Delivery) -> None:
        self.count(delivery.sink, ok=True)
        with self._lock:
            self.deliveries.append(delivery)
            if len(self.deliveries) > 1000:
                del self.deliveries[:500]
        latency = "" if delivery.latency_s is None else f" ({delivery.latency_s:.1f} s after the event)"
        self.log(f"{delivery.sink}: told {delivery.notice.event} of {delivery.notice.name}{latency}")
        if self._on_delivery is not None:
            self._on_delivery(delivery)

    def idle(self) -> bool:
        """Nothing queued or being sent."""
        return all(worker.idle() for worker in self._workers)

    def close(self, grace_s: float = 5.0) -> None:
        """Let the workers send what is queued (up to ``grace_s``), then stop them."""
        deadline = time.monotonic() + grace_s
        while not self.idle() and time.monotonic() < deadline:
            time.sleep(0.02)
        for worker in self._workers:
            worker.stop()
        for worker in self._workers:
            worker.thread.join(max(0.1, deadline - time.monotonic()))
