"""Cerebras step lines (``| Train Device=CSX, Step=10, Loss=7.1, Rate=.. samples/sec, GlobalRate=..``, the eval
variant, every release's fields and units, NaN/Inf losses, remaining time) -> ``StepMetrics``. Pure.

One function (``parse_step_text``) serves the line path, the fast path's sampled lines and ``expand_batch``, so all
three read a step line the same way. The step-1 rate rule: the first step report after the rate tracker is reset
(step ``S+1`` of a loop that starts at global step ``S``; batch 1 of an eval loop) measures compile and warm-up
time, not throughput: its ``rate``/``global_rate`` are ``None`` and the printed values are kept in ``extra`` as
``raw_rate``/``raw_global_rate``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from hwmon.events import StepMetrics
from hwmon.parsers.records import RecordReader
from hwmon.parsers.vocab import NUM

__all__ = [
    "EVAL_MARK",
    "STEP_RULE",
    "TRAIN_MARK",
    "Mode",
    "float_or_none",
    "int_or_none",
    "parse_step_text",
    "step_from_line",
]

Mode = Literal["train", "eval"]
_READER = RecordReader()

# --- step lines -------------------------------------------------------------------------------------------------

STEP_RULE = "cerebras:step"
"""The provenance of a step read from a ``| Train Device=`` / ``| Eval Device=`` line (line path and fast path)."""
TRAIN_MARK = "| Train Device="
EVAL_MARK = "| Eval Device="
# Fields of a step line are ``Key=value`` separated by ``, `` (older releases: by spaces). A value may itself
# contain ``, `` (``TimeRemaining=1 day, 2:03:04``), so split only before something that looks like a key.
_FIELD_SPLIT = re.compile(r",\s*(?=[A-Za-z_]\w*=)|\s+(?=[A-Za-z_]\w*=)")
# The common train line, parsed in one match (anything else takes the general path below).
_CANON_TRAIN = re.compile(
    r"\| Train Device=([^,\s]*), Step=(\d{1,18}), Loss=([-+]?(?:\d+(?:\.\d*)?|nan|inf)), "
    r"Rate=(\d+(?:\.\d*)?) ([\w/]+), "
    r"GlobalRate=(\d+(?:\.\d*)?) \5(?:, LoopTimeRemaining=(\d+:\d\d:\d\d), TimeRemaining=(\d+:\d\d:\d\d))?\s*$"
)
_NUMBER_UNIT = re.compile(r"\s*(" + NUM + r")\s*(.*)")
_DURATION = re.compile(r"(?:(\d{1,18})\s+days?,\s*)?(\d{1,18}):(\d\d):(\d\d(?:\.\d+)?)")


def float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _duration(text: str) -> float | None:
    m = _DURATION.match(text.strip())
    if m is None:
        return None
    days = int(m.group(1)) if m.group(1) else 0
    return days * 86400.0 + int(m.group(2)) * 3600.0 + int(m.group(3)) * 60.0 + float(m.group(4))


def _number_unit(text: str) -> tuple[float | None, str]:
    m = _NUMBER_UNIT.match(text)
    if m is None:
        return None, ""
    return float_or_none(m.group(1)), m.group(2).strip()


def parse_step_text(text: str, number: int, ts: datetime | None, reset_step: int = 1) -> StepMetrics | None:
    """The StepMetrics of one ``| Train Device=..`` / ``| Eval Device=..`` line (``None`` if it is not one).

    Pure: the same function serves the line-by-line path and the fast path's first/last/sampled lines, so both
    agree. ``reset_step`` is the step whose rate is the nonsense of a freshly reset tracker (see module doc).
    """
    i = text.find(TRAIN_MARK)
    mode: Mode = "train"
    if i < 0:
        i = text.find(EVAL_MARK)
        if i < 0:
            return None
        mode = "eval"
    if mode == "train":
        canon = _CANON_TRAIN.match(text, i)
        if canon is not None:
            return _canonical_step(canon, number, ts, reset_step)
    body = text[i + 8 if mode == "train" else i + 7 :].strip()
    device: str | None = None
    step: int | None = None
    global_step: int | None = None
    batch: int | None = None
    loss: float | None = None
    rate: float | None = None
    global_rate: float | None = None
    unit = "samples/sec"
    remaining: float | None = None
    epoch: float | None = None
    extra: list[tuple[str, float]] = []
    for part in _FIELD_SPLIT.split(body):
        key, sep, value = part.partition("=")
        if not sep:
            continue
        key = key.strip()
        value = value.strip().rstrip(",").strip()
        if key == "Device":
            device = value or None
        elif key == "Step":
            step = int_or_none(value)
        elif key == "GlobalStep":
            global_step = int_or_none(value)
        elif key == "Batch":
            batch = int_or_none(value)
        elif key == "Loss":
            loss = float_or_none(value)
        elif key == "Rate":
            rate, rate_unit = _number_unit(value)
            if rate_unit:
                unit = rate_unit
        elif key == "GlobalRate":
            global_rate, global_unit = _number_unit(value)
            if global_unit and rate is None:
                unit = global_unit
        elif key == "TimeRemaining":
            remaining = _duration(value)
        elif key == "LoopTimeRemaining":
            loop_remaining = _duration(value)
            if loop_remaining is not None:
                extra.append(("loop_remaining_s", loop_remaining))
        elif key == "Epoch":
            epoch = float_or_none(value)
        else:
            number_value, _ = _number_unit(value)
            if number_value is not None:
                extra.append((key.lower(), number_value))
    if mode == "train":
        if step is None:
            step = global_step
        reset = step is not None and step == reset_step
    else:
        if global_step is not None:
            if step is not None and batch is None:
                batch = step
            step = global_step
        reset = batch == 1
    if remaining is None:
        for key, value in extra:
            if key == "loop_remaining_s":
                remaining = value
    if reset and (rate is not None or global_rate is not None):
        if rate is not None:
            extra.append(("raw_rate", rate))
        if global_rate is not None:
            extra.append(("raw_global_rate", global_rate))
        rate = None
        global_rate = None
    return StepMetrics(
        line=number,
        ts=ts,
        step=step,
        loss=loss,
        rate=rate,
        global_rate=global_rate,
        rate_unit=unit,
        remaining_s=remaining,
        mode=mode,
        device=device,
        batch=batch,
        epoch=epoch,
        extra=tuple(extra),
        rule=STEP_RULE,
    )


def _canonical_step(m: re.Match[str], number: int, ts: datetime | None, reset_step: int) -> StepMetrics:
    """The common train line, from one regex match (same result as the general field-by-field path)."""
    step = int(m.group(2))
    rate: float | None = float(m.group(4))
    global_rate: float | None = float(m.group(6))
    extra: tuple[tuple[str, float], ...] = ()
    remaining: float | None = None
    if m.group(7) is not None:
        loop_remaining = _duration(m.group(7))
        remaining = _duration(m.group(8))
        if loop_remaining is not None:
            extra = (("loop_remaining_s", loop_remaining),)
    if step == reset_step:
        extra = (*extra, ("raw_rate", float(m.group(4))), ("raw_global_rate", float(m.group(6))))
        rate = global_rate = None
    return StepMetrics(
        line=number,
        ts=ts,
        step=step,
        loss=float_or_none(m.group(3)),
        rate=rate,
        global_rate=global_rate,
        rate_unit=m.group(5),
        remaining_s=remaining,
        mode="train",
        device=m.group(1) or None,
        extra=extra,
        rule=STEP_RULE,
    )


def step_from_line(text: str, number: int, reset_step: int) -> StepMetrics | None:
    """The StepMetrics of one whole line (its timestamp read by the record stage's table)."""
    return parse_step_text(text, number, _READER.split(text)[0], reset_step)
