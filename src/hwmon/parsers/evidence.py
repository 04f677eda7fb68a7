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
    (
        # An environment dump's GPU list without the vendor's name ("GPU 0: A100-SXM4-40GB (UUID: ...)").
        "gpu_index_model",
        ("GPU",),
        r"\bGPU ?\d{1,2}: (?:NVIDIA )?((?:GeForce |Quadro |TITAN |RTX )*[A-Z]{1,3}\d{1,4}[A-Za-z]?"
        + _MODEL_SUFFIX
        + ")",
        "gpu",
        "{1}",
    ),
    (
        # torch.cuda.get_device_name(0) printed with its result.
        "cuda_device_name",
        ("get_device_name",),
        r"get_device_name\(\d*\)\W{0,6}([A-Za-z][\w .-]{1,60}?)['\"]?\s*$",
        "gpu",
        "{1}",
    ),
    (
        # "CUDA available: True", "cuda.available=True", "torch.cuda.is_available() = True", "GPU available: True".
        "cuda_available",
        ("vailable", "VAILABLE"),
        r"(?i:\bcuda\b[ _.](?:is[ _])?available(?:\(\))?)\s*[:=?]?\s*True\b|\bGPU available: True\b",
        "gpu",
        None,
    ),
    (
        "cuda_device",
        ("cuda", "CUDA", "Cuda"),
        r"\b(?:[Uu]sing|[Dd]evice)\b[^\n]{0,12}?\b(?:cuda|CUDA|Cuda)\b(?![\w.:])",
        "gpu",
        None,
    ),
    # Other frameworks' device objects: Paddle's CUDAPlace(0) / Place(gpu:0), MXNet's gpu(0), JAX's cuda(id=0).
    ("cuda_place", ("CUDAPlace(",), r"\bCUDAPlace\((\d{1,3})\)", "gpu", "gpu:{1}"),
    ("gpu_place", ("Place(gpu:",), r"\bPlace\(gpu:(\d{1,3})\)", "gpu", "gpu:{1}"),
    ("gpu_context", ("gpu(",), r"(?<![\w.])gpu\((\d{1,3})\)", "gpu", "gpu({1})"),
    ("cuda_id", ("(id=",), r"\b(?:cuda|gpu|CudaDevice|GpuDevice)\(id=(\d{1,4})", "gpu", "cuda:{1}"),
    (
        # XLA/JAX: "... initialized for platform CUDA", "Platform 'CUDA'", "platform: gpu".
        "cuda_platform",
        ("latform",),
        r"\b[Pp]latform:? '?(?:CUDA|cuda|gpu|GPU)'?(?![\w-])",
        "gpu",
        None,
    ),
    (
        "using_gpu",
        ("GPU",),
        # "Using 4 GPUs", "Training on GPU", "Will run the code on one GPU."
        r"\b(?:[Uu]sing|[Rr]unning on|[Tt]raining on|[Rr]un (?:the )?(?:code |model |training |job )?on)"
        r" (?:[1-9]\d{0,3} |one |a |a single |two |four |eight )?GPUs?\b"
        r"(?!\s*(?:available|:\s*(?:False|None|0\b)))",
        "gpu",
        None,
    ),
    (
        "gpu_evidence",
        ("NCCL", "CUDA", "cuda", "fused", "GPU", "gpu", "Gpu", "Found", "cuDNN"),
        # NCCL's own log lines, the visible-devices variable (Lightning: "CUDA_VISIBLE_DEVICES: [0]"), AMP's CUDA
        # backend, CUDA OOM errors, nanoGPT's fused AdamW (only used on CUDA), TensorFlow's GPU devices.
        r"\bNCCL (?:INFO|WARN|version)\b|CUDA_VISIBLE_DEVICES: \[?\d|\bcuda_amp\b|using fused AdamW: True|"
        r"CUDA out of memory|torch\.cuda\.OutOfMemoryError|/device:GPU:\d|Created device .{0,80}GPU|"
        r"Found device \d+ with properties|\bcuDNN error\b|\bCUDNN_STATUS_[A-Z_]+|"
        # A metric of GPU memory with its figure ("System/Peak GPU Memory (MB)=111,479", "gpu_mem: 10.2").
        r"\b(?:GPU|gpu|Gpu)[ _]?[Mm]em(?:ory)?\b[^\n=:]{0,20}[=:]\s*\d",
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
    ("tpu_id", ("(id=",), r"\b(?:TpuDevice|tpu)\(id=\d", "tpu", None),
    (
        "cpu",
        ("cpu",),
        r"\b[Uu]sing device:?\s*['\"]?cpu\b|\b[Dd]evice\s*[=:]\s*['\"]?cpu\b|"
        r"\b(?:[Rr]unning|[Tt]raining|[Rr]uns?) on device:?\s*['\"]?cpu\b",
        "cpu",
        None,
    ),
    (
        # "Using CPU", "Running on CPU only", "No GPU found, falling back to CPU"; Paddle's Place(cpu)/CPUPlace,
        # MXNet's cpu(0), JAX's CpuDevice(id=0). "Using 8 CPU threads" is about data loading, not the device.
        "cpu_words",
        ("CPU", "cpu", "Cpu"),
        r"\b(?:[Uu]sing|[Rr]unning on|[Tt]raining on|[Ff]all(?:ing)? back to) (?:the )?(?:CPU|cpu)\b"
        r"(?!\s*(?:threads?|cores?|count|workers?|RAM|memory))|\bPlace\(cpu\)|\bCPUPlace\(|(?<![\w.])cpu\(\d{1,3}\)|"
        r"\b(?:CpuDevice|cpu)\(id=\d",
        "cpu",
        None,
    ),
)
# A banner listing accelerators it did not find ("TPU available: False, using: 0 TPU cores") is no evidence.
# Nor is a mention that says it was not found ("CUDA not available, falling back to CPU": the CPU is the evidence).
_ABSENT = re.compile(
    r"\bavailable: False|\busing: 0 |\bused: False|\bnot (?:found|available|detected|initiali[sz]ed)\b|"
    r"\b(?:[Uu]nable|[Ff]ailed) to\b|\b(?:[Cc]ould not|[Cc]annot|[Cc]an't)\b|\b[Ff]all(?:ing)? back\b"
)

# A duration as scripts print one: "3m 2s", "1h 02m 03s", "12.5 seconds", "0:12:34", "1 day, 2:03:04.5", "812.3s".
_DURATION = (
    r"(?:\d+ days?,\s*)?\d{1,4}(?::\d{2}){1,2}(?:\.\d+)?"
    r"|(?:\d+(?:[.,]\d+)?\s*(?:h|hrs?|hours?|m|mins?|minutes?|s|secs?|seconds?|ms)\b,?\s*(?:and\s+)?)+"
    r"|\d+(?:\.\d+)?"
)
# What may stand before a message's words: a level word (and a logger's name) the record stage left, decoration.
# h17g: a logger's source location ("[train.py:555] Done!", "[engine.py:12:fn]") may stand before the words.
_LEAD = (
    r"[^\w\n]*(?:(?:[\w.]+\s*[:|-]\s*)?[\[(]?(?:INFO|NOTICE)[\])]?\s*[:|-]?\s*(?:[\w.]+\s*[:|-]\s*)?)?"
    r"(?:\[[\w./<>-]{1,80}:\d{1,6}(?::[\w<>]{1,60})?\]\s*)?[^\w\n]*"
)
# What may follow the words: how long it took ("in 3m 2s", "after 42.5 s", ", took 0:12:34"), decoration.
_TIME_TAIL = r"(?:[,:;]?\s*(?:in|after|took|time[:=]?|elapsed[:=]?)\s+(?:" + _DURATION + r"))?"
# (A time some scripts print after the message: "Training complete. [12/01 09:06:21]".)
_END = r"[^\w\n]*(?:\[\d{1,4}[/-]\d{1,2}(?:[/-]\d{1,4})?[ T]\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?\][^\w\n]*)?$"

END_PHRASES: tuple[tuple[str, tuple[str, ...], str, bool], ...] = (
    # (row name, needles, pattern over the whole message, tentative). A whole message: "training finished for epoch
    # 3, ..." is not the run's end, nor is a progress line ending in "done". Tentative rows are words that end runs
    # but also end other work (data loading, an epoch): the reducer takes them only after training began and
    # withdraws them when a training step follows (hwmon.model.reducer.ending).
    (
        "training_finished",
        ("inish", "rain", "one", "omplete", "INISH", "RAIN", "ONE", "OMPLETE"),
        # "Finished training", "Training complete in 3m 2s", "Training completed successfully!", "=== Training
        # finished ===", "Model training is done", "End of training", "All done!".
        "^"
        + _LEAD
        + r"(?:(?:(?:the |model )*training (?:run )?(?:is |has |was |has been )?(?:finished|done|completed?|ended|over)"
        r"|(?:successfully )?(?:finish(?:ed)?|completed?|done (?:with )?) (?:the )?training(?: run)?"
        r"|end(?:ed)? (?:of )?training|training (?:run )?(?:successfully )?(?:finished|completed?)|all done)"
        r"(?: successfully)?)"
        + _TIME_TAIL
        + r"(?:"
        + _END
        # "Training complete. Best checkpoint at: out/best.pth": the end, then a sentence about what it gave.
        + r"|\.\s+(?:the )?(?:best|final|total|overall|results?|model|saved|checkpoints?|weights)\b)"
        # "Finish training: the best validation accuracy is 0.77 in epoch 299." — the end, then its summary.
        + r"|^"
        + _LEAD
        + r"(?:finish(?:ed)?|completed?|end(?:ed)?) training: \S",
        False,
    ),
    # "Total training time: 0:12:13", and behind a C program's function-name prefix ("main: total training time:").
    ("training_time", ("otal",), r"^(?:[A-Za-z_][\w.]{0,40}:\s+)?Total (?:training|train) time\s*[:=]", False),
    # "Training took 3m 2s", "Took 1880.06s to train".
    (
        "training_took",
        ("took", "Took"),
        r"^Training took\s+\d|^" + _LEAD + r"took\s+(?:" + _DURATION + r")\s*to train\b",
        False,
    ),
    (
        # "SUCCESS: Model converged after 16773 iterations!", "Optimization converged.", "Training has converged":
        # the loop stopped at its goal (tentative: a solver inside a step may converge too).
        "converged",
        ("onverged", "ONVERGED"),
        "^" + _LEAD + r"(?:success\W+)?(?:the )?(?:model|training|network|optimi[sz](?:ation|er)|solver|run)?\s*"
        r"(?:has |is )?converged\b(?: (?:after|in) \d[\d,]* (?:iterations?|iters?|steps?|epochs?))?"
        + _TIME_TAIL
        + _END,
        True,
    ),
    (
        "exit_0",
        (" 0",),
        r"\b(?:exited|finished|completed) with (?:exit )?(?:code|status) 0\b|Process finished with exit code 0\b",
        False,
    ),
    (
        # "Early stopping triggered at epoch 1235.", "Early stopping at epoch 40", "Early stopping!": the loop chose
        # to stop (a patience counter's "EarlyStopping counter: 3 out of 10" or a setting is not the stop).
        "early_stopping",
        ("arly", "ARLY"),
        "^" + _LEAD + r"early[ -]stopp(?:ing|ed)(?: was)?(?: (?:triggered|activated|invoked|reached)| (?:at|after|in) "
        r"(?:epoch|step|iteration|iter)\b|!|\.|$)",
        True,
    ),
    (
        # "Done", "Done!", "Finished.", "All finished", "Run complete", "Experiment finished in 2h 3m", "Job done".
        "done",
        ("one", "inish", "omplete", "uccess", "ONE", "INISH", "OMPLETE", "UCCESS"),
        "^" + _LEAD + r"(?:all (?:finished|complete)|everything (?:is )?done|done|finished|complete|completed"
        r"|success(?:fully finished)?"
        r"|(?:the )?(?:run|job|experiment|script) (?:is |has )?(?:done|finished|complete|completed|ended)"
        r"(?: successfully)?)" + _TIME_TAIL + _END,
        True,
    ),
    (
        # "Training time 0:12:34", "Total time: 1:02:03", "Elapsed: 812.3s", "Time elapsed: 3m 2s", "Total elapsed
        # time: 1 day, 2:03:04" — the whole message is the duration (a per-epoch time names its epoch first).
        "total_time",
        ("ime", "lapsed", "IME", "LAPSED"),
        "^" + _LEAD + r"(?!total (?:training|train) time)"
        r"(?:(?:total |overall |training |train |wall(?:[- ]clock)? |run(?:ning)? )*(?:time|elapsed(?: time)?)"
        r"(?: elapsed| taken| used)?|elapsed(?: time)?|time elapsed)\s*[:=]?\s*(?:"
        + _DURATION
        + r")(?:\s*\([^()]{0,40}\))?"
        + _END,
        True,
    ),
    (
        # "Saved final model to out/model.pt", "Saving final checkpoint ...", "Final model saved at ...": the last
        # thing a script does (a "best model saved" is printed at every improvement: not an end).
        "final_model",
        ("inal", "INAL"),
        "^"
        + _LEAD
        + r"(?:(?:sav(?:ed|ing)|writ(?:ing|ten)|wrote|stor(?:ed|ing)) (?:the )?final (?:model|checkpoint|weights)"
        r"|final (?:model|checkpoint|weights) (?:is |was |has been )?(?:saved|written|stored))\b",
        True,
    ),
    (
        # h17g: "Saved pipeline to output directory", "Model saved to the output dir": the trained thing written to
        # where the run's results go (a per-epoch or best-model save names a checkpoint, not the output).
        "saved_output",
        ("utput", "UTPUT"),
        "^"
        + _LEAD
        + r"(?:(?:sav(?:ed|ing)|wr(?:ote|itten|iting)) (?:the )?(?:trained |final )?(?:model|pipeline|weights)"
        r"|(?:the )?(?:trained |final )?(?:model|pipeline|weights) (?:is |was |has been )?(?:saved|written))"
        r" (?:to|in|into|at) (?:the )?output (?:dir|directory|folder|path)\b",
        True,
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
# (A figure named "Error" — "Error: 0.000099999", a loop's objective — is no error message.)
_ERROR_PREFIX = re.compile(
    r"^\s*(?:[A-Za-z_][\w.]*Error|Error|FatalError|Fatal error)\s*:\s*(?![-+]?\.?\d[\d.,eE+-]*%?\s*$)\S"
)
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

    def _on_tentative_end(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        out.append(RunCompleted(record.number, record.ts, message=m.string.strip()[:MAX_MESSAGE], tentative=True))

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
        if vendor != "cpu" and _ABSENT.search(m.string) is not None:
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
            Rule(
                f"generic:{name}",
                needles,
                pattern,
                Evidence._on_tentative_end if tentative else Evidence._on_completion,
                re.IGNORECASE,
            )
            for name, needles, pattern, tentative in END_PHRASES
        ),
        Rule("generic:totals", " in ", _TOTALS, Evidence._on_totals),
    ),
    "all",
)
"""The run's end and the training loop's totals over the message (every row that matches)."""
