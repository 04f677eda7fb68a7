"""Structured lines (JSON objects and dict reprs behind any prefix) and column tables, read by their shape."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from hwmon.events import EvalMetric, Event, PhaseEnded, PhaseStarted, RunCompleted, StepMetrics, TargetStated
from hwmon.model.summary import summary_dict
from hwmon.parsers.base import Line
from hwmon.parsers.records import RecordReader
from hwmon.parsers.structured import StructuredLines
from hwmon.parsers.tables import ColumnTables, cell_value
from hwmon.sources.read import summarize_bytes

LEARNED = Path(__file__).resolve().parents[1] / "fixtures" / "learned"


def run(stage: StructuredLines | ColumnTables, lines: list[str]) -> list[Event]:
    reader = RecordReader()
    out: list[Event] = []
    for number, text in enumerate(lines, start=1):
        out.extend(stage.feed(reader.read(Line(number, 0, text))) or [])
    out.extend(stage.finish())
    return out


def summary(path: Path) -> dict[str, object]:
    return summary_dict(summarize_bytes(path.read_bytes(), str(path)))


# --- structured lines --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prefix", ["", "metrics: ", "2026-12-07 10:00:00,000 INFO trainer: ", "[rank0]: ", ":::TAG ", "[step log] "]
)
def test_a_json_object_behind_any_prefix_is_a_step(prefix: str) -> None:
    line = prefix + json.dumps({"iteration": 40, "loss": 1.25, "lr": 1e-4, "samples_per_second": 88.5})
    (step,) = run(StructuredLines(), [line])
    assert isinstance(step, StepMetrics)
    assert (step.step, step.loss, step.rate, step.rule) == (40, 1.25, 88.5, "structured:json")
    assert dict(step.extra)["lr"] == 1e-4


def test_a_dict_repr_with_tensors_and_nan_is_read_through_its_pairs() -> None:
    lines = [
        "{'step': 10, 'loss': tensor(2.5000, device='cuda:0'), 'grad': nan}",
        "{'step': 20, 'loss': tensor(2.2500, device='cuda:0'), 'grad': 0.5}",
    ]
    got = [e for e in run(StructuredLines(), lines) if isinstance(e, StepMetrics)]
    assert [(s.step, s.loss) for s in got] == [(10, 2.5), (20, 2.25)]


def test_records_without_a_counter_are_steps_only_when_their_shape_repeats() -> None:
    stage = StructuredLines()
    lines = [
        "{'loss': 0.9, 'learning_rate': 0.001, 'epoch': 0.5}",
        "{'loss': 0.7, 'learning_rate': 0.0005, 'epoch': 1.0}",
        "{'runtime': 12.0, 'train_loss': 0.8, 'epoch': 1.0}",  # once: the run's average, not a step
    ]
    got = [e for e in run(stage, lines) if isinstance(e, StepMetrics)]
    assert [(s.loss, s.epoch) for s in got] == [(0.9, 0.5), (0.7, 1.0)]


def test_a_record_under_an_anonymous_bar_takes_the_bars_position() -> None:
    stage = StructuredLines()
    reader = RecordReader()
    out: list[Event] = []
    for number, (n, text) in enumerate([(50, "{'loss': 0.9}"), (100, "{'loss': 0.8}"), (150, "{'loss': 0.7}")], 1):
        stage.bar(n)
        out.extend(stage.feed(reader.read(Line(number, 0, text))) or [])
    assert [(e.step, e.loss) for e in out if isinstance(e, StepMetrics)] == [(50, 0.9), (100, 0.8), (150, 0.7)]


def test_eval_keys_are_eval_metrics_and_an_evals_bookkeeping_is_not() -> None:
    line = "{'eval_loss': 0.61, 'eval_accuracy': 0.74, 'eval_runtime': 0.4, 'eval_samples_per_second': 1250.0}"
    got = run(StructuredLines(), [line])
    assert {e.name: e.value for e in got if isinstance(e, EvalMetric)} == {"eval_loss": 0.61, "eval_accuracy": 0.74}
    # Only an eval step (the eval phase, the eval loss series): no training step.
    assert [(e.mode, e.loss) for e in got if isinstance(e, StepMetrics)] == [("eval", 0.61)]


def test_named_records_give_fields_events_and_phases() -> None:
    def rec(key: str, value: object, **meta: object) -> str:
        return ":::TAG " + json.dumps({"time_ms": 1, "key": key, "value": value, "metadata": meta})

    lines = [
        rec("run_start", None),
        rec("train_loss", 2.5, step_num=10),
        rec("train_loss", 2.25, step_num=20),
        rec("eval_start", None, epoch_num=1),
        rec("eval_accuracy", 0.71, epoch_num=1),
        rec("eval_stop", None, epoch_num=1),
        rec("run_stop", None, status="aborted"),
    ]
    got = run(StructuredLines(), lines)
    assert [(e.step, e.loss) for e in got if isinstance(e, StepMetrics)] == [(10, 2.5), (20, 2.25)]
    assert [(e.name, e.value) for e in got if isinstance(e, EvalMetric)] == [("eval_accuracy", 0.71)]
    assert [e.phase for e in got if isinstance(e, PhaseStarted | PhaseEnded)] == ["eval", "eval"]
    (end,) = [e for e in got if isinstance(e, RunCompleted)]
    assert end.success is False and all(e.rule == "structured:record" for e in got)


@pytest.mark.parametrize(
    "text",
    [
        "{not json at all}",
        "{" * 5000 + "}" * 5000,
        "config = {'a': [1, 2, 3], 'b': {'c': 'd'}}",
        "{'name': 'resnet', 'layers': 50}",
        '{"loss": ' + "9" * 5000 + "}",
    ],
)
def test_objects_that_are_not_metrics_give_nothing_and_never_raise(text: str) -> None:
    got = run(StructuredLines(), [text, text])
    assert all(isinstance(e, StepMetrics) and e.loss is not None for e in got)


def test_an_integer_past_floats_range_is_an_infinite_value_not_a_crash() -> None:
    (step,) = run(StructuredLines(), ['{"step": 3, "loss": ' + "9" * 400 + "}"])
    assert isinstance(step, StepMetrics) and step.loss == math.inf


# --- column tables -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("0.25", (0.25, None)),
        ("3/10", (3.0, 10)),
        ("3.91G", (3.91, None)),
        ("95.5%", (0.955, None)),
        ("00:14", (14.0, None)),
        ("1:02:03", (3723.0, None)),
        ("640:", (640.0, None)),
        ("all", None),
    ],
)
def test_table_cells(cell: str, value: tuple[float, int | None] | None) -> None:
    assert cell_value(cell) == value


def test_a_header_then_rows_under_it() -> None:
    lines = [
        "epoch     train_loss  valid_loss  accuracy  time",
        "0         1.200000    1.300000    0.610000  00:12",
        "1         1.100000    1.220000    0.660000  00:13",
    ]
    got = run(ColumnTables(), lines)
    steps = [e for e in got if isinstance(e, StepMetrics)]
    assert [(s.epoch, s.loss) for s in steps] == [(0.0, 1.2), (1.0, 1.1)]
    assert dict(steps[-1].extra) == {"accuracy": 0.66, "time": 13.0}
    assert [(e.name, e.value) for e in got if isinstance(e, EvalMetric)] == [("valid_loss", 1.3), ("valid_loss", 1.22)]
    assert all(e.rule.startswith("table:") for e in got)


def test_rows_with_units_fractions_and_a_bar_behind_them() -> None:
    lines = [
        "     Epoch   gpu_mem      loss     items",
        "       2/5     3.91G    0.8000        64: 100%|##########| 20/20 [00:03<00:00,  6.1it/s]",
    ]
    got = run(ColumnTables(), lines)
    (target,) = [e for e in got if isinstance(e, TargetStated)]
    (step,) = [e for e in got if isinstance(e, StepMetrics)]
    assert (target.what, target.total, target.current) == ("epoch", 5, 2)
    assert (step.epoch, step.loss, dict(step.extra)) == (2.0, 0.8, {"gpu_mem": 3.91, "items": 64.0})


def test_a_line_of_words_that_no_row_follows_is_prose_not_a_header() -> None:
    lines = [
        "step  loss  lr",
        "1  0.9  0.1",
        "saving best model at step",  # names only, looks like a header, no row follows it
        "2  0.8  0.1",
    ]
    got = [e for e in run(ColumnTables(), lines) if isinstance(e, StepMetrics)]
    assert [(s.step, s.loss) for s in got] == [(1, 0.9), (2, 0.8)]


# --- the fixtures, whole ---------------------------------------------------------------------------------------


def test_fixture_json_lines() -> None:
    s = summary(LEARNED / "json_lines.log")
    assert s["train"]["steps"]["last"] == 110 and s["train"]["loss"]["last"] == 2.1088  # type: ignore[index]
    assert s["train"]["rate"]["unit"] == "tokens/sec"  # type: ignore[index]
    assert s["eval"] == {"eval_accuracy": 0.7321} and s["status"] == "succeeded"


def test_fixture_absl_blocks() -> None:
    s = summary(LEARNED / "absl_kv.log")
    assert s["train"]["steps"] == {"first": 100, "last": 3000, "count": 30}  # type: ignore[index]
    assert s["train"]["loss"]["last"] == 2.0582  # type: ignore[index]
    assert s["eval"] == {"eval_accuracy": 0.8, "eval_loss": 0.9}


def test_fixture_column_tables() -> None:
    s = summary(LEARNED / "column_tables.log")
    assert s["train"]["loss"]["last"] == 0.6  # type: ignore[index]
    assert s["eval"]["val_loss"] == 0.65 and s["eval"]["val_acc"] == 0.8  # type: ignore[index]
    assert s["eval"]["valid_loss"] == 0.98  # type: ignore[index]
