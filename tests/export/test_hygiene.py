"""Export, compare --json and the history are headless: no Textual (and the pure parts no rich), checked in a fresh
interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "generic_train.log"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)


def test_pure_modules_import_neither_textual_nor_rich() -> None:
    result = _run(
        """
        import sys
        import hwmon.model.export, hwmon.model.compare, hwmon.model.history, hwmon.store.history
        print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "rich"))))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_export_and_compare_json_do_not_import_textual() -> None:
    result = _run(
        f"""
        import contextlib, io, sys
        from hwmon.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            codes = [main(["compare", {str(FIXTURE)!r}, {str(FIXTURE)!r}, "--json"]), main(["history", "--json"])]
        print(codes, ",".join(sorted(m for m in sys.modules if m.split(".")[0] == "textual")))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[0, 0]", result.stdout
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from hwmon.cli import main; code = main(['export', sys.argv[1]]); "
            "print(code, any(m.split('.')[0] == 'textual' for m in sys.modules), file=sys.stderr)",
            str(FIXTURE),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == "0 False"
