"""Provenance (``hwmon.model.provenance``): each figure of the summary knows the line and the rule that set it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hwmon.events import Event
from hwmon.model.provenance import Figures, Provenance, observe
from hwmon.model.reducer import apply
from hwmon.model.state import RunState
from hwmon.parsers.stream import parse_bytes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def reduce(events: list[Event]) -> tuple[RunState, Provenance]:
    state = RunState(source="t")
    provenance = Provenance()
    for event in events:
        before = Figures.of(state)
        apply(state, event, None)
        provenance = observe(provenance, state, event, before)
    return state, provenance


def line_of(data: bytes, number: int) -> str:
    return data.decode().splitlines()[number - 1]


def test_each_figure_names_its_line_and_rule() -> None:
    data = (
        b"training a small net\n"
        b"It 1 Loss 2.5000\n"
        b"It 2 Loss 2.2500\n"
        b"Validation: loss 0.5900 acc 81.5%\n"
        b"It 3 Loss 2.0000\n"
        b'metrics: {"iter": 4, "train/loss": 1.5, "tokens_per_sec": 880}\n'
    )
    _, provenance = reduce(parse_bytes(data))
    figures = provenance.figures
    assert figures["train.steps.last"].line == 6
    assert provenance.rule_of_line(5).startswith("template:")  # type: ignore[union-attr]
    assert figures["eval.acc"].line == 4 and figures["eval.acc"].rule.startswith("template:")
    assert figures["train.rate.last"] == (6, "structured:json") and figures["train.loss.last"].line == 6
    assert figures["phases.train.start"].line == 2
    assert provenance.rule_of_line(2) == provenance.rule_of_line(5)
    assert provenance.rule_of_line(1) is None


def test_a_known_format_names_its_rows() -> None:
    data = (FIXTURES / "megatron_gpt_train.log").read_bytes()
    state, provenance = reduce(parse_bytes(data))
    figures = provenance.as_json()
    assert (
        figures["train.steps.last"]["line"]
        == data.decode().splitlines().index(next(t for t in data.decode().splitlines() if "iteration      100/" in t))
        + 1
    )
    assert figures["vendor"]["line"] > 0 and figures["status"]["line"] > 0
    assert any(path.startswith("checkpoints[") for path in figures)
    assert list(figures)[0] == "status"  # the summary's order: status, vendor, phases, train, eval, checkpoints


def test_a_new_run_in_the_same_log_starts_fresh_provenance() -> None:
    data = b"step 5 loss 1.0\nstep 6 loss 0.9\nstep 1 loss 3.0\nstep 2 loss 2.9\n"
    state, provenance = reduce(parse_bytes(data))
    assert state.runs == 2
    assert provenance.figures["train.steps.last"].line == 4
    assert provenance.figures["phases.train.start"].line == 3


def _hwmon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hwmon", *args], capture_output=True, text=True, timeout=60)


def test_summary_json_carries_provenance_and_explain_prints_it(tmp_path: Path) -> None:
    log = tmp_path / "loop.log"
    log.write_bytes(
        b"starting\n"
        b"It 1 Loss 2.5000\n"
        b"It 2 Loss 2.2500\n"
        b"Validation: loss 0.5900 acc 81.5%\n"
        b"It 3 Loss 2.0000\x1b]0;owned\x07\x1b[31m\n"  # escapes in the file: never reach the terminal
    )
    done = _hwmon("summary", "--json", str(log))
    s = json.loads(done.stdout)
    template = s["provenance"]["train.steps.last"]["rule"]
    assert s["provenance"]["train.steps.last"] == {"line": 5, "rule": template} and template.startswith("template:")
    assert s["provenance"]["eval.acc"]["line"] == 4
    explained = _hwmon("summary", "--explain", str(log))
    assert explained.returncode == 0, explained.stderr
    out = explained.stdout
    assert f'train.steps.last = 3\n  line 5, {template}: "It 3 Loss 2.0000"' in out
    assert "status = unknown\n  (no line set it: hwmon's default)" in out
    assert "eval.acc = 0.815" in out
    assert "\x1b" not in out and "\x07" not in out


def test_popped_lines_carry_the_numbers_events_carry() -> None:
    from hwmon.parsers.stream import StreamParser

    parser = StreamParser(keep_lines=3)
    events = parser.feed(b"hello\nIt 1 Loss 0.5\nIt 2 Loss 0.4\nIt 3 Loss 0.3\n")
    first, lines = parser.pop_numbered_lines()
    assert (first, lines) == (2, ["It 1 Loss 0.5", "It 2 Loss 0.4", "It 3 Loss 0.3"])
    _, provenance = reduce(events)
    assert provenance.rule_of_line(first + 2) == events[-1].rule and events[-1].line == 4
