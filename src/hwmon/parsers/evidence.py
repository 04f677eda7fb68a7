"""What any log may say about its run beyond metrics — its device, its end, its failures — as DATA, and the generic
parser's rows that read them. Pure.

The tables (extend them here; every row is named, and its name is the provenance of what it reads):

- ``DEVICES``: device and vendor evidence, first match wins: ``cuda:N``; ``CUDA:0 (Tesla T4, 15102MiB)``; NVIDIA
  data-centre and consumer model names (``NVIDIA A100-SXM4-40GB``, ``NVIDIA H100 80GB HBM3``, ``Tesla V100``,
  ``GeForce RTX 4090``); ``Using device: cuda``; NCCL/CUDA evidence; Apple ``mps``; TPU (``TPU v4``, ``xla:0``);
  ``Using device: cpu``. A banner listing an accelerator it did not find (``TPU available: False``) is no evidence.
- ``END_PHRASES``: the run's own completion in words any script may print (``Finished training``, ``Training
  complete``, a launcher's ``exited with code 0``).
- ``KILLS``: how a run dies without a traceback: the shell's ``Killed``/``Segmentation fault``/``Aborted (core
  dumped)`` report, signal names (``received signal SIGTERM``, ``Signal 9 (SIGKILL) received by PID``), the
  kernel's out-of-memory killer, a launcher's non-zero exit code.

Parsers emit these as facts (``VendorDetected``, ``RunCompleted``, fatal ``ErrorSeen`` with ``kind`` ``signal``,
``oom`` or ``exit``); the reducer decides the run's vendor, device and status from them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hwmon.events import ErrorSeen, Event, RunCompleted, TrainingTotals, Vendor, VendorDetected, WarningSeen
from hwmon.parsers.records import Record
from hwmon.parsers.rules import Rule, RuleTable

__all__ = ["DEVICES", "END_PHRASES", "KILLS", "Evidence"]

MAX_MESSAGE = 2000

# --- the vocabularies, as data ------------------------------------------------------------------------------------

_MODEL_SUFFIX = r"(?:[- ](?:SXM\d*|PCIe|PCIE|NVL|HBM\d?e?|\d{1,3}GB|Ti|SUPER|Ada(?: Generation)?)[\w-]*)*"
DEVICES: tuple[tuple[str, tuple[str, ...], str, Vendor, str | None], ...] = (
    # (row name, needles, pattern, vendor, device: a template over the match's groups, or None)
    ("cuda_index", ("cuda:",), r"(?<![\w/.])cuda:(\d{1,4})\b", "gpu", "cuda:{1}"),
    ("cuda_paren", ("CUDA:",), r"\bCUDA:\d{1,4} \((?:NVIDIA )?([^,()]{2,80}?)\s*[,)]", "gpu", "{1}"),
    (
        "nvidia_model",
        ("NVIDIA ",),
        r"\bNVIDIA (?!TF32)((?:GeForce |Quadro |TITAN |RTX )*[A-Z]{0,3}\d{1,4}[A-Za-z]?" + _MODEL_SUFFIX + ")",
        "gpu",
        "{1}",
    ),
    ("tesla_model", ("Tesla ",), r"\bTesla ([KMPVT]\d{1,3}[A-Za-z]?(?:-[\w]+)*)", "gpu", "Tesla {1}"),
    ("geforce_model", ("GeForce ",), r"\b(GeForce (?:RTX|GTX) \d{3,4}(?: Ti| SUPER)?)", "gpu", "{1}"),
    ("cuda_device", ("cuda",), r"\b(?:[Uu]sing|[Dd]evice)\b[^\n]{0,12}?\bcuda\b(?![\w.:])", "gpu", None),
    (
        "gpu_evidence",
        ("NCCL", "CUDA", "cuda", "fused", "GPU", "Found"),
        # NCCL's own log lines, the visible-devices variable (Lightning: "CUDA_VISIBLE_DEVICES: [0]"), AMP's CUDA
        # backend, CUDA OOM errors, nanoGPT's fused AdamW (only used on CUDA), TensorFlow's GPU devices.
        r"\bNCCL (?:INFO|WARN|version)\b|CUDA_VISIBLE_DEVICES: \[?\d|\bcuda_amp\b|using fused AdamW: True|"
        r"CUDA out of memory|torch\.cuda\.OutOfMemoryError|/device:GPU:\d|Created device .{0,80}GPU|"
        r"Found device \d+ with properties",
        "gpu",
        None,
    ),
    (
        "mps",
        ("mps",),
        r"\b(?:[Uu]sing|[Dd]evice|[Aa]ccelerator|backend)\b[^\n]{0,16}?['\"(=: ]mps\b(?![\w.])|\bmps:\d\b|"
        r"device\(type='mps'",
        "gpu",
        "mps",
    ),
    ("tpu_model", ("TPU ",), r"\bTPU (v\d[\w-]*)", "tpu", "TPU {1}"),
    (
        "tpu",
        ("xla:", "TPU"),
        r"\bxla:\d+\b|\b(?:[Uu]sing|Found|Running on) (?:\d+ )?TPUs?\b|\bTPU available: True",
        "tpu",
        None,
    ),
    ("cpu", ("cpu",), r"\b[Uu]sing device:?\s*['\"]?cpu\b|\bdevice\s*[=:]\s*['\"]?cpu\b", "cpu", None),
)
# A banner listing accelerators it did not find ("TPU available: False, using: 0 TPU cores") is no evidence.
_ABSENT = re.compile(r"\bavailable: False|\busing: 0 |\bused: False")

END_PHRASES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    # (row name, needles, pattern over the message): a whole message, so "training finished for epoch 3, ..." is not
    # the run's end.
    (
        "training_finished",
        ("inish", "rain", "one", "INISH", "RAIN", "ONE"),
        # The phrase, optionally how long it took ("Training completed in 1:02:03", "... after 42.5 s").
        r"^(?:Finished training|Training (?:is |has )?(?:finished|done|completed?|ended)(?: successfully)?|"
        r"Done training|All done)(?:,?\s+(?:in|after)\s+[\d:.,]+\s*(?:h|hours?|m|min(?:ute)?s?|s|secs?|seconds)?)?"
        r"\s*[.!]*\s*$",
    ),
    ("training_time", ("otal",), r"^Total (?:training|train) time\s*[:=]"),
    ("training_took", ("took",), r"^Training took\s+\d"),
    (
        "exit_0",
        (" 0",),
        r"\b(?:exited|finished|completed) with (?:exit )?(?:code|status) 0\b|Process finished with exit code 0\b",
    ),
)

_SIGNAL_WORDS = r"(?:Killed|Segmentation fault|Aborted|Bus error|Floating point exception|Illegal instruction)"
_SIGNAL_NAMES = r"SIG(?:KILL|TERM|SEGV|ABRT|BUS|FPE|ILL|INT|HUP|QUIT|XCPU|PIPE|USR1|USR2)"
KILLS: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    # (row name, needles, pattern over the line, ErrorSeen kind)
    (
        # The whole line ("Killed"), the end of a message ("task 0: Killed"), or a shell's job report
        # ("line 1: 4242 Killed     python train.py").
        "killed",
        ("Killed", "Segmentation", "Aborted", "Bus error", "Floating point", "Illegal instruction"),
        r"(?:^\s*|:\s|\s\d+\s+)" + _SIGNAL_WORDS + r"(?: \(core dumped\))?(?:\s*$|\s{2,}\S)",
        "signal",
    ),
    (
        "oom_killer",
        ("Out of memory", "oom"),
        r"\bOut of memory: Kill(?:ed)? process \d+|\boom-kill(?:er)? event|\boom_kill_process\b",
        "oom",
    ),
    (
        "signal",
        ("SIG",),
        r"\b(?:received|got|caught|terminated by|killed by|died with|died from|exited with)\s+(?:a\s+)?"
        r"(?:signal\s+)?<?(?:Signals\.)?" + _SIGNAL_NAMES + r"\b|\bSignal \d{1,2} \(" + _SIGNAL_NAMES + r"\)",
        "signal",
    ),
    (
        "exit_code",
        ("code", "status"),
        r"\b(?:exited|terminated|failed) with (?:exit )?(?:code|status) -?[1-9]\d{0,2}\b|\(exitcode: -?[1-9]\d{0,2}\)",
        "exit",
    ),
)

# --- the rows ------------------------------------------------------------------------------------------------------

_LEVEL_ERROR = re.compile(r"^(?:\S+\s+){0,3}?[\[|(]?(?:ERROR|CRITICAL|FATAL)[\]|):]?(?:\s|:|$)")
_LEVEL_FATAL = re.compile(r"^(?:\S+\s+){0,3}?[\[|(]?(?:CRITICAL|FATAL)[\]|):]?(?:\s|:|$)")
_ERROR_PREFIX = re.compile(r"^\s*(?:[A-Za-z_][\w.]*Error|Error|FatalError|Fatal error)\s*:\s*\S")
_PY_WARNING = re.compile(r"(?:^|:\d+: |\s)([A-Z]\w*Warning): (.+)$")
_LEVEL_WARNING = re.compile(r"^(?:\S+\s+){0,3}?[\[|(]?(?:WARNING|WARN)[\]|):]?(?:\s|:|$)")
# A training loop's totals: "(24000 samples in 22.38 s)", "Trained 5000 examples in 12.5 seconds". The sample word
# comes right before "in": a throughput ("1072.5 samples/sec") is not a total.
_TOTALS = re.compile(
    r"(?<![\d.])(\d{1,18}) (?:samples?|examples?|images?|sequences?|tokens?) in (\d{1,12}(?:\.\d{1,9})?) ?"
    r"(?:s|secs?|seconds)\b",
    re.IGNORECASE,
)


class Evidence:
    """The generic parser's evidence rows (errors, warnings, kills, devices, the run's end); its state."""

    _vendors_seen: set[tuple[str, str | None]]

    def _on_glog(self, m: re.Match[str], record: Record, out: list[Event]) -> bool:
        if record.stamp != "glog" or record.level not in ("WARNING", "ERROR", "FATAL"):
            return False
        message = record.msg[:MAX_MESSAGE]
        if record.level == "WARNING":
            out.append(WarningSeen(record.number, record.ts, message, "glog"))
        else:
            out.append(ErrorSeen(record.number, record.ts, message, record.level == "FATAL", "glog"))
        return True

    def _on_level_error(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        rest = m.string
        level = _LEVEL_ERROR.match(rest)
        message = _after_level(rest, level)
        fatal = _LEVEL_FATAL.match(rest) is not None
        out.append(ErrorSeen(record.number, record.ts, message[:MAX_MESSAGE], fatal, "error"))

    def _on_python_warning(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        message = f"{m.group(1)}: {m.group(2).strip()}"[:MAX_MESSAGE]
        out.append(WarningSeen(record.number, record.ts, message, "python"))

    def _on_level_warning(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        message = _after_level(m.string, m)
        out.append(WarningSeen(record.number, record.ts, message[:MAX_MESSAGE], "log"))

    def _on_completion(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        out.append(RunCompleted(record.number, record.ts, message=m.string.strip()[:MAX_MESSAGE]))

    def _on_totals(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        out.append(TrainingTotals(record.number, record.ts, int(m.group(1)), float(m.group(2))))

    def vendor_event(
        self, number: int, ts: datetime | None, vendor: Vendor, device: str | None, out: list[Event]
    ) -> None:
        """One ``VendorDetected`` per vendor and device (the reducer decides which one is the run's)."""
        key = (vendor, device)
        if key in self._vendors_seen:
            return
        self._vendors_seen.add(key)
        out.append(VendorDetected(number, ts, vendor, device))


_Handler = Callable[[Any, "re.Match[str]", Record, list[Event]], "bool | None"]


def _kill(kind: str) -> _Handler:
    def handler(owner: Any, m: re.Match[str], record: Record, out: list[Event]) -> None:
        out.append(ErrorSeen(record.number, record.ts, m.string.strip()[:MAX_MESSAGE], True, kind))

    return handler


def _device(vendor: Vendor, template: str | None) -> _Handler:
    def handler(owner: Any, m: re.Match[str], record: Record, out: list[Event]) -> bool:
        if _ABSENT.search(m.string) is not None:
            return False
        device = None
        if template is not None:
            device = template.format(*[m.group(0), *m.groups()]).strip() or None
        owner.vendor_event(record.number, record.ts, vendor, device, out)
        return True

    return handler


def _after_level(rest: str, level: re.Match[str] | None) -> str:
    """The message of a log record: what follows its level word ("- trainer - ERROR - x" -> "x")."""
    if level is None:
        return rest.strip()
    message = rest[level.end() :].lstrip(" -|:")
    return message.rstrip() or rest.strip()


ERRORS = RuleTable(
    (
        Rule("generic:glog", "", "", Evidence._on_glog, how="match"),
        *(Rule(f"generic:{name}", needles, pattern, _kill(kind), on="text") for name, needles, pattern, kind in KILLS),
        Rule("generic:error", ("ERROR", "CRITICAL", "FATAL"), _LEVEL_ERROR, Evidence._on_level_error, how="match"),
        Rule("generic:error", "rror", _ERROR_PREFIX, Evidence._on_level_error, how="match"),
        Rule("generic:python_warning", "Warning: ", _PY_WARNING, Evidence._on_python_warning, on="text"),
        Rule("generic:warning", "WARN", _LEVEL_WARNING, Evidence._on_level_warning, how="match"),
    ),
    "first",
)
"""Errors and warnings over a record's level word and message (first row that takes it)."""

DEVICE_ROWS = RuleTable(
    tuple(
        Rule(f"generic:{name}", needles, pattern, _device(vendor, template), on="text")
        for name, needles, pattern, vendor, template in DEVICES
    ),
    "first",
)
"""Device and vendor evidence over the line (first row that takes it)."""

END_ROWS = RuleTable(
    (
        *(
            Rule(f"generic:{name}", needles, pattern, Evidence._on_completion, re.IGNORECASE)
            for name, needles, pattern in END_PHRASES
        ),
        Rule("generic:totals", " in ", _TOTALS, Evidence._on_totals),
    ),
    "all",
)
"""The run's end and the training loop's totals over the message (every row that matches)."""
