"""Pure parsing: bytes -> lines -> events. ``StreamParser`` (in ``stream``) is the entry point."""

from __future__ import annotations

from collections.abc import Iterator

from hwmon.events import Event, StepBatch, StepMetrics

__all__ = ["expand_steps"]


def expand_steps(event: Event) -> Iterator[StepMetrics]:
    """Every step report an event stands for, at full resolution: a ``StepMetrics`` itself, each line of a
    ``StepBatch`` (the bulk fast path's block of step lines), nothing for any other event."""
    if isinstance(event, StepMetrics):
        yield event
    elif isinstance(event, StepBatch):
        if not event.raw:
            yield from event.samples
            return
        from hwmon.parsers.cerebras_fast import expand_batch

        yield from expand_batch(event)
