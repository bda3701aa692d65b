"""Task types for the tests that run ``mc runner`` in real subprocesses.

The runners import them through ``--allow-imports tests.runner.process_tasks``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def record_completion(task_ctx: dict[str, Any]) -> None:
    """Append 'flow_key task_key runner_id tick' to task_params.path, then complete.

    One write to a file opened for appending: lines from several processes
    never mix. With ``task_params.sleep_s``, sleeps that long after writing,
    so that a runner killed at a random time is often caught inside a tick.
    """
    task, flow = task_ctx["task"], task_ctx["flow"]
    runner_id = task_ctx["flow_runner"].runner_id
    line = f"{flow.key} {task['key']} {runner_id} {flow.num_ticks}\n".encode()
    fd = os.open(task["task_params"]["path"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    time.sleep(task["task_params"].get("sleep_s", 0))
    task["status"] = "COMPLETED"


def hang_the_first_time(task_ctx: dict[str, Any]) -> None:
    """The first runner to tick this creates task_params.marker and hangs; later ones complete."""
    task = task_ctx["task"]
    marker = Path(task["task_params"]["marker"])
    if marker.exists():
        task["status"] = "COMPLETED"
        return
    # Written whole, then renamed: a test that sees the marker can read it.
    partial = marker.with_name(marker.name + ".partial")
    partial.write_text(task_ctx["flow_runner"].runner_id)
    os.replace(partial, marker)
    time.sleep(120)


def slow_with_marker(task_ctx: dict[str, Any]) -> None:
    """Create task_params.marker, sleep task_params.seconds, complete."""
    task = task_ctx["task"]
    Path(task["task_params"]["marker"]).write_text("started")
    time.sleep(task["task_params"]["seconds"])
    task["status"] = "COMPLETED"
