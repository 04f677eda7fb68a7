"""Every real log in ../shared/seed and ../shared/corpus gives a correct summary.

The expected facts below were read off each log by hand (see the comments); the logs themselves are third-party data
and are never copied into the project. Skips cleanly when ../shared is absent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SEED = SHARED / "seed"
CORPUS = SHARED / "corpus"

if not SEED.is_dir() and not CORPUS.is_dir():
    pytest.skip("../shared (seed and corpus logs) is not available", allow_module_level=True)

Summary = dict[str, Any]


def summarize(path: Path) -> Summary:
    from hwmon.model.summary import summary_dict
    from hwmon.sources.read import summarize_bytes

    return summary_dict(summarize_bytes(path.read_bytes(), str(path)))


def secs(text_a: str, text_b: str) -> float:
    """Seconds between two log timestamps written as in the logs (``2024-03-30 12:53:41,263``)."""
    fmt = "%Y-%m-%d %H:%M:%S,%f"
    return (datetime.strptime(text_b, fmt) - datetime.strptime(text_a, fmt)).total_seconds()


def phase_names(s: Summary) -> list[str]:
    return [p["name"] for p in s["phases"]]


def phases_of(s: Summary, name: str) -> list[float | None]:
    return [p["seconds"] for p in s["phases"] if p["name"] == name]


def total(s: Summary, *names: str) -> float:
    return sum(p["seconds"] or 0.0 for p in s["phases"] if p["name"] in names)


def eval_value(s: Summary, suffix: str) -> float:
    """An eval metric by the end of its name (parsers may keep an ``eval/`` prefix)."""
    matches = [v for k, v in s["eval"].items() if k.lower().endswith(suffix)]
    assert len(matches) == 1, (suffix, s["eval"])
    return float(matches[0])


def bar(s: Summary, name: str) -> dict[str, Any]:
    matches = [b for b in s["progress"] if b["name"] == name]
    assert matches, (name, [b["name"] for b in s["progress"]])
    return matches[-1]


def check_common(s: Summary, expected: dict[str, Any]) -> None:
    """The facts every log states (or clearly does not state)."""
    assert s["schema"] == "hwmon.summary/1"
    assert s["vendor"] == expected["vendor"]
    assert s["status"] == expected["status"]
    train = s["train"]
    assert train["steps"] == expected["steps"]
    if expected["loss"] is None:
        assert train["loss"] is None
    else:
        first, last, low, count = expected["loss"]
        assert train["loss"] is not None
        assert (train["loss"]["first"], train["loss"]["last"], train["loss"]["min"]) == pytest.approx(
            (first, last, low)
        )
        if count is not None:
            assert train["loss"]["count"] == count
    if expected["rate"] is None:
        assert train["rate"] is None or train["rate"]["last"] is None
    else:
        last_rate, global_rate = expected["rate"]
        assert train["rate"]["last"] == pytest.approx(last_rate)
        assert train["rate"]["global"] == (None if global_rate is None else pytest.approx(global_rate))
        assert train["rate"]["unit"] == "samples/sec"
    assert train["samples"] == expected["samples"]
    assert train["seconds"] == (None if expected["seconds"] is None else pytest.approx(expected["seconds"]))
    assert s["checkpoints"] == expected["checkpoints"]
    if "job_ids" in expected:
        assert s["job_ids"] == expected["job_ids"]
    if expected["model"] is None:
        assert s["model"] is None
    else:
        assert s["model"] == {"name": expected["model"][0], "modules": expected["model"][1]}
    if expected.get("no_errors"):
        assert s["errors"] == []
    # Phases: in order of start, each with a plausible duration.
    starts = [p["start"] for p in s["phases"] if p["start"] is not None]
    assert starts == sorted(starts)
    for p in s["phases"]:
        assert p["seconds"] is None or 0.0 <= p["seconds"] <= (s["wall_seconds"] or 1e9) + 1.0


# --- the expectations, one function per log -------------------------------------------------------------------------


def seed_cerebras_bert(s: Summary) -> None:
    # 10 `Train Device=CSX` lines, steps 100..1000; checkpoint 1000; "Training completed successfully!"
    check_common(
        s,
        {
            "vendor": "cerebras",
            "status": "succeeded",
            "steps": {"first": 100, "last": 1000, "count": 10},
            "loss": (9.48438, 7.14844, 7.125, 10),
            "rate": (6715.34, 6727.92),
            "samples": 2048000,
            "seconds": 304.403202469,
            "checkpoints": [{"step": 1000, "path": "model_dir_bert_large_pytorch/checkpoint_1000.mdl"}],
            "model": None,
            "no_errors": True,
        },
    )
    # The compile job is only named by its heartbeat line; the execute job by `execute job id:`.
    assert "wsjob-6prysnbkfzkwxptnh8vgzc" in s["job_ids"]
    assert set(s["job_ids"]) <= {"wsjob-gcvn73ljr37qrv2t7mozfe", "wsjob-6prysnbkfzkwxptnh8vgzc"}
    assert s["warnings"] == 0 and s["eval"] == {}
    assert s["wall_seconds"] == pytest.approx(secs("2024-03-30 12:53:41,263", "2024-03-30 13:09:10,602"))
    names = phase_names(s)
    assert names[0] == "compile" and {"setup", "train", "checkpoint"} <= set(names)
    # ~5 min compile (log starts mid-compile), ~4 min programming/staging, ~5 min train, 34 s checkpoint.
    assert total(s, "compile") == pytest.approx(secs("2024-03-30 12:53:41,263", "2024-03-30 12:58:27,990"), abs=1)
    assert 245 <= total(s, "setup", "queue") <= 280
    assert 270 <= phases_of(s, "train")[0] <= 310  # type: ignore[operator]
    assert phases_of(s, "checkpoint")[0] == pytest.approx(
        secs("2024-03-30 13:07:40,069", "2024-03-30 13:08:14,560"), abs=0.5
    )


def seed_graphcore_mnist(s: Summary) -> None:
    # `Epochs: 100% 10/10 [01:48..]` glued to `Graph compilation: 100% 100/100 [00:14]`; a module tree glued to tqdm
    # debris; `Accuracy on test set: 98.72%`. No timestamps, no step lines.
    check_common(
        s,
        {
            "vendor": "graphcore",
            "status": "succeeded",
            "steps": None,
            "loss": None,
            "rate": None,
            "samples": None,
            "seconds": None,
            "checkpoints": [],
            "job_ids": [],
            # TrainingModelWithLoss > model: Network > 2 Blocks of 3 + 5 layers, loss: 16 modules in all.
            "model": ("TrainingModelWithLoss", 16),
            "no_errors": True,
        },
    )
    assert eval_value(s, "accuracy") == pytest.approx(0.9872)
    epochs = bar(s, "Epochs")
    assert (epochs["n"], epochs["total"], epochs["elapsed_s"]) == (10, 10, 108.0)
    graph = bar(s, "Graph compilation")
    assert (graph["n"], graph["total"], graph["elapsed_s"]) == (100, 100, 14.0)
    assert 14.0 in phases_of(s, "compile")
    assert s["warnings"] == 0


def corpus_gpt2_compile_and_train(s: Summary) -> None:
    # Command echo, checkpoint 0, queue 03:19:17 -> lock grant 03:36:07, compile to 03:41:33, staging, 112 steps to
    # 11200, checkpoint 10000; the source stops there (no end-of-run line): status unknown.
    check_common(
        s,
        {
            "vendor": "cerebras",
            "status": "unknown",
            "steps": {"first": 100, "last": 11200, "count": 112},
            "loss": (7.9375, 3.32812, 3.32812, 112),
            "rate": (493.04, 494.08),
            "samples": None,
            "seconds": None,
            "checkpoints": [
                {"step": 0, "path": "model_dir_gpt2_pytorch/checkpoint_0.mdl"},
                {"step": 10000, "path": "model_dir_gpt2_pytorch/checkpoint_10000.mdl"},
            ],
            "job_ids": ["wsjob-sulfy68x6nus3qk97eifxy", "wsjob-7qam2n3dj6ettzkmdu7ywe"],
            "model": None,
            "no_errors": True,
        },
    )
    assert s["warnings"] == 1  # the multi-line LinearLR WARNING is one warning
    names = phase_names(s)
    assert {"queue", "compile", "setup", "train", "checkpoint"} <= set(names)
    # The compile request is made, waits in the queue, then compiles: compile, queue, compile, ... setup, train.
    assert names[0] == "checkpoint"  # checkpoint 0 is written before compiling
    assert names.index("compile") < names.index("queue") < names.index("setup") < names.index("train")
    queue = phases_of(s, "queue")[0]
    assert queue is not None and 1005 <= queue <= 1045
    # From "Compiling the model" to "Compile was successful!", the compile queue included.
    assert total(s, "compile") + queue == pytest.approx(
        secs("2024-03-14 03:19:05,667", "2024-03-14 03:41:33,547"), abs=1
    )
    assert phases_of(s, "checkpoint")[-1] == pytest.approx(
        secs("2024-03-14 04:23:26,731", "2024-03-14 04:23:46,836"), abs=0.5
    )
    # The last train span is still open at the cut: measured to the last line.
    assert s["phases"][-1]["name"] == "train" and s["phases"][-1]["end"] is None
    assert s["phases"][-1]["seconds"] == pytest.approx(
        secs("2024-03-14 04:23:46,836", "2024-03-14 04:27:59,096"), abs=25
    )


def corpus_bert_eval(s: Summary) -> None:
    # Three `Eval Device=CSX` batches, "Evaluation metrics:", "Evaluation completed successfully!".
    check_common(
        s,
        {
            "vendor": "cerebras",
            "status": "succeeded",
            "steps": None,
            "loss": None,
            "rate": None,
            "samples": 3720000,
            "seconds": 1017.47348681,
            "checkpoints": [],
            "job_ids": [],
            "model": None,
            "no_errors": True,
        },
    )
    assert eval_value(s, "accuracy_cls") == pytest.approx(0.7051668763160706)
    assert eval_value(s, "accuracy_masked_lm") == pytest.approx(0.13364547491073608)
    assert eval_value(s, "mlm_perplexity") == pytest.approx(701.6852416992188)
    assert s["eval_steps"] is not None and s["eval_steps"]["count"] == 3
    assert "eval" in phase_names(s)
    assert 27 <= total(s, "eval") <= 32


def corpus_esm2(s: Summary) -> None:
    # tqdm `Sending initial weights ... 1007/1007 [00:02..]`, 4 steps, two checkpoints each with a tqdm bar.
    check_common(
        s,
        {
            "vendor": "cerebras",
            "status": "succeeded",
            "steps": {"first": 100, "last": 400, "count": 4},
            "loss": (14.50902, 5.03271, 5.03271, 4),
            "rate": (974.58, 989.11),
            "samples": 819200,
            "seconds": 4049.286902367,
            "checkpoints": [
                {"step": 200, "path": "model_dir_esm2/checkpoint_200.mdl"},
                {"step": 400, "path": "model_dir_esm2/checkpoint_400.mdl"},
            ],
            "job_ids": [],
            "model": None,
            "no_errors": True,
        },
    )
    weights = bar(s, "Sending initial weights")
    assert (weights["n"], weights["total"], weights["elapsed_s"]) == (1007, 1007, 2.0)
    ckpt = bar(s, "Saving checkpoint")
    assert (ckpt["n"], ckpt["total"], ckpt["elapsed_s"]) == (1321, 1321, 8.0)
    assert phase_names(s).count("checkpoint") == 2
    assert phases_of(s, "checkpoint") == pytest.approx(
        [
            secs("2025-10-10 23:38:48,282", "2025-10-10 23:38:57,339"),
            secs("2025-10-10 23:45:46,412", "2025-10-10 23:45:54,994"),
        ],
        abs=0.5,
    )
    assert "setup" in phase_names(s) and "train" in phase_names(s)


def corpus_llama2_cszoo(s: Summary) -> None:
    # Cached compile, `Job id: wsjob-..., workflow id: wflow-...`, one WARNING, 4 steps with TimeRemaining.
    check_common(
        s,
        {
            "vendor": "cerebras",
            "status": "succeeded",
            "steps": {"first": 50, "last": 200, "count": 4},
            "loss": (7.67126, 6.09834, 6.09834, 4),
            "rate": (31.97, 31.99),
            "samples": 204800,
            "seconds": 7303.586917439,
            "checkpoints": [{"step": 200, "path": "model_dir_llama2_7b/checkpoint_200.mdl"}],
            "model": None,
            "no_errors": True,
        },
    )
    assert s["job_ids"][0] == "wsjob-kgqvqqxnp9zvpmwulcbxuj"
    assert set(s["job_ids"]) <= {"wsjob-kgqvqqxnp9zvpmwulcbxuj", "wflow-cxj2gwf7idcfanryokatnn"}
    assert s["warnings"] == 1
    names = phase_names(s)
    assert names[0] == "compile" and {"setup", "train", "checkpoint"} <= set(names)
    assert total(s, "compile") == pytest.approx(secs("2025-10-13 14:47:37,651", "2025-10-13 14:47:46,918"), abs=1)
    assert phases_of(s, "checkpoint")[0] == pytest.approx(
        secs("2025-10-13 16:40:05,450", "2025-10-13 16:47:49,916"), abs=0.5
    )
    # Programming/staging took ~5.5 min; the first step line only came 27 min after "Beginning appliance run".
    assert 330 <= total(s, "setup", "queue") <= 1940


def corpus_r18_bert_xla(s: Summary) -> None:
    # R1.8 wording: `Train Device=xla:0`, "Saving step 1000 in dataloader checkpoint", "Saved checkpoint at global
    # step: 1000", "Training Complete. Completed 1024000 sample(s) in 229.03 seconds."
    check_common(
        s,
        {
            "vendor": "cerebras",
            "status": "succeeded",
            "steps": {"first": 100, "last": 1000, "count": 10},
            "loss": (9.46875, 7.90234, 7.89844, 10),
            "rate": (7455.73, 6517.66),
            "samples": 1024000,
            "seconds": 229.03258180618286,
            "checkpoints": [{"step": 1000, "path": None}],
            "job_ids": [],
            "model": None,
            "no_errors": True,
        },
    )
    assert {"train", "checkpoint"} <= set(phase_names(s))
    assert phases_of(s, "checkpoint")[0] == pytest.approx(
        secs("2023-05-15 17:46:52,089", "2023-05-15 17:48:04,007"), abs=0.5
    )


def corpus_llama2_appliance_error(s: Summary) -> None:
    # Hours of queueing, cached compile, staging, then an appliance error, "Job ... failed due to", a
    # "Processed 11264 training sample(s)" during shutdown, and chained tracebacks ending in ApplianceUnknownError.
    check_common(
        s,
        {
            "vendor": "cerebras",
            "status": "failed",
            "steps": None,
            "loss": None,
            "rate": None,
            "samples": 11264,
            "seconds": 9567.159426912,
            "checkpoints": [{"step": 0, "path": "model_dir_llama2_7b/checkpoint_0.mdl"}],
            "job_ids": ["wsjob-duhl7jck7hjhbtxdpxvk67", "wsjob-7javbqdggsmrb44obfaqft"],
            "model": None,
        },
    )
    errors = "\n".join(s["errors"])
    assert "Appliance error" in errors
    assert "wsjob-7javbqdggsmrb44obfaqft failed due to" in errors
    assert "ApplianceUnknownError: Ran into error while receiving tensor output_model_wise_params_norm" in errors
    assert s["warnings"] >= 4  # four WARNING Event lines (+ Python UserWarning/FutureWarning)
    names = phase_names(s)
    assert {"queue", "compile", "setup"} <= set(names)
    # The compile job queued from 15:28:22 to ~17:47:35..55 (job initializing / ingress ready); the execute job
    # then waited ~100 s for its pods.
    assert 8350 <= phases_of(s, "queue")[0] <= 8380  # type: ignore[operator]
    assert 8350 <= total(s, "queue") <= 8500
    assert all(p["seconds"] is not None for p in s["phases"] if p["start"] is not None)


def corpus_poplar_oom(s: Summary) -> None:
    # Two lines: `terminate called after throwing ... graph_memory_allocation_error` / `what(): Out of memory on tile`.
    check_common(
        s,
        {
            "vendor": "graphcore",
            "status": "failed",
            "steps": None,
            "loss": None,
            "rate": None,
            "samples": None,
            "seconds": None,
            "checkpoints": [],
            "job_ids": [],
            "model": None,
        },
    )
    assert any("Out of memory on tile 1" in e for e in s["errors"])
    assert s["phases"] == []


def corpus_optimum_vit(s: Summary) -> None:
    # "Compiled/Loaded model in 31.03 secs", tqdm fused with "Saving model checkpoint to ./results/checkpoint-1000"
    # (and -2000), bar 2496/2496 [17:18..], HF dicts {'loss': ..} (the 7th cut at the notebook's `...` join), and
    # {'train_runtime': 1038.1587, ...}.
    check_common(
        s,
        {
            "vendor": "graphcore",
            "status": "succeeded",
            "steps": s["train"]["steps"],  # HF dicts carry no step number: checked below by count only
            "loss": (0.605, 0.1544, 0.1544, None),
            "rate": s["train"]["rate"] and (s["train"]["rate"]["last"], s["train"]["rate"]["global"]),
            # train_samples_per_second x train_runtime = 307.745 x 1038.1587 (the log states no sample count).
            "samples": 319488,
            "seconds": 1038.1587,
            "checkpoints": [
                {"step": 1000, "path": "./results/checkpoint-1000"},
                {"step": 2000, "path": "./results/checkpoint-2000"},
            ],
            "job_ids": [],
            "model": None,
            "no_errors": True,
        },
    )
    assert s["train"]["loss"]["count"] in (10, 11)
    assert s["train"]["steps"] is not None and s["train"]["steps"]["count"] == s["train"]["loss"]["count"]
    assert any(b["n"] == 2496 and b["total"] == 2496 and b["elapsed_s"] == 1038.0 for b in s["progress"])
    assert phases_of(s, "compile") and phases_of(s, "compile")[0] == pytest.approx(31.030112855136395)
    assert s["warnings"] == 0


def corpus_gpt2_pod4(s: Summary) -> None:
    # PopTorch GPT-2: `Graph compilation` 100/100 [28:04], PopLibs/PopART `W:` lines and [poptorch::python]
    # [warning]s, then `step N of epoch 0, loss: .., throughput: .. samples/sec` for steps 0..3; no end line.
    check_common(
        s,
        {
            "vendor": "graphcore",
            "status": "unknown",
            "steps": {"first": 0, "last": 3, "count": 4},
            "loss": (10.913212776184082, 10.829036712646484, 10.829036712646484, 4),
            # Step 0's throughput (36.7, the warm-up step) is the reset tracker's: not a rate of the run.
            "rate": (1064.4397806661352, None),
            "samples": None,
            "seconds": None,
            "checkpoints": [],
            "job_ids": [],
            "model": None,
            "no_errors": True,
        },
    )
    graph = bar(s, "Graph compilation")
    assert (graph["n"], graph["total"], graph["elapsed_s"]) == (100, 100, 1684.0)
    assert 1684.0 in phases_of(s, "compile")
    assert "train" in phase_names(s)
    # 4 PL:POPLIN W:, 1 PO:ENGINE W:, 1 popart:session W:, 3 [poptorch::python] [warning] (+ the engine WARNING glued
    # to the bar); the unprefixed repeats of the poptorch warnings are the same warnings.
    assert 9 <= s["warnings"] <= 10


def corpus_mnist_srun(s: Summary) -> None:
    # `srun: job 2623 queued`, a torchvision UserWarning, a [poptorch:cpp] [warning] breaking the Epochs bar, two
    # graph compilations (20 s, 13 s), Epochs 10/10 [01:35], a module tree glued to tqdm debris, 98.59 % on test.
    check_common(
        s,
        {
            "vendor": "graphcore",
            "status": "succeeded",
            "steps": None,
            "loss": None,
            "rate": None,
            "samples": None,
            "seconds": None,
            "checkpoints": [],
            "job_ids": ["2623"],
            "model": ("TrainingModelWithLoss", 16),
            "no_errors": True,
        },
    )
    assert eval_value(s, "accuracy") == pytest.approx(0.9859)
    epochs = bar(s, "Epochs")
    assert (epochs["n"], epochs["total"], epochs["elapsed_s"]) == (10, 10, 95.0)
    graph = bar(s, "Graph compilation")
    assert (graph["n"], graph["total"]) == (100, 100)
    assert [x for x in phases_of(s, "compile") if x is not None] == [20.0, 13.0]
    assert s["warnings"] == 2


EXPECTED: dict[str, Callable[[Summary], None]] = {
    "seed/cerebras_bert_large_hw7.log": seed_cerebras_bert,
    "seed/graphcore_mnist_hw7.log": seed_graphcore_mnist,
    "corpus/cerebras_2024-03_gpt2_compile_and_train.log": corpus_gpt2_compile_and_train,
    "corpus/cerebras_2025_bert_large_eval_metrics.log": corpus_bert_eval,
    "corpus/cerebras_2025_esm2_tqdm_checkpoint_train.log": corpus_esm2,
    "corpus/cerebras_2025_llama2_7b_cszoo_fit_execute_train.log": corpus_llama2_cszoo,
    "corpus/cerebras_r1.8.0_bert_large_xla_pipeline_train.log": corpus_r18_bert_xla,
    "corpus/cerebras_r2.4.0_llama2_7b_appliance_error_job_failed.log": corpus_llama2_appliance_error,
    "corpus/graphcore_sdk2.3_poplar_oom_on_tile_terminate.log": corpus_poplar_oom,
    "corpus/graphcore_sdk3.0_optimum_vit_finetune_trainer_checkpoints.log": corpus_optimum_vit,
    "corpus/graphcore_sdk3.3_gpt2_pod4_train.log": corpus_gpt2_pod4,
    "corpus/graphcore_sdk3.3_mnist_poptorch_srun.log": corpus_mnist_srun,
}


def _all_logs() -> list[str]:
    found = [f"seed/{p.name}" for p in sorted(SEED.glob("*.log"))]
    found += [f"corpus/{p.name}" for p in sorted(CORPUS.glob("*.log"))]
    return found


def test_every_shared_log_has_expectations() -> None:
    """A log added to ../shared must get its facts written here, not be silently skipped."""
    assert sorted(_all_logs()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_summary_facts(name: str) -> None:
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"{name} is not available")
    EXPECTED[name](summarize(path))
