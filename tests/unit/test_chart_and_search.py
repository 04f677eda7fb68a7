"""The dashboard's pure helpers: braille charts with axes, smart-case search patterns, record extents."""

from __future__ import annotations

import re

import pytest

from hwmon.tui.chart import ChartView, render_chart, steps_to_time
from hwmon.tui.search import compile_pattern, record_extent

LOSS = [(float(step), 10.0 / (1 + 0.02 * step / 100)) for step in range(100, 20001, 100)]


def plain(rows: list) -> list[str]:
    return [row.plain for row in rows]


def test_chart_has_y_labels_axis_and_x_labels_in_steps() -> None:
    rows = plain(render_chart(LOSS, width=60, height=6))
    assert len(rows) == 6 and all(len(row) <= 60 for row in rows)
    # y ticks (dashboard v3): round values inside the range, on the rows where they fall, every one different.
    labels = [row.split("┤")[0].strip() for row in rows[:-1] if "┤" in row]
    assert labels == ["8", "6", "4", "2"]
    # x axis: round whole steps.
    assert rows[-1].split() == ["└", "5k", "10k", "15k", "20k"]
    # The line is drawn in braille: falling from top-left to bottom-right.
    plot = [row.split("┤" if "┤" in row else "│", 1)[1] for row in rows[:-1]]
    assert any(ch != " " for ch in plot[0][:5]) and any(ch != " " for ch in plot[-1][-5:])
    assert all(ch == " " for ch in plot[-1][:10])


def test_chart_is_readable_at_80x24_sizes() -> None:
    rows = plain(render_chart(LOSS, width=78, height=4))
    assert len(rows) == 4 and "┤" in rows[0] and rows[-1].lstrip().startswith("└")


def test_eval_markers_log_scale_and_zoom() -> None:
    rows = plain(render_chart(LOSS, width=60, height=6, markers=[(10000.0, 5.0)]))
    assert sum(row.count("◆") for row in rows) == 1
    linear = plain(render_chart([(1.0, 1.0), (2.0, 10.0), (3.0, 1000.0)], width=40, height=6))
    logged = plain(
        render_chart([(1.0, 1.0), (2.0, 10.0), (3.0, 1000.0)], width=40, height=6, view=ChartView(log_y=True))
    )
    assert linear[0].startswith("1000┤") and logged[0].startswith("1000┤")
    assert linear != logged  # the middle point moves up on a log scale
    # On a log scale the ticks are decades, not 500.
    assert [row.split("┤")[0].strip() for row in logged[:-1] if "┤" in row] == ["1000", "100", "10", "1"]
    zoomed = plain(render_chart(LOSS, width=60, height=6, view=ChartView(zoom=2)))
    assert zoomed[-1].split()[:2] == ["└", "16k"]


def test_log_scale_drops_non_positive_values_and_says_so_when_none_are_left() -> None:
    rows = plain(render_chart([(1.0, -1.0), (2.0, 0.0)], width=40, height=4, view=ChartView(log_y=True)))
    assert "no positive values" in rows[0]


def test_empty_and_flat_series() -> None:
    assert "no loss yet" in plain(render_chart([], width=40, height=4, empty="no loss yet"))[0]
    flat = plain(render_chart([(1.0, 2.0), (2.0, 2.0)], width=40, height=4))
    assert any("2" in row for row in flat) and len(flat) == 4


def test_non_finite_values_are_not_plotted() -> None:
    rows = plain(render_chart([(1.0, 1.0), (2.0, float("nan")), (3.0, float("inf")), (4.0, 2.0)], width=40, height=4))
    assert rows[0].lstrip().startswith("2┤")


def test_steps_to_time_interpolates_and_needs_timing() -> None:
    times = [(100.0, 1000.0), (200.0, 1010.0), (300.0, 1030.0)]
    assert steps_to_time([(150.0, 1.0), (300.0, 2.0), (400.0, 3.0)], times) == [(5.0, 1.0), (30.0, 2.0)]
    assert steps_to_time([(150.0, 1.0)], [(100.0, 5.0), (200.0, 5.0)]) == []  # all arrived at once


@pytest.mark.parametrize(
    ("term", "text", "hit"),
    [
        ("loss=7", "Loss=7.1", True),  # lower case: case-insensitive
        ("Loss=7", "loss=7.1", False),  # a capital: case-sensitive
        (r"\S+=7\.1", "loss=7.1", True),  # \S is an escape, not a capital
        (r"Loss=7\.1", "Loss=7x1", False),  # \. is a literal dot
    ],
)
def test_smart_case_regex(term: str, text: str, hit: bool) -> None:
    assert (compile_pattern(term).search(text) is not None) is hit


def test_invalid_regex_raises_re_error() -> None:
    with pytest.raises(re.error):
        compile_pattern("(unclosed")


TRACEBACK = [
    "step 10 loss 2.0",
    "Traceback (most recent call last):",
    '  File "train.py", line 3, in <module>',
    "    main()",
    "RuntimeError: device lost",
    "step 11",
    "Model(",
    "  (fc): Linear(in_features=2, out_features=1)",
    ")",
    "done",
]


@pytest.mark.parametrize(("index", "extent"), [(0, (0, 1)), (1, (1, 5)), (3, (1, 5)), (4, (1, 5)), (5, (5, 6))])
def test_record_extent_of_a_traceback(index: int, extent: tuple[int, int]) -> None:
    assert record_extent(TRACEBACK, index) == extent


def test_record_extent_of_a_module_tree() -> None:
    assert record_extent(TRACEBACK, 7) == (6, 9)
    assert record_extent(TRACEBACK, 6) == (6, 9)
    assert record_extent([], 0) == (0, 0)


def test_a_restarting_step_counter_is_laid_end_to_end() -> None:
    from hwmon.tui.chart import continuous_steps

    per_epoch = [(0.0, 5.0), (100.0, 4.0), (200.0, 3.0), (0.0, 2.5), (100.0, 2.0), (200.0, 1.5)]
    points, restarts = continuous_steps(per_epoch)
    assert restarts == 1
    assert [x for x, _ in points] == [0.0, 100.0, 200.0, 300.0, 400.0, 500.0]
    assert [y for _, y in points] == [y for _, y in per_epoch]
    assert continuous_steps(LOSS) == (LOSS, 0)


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("2025-02-11 09:23:33,023 WARNING:   disk slow", True),
        ("2025-02-11 09:23:33,023 ERROR:   device lost", True),
        # The record level decides: an INFO line is not an error whatever its words say.
        ("2025-02-11 09:23:33,023 INFO:   0 failed, 12 passed", False),
        ("E0711 18:04:02.654472867  609793 file.cc:12] bad thing", True),
        ("Traceback (most recent call last):", True),  # no level: what it looks like
        ("step 5 loss 1.0", False),
    ],
)
def test_errors_filter_uses_record_levels(line: str, shown: bool) -> None:
    from hwmon.tui.search import is_error_or_warning

    assert is_error_or_warning(line) is shown
