"""Eval metrics only from an evaluation's results (h17c, issue 17): a data scan's counts (``100 found, 0 missing``),
sizes (``(0.1GB RAM)``), an evaluation set's size, file names and words ending a sentence are not eval metrics; a
column table whose header names metrics (``P R mAP50 mAP50-95``) gives its result row (``all ...``) as eval metrics
by the header's names, per-class rows are detail, and the training table's rows read on after it. Lines written for
these tests, in the shapes such scripts print."""

from __future__ import annotations

import pytest
from tests.helpers.chunking import parse_text

from hwmon.events import EvalMetric, StepMetrics
from hwmon.parsers.fields import count_after, field_role, is_count_name

parse = parse_text


def evals(text: str) -> list[tuple[int, str, float]]:
    return [(e.line, e.name, round(e.value, 6)) for e in parse(text) if isinstance(e, EvalMetric)]


@pytest.mark.parametrize(
    "line",
    [
        "val: Scanning /data/val/labels... 100 found, 0 missing, 0 empty, 0 corrupt: 100%|####| 100/100",
        "Validation data: 5000 images (0.1GB RAM)",
        "Caching val images (0.1GB RAM): 100%|####| 100/100",
        "eval dataset: loaded 500 samples from val.json",
        "Evaluating on eval_data.tsv: 2000 lines.",
        "val set: valid.bin 123456789 tokens",
        "valid.bin 123456789",
        "Validation... 100",
        "eval batch size 32",
        "test samples: 10000",
        # A configuration's cadences and sizes, printed as settings ("val_freq: 800.0" in an options dump).
        "    val_freq: 800.0",
        "  eval_interval: 500",
        "Number of val images/folders in koniq: 1000",
    ],
)
def test_data_lines_of_an_evaluation_are_no_metrics(line: str) -> None:
    assert evals(f"{line}\n{line}\n") == []


def test_a_metric_beside_a_count_is_still_a_metric() -> None:
    text = "eval: acc 0.5 over 500 samples, tokens/s 300\neval: acc 0.6 over 500 samples, tokens/s 310\n"
    assert evals(text) == [(1, "acc", 0.5), (2, "acc", 0.6)]


def test_the_vocabulary() -> None:
    assert count_after(" found, 0 missing") and count_after("GB RAM)") and count_after(" images")
    assert not count_after(" tokens/s") and not count_after(" samples per second") and not count_after(", loss")
    assert field_role("valid.bin") is None and field_role("scanning...") is None and field_role("./data") is None
    assert field_role("validation data") == "metric" and field_role("val loss") == "eval"
    assert is_count_name("images") and is_count_name("instances") and not is_count_name("map50")


TABLES = (
    "   epoch   gpu_mem  box_loss  cls_loss  instances   size\n"
    "     1/3     2.51G     1.234     2.345         40    640: 100%|##########| 50/50 [00:10<00:00, 4.9it/s]\n"
    "   class    images  instances      P      R   mAP50  mAP50-95: 100%|##########| 4/4 [00:01<00:00, 3.1it/s]\n"
    "     all       100        200  0.612  0.534   0.571     0.402\n"
    "     cat        50        100  0.700  0.600   0.600     0.500\n"
    "     2/3     2.51G     1.134     2.245         42    640: 100%|##########| 50/50 [00:10<00:00, 4.9it/s]\n"
    "   class    images  instances      P      R   mAP50  mAP50-95: 100%|##########| 4/4 [00:01<00:00, 3.1it/s]\n"
    "     all       100        200  71.2   63.4    67.1      50.2\n"
)


def test_an_evaluation_table_gives_its_result_row_by_the_headers_names() -> None:
    assert evals(TABLES) == [
        (4, "p", 0.612),
        (4, "r", 0.534),
        (4, "map50", 0.571),
        (4, "map50-95", 0.402),
        (8, "p", 0.712),
        (8, "r", 0.634),
        (8, "map50", 0.671),
        (8, "map50-95", 0.502),
    ]


def test_training_rows_read_on_after_an_evaluation_table() -> None:
    steps = [e for e in parse(TABLES) if isinstance(e, StepMetrics) and e.mode == "train"]
    assert [(s.line, s.epoch, s.loss) for s in steps] == [(2, 1.0, 1.234), (6, 2.0, 1.134)]


def test_a_line_of_metric_names_that_no_labelled_row_follows_is_prose() -> None:
    assert evals("precision and recall are shown\nthen 3 more lines 1 2\n") == []


def test_the_tables_do_not_depend_on_the_chunking() -> None:
    assert parse(TABLES, 1) == parse(TABLES) == parse(TABLES, 7)


def test_a_config_sections_sizes_under_a_test_heading_are_no_metrics() -> None:
    # A YACS-style config dump: "TEST:" heads a section of settings, not an evaluation's results.
    config = "TEST:\n  BASE_SIZE: 2048\n  BATCH_SIZE_PER_GPU: 6\n  NUM_SAMPLES: 100\nTRAIN:\n  LR: 0.01\n"
    assert evals(config) == []
    assert evals("Test results:\n  accuracy: 0.91\n  eval_freq: 5\n") == [(2, "accuracy", 0.91)]
