"""User formats (lnav-style TOML rules): compiling, matching, errors that name file, rule and regex position, the
format directory, ``--format-file``, the ``hwmon.formats`` entry-point group, and ``hwmon formats [test]``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.helpers.chunking import assert_chunking_invariant

from hwmon.events import (
    CheckpointSaved,
    ErrorSeen,
    EvalMetric,
    Event,
    PhaseStarted,
    RunCompleted,
    StepMetrics,
    TargetStated,
)
from hwmon.parsers.stream import StreamParser
from hwmon.parsers.userformats import Format, FormatError, parse_format
from hwmon.sources.formats import load

HWMON = [sys.executable, "-m", "hwmon"]

MYTRAINER = textwrap.dedent(
    r"""
    name = "mytrainer"
    [[rule]]
    name = "step"
    match = 'it=(?P<step>\d+)/(?P<total_steps>\d+) obj=(?P<loss>\S+) thr=(?P<rate>[\d.]+)/s'
    [[rule]]
    name = "valid"
    match = 'valid acc=(?P<acc>[\d.]+%) top5=(?P<eval_top5>[\d.]+)'
    event = "eval"
    fields = { acc = "eval:accuracy" }
    [[rule]]
    match = 'wrote (?P<path>\S+ckpt-(?P<step>\d+))'
    event = "checkpoint"
    [[rule]]
    match = '^== validating'
    event = "phase-start:eval"
    [[rule]]
    match = '^ALL DONE$'
    event = "completed"
    [[rule]]
    match = 'PANIC: (?P<message>.*)'
    event = "failed"
    [[rule]]
    match = ' iteration +\d+/ *\d+ \|'
    event = "ignore"
    """
)

LOG = (
    b"2026-12-07 10:00:00,000 INFO starting\n"
    b"it=1/3 obj=2.50 thr=100.5/s\n"
    b"it=2/3 obj=2.25 thr=101/s\n"
    b" iteration       10/     100 | lm loss: 9.800000E+00 |\n"
    b"== validating\n"
    b"valid acc=71.5% top5=0.93\n"
    b"wrote /tmp/run/ckpt-2\n"
    b"it=3/3 obj=2.00 thr=99/s\n"
    b"2026-12-07 10:00:09,000 INFO ALL DONE\n"
)


def fmt(text: str = MYTRAINER, name: str = "mytrainer.toml") -> Format:
    return parse_format(text, f"/home/u/.config/hwmon/formats/{name}")


def events_of(data: bytes, *formats: Format) -> list[Event]:
    parser = StreamParser(formats=formats)
    return parser.feed(data) + parser.finish()


def test_rules_map_named_groups_to_fields_and_events() -> None:
    got = events_of(LOG, fmt())
    steps = [e for e in got if isinstance(e, StepMetrics)]
    assert [(s.step, s.loss, s.rate) for s in steps] == [(1, 2.5, 100.5), (2, 2.25, 101.0), (3, 2.0, 99.0)]
    assert {s.rule for s in steps} == {"format:mytrainer.toml/step"}
    assert [(e.what, e.total) for e in got if isinstance(e, TargetStated)] == [("step", 3)]
    evals = {e.name: e.value for e in got if isinstance(e, EvalMetric)}
    assert evals == {"accuracy": 0.715, "top5": 0.93}
    (ckpt,) = [e for e in got if isinstance(e, CheckpointSaved)]
    assert (ckpt.step, ckpt.path, ckpt.rule) == (2, "/tmp/run/ckpt-2", "format:mytrainer.toml/3")
    assert [e.phase for e in got if isinstance(e, PhaseStarted) and e.rule] == ["eval"]
    (done,) = [e for e in got if isinstance(e, RunCompleted)]
    assert done.line == 9 and done.rule == "format:mytrainer.toml/5"  # matched in the message behind the timestamp


def test_a_line_a_user_rule_takes_is_not_read_by_the_built_in_rules() -> None:
    # The Megatron-style line is 'ignore'd by the user's rule: no built-in step comes from it.
    got = events_of(LOG, fmt())
    assert not [e for e in got if isinstance(e, StepMetrics) and e.line == 4]
    assert [e for e in events_of(LOG) if isinstance(e, StepMetrics) and e.line == 4]  # without the format it is


def test_a_failed_rule_is_a_fatal_error() -> None:
    (error,) = [e for e in events_of(b"PANIC: the disk is full\n", fmt()) if isinstance(e, ErrorSeen)]
    assert error.fatal and error.message == "the disk is full" and error.rule == "format:mytrainer.toml/6"


def test_user_formats_are_chunking_invariant() -> None:
    f = fmt()
    assert assert_chunking_invariant(lambda chunks: [repr(e) for e in events_of(b"".join(chunks), f)], LOG)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name = 'x'\n[[rule]\nmatch='a'", "not valid TOML"),
        ("name = 'x'", "no rules"),
        ("colour = 'red'\n[[rule]]\nmatch = 'a'", "unknown key 'colour'"),
        ("[[rule]]\nevent = 'completed'", "rule 1: 'match' (a regex) is missing"),
        ("[[rule]]\nmatch='a'\nevent='ignore'\n[[rule]]\nname='two'\nmatch='it=(?P<step>\\d+ obj'", "rule 2 ('two'): bad regex at position 3 (after 'it=')"),  # noqa: E501
        ("[[rule]]\nmatch='a(?P<x>'", "bad regex at position 1 (after 'a'): missing )"),
        ("[[rule]]\nmatch='DONE'\nevent='finished'", "unknown event 'finished'"),
        ("[[rule]]\nmatch='x'\nevent='phase-start'", "needs phase = one of"),
        ("[[rule]]\nmatch='(?P<a>x)'\nfields={b='loss'}", "fields names group 'b'"),
        ("[[rule]]\nmatch='(?P<a>x)'\nfields={a='speed'}", "field 'speed' for group 'a'"),
        ("[[rule]]\nmatch='no groups'", "a step rule needs a named group"),
    ],
)  # fmt: skip
def test_a_bad_file_is_one_clear_error_naming_file_and_rule(text: str, says: str) -> None:
    with pytest.raises(FormatError) as caught:
        parse_format(text, "/cfg/formats/bad.toml")
    message = str(caught.value)
    assert message.startswith("/cfg/formats/bad.toml: ") and says in message and "\n" not in message


def test_a_bad_file_leaves_the_other_formats_working(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    formats = tmp_path / "hwmon" / "formats"
    formats.mkdir(parents=True)
    (formats / "a_bad.toml").write_text("[[rule]]\nmatch = 'it=(?P<step>\\d+ obj'\n")
    (formats / "b_good.toml").write_text(MYTRAINER)
    (formats / "c_dir.toml").mkdir()  # not a file: not a format file either
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    loaded = load(entry_points=False)
    assert [f.name for f in loaded.formats] == ["mytrainer"]
    (error,) = loaded.errors
    assert "a_bad.toml: rule 1: bad regex at position 3" in error


def _hwmon(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HWMON, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}, cwd=cwd
    )


def test_format_file_on_the_command_line_with_a_bad_one_beside_it(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(LOG)
    good = tmp_path / "mine.toml"
    good.write_text(MYTRAINER)
    bad = tmp_path / "broken.toml"
    bad.write_text("[[rule]]\nname = 'loss'\nmatch = 'obj=(?P<loss>[0-9.]+'\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "none")}
    done = _hwmon("summary", str(log), "--json", "--format-file", str(bad), "--format-file", str(good), env=env)
    assert done.returncode == 0, done.stderr
    (error,) = done.stderr.splitlines()
    assert str(bad) in error and "rule 1 ('loss')" in error and "position 4" in error
    s = json.loads(done.stdout)
    assert s["train"]["steps"]["last"] == 3 and s["train"]["loss"]["last"] == 2.0 and s["status"] == "succeeded"


def test_hwmon_formats_test_shows_each_rules_lines_and_figures(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(LOG)
    file = tmp_path / "mine.toml"
    file.write_text(MYTRAINER)
    done = _hwmon("formats", "test", str(file), str(log))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "rule step: step /it=" in out and "/s/: 3 lines" in out
    assert "line 2: it=1/3 obj=2.50 thr=100.5/s" in out and "-> target step 3, step 1, loss 2.5, rate 100.5" in out
    assert "line 6: valid acc=71.5% top5=0.93" in out and "eval accuracy 0.715" in out
    assert "line 4:" in out and "(nothing: the line is the format's)" in out
    assert "status succeeded, last step 3, last loss 2.0" in out
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rule]]\nmatch = '(?P<step>\\d+'\n")
    done = _hwmon("formats", "test", str(bad), str(log))
    assert done.returncode == 64 and "bad regex at position 0" in done.stderr and str(bad) in done.stderr


ENTRY_MODULE = '''
from pathlib import Path

TEXT = """
name = "shipped"
[[rule]]
name = "tick"
match = 'tick (?P<step>\\\\d+) cost (?P<loss>[0-9.]+)'
"""


def formats():
    return [TEXT, Path(__file__).with_name("second.toml")]
'''


def test_a_package_ships_formats_through_the_entry_point_group(tmp_path: Path) -> None:
    # A real installed distribution (a .dist-info on sys.path), found by importlib.metadata as pip would leave it.
    site = tmp_path / "site"
    (site / "shippedfmt").mkdir(parents=True)
    (site / "shippedfmt" / "__init__.py").write_text(ENTRY_MODULE)
    (site / "shippedfmt" / "second.toml").write_text("[[rule]]\nmatch = 'BYE'\nevent = 'completed'\n")
    info = site / "shippedfmt-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shippedfmt\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[hwmon.formats]\nshipped = shippedfmt:formats\n")
    log = tmp_path / "run.log"
    log.write_text("tick 1 cost 0.5\ntick 2 cost 0.25\nBYE\n")
    env = {"PYTHONPATH": str(site), "XDG_CONFIG_HOME": str(tmp_path / "none")}
    listed = _hwmon("formats", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "shipped  (shipped.toml, 1 rules)" in listed.stdout and "tick: step /tick" in listed.stdout
    done = _hwmon("summary", str(log), "--json", env=env)
    s = json.loads(done.stdout)
    assert s["train"]["steps"]["last"] == 2 and s["train"]["loss"]["last"] == 0.25 and s["status"] == "succeeded"


def test_hwmon_formats_learned_lists_a_logs_templates_with_the_line_that_taught_them(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("warming up\n" + "".join(f"Iter: {i}, Loss: {1 / i:.3f}\n" for i in range(1, 6)))
    done = _hwmon("formats", "learned", str(log))
    assert done.returncode == 0, done.stderr
    assert "(step, 5 lines, taught by line 2): Iter: <*>, Loss: <*>" in done.stdout
    assert "iter=counter, loss=loss" in done.stdout
