"""``mc show --provenance KEY TASK``: the chain of tasks whose outputs fed a task.

Prints the tree of :func:`mc.flows.provenance.provenance_chain`, one task
per line (its path, type and status, and how its output reached the task
above), each followed by how its result was made: when, by whom, on which
host, with which code, on which executor, and whether it came from the
cache. Everything from the flow goes through :func:`~mc.cli.terminal.printable`.
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

from mc.cli.exit_codes import EXIT_BAD_INPUT, EXIT_OK
from mc.cli.terminal import printable
from mc.errors import FlowError
from mc.flows.cache import task_provenance
from mc.flows.provenance import ProvenanceNode, provenance_chain

__all__ = ["describe_result", "print_chain", "show_provenance"]


if TYPE_CHECKING:
    from mc.store.flow_store import FlowStore

_HASH_SHOWN = 12


def show_provenance(store: FlowStore, key: str, task_path: str, as_json: bool) -> int:
    """Print the provenance chain of ``task_path`` in stored flow ``key``; return an exit code."""
    flow = store.get_flow(key)
    try:
        chain = provenance_chain(flow.to_flow_dict(), task_path)
    except FlowError as error:
        print(f"mc show: {printable(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if as_json:
        print(json.dumps(chain.to_dict(), indent=2, ensure_ascii=True))
        return EXIT_OK
    print(f"provenance of {printable(task_path)} in flow {printable(key)}:")
    print_chain(chain, sys.stdout)
    return EXIT_OK


def print_chain(node: ProvenanceNode, out: TextIO, depth: int = 0) -> None:
    """Print ``node`` and its feeders as an indented tree."""
    indent = "   " * depth
    arrow = "<- " if depth else ""
    task = node.task
    task_type = printable(task.get("task_type"))
    line = f"{indent}{arrow}{printable(node.path)}  {task_type}  {task.get('status')}"
    if node.via:
        line += "  via " + "; ".join(printable(how) for how in node.via)
    if node.seen:
        line += "  (see above)"
    print(line, file=out)
    if not node.seen:
        details = describe_result(task)
        if details:
            print(f"{indent}{'   ' if depth else ''}   {details}", file=out)
        for feeder in node.feeders:
            print_chain(feeder, out, depth + 1)


def describe_result(task: Mapping[str, Any]) -> str:
    """One line on how a task's result was made, from its ``provenance`` and cache fields."""
    provenance = task_provenance(task)
    parts = []
    if isinstance(provenance, Mapping):
        made = f"made {_time(provenance.get('finished_at'))}"
        if provenance.get("user") or provenance.get("host"):
            user = printable(provenance.get("user") or "?")
            made += f" by {user}@{printable(provenance.get('host') or '?')}"
        versions = printable(provenance.get("mc_version")), printable(provenance.get("python"))
        made += f" (mc {versions[0]}, Python {versions[1]})"
        parts.append(made)
        code = provenance.get("code")
        if isinstance(code, Mapping) and code:
            parts.append("code " + _describe_code(code))
        run = provenance.get("run")
        if isinstance(run, Mapping) and run.get("executor"):
            ran = f"executor {printable(run['executor'])}"
            if run.get("job_id"):
                ran += f" job {printable(run['job_id'])}"
            parts.append(ran)
    cached_from = task.get("cached_from")
    if isinstance(cached_from, Mapping):
        parts.append(
            f"cached from {printable(cached_from.get('flow'))}/{printable(cached_from.get('task'))}"
            f" at {_time(cached_from.get('at'))}"
        )
    if task.get("cache_key"):
        parts.append(f"cache key {printable(str(task['cache_key'])[:_HASH_SHOWN])}")
    return "; ".join(parts)


def _describe_code(code: Mapping[str, Any]) -> str:
    if "job_type" in code:
        text = f"job type {printable(code['job_type'])}"
        if code.get("job_type_version") is not None:
            text += f" version {printable(code['job_type_version'])}"
        sha = code.get("module_source_sha256")
        if sha:
            text += f" ({printable(code.get('module'))} {printable(str(sha)[:_HASH_SHOWN])})"
        return text
    if "fn" in code:
        sha = code.get("source_sha256")
        return f"{printable(code['fn'])}" + (
            f" ({printable(str(sha)[:_HASH_SHOWN])})" if sha else ""
        )
    return printable(json.dumps(dict(code), sort_keys=True))


def _time(epoch_s: Any) -> str:
    if not isinstance(epoch_s, (int, float)):
        return "-"
    return datetime.datetime.fromtimestamp(epoch_s).isoformat(sep=" ", timespec="seconds")
