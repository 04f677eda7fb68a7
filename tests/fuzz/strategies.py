"""Shared hypothesis strategies and settings for the fuzz suites.

The log-looking lines below are written for these tests in the formats hwmon reads (Cerebras appliance lines, tqdm
and Keras bars, HF-Trainer dicts, PopTorch/Poplar messages, module trees, Slurm and MPI prefixes); none is copied
from a real log. Their numbers and timestamps are drawn from a pool of hostile values: NaN/Inf spellings, negative
steps, 400-digit numbers, impossible dates (Feb 30, hour 25), timestamps that go backwards.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# ----------------------------------------------------------------------------------------------- settings, count

settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "long",
    deadline=None,
    # A long run explores; a database of millions of examples would only fill the disk.
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("long" if os.environ.get("HWMON_LONG") == "1" else "ci")
if PROFILE not in ("ci", "long"):
    PROFILE = "ci"

# Multiplies every test's long-profile example count (scripts/fuzz_long.sh tunes the size of one chunk with it).
LONG_SCALE = float(os.environ.get("HWMON_FUZZ_SCALE", "1"))

CASES: Counter[str] = Counter()


def fuzz_settings(ci: int, long: int) -> settings:
    """Settings for one fuzz test: ``ci`` examples in the default profile, ``long`` (scaled) in the long one."""
    if PROFILE == "long":
        return settings(settings.get_profile("long"), max_examples=max(1, int(long * LONG_SCALE)))
    return settings(settings.get_profile("ci"), max_examples=ci)


def count_case(name: str) -> None:
    """Count one executed example of the fuzz test ``name`` (reported at the end of the session)."""
    CASES[name] += 1


# ----------------------------------------------------------------------------------------------- raw bytes

# Bytes that make splitting and cleaning interesting: line ends, escape introducers and their parameters, C1
# controls, NUL/DEL, UTF-8 lead and continuation bytes, a few printable characters.
INTERESTING_BYTES = (
    b"\n\r\x1b[]P\\^_;?0123456789hHlmJ\x07\x9b\x9c\x9d\x00\x7f\t \xc3\xa9\xe2\x80\xae\xf0\x9f\x98\x80ab|%"
)

ESCAPES: tuple[bytes, ...] = (
    b"\x1b]52;c;aGVsbG8=\x07",  # OSC 52: set clipboard
    b"\x1b]0;pwned title\x07",  # OSC 0: window title
    b"\x1b]2;title\x1b\\",  # OSC 2 ended by ST
    b"\x1b]8;;https://x\x1b\\link\x1b]8;;\x1b\\",  # OSC 8 hyperlink
    b"\x1b[2J",
    b"\x1b[H",
    b"\x1b[?1049h",
    b"\x1b[?25l",
    b"\x1b[?1000h",
    b"\x1b[31;1m",
    b"\x1b[0m",
    b"\x1bP1$r0m\x1b\\",  # DCS
    b"\x1b(0",
    b"\x1bc",
    b"\x9b2J",  # 8-bit CSI
    b"\x07",
    b"\x1b",  # lone ESC
    b"\x1b]",  # unterminated OSC
    "\u202e".encode(),  # RIGHT-TO-LEFT OVERRIDE
    "\u2066".encode(),
    "\u2028".encode(),
    b"\xff\xfe",  # invalid UTF-8
    b"\xe2\x82",  # truncated UTF-8 sequence
    b"[bold red]",
    b"[link=https://x]click[/link]",
    b"[/]",
    b"\x00",
)

random_bytes = st.binary(max_size=2048)
alphabet_bytes = st.lists(st.sampled_from([bytes([b]) for b in INTERESTING_BYTES]), max_size=600).map(b"".join)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given positions (taken modulo its length, sorted, de-duplicated)."""
    if not data:
        return [data]
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


cut_points = st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=40)

# ----------------------------------------------------------------------------------------------- hostile numbers

BAD_NUMBERS: tuple[str, ...] = (
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "-Infinity",
    "-1",
    "-0",
    "0",
    "1e309",
    "-1e309",
    "1e-400",
    "9" * 400,
    "-" + "9" * 400,
    "1" + "0" * 400 + ".5",
    "0." + "0" * 400 + "1",
    "",
    "1.2.3",
    "0x1f",
    "1_000",
    "\u0663",  # ARABIC-INDIC DIGIT THREE: str.isdigit() and int() accept it
    "\u00b2",  # SUPERSCRIPT TWO: isdigit() True, int() raises
    "+-3",
    "--5",
    "1e",
    ".",
    "9" * 5000,
)

numbers = st.one_of(
    st.sampled_from(BAD_NUMBERS),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda x: f"{x:.5f}"),
)
ints = st.one_of(st.sampled_from(BAD_NUMBERS), st.integers(min_value=-(10**6), max_value=10**12).map(str))

BAD_TIMESTAMPS: tuple[str, ...] = (
    "2024-02-30 10:00:00,000",  # Feb 30
    "2024-02-29 25:00:00,000",  # hour 25
    "2023-02-29 12:00:00,000",  # not a leap year
    "2024-13-01 00:00:00,000",
    "2024-00-10 00:00:00,000",
    "2024-01-01 23:61:61,999",
    "0000-01-01 00:00:00,000",
    "9999-12-31 23:59:59,999",
    "1970-01-01 00:00:00,000",
    "2024-01-01 00:00:00," + "9" * 400,
    "2024-01-01T00:00:00.000000",
    "99999-01-01 00:00:00,000",
)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """A leading log timestamp: a valid one (so runs of them can go backwards) or an impossible one."""
    if draw(st.booleans()):
        return draw(st.sampled_from(BAD_TIMESTAMPS))
    moment = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
    return moment.strftime("%Y-%m-%d %H:%M:%S,") + f"{moment.microsecond // 1000:03d}"


def _hms(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(["00:00:05", "1:02:03", "99:99:99", "-1:00:00", "25:61:61", "?", "", "9" * 40]))


def _bar(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(["██████████", "####      ", "#########▋", "", "|||", "█" * 200]))


# Each template fills its {} slots in order from the drawing function it names.
_TEMPLATES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "{} INFO:   | Train Device=CSX, Step={}, Loss={}, Rate={} samples/sec, GlobalRate={} samples/sec",
        ("ts", "i", "n", "n", "n"),
    ),
    (
        "{} INFO:   | Train Device=xla:0, Step={}, Loss={}, Rate={} samples/sec, GlobalRate={} samples/sec, "
        "LoopTimeRemaining={}, TimeRemaining={}",
        ("ts", "i", "n", "n", "n", "hms", "hms"),
    ),
    ("{} INFO:   | Eval Device=CSX, GlobalStep={}, Batch={}, Loss={}, Rate={} samples/sec", ("ts", "i", "i", "n", "n")),
    ("{} INFO:   Saving checkpoint at step {}", ("ts", "i")),
    ("{} INFO:   Saved checkpoint model_dir/checkpoint_{}.mdl", ("ts", "i")),
    ("{} INFO:   Processed {} sample(s) in {} seconds.", ("ts", "i", "n")),
    ("{} INFO:   Compiling the model. This may take a few minutes.", ("ts",)),
    ("{} INFO:   Compile was successful!", ("ts",)),
    ("{} INFO:   compile job id: wsjob-{}, remote log path: /x/wsjob-{}", ("ts", "i", "i")),
    ("{} INFO:   Poll ingress status: Waiting for job running, current job status: Queueing, msg: {}", ("ts", "n")),
    ("{} INFO:   Beginning appliance run", ("ts",)),
    ("{} INFO:   Programming Cerebras Wafer Scale Cluster for execution. This may take a few minutes.", ("ts",)),
    ("{} INFO:   Training completed successfully!", ("ts",)),
    ("{} INFO:   Avg Eval Loss: {}", ("ts", "n")),
    ("{} ERROR:   Something failed at step {}", ("ts", "i")),
    ("{} WARNING:   odd value {}", ("ts", "n")),
    ("Epochs: {}%|{}| {}/{} [{}<{}, {}s/it]", ("i", "bar", "i", "i", "hms", "hms", "n")),
    ("Loss:{} | Accuracy:{}%: {}%|{}| {}/{} [{}<{}, {}it/s]", ("n", "n", "i", "bar", "i", "i", "hms", "hms", "n")),
    ("Graph compilation: {}%|{}| {}/{} [{}<{}]", ("i", "bar", "i", "i", "hms", "hms")),
    ("{}/{} [==============>...] - ETA: {}s - loss: {} - accuracy: {}", ("i", "i", "n", "n", "n")),
    (
        "{}/{} [==============================] - {}s {}ms/step - loss: {} - val_loss: {}",
        ("i", "i", "n", "n", "n", "n"),
    ),
    ("Epoch {}/{}", ("i", "i")),
    ("{{'loss': {}, 'learning_rate': {}, 'epoch': {}}}", ("n", "n", "n")),
    ("{{'eval_loss': {}, 'eval_accuracy': {}, 'epoch': {}}}", ("n", "n", "n")),
    ("{{'train_runtime': {}, 'train_samples_per_second': {}, 'epoch': {}}}", ("n", "n", "n")),
    ("Accuracy on test set: {}%", ("n",)),
    ("Compiled/Loaded model in {} secs", ("n",)),
    ("[{}] [poptorch:cpp] [warning] [DISPATCHER] coerced {}", ("hms", "n")),
    ("PL:POPLIN    {}.{} W: something about tile {}", ("i", "i", "i")),
    ("terminate called after throwing an instance of 'poplar::application_runtime_error'", ()),
    ("  what():  Out of memory on tile {}: {} bytes used but tiles only have {} bytes", ("i", "i", "i")),
    ("Traceback (most recent call last):", ()),
    ('  File "train.py", line {}, in <module>', ("i",)),
    ("RuntimeError: bad value {}", ("n",)),
    ("Net(", ()),
    ("  (conv{}): Conv2d({}, {}, kernel_size=({}, {}), stride=(1, 1))", ("i", "i", "i", "i", "i")),
    ("  (fc): Linear(in_features={}, out_features={}, bias=True)", ("i", "i")),
    ("  (drop): Dropout(p={}, inplace=False)", ("n",)),
    (")", ()),
    ("  )", ()),
    ("step {} of epoch {}, loss {}", ("i", "i", "n")),
    ("epoch={} step={} loss={} lr={}", ("n", "i", "n", "n")),
    ("[1,0]<stdout>:{} INFO:   | Train Device=CSX, Step={}, Loss={}", ("ts", "i", "n")),
    ("  0: Epochs: {}%|{}| {}/{}", ("i", "bar", "i", "i")),
    ("srun: job {} queued and waiting for resources", ("i",)),
    ("srun: job {} has been allocated resources", ("i",)),
    ("srun: error: node{}: task 0: Exited with exit code {}", ("i", "i")),
    ("slurmstepd: error: *** JOB {} ON node CANCELLED AT {} ***", ("i", "ts")),
)


@st.composite
def log_line(draw: st.DrawFn) -> str:
    """One log-looking line (no terminator) with hostile numbers and timestamps."""
    template, slots = draw(st.sampled_from(_TEMPLATES))
    values: list[str] = []
    for slot in slots:
        if slot == "ts":
            values.append(draw(timestamps()))
        elif slot == "i":
            values.append(draw(ints))
        elif slot == "n":
            values.append(draw(numbers))
        elif slot == "hms":
            values.append(_hms(draw))
        else:
            values.append(_bar(draw))
    return template.format(*values)


TERMINATORS = (b"\n", b"\n", b"\n", b"\r\n", b"\r", b"", b"\r\r\n")


@st.composite
def log_bytes(draw: st.DrawFn, max_lines: int = 30) -> bytes:
    """A log: log-looking lines with mixed terminators (some glued), escape sequences and junk in between."""
    parts: list[bytes] = []
    for _ in range(draw(st.integers(min_value=0, max_value=max_lines))):
        kind = draw(st.integers(min_value=0, max_value=9))
        if kind == 0:
            parts.append(draw(st.sampled_from(ESCAPES)))
        elif kind == 1:
            parts.append(draw(st.binary(max_size=40)))
        else:
            parts.append(draw(log_line()).encode("utf-8", "surrogatepass"))
        parts.append(draw(st.sampled_from(TERMINATORS)))
    return b"".join(parts)


def backwards_log(steps: int = 50) -> bytes:
    """A Cerebras-style log whose timestamps go backwards (and jump) while its steps go forwards."""
    lines = []
    for i in range(steps):
        hour = 23 - (i % 24)
        lines.append(
            f"2024-03-{10 - i % 9:02d} {hour:02d}:00:00,000 INFO:   | Train Device=CSX, Step={i * 10}, "
            f"Loss={1.0 / (i + 1):.4f}, Rate=100.0 samples/sec, GlobalRate=100.0 samples/sec"
        )
    return ("\n".join(lines) + "\n").encode()
