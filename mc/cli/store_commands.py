"""The ``mc`` commands that work on a flow store.

``mc submit FILE`` stores a flow spec as a new flow and prints its key;
``mc runner`` ticks the stored flows; ``mc ls`` lists them; ``mc show KEY``
shows one; ``mc retry KEY`` puts its FAILED and SKIPPED tasks back to
PENDING; ``mc cancel KEY`` stops it. Each takes ``--db URL`` (default
``$MC_DB_URL``, else ``sqlite:///mc.db``).

Exit codes, as for the other commands: 0 success; 1 the command could not
do its work (nothing to retry, a flow already ended, a flow that a runner
kept leased); 2 bad input (an
unreadable file, an invalid spec, an unknown key, a database that cannot be
opened).
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
    non_negative_float,
    positive_float,
    positive_int,
)
from mc.cli.terminal import escape_lines, escape_text
from mc.errors import FlowLoadError, FlowSpecError, MCError, StoreError
from mc.flows.flow import Flow
from mc.flows.flow_engine import FlowEngine
from mc.flows.statuses import FlowStatus

if TYPE_CHECKING:  # SQLAlchemy is imported only by the commands that use a store
    from mc.runner.flow_runner import RunnerStats
    from mc.store.flow_store import FlowRecord, FlowStore

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

# retry and cancel lease the flow for this long while they change it, and
# wait this long for a runner that holds it to save it.
_COMMAND_LEASE_S = 60.0
_LEASE_WAIT_S = 30.0



def add_store_commands(commands: Any) -> None:
    """Add ``submit``, ``runner``, ``ls``, ``show``, ``retry`` and ``cancel`` to ``commands``.

    ``commands`` is the object that ``ArgumentParser.add_subparsers`` returned.
    """
    submit = commands.add_parser("submit", help="store a flow spec file as a new flow")
    submit.add_argument("file", help="a flow spec, as .json, .yaml or .yml")
    _add_db(submit)
    submit.set_defaults(command=_submit_command)

    runner = commands.add_parser("runner", help="tick the stored flows until stopped")
    _add_db(runner)
    runner.add_argument("--once", action="store_true", help="run one round, then exit")
    runner.add_argument(
        "--interval", type=non_negative_float, default=1.0, metavar="S",
        help="seconds to sleep when no flow needs ticking (default 1)",
    )
    runner.add_argument(
        "--until-done", action="store_true",
        help="exit once no flow in the store is PENDING or RUNNING",
    )
    runner.add_argument(
        "--lease", type=positive_float, default=300.0, metavar="S",
        help="seconds a claimed flow stays leased to this runner (default 300)",
    )
    runner.add_argument(
        "--batch", type=positive_int, default=10, metavar="N",
        help="flows claimed per round (default 10)",
    )
    runner.add_argument(
        "--poll", type=non_negative_float, default=1.0, metavar="S",
        help="seconds before a flow that waits on outside work is ticked again (default 1)",
    )
    runner.add_argument(
        "--runner-id", default=None,
        help="this runner's name in leases (default: host:pid:random); a runner restarted "
        "under the same name takes its leased flows back at once; never share it",
    )
    runner.add_argument(
        "--allow-imports", action="append", default=[], metavar="PREFIX",
        help="module prefix from which dotted task types may be imported (repeatable)",
    )
    runner.add_argument(
        "--verbose", "-v", action="store_true",
        help="log what happens to each flow (INFO) on stderr, not only warnings",
    )
    add_max_flow_mb(runner)
    runner.set_defaults(command=_runner_command)

    ls = commands.add_parser("ls", help="list the stored flows")
    _add_db(ls)
    ls.add_argument("--status", choices=sorted(FlowStatus.ALL), help="only flows with this status")
    ls.add_argument("--label", default=None, help="only flows with this label")
    ls.add_argument("--parent", default=None, metavar="KEY", help="only the stored subflows of KEY")
    ls.add_argument("--limit", type=positive_int, default=100, help="at most this many (100)")
    ls.add_argument("--json", action="store_true", help="print a JSON list of records")
    ls.set_defaults(command=_ls_command)

    show = commands.add_parser("show", help="show a stored flow: its tasks, statuses, errors")
    show.add_argument("key", help="the flow's key")
    _add_db(show)
    show.add_argument("--json", action="store_true", help="print the flow dict as JSON")
    show.set_defaults(command=_show_command)

    retry = commands.add_parser(
        "retry", help="put a flow's FAILED and SKIPPED tasks back to PENDING"
    )
    retry.add_argument("key", help="the flow's key")
    _add_db(retry)
    retry.set_defaults(command=_retry_command)

    cancel = commands.add_parser("cancel", help="stop a flow: it ends FAILED")
    cancel.add_argument("key", help="the flow's key")
    _add_db(cancel)
    cancel.add_argument("--reason", default="cancelled", help="recorded in the flow's data")
    cancel.set_defaults(command=_cancel_command)


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", default=None, metavar="URL",
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
                f"mc runner: {error}\nmc runner: waiting for the database; "
                f"trying again in {wait:g}s (Ctrl-C to stop)",
                file=sys.stderr,
                flush=True,
            )
            time.sleep(wait)
            wait = min(wait * 2, _MAX_RETRY_S)


def _with_store(name: str, command: Callable[[argparse.Namespace, FlowStore], int]) -> Callable[[argparse.Namespace], int]:
    """Open the store, run ``command``, close the store; report MCErrors as bad input."""

    def run(args: argparse.Namespace) -> int:
        try:
            store = _open_store_waiting(args)
        except StoreError as error:
            print(f"mc {name}: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:
            print(f"mc {name}: stopped while waiting for the database", file=sys.stderr)
            return EXIT_FAILED
        try:
            return command(args, store)
        except (StoreError, FlowLoadError, FlowSpecError) as error:
            print(f"mc {name}: {escape_lines(error)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        finally:
            store.close()

    return run


# -- submit ------------------------------------------------------------------


def _submit(args: argparse.Namespace, store: FlowStore) -> int:
    from mc.cli.spec_files import load_flow_spec_file

    key = store.create_flow(load_flow_spec_file(args.file))
    print(escape_text(key))
    return EXIT_OK


# -- runner ------------------------------------------------------------------


def _runner(args: argparse.Namespace, store: FlowStore) -> int:
    if not logging.getLogger().handlers:
        # Warnings (a flow marked FAILED, a stale save) as timestamped lines.
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.WARNING,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )

    try:
        engine = FlowEngine(allow_imports=args.allow_imports, max_flow_bytes=max_flow_bytes(args))
    except MCError as error:
        print(f"mc runner: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    with engine:
        return _run_runner(args, store, engine)


def _run_runner(args: argparse.Namespace, store: FlowStore, engine: FlowEngine) -> int:
    from mc.runner import FlowRunner

    runner = FlowRunner(
        store,
        engine,
        runner_id=args.runner_id,
        lease_s=args.lease,
        batch_size=args.batch,
        poll_interval_s=args.poll,
    )
    progress = RunnerProgress(store, runner.runner_id, sys.stdout)
    total = runner.run(
        interval_s=args.interval,
        until_done=args.until_done,
        max_rounds=1 if args.once else None,
        on_round=progress.on_round,
        on_start=progress.start,
    )
    progress.finish(total, stopped=runner.stop_requested)
    return EXIT_OK


class RunnerProgress:
    """What ``mc runner`` prints: a live status line on a terminal, plain lines otherwise.

    On a terminal one line is redrawn (at most every 0.2 s) with this
    runner's counts and the store's flows by status. Otherwise a timestamped
    line is printed for every round that claimed flows.
    """

    def __init__(self, store: FlowStore, runner_id: str, out: TextIO) -> None:
        self.store = store
        self.runner_id = runner_id
        self.out = out
        self.live = bool(getattr(out, "isatty", lambda: False)())
        self._last_draw = 0.0

    def start(self) -> None:
        """Say which runner works on which store (once it handles SIGTERM and SIGINT)."""
        self._line(f"runner {self.runner_id} on {self.store.url}")

    def on_round(self, round_stats: RunnerStats, total: RunnerStats) -> None:
        """Report one round (called by :meth:`FlowRunner.run`)."""
        if self.live:
            now = time.monotonic()
            if now - self._last_draw < 0.2:
                return
            self._last_draw = now
            counts = self.store.count_by_status()
            store_part = " ".join(f"{status} {counts.get(status, 0)}" for status in _STATUS_ORDER)
            self.out.write(f"\r\x1b[K{_format_stats(total)} | store: {store_part}")
            self.out.flush()
        elif round_stats.claimed:
            self._line(_format_stats(round_stats))

    def finish(self, total: RunnerStats, stopped: bool) -> None:
        """Print the totals."""
        if self.live:
            self.out.write("\n")
        why = "stopped by signal" if stopped else "done"
        self._line(f"{why}: {_format_stats(total)}")

    def _line(self, text: str) -> None:
        stamp = datetime.datetime.now().isoformat(timespec="seconds")
        print(f"{stamp} {text}", file=self.out, flush=True)


_STATUS_ORDER = ("PENDING", "RUNNING", "COMPLETED", "FAILED")


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
    records = store.query(
        status=args.status, label=args.label, parent_key=args.parent, limit=args.limit
    )
    if args.json:
        print(json.dumps([record.to_dict() for record in records], indent=2))
        return EXIT_OK
    print(format_record_table(records))
    return EXIT_OK


def format_record_table(records: list[FlowRecord]) -> str:
    """Return a text table of flow records: key, label, status, tasks, updated.

    Keys and labels are shown escaped (see :mod:`mc.cli.terminal`).
    """
    rows = [("KEY", "LABEL", "STATUS", "TASKS", "UPDATED")]
    for record in records:
        rows.append(
            (
                escape_text(record.key),
                escape_text(record.label or "-"),
                record.status + (" (!)" if record.error else ""),
                str(record.num_tasks),
                _format_time(record.updated_at),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows
    )


def _format_time(epoch_s: float | None) -> str:
    if epoch_s is None:
        return "-"
    return datetime.datetime.fromtimestamp(epoch_s).isoformat(sep=" ", timespec="seconds")


def _show(args: argparse.Namespace, store: FlowStore) -> int:
    from mc.cli import format_task_table

    record = store.get_record(args.key)
    try:
        flow = store.get_flow(args.key)
    except FlowLoadError as error:
        flow = None
        load_error = str(error)
    if args.json:
        if flow is None:
            print(f"mc show: {escape_lines(load_error)}", file=sys.stderr)
            return EXIT_FAILED
        print(json.dumps(flow.to_flow_dict(), indent=2))
        return EXIT_OK
    print(f"flow {escape_text(record.key)} ({escape_text(record.label or 'no label')}): {record.status}")
    if record.parent_key:
        print(f"parent: {escape_text(record.parent_key)} (depth {record.depth})")
    print(f"created {_format_time(record.created_at)}, updated {_format_time(record.updated_at)}")
    if record.lease_owner and record.lease_expires_at:
        print(f"leased to {escape_text(record.lease_owner)} until {_format_time(record.lease_expires_at)}")
    if record.error:
        print(f"marked FAILED by the store or a runner: {escape_lines(record.error)}")
    if flow is None:
        print(f"the stored flow cannot be loaded: {escape_lines(load_error)}")
        return EXIT_OK
    print(format_task_table(flow))
    for key, task in flow.tasks.items():
        if task.get("error"):
            print(f"\ntask {escape_text(key)} error:\n{_indent(escape_lines(task['error']))}")
    children = store.query(parent_key=flow.key, limit=None)
    if children:
        print("\nstored subflows:")
        for child in children:
            print(
                f"  {escape_text(child.key)} ({escape_text(child.label or 'no label')}): "
                f"{child.status}"
            )
    cancelled = flow.data.get("cancelled")
    if isinstance(cancelled, dict):
        print(f"\ncancelled: {escape_text(cancelled.get('reason'))}")
    return EXIT_OK


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.rstrip().splitlines())


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
    save; then give up, changing nothing.
    """
    from mc.runner import default_runner_id

    holder = f"mc {command} {default_runner_id()}"
    deadline = time.monotonic() + _LEASE_WAIT_S
    while (flow := store.claim_flow(key, _COMMAND_LEASE_S, holder)) is None:
        if time.monotonic() > deadline:
            record = store.get_record(key)
            return False, (
                f"flow {key!r} is leased to runner {record.lease_owner} until "
                f"{_format_time(record.lease_expires_at)}; nothing was changed. Try again "
                "once that runner has saved it (or its lease has expired)"
            )
        time.sleep(0.1)
    try:
        changed, message = change(flow, store.get_record(key))
        if changed:
            store.save_flow(flow)
    finally:
        store.release([key], holder)
    return changed, message


def _store_engine() -> FlowEngine:
    from mc.runner import add_stored_flow_task_type

    engine = FlowEngine()
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

    changed, message = _change_flow(store, args.key, retry, "retry")
    print(escape_lines(message), file=sys.stdout if changed else sys.stderr)
    return EXIT_OK if changed else EXIT_FAILED


def _cancel(args: argparse.Namespace, store: FlowStore) -> int:
    with _store_engine() as engine:
        return _cancel_with(args, store, engine)


def _cancel_with(args: argparse.Namespace, store: FlowStore, engine: FlowEngine) -> int:

    def cancel(flow: Flow, record: FlowRecord) -> tuple[bool, str]:
        if flow.finished:
            return False, f"flow {flow.key} has already ended: {flow.status}"
        engine.cancel_flow(flow, args.reason, task_ctx={"flow_store": store})
        return True, f"flow {flow.key} cancelled: {args.reason}"

    changed, message = _change_flow(store, args.key, cancel, "cancel")
    print(escape_lines(message), file=sys.stdout if changed else sys.stderr)
    return EXIT_OK if changed else EXIT_FAILED


_submit_command = _with_store("submit", _submit)
_runner_command = _with_store("runner", _runner)
_ls_command = _with_store("ls", _ls)
_show_command = _with_store("show", _show)
_retry_command = _with_store("retry", _retry)
_cancel_command = _with_store("cancel", _cancel)
