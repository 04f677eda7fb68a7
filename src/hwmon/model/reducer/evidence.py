"""What the parsers' evidence decides, here and nowhere else: the run's vendor and device, and whether a guessed
step after the log's own end line counts.

- Vendor: every ``VendorDetected`` is evidence; the first one decides, a more specific one replaces a weaker one
  (cpu < gpu = tpu < cerebras = graphcore: a Cerebras or Graphcore stack also prints "Using device: cpu" or CUDA
  words), and a device name fills in a missing one for the vendor decided. Vendor and device are the stack's, not
  one run's: they are kept when the log starts a new run (``reset_run``), so a two-run log says the same live as
  headless, however it is chunked.
- A guessed step (read by the generic parser or a learned reader, not a format's own rule) after the log's own
  successful end line is output printed after the run (a summary, a stray "loss"), not a training step: it does not
  change the run's training figures, until a new run starts (``RunStarted``).
"""

from __future__ import annotations

from hwmon.events import Event, StepMetrics, Vendor, VendorDetected
from hwmon.model.reducer.handler import Handler
from hwmon.model.state import RunState

__all__ = ["GUESSED_RULES", "HANDLERS", "VENDOR_RANK", "after_the_end"]

VENDOR_RANK: dict[Vendor, int] = {"cpu": 0, "gpu": 1, "tpu": 1, "cerebras": 2, "graphcore": 2}
"""How specific a vendor's evidence is: a higher rank replaces a lower one; at the same rank the first stays."""

GUESSED_RULES: tuple[str, ...] = ("generic:", "template:", "structured:", "table:")
"""Provenance prefixes of steps read without a format's rule (``Event.rule``): the generic parser's and the learned
readers' (templates, structured lines, column tables); a user format's rules (``format:``) are not guesses."""


def decide_vendor(state: RunState, vendor: Vendor, device: str | None) -> bool:
    """Fold one piece of vendor evidence into ``state``; True when it changed the vendor or device."""
    current = state.vendor
    if current is None or VENDOR_RANK.get(vendor, 0) > VENDOR_RANK.get(current, 0):
        state.vendor = vendor
        state.device = device
        return True
    if vendor == current and device and state.device is None:
        state.device = device
        return True
    return False


def _vendor(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, VendorDetected)
    decide_vendor(state, event.vendor, event.device)


def after_the_end(state: RunState, step: StepMetrics) -> bool:
    """Whether ``step`` is a guessed step (training or eval) after the log's own end line (see the module doc)."""
    return state.ended_by_log and step.rule.startswith(GUESSED_RULES)


HANDLERS: dict[type[Event], Handler] = {VendorDetected: _vendor}
