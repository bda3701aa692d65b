"""Call executors for the ``call`` task type: ``inline``, ``threads`` and ``processes``.

``inline`` runs the callable during the tick and puts the outcome in the
handle itself. ``threads`` and ``processes`` run it in a pool
(:mod:`concurrent.futures`) and the tick goes on; the handle is a token for
a future that lives in this executor's memory. After a restart that token is
unknown, poll reports LOST, and the ``call`` task runs the callable again:
calls are delivered *at least once*. (``processes`` sends the callable and
its arguments to another process by pickling them, so they must be
importable, module-level objects; nothing is pickled into storage.)
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mc.jobs.constants import COMPLETED, FAILED, LOST, RUNNING


def call_outcome(
    fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Run ``fn(*args, **kwargs)`` here and return ``(status, outputs)`` for poll_call."""
    try:
        return COMPLETED, {"result": fn(*args, **kwargs)}
    except Exception:
        return FAILED, {"error": traceback.format_exc()}


class InlineExecutor:
    """Runs each call at once, inside the tick that submits it."""

    def submit_call(
        self, fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Run the call now; the handle holds its outcome."""
        status, outputs = call_outcome(fn, args, kwargs)
        return {"status": status, **outputs}

    def poll_call(self, handle: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Return the outcome stored in the handle."""
        return handle["status"], {key: value for key, value in handle.items() if key != "status"}

    def cancel_call(self, handle: Mapping[str, Any]) -> None:
        """Do nothing: an inline call has already ended."""


class PoolExecutor:
    """Runs calls in a :mod:`concurrent.futures` pool made on first use.

    Base of ``threads`` and ``processes``; ``max_workers`` defaults to the
    pool's own default. :meth:`close` shuts the pool down, waiting for
    running calls.
    """

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max_workers
        self._pool: concurrent.futures.Executor | None = None
        self._futures: dict[str, concurrent.futures.Future[Any]] = {}

    def _make_pool(self) -> concurrent.futures.Executor:
        raise NotImplementedError(f"{type(self).__name__} must implement _make_pool()")

    def submit_call(
        self, fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Start the call in the pool and return a token for it."""
        if self._pool is None:
            self._pool = self._make_pool()
        call_id = uuid.uuid4().hex
        self._futures[call_id] = self._pool.submit(fn, *args, **kwargs)
        return {"call_id": call_id}

    def poll_call(self, handle: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Return RUNNING, the call's outcome, or LOST for a token this executor never made."""
        future = self._futures.get(handle.get("call_id"))
        if future is None:
            return LOST, {"error": "this executor did not start the call (the runner restarted?)"}
        if not future.done():
            return RUNNING, {}
        del self._futures[handle["call_id"]]
        if future.cancelled():
            return FAILED, {"error": "cancelled"}
        error = future.exception()
        if error is not None:
            return FAILED, {"error": "".join(traceback.format_exception(error))}
        return COMPLETED, {"result": future.result()}

    def cancel_call(self, handle: Mapping[str, Any]) -> None:
        """Cancel the call if it has not started (a running call runs to its end)."""
        future = self._futures.get(handle.get("call_id"))
        if future is not None:
            future.cancel()

    def close(self) -> None:
        """Shut the pool down, waiting for calls that are running."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._futures.clear()


class ThreadsExecutor(PoolExecutor):
    """Runs calls in a pool of threads of this process."""

    def _make_pool(self) -> concurrent.futures.Executor:
        return concurrent.futures.ThreadPoolExecutor(self.max_workers, thread_name_prefix="mc-call")


class ProcessesExecutor(PoolExecutor):
    """Runs calls in a pool of worker processes (started by a fork server)."""

    def _make_pool(self) -> concurrent.futures.Executor:
        return concurrent.futures.ProcessPoolExecutor(
            self.max_workers, mp_context=multiprocessing.get_context("forkserver")
        )
