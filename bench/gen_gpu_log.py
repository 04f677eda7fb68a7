"""Generate a large mixed GPU-framework training log for benchmarks (deterministic for a seed).

    python bench/gen_gpu_log.py --out /tmp/gpu_300m.log --size 300M

The file alternates the formats hwmon reads from GPU runs, in the spellings of tests/fixtures/SOURCES.md: a
Megatron-LM segment (``iteration N/ M | ... | lm loss: ... |`` lines with validation and checkpoint blocks, behind
torchrun ``[default0]:`` prefixes) and an HF Trainer segment (a tqdm bar redrawn with ``\\r`` between its log dicts,
eval dicts, checkpoint saves; every other segment with transformers 5's quoted numbers). Nothing here is a real run.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_cerebras_log import parse_size  # noqa: E402

SEGMENT_STEPS = 5000


def megatron(rng: random.Random, total: int) -> list[str]:
    prefix = "[default0]:"
    lines = [
        prefix + "> initializing torch distributed ...",
        prefix + "time to initialize megatron (seconds): 12.345",
        prefix + "training ...",
    ]
    loss = 10.0
    for i in range(1, total + 1):
        loss = max(1.5, loss - rng.random() * 0.002)
        ms = 500.0 + rng.random() * 20
        lines.append(
            f"{prefix} iteration {i:8d}/{total:8d} | consumed samples: {i * 512:12d} | elapsed time per iteration "
            f"(ms): {ms:.1f} | learning rate: {3e-4 * min(1, i / 500):.3E} | global batch size:   512 | lm loss: "
            f"{loss:.6E} | loss scale: 1.0 | grad norm: {rng.random() + 0.2:.3f} | number of skipped iterations:   0 "
            f"| number of nan iterations:   0 |"
        )
        if i % 1000 == 0:
            lines.append(prefix + "-" * 90)
            lines.append(
                f"{prefix} validation loss at iteration {i} | lm loss value: {loss + 0.1:.6E} | lm loss PPL: "
                f"{2.718 ** (loss + 0.1):.6E} | "
            )
            lines.append(prefix + "-" * 90)
            lines.append(f"{prefix}saving checkpoint at iteration {i:7d} to /ckpt/gpt in torch format")
            lines.append(f"{prefix}  successfully saved checkpoint from iteration {i:7d} to /ckpt/gpt")
    lines.append(prefix + "[after training is done] datetime: 2024-05-01 12:00:00 ")
    return lines


def hf_trainer(rng: random.Random, total: int, quoted: bool) -> list[str]:
    q = "'" if quoted else ""
    lines = [
        "***** Running training *****",
        "  Num examples = 80,000",
        "  Num Epochs = 1",
        f"  Total optimization steps = {total:,}",
    ]
    loss = 2.0
    bar: list[str] = []
    for n in range(1, total + 1):
        pct = 100 * n // total
        filled = "█" * (pct // 10)
        bar.append(f"{pct:3d}%|{filled:<10}| {n}/{total} [00:{n // 20 % 60:02d}<10:00, {20 + rng.random():.2f}it/s]")
        if n % 10 == 0:
            lines.append("\r".join(bar))
            bar = []
            loss = max(0.05, loss - rng.random() * 0.003)
            lines.append(
                f"{{'loss': {q}{loss:.4f}{q}, 'grad_norm': {q}{rng.random() + 0.5:.3f}{q}, 'learning_rate': "
                f"{q}{5e-5 * (1 - n / total):.3g}{q}, 'epoch': {q}{n / total:.2f}{q}}}"
            )
        if n % 1000 == 0:
            lines.append(
                f"{{'eval_loss': {q}{loss + 0.05:.4f}{q}, 'eval_accuracy': {q}0.8{q}, 'epoch': {q}{n / total:.2f}{q}}}"
            )
            lines.append(f"Saving model checkpoint to out/checkpoint-{n}")
    lines.append(f"{{'train_runtime': {q}600.0{q}, 'train_samples_per_second': {q}133.3{q}, 'train_loss': {q}0.9{q}}}")
    return lines


def generate(out: Path, size: int, seed: int = 0) -> tuple[int, int]:
    rng = random.Random(seed)
    written = 0
    count = 0
    segment = 0
    with out.open("w", encoding="utf-8") as f:
        while written < size:
            if segment % 2 == 0:
                lines = megatron(rng, SEGMENT_STEPS)
            else:
                lines = hf_trainer(rng, SEGMENT_STEPS, quoted=segment % 4 == 3)
            text = "\n".join(lines) + "\n"
            f.write(text)
            written += len(text.encode("utf-8"))
            count += len(lines)
            segment += 1
    return written, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="file to write")
    parser.add_argument("--size", default="300M", help="approximate size: 300M, 1G, 64K or bytes (default 300M)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    written, lines = generate(args.out, parse_size(args.size), args.seed)
    print(f"wrote {args.out}: {written} bytes, {lines} lines")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
