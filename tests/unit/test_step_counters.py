"""Step counters of more loop shapes (h17c, issue 17): boosting rounds ``[N]\\tset's metric: v`` (the training set's
error is the loss, a validation set's metrics are eval; ``[N]`` with a tab is a round, not a launcher's rank
prefix), ``[N] k=v`` behind a logger prefix, JSON lines whose counter is nested (``metadata.step``) or named its own
way (``iteration``, ``epoch_num``), a per-epoch batch counter ``[E][b/N]``, ``Epoch E/N ... Step S/M``, and an
evaluation's ``total loss`` after training that is not the training loss. Lines written for these tests."""

from __future__ import annotations

import json

from hwmon.events import Event, StepMetrics
from hwmon.model.state import RunState
from hwmon.parsers.fields import field_role
from hwmon.parsers.records import strip_prefix
from hwmon.parsers.stream import StreamParser
from hwmon.sources.read import summarize_bytes


def state(text: str) -> RunState:
    return summarize_bytes(text.encode(), "t")


def parse(text: str, chunk: int) -> list[Event]:
    parser = StreamParser()
    data = text.encode()
    out: list[Event] = []
    for i in range(0, len(data), chunk):
        out.extend(parser.feed(data[i : i + chunk]))
    return out + parser.finish()


def last(st: RunState) -> tuple[float | None, float | None]:
    return (st.steps.last[0] if st.steps.last else None, round(st.loss.last[1], 6) if st.loss.last else None)


ROUNDS = "".join(f"[{i}]\ttrain's l1: {1 / i:.4f}\tvalid_1's l1: {1.1 / i:.4f}\n" for i in range(1, 6))


def test_boosting_rounds_with_a_sets_metrics() -> None:
    st = state(ROUNDS)
    assert last(st) == (5.0, 0.2)
    assert st.eval == {"valid_1's_l1": 0.22}
    logloss = "".join(
        f"[{i}]\ttraining's binary_logloss: {1 / i:.4f}\tvalid_1's auc: 0.{80 + i}\n" for i in range(1, 6)
    )
    st = state(logloss)
    assert last(st) == (5.0, 0.2) and st.eval == {"valid_1's_auc": 0.85}
    dashed = "".join(f"[{i}]\ttrain-rmse:{1 / i:.5f}\teval-rmse:{1.1 / i:.5f}\n" for i in range(1, 6))
    st = state(dashed)
    assert last(st) == (5.0, 0.2) and st.eval == {"eval-rmse": 0.22}


def test_a_round_is_not_a_rank_but_a_spaced_bracket_still_is() -> None:
    assert strip_prefix("[3]\ttrain's l1: 0.5") == ("[3]\ttrain's l1: 0.5", None)
    assert strip_prefix("[3] hello") == ("hello", 3)


def test_the_training_sets_error_is_the_loss() -> None:
    assert field_role("train's l1") == "loss" and field_role("train-rmse") == "loss"
    assert field_role("valid_1's l1") == "eval" and field_role("train's auc") == "metric"


def test_bracketed_rounds_behind_a_logger_prefix() -> None:
    text = "".join(
        f"I1207 12:00:0{i}.123456 140 train.py:55] [{i * 100}] loss={1 / i:.4f}, accuracy={0.5 + i / 20:.3f}\n"
        for i in range(1, 6)
    )
    assert last(state(text)) == (500.0, 0.2)


def test_json_counters_nested_or_named_their_own_way() -> None:
    nested = "".join(
        json.dumps({"key": "train_loss", "value": round(1 / i, 4), "metadata": {"step": i * 10}}) + "\n"
        for i in range(1, 6)
    )
    assert last(state(nested)) == (50.0, 0.2)
    own = "".join(
        json.dumps({"epoch_num": i, "iteration": i * 50, "loss": round(1 / i, 4), "lr": 0.1}) + "\n"
        for i in range(1, 6)
    )
    st = state(own)
    assert last(st) == (250.0, 0.2) and st.last_step is not None and st.last_step.epoch == 5.0


def test_a_per_epoch_batch_counter_in_brackets() -> None:
    text = "".join(f"[{e}][{b}/50] loss: {2 / e - b / 1000:.4f}\n" for e in range(1, 4) for b in (10, 20, 30, 40, 50))
    st = state(text)
    assert last(st) == (50.0, 0.6167)
    assert st.last_step is not None and st.last_step.epoch == 3.0 and st.target_step == 50
    assert st.runs == 1  # the batch counter starting again each epoch is not a new run


def test_epoch_and_step_with_their_totals() -> None:
    text = "".join(
        f"Epoch {e}/3, Step {s}/20, Loss: {2 / e - s / 1000:.4f}\n" for e in range(1, 4) for s in (5, 10, 20)
    )
    st = state(text)
    assert last(st) == (20.0, 0.6467) and (st.target_step, st.target_epochs) == (20, 3)
    assert st.status == "succeeded"


def test_an_evaluations_total_loss_is_not_the_training_loss() -> None:
    text = "".join(f"iter {i} total loss: {2 / i:.4f}\n" for i in range(1, 6))
    st = state(text + "eval at iter 5: total loss: 9.9000, acc 0.5\n")
    assert last(st) == (5.0, 0.4) and st.eval["total_loss"] == 9.9


def test_the_counters_do_not_depend_on_the_chunking() -> None:
    text = ROUNDS + "".join(f"[{e}][{b}/50] loss: 0.{e}{b}\n" for e in range(1, 3) for b in (10, 50))
    whole = parse(text, 1 << 20)
    assert parse(text, 1) == whole == parse(text, 5)
    assert [e.step for e in whole if isinstance(e, StepMetrics)] == [1, 2, 3, 4, 5, 10, 50, 10, 50]
