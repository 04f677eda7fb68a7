"""A log that holds several launches (a relaunch appended to the same file after a crash) reports the last run's
figures but every run's errors: the crash before the relaunch is still in the log (``figures.log_errors``), in
``hwmon summary`` and in every view that counts errors."""

from __future__ import annotations

from hwmon.model import figures
from hwmon.model.summary import summary_dict
from hwmon.sources.read import summarize_bytes
from hwmon.views.plain import state_fields


def _launch(steps: int, *, crash: str | None = None) -> str:
    lines = ["starting training on cpu"]
    lines += [f"step {i} loss {3.0 - i * 0.1:.4f}" for i in range(1, steps + 1)]
    if crash is not None:
        lines += [
            "Traceback (most recent call last):",
            '  File "train.py", line 40, in <module>',
            "    loss.backward()",
            crash,
        ]
    else:
        lines.append("Training complete.")
    return "\n".join(lines) + "\n"


LOG = (
    _launch(6, crash="RuntimeError: CUDA error: an illegal memory access was encountered")
    + _launch(4, crash="RuntimeError: CUDA error: an illegal memory access was encountered")
    + _launch(12)
).encode()


def test_a_relaunch_after_crashes_reports_its_own_figures_and_every_runs_errors() -> None:
    state = summarize_bytes(LOG, "relaunched.log")
    s = summary_dict(state)
    assert s["runs"] == 3
    assert s["status"] == "succeeded" and s["train"]["steps"]["last"] == 12
    # The same message in two launches is listed once, counted twice.
    assert s["errors"] == ["RuntimeError: CUDA error: an illegal memory access was encountered"]
    assert s["error_count"] == 2 and s["earlier_error_count"] == 2
    assert figures.fmt_error_count(s["error_count"], s["earlier_error_count"]) == "2, all in earlier runs"
    assert state.errors == [] and state.error_count == 0  # the run's own (its alerts: none)
    assert "errors 2" in state_fields(state, None)
    from hwmon.views.html_report import _alerts_and_errors

    html = _alerts_and_errors(state)
    assert "Errors (2)" in html and "illegal memory access" in html


def test_a_relaunchs_first_step_ends_the_crashs_message_so_the_crash_is_the_earlier_runs() -> None:
    # Without a timestamp or level word on the relaunch's lines, they looked like more lines of the exception's
    # message: the crash was reported after the new run's steps and failed it.
    state = summarize_bytes((_launch(3, crash="ValueError: bad batch") + _launch(30)).encode(), "two.log")
    assert state.runs == 2 and state.status == "succeeded"
    assert summary_dict(state)["errors"] == ["ValueError: bad batch"]


def test_the_log_errors_are_bounded_and_keep_the_first_half_and_the_latest() -> None:
    from hwmon.model.state import MAX_ERRORS, RunState

    state = RunState()
    state.earlier_errors = [f"E{i}" for i in range(MAX_ERRORS)]
    state.errors = ["E0", "late"]
    merged = figures.log_errors(state)
    assert len(merged) == MAX_ERRORS and merged[0] == "E0" and merged[-1] == "late"
    assert merged.count("E0") == 1


def test_an_error_count_says_how_many_came_from_earlier_runs() -> None:
    assert figures.fmt_error_count(3, 0) == "3"
    assert figures.fmt_error_count(12, 10) == "12, 10 in earlier runs"
    assert figures.fmt_error_count(5, 5) == "5, all in earlier runs"
