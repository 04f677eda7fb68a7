"""The headless path never imports Textual (and the pure core never imports rich): checked in a fresh interpreter,
since this test process may already have imported anything."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "tui_cerebras_run.log"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)


def test_headless_modules_do_not_import_textual_or_rich() -> None:
    result = _run(
        """
        import sys
        import hwmon.parsers.stream, hwmon.model.reducer, hwmon.model.summary, hwmon.model.eta
        import hwmon.model.alerts, hwmon.commands.summary
        bad = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "rich"))
        print(",".join(bad))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"imported: {result.stdout.strip()}"


def test_summary_command_through_the_cli_does_not_import_textual() -> None:
    # The dispatcher imports every command module to build its parser: none of them may pull Textual in at import.
    result = _run(
        f"""
        import contextlib, io, sys
        from hwmon.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(["summary", "--json", {str(FIXTURE)!r}])
        print(code, ",".join(sorted(m for m in sys.modules if m.split(".")[0] == "textual")))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(" ", 1)[0] == "0", result.stdout
    assert result.stdout.strip() == "0", f"textual imported: {result.stdout.strip()}"
