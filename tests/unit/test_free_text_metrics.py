"""Metrics in free text no rule was written for (h17g, issue 17): ``loss is X`` / ``loss was X`` phrasing, a line
led by an evaluation's word (``DEV :``, ``valid``, ``test``) whose metrics are eval metrics and never the training
loss, and the last training loss being the last one printed (a line held until the end does not stand after newer
ones). Every fixture is written for these tests."""

from __future__ import annotations

import pytest
from tests.helpers.chunking import assert_chunking_invariant, parse_text, stream_events

from hwmon.events import EvalMetric, StepMetrics
from hwmon.model.state import RunState
from hwmon.sources.read import summarize_bytes


def state(text: str) -> RunState:
    return summarize_bytes(text.encode(), "t")


def test_loss_is_and_loss_was() -> None:
    text = "".join(f"epoch: {e} step: 50, loss is {1 / e:.4f}\n" for e in range(1, 5))
    st = state(text)
    assert st.loss.last is not None and st.loss.last[1] == 0.25
    text = "".join(f"iter {i}: the loss was {2 / i:.3f}\n" for i in range(1, 4))
    st = state(text)
    assert st.steps.last is not None and st.steps.last[0] == 3 and st.loss.last is not None
    assert st.loss.last[1] == 0.667


def test_a_verb_in_a_name_is_kept_when_it_is_the_name() -> None:
    from hwmon.parsers.templates import _name_before

    assert _name_before("epoch 3, loss is ")[0] == "loss"
    assert _name_before("train loss was ")[0] == "train loss"
    assert _name_before("this ")[0] == "this"  # a word ending like a verb is not cut


TRAIN = "".join(
    f"2024-05-01 10:00:0{i} ep 1 - it {i * 10}/40 - loss {3 - i * 0.1:.4f} - lr: 0.1\n" for i in range(1, 5)
)


def test_a_line_led_by_a_sets_word_gives_that_sets_metrics() -> None:
    text = TRAIN + "2024-05-01 10:00:09 DEV : loss 2.5 - f1-score (micro avg)  0.41\n"
    st = state(text)
    assert st.loss.last is not None and st.loss.last[1] == 2.6  # the dev loss is not the training loss
    assert st.eval == {"loss": 2.5, "f1-score_(micro_avg)": 0.41}  # the names as printed (keys are never renamed)
    text = TRAIN + "valid: loss 0.9, acc 71.5\n"
    st = state(text)
    assert st.loss.last is not None and st.loss.last[1] == 2.6
    assert st.eval == {"loss": 0.9, "acc": 0.715}


def test_a_train_line_keeps_its_names() -> None:
    st = state("".join(f"train: step {i} loss {1 / i:.2f}\n" for i in range(1, 4)))
    assert st.eval == {} and st.loss.last is not None and st.loss.last[1] == 0.33


def test_the_last_printed_training_loss_wins() -> None:
    # A bar printed once (held: its numbers' meaning unknown) comes before newer epoch summaries.
    text = (
        "Epoch: 1 - train loss: 0.50 - valid loss: 0.60\n"
        "100% 10/10 [00:01<00:00, 1.00s/it, train_loss=0.45]\n"
        "Epoch: 2 - train loss: 0.45 - valid loss: 0.55\n"
        "100% 10/10 [00:01<00:00,  1.05it/s, train_loss=0.40]\n"
        "Epoch: 3 - train loss: 0.40 - valid loss: 0.50\n"
    )
    st = state(text)
    assert st.loss.last is not None and st.loss.last[1] == 0.40
    events = parse_text(text)
    train = [e for e in events if isinstance(e, StepMetrics) and e.mode == "train"]
    assert train[-1].line == 5 and train[-1].loss == 0.40
    assert [e.value for e in events if isinstance(e, EvalMetric)][-1] == 0.5


def test_a_tagged_evaluation_heading_opens_its_block() -> None:
    text = ""
    for e in range(1, 4):
        text += f"[fit] epoch: {e}/3, [50/50], loss={1 / e:.3f}\n[held-out] epoch: {e}/3\n"
        text += f"[eval] epoch: {e}/3\n- summed loss: {2 / e:.3f}\n- Top1: {0.5 + e / 10:.2f}\n"
    st = state(text)
    assert st.loss.last is not None and st.loss.last[1] == 0.333  # the block's loss is not the training loss
    assert st.eval == {"summed_loss": 0.667, "top1": 0.8}
    # A tag that is no evaluation's word opens nothing: its lines stay the loop's own.
    st = state(text.replace("[eval]", "[fit2]"))
    assert "summed_loss" not in st.eval


def test_an_epochs_summary_after_its_counted_steps_is_its_last_loss_not_one_more_step() -> None:
    # Two blind hand-readings of real logs (held-out sets 5 and 6) took the epoch's summary line as the run's last
    # training loss; it stands at that epoch's last counted step, and is not a step of its own.
    text = "".join(f"ep {e} - it {i}/3 - loss {e + i / 10 + 0.00123:.5f}\n" for e in (1, 2) for i in (1, 2, 3))
    text += "EPOCH 2 done: loss 2.2 - lr 0.1\n"
    st = state(text)
    assert st.loss.last == (3.0, 2.2)
    assert st.steps.last is not None and st.steps.last[0] == 3  # not 4
    # A loop that prints only one line per epoch: that line is its training loss.
    st = state("".join(f"EPOCH {e} done: loss {1 / e:.3f} - lr 0.1\n" for e in (1, 2, 3)))
    assert st.loss.last is not None and st.loss.last[1] == 0.333


def _glued_log() -> bytes:
    out = []
    for e in range(1, 6):
        bar = "".join(f"\r{p:3d}%|{'#' * (p // 10):10s}| {p * 40}/4000 [00:0{e}<00:01, 999.00it/s]" for p in (30, 100))
        # The last epoch's line is printed before the bar ended its line: glued behind it.
        out.append(bar + ("\n" if e < 5 else " ") + f"epoch {e}/5 (warmup 1.00, loss {1 / e:.4f}) over\n")
    return "".join(out).encode()


def test_a_line_glued_behind_a_finished_bar_is_read_as_its_own_record() -> None:
    st = summarize_bytes(_glued_log(), "t")
    assert st.steps.last is not None and st.steps.last[0] == 5
    assert st.loss.last is not None and st.loss.last[1] == 0.2
    # Read the same whatever the chunking (one byte at a time included).

    def losses(chunks: list[bytes]) -> list[float | None]:
        return [e.loss for e in stream_events(chunks) if isinstance(e, StepMetrics)]

    assert assert_chunking_invariant(losses, _glued_log())[-1] == 0.2


@pytest.mark.parametrize("prefix", ["", "INFO: ", "12:00:04 ", "12:00:04 INFO: ", "[12:00:04] INFO: "])
def test_name_value_pairs_after_the_runs_end_are_its_final_evaluation(prefix: str) -> None:
    # "Training complete." then "RMSE: 1.5, MAE: 0.9": the trained model's test, not a training step; a time of
    # day before a line (no date) is no part of its message either.
    lines = ["round 1 - loss: 0.5", "round 2 - loss: 0.4", "Training complete.", "RMSE: 1.5, R2 Score: 92.5%"]
    st = state("".join(f"{prefix}{line}\n" for line in lines))
    assert st.status == "succeeded"
    assert st.eval == {"rmse": 1.5, "r2_score": 0.925}
    assert st.loss.last is not None and st.loss.last[1] == 0.4


def test_name_value_pairs_before_the_end_or_after_a_new_runs_step_are_not_an_evaluation() -> None:
    st = state("round 1 - loss: 0.5\nRMSE: 1.5, MAE: 0.9\nround 2 - loss: 0.4\n")
    assert st.eval == {}
    text = "round 1 - loss: 0.5\nTraining complete.\nround 1 - loss: 0.7\nround 2 - loss: 0.6\nRMSE: 1.5, MAE: 0.9\n"
    assert state(text).eval == {}


def test_a_counter_rounded_to_thousands_counts_thousands() -> None:
    # Compact loggers print "step:12K smpl:384K ... loss:0.031": the step is 12 000 (to the thousand).
    text = "".join(
        f"INFO 2026-01-02 03:{k:02d}:00 loop.py:9 step:{k}K smpl:{k * 32}K loss:{1 / k:.3f}\n" for k in range(1, 13)
    )
    st = state(text)
    assert st.steps.last is not None and st.steps.last[0] == 12000
    assert st.loss.last is not None and st.loss.last[1] == 0.083


def test_a_metrics_line_that_ends_the_run_ends_it() -> None:
    # "Finish training: ..." with the run's best figure in it: the learned stage reads the figure, and the end
    # words still end the run.
    text = "".join(f"round {r}: train loss {1 / r:.4f}\n" for r in range(1, 6))
    text += "Finish training: the best validation accuracy of the net is 0.7345 in round 4.\n"
    assert state(text).status == "succeeded"


def test_a_long_step_line_of_many_fields_behind_an_actors_prefix_is_a_step() -> None:
    # An RL trainer's workers print through an actor prefix ("(Runner pid=N) "), one ~3 KB line of ~80 figures per
    # step; a configuration dump's lines do not count.
    fields = " - ".join(f"group{g}/metric{m}:{(g * 7 + m) / 13:.6f}" for g in range(16) for m in range(5))
    text = "".join(f"(Runner pid=4242) step:{s} - {fields}\n" for s in range(1, 6))
    st = state(text)
    assert len(text.splitlines()[0]) > 2000
    assert st.steps.last is not None and st.steps.last[0] == 5
