"""Smoothing of a metric's series for charts: the debiased exponential moving average TensorBoard's scalar
dashboard draws (``smoothing`` weight in [0, 1); 0 is the raw series), so a curve read in hwmon reads the same as
in TensorBoard or W&B at the same weight. Pure: a value function and its spelling."""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = tuple[float, float]

DEFAULT_WEIGHT = 0.6  # TensorBoard's default


def ema_debiased(points: Sequence[Point], weight: float = DEFAULT_WEIGHT) -> list[Point]:
    """``points`` (x, y) smoothed: ``last = last * w + (1 - w) * y``, divided by ``1 - w**n`` so the first points
    are not pulled towards 0 (TensorBoard's ``resampleSmoothing``). Non-finite y values are kept out of the
    average (their point keeps the last smoothed value, or is left out before the first finite one)."""
    w = min(max(weight, 0.0), 0.999)
    if w <= 0.0:
        return [(x, y) for x, y in points if math.isfinite(y)]
    out: list[Point] = []
    last = 0.0
    count = 0
    for x, y in points:
        if not math.isfinite(y):
            if count:
                out.append((x, last / (1.0 - w**count)))
            continue
        last = last * w + (1.0 - w) * y
        count += 1
        out.append((x, last / (1.0 - w**count)))
    return out


def fmt_smoothing(weight: float | None) -> str:
    """How a chart says it is smoothed: ``EMA 0.6`` (the weight, as TensorBoard's slider), "" for raw."""
    if weight is None or weight <= 0:
        return ""
    return f"EMA {weight:.2g}"
