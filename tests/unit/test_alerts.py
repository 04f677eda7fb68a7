"""Stall and silence alerts with an injected clock: raised once, re-armed when steps/output resume."""

from __future__ import annotations

from hwmon.events import ErrorSeen, LogLine, StepMetrics
from hwmon.model.alerts import STALL_MIN_S, StallRule, check, median_step_interval
from hwmon.model.reducer import apply
from hwmon.model.state import RunState


def steps_every(state: RunState, interval: float, count: int, start: float = 0.0, first: int = 1) -> float:
    now = start
    for i in range(count):
        now = start + i * interval
        apply(state, StepMetrics(first + i, None, step=first + i, loss=1.0), now=now)
    return now


def test_stall_after_k_times_the_median_interval_once_then_rearmed() -> None:
    state = RunState()
    last = steps_every(state, 10.0, 5)
    assert median_step_interval(state) == 10.0
    assert check(state, last + 49.0) == []
    alerts = check(state, last + 51.0)
    assert [a.kind for a in alerts] == ["stall"]
    assert state.stalled and state.alerts[-1] is alerts[0]
    assert check(state, last + 80.0) == []  # not repeated every tick
    apply(state, StepMetrics(99, None, step=6, loss=1.0), now=last + 90.0)  # steps resume
    assert not state.stalled
    assert check(state, last + 91.0) == []
    assert [a.kind for a in check(state, last + 90.0 + 200.0)] == ["stall"]


def test_no_stall_with_too_few_steps_or_after_the_run_failed() -> None:
    state = RunState()
    steps_every(state, 10.0, 2)
    assert check(state, 1000.0, silence_s=1e9) == []
    apply(state, ErrorSeen(3, None, "boom", fatal=True), now=20.0)
    steps_every(state, 10.0, 5, start=30.0, first=3)
    assert check(state, 10_000.0) == []


def test_silence_when_no_output_at_all_then_rearmed_by_any_line() -> None:
    state = RunState()
    apply(state, LogLine(1, None, "hello"), now=0.0)
    assert check(state, 599.0, silence_s=600.0) == []
    assert [a.kind for a in check(state, 601.0, silence_s=600.0)] == ["silence"]
    assert check(state, 700.0, silence_s=600.0) == []
    apply(state, LogLine(2, None, "again"), now=701.0)
    assert not state.silent
    assert [a.kind for a in check(state, 1302.0, silence_s=600.0)] == ["silence"]


def test_stall_factor_is_configurable() -> None:
    state = RunState()
    last = steps_every(state, 2.0, 4)
    rule = StallRule(factor=3.0, min_s=1.0)
    assert check(state, last + 5.0, stall=rule) == []
    assert [a.kind for a in check(state, last + 7.0, stall=rule)] == ["stall"]


def test_sub_second_jitter_never_alerts_a_stall_needs_the_minimum_gap_too() -> None:
    # Issue 19: "stall no new step for 1 s (5.3x the usual 0.2 s)" twice on a healthy CPU run.
    state = RunState()
    last = steps_every(state, 0.2, 20)
    assert check(state, last + 1.06) == []  # 5.3x the usual interval, but one second
    assert check(state, last + STALL_MIN_S - 0.5) == []
    alerts = check(state, last + STALL_MIN_S + 0.5)
    assert [a.kind for a in alerts] == ["stall"]
    # Configurable: a shorter minimum gap alerts sooner, the ratio still applies.
    state = RunState()
    last = steps_every(state, 0.2, 20)
    assert [a.kind for a in check(state, last + 2.5, stall=StallRule(min_s=2.0))] == ["stall"]


def test_the_stall_rule_from_the_environment_ignores_what_is_not_a_positive_number() -> None:
    assert StallRule.from_env({}) == StallRule()
    assert StallRule.from_env({"HWMON_STALL_MIN_S": "120", "HWMON_STALL_FACTOR": "8"}) == StallRule(8.0, 120.0)
    for bad in ("", "0", "-5", "nan", "inf", "ten"):
        assert StallRule.from_env({"HWMON_STALL_MIN_S": bad}).min_s == STALL_MIN_S
