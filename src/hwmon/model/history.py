"""What the run history records of a run and what it expects of a new one. Pure: ``hwmon.store.history`` stores
and loads; this module decides the key, the figures and the expectations.

"The same job" is, in order: the Cerebras compile hash (``cs_...``: the same compiled program), the PopTorch
executable cache key when the log prints one, else the command line (with its working directory when known, and
the model's name), else the log file's absolute path. A log that says none of these has no job key
(``("none", "")``): it is recorded, but nothing is expected of it and it teaches nothing to other runs — a model
name alone ("TrainingModelWithLoss") would make CPU, GPU and PopTorch runs "the same job". Expected durations of a
new run's phases come from past runs: the queue from the median of recent runs on the same vendor (a queue depends
on the cluster, not on the job); every other phase (compile, setup/programming, train, checkpoint, eval) from the
median of past runs of the same job on the same vendor, so no run is promised a phase its vendor does not have.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hwmon.events import PHASE_NAMES
from hwmon.model.figures import display_status, phase_durations
from hwmon.model.state import RunState
from hwmon.model.summary import wall_seconds

__all__ = [
    "CACHE_KEY_INFO",
    "Expected",
    "PastRun",
    "RunEntry",
    "expected_phases",
    "expected_remaining",
    "job_key",
    "run_entry",
    "time_to_first_step",
]

CACHE_KEY_INFO = ("executable_cache_key", "poptorch_cache_key")
"""``Info`` keys under which a parser reports a PopTorch executable cache key (when the log prints one)."""

QUEUE_RECENT = 20
"""The queue's expectation is the median of this many most recent runs on the same vendor."""


NO_KEY = ("none", "")
"""The job key of a run whose log names no specific identity."""


def job_key(state: RunState, command: str | None = None, cwd: str | None = None) -> tuple[str, str]:
    """(kind, key) naming the job ``state`` ran: ``("compile_hash", "cs_...")``, ``("cache_key", ...)``,
    ``("command", "<command> @ <cwd> | <model>")`` (a digest when long), or ``NO_KEY`` when the log names none of
    these."""
    compile_hash = state.info.get("compile_hash")
    if compile_hash:
        return "compile_hash", compile_hash
    for info_key in CACHE_KEY_INFO:
        value = state.info.get(info_key)
        if value:
            return "cache_key", value
    cmd = " ".join((command or state.command or "").split())
    if not cmd:
        # No command line: the log file itself (an absolute path: the job that writes there), never a model's name
        # alone.
        return ("log", state.source) if state.source.startswith("/") else NO_KEY
    if cwd:
        cmd = f"{cmd} @ {cwd}"
    model = state.model.type if state.model is not None else state.info.get("network_type", "")
    text = f"{cmd} | {model}" if model else cmd
    if len(text) > 200:
        text = text[:120] + " #" + hashlib.sha256(text.encode()).hexdigest()[:16]
    return "command", text


def time_to_first_step(state: RunState) -> float | None:
    """Seconds from the run's first log timestamp to the start of its first train phase (the first step)."""
    if state.first_ts is None:
        return None
    for phase in state.phases:
        if phase.name == "train" and phase.start is not None:
            return max(0.0, (phase.start - state.first_ts).total_seconds())
    return None


@dataclass(frozen=True, slots=True)
class RunEntry:
    """One run as the history records it (one row), with its phases (one row each)."""

    fingerprint: str
    key_kind: str
    job_key: str
    source: str
    vendor: str | None
    device: str | None
    status: str
    command: str | None
    model: str | None
    started: str | None
    ended: str | None
    wall_s: float | None
    first_step_s: float | None
    steps: int
    last_step: int | None
    final_loss: float | None
    min_loss: float | None
    rate: float | None
    rate_unit: str
    phases: tuple[tuple[str, float | None, str], ...] = ()


def _fin(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def run_entry(state: RunState, source: str, command: str | None = None) -> RunEntry:
    """The history row of a run, its figures from the model's own functions (those ``hwmon summary`` uses)."""
    kind, key = job_key(state, command)
    # A run that has not (or not well) ended keeps only the phases that did end: a phase still open when the log
    # was read (a run summarised while it runs) or cut by a failure is not a duration to learn from.
    phases = tuple(
        (p.name, _fin(seconds), p.detail)
        for p, seconds in zip(state.phases, phase_durations(state, None), strict=True)
        if state.status == "succeeded" or not p.open
    )
    steps = state.steps
    last_step = int(steps.last[0]) if steps.last is not None else None
    final_loss = _finite(state.loss.last[1]) if state.loss.last is not None else None
    rate = state.global_rate if state.global_rate is not None else (state.rate.last[1] if state.rate.last else None)
    # The same run seen twice (summarised while it ran and again at its end, watched and then summarised, or its
    # log read from another place) is one row: the fingerprint is where the run starts, which does not change as
    # the log grows — its first log timestamp and its command — or, for a log without timestamps, the file.
    first = _iso(state.first_ts)
    basis = "\x1f".join((first or source, state.command or ""))
    return RunEntry(
        fingerprint=hashlib.sha256(basis.encode()).hexdigest()[:32],
        key_kind=kind,
        job_key=key,
        source=source,
        vendor=state.vendor,
        device=state.device,
        status=display_status(state, None),
        command=command or state.command,
        model=state.model.type if state.model is not None else state.info.get("network_type"),
        started=_iso(state.first_ts),
        ended=_iso(state.last_ts),
        wall_s=_finite(wall_seconds(state)),
        first_step_s=time_to_first_step(state),
        steps=steps.count,
        last_step=last_step,
        final_loss=final_loss,
        min_loss=_finite(state.loss.min),
        rate=_finite(rate),
        rate_unit=state.rate_unit,
        phases=phases,
    )


@dataclass(frozen=True, slots=True)
class PastRun:
    """A recorded run as the expectations need it: its key, vendor, status and per-phase totals (seconds)."""

    job_key: str
    vendor: str | None
    phases: dict[str, float] = field(default_factory=dict)
    wall_s: float | None = None
    status: str = "succeeded"


LEARN_FROM = ("succeeded", "unknown", "running")
"""Runs whose (ended) phases are expectations: not one that failed or was stopped (its last phase ended early).
"unknown"/"running" are logs read before their end, or that never said how it ended: only their phases that ended
were recorded (see ``run_entry``)."""


@dataclass(frozen=True, slots=True)
class Expected:
    """The expected duration of a phase and how many past runs it comes from."""

    seconds: float
    runs: int
    basis: str  # "same job" or "same vendor"


def phase_totals(phases: Iterable[tuple[str, float | None]]) -> dict[str, float]:
    """Seconds per phase name over a run (a phase that repeats — two compiles, train between checkpoints — adds)."""
    totals: dict[str, float] = {}
    for name, seconds in phases:
        if seconds is not None and math.isfinite(seconds):
            totals[name] = totals.get(name, 0.0) + seconds
    return totals


def expected_phases(key: str, vendor: str | None, past: Sequence[PastRun]) -> dict[str, Expected]:
    """Expected seconds per phase for a run of job ``key`` on ``vendor``, from ``past`` runs (newest first)."""
    out: dict[str, Expected] = {}
    past = [run for run in past if run.status in LEARN_FROM]
    # The same job on the same vendor: a job key is a specific identity (never empty), and a phase one vendor has
    # (a PopTorch compile) is no expectation for a run on another (a CPU run of the same script).
    same_job = [run for run in past if key and run.job_key == key and (vendor is None or run.vendor == vendor)]
    for name in PHASE_NAMES:
        if name == "queue":
            pool = [run for run in past if run.vendor == vendor][:QUEUE_RECENT] if vendor else same_job
            basis = "same vendor" if vendor else "same job"
        else:
            pool, basis = same_job, "same job"
        values = [run.phases[name] for run in pool if name in run.phases]
        if values:
            out[name] = Expected(float(statistics.median(values)), len(values), basis)
    return out


def expected_remaining(state: RunState, expected: dict[str, Expected], train_eta: float | None) -> float | None:
    """Seconds left in the whole run: the expected duration of each phase not yet reached, what is left of the
    current one (expected minus elapsed, at least 0), and the train loop's own ETA once it runs. None when nothing
    is expected and no ETA is known."""
    if state.status in ("succeeded", "failed"):
        return None
    reached = {p.name for p in state.phases}
    current = state.current_phase
    total = 0.0
    known = False
    for name, exp in expected.items():
        if name in reached:
            continue
        if name == "train" and train_eta is not None:
            continue
        total += exp.seconds
        known = True
    if current is not None and current.name != "train" and current.name in expected:
        elapsed = sum(s for n, s, _ in _spans(state) if n == current.name and s is not None)
        total += max(0.0, expected[current.name].seconds - elapsed)
        known = True
    if train_eta is not None:
        total += train_eta
        known = True
    elif current is not None and current.name == "train" and "train" in expected:
        elapsed = sum(s for n, s, _ in _spans(state) if n == "train" and s is not None)
        total += max(0.0, expected["train"].seconds - elapsed)
        known = True
    return total if known else None


def _spans(state: RunState) -> list[tuple[str, float | None, str]]:
    return [(p.name, s, p.detail) for p, s in zip(state.phases, phase_durations(state, None), strict=True)]
