"""A job module for the CLI tests: its job prints numbered lines, one every ``interval_s``.

``job_params``: ``lines`` (default 3), ``interval_s`` (default 0.2), and
``wait_for`` (a file name: the job waits for that file in its work dir
before its last line, so a test can watch it run for as long as it needs).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

_SCRIPT = """\
import os, sys, time
for number in range({lines}):
    if number == {lines} - 1 and {wait_for!r}:
        while not os.path.exists({wait_for!r}):
            time.sleep(0.05)
    print("tick", number, flush=True)
    print("warning", number, file=sys.stderr, flush=True)
    time.sleep({interval_s})
"""


def build_work_dir(params: dict[str, Any], output_dir: str) -> dict[str, Any]:
    """Write the ticking script into the work dir."""
    script = _SCRIPT.format(
        lines=int(params.get("lines", 3)),
        interval_s=float(params.get("interval_s", 0.2)),
        wait_for=str(params.get("wait_for", "")),
    )
    (Path(output_dir) / "ticker.py").write_text(script)
    return {"entrypoint": f"{shlex.quote(sys.executable)} -u ticker.py"}
