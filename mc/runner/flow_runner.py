"""The :class:`FlowRunner`: advances the flows of a store, and survives anything.

A runner works in *rounds*. :meth:`FlowRunner.tick` is one round:

1. claim up to ``batch_size`` flows that need ticking (a lease of
   ``lease_s`` seconds each, see :meth:`mc.store.FlowStore.claim`); while
   the runner works on a flow, a background thread renews its lease every
   ``lease_s / 3`` seconds (a *heartbeat*), so a long tick never loses it;
2. tick each until it makes no more immediate progress
   (:meth:`~mc.flows.flow_engine.FlowEngine.tick_flow_until_idle`,
   at most ``max_ticks_per_claim`` ticks): it has ended, or every unfinished
   task waits on outside work. After every ``save_every_ticks`` ticks
   (default: every tick) the flow is saved, keeping the lease; the store
   writes only what changed;
3. save it a last time, which releases the lease. A flow whose tasks wait
   on outside work is not claimed again for ``poll_interval_s`` seconds, so
   that waiting flows are polled, not spun on; a flow that only waits for a
   task's retry delay is not claimed again before the retry is due. The
   runner keeps the last ``keep_in_memory`` unfinished flows it saved in
   memory: when it claims one of them again and nobody else wrote it since,
   the store hands back that object instead of loading the flow again.

:meth:`FlowRunner.run` repeats rounds, sleeping ``interval_s`` when there
was nothing to claim.

What a runner guarantees:

* One flow never stops it. A stored flow whose JSON does not load, whose
  ticking raises, or whose data cannot be saved as JSON is marked FAILED
  with the reason in its record, and the runner goes on.
* Several runners, in one process or many, on one host or many, can work
  the same store: a flow is leased to one runner at a time. If a runner
  dies, its leases expire (after at most ``lease_s``, default 30 s) and
  another runner picks the flows up from their last saved state: with the
  default ``save_every_ticks=1`` only the tick that was in flight is done
  again. If a runner still loses a lease (its heartbeat could not reach the
  database for ``lease_s``), its save is refused as stale and the flow goes
  on from the other runner's copy. The flows of a round that wait their
  turn are not renewed: those whose lease ran out before their turn are
  released untouched, for other runners.
* SIGTERM or SIGINT during :meth:`run` lets the runner finish and save the
  tick it is making, release the leases of the other flows it claimed, and
  return.
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
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from mc.errors import FlowError, StaleFlowError, StoreDatabaseError, StoreError
from mc.flows import events
from mc.flows.events import EventCallback, FlowEvent, call_all
from mc.flows.flow import Flow
from mc.flows.flow_engine import FlowEngine
from mc.flows.statuses import COMPLETED, FAILED, PENDING, RUNNING
from mc.runner.store_contract import RunnerStore
from mc.runner.stored_flow import add_stored_flow_task_type

__all__ = ["DEFAULT_LEASE_S", "RunnerStats", "default_runner_id", "FlowRunner"]

_logger = logging.getLogger(__name__)

#: How long a claimed flow stays leased unless renewed; a dead runner's flows
#: wait at most this long for another runner.
DEFAULT_LEASE_S = 30.0


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


class _Heartbeat:
    """Renews the lease of the flow a runner works on, every ``lease_s / 3`` seconds.

    From a background thread, while :meth:`running` lasts. Only the flow in
    flight (:meth:`working_on`) is renewed: the other flows of the round
    keep the lease of their claim, so a long tick does not hold them from
    other runners; if that lease runs out before their turn, the runner
    releases them untouched. :meth:`holds` says whether a flow's lease is
    still known to be the runner's (by the store's clock, and not taken by
    another runner); :meth:`done_with` ends the renewals of a flow.
    """

    def __init__(self, store: RunnerStore, runner_id: str, lease_s: float) -> None:
        self.store = store
        self.runner_id = runner_id
        self.lease_s = lease_s
        self._lock = threading.Lock()
        # Each held flow's lease end as last confirmed, by the store's clock;
        # -inf once another runner took the flow.
        self._expires_at: dict[str, float] = {}
        self._working: str | None = None
        self._done = threading.Event()

    @contextmanager
    def running(self, keys: Iterable[str], expires_at: float) -> Iterator[_Heartbeat]:
        """Hold ``keys`` (leased until ``expires_at``) and beat until the block ends."""
        with self._lock:
            self._expires_at = dict.fromkeys(keys, expires_at)
        thread = threading.Thread(
            target=self._beat, name=f"mc-heartbeat-{self.runner_id}", daemon=True
        )
        thread.start()
        try:
            yield self
        finally:
            self._done.set()
            thread.join()

    def holds(self, key: str) -> bool:
        """Return True while this runner's lease on ``key`` is known not to have ended."""
        with self._lock:
            expires_at = self._expires_at.get(key, float("-inf"))
        return self.store.clock() < expires_at

    def working_on(self, key: str) -> None:
        """Renew ``key``'s lease from now on, until :meth:`done_with`."""
        with self._lock:
            self._working = key

    def done_with(self, key: str) -> None:
        """Stop renewing ``key``'s lease (the flow was saved and released)."""
        with self._lock:
            self._expires_at.pop(key, None)
            if self._working == key:
                self._working = None

    def _beat(self) -> None:
        while not self._done.wait(self.lease_s / 3):
            with self._lock:
                key = self._working
            if key is None:
                continue
            now = self.store.clock()
            try:
                renewed = key in self.store.renew_leases([key], self.lease_s, self.runner_id)
            except StoreError as error:
                _logger.warning(
                    "runner %s: could not renew its lease: %s",
                    self.runner_id,
                    self.store.hide_secrets(error),
                )
                continue
            with self._lock:
                if key in self._expires_at:
                    self._expires_at[key] = now + self.lease_s if renewed else float("-inf")
            if not renewed:
                _logger.warning(
                    "runner %s: lost the lease of flow %s to another runner", self.runner_id, key
                )


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

    ``lease_s``: how long a claimed flow stays leased unless renewed (the
    runner renews its leases every ``lease_s / 3`` seconds while it works);
    ``batch_size``: flows claimed per round; ``max_ticks_per_claim``: ticks
    of one flow per claim; ``poll_interval_s``: how long a flow that waits on
    outside work rests before it is claimed again; ``save_every_ticks``: save
    a flow after this many ticks (default 1: after every tick, so a killed
    runner repeats at most the tick in flight; more trades that for fewer
    writes); ``keep_in_memory``: how many unfinished flows the runner keeps
    loaded between claims (default ``batch_size``; 0 reloads every claim).

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
        lease_s: float = DEFAULT_LEASE_S,
        batch_size: int = 10,
        max_ticks_per_claim: int = 1000,
        poll_interval_s: float = 1.0,
        save_every_ticks: int = 1,
        keep_in_memory: int | None = None,
        on_event: EventCallback | None = None,
    ) -> None:
        if (
            lease_s <= 0
            or batch_size < 1
            or max_ticks_per_claim < 1
            or poll_interval_s < 0
            or save_every_ticks < 1
            or (keep_in_memory is not None and keep_in_memory < 0)
        ):
            raise ValueError(
                "FlowRunner: lease_s, max_ticks_per_claim, batch_size and save_every_ticks "
                "must be positive, poll_interval_s and keep_in_memory not negative; got "
                f"lease_s={lease_s!r}, batch_size={batch_size!r}, "
                f"max_ticks_per_claim={max_ticks_per_claim!r}, "
                f"poll_interval_s={poll_interval_s!r}, "
                f"save_every_ticks={save_every_ticks!r}, keep_in_memory={keep_in_memory!r}"
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
        self.save_every_ticks = save_every_ticks
        self.keep_in_memory = batch_size if keep_in_memory is None else keep_in_memory
        # Unfinished flows as this runner last saved them, most recent last.
        self._in_memory: OrderedDict[str, Flow] = OrderedDict()
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

        If a stop was requested (:meth:`request_stop`), the flow being
        ticked is saved after its current tick, and the flows not yet
        started are released, not ticked. So are flows whose lease ran out
        before their turn (the heartbeat renews only the flow in flight):
        another runner may hold them by now, and ticking them here would do
        their tasks' work twice.
        """
        stats = RunnerStats()
        # Taken before the claim, so never later than the leases' start.
        claimed_at = self.store.clock()

        def count_failed(key: str, reason: str) -> None:
            # The store marked the flow FAILED: it could not be loaded.
            stats.failed += 1
            self._emit_flow_failed(key, None, reason)

        flows = self.store.claim(
            self.batch_size,
            self.lease_s,
            self.runner_id,
            in_memory=self._in_memory,
            on_load_error=count_failed,
        )
        stats.claimed = len(flows)
        if not flows:
            return stats
        for flow in flows:
            self._in_memory.pop(flow.key, None)
        with _Heartbeat(self.store, self.runner_id, self.lease_s).running(
            [flow.key for flow in flows], claimed_at + self.lease_s
        ) as heartbeat:
            for index, flow in enumerate(flows):
                if self._stop.is_set():
                    left = [other.key for other in flows[index:]]
                    self.store.release(left, self.runner_id)
                    _logger.info(
                        "runner %s: stopping; released %d flows", self.runner_id, len(left)
                    )
                    break
                if not heartbeat.holds(flow.key):
                    self.store.release([flow.key], self.runner_id)
                    stats.stale += 1
                    _logger.warning(
                        "runner %s: the lease of flow %s ran out before its turn; released "
                        "it untouched (raise lease_s, or lower batch_size)",
                        self.runner_id,
                        flow.key,
                    )
                    continue
                heartbeat.working_on(flow.key)
                self._tick_and_save(flow, stats)
                heartbeat.done_with(flow.key)
        return stats

    def _tick_and_save(self, flow: Flow, stats: RunnerStats) -> None:
        """Tick a claimed flow, saving after every ``save_every_ticks`` ticks; release it."""
        ticks = 0
        while True:
            step = min(self.save_every_ticks, self.max_ticks_per_claim - ticks)
            try:
                made = self.engine.tick_flow_until_idle(flow, self.task_ctx, max_ticks=step)
            except Exception as error:
                # The engine never raises because of a task; this is a bug or a
                # broken engine setup. It fails this flow, never the runner.
                self._fail(flow, "ticking the flow raised", error, stats)
                return
            ticks += made
            stats.ticks += made
            last = (
                flow.finished
                or ticks >= self.max_ticks_per_claim
                or not self.engine.can_start_now(flow)
                or self._stop.is_set()
            )
            if last:
                break
            # A checkpoint: the lease is kept, and a runner killed from here
            # on repeats only the ticks after it.
            if not self._save(flow, stats, None, release=False):
                return
        if not self._save(flow, stats, self._next_tick_time(flow), release=True):
            return
        stats.ticked += 1
        if flow.status == COMPLETED:
            stats.completed += 1
        elif flow.status == FAILED:
            stats.failed += 1
        elif self.keep_in_memory:
            self._in_memory[flow.key] = flow
            while len(self._in_memory) > self.keep_in_memory:
                self._in_memory.popitem(last=False)

    def _save(
        self, flow: Flow, stats: RunnerStats, tick_after: float | None, release: bool
    ) -> bool:
        """Save ``flow``; return False (having counted why) if the save was refused or failed."""
        try:
            self.store.save_flow(flow, tick_after=tick_after, release=release)
        except StaleFlowError as error:
            stats.stale += 1
            _logger.warning("runner %s: %s", self.runner_id, error)
            return False
        except FlowError as error:
            self._fail(flow, "saving the flow failed", error, stats)
            return False
        return True

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
        _logger.error("runner %s: flow %s: %s:\n%s", self.runner_id, flow.key, what, trace)
        self._in_memory.pop(flow.key, None)
        if self.store.fail_flow(flow, f"{what}: {summary}"):
            stats.failed += 1
            self._emit_flow_failed(flow.key, flow.label, f"{what}: {summary}")
        else:
            stats.stale += 1

    def _emit_flow_failed(self, key: str, label: str | None, reason: str) -> None:
        """Tell ``on_event`` that the runner (or its store) marked flow ``key`` FAILED."""
        if self.engine.on_event is not None:
            self.engine.emit_event(
                FlowEvent(
                    time=self.store.clock(),
                    event=events.FLOW_ENDED,
                    flow_key=key,
                    flow_label=label,
                    status=FAILED,
                    error=reason,
                )
            )

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
                    _logger.error(
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
        _logger.info("runner %s: stopped after %d rounds: %s", self.runner_id, rounds, total)
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
            _logger.info(
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
