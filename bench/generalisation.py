"""Generalisation check: does `hwmon summary --json` read logs of frameworks it has no rule for?

    python bench/generalisation.py DIR [--hwmon PATH] [-v]

DIR holds `logs/<name>.log` (real third-party logs, kept OUTSIDE this repository) and `expect/<name>.json` (the facts
a careful person reads from each log). Every log is summarised by the real `hwmon summary --json` (a child process)
and compared key by key; a key missing from an expect file is not checked. Keys (the semantics of
../shared/fidelity/README.md):

- `vendor`, `status`, `model_name`: exact. `has_errors`: whether `errors` is non-empty.
- `steps_last`, `loss_last`, `rate_last`, `global_rate_last`, `samples`, `seconds`: numbers, relative tolerance 1e-6.
- `eval`: {name: value}; each must be in the summary's `eval`, the value within 1e-6. Names are compared without case
  or separators ("Val loss" ~ "val_loss"); when no name matches exactly, a leading split word (eval/val/valid/
  validation/test/dev) may be dropped on either side ("eval_accuracy" ~ "accuracy").
- `checkpoint_steps`: the list of `checkpoints[].step`, in order. `job_ids`: each present. `phases_include`: each
  phase name present.
- `kind` (not checked): "gpu/cpu" for a framework that runs on GPUs/CPUs (the subtotal); else e.g. "tpu". When absent,
  a `vendor` of gpu/cpu puts the log in the subtotal. `notes`: free text.

Prints `PASS|FAIL name` per log (with -v, each failing key with got/want), then the total, the GPU/CPU-framework
subtotal and the pass rate per key. Exits 0 when DIR is absent (the data is not in the repo), 1 when a log fails or
an expect file is malformed, else 0.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

REL_TOL = 1e-6
SPLIT_WORDS = ("validation", "valid", "evaluation", "eval", "test", "val", "dev")
EXACT_KEYS = ("vendor", "status")
NUMBER_KEYS = {
    "steps_last": ("train", "steps", "last"),
    "loss_last": ("train", "loss", "last"),
    "rate_last": ("train", "rate", "last"),
    "global_rate_last": ("train", "rate", "global"),
    "samples": ("train", "samples"),
    "seconds": ("train", "seconds"),
}
OTHER_KEYS = ("model_name", "has_errors", "eval", "checkpoint_steps", "job_ids", "phases_include")
IGNORED_KEYS = ("notes", "kind")
KNOWN_KEYS = frozenset((*EXACT_KEYS, *NUMBER_KEYS, *OTHER_KEYS, *IGNORED_KEYS))


def dig(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def same_number(got: Any, want: Any) -> bool:
    if isinstance(got, bool) or isinstance(want, bool):
        return False
    try:
        g, w = float(got), float(want)
    except (TypeError, ValueError):
        return False
    return math.isclose(g, w, rel_tol=REL_TOL, abs_tol=1e-12)


def norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def strip_split(name: str) -> str:
    n = norm(name)
    for word in SPLIT_WORDS:
        if n.startswith(word) and len(n) > len(word):
            return n[len(word) :]
    return n


def eval_candidates(want_name: str, got: dict[str, Any]) -> list[str]:
    exact = [g for g in got if norm(g) == norm(want_name)]
    if exact:
        return exact
    w = {norm(want_name), strip_split(want_name)}
    return [g for g in got if w & {norm(g), strip_split(g)}]


def check(exp: dict[str, Any], got: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, 'got …, want …') for every expected fact the summary does not have."""
    bad: list[tuple[str, str]] = []

    def miss(key: str, g: Any, w: Any) -> None:
        bad.append((key, f"got {g!r}, want {w!r}"))

    for key in EXACT_KEYS:
        if key in exp and got.get(key) != exp[key]:
            miss(key, got.get(key), exp[key])
    if "model_name" in exp and dig(got, "model", "name") != exp["model_name"]:
        miss("model_name", dig(got, "model", "name"), exp["model_name"])
    for key, path in NUMBER_KEYS.items():
        if key in exp and not same_number(dig(got, *path), exp[key]):
            miss(key, dig(got, *path), exp[key])
    if "has_errors" in exp and bool(got.get("errors")) != exp["has_errors"]:
        miss("has_errors", bool(got.get("errors")), exp["has_errors"])
    ev = got.get("eval") or {}
    ev = ev if isinstance(ev, dict) else {}
    for name, value in (exp.get("eval") or {}).items():
        hits = eval_candidates(name, ev)
        if not any(same_number(ev[h], value) for h in hits):
            miss(f"eval.{name}", {h: ev[h] for h in hits} or sorted(ev), value)
    if "checkpoint_steps" in exp:
        steps = [c.get("step") for c in got.get("checkpoints") or [] if isinstance(c, dict)]
        if steps != exp["checkpoint_steps"]:
            miss("checkpoint_steps", steps, exp["checkpoint_steps"])
    for j in exp.get("job_ids", []):
        if j not in (got.get("job_ids") or []):
            miss("job_ids", got.get("job_ids"), j)
    names = [p.get("name") for p in got.get("phases") or [] if isinstance(p, dict)]
    for ph in exp.get("phases_include", []):
        if ph not in names:
            miss("phases_include", names, ph)
    return bad


def checked_keys(exp: dict[str, Any]) -> Iterable[str]:
    for key in exp:
        if key == "eval":
            yield from (f"eval.{n}" for n in exp["eval"])
        elif key not in IGNORED_KEYS:
            yield key


def in_subtotal(exp: dict[str, Any]) -> bool:
    kind = exp.get("kind")
    return kind == "gpu/cpu" if kind is not None else exp.get("vendor") in ("gpu", "cpu")


def summarise(hwmon: str, log: Path) -> tuple[dict[str, Any] | None, str]:
    try:
        r = subprocess.run([hwmon, "summary", "--json", str(log)], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"hwmon did not run: {exc}"
    if r.returncode != 0:
        return None, f"hwmon exit {r.returncode}: {r.stderr.strip()[-300:]}"
    try:
        out = json.loads(r.stdout)
    except json.JSONDecodeError as exc:
        return None, f"not JSON: {exc}"
    return (out, "") if isinstance(out, dict) else (None, "JSON is not an object")


def default_hwmon() -> str:
    local = Path(".venv/bin/hwmon")
    return str(local) if local.exists() else (shutil.which("hwmon") or "hwmon")


def run(directory: Path, hwmon: str, verbose: bool, say: Callable[[str], None] = print) -> int:
    if not directory.is_dir():
        say(f"generalisation: {directory} is absent (the held-out logs are kept outside the repo); nothing checked")
        return 0
    logs = sorted((directory / "logs").glob("*.log"))
    passed = sub_total = sub_passed = 0
    malformed = False
    per_key: dict[str, list[int]] = {}
    for log in logs:
        exp_path = directory / "expect" / f"{log.stem}.json"
        try:
            exp = json.loads(exp_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            say(f"ERROR {log.stem}: expect file unreadable: {exc}")
            malformed = True
            continue
        unknown = sorted(set(exp) - KNOWN_KEYS) if isinstance(exp, dict) else ["<not an object>"]
        if unknown:
            say(f"ERROR {log.stem}: unknown expect keys {unknown}")
            malformed = True
            continue
        got, problem = summarise(hwmon, log)
        bad = [("summary", problem)] if got is None else check(exp, got)
        failed = {key for key, _ in bad}
        for key in checked_keys(exp):
            tally = per_key.setdefault(key.split(".")[0], [0, 0])
            tally[0] += got is not None and key not in failed
            tally[1] += 1
        ok = not bad
        passed += ok
        if in_subtotal(exp):
            sub_total += 1
            sub_passed += ok
        say(f"{'PASS' if ok else 'FAIL'} {log.stem}")
        if verbose:
            for key, what in bad:
                say(f"    {key}: {what}")
    say(f"total: {passed}/{len(logs)} read right")
    say(f"GPU/CPU frameworks: {sub_passed}/{sub_total} read right")
    if per_key:
        say("per key: " + ", ".join(f"{k} {p}/{n}" for k, (p, n) in sorted(per_key.items())))
    return 1 if malformed or passed < len(logs) else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("dir", type=Path, help="folder with logs/*.log and expect/*.json (kept outside the repo)")
    ap.add_argument("--hwmon", default=None, help="the hwmon command to test (default: .venv/bin/hwmon or PATH)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each failing key with got/want")
    a = ap.parse_args(argv)
    return run(a.dir, a.hwmon or default_hwmon(), a.verbose)


if __name__ == "__main__":
    sys.exit(main())
