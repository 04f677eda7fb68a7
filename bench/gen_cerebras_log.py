"""Write a large, realistic Cerebras appliance log for benchmarks (seeded, streamed, bounded memory).

    python bench/gen_cerebras_log.py --out /tmp/cs.log --size 1G [--seed 0] [--ckpt-every 5000] [--eta]

Shape of the output (all lines invented here, in the format of a cstorch/modelzoo ``run.py CSX`` run):
a command echo, checkpoint autoload and step-0 checkpoint, compile (image build, compile job, queue polls,
the compile stages incl. gradient-accumulation search), the execute job (queue polls, programming, weights,
staging), then one ``| Train Device=CSX, Step=N, Loss=.., Rate=.. samples/sec, GlobalRate=.. samples/sec`` line
per step (losses are bf16 values printed ``%.5f`` like the real ones; Rate is an EMA and GlobalRate the running
mean; the step-1 line carries the reset tracker's nonsense rate), checkpoint lines every ``--ckpt-every`` steps, an
eval section and the completion lines. About 125 bytes per step line, so 1 GB is about 8 M lines.
"""

from __future__ import annotations

import argparse
import math
import random
import struct
import sys
from datetime import datetime, timedelta
from pathlib import Path

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str) -> int:
    """``1G``/``500M``/``64K``/``12345`` -> bytes."""
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = text[-1] if text and text[-1] in _UNITS else ""
    number = text[: len(text) - len(unit)] if unit else text
    return int(float(number) * _UNITS[unit])


def bf16(value: float) -> float:
    """``value`` rounded to bfloat16 (round to nearest even on the top 16 bits of the float32)."""
    bits = struct.unpack("<I", struct.pack("<f", value))[0]
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return float(struct.unpack("<f", struct.pack("<I", bits))[0])


class Clock:
    """The log's wall clock, formatted like Python logging (``2024-03-30 12:53:41,263``)."""

    def __init__(self, start: datetime) -> None:
        self.t = start
        self._second: datetime | None = None
        self._prefix = ""

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)

    def stamp(self) -> str:
        second = self.t.replace(microsecond=0)
        if second != self._second:  # formatting the date once per second keeps the generator fast
            self._second = second
            self._prefix = second.strftime("%Y-%m-%d %H:%M:%S")
        return f"{self._prefix},{self.t.microsecond // 1000:03d}"


def preamble(clock: Clock, rng: random.Random, target: int = 99999999) -> list[str]:
    """The lines before the first step: command, compile, queue, execute job, staging."""
    lines: list[str] = [
        "$ python run.py CSX --params configs/params_gpt2_small.yaml --mode train --model_dir model_dir"
    ]

    def info(msg: str, gap: float, level: str = "INFO") -> None:
        clock.advance(gap)
        lines.append(f"{clock.stamp()} {level}:   {msg}")

    info("Effective batch size is 256.", 1.2)
    info('Checkpoint autoloading is enabled. Looking for latest checkpoint in "model_dir" directory.', 0.7)
    info('No checkpoints were found in "model_dir".', 0.001)
    info(f"Starting training loop 1, from global step 0 to {target}", 0.02)
    info("Saving checkpoint at step 0", 0.5)
    info("Saved checkpoint model_dir/checkpoint_0.mdl", 9.8)
    info("Compiling the model. This may take a few minutes.", 6.0)
    info("Initiating a new image build job against the cluster server.", 1.1)
    info("Initiating a new compile wsjob against the cluster server.", 0.2)
    job = "wsjob-benchcompile0000000000"
    info(f"compile job id: {job}, remote log path: /n1/wsjob/workdir/{job}", 0.07)
    for status in ("Queueing", "Queueing", "Scheduled"):
        info(f"Poll ingress status: Waiting for job running, current job status: {status}, msg: job is waiting.", 600)
    info("Poll ingress status: Waiting for coordinator to be ready.", 10)
    info("Ingress is ready: Coordinator service ready, poll ingress success.", 20)
    for stage in (
        "Pre-optimization transforms...",
        "Optimizing layouts and memory usage...",
        "Gradient accumulation trying sub-batch size 128...",
        "Gradient accumulation trying sub-batch size 64...",
        "Exploring floorplans",
        "Exploring data layouts",
        "Optimizing memory usage",
        "Post-layout optimizations...",
        "Allocating buffers...",
        "Code generation...",
        "Compiling image...",
        "Compiling kernels",
        "Compiling final image",
    ):
        info(stage, rng.uniform(0.5, 90))
    info("Compile artifacts successfully written to remote compile directory. Compile hash is: cs_1234567890", 80)
    info("Heartbeat thread stopped for wsjob-benchcompile0000000000.", 0.03)
    info("Compile was successful!", 0.005)
    info("Programming Cerebras Wafer Scale Cluster for execution. This may take a few minutes.", 0.006)
    info("Initiating a new execute wsjob against the cluster server.", 2.4)
    job = "wsjob-benchexecute0000000000"
    info(f"execute job id: {job}, remote log path: /n1/wsjob/workdir/{job}", 0.08)
    info("Poll ingress status: Waiting for job running, current job status: Scheduled, msg: job is scheduled.", 10)
    info("Poll ingress status: Waiting for job service readiness.", 20)
    info("Ingress is ready: Job ingress ready, poll ingress success.", 10)
    info("Preparing to execute using 1 CSX", 0.2)
    info("About to send initial weights", 29)
    info("Finished sending initial weights", 34)
    info("Finalizing appliance staging for the run", 0.002)
    info("Waiting for device programming to complete", 0.05)
    info("Device programming is complete", 122)
    info("Using network type: ROCE", 0.9)
    info("Waiting for input workers to prime the data pipeline and begin streaming ...", 0.001)
    info("Input workers have begun streaming input data", 0.05)
    info("Appliance staging is complete", 17)
    info("Beginning appliance run", 0.005)
    return lines


def generate(
    out: Path,
    size: int,
    seed: int = 0,
    ckpt_every: int = 5000,
    eta: bool = False,
    step_seconds: float | None = None,
    state_target: bool = False,
) -> int:
    """Write about ``size`` bytes to ``out``; return the number of lines written. ``step_seconds``: the mean time
    of a step (default: a batch of 256 at 900-7000 samples/sec); ``state_target``: the loop states the step it
    stops at (else a never-reached 99999999, as a run without a step limit)."""
    rng = random.Random(seed)
    clock = Clock(datetime(2024, 3, 30, 12, 0, 0) + timedelta(seconds=rng.randint(0, 86400)))
    batch = 256
    written = 0
    lines_out = 0
    with out.open("w", encoding="ascii", newline="\n") as f:
        head_clock, head_rng = Clock(clock.t), random.Random()
        head_rng.setstate(rng.getstate())
        head_bytes = len("\n".join(preamble(head_clock, head_rng)) + "\n")
        step_line_estimate = 128 + (46 if eta else 0)
        total_steps = max(1, (size - 4096 - head_bytes) // step_line_estimate)
        head = preamble(clock, rng, total_steps if state_target else 99999999)
        text = "\n".join(head) + "\n"
        f.write(text)
        written += len(text)
        lines_out += len(head)
        # Reserve room for the checkpoint/eval/completion tail so the file ends near ``size``.
        budget = size - 4096
        ema: float | None = None
        samples = 0
        elapsed = 0.0
        step = 0
        buf: list[str] = []
        buf_bytes = 0
        base_step_s = batch / rng.uniform(900, 7000)
        if step_seconds is not None:
            base_step_s = step_seconds
        # With a stated target the loop runs to it (the file ends near ``size``); else until the size is reached.
        while (step < total_steps) if state_target else (written + buf_bytes < budget):
            step += 1
            dt = base_step_s * rng.uniform(0.97, 1.03)
            if step == 1:
                dt += rng.uniform(3, 30)  # the first step includes warm-up: its rate is nonsense
            clock.advance(dt)
            elapsed += dt
            samples += batch
            rate_now = batch / dt
            ema = rate_now if ema is None else 0.9 * ema + 0.1 * rate_now
            global_rate = samples / elapsed
            progress = step / total_steps
            loss = bf16(2.0 + 9.0 * math.exp(-6.0 * progress) + rng.gauss(0, 0.08))
            line = (
                f"{clock.stamp()} INFO:   | Train Device=CSX, Step={step}, Loss={loss:.5f}, "
                f"Rate={ema:.2f} samples/sec, GlobalRate={global_rate:.2f} samples/sec"
            )
            if eta:
                remaining = int(max(0, total_steps - step) * base_step_s)
                h, rem = divmod(remaining, 3600)
                line += f", LoopTimeRemaining={h}:{rem // 60:02d}:{rem % 60:02d}"
                line += f", TimeRemaining={h}:{rem // 60:02d}:{rem % 60:02d}"
            buf.append(line)
            buf_bytes += len(line) + 1
            if ckpt_every and step % ckpt_every == 0:
                clock.advance(0.001)
                buf.append(f"{clock.stamp()} INFO:   Saving checkpoint at step {step}")
                clock.advance(rng.uniform(8, 30))
                buf.append(f"{clock.stamp()} INFO:   Saved checkpoint model_dir/checkpoint_{step}.mdl")
                buf_bytes += len(buf[-1]) + len(buf[-2]) + 2
            if buf_bytes >= 1 << 20:  # stream: at most ~1 MiB held
                text = "\n".join(buf) + "\n"
                f.write(text)
                written += len(text)
                lines_out += len(buf)
                buf.clear()
                buf_bytes = 0
        tail = list(buf)
        clock.advance(0.002)
        tail.append(f"{clock.stamp()} INFO:   Saving checkpoint at step {step}")
        clock.advance(12)
        tail.append(f"{clock.stamp()} INFO:   Saved checkpoint model_dir/checkpoint_{step}.mdl")
        for b in range(1, 21):
            clock.advance(0.05)
            eval_loss = bf16(2.1 + rng.gauss(0, 0.05))
            tail.append(
                f"{clock.stamp()} INFO:   | Eval Device=CSX, GlobalStep={step}, Batch={b * 10}, Loss={eval_loss:.5f}, "
                f"Rate={rng.uniform(5000, 8000):.2f} samples/sec, GlobalRate={rng.uniform(6000, 7000):.2f} samples/sec"
            )
        clock.advance(0.4)
        tail.append(f"{clock.stamp()} INFO:   Avg Eval Loss: {2.1 + rng.gauss(0, 0.01)!r}")
        tail.append(f"{clock.stamp()} INFO:   Evaluation metrics:")
        tail.append(f"{clock.stamp()} INFO:     - eval/accuracy = {rng.uniform(0.5, 0.7)!r}")
        tail.append(f"{clock.stamp()} INFO:     - eval/perplexity = {math.exp(2.1)!r}")
        tail.append(f"{clock.stamp()} INFO:   Evaluation completed successfully!")
        clock.advance(3)
        tail.append(f"{clock.stamp()} INFO:   Heartbeat thread stopped for wsjob-benchexecute0000000000.")
        tail.append(f"{clock.stamp()} INFO:   Training completed successfully!")
        tail.append(f"{clock.stamp()} INFO:   Processed {samples} sample(s) in {elapsed:.9f} seconds.")
        text = "\n".join(tail) + "\n"
        f.write(text)
        written += len(text)
        lines_out += len(tail)
    return lines_out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="file to write")
    parser.add_argument("--size", default="1G", help="approximate size: 1G, 256M, 64K or bytes (default 1G)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--ckpt-every", type=int, default=5000, help="checkpoint every N steps (0: never)")
    parser.add_argument("--eta", action="store_true", help="add LoopTimeRemaining/TimeRemaining to step lines")
    parser.add_argument("--step-seconds", type=float, default=None, help="mean seconds per step")
    parser.add_argument("--state-target", action="store_true", help="the loop states the step it stops at")
    args = parser.parse_args(argv)
    lines = generate(
        args.out, parse_size(args.size), args.seed, args.ckpt_every, args.eta, args.step_seconds, args.state_target
    )
    size = args.out.stat().st_size
    print(f"wrote {args.out}: {size} bytes, {lines} lines ({size / max(1, lines):.1f} bytes/line)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
