"""How a log of an unfamiliar framework says it ended well (h17g, issue 17): a tentative ``Done!`` behind a
logger's source location, the trained model written to the output directory, and a final test pass after training
validated on another split. Each is provisional (a later training step or an error withdraws it), and a false
"succeeded" is worse than unknown. Fixtures written for these tests."""

from __future__ import annotations

from hwmon.model.state import RunState
from hwmon.sources.read import summarize_bytes


def state(text: str) -> RunState:
    return summarize_bytes(text.encode(), "t")


def steps(first: int, last: int) -> str:
    return "".join(
        f"2024-01-02 10:00:{i % 60:02d},000 INFO [loop.py:88] step {i}, loss={1 / i:.4f}\n"
        for i in range(first, last + 1)
    )


def test_done_behind_a_source_location_after_training() -> None:
    st = state(steps(1, 5) + "2024-01-02 10:01:00,000 INFO [loop.py:120] Done!\n")
    assert (st.status, st.provisional_end) == ("succeeded", "generic:done")
    st = state("2024-01-02 10:00:00,000 INFO [data.py:12] Done!\n" + steps(1, 5))
    assert st.status == "unknown"  # a "Done" before training is not the run's end


def test_the_model_written_to_the_output_directory() -> None:
    st = state(steps(1, 5) + "\u2714 Saved pipeline to output directory\nresults/model-last\n")
    assert (st.status, st.provisional_end) == ("succeeded", "generic:saved_output")
    st = state(steps(1, 5) + "Saved model to outputs/checkpoints/epoch-3.pt\n")
    assert st.status == "unknown"  # a checkpoint, not the output
    st = state(steps(1, 5) + "Saved pipeline to output directory\n" + steps(6, 7))
    assert st.status == "unknown"  # training went on


def epochs(n: int) -> str:
    out = ""
    for e in range(1, n + 1):
        out += steps(e * 10 - 9, e * 10)
        out += f"Epoch: {e} - train loss: {1 / e:.3f} - valid loss: {1.1 / e:.3f}, valid error: 0.{e}\n"
    return out


def test_a_test_pass_after_fitting_on_a_validation_split() -> None:
    st = state(epochs(3) + "Epoch loaded: 3 - test loss: 0.35, test error: 0.1\n")
    assert (st.status, st.provisional_end) == ("succeeded", "evidence:test-after-fit")
    assert st.eval["test_loss"] == 0.35


def test_a_test_split_evaluated_every_epoch_is_no_end() -> None:
    text = "".join(
        steps(e * 10 - 9, e * 10) + f"Test set: loss {1 / e:.3f}, accuracy {0.5 + e / 10:.2f}\n" for e in (1, 2)
    )
    assert state(text).status == "unknown"  # no validation split: the test split is the per-epoch evaluation
    text = steps(1, 10) + "test loss: 0.500, test acc: 0.60\n"
    assert state(text).status == "unknown"  # cut after the first epoch's evaluation
    text = epochs(2) + "test loss: 0.4\n" + steps(21, 25)
    assert state(text).status == "unknown"  # training went on after it
    text = epochs(2) + "test loss: 0.4\nRuntimeError: CUDA error: device-side assert triggered\n"
    assert state(text).status != "succeeded"


def test_a_test_split_evaluated_beside_validation_every_epoch_is_no_end() -> None:
    text = "".join(
        steps(e * 10 - 9, e * 10) + f"Epoch: {e} - valid loss: {1.1 / e:.3f}\nEpoch: {e} - test loss: {1.2 / e:.3f}\n"
        for e in (1, 2, 3)
    )
    assert state(text).status == "unknown"  # the test split is part of every epoch's evaluation, not a final pass


def per_epoch_lines(n: int) -> str:
    return "".join(f"Epoch: {e}   rate: 0.01   average loss: {1 / e:.5f}\n" for e in range(1, n + 1))


def test_a_first_test_pass_after_several_epochs_and_no_validation_ends_the_run() -> None:
    st = state(per_epoch_lines(12) + "training accuracy: 0.998\ntesting accuracy: 0.991\n")
    assert (st.status, st.provisional_end) == ("succeeded", "evidence:test-after-fit")
    # After the first epoch only, it is the loop's per-epoch test (cut there): not decided.
    assert state(per_epoch_lines(1) + "testing accuracy: 0.91\n").status == "unknown"
    # Training goes on after it: withdrawn.
    st = state(per_epoch_lines(3) + "testing accuracy: 0.95\n" + "Epoch: 4   rate: 0.01   average loss: 0.2\n")
    assert st.status == "unknown"
