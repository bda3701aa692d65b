"""The :class:`FlowRunner`: advances the flows of a store, and survives anything.

A runner works in *rounds*. :meth:`FlowRunner.tick` is one round:

1. claim up to ``batch_size`` flows that need ticking (a lease of
   ``lease_s`` seconds each, see :meth:`mc.store.FlowStore.claim`);
2. tick each until it makes no more immediate progress
   (:meth:`~mc.flows.flow_engine.FlowEngine.tick_flow_until_idle`,
   at most ``max_ticks_per_claim`` ticks): it has ended, or every unfinished
   task waits on outside work;
3. save it, which releases the lease. A flow whose tasks wait on outside
   work is not claimed again for ``poll_interval_s`` seconds, so that waiting
   flows are polled, not spun on; a flow that only waits for a task's retry
   delay is not claimed again before the retry is due.

:meth:`FlowRunner.run` repeats rounds, sleeping ``interval_s`` when there
was nothing to claim.

What a runner guarantees:

* One flow never stops it. A stored flow whose JSON does not load, whose
  ticking raises, or whose data cannot be saved as JSON is marked FAILED
  with the reason in its record, and the runner goes on.
* Several runners, in one process or many, on one host or many, can work
  the same store: a flow is leased to one runner at a time. If a runner
  dies, its leases expire and another runner picks the flows up, from their
  last saved state. If a runner outlives its lease (a tick longer than
  ``lease_s``), its save is refused as stale and the flow goes on from the
  other runner's copy; choose ``lease_s`` well above the longest round
  (a round ticks up to ``batch_size`` flows under leases taken at its
  start; flows whose turn comes after the leases expired are released
  untouched).
* SIGTERM or SIGINT during :meth:`run` lets the runner finish and save the
  flow it is ticking, release the leases of the flows it claimed but did not
  start, and return.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from mc.errors import FlowError, StaleFlowError, StoreDatabaseError
from mc.flows import events
from mc.flows.events import EventCallback, FlowEvent, call_all
from mc.flows.flow import Flow
from mc.flows.flow_engine import FlowEngine
from mc.flows.statuses import COMPLETED, FAILED, PENDING, RUNNING
from mc.runner.store_contract import RunnerStore
from mc.runner.stored_flow import add_stored_flow_task_type

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class RunnerStats:
    """What a runner did: in one round (:meth:`FlowRunner.tick`) or in total.

    ``claimed``: flows leased; ``ticked``: flows ticked and saved;
    ``ticks``: engine ticks made; ``completed`` and ``failed``: flows that
    ended so (``failed`` includes flows marked FAILED because they could not
    be loaded, ticked or saved); ``stale``: flows whose save was refused
    because another runner took them over, or that were released untouched
    because the round outlived their lease; ``database_errors``: rounds of
    :meth:`FlowRunner.run` cut short because the database failed.
    """

    claimed: int = 0
    ticked: int = 0
    ticks: int = 0
    completed: int = 0
    failed: int = 0
    stale: int = 0
    database_errors: int = 0

    def add(self, other: RunnerStats) -> None:
        """Add the counts of ``other`` to these."""
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    def to_dict(self) -> dict[str, int]:
        """Return the counts as a dict."""
        return dataclasses.asdict(self)


def default_runner_id() -> str:
    """Return a runner id unique across hosts and processes: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class FlowRunner:
    """Claims flows from a :class:`~mc.store.FlowStore`, ticks them, saves them.

    ``engine`` ticks the flows (default: a new :class:`FlowEngine`, which
    :meth:`close`, or the end of a ``with`` block, closes);
    ``stored_flow`` is registered on the engine if it has no task type of that
    name. ``task_ctx`` reaches every task handler, with ``'flow_store'`` (this
    store) and ``'flow_runner'`` (this runner) added. ``runner_id`` names the
    runner in leases (default: host, process id and a random part).

    ``lease_s``: how long a claimed flow stays leased; ``batch_size``: flows
    claimed per round; ``max_ticks_per_claim``: ticks of one flow per claim;
    ``poll_interval_s``: how long a flow that waits on outside work rests
    before it is claimed again.

    ``on_event`` is called with a :class:`~mc.flows.events.FlowEvent` at
    every transition of the flows this runner ticks (see
    :mod:`mc.flows.events`), after the engine's own ``on_event``, if any;
    a flow the runner marks FAILED because it could not be loaded, ticked
    or saved is told as ``flow_ended`` with the reason as ``error``.
    """

    def __init__(
        self,
        store: RunnerStore,
        engine: FlowEngine | None = None,
        task_ctx: Mapping[str, Any] | None = None,
        runner_id: str | None = None,
        *,
        lease_s: float = 300.0,
        batch_size: int = 10,
        max_ticks_per_claim: int = 1000,
        poll_interval_s: float = 1.0,
        on_event: EventCallback | None = None,
    ) -> None:
        if lease_s <= 0 or batch_size < 1 or max_ticks_per_claim < 1 or poll_interval_s < 0:
            raise ValueError(
                "FlowRunner: lease_s and max_ticks_per_claim and batch_size must be "
                "positive, poll_interval_s not negative; got "
                f"lease_s={lease_s!r}, batch_size={batch_size!r}, "
                f"max_ticks_per_claim={max_ticks_per_claim!r}, poll_interval_s={poll_interval_s!r}"
            )
        self.store = store
        # An engine the runner makes is the runner's to close (see close()).
        self._owns_engine = engine is None
        self.engine = engine if engine is not None else FlowEngine()
        add_stored_flow_task_type(self.engine)
        self.engine.on_event = call_all(self.engine.on_event, on_event)
        self.task_ctx: dict[str, Any] = {
            **(task_ctx or {}),
            "flow_store": store,
            "flow_runner": self,
        }
        self.runner_id = runner_id or default_runner_id()
        self.lease_s = lease_s
        self.batch_size = batch_size
        self.max_ticks_per_claim = max_ticks_per_claim
        self.poll_interval_s = poll_interval_s
        self._stop = threading.Event()

    def close(self) -> None:
        """Close the engine if the runner made it (its executors, such as a Dask cluster).

        An engine passed in stays the caller's to close; so does the store.
        """
        if self._owns_engine:
            self.engine.close()

    def __enter__(self) -> FlowRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- one round ----------------------------------------------------------

    def tick(self) -> RunnerStats:
        """Claim flows, tick each until it makes no immediate progress, save; return stats.

        If a stop was requested (:meth:`request_stop`), the flows not yet
        started are released, not ticked. So are they once the round has
        outlived the lease (the flows ticked before took too long): another
        runner may hold them by now, and ticking them here would do their
        tasks' work twice.
        """
        stats = RunnerStats()
        # Taken before the claim, so never later than the leases' start.
        leases_expire_at = self.store.clock() + self.lease_s
        flows = self.store.claim(self.batch_size, self.lease_s, self.runner_id)
        stats.claimed = len(flows)
        for index, flow in enumerate(flows):
            lease_expired = self.store.clock() >= leases_expire_at
            if self._stop.is_set() or lease_expired:
                left = [other.key for other in flows[index:]]
                self.store.release(left, self.runner_id)
                if lease_expired:
                    stats.stale += len(left)
                    logger.warning(
                        "runner %s: the round outlived its %gs lease; released %d flows "
                        "without ticking them (raise lease_s, or lower batch_size)",
                        self.runner_id,
                        self.lease_s,
                        len(left),
                    )
                else:
                    logger.info("runner %s: stopping; released %d flows", self.runner_id, len(left))
                break
            self._tick_and_save(flow, stats)
        return stats

    def _tick_and_save(self, flow: Flow, stats: RunnerStats) -> None:
        try:
            stats.ticks += self.engine.tick_flow_until_idle(
                flow, self.task_ctx, max_ticks=self.max_ticks_per_claim
            )
        except Exception as error:
            # The engine never raises because of a task; this is a bug or a
            # broken engine setup. It fails this flow, never the runner.
            self._fail(flow, "ticking the flow raised", error, stats)
            return
        try:
            self.store.save_flow(flow, tick_after=self._next_tick_time(flow))
        except StaleFlowError as error:
            stats.stale += 1
            logger.warning("runner %s: %s", self.runner_id, error)
            return
        except FlowError as error:
            self._fail(flow, "saving the flow failed", error, stats)
            return
        stats.ticked += 1
        if flow.status == COMPLETED:
            stats.completed += 1
        elif flow.status == FAILED:
            stats.failed += 1

    def _next_tick_time(self, flow: Flow) -> float | None:
        """When the flow should be claimed again: None for at once.

        A flow with tasks RUNNING (polling outside work) rests
        ``poll_interval_s``; one that only waits for a retry delay rests until
        the first retry is due, however long that is.
        """
        if flow.finished or flow.has_ready_tasks():
            return None
        poll_at = self.store.clock() + self.poll_interval_s
        retry_at = flow.next_retry_at()
        if retry_at is None:
            return poll_at
        if flow.count_tasks(RUNNING) == 0:
            return retry_at
        return min(poll_at, retry_at)

    def _fail(self, flow: Flow, what: str, error: Exception, stats: RunnerStats) -> None:
        summary = "".join(traceback.format_exception_only(type(error), error)).strip()
        # From the error itself, not format_exc(): that is empty outside an except block.
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        logger.error("runner %s: flow %s: %s:\n%s", self.runner_id, flow.key, what, trace)
        if self.store.fail_flow(flow, f"{what}: {summary}"):
            stats.failed += 1
            if self.engine.on_event is not None:
                self.engine.emit_event(
                    FlowEvent(
                        time=self.store.clock(),
                        event=events.FLOW_ENDED,
                        flow_key=flow.key,
                        flow_label=flow.label,
                        status=FAILED,
                        error=f"{what}: {summary}",
                    )
                )
        else:
            stats.stale += 1

    # -- many rounds --------------------------------------------------------

    def request_stop(self) -> None:
        """Ask :meth:`run` to return after the flow being ticked is saved."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        """True once :meth:`request_stop` was called (or a SIGTERM/SIGINT arrived)."""
        return self._stop.is_set()

    def run(
        self,
        interval_s: float = 1.0,
        until_done: bool = False,
        max_rounds: int | None = None,
        on_round: Callable[[RunnerStats, RunnerStats], Any] | None = None,
        on_start: Callable[[], Any] | None = None,
    ) -> RunnerStats:
        """Run rounds until stopped; return the total stats.

        Sleeps ``interval_s`` seconds after a round that claimed nothing. A
        round that fails because the database does (a server restart, a lost
        connection: a :class:`~mc.errors.StoreDatabaseError` from the store)
        is logged and counted in ``database_errors``, and the runner tries
        again after ``interval_s`` (at least one second).
        With ``until_done``, returns once no flow in the store is PENDING or
        RUNNING; ``max_rounds`` bounds the rounds. ``on_round(round_stats,
        total_stats)`` is called after every round, and ``on_start()`` once
        before the first, when signals are handled. In the main thread,
        SIGTERM and SIGINT request a stop (see :meth:`request_stop`); the
        previous handlers are restored on return.
        """
        total = RunnerStats()
        restore = self._install_signal_handlers()
        rounds = 0
        try:
            if on_start is not None:
                on_start()
            while not self._stop.is_set():
                try:
                    stats = self.tick()
                except StoreDatabaseError as error:
                    # The database is down or unreachable: no flow is lost
                    # (leases expire), so wait and try again.
                    logger.error(
                        "runner %s: database error, retrying in %gs: %s",
                        self.runner_id,
                        max(interval_s, 1.0),
                        self.store.hide_secrets(error),
                    )
                    stats = RunnerStats(database_errors=1)
                    self._stop.wait(max(interval_s, 1.0))
                rounds += 1
                total.add(stats)
                if on_round is not None:
                    on_round(stats, total)
                if max_rounds is not None and rounds >= max_rounds:
                    break
                if stats.claimed == 0 and not stats.database_errors:
                    if until_done and not self.has_unfinished_flows():
                        break
                    self._stop.wait(interval_s)
        finally:
            restore()
        logger.info("runner %s: stopped after %d rounds: %s", self.runner_id, rounds, total)
        return total

    def has_unfinished_flows(self) -> bool:
        """Return True if some flow in the store is PENDING or RUNNING."""
        counts = self.store.count_by_status()
        return bool(counts.get(PENDING) or counts.get(RUNNING))

    def _install_signal_handlers(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {}

        def on_signal(signum: int, _frame: Any) -> None:
            logger.info(
                "runner %s: %s received; finishing the current flow",
                self.runner_id,
                signal.Signals(signum).name,
            )
            self.request_stop()

        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, on_signal)

        def restore() -> None:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

        return restore
