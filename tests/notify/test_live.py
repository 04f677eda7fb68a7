"""`--notify` for a view of one run: what the run held when the view opened it is not told; what happens after is
told once."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwmon import exitcodes
from hwmon.model.reducer import add_alert
from hwmon.model.state import Alert, RunState
from hwmon.notify.live import live_notifier
from tests.notify.conftest import ExecRecorder


def test_a_view_tells_what_happens_after_it_opened_the_run(exec_recorder: ExecRecorder) -> None:
    live = live_notifier([exec_recorder.spec], "failed,nan,succeeded", run="r1", name="train", ref="r1")
    assert live is not None
    state = RunState()
    add_alert(state, Alert("nan", "loss is not finite at step 3", line=3))  # in the backlog
    live.observe(state, 1.0, catching_up=True)
    live.observe(state, 2.0)
    add_alert(state, Alert("error", "not chosen by --on", line=9))
    add_alert(state, Alert("failed", "RuntimeError: boom", line=10))
    live.observe(state, 3.0)
    live.observe(state, 4.0, status="failed")
    live.close()
    [record] = exec_recorder.records()
    assert record["env"]["HWMON_EVENT"] == "failed" and record["env"]["HWMON_RUN"] == "r1"
    assert [n.event for n in live.told] == ["failed"]


def test_without_sinks_there_is_no_notifier_and_bad_choices_are_usage_errors(tmp_path: Path) -> None:
    assert live_notifier([], None, run="r", name="n", ref="r") is None
    with pytest.raises(exitcodes.HwmonError) as info:
        live_notifier(["exec:true"], "Not An Event", run="r", name="n", ref="r")
    assert info.value.code == exitcodes.USAGE
