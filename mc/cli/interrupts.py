"""Ctrl-C and SIGTERM on ``mc run``: stop between ticks, cancel the running jobs, or keep them.

While a run goes on, :class:`Interrupts` catches SIGINT and SIGTERM. The
first one only asks the run to stop: the engine finishes the tick under way
(so no job is submitted without its handle being kept) and returns. Then
:func:`stop_interrupted_run` either cancels every running job of the flow,
subflows included, and says which (the default), or, when the flow is to
be stored (``--db URL`` or ``--keep``), leaves them running and stores the
flow, so that ``mc runner`` resumes it and reconnects to the same jobs. A
second signal exits at once (status 130), cancelling and storing nothing.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Any, TextIO

from mc.cli.exit_codes import EXIT_INTERRUPTED
from mc.cli.terminal import printable
from mc.flows.flow import Flow
from mc.flows.flow_engine import FlowEngine
from mc.flows.statuses import RUNNING
from mc.flows.tree import build_flow_tree

__all__ = ["Interrupts", "running_jobs", "stop_interrupted_run"]


class Interrupts:
    """A context manager that turns SIGINT and SIGTERM into a request to stop.

    ``signal_name`` is None until the first signal, then its name
    (``'SIGINT'``). Outside the main thread it installs nothing.
    """

    def __init__(self, command: str) -> None:
        self.command = command
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def requested(self) -> bool:
        """Return True once a signal asked the run to stop."""
        return self.signal_name is not None

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _on_signal(self, signum: int, _frame: Any) -> None:
        # Only os.write and os._exit here: a handler may run in the middle of
        # a print, and Python's buffered streams are not reentrant.
        if self.signal_name is not None:
            os.write(2, f"\nmc {self.command}: interrupted again: exiting at once\n".encode())
            os._exit(EXIT_INTERRUPTED)
        self.signal_name = signal.Signals(signum).name
        os.write(
            2,
            f"\nmc {self.command}: {self.signal_name}: stopping after this tick "
            "(again to exit at once)\n".encode(),
        )


def running_jobs(flow: Flow) -> list[tuple[str, str, str]]:
    """The flow's RUNNING tasks with a job or call, subflows included: (path, executor, job id)."""
    flow_dict = flow.to_flow_dict()
    job_ids = _job_ids_by_dir(flow_dict)
    found = []

    def walk(nodes: Any) -> None:
        for node in nodes:
            if node.children:
                walk(node.children)
            elif node.status == RUNNING and node.executor:
                job_id = node.job_id or job_ids.get(node.job_dir or "")
                found.append((node.path, node.executor, job_id or node.job_dir or ""))

    walk(build_flow_tree(flow_dict).tasks)
    return found


def _job_ids_by_dir(value: Any) -> dict[str, str]:
    """The job ids in the job handles (``task['job']``) anywhere in a flow dict, by job dir."""
    found: dict[str, str] = {}
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            job = item.get("job")
            if isinstance(job, dict) and isinstance(job.get("handle"), dict):
                job_id, job_dir = job["handle"].get("job_id"), job.get("job_dir")
                if isinstance(job_dir, str) and job_id is not None:
                    found[job_dir] = str(job_id)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def stop_interrupted_run(
    engine: FlowEngine,
    flow: Flow,
    task_ctx: dict[str, Any],
    signal_name: str,
    store_flow: Callable[[Flow], str] | None,
    err: TextIO,
) -> None:
    """Cancel the interrupted flow's running jobs, or store the flow with them running.

    Says what it did on ``err``.
    """
    jobs = running_jobs(flow)
    if store_flow is not None:
        where = store_flow(flow)
        print(
            f"mc run: {signal_name}: stored flow {printable(flow.key)} in {where} with "
            f"{len(jobs)} job(s) still running; resume it with: mc runner --db {where}",
            file=err,
        )
        for path, executor, job_id in jobs:
            print(
                f"  left running: {printable(path)} on {printable(executor)} "
                f"{printable(job_id)}".rstrip(),
                file=err,
            )
        return
    engine.cancel_flow(flow, f"interrupted by {signal_name}", task_ctx)
    print(f"mc run: {signal_name}: cancelled {len(jobs)} running job(s)", file=err)
    for path, executor, job_id in jobs:
        print(
            f"  cancelled: {printable(path)} on {printable(executor)} {printable(job_id)}".rstrip(),
            file=err,
        )
