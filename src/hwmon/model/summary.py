"""The ``hwmon.summary/1`` contract: a JSON-ready dict derived from a ``RunState``.

Keys may be added in later versions, never removed or renamed (see issue 2). Pure: reading and parsing a log belongs to
``hwmon.sources.read`` (``summarize_bytes``, ``summarize_chunks``).
"""

from __future__ import annotations

import math
from datetime import datetime

from hwmon.events import Event
from hwmon.model import figures
from hwmon.model.distributed import summary_keys
from hwmon.model.figures import log_error_count, log_errors, phase_durations
from hwmon.model.reducer import apply
from hwmon.model.state import Phase, RunState

__all__ = [
    "SCHEMA",
    "phase_seconds",
    "summarize_events",
    "summary_dict",
    "wall_seconds",
]

SCHEMA = "hwmon.summary/1"


def _num(value: float | None) -> float | None:
    """JSON has no NaN/Infinity: a non-finite number is reported as null."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def phase_seconds(state: RunState, phase: Phase) -> float | None:
    """A phase's duration as the summary reports it (``hwmon.model.figures.phase_durations``, no clock)."""
    for candidate, seconds in zip(state.phases, phase_durations(state, None), strict=True):
        if candidate is phase:
            return _num(seconds)
    return None


def wall_seconds(state: RunState) -> float | None:
    """Wall time of the run as the summary reports it (``hwmon.model.figures.wall_seconds``, no clock)."""
    return _num(figures.wall_seconds(state, None))


def summary_dict(state: RunState) -> dict[str, object]:
    """The ``hwmon.summary/1`` dict for ``state`` (JSON-serialisable, no NaN)."""
    steps = state.steps
    loss = state.loss
    train: dict[str, object] = {
        "steps": None
        if steps.count == 0 or steps.first is None or steps.last is None
        else {"first": int(steps.first[0]), "last": int(steps.last[0]), "count": steps.count},
        "loss": None
        if loss.count == 0 or loss.first is None or loss.last is None
        else {
            "first": _num(loss.first[1]),
            "last": _num(loss.last[1]),
            "min": _num(loss.min),
            "max": _num(loss.max),
            "count": loss.count,
            "nonfinite": loss.nonfinite,
        },
        "rate": None
        if state.rate.last is None and state.global_rate is None
        else {
            "last": None if state.rate.last is None else _num(state.rate.last[1]),
            "global": _num(state.global_rate),
            "unit": state.rate_unit,
        },
        "samples": state.samples,
        "seconds": _num(state.seconds),
    }
    eval_steps = state.eval_loss
    durations = phase_durations(state, None)
    out: dict[str, object] = {
        "schema": SCHEMA,
        "source": state.source,
        "vendor": state.vendor,
        "device": state.device,
        "status": figures.display_status(state, None),
        "job_ids": list(state.job_ids),
        "phases": [
            {
                "name": p.name,
                "start": _iso(p.start),
                "end": _iso(p.end),
                "seconds": _num(seconds),
                "detail": p.detail,
                "repeats": p.repeats,
            }
            for p, seconds in zip(state.phases, durations, strict=True)
        ],
        "wall_seconds": wall_seconds(state),
        "train": train,
        "eval_steps": None
        if eval_steps.count == 0 or eval_steps.last is None
        else {"count": eval_steps.count, "last_loss": _num(eval_steps.last[1])},
        "progress": [
            {
                "name": bar.name,
                "n": bar.n,
                "total": bar.total,
                "elapsed_s": _num(bar.elapsed_s),
                "rate": _num(bar.rate),
                "unit": bar.unit,
            }
            for bar in sorted(state.progress.values(), key=lambda b: b.line)
        ],
        # Every named bar up to MAX_PROGRESS_BARS; how many were dropped beyond that (0: none).
        "progress_dropped": state.progress_dropped,
        "checkpoints": [{"step": c.step, "path": c.path} for c in state.checkpoints],
        "eval": {name: v for name, value in state.eval.items() if (v := _num(value)) is not None},
        "model": None if state.model is None else {"name": state.model.type, "modules": state.model.count()},
        # Every run's in the file (the other figures are the last run's): ``figures.log_errors``.
        "errors": log_errors(state),
        "error_count": log_error_count(state),
        "earlier_error_count": state.earlier_error_count,  # (added) of error_count, the earlier runs' errors
        "warnings": state.warnings,
        "alerts": [{"kind": a.kind, "message": a.message, "line": a.line} for a in state.alerts],
        "runs": state.runs,
        "lines": state.lines,
        # h17a (issue 17): per figure path above, the line and the rule that set it.
        "provenance": state.provenance.as_json(),
    }
    # Issue 21: ranks, the run's error (the first failing rank's), end reason, cause, requeues, time limit.
    out.update(summary_keys(state))
    return out


def summarize_events(events: list[Event], source: str) -> RunState:
    """A whole-input ``RunState`` from events already parsed (no clock: this is not a live view)."""
    state = RunState(source=source)
    for event in events:
        apply(state, event, None)
    return state
