"""How a log says its run ended well (h17c, issue 17): the broad end vocabulary as data (``evidence.END_PHRASES``,
strong and tentative rows) and the provisional success the reducer draws from a run that reached its stated target
(``hwmon.model.reducer.ending``: rule ``evidence:target-reached``), with what withdraws it: a later training step, a
target moved past the step, an error after it, a crash. Every log here is written for these tests, in the shapes
training scripts print."""

from __future__ import annotations

import random

import pytest

from hwmon.events import RunCompleted
from hwmon.model.reducer import apply
from hwmon.model.state import RunState
from hwmon.model.summary import summary_dict
from hwmon.parsers.stream import StreamParser
from hwmon.sources.read import summarize_bytes

TRACEBACK = 'Traceback (most recent call last):\n  File "train.py", line 3, in <module>\nRuntimeError: boom\n'


def ends(line: str) -> list[tuple[str, bool]]:
    parser = StreamParser()
    events = parser.feed((line + "\n").encode()) + parser.finish()
    return [(e.rule, e.tentative) for e in events if isinstance(e, RunCompleted)]


def status(text: str) -> tuple[str, str | None]:
    state = summarize_bytes(text.encode(), "t")
    source = summary_dict(state)["provenance"]
    assert isinstance(source, dict)
    rule = source.get("status", {}).get("rule")
    return state.status, rule


def steps(first: int, last: int, target: int | None = None) -> str:
    of = f"/{target}" if target is not None else ""
    return "".join(f"step {i}{of} loss {5 - i * 0.01:.4f}\n" for i in range(first, last + 1))


def per_epoch(epochs: int, of: int, batches: int) -> str:
    return "".join(
        f"Epoch [{e}/{of}] Step [{b}/{batches}] loss: {3 - e * 0.1 - b * 0.001:.4f}\n"
        for e in range(1, epochs + 1)
        for b in range(1, batches + 1)
    )


def epoch_headers(epochs: int, of: int) -> str:
    return "".join(
        f"Epoch {e}/{of}\n" + "".join(f"iter {i} loss {2 - i * 0.01:.3f}\n" for i in range(1, 6))
        for e in range(1, epochs + 1)
    )


# --- the vocabulary ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Finished Training",
        "Training complete in 3m 2s",
        "==== Training finished ====",
        "2024-05-01 12:00:00,123 - __main__ - INFO - Training finished in 1:02:03",
        "INFO:__main__:Finished training",
        "[INFO] Model training is done",
        "End of training",
        "Training has been completed successfully.",
        "Training complete. Best weights at: out/best.pt",
        "Training finished. Final val acc 0.91",
        "End training....",
    ],
)
def test_strong_end_phrases(line: str) -> None:
    assert ends(line) == [("generic:training_finished", False)]


@pytest.mark.parametrize(
    ("line", "row"),
    [
        ("Done", "done"),
        ("Done!", "done"),
        ("Finished.", "done"),
        ("Run complete", "done"),
        ("Experiment finished in 2h 3m", "done"),
        ("Training time 0:12:34", "total_time"),
        ("Total time: 1:02:03", "total_time"),
        ("Elapsed: 812.3s", "total_time"),
        ("Time elapsed: 3m 2s", "total_time"),
        ("Total elapsed time: 1 day, 2:03:04", "total_time"),
        ("Saved final model to out/model.pt", "final_model"),
        ("Final model saved at out/", "final_model"),
        ("Early stopping triggered at epoch 40. Best val mae: 3.2", "early_stopping"),
        ("Early stopping at epoch 12", "early_stopping"),
        ("2024-05-01 12:00:00,123 - INFO - Early stopping!", "early_stopping"),
    ],
)
def test_tentative_end_phrases(line: str, row: str) -> None:
    assert ends(line) == [(f"generic:{row}", True)]


@pytest.mark.parametrize(
    "line",
    [
        "I finished reading the config",
        "Loading data... done",
        "Epoch 3 done",
        "Best model saved to out/best.pt",
        "Done (t=0.52s)",
        "Training time per step: 0.5s",
        "done: 3/10",
        "100%|##########| 20/20 [00:02<00:00, 9.8it/s] done",
        "Training complete. Starting the next stage",
        "Training complete for epoch 3",
        "EarlyStopping counter: 3 out of 10",
        "Early stopping patience: 5",
        "early stopping is on",
    ],
)
def test_mid_run_lines_are_no_end(line: str) -> None:
    assert ends(line) == []


# --- a tentative end counts after training began, and only when no training step follows ---------------------------


def test_a_tentative_end_after_the_steps_is_a_success() -> None:
    assert status(steps(1, 5) + "Done\n") == ("succeeded", "generic:done")
    assert status(steps(1, 5) + "Training time 0:12:34\n") == ("succeeded", "generic:total_time")


def test_a_tentative_end_before_training_or_followed_by_steps_is_not() -> None:
    assert status("Done\n" + steps(1, 5))[0] == "unknown"
    assert status(steps(1, 5) + "Done\n" + steps(6, 8))[0] == "unknown"


# --- the stated target reached ----------------------------------------------------------------------------------


def test_the_last_step_at_its_target_is_a_success_named_by_its_rule() -> None:
    assert status(steps(1, 100, 100)) == ("succeeded", "evidence:target-reached")
    state = summarize_bytes(steps(1, 100, 100).encode(), "t")
    assert summary_dict(state)["provenance"]["status"] == {"line": 100, "rule": "evidence:target-reached"}


def test_a_counter_from_zero_ends_one_short_of_its_target() -> None:
    text = "".join(f"step {i}/100 loss {5 - i * 0.01:.4f}\n" for i in range(0, 100))
    assert status(text) == ("succeeded", "evidence:target-reached")
    # ... but a counter from 1 that stops one short was cut.
    assert status(steps(1, 99, 100))[0] == "unknown"


def test_a_cut_log_is_no_success() -> None:
    assert status(steps(1, 50, 100)) == ("unknown", None)


def test_a_crash_after_the_last_step_fails() -> None:
    assert status(steps(1, 100, 100) + TRACEBACK)[0] == "failed"


def test_an_error_after_the_last_step_withdraws_the_success() -> None:
    assert status(steps(1, 100, 100) + "ERROR: could not upload the results\n")[0] == "unknown"


def test_a_target_restated_by_the_next_run_withdraws_the_success() -> None:
    # A resumed run states a new target and goes on; cut before it.
    assert status(steps(1, 100, 100) + steps(101, 150, 200))[0] == "unknown"
    assert status(steps(1, 100, 100) + steps(101, 200, 200)) == ("succeeded", "evidence:target-reached")


def test_a_per_epoch_counter_at_its_total_ends_the_run_only_in_the_last_epoch() -> None:
    assert status(per_epoch(3, 3, 10)) == ("succeeded", "evidence:target-reached")
    assert status(per_epoch(2, 3, 10))[0] == "unknown"


def whole_run_counter(epochs: int, per: int, total: int, every: int = 5) -> str:
    return "".join(
        f"[fit] epoch={e} step={s}/{total} loss={90 - s * 0.1:.3f}\n"
        for e in range(1, epochs + 1)
        for s in range((e - 1) * per + 1, e * per + 1)
        if s % every == 0 or s == 1
    )


def test_a_whole_run_counter_at_its_total_ends_the_run_without_an_epoch_total() -> None:
    # The step counter goes on across epochs (it never starts again) and the epochs' total is not printed.
    assert status(whole_run_counter(4, 20, 80)) == ("succeeded", "evidence:target-reached")
    assert status(whole_run_counter(3, 20, 80))[0] == "unknown"


def test_a_per_epoch_counter_at_its_total_is_no_end_without_the_epochs_total() -> None:
    per_epoch_total = "".join(
        f"[fit] epoch={e} step={s}/20 loss={9 - s * 0.1:.3f}\n" for e in range(1, 4) for s in range(1, 21)
    )
    assert status(per_epoch_total)[0] == "unknown"
    # Cut at the end of the first epoch: the counter at its total may be the epoch's own.
    assert status(per_epoch_total.split("epoch=2", 1)[0].rsplit("\n", 1)[0] + "\n")[0] == "unknown"


def test_the_last_epochs_summary_line_ends_the_run() -> None:
    summaries = "".join(f"Epoch {e}/5 - loss: {3 - e * 0.1:.4f} - acc: 0.{e}\n" for e in range(1, 6))
    assert status(summaries) == ("succeeded", "evidence:target-reached")
    assert status(summaries.rsplit("Epoch 5", 1)[0])[0] == "unknown"


def test_a_final_evaluation_after_the_last_epoch_ends_the_run() -> None:
    test_block = "Test results:\n  accuracy: 0.91\n"
    assert status(epoch_headers(3, 3) + test_block) == ("succeeded", "evidence:target-reached")
    assert status(epoch_headers(3, 3))[0] == "unknown"  # steps of the last epoch, no evaluation: maybe cut
    assert status(epoch_headers(2, 3) + test_block)[0] == "unknown"  # an evaluation of an earlier epoch


def test_a_provisional_success_is_running_again_live_when_the_log_goes_on() -> None:
    parser, state = StreamParser(), RunState()
    for event in parser.feed(steps(1, 100, 100).encode()):
        apply(state, event, 1.0)
    assert state.status == "succeeded"
    for event in parser.feed(steps(101, 102, 200).encode()):
        apply(state, event, 2.0)
    assert state.status == "running"


@pytest.mark.parametrize("seed", [0, 1])
def test_the_end_decision_does_not_depend_on_the_chunking(seed: int) -> None:
    text = (per_epoch(3, 3, 4) + "Done\n").encode()
    whole = summarize_bytes(text, "t")
    rng = random.Random(seed)
    parser, state = StreamParser(), RunState(source="t")
    i = 0
    while i < len(text):
        n = 1 if seed == 0 else rng.randint(1, 40)
        for event in parser.feed(text[i : i + n]):
            apply(state, event, None)
        i += n
    for event in parser.finish():
        apply(state, event, None)
    assert (
        (state.status, state.provisional_end)
        == (whole.status, whole.provisional_end)
        == (
            "succeeded",
            "evidence:target-reached",
        )
    )


def relaunch(epochs: int) -> str:
    return "".join(
        f"2031-01-02 03:04:05.678 | INFO | loop - epoch: {e}/{epochs}, iter: {i}/4, total_loss: {9 - e - i / 10:.1f}\n"
        for e in range(1, epochs + 1)
        for i in (2, 4)
    )


def test_a_launch_appended_after_a_crash_is_a_new_run() -> None:
    crashed = relaunch(2) + TRACEBACK
    state = summarize_bytes((crashed + relaunch(3) + "Training complete.\n").encode(), "t")
    assert (state.status, state.runs, state.last_step.epoch if state.last_step else None) == ("succeeded", 2, 3.0)
    # The same steps again after a crash, but further on (a rank's echo, a resumed loop): the same run, failed.
    echo = "2031-01-02 03:04:06.000 | INFO | loop - epoch: 2/2, iter: 4/4, total_loss: 0.5\n"
    state = summarize_bytes((crashed + echo).encode(), "t")
    assert (state.status, state.runs) == ("failed", 1)


def test_a_step_behind_read_by_another_reader_after_the_end_is_no_new_launch() -> None:
    # A stray line after the run's end (another template, an earlier epoch): not a launch of its own.
    text = relaunch(2) + "Training complete.\n" + "epoch 0.0 loss 3\n"
    state = summarize_bytes(text.encode(), "t")
    assert (state.status, state.runs) == ("succeeded", 1)


def test_a_run_that_goes_on_long_after_a_traceback_outlived_it() -> None:
    lines = [f"2031-01-02 03:04:05 INFO step {i} loss {1 / i:.4f}" for i in range(1, 11)]
    after = [f"2031-01-02 03:04:06 INFO step {i} loss {1 / i:.4f}" for i in range(11, 60)]
    from hwmon.model.reducer.steps import OUTLIVED

    outlived = "\n".join([*lines, TRACEBACK.rstrip("\n"), *after[:OUTLIVED]]) + "\n"
    assert summarize_bytes(outlived.encode(), "t").status == "unknown"
    # Fewer steps after it: a rank's last lines before the launcher stops it: failed.
    short = "\n".join([*lines, TRACEBACK.rstrip("\n"), *after[: OUTLIVED - 1]]) + "\n"
    assert summarize_bytes(short.encode(), "t").status == "failed"


def test_the_supervisors_record_of_a_failure_is_not_outlived() -> None:
    from hwmon.events import ErrorSeen, RunOutcome, StepMetrics
    from hwmon.model.reducer.steps import OUTLIVED

    state = RunState(source="t")
    apply(state, StepMetrics(1, None, 1, loss=0.5))
    apply(state, ErrorSeen(2, None, "RuntimeError: boom", True, "traceback"))
    apply(state, RunOutcome(3, None, "failed", exit_code=1))
    for i in range(OUTLIVED + 5):
        apply(state, StepMetrics(4 + i, None, 2 + i, loss=0.4))
    assert state.status == "failed"
