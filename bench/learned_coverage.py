"""Which built-in formats the learned stage reads without their rule (issue 17's closing question: "how many
formats the templates read without a rule, and what still needs a rule and why").

    python bench/learned_coverage.py [LOG ...]

For every log (default: tests/fixtures/**/*.log and ../shared/corpus/*.log when present) and every format parser
of the chain that reads something in it, the log is summarised with the full chain and again with that one parser
removed; the last step, the last loss, the eval metrics and the status are compared. Prints one row per
(log, parser): what the learned stage (templates, structured lines, tables) kept and what was lost without the rule.
A figure, not a test.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _figures(data: bytes, source: str) -> dict[str, object]:
    from hwmon.model.summary import summary_dict
    from hwmon.sources.read import summarize_bytes

    s = summary_dict(summarize_bytes(data, source))
    train = s["train"]
    assert isinstance(train, dict)
    steps = train.get("steps") or {}
    loss = train.get("loss") or {}
    evals = s.get("eval") or {}
    return {
        "step": steps.get("last"),
        "loss": loss.get("last"),
        "eval": len(evals) if isinstance(evals, dict) else 0,
        "status": s.get("status"),
    }


def _reads_steps(factory: object, data: bytes) -> bool:
    """Whether the format parser made by ``factory``, alone, reads a step or a loss in ``data``."""
    from hwmon.events import ProgressUpdate, StepBatch, StepMetrics
    from hwmon.parsers.base import Line
    from hwmon.parsers.lines import LineSplitter

    parser = factory()  # type: ignore[operator]
    for item in LineSplitter().feed(data):
        if isinstance(item, Line):
            for event in parser.feed(item):
                if isinstance(event, StepMetrics | StepBatch) or (isinstance(event, ProgressUpdate) and event.metrics):
                    return True
    return False


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9)
    return a == b


def main(argv: list[str]) -> int:
    from hwmon.parsers import stream

    logs = [Path(a) for a in argv] or sorted(
        [*ROOT.glob("tests/fixtures/**/*.log"), *(ROOT.parent / "shared" / "corpus").glob("*.log")]
    )
    chain = stream.PARSER_CHAIN
    kept = lost = 0
    print(f"{'log':44} {'rule removed':16} step  loss  eval status  (= kept by the learned stage, x lost)")
    for path in logs:
        data = path.read_bytes()
        full = _figures(data, str(path))
        if full["step"] is None and full["loss"] is None:
            continue
        for factory in chain:
            name = getattr(factory, "__name__", str(factory)).removesuffix("Parser").lower()
            if not _reads_steps(factory, data):
                continue  # this rule reads no step of this log
            stream.PARSER_CHAIN = tuple(p for p in chain if p is not factory)
            try:
                without = _figures(data, str(path))
            finally:
                stream.PARSER_CHAIN = chain
            marks = [("=" if _same(full[k], without[k]) else "x") for k in ("step", "loss", "eval", "status")]
            ok = marks[0] == marks[1] == "="
            kept += ok
            lost += not ok
            print(f"{path.name[:44]:44} {name:16} {marks[0]:>4}  {marks[1]:>4}  {marks[2]:>4} {marks[3]:>6}")
    print(f"last step and loss kept without the rule: {kept} of {kept + lost} (log, rule) pairs")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    raise SystemExit(main(sys.argv[1:]))
