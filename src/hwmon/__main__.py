from __future__ import annotations

from hwmon.cli import main

raise SystemExit(main())
