"""Regenerate the README's picture of ``hwmon report``: the bundled Cerebras example as an HTML report, opened by
headless Chromium (Debian's ``chromium``), saved as ``report_cerebras.png`` in this folder.

    .venv/bin/python screenshots/make_report_screenshot.py [--chromium PATH]

The report is written by the real command (``hwmon report``), then Chromium loads it from a ``file://`` URL (no
network: the report has nothing to fetch) and takes a 1000x1800 screenshot.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "report_cerebras.png"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if not args.chromium:
        print("chromium not found (Debian: apt install chromium)", file=sys.stderr)
        return 1
    example = resources.files("hwmon.examples") / "cerebras_gpt_small.log"
    with tempfile.TemporaryDirectory(prefix="hwmon-report-shot-") as tmp:
        log = Path(tmp) / "cerebras_gpt_small.log"
        log.write_bytes(example.read_bytes())
        html = Path(tmp) / "report.html"
        env = dict(os.environ, HWMON_HISTORY="off")
        subprocess.run(
            [sys.executable, "-m", "hwmon", "report", log.name, "-o", str(html)], check=True, env=env, cwd=tmp
        )
        subprocess.run(
            [
                args.chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={Path(tmp) / 'profile'}",
                "--window-size=1000,1800",
                f"--screenshot={args.out}",
                html.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
