"""The ``mc`` command: run and validate flow specs from files.

``mc run FILE`` builds a flow from a JSON or YAML spec, ticks it to its end,
prints what the tasks print, then a table of tasks and the flow's final
status; it exits 0 only if the flow COMPLETED. Meanwhile it shows progress
(see :mod:`mc.cli.progress`): a live display on a terminal, else a line per
task change on stderr; ``--events FILE`` appends every event as JSON.
``mc logs`` is in :mod:`mc.cli.logs`. ``mc validate FILE`` checks a
spec, and that ``mc run`` would find its task types. ``mc upgrade-spec FILE``
rewrites a MissionControl 0.x spec in today's spelling.
Tasks with a cache policy reuse results from a local SQLite cache in the
user's cache directory (``--cache-db URL`` to choose another, ``--no-cache``
to bypass it).

Ctrl-C (SIGINT) or SIGTERM stops ``mc run`` after the tick under way,
cancels the flow's running jobs (or, with ``--db``/``--keep``, stores the
flow with them running, for ``mc runner`` to resume), prints the task table
and exits 130 (see :mod:`mc.cli.interrupts`).

Exit codes: 0 success; 1 the flow FAILED (or did not end); 2 bad input (a
file that cannot be read or parsed, an invalid spec, bad arguments); 130
interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from mc import __version__
from mc.cli.arguments import add_max_flow_mb, max_flow_bytes, positive_int
from mc.cli.cache_commands import add_cache_commands
from mc.cli.config_command import add_config_command
from mc.cli.exit_codes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from mc.cli.graph_command import add_graph_command
from mc.cli.interrupts import Interrupts, stop_interrupted_run
from mc.cli.job_options import (
    add_job_options,
    configure_jobs,
    warn_if_root,
)
from mc.cli.logs import add_logs_command
from mc.cli.progress import (
    LiveProgress,
    PlainProgress,
    board_for_flow,
    task_duration,
    task_table,
)
from mc.cli.spec_files import load_flow_spec_file
from mc.cli.store_commands import add_store_commands
from mc.cli.terminal import EscapingWriter, columns, printable
from mc.cli.ui_commands import add_ui_commands
from mc.cli.upgrade_command import add_upgrade_command
from mc.errors import ExecutorError, FlowError, FlowSpecError, MCError, TaskTypeError
from mc.flows.cache import LazyTaskCache, TaskCache
from mc.flows.events import JsonLinesEventWriter, call_all
from mc.flows.flow import Flow
from mc.flows.flow_engine import FlowEngine
from mc.flows.statuses import COMPLETED

__all__ = ["main", "add_watch_options", "open_event_file", "wants_live"]

_PROGRESS_MODES = ("auto", "live", "plain", "none")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mc`` command with ``argv`` (default: ``sys.argv[1:]``)."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return int(args.command(args))
    except BrokenPipeError:
        # The reader has gone (mc logs KEY | head): stop quietly, as cat does.
        # Python would complain again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_FAILED


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mc", description="MissionControl: run flows of tasks, tick by tick."
    )
    parser.add_argument("--version", action="version", version=f"mc {__version__}")
    commands = parser.add_subparsers(metavar="COMMAND")

    run = commands.add_parser("run", help="run a flow spec file to its end")
    run.add_argument("file", help="a flow spec, as .json, .yaml or .yml")
    run.add_argument(
        "--max-ticks", type=positive_int, default=None, help="give up after this many ticks"
    )
    run.add_argument(
        "--json",
        action="store_true",
        help="print the final flow dict as JSON (task output goes to stderr)",
    )
    run.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="store the flow in this database when the run ends or is interrupted; an "
        "interrupted run's jobs are then left running, and mc runner --db URL resumes it",
    )
    run.add_argument(
        "--keep",
        action="store_true",
        help="as --db, in the default database ($MC_DB_URL, else sqlite:///mc.db)",
    )
    add_watch_options(run)
    caching = run.add_mutually_exclusive_group()
    caching.add_argument(
        "--cache-db",
        default=None,
        metavar="URL",
        help="the task cache's database (default: a SQLite file in your user cache dir, "
        "such as ~/.cache/missioncontrol/cache.db)",
    )
    caching.add_argument(
        "--no-cache",
        action="store_true",
        help="run every task, even one with a cache policy; store no result",
    )
    _add_allow_imports(run)
    add_job_options(run)
    add_max_flow_mb(run)
    run.set_defaults(command=_run_command)

    validate = commands.add_parser(
        "validate", help="check a flow spec file, and that its task types exist"
    )
    validate.add_argument("file", help="a flow spec, as .json, .yaml or .yml")
    _add_allow_imports(validate)
    validate.set_defaults(command=_validate_command)

    add_store_commands(commands)
    add_graph_command(commands)
    add_logs_command(commands)
    add_upgrade_command(commands)
    add_cache_commands(commands)
    add_ui_commands(commands)
    add_config_command(commands)
    return parser


def add_watch_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--progress`` and ``--events``, which ``mc run`` and ``mc runner`` share."""
    parser.add_argument(
        "--progress",
        choices=_PROGRESS_MODES,
        default="auto",
        help="live: a display redrawn in place (needs a terminal); plain: one line per task "
        "state change; none; auto (default): live on a terminal, else plain",
    )
    parser.add_argument(
        "--events",
        default=None,
        metavar="FILE",
        help="append every event (flow/task/job state changes) to FILE as JSON lines",
    )


def open_event_file(command: str, path: str | None) -> JsonLinesEventWriter | None:
    """Open ``--events FILE`` for appending; raise SystemExit(2) with a message if it cannot be."""
    if path is None:
        return None
    try:
        return JsonLinesEventWriter(path)
    except OSError as error:
        print(
            f"mc {command}: --events {printable(path)}: cannot open for appending: "
            f"{error.strerror or error}",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_BAD_INPUT) from None


def wants_live(mode: str, out: TextIO) -> bool:
    """Return True if ``--progress`` ``mode`` means the live display on ``out``."""
    on_terminal = bool(getattr(out, "isatty", lambda: False)())
    return mode == "live" or (mode == "auto" and on_terminal)


def _add_allow_imports(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-imports",
        action="append",
        default=[],
        metavar="PREFIX",
        help="module prefix from which dotted task types may be imported (repeatable)",
    )


def _run_command(args: argparse.Namespace) -> int:
    warn_if_root(sys.stderr, "run")
    try:
        cache = _local_cache(args)
        engine = FlowEngine(
            allow_imports=args.allow_imports, max_flow_bytes=max_flow_bytes(args), cache=cache
        )
        task_ctx = configure_jobs(args, engine)
        flow = engine.flow_spec_to_flow(load_flow_spec_file(args.file))
    except (FlowSpecError, TaskTypeError, ExecutorError, MCError) as error:
        print(f"mc run: {printable(error, keep_newlines=True)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    event_file = open_event_file("run", args.events)
    live = not args.json and wants_live(args.progress, sys.stdout)
    interrupts = Interrupts("run")
    try:
        with interrupts:
            if live:
                _run_live(engine, flow, args, task_ctx, event_file, interrupts)
            else:
                _run_plain(engine, flow, args, task_ctx, event_file, interrupts)
            if (args.db or args.keep) and not interrupts.requested():
                print(
                    f"mc run: stored flow {printable(flow.key)} in {_store_flow(args, flow)}",
                    file=sys.stderr,
                )
    except MCError as error:  # the store could not take the flow
        print(f"mc run: {printable(error, keep_newlines=True)}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if event_file is not None:
            event_file.close()
        if cache is not None:
            cache.close()
    if args.json:
        try:
            print(json.dumps(flow.to_flow_dict(), indent=2))
        except FlowError as error:
            print(f"mc run: {printable(error, keep_newlines=True)}", file=sys.stderr)
            return EXIT_FAILED
    elif not live:
        print(_format_task_table(flow))
        print(f"flow {printable(flow.key)} ({printable(flow.label or 'no label')}): {flow.status}")
    if interrupts.requested():
        return EXIT_INTERRUPTED
    return EXIT_OK if flow.status == COMPLETED else EXIT_FAILED


def _store_flow(args: argparse.Namespace, flow: Flow) -> str:
    """Store ``flow`` as a new flow in ``--db`` (or the default database); return its URL.

    The URL is shown redacted.
    """
    from mc.store import FlowStore, default_db_url
    from mc.store.redaction import redact_db_url

    url = args.db or default_db_url()
    with FlowStore(url) as store:
        store.create_flow(flow)
    return redact_db_url(url)


def _run_flow(
    engine: FlowEngine,
    flow: Flow,
    args: argparse.Namespace,
    task_ctx: dict[str, Any],
    interrupts: Interrupts,
) -> None:
    """Run the flow to its end, or until interrupted; then cancel (or store) what still runs."""
    # What tasks write (a print task's message, a log task's record through
    # logging's last-resort handler) comes from the spec: escape it.
    try:
        with (
            contextlib.redirect_stdout(EscapingWriter(sys.stdout)),
            contextlib.redirect_stderr(EscapingWriter(sys.stderr)),
        ):
            engine.run_flow(
                flow,
                task_ctx,
                max_ticks=args.max_ticks,
                poll_interval_s=0.05,
                should_stop=interrupts.requested,
            )
        if interrupts.signal_name is not None and not flow.finished:
            store = (lambda flow: _store_flow(args, flow)) if args.db or args.keep else None
            stop_interrupted_run(engine, flow, task_ctx, interrupts.signal_name, store, sys.stderr)
    except FlowError as error:
        print(f"mc run: {printable(error, keep_newlines=True)}", file=sys.stderr)
    finally:
        engine.close()


def _run_plain(
    engine: FlowEngine,
    flow: Flow,
    args: argparse.Namespace,
    task_ctx: dict[str, Any],
    event_file: JsonLinesEventWriter | None,
    interrupts: Interrupts,
) -> None:
    """Run with one progress line per change on stderr: stdout keeps task output and the table."""
    progress = PlainProgress(sys.stderr) if args.progress != "none" else None
    engine.on_event = call_all(progress, event_file)
    task_output: TextIO = sys.stderr if args.json else sys.stdout
    with contextlib.redirect_stdout(task_output):
        _run_flow(engine, flow, args, task_ctx, interrupts)


def _run_live(
    engine: FlowEngine,
    flow: Flow,
    args: argparse.Namespace,
    task_ctx: dict[str, Any],
    event_file: JsonLinesEventWriter | None,
    interrupts: Interrupts,
) -> None:
    """Run under a live display on the terminal; end with the final task table."""
    from rich.console import Console
    from rich.text import Text

    console = Console(file=sys.stdout)  # the terminal, even while a tick captures sys.stdout
    title = f"flow {printable(flow.key)} ({printable(flow.label or 'no label')})"
    with LiveProgress(console, title, board_for_flow(flow)) as progress:
        engine.on_event = call_all(progress, event_file)
        _run_flow(engine, flow, args, task_ctx, interrupts)
    console.print(task_table(flow))
    console.print(
        Text(f"flow {printable(flow.key)} ({printable(flow.label or 'no label')}): {flow.status}"),
        style="green" if flow.status == COMPLETED else "bold red",
    )


def _local_cache(args: argparse.Namespace) -> LazyTaskCache | None:
    """The task cache of ``mc run``: opened when a cached task first needs it, or None."""
    if args.no_cache:
        return None

    def open_cache() -> TaskCache:
        # SQLAlchemy is imported only when a cached task needs the cache.
        from mc.store.cache import SqlTaskCache

        return SqlTaskCache(args.cache_db)

    return LazyTaskCache(open_cache)


def _validate_command(args: argparse.Namespace) -> int:
    try:
        engine = FlowEngine(allow_imports=args.allow_imports)
        flow = engine.flow_spec_to_flow(load_flow_spec_file(args.file))
        _check_task_types(engine, flow)
    except (FlowSpecError, TaskTypeError) as error:
        print(f"mc validate: {printable(error, keep_newlines=True)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"{args.file}: valid flow spec with {len(flow.tasks)} tasks")
    return EXIT_OK


def _check_task_types(engine: FlowEngine, flow: Flow) -> None:
    """Raise FlowSpecError for the first task whose type ``mc run`` could not resolve."""
    for index, task in enumerate(flow.tasks.values()):
        try:
            engine.task_type_registry.resolve(task["task_type"])
        except TaskTypeError as error:
            raise FlowSpecError(f"tasks[{index}].task_type", str(error)) from None


def _format_task_table(flow: Flow) -> str:
    """Return a text table of the flow's tasks: key, type, status, duration.

    Keys and types are shown escaped (see :mod:`mc.cli.terminal`). A task that
    completed from the cache shows ``cached`` as its duration.
    """
    rows = [("TASK", "TYPE", "STATUS", "DURATION")]
    for key, task in flow.tasks.items():
        rows.append(
            (printable(key), printable(task["task_type"]), task["status"], task_duration(task))
        )
    return columns(rows)
