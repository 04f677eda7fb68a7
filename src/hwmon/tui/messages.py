"""App-wide messages: what the source worker posts to the app. The worker never touches widgets."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class BatchArrived(Message):
    """A batch from the source (events, raw lines, a follower status, end of input). Not replaceable: every
    batch carries events the reducer must see."""

    def __init__(self, batch: Any) -> None:
        # The batch is a ``hwmon.sources.source.Batch`` (typed structurally as ``tui.app.BatchLike``).
        super().__init__()
        self.batch = batch


class SourceFailed(Message):
    """The source raised: the app shows the error and keeps the state it has (the run may still be readable)."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class SourceEnded(Message):
    """The source's iterator finished (end of a file replay, stdin closed)."""


class SystemSampled(Message):
    """The latest reading of the system pane's sampler (a ``hwmon.sources.system.SystemSample``). Only the newest
    matters, so a queued one is replaced by the next."""

    def __init__(self, sample: Any) -> None:
        super().__init__()
        self.sample = sample

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SystemSampled)
