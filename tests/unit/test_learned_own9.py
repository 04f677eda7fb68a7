"""Shapes of hand-written loops no rule was written for (issue 17, the ninth held-out set's misses), in this project's
own words: a loop's objective named ``Error``/``cost``, a figure named ``Error`` that is no error message, convergence
and "took N s to train" as a run's end, a per-epoch counter logged every N batches falling back to N, and a run
resumed after its own end line appended to the same log."""

from __future__ import annotations

from tests.helpers.chunking import parse_text

from hwmon.events import ErrorSeen, StepMetrics
from hwmon.model.summary import summary_dict
from hwmon.sources.read import summarize_bytes


def _summary(text: str) -> dict[str, object]:
    return summary_dict(summarize_bytes(text.encode(), "loop.log"))


def _train(s: dict[str, object]) -> dict[str, dict[str, float]]:
    train = s["train"]
    assert isinstance(train, dict)
    return train


OBJECTIVE = "".join(f"Iteration: {i * 100}\tError: {1.0 / (i + 1):.9f}\n" for i in range(1, 6))


def test_a_loops_only_figure_named_error_or_cost_is_its_loss() -> None:
    steps = [e for e in parse_text(OBJECTIVE) if isinstance(e, StepMetrics)]
    assert [(s.step, s.loss) for s in steps][-1] == (500, round(1.0 / 6, 9))
    cost = "".join(f"iter {i} | cost {2.0 / i:.4f} | lr 0.01\n" for i in range(1, 6))
    assert [e.loss for e in parse_text(cost) if isinstance(e, StepMetrics)][-1] == 0.4


def test_a_split_or_top_k_error_is_no_loss() -> None:
    for name in ("top1 error", "mean abs error", "val error"):
        text = "".join(f"iter {i} | {name} {0.4 / i:.4f} | lr 0.01\n" for i in range(1, 6))
        assert all(e.loss is None for e in parse_text(text) if isinstance(e, StepMetrics)), name


def test_a_figure_named_error_is_no_error_message() -> None:
    text = OBJECTIVE + "Average error is 0.000099999\nError: 0.000099999\nError: weights file not found\n"
    errors = [e.message for e in parse_text(text) if isinstance(e, ErrorSeen)]
    assert errors == ["Error: weights file not found"]


def test_convergence_and_training_time_end_the_run() -> None:
    converged = OBJECTIVE + "SUCCESS: Model converged after 520 iterations!\nModel weights saved to file w.txt!\n"
    assert _summary(converged)["status"] == "succeeded"
    took = OBJECTIVE + "Took 1880.062200000s to train\n"
    assert _summary(took)["status"] == "succeeded"
    assert _summary(OBJECTIVE)["status"] == "unknown"
    # Not an end: a solver inside a step, a sentence about convergence.
    assert _summary(OBJECTIVE + "the inner solver has not converged yet, retrying\n")["status"] == "unknown"


def _epochs(first: int, count: int, every: int = 200, per_epoch: int = 1600) -> list[str]:
    lines: list[str] = []
    for epoch in range(first, first + count):
        for batch in range(every, per_epoch + 1, every):
            lines.append(f"train --- Current batch:{batch}/{per_epoch}  loss:[ {0.9 - epoch * 0.001:.8f}]")
        lines.append(f"Epoch [{epoch}]/[{first + count - 1}] \t Training Phase Loss: {0.07 - epoch * 1e-4:.10f}")
    return lines


def test_a_counter_logged_every_n_batches_falling_back_to_n_is_a_new_epoch_not_a_new_run() -> None:
    s = _summary("\n".join(_epochs(0, 5)) + "\n")
    assert s["runs"] == 1
    assert _train(s)["loss"]["last"] == 0.0696


def test_a_run_resumed_after_its_end_line_is_a_new_run_with_all_its_steps() -> None:
    first = [*_epochs(0, 5), "Training complete in 12m 3s", "Best validate accuracy: 0.8940"]
    resumed = _epochs(5, 3)  # 27 training lines after the end line: a loop, not a summary
    s = _summary("\n".join(first + resumed) + "\n")
    assert s["runs"] == 2 and s["status"] == "unknown"
    assert _train(s)["loss"]["last"] == 0.0693 and _train(s)["loss"]["count"] == len(resumed)
    # A few figures after the end line are what the run printed after it, not a new run.
    short = _summary("\n".join([*first, *resumed[:4]]) + "\n")
    assert short["runs"] == 1 and short["status"] == "succeeded" and _train(short)["loss"]["last"] == 0.0696


def test_a_json_record_per_epoch_with_train_loss_and_test_keys_reads_its_training_loss() -> None:
    # One JSON object per epoch (train_* and test_* keys): not a Trainer's dict, whose train_loss is only its end
    # summary's average (with train_runtime).
    lines = [
        f'{{"train_lr": 0.0001, "train_loss": {10.0 / (e + 1):.6f}, "train_loss_ce": 0.4, '
        f'"test_loss": {12.0 / (e + 1):.6f}, "test_class_error": 15.0, "epoch": {e}, "n_parameters": 41302368}}'
        for e in range(4)
    ]
    s = _summary("\n".join(lines) + "\n")
    assert _train(s)["loss"]["last"] == 2.5 and _train(s)["loss"]["count"] == 4
    evals = s["eval"]
    assert isinstance(evals, dict) and evals["test_loss"] == 3.0
    summary = '{"train_runtime": 60.0, "train_samples_per_second": 10.0, "train_loss": 0.9, "epoch": 1.0}\n'
    assert _summary(summary)["status"] == "succeeded"  # the Trainer's own end summary still ends the run


def _metric_logger(epochs: int) -> str:
    lines: list[str] = ["Will run the code on one GPU."]
    for e in range(epochs):
        for i in (0, 50, 99):
            loss = f"{3.0 - e * 0.1 - i * 1e-3:.6f} ({3.1 - e * 0.1:.6f})"
            tail = "time: 0.16  max mem: 997"
            lines.append(f"Epoch: [{e}]  [{i:>2}/100]  eta: 0:00:0{i % 7}  lr: 0.0004  loss: {loss}  {tail}")
        lines.append(f"Averaged stats: lr: 0.0004  loss: {2.9 - e * 0.1:.6f} ({3.0 - e * 0.1:.6f})")
        for i in (0, 20, 39):
            lines.append(
                f"Test:  [{i:>2}/40]  eta: 0:00:01  loss: 11.5 (11.5)  acc1: 0.25 (0.48)  acc5: 1.5 (1.6)"
                "  time: 0.16  data: 0.0001  max mem: 997"
            )
        lines.append(f"* Acc@1 {0.48 + e:.3f} Acc@5 1.670 loss 11.546")
    return "\n".join(lines) + "\n"


def test_a_test_passs_top_k_summary_with_its_loss_is_an_evaluation_not_the_training_loss() -> None:
    s = _summary(_metric_logger(3))
    # (The epoch's "Averaged stats" line right after its last counted step details it: no step of its own.)
    assert _train(s)["loss"]["last"] == 2.701 and _train(s)["steps"]["last"] == 99
    evals = s["eval"]
    assert isinstance(evals, dict) and evals["acc@1"] == 0.0248 and evals["loss"] == 11.546
    # An evaluation's clock and memory are no results of it.
    assert not {"eta", "max_mem", "time", "data"} & set(evals)
    assert s["vendor"] == "gpu"  # "Will run the code on one GPU."


def test_an_epoch_summary_with_top_k_figures_keeps_its_training_loss() -> None:
    text = "".join(f"Epoch {e}: loss {1.0 / e:.4f} top1 {0.5 + e / 100:.3f} top5 0.9\n" for e in range(1, 6))
    s = _summary(text)
    assert _train(s)["loss"]["last"] == 0.2


def _detailed(iters: int) -> str:
    lines: list[str] = []
    for i in range(10, iters + 1, 10):
        lines += [
            "Timer: 0.6698",
            f"epoch:{i // 100} || iter:{i} || Loss:{5.0 - i / 1000:.4f}",
            f"->> pal1 conf loss:{1.6 + i / 1e4:.4f} || pal1 loc loss:1.2591",
            f"->> pal2 conf loss:{1.4 + i / 1e4:.4f} || pal2 loc loss:1.1041",
            "->>lr:0.0005",
        ]
    return "\n".join(lines) + "\n"


def test_loss_lines_without_a_count_right_under_a_counted_step_detail_it() -> None:
    s = _summary(_detailed(300))
    assert _train(s)["steps"]["last"] == 300 and _train(s)["loss"]["last"] == 4.7
    assert _train(s)["loss"]["count"] == 30
    # Such lines on their own (no counted step above them) are still the loop's steps, numbered by order.
    alone = "".join(f"->> pal1 conf loss:{1.6 + i / 1e4:.4f} || pal1 loc loss:1.2591\n" for i in range(8))
    assert _train(_summary(alone))["loss"]["count"] == 8


POSE = """\
[INFO] epoch 3
100%|##########| 3517/3517 [24:56<00:00,  2.35it/s]
[INFO] Evaluation
100%|##########| 431/431 [01:46<00:00,  4.03it/s]
Protocol #1 Error (MPJPE): 43.09187068912388 mm
Acceleration error: 0.8748928847872492 mm/s^2
Protocol #2 Error (P-MPJPE): 35.46982332950538 mm
----------
"""


def test_an_evaluation_headed_by_its_word_alone_gives_its_named_results_with_units() -> None:
    evals = _summary(POSE)["eval"]
    assert evals == {
        "protocol_#1_error_(mpjpe)": 43.09187068912388,
        "acceleration_error": 0.8748928847872492,
        "protocol_#2_error_(p-mpjpe)": 35.46982332950538,
    }
    # Without the heading these are no evaluation's results.
    assert _summary(POSE.replace("[INFO] Evaluation\n", "[INFO] saving\n"))["eval"] == {}


def test_a_save_naming_its_checkpoint_by_path_alone_is_a_checkpoint_at_the_paths_step() -> None:
    text = "".join(f"iter {i} loss={1.0 / i:.4f}\n  Saved checkpoints/iter_{i:04d}.pt\n" for i in range(36, 40))
    assert [(c["step"], c["path"]) for c in _summary(text)["checkpoints"]] == [  # type: ignore[union-attr]
        (i, f"checkpoints/iter_{i:04d}.pt") for i in range(36, 40)
    ]
    # A save of something else by path is no checkpoint.
    assert (
        _summary("".join(f"iter {i} loss=0.5\n  Saved plots/iter_{i:04d}.png\n" for i in range(4)))["checkpoints"] == []
    )


def test_an_averaged_evaluation_figure_named_with_its_word_inside() -> None:
    text = "".join(
        f"Step {i * 50000}\nAvg Q value: 3.4575 Avg testing reward: {200 + i:.4f} Avg duration: 1876.0000"
        " Avg testing time: 12.5\n"
        for i in range(1, 5)
    )
    evals = _summary(text)["eval"]
    assert evals == {"avg_testing_reward": 204.0}  # (the test's duration is bookkeeping, not a result)


def test_a_normalised_edit_distance_is_an_evaluation_score() -> None:
    text = "".join(
        f"[{i}/200000] Train loss: 0.00036, Valid loss: 0.00258\nCurrent_accuracy : 96.350, Current_norm_ED  : 0.{i}\n"
        for i in range(30, 35)
    )
    evals = _summary(text)["eval"]
    assert isinstance(evals, dict) and evals["current_norm_ed"] == 0.34 and evals["valid_loss"] == 0.00258


def test_a_fractional_total_beside_its_terms_is_the_loss_and_an_integer_total_is_a_count() -> None:
    text = "".join(f"[Adam] ep= {e:4d}  total={2.0 / e:.3e}  PDE={1.0 / e:.3e}  DATA=0.1\n" for e in range(1, 9))
    assert _train(_summary(text))["loss"]["last"] == 0.25
    counts = "".join(f"iter {i} | total {1000 + i} | acc 0.{i}\n" for i in range(1, 9))
    assert _train(_summary(counts))["loss"] is None
