"""The ``mc`` commands that work on a flow store.

``mc submit FILE`` stores a flow spec as a new flow and prints its key;
``mc runner`` ticks the stored flows; ``mc ls`` lists them, newest first;
``mc show KEY`` shows one as a tree of its tasks; ``mc retry KEY`` puts its
FAILED and SKIPPED tasks back to PENDING; ``mc cancel KEY`` stops it. Each
takes ``--db URL`` (default ``$MC_DB_URL``, else ``sqlite:///mc.db``).
Wherever a command takes a flow key, a unique prefix of it will do, as for
git's commit hashes (:func:`resolve_flow_key`).

Exit codes, as for the other commands: 0 success; 1 the command could not
do its work (nothing to retry, a flow already ended, a flow that a runner
kept leased); 2 bad input (an
unreadable file, an invalid spec, an unknown key, a database that cannot be
opened or fails while the command runs).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from mc.cli.arguments import (
    add_max_flow_mb,
    max_flow_bytes,
    non_negative_duration,
    positive_duration,
    positive_int,
)
from mc.cli.exit_codes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from mc.cli.job_options import (
    add_job_options,
    configure_jobs,
    warn_if_root,
)
from mc.cli.terminal import EscapingFormatter, columns, printable
from mc.errors import FlowLeasedError, FlowLoadError, FlowSpecError, MCError, StoreError
from mc.flows.events import call_all
from mc.flows.flow import Flow
from mc.flows.flow_engine import FlowEngine
from mc.flows.statuses import FlowStatus
from mc.flows.task_logs import TaskLogs, is_capturing

if TYPE_CHECKING:  # SQLAlchemy is imported only by the commands that use a store
    from mc.runner.flow_runner import RunnerStats
    from mc.store.flow_store import FlowRecord, FlowStore

__all__ = [
    "add_db_option",
    "add_store_commands",
    "resolve_flow_key",
    "with_store",
]


# retry and cancel lease the flow for this long while they change it, and
# wait this long for a runner that holds it to save it.
_COMMAND_LEASE_S = 60.0
_LEASE_WAIT_S = 30.0

#: How many flows ``mc ls`` lists without ``--limit`` or ``--all``.
_LS_DEFAULT_LIMIT = 20


def add_store_commands(commands: Any) -> None:
    """Add ``submit``, ``runner``, ``ls``, ``show``, ``retry`` and ``cancel`` to ``commands``.

    ``commands`` is the object that ``ArgumentParser.add_subparsers`` returned.
    """
    submit = commands.add_parser("submit", help="store a flow spec file as a new flow")
    submit.add_argument("file", help="a flow spec, as .json, .yaml or .yml")
    add_db_option(submit)
    submit.set_defaults(command=_submit_command)

    runner = commands.add_parser("runner", help="tick the stored flows until stopped")
    add_db_option(runner)
    runner.add_argument("--once", action="store_true", help="run one round, then exit")
    runner.add_argument(
        "--interval",
        type=non_negative_duration,
        default=1.0,
        metavar="DURATION",
        help="how long to sleep when no flow needs ticking, as 1.5, 30s, 5m (default 1s)",
    )
    runner.add_argument(
        "--until-done",
        action="store_true",
        help="exit once no flow in the store is PENDING or RUNNING",
    )
    runner.add_argument(
        "--lease",
        type=positive_duration,
        default=30.0,
        metavar="DURATION",
        help="how long a claimed flow stays leased to this runner unless renewed (it renews "
        "every third of that while it works), as 30, 2m (default 30s)",
    )
    runner.add_argument(
        "--save-every",
        type=positive_int,
        default=1,
        metavar="N",
        help="save a flow after every N ticks (default 1: a killed runner repeats at most "
        "the tick in flight; more writes less and may repeat up to N ticks)",
    )
    runner.add_argument(
        "--batch",
        type=positive_int,
        default=10,
        metavar="N",
        help="flows claimed per round (default 10)",
    )
    runner.add_argument(
        "--poll",
        type=non_negative_duration,
        default=1.0,
        metavar="DURATION",
        help="how long before a flow that waits on outside work is ticked again (default 1s)",
    )
    runner.add_argument(
        "--runner-id",
        default=None,
        help="this runner's name in leases (default: host:pid:random); a runner restarted "
        "under the same name takes its leased flows back at once; never share it",
    )
    runner.add_argument(
        "--allow-imports",
        action="append",
        default=[],
        metavar="PREFIX",
        help="module prefix from which dotted task types may be imported (repeatable)",
    )
    add_job_options(runner)
    runner.add_argument(
        "--no-cache",
        action="store_true",
        help="run every task, even one with a cache policy (by default such tasks reuse "
        "results from the store's task cache)",
    )
    runner.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="log what happens to each flow (INFO) on stderr, not only warnings",
    )
    runner.add_argument(
        "--logs-root",
        default=None,
        metavar="DIR",
        help="where task logs go (default: $MC_LOGS_ROOT, else mc_logs in the working directory)",
    )
    from mc.cli import add_watch_options

    add_watch_options(runner)
    add_max_flow_mb(runner)
    runner.set_defaults(command=_runner_command)

    ls = commands.add_parser("ls", help="list the stored flows, newest first")
    add_db_option(ls)
    ls.add_argument("--status", choices=sorted(FlowStatus.ALL), help="only flows with this status")
    ls.add_argument(
        "--label",
        default=None,
        metavar="GLOB",
        help="only flows whose label matches GLOB (* any characters, ? one; case-sensitive)",
    )
    ls.add_argument("--parent", default=None, metavar="KEY", help="only the stored subflows of KEY")
    ls.add_argument(
        "--since",
        type=positive_duration,
        default=None,
        metavar="DURATION",
        help="only flows created within DURATION, as 30s, 5m, 2h, 1d",
    )
    limits = ls.add_mutually_exclusive_group()
    limits.add_argument(
        "--limit",
        type=positive_int,
        default=_LS_DEFAULT_LIMIT,
        metavar="N",
        help=f"at most N flows, the newest (default {_LS_DEFAULT_LIMIT})",
    )
    limits.add_argument("--all", action="store_true", help="every matching flow, no limit")
    ls.add_argument("--oldest-first", action="store_true", help="list the oldest first")
    ls.add_argument("--json", action="store_true", help="print a JSON list of records")
    ls.set_defaults(command=_ls_command)

    show = commands.add_parser(
        "show", help="show a stored flow as a tree: tasks, subflows, spread items, jobs, errors"
    )
    show.add_argument("key", help="the flow's key, or a unique prefix of it")
    show.add_argument(
        "task",
        nargs="?",
        default=None,
        help="with --provenance: the task (SPREAD/ITEM for an item of a spread)",
    )
    add_db_option(show)
    show.add_argument("--json", action="store_true", help="print the flow dict as JSON")
    show.add_argument(
        "--provenance",
        action="store_true",
        help="print the chain of tasks whose outputs fed TASK, and how each was made",
    )
    show.set_defaults(command=_show_command)

    retry = commands.add_parser(
        "retry", help="put a flow's FAILED and SKIPPED tasks back to PENDING"
    )
    retry.add_argument("key", help="the flow's key, or a unique prefix of it")
    add_db_option(retry)
    retry.set_defaults(command=_retry_command)

    cancel = commands.add_parser("cancel", help="stop a flow: it ends FAILED")
    cancel.add_argument("key", help="the flow's key, or a unique prefix of it")
    add_db_option(cancel)
    cancel.add_argument("--reason", default="cancelled", help="recorded in the flow's data")
    cancel.set_defaults(command=_cancel_command)


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--db URL``, which every command on a flow store takes."""
    parser.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="database URL (default: $MC_DB_URL, else sqlite:///mc.db)",
    )


def _open_store(args: argparse.Namespace) -> FlowStore:
    from mc.store import FlowStore, default_db_url

    return FlowStore(args.db or default_db_url())


# A runner that finds its database server down waits this long before trying
# again, doubling up to the maximum.
_FIRST_RETRY_S = 1.0
_MAX_RETRY_S = 30.0


def _open_store_waiting(args: argparse.Namespace) -> FlowStore:
    """Open the store; while its server is unreachable, say so and try again.

    Only ``mc runner`` without ``--once`` waits: a service manager may start
    it before the database. Every other command fails at once.
    """
    from mc.errors import StoreUnavailableError

    wait = max(_FIRST_RETRY_S, min(getattr(args, "interval", 0.0), _MAX_RETRY_S))
    while True:
        try:
            return _open_store(args)
        except StoreUnavailableError as error:
            if args.command is not _runner_command or args.once:
                raise
            print(
                f"mc runner: {printable(error, keep_newlines=True)}\n"
                "mc runner: waiting for the database; "
                f"trying again in {wait:g}s (Ctrl-C to stop)",
                file=sys.stderr,
                flush=True,
            )
            time.sleep(wait)
            wait = min(wait * 2, _MAX_RETRY_S)


def with_store(
    name: str, command: Callable[[argparse.Namespace, FlowStore], int]
) -> Callable[[argparse.Namespace], int]:
    """Open the store, run ``command``, close the store; report MCErrors as bad input."""

    def run(args: argparse.Namespace) -> int:
        try:
            store = _open_store_waiting(args)
        except StoreError as error:
            print(f"mc {name}: {printable(error, keep_newlines=True)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (see mc.entry_point)
            print(f"mc {name}: stopped while waiting for the database", file=sys.stderr)
            return EXIT_INTERRUPTED
        try:
            return command(args, store)
        except (StoreError, FlowLoadError, FlowSpecError) as error:
            print(f"mc {name}: {printable(error, keep_newlines=True)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        finally:
            store.close()

    return run


def resolve_flow_key(store: FlowStore, given: str) -> str:
    """Return the full key of the flow that ``given`` names: its key, or a unique prefix.

    Every ``mc`` command that takes a flow key calls this. Raises
    :class:`~mc.errors.FlowNotFoundError` when no flow matches and
    :class:`~mc.errors.AmbiguousFlowKeyError` (listing candidates) when
    several do; ``with_store`` reports both as bad input (exit 2).
    """
    return store.resolve_key(given)


# -- submit ------------------------------------------------------------------


def _submit(args: argparse.Namespace, store: FlowStore) -> int:
    from mc.cli.spec_files import load_flow_spec_file

    key = store.create_flow(load_flow_spec_file(args.file))
    print(printable(key))
    return EXIT_OK


# -- runner ------------------------------------------------------------------


def _runner(args: argparse.Namespace, store: FlowStore) -> int:
    from mc.cli import open_event_file, wants_live

    warn_if_root(sys.stderr, "runner")
    live = wants_live(args.progress, sys.stdout)
    console = None
    if live:
        from rich.console import Console

        console = Console(file=sys.stdout)  # the terminal, even while a tick captures sys.stdout
    _configure_runner_logging(args.verbose, console)
    event_file = open_event_file("runner", args.events)
    progress = _RunnerProgress(store, sys.stdout, console, show_tasks=args.progress != "none")
    task_logs = TaskLogs(args.logs_root, echo=progress.echo_output)
    try:
        cache = None if args.no_cache else store.task_cache()
        engine = FlowEngine(
            allow_imports=args.allow_imports,
            task_output=task_logs,
            max_flow_bytes=max_flow_bytes(args),
            cache=cache,
        )
        task_ctx = configure_jobs(args, engine)
    except MCError as error:
        print(f"mc runner: {printable(error, keep_newlines=True)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        with engine:
            on_event = call_all(progress.on_event, event_file)
            return _run_runner(args, store, engine, task_ctx, progress, on_event)
    finally:
        if event_file is not None:
            event_file.close()


def _configure_runner_logging(verbose: bool, console: Any) -> None:
    """Send log records to stderr (through rich on a terminal), never those a task log keeps.

    The root logger lets INFO through, so that what tasks log at INFO reaches
    their task logs; the handler here shows warnings, or INFO with ``-v``.
    """
    root = logging.getLogger()
    if root.handlers:
        return
    handler: logging.Handler
    if console is not None:
        from rich.logging import RichHandler

        handler = RichHandler(console=console, show_path=False)
        # Records name flows and tasks from specs: escaped (rich shows ESC raw).
        handler.setFormatter(EscapingFormatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(EscapingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO if verbose else logging.WARNING)
    handler.addFilter(lambda record: not is_capturing())
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # SQLAlchemy would log every statement at INFO once its loggers allow it.
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)


def _run_runner(
    args: argparse.Namespace,
    store: FlowStore,
    engine: FlowEngine,
    task_ctx: dict[str, Any],
    progress: _RunnerProgress,
    on_event: Any,
) -> int:
    from mc.runner import FlowRunner

    runner = FlowRunner(
        store,
        engine,
        task_ctx=task_ctx,
        runner_id=args.runner_id,
        lease_s=args.lease,
        batch_size=args.batch,
        poll_interval_s=args.poll,
        save_every_ticks=args.save_every,
        on_event=on_event,
    )
    progress.runner_id = runner.runner_id
    try:
        total = runner.run(
            interval_s=args.interval,
            until_done=args.until_done,
            max_rounds=1 if args.once else None,
            on_round=progress.on_round,
            on_start=progress.start,
        )
    finally:
        progress.stop_live()
    progress.finish(total, stopped=runner.stop_requested)
    return EXIT_OK


class _RunnerProgress:
    """What ``mc runner`` prints: a line per task change, each naming its flow.

    Every line names the flow (label and key prefix), so lines of flows
    ticked side by side never mix unlabelled; so does what tasks print,
    echoed from their task logs as ``<flow> <task path> | <line>``. There is
    no per-round line: a round that changed something has told it task by
    task, and one that changed nothing has nothing to say.

    On a terminal (``console`` given) a live display, redrawn in place by
    rich, sits below the lines: this runner's counts, the store's flows by
    status, the running tasks with elapsed time, and the jobs by state.
    Lines and log records are printed above it, never into it. It ends
    with a table of the flows this runner ticked.
    """

    def __init__(
        self, store: FlowStore, out: TextIO, console: Any = None, show_tasks: bool = True
    ) -> None:
        from mc.cli.progress import LiveProgress, PlainProgress, TaskBoard

        self.store = store
        self.runner_id = ""
        self.out = out
        self.console = console
        self.show_tasks = show_tasks
        self.board = TaskBoard(many_flows=True)
        self.live: LiveProgress | None = None
        self.plain: PlainProgress | None = None
        if console is not None:
            self.live = LiveProgress(console, "runner", self.board, all_lines=show_tasks)
        elif show_tasks:
            self.plain = PlainProgress(out)
        self._last_draw = 0.0

    def start(self) -> None:
        """Say which runner works on which store (once it handles SIGTERM and SIGINT)."""
        self._line(f"runner {self.runner_id} on {self.store.url}")
        if self.live is not None:
            self.live.title = f"runner {self.runner_id}"
            self.live.__enter__()

    def on_event(self, event: Any) -> None:
        """Show one event (the runner's ``on_event``)."""
        if self.live is not None:
            self.live(event)
        elif self.plain is not None:
            self.plain(event)
        else:
            self.board.update(event)

    def echo_output(self, flow_key: str, flow_label: str | None, task_path: str, text: str) -> None:
        """Show what a task printed in a tick, each line labelled with its flow and task."""
        if not self.show_tasks:
            return
        from mc.cli.progress import flow_tag

        stamp = datetime.datetime.now().isoformat(timespec="seconds")
        tag = f"{stamp} {flow_tag(flow_key, flow_label)} {printable(task_path)} |"
        lines = [f"{tag} {printable(line)}" for line in text.splitlines()]
        if self.console is not None:
            from rich.text import Text

            for line in lines:
                self.console.print(Text(line))
        else:
            for line in lines:
                print(line, file=self.out, flush=True)

    def on_round(self, round_stats: RunnerStats, total: RunnerStats) -> None:
        """Update the live display's counts (called by :meth:`FlowRunner.run`)."""
        if self.live is None:
            return
        now = time.monotonic()
        if now - self._last_draw < 0.5:
            return
        self._last_draw = now
        counts = self.store.count_by_status()
        store_part = " ".join(f"{status} {counts.get(status, 0)}" for status in _STATUS_ORDER)
        self.live.title = f"runner {self.runner_id}: {_format_stats(total)} | store: {store_part}"

    def stop_live(self) -> None:
        """Remove the live display (before the final lines)."""
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def finish(self, total: RunnerStats, stopped: bool) -> None:
        """Print the flows this runner ticked (on a terminal), then the totals."""
        if self.console is not None and self.board.flows:
            from rich.table import Table
            from rich.text import Text

            from mc.cli.progress import STATUS_STYLES

            table = Table()
            for name in ("FLOW", "LABEL", "STATUS"):
                table.add_column(name)
            flows = list(self.board.flows.items())
            for key, (label, status) in flows[-_FINAL_TABLE_ROWS:]:
                table.add_row(
                    Text(printable(key)),
                    Text(printable(label or "-")),
                    Text(status, style=STATUS_STYLES.get(status, "")),
                )
            self.console.print(table)
            if len(flows) > _FINAL_TABLE_ROWS:
                self.console.print(
                    Text(f"(the last {_FINAL_TABLE_ROWS} of {len(flows)} flows; see mc ls)")
                )
        why = "stopped by signal" if stopped else "done"
        self._line(f"{why}: {_format_stats(total)}")

    def _line(self, text: str) -> None:
        stamp = datetime.datetime.now().isoformat(timespec="seconds")
        if self.console is not None:
            from rich.text import Text

            self.console.print(Text(f"{stamp} {text}"))
        else:
            print(f"{stamp} {text}", file=self.out, flush=True)


_STATUS_ORDER = ("PENDING", "RUNNING", "COMPLETED", "FAILED")
# The final table of a runner lists at most this many flows, the last ticked.
_FINAL_TABLE_ROWS = 50


def _format_stats(stats: RunnerStats) -> str:
    text = (
        f"claimed {stats.claimed} ticked {stats.ticked} "
        f"completed {stats.completed} failed {stats.failed}"
    )
    if stats.stale:
        text += f" stale {stats.stale}"
    return text


# -- ls, show ------------------------------------------------------------------


def _ls(args: argparse.Namespace, store: FlowStore) -> int:
    parent = resolve_flow_key(store, args.parent) if args.parent is not None else None
    records = store.query(
        status=args.status,
        label_glob=args.label,
        parent_key=parent,
        created_since=store.clock() - args.since if args.since is not None else None,
        limit=None if args.all else args.limit,
        newest_first=not args.oldest_first,
    )
    if args.json:
        print(json.dumps([record.to_dict() for record in records], indent=2))
        return EXIT_OK
    print(_format_record_table(records))
    return EXIT_OK


def _format_record_table(records: list[FlowRecord]) -> str:
    """Return a text table of flow records: key, label, status, tasks, updated.

    Keys and labels are shown escaped (see :mod:`mc.cli.terminal`).
    """
    rows = [("KEY", "LABEL", "STATUS", "TASKS", "UPDATED")]
    for record in records:
        rows.append(
            (
                printable(record.key),
                printable(record.label) if record.label else "-",
                record.status + (" (!)" if record.error else ""),
                str(record.num_tasks),
                _format_time(record.updated_at),
            )
        )
    return columns(rows)


def _format_time(epoch_s: float | None) -> str:
    if epoch_s is None:
        return "-"
    return datetime.datetime.fromtimestamp(epoch_s).isoformat(sep=" ", timespec="seconds")


def _show(args: argparse.Namespace, store: FlowStore) -> int:
    from mc.cli.tree_view import print_flow_tree
    from mc.flows.tree import build_flow_tree, stored_flow_loader

    if args.task is not None and not args.provenance:
        print("mc show: a TASK is shown only with --provenance", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.provenance:
        if args.task is None:
            print("mc show: --provenance needs a TASK after the flow's KEY", file=sys.stderr)
            return EXIT_BAD_INPUT
        from mc.cli.provenance_view import show_provenance

        return show_provenance(store, resolve_flow_key(store, args.key), args.task, args.json)
    key = resolve_flow_key(store, args.key)
    record = store.get_record(key)
    try:
        flow = store.get_flow(key)
    except FlowLoadError as error:
        flow = None
        load_error = str(error)
    if args.json:
        if flow is None:
            print(f"mc show: {printable(load_error, keep_newlines=True)}", file=sys.stderr)
            return EXIT_FAILED
        print(json.dumps(flow.to_flow_dict(), indent=2))
        return EXIT_OK
    header = []
    if record.parent_key:
        header.append(f"parent: {printable(record.parent_key)} (depth {record.depth})")
    header.append(
        f"created {_format_time(record.created_at)}, updated {_format_time(record.updated_at)}"
    )
    if record.lease_owner and record.lease_expires_at:
        header.append(
            f"leased to {printable(record.lease_owner)} "
            f"until {_format_time(record.lease_expires_at)}"
        )
    if record.error:
        header.append(
            f"marked FAILED by the store or a runner: {printable(record.error, keep_newlines=True)}"
        )
    if flow is None:
        label = printable(record.label) if record.label else "no label"
        print(f"flow {printable(record.key)} ({label}): {record.status}")
        print("\n".join(header))
        print(f"the stored flow cannot be loaded: {printable(load_error, keep_newlines=True)}")
        return EXIT_OK
    tree = build_flow_tree(flow.to_flow_dict(), stored_flow_loader(store))
    if tree.cancelled is not None:
        header.append(f"cancelled: {printable(tree.cancelled)}")
    print_flow_tree(tree, sys.stdout, now=store.clock(), header_lines=header)
    shown = {node.subflow_key for node in tree.walk() if node.subflow_stored}
    others = [
        child for child in store.query(parent_key=flow.key, limit=None) if child.key not in shown
    ]
    if others:
        print("\nother stored subflows:")
        for child in others:
            label = printable(child.label) if child.label else "no label"
            print(f"  {printable(child.key)} ({label}): {child.status}")
    return EXIT_OK


# -- retry, cancel --------------------------------------------------------------


def _change_flow(
    store: FlowStore,
    key: str,
    change: Callable[[Flow, FlowRecord], tuple[bool, str]],
    command: str,
) -> tuple[bool, str]:
    """Lease flow ``key``, change it, save it (which releases the lease).

    Holding the lease keeps runners off the flow, so that the command never
    throws away a runner's tick (and the cluster jobs that tick started).
    While a runner holds the flow, wait up to ``_LEASE_WAIT_S`` for it to
    save; then give up, changing nothing (see :meth:`FlowStore.leased`).
    """
    from mc.runner import default_runner_id

    holder = f"mc {command} {default_runner_id()}"
    try:
        with store.leased(key, holder, lease_s=_COMMAND_LEASE_S, wait_s=_LEASE_WAIT_S) as flow:
            changed, message = change(flow, store.get_record(key))
            if changed:
                store.save_flow(flow)
    except FlowLeasedError as error:
        return False, (
            f"flow {key!r} is leased to runner {error.lease_owner} until "
            f"{_format_time(error.lease_expires_at)}; nothing was changed. Try again "
            "once that runner has saved it (or its lease has expired)"
        )
    return changed, message


def _store_engine(store: FlowStore | None = None) -> FlowEngine:
    from mc.runner import add_stored_flow_task_type

    # With the store's cache, cancelling a task gives up its claim at once.
    engine = FlowEngine(cache=store.task_cache() if store is not None else None)
    add_stored_flow_task_type(engine)
    return engine


def _retry(args: argparse.Namespace, store: FlowStore) -> int:
    with _store_engine() as engine:
        return _retry_with(args, store, engine)


def _retry_with(args: argparse.Namespace, store: FlowStore, engine: FlowEngine) -> int:

    def retry(flow: Flow, record: FlowRecord) -> tuple[bool, str]:
        reset = engine.retry_flow(flow)
        if reset:
            return True, f"flow {flow.key}: {len(reset)} tasks back to PENDING: {', '.join(reset)}"
        if record.error and not flow.finished:
            # Marked FAILED by a runner (ticking or saving raised); saving the
            # loaded flow clears the mark and lets runners try again.
            return True, f"flow {flow.key}: cleared the runner's error; it is {flow.status} again"
        return False, f"flow {flow.key} is {flow.status}: no FAILED or SKIPPED task to retry"

    changed, message = _change_flow(store, resolve_flow_key(store, args.key), retry, "retry")
    print(printable(message, keep_newlines=True), file=sys.stdout if changed else sys.stderr)
    return EXIT_OK if changed else EXIT_FAILED


def _cancel(args: argparse.Namespace, store: FlowStore) -> int:
    with _store_engine(store) as engine:
        return _cancel_with(args, store, engine)


def _cancel_with(args: argparse.Namespace, store: FlowStore, engine: FlowEngine) -> int:

    def cancel(flow: Flow, record: FlowRecord) -> tuple[bool, str]:
        if flow.finished:
            return False, f"flow {flow.key} has already ended: {flow.status}"
        engine.cancel_flow(flow, args.reason, task_ctx={"flow_store": store})
        return True, f"flow {flow.key} cancelled: {args.reason}"

    changed, message = _change_flow(store, resolve_flow_key(store, args.key), cancel, "cancel")
    print(printable(message, keep_newlines=True), file=sys.stdout if changed else sys.stderr)
    return EXIT_OK if changed else EXIT_FAILED


_submit_command = with_store("submit", _submit)
_runner_command = with_store("runner", _runner)
_ls_command = with_store("ls", _ls)
_show_command = with_store("show", _show)
_retry_command = with_store("retry", _retry)
_cancel_command = with_store("cancel", _cancel)
