"""Tables no rule was written for (h17g, issue 17): a header with a rule of dashes under it and a ``#`` column,
fixed-width columns with blank cells read by place, two per-component loss columns (no single training loss),
score columns as an evaluation's results, tab-separated ``name: value`` iteration lines, and vertical boxed
``| key | value |`` records with section rows. Every fixture is written for these tests in the shapes of such logs."""

from __future__ import annotations

import pytest
from tests.helpers.chunking import parse_text

from hwmon.events import EvalMetric, Event, StepMetrics, TargetStated
from hwmon.model.reducer import apply
from hwmon.model.state import RunState
from hwmon.sources.read import summarize_bytes

RULED = """\
Starting the pipeline
E    #       LOSS EMBED   LOSS PARSER  LAS_F   UAS_P   SCORE
---  ------  -----------  -----------  ------  ------  ------
  0       0         0.00         5.10    0.00    0.00    0.00
  1      50         0.31        40.20   41.00   55.50    0.41
  2     100         0.12        12.70   77.25   80.00    0.77
"""

PLACED = """\
  run: train.py --device=1
  epoch      iteration   main/loss   validation/main/loss  main/bleu  elapsed_time
  0          100         12.5                                         10.2
  0          200         11.25       13.5                  0.21       20.4
  1          300         10.75                                        30.9
"""

TABS = (
    "".join(
        f"{i}:\tlearn: {1 / (i + 2):.5f}\ttest: {1 / (i + 1.5):.5f}\tbest: 0.25 ({max(i - 3, 0)})"
        f"\ttotal: {i * 0.2:.1f}s"
        f"\tremaining: {(30 - i) * 0.2:.1f}s\n"
        for i in range(0, 30, 10)
    )
    + "29:\tlearn: 0.03100\ttest: 0.04000\tbest: 0.03900 (27)\ttotal: 6s\tremaining: 0us\n"
)


def state(text: str) -> RunState:
    return summarize_bytes(text.encode(), "t")


def steps_of(events: list[Event]) -> list[StepMetrics]:
    return [e for e in events if isinstance(e, StepMetrics)]


def test_a_ruled_table_with_a_hash_column_and_two_component_losses() -> None:
    st = state(RULED)
    assert st.steps.last is not None and st.steps.last[0] == 100
    assert st.loss.last is None  # two per-component losses: no single training loss
    assert st.eval == {"las_f": 0.7725, "uas_p": 0.8, "score": 0.77}


def test_a_table_with_a_training_loss_keeps_its_accuracy_a_training_metric() -> None:
    text = "step   loss    acc\n----   -----   -----\n10     0.50    61.0\n20     0.40    70.5\n"
    st = state(text)
    assert st.loss.last == (20.0, 0.4)
    assert st.eval == {}


def test_a_fixed_width_table_with_blank_cells_is_read_by_place() -> None:
    events = parse_text(PLACED)
    steps = steps_of(events)
    assert [(s.step, s.loss, s.epoch) for s in steps] == [(100, 12.5, 0.0), (200, 11.25, 0.0), (300, 10.75, 1.0)]
    assert dict(steps[0].extra) == {"elapsed_time": 10.2}
    assert dict(steps[1].extra) == {"main/bleu": 0.21, "elapsed_time": 20.4}
    assert [(e.name, e.value) for e in events if isinstance(e, EvalMetric)] == [("validation/main/loss", 13.5)]


def test_a_row_whose_cells_fall_in_one_column_is_no_row() -> None:
    text = PLACED + "  1          400  9.5  8.5                                    40.1\n"
    steps = steps_of(parse_text(text))
    assert [s.step for s in steps] == [100, 200, 300]


def test_blank_cells_under_a_rule_of_dashes() -> None:
    text = (
        "ep   it      train_loss   val_loss\n"
        "---  ------  -----------  --------\n"
        "  1     100        0.900\n"
        "  1     200        0.800      0.850\n"
    )
    st = state(text)
    assert st.steps.last is not None and st.steps.last[0] == 200
    assert st.loss.last == (200.0, 0.8)
    assert st.eval == {"val_loss": 0.85}
    # Right-aligned under short names: only the rule says where a column is.
    text = (
        "#         loss        val_loss\n"
        "--------  ----------  ----------\n"
        "     100       0.900\n"
        "     200       0.800       0.850\n"
    )
    st = state(text)
    assert [(int(x), y) for x, y in st.loss.points] == [(100, 0.9), (200, 0.8)]


def test_tab_separated_iteration_lines() -> None:
    events = parse_text(TABS)
    steps = steps_of(events)
    assert [(s.step, s.loss) for s in steps] == [(0, 0.5), (10, 0.08333), (20, 0.04545), (29, 0.031)]
    assert [e.value for e in events if isinstance(e, EvalMetric)][-1] == 0.04
    assert [(t.what, t.total, t.current) for t in events if isinstance(t, TargetStated)] == [("step", 29, 29)]
    st = state(TABS)
    assert (st.status, st.provisional_end) == ("succeeded", "evidence:target-reached")
    assert st.eval == {"test": 0.04}


def test_tab_lines_that_are_not_records() -> None:
    text = "0:\tlearn: 0.5\ttest: 0.6\tremaining: 2s\nname\tvalue\tother\n1:\tlearn: 0.4\ttest: 0.5\tremaining: 1s\n"
    st = state(text)
    assert st.steps.last is not None and st.steps.last[0] == 1
    assert st.status != "succeeded"  # time remained at the last line: no end


@pytest.mark.parametrize("text", [RULED, PLACED, TABS, "GROWING"])
def test_chunking_does_not_change_what_is_read(text: str) -> None:
    text = _growing(4) if text == "GROWING" else text
    whole = [e for e in parse_text(text) if not type(e).__name__.startswith(("LogLine", "Batch"))]
    bytewise = [e for e in parse_text(text, chunk=1) if not type(e).__name__.startswith(("LogLine", "Batch"))]
    assert bytewise == whole


def test_live_state_matches_the_read() -> None:
    st = RunState()
    for event in parse_text(TABS, chunk=7):
        apply(st, event, None)
    assert st.steps.last is not None and st.steps.last[0] == 29


def box(rows: list[tuple[str, str]]) -> str:
    width = 34
    lines = ["-" * width]
    for key, value in rows:
        lines.append(f"| {key:<18}| {value:<12}|")
    lines.append("-" * width)
    return "\n".join(lines) + "\n"


def update(i: int) -> str:
    rows = [("stats/", ""), ("   reward_mean", f"{i * 0.5:.2f}"), ("clock/", ""), ("   updates", str(i))]
    rows += [("   env_steps", str(i * 512)), ("learner/", ""), ("   value_loss", f"{0.5 / i:.4f}")]
    return box([*rows, ("   loss", f"{-0.01 * i:.4f}"), ("   lr", "0.0003")])


BOXES = "Using cpu device\n" + box([("stats/", ""), ("   reward_mean", "0.1"), ("clock/", ""), ("   updates", "0")])
BOXES += "".join(update(i) for i in range(1, 5))


def test_a_boxed_record_per_update() -> None:
    events = parse_text(BOXES)
    steps = steps_of(events)
    assert [(s.step, s.loss) for s in steps] == [(0, None), (1, -0.01), (2, -0.02), (3, -0.03), (4, -0.04)]
    # the section's plain loss, not its value_loss; the counter is the section's updates
    assert steps[-1].rule == "structured:box"
    assert ("stats/reward_mean", 2.0) in steps[-1].extra and ("learner/value_loss", 0.125) in steps[-1].extra
    st = state(BOXES)
    assert st.loss.last is not None and st.loss.last[1] == -0.04
    assert st.eval == {}


def test_a_box_row_outside_a_box_or_a_broken_box_is_no_record() -> None:
    text = "| loss | 0.5 |\n| loss | 0.4 |\n" + "-" * 20 + "\n| loss | 0.3 |\nsomething else\n" + "-" * 20 + "\n"
    assert [e for e in parse_text(text) if isinstance(e, StepMetrics) and e.rule == "structured:box"] == []
    text = "| step | 1 |\n| loss | 0.5 |\n" + "-" * 20 + "\n"  # rows before any rule: no box
    assert [e for e in parse_text(text) if isinstance(e, StepMetrics) and e.rule == "structured:box"] == []


def test_boxes_read_the_same_in_any_chunking() -> None:
    whole = [e for e in parse_text(BOXES) if isinstance(e, StepMetrics | EvalMetric)]
    assert [e for e in parse_text(BOXES, chunk=1) if isinstance(e, StepMetrics | EvalMetric)] == whole
    assert [e for e in parse_text(BOXES, chunk=13) if isinstance(e, StepMetrics | EvalMetric)] == whole


def test_a_table_between_bars_with_blank_cells() -> None:
    text = (
        "+-------+--------+----------+----------+\n"
        "| epoch |  step  |   loss   | val_acc  |\n"
        "+-------+--------+----------+----------+\n"
        "|     1 |    100 |   0.9000 |          |\n"
        "|     1 |    200 |   0.8000 |   0.6100 |\n"
        "|     2 |    300 |   0.7000 |          |\n"
        "+-------+--------+----------+----------+\n"
    )
    steps = steps_of(parse_text(text))
    assert [(s.step, s.loss, s.epoch) for s in steps] == [(100, 0.9, 1.0), (200, 0.8, 1.0), (300, 0.7, 2.0)]
    assert state(text).eval == {"val_acc": 0.61}


def test_a_two_column_table_between_rules_is_no_box() -> None:
    text = "+------+--------+\n| step |  loss  |\n+------+--------+\n|  100 | 0.9000 |\n|  200 | 0.8000 |\n"
    steps = steps_of(parse_text(text))
    assert [(s.step, s.loss, s.rule.startswith("table:")) for s in steps] == [(100, 0.9, True), (200, 0.8, True)]


def test_a_table_printed_behind_a_loggers_name() -> None:
    text = (
        "2024-01-01 10:00:00,001 INFO trainer: Epoch  Step   Loss     Accuracy\n"
        "2024-01-01 10:00:00,002 INFO trainer: =====  =====  =======  ========\n"
        "2024-01-01 10:00:01,003 INFO trainer:     1     50   0.9100    0.5500\n"
        "2024-01-01 10:00:02,004 INFO trainer:     1    100   0.8100\n"
        "2024-01-01 10:00:03,005 INFO other:     3    175   0.6000    0.7000\n"
        "2024-01-01 10:00:03,005 INFO trainer:     2    150   0.7100    0.6500\n"
    )
    steps = steps_of(parse_text(text))
    assert [(s.step, s.loss) for s in steps if s.rule.startswith("table:")] == [(50, 0.91), (100, 0.81), (150, 0.71)]


def _growing(epochs: int, *, restart_at: int | None = None) -> str:
    """A table printed whole after every epoch with one row more each time (a PrettyTable kept across epochs)."""
    lines: list[str] = []
    rows: list[str] = []
    for epoch in range(1, epochs + 1):
        if epoch == restart_at:
            rows = []  # a new run: the table starts over
        rows.append(f"| {len(rows) + 1:5d} | {1.0 / epoch:10.4f} | {0.5 + epoch * 0.05:7.4f} |")
        rule = "+-------+------------+---------+"
        lines += [rule, "| Epoch | Train Loss | Val Acc |", rule, *rows, rule]
    return "\n".join(lines) + "\n"


def test_a_table_reprinted_whole_every_epoch_gives_each_row_once() -> None:
    events = parse_text(_growing(5))
    steps = [e for e in events if isinstance(e, StepMetrics)]
    assert [(s.epoch, s.loss) for s in steps] == [(1, 1.0), (2, 0.5), (3, 0.3333), (4, 0.25), (5, 0.2)]
    state = summarize_bytes(_growing(5).encode(), "growing.log")
    assert state.runs == 1 and state.eval == {"val_acc": 0.75}


def test_a_reprinted_table_whose_first_row_differs_is_read_again() -> None:
    # The table starts over at epoch 4 (a new run): its rows are not the earlier printing's, so they are read.
    steps = [e for e in parse_text(_growing(5, restart_at=4)) if isinstance(e, StepMetrics)]
    assert [s.epoch for s in steps] == [1, 2, 3, 1, 2]


def test_a_row_after_a_printing_diverged_is_never_an_echo() -> None:
    # The second printing's first row is new; its second row equals the first printing's first row, but a printing
    # that has printed a row of its own repeats nothing any more.
    text = "| step | loss |\n|    1 |  0.5 |\n| step | loss |\n|    2 |  0.4 |\n|    1 |  0.5 |\n"
    steps = [e for e in parse_text(text) if isinstance(e, StepMetrics)]
    assert [s.step for s in steps] == [1, 2, 1]


def test_another_tables_rows_are_no_echo_of_the_last_printing() -> None:
    # Table A printed, then again up to its first row; then table B, whose row reads like A's second: B's is read.
    a, b = "| step | loss |", "| step | val_loss |"
    text = f"{a}\n|    1 |  0.5 |\n|    2 |  0.4 |\n{a}\n|    1 |  0.5 |\n{b}\n|    2 |  0.4 |\n"
    events = parse_text(text)
    assert [(e.line, e.name, e.value) for e in events if isinstance(e, EvalMetric)] == [(7, "val_loss", 0.4)]
