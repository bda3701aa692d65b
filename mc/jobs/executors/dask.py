"""The ``dask`` executor: job dirs and calls on a :mod:`dask.distributed` cluster.

For users who outgrow one machine. Give it a scheduler's ``address`` (or set
Dask's ``scheduler-address`` config, e.g. the environment variable
``DASK_SCHEDULER_ADDRESS``), or none and it starts a ``LocalCluster`` on
127.0.0.1 on first use (and closes it in :meth:`DaskExecutor.close`). Dask is
imported only then; install it with ``pip install 'missioncontrol[dask]'``.

Each job runs as ``bash entrypoint.sh`` in a subprocess on a worker. With
``shared_filesystem=True`` (the default) the worker runs the job dir where it
is. With ``shared_filesystem=False`` the job dir travels to the worker as a
tar archive, runs in a temporary directory there, and comes back, outputs
and all, into the job dir the task knows.

Reconnecting: each job's future is published on the scheduler as a dataset
named by the job's handle (:meth:`distributed.Client.publish_dataset`), so
it outlives the client that submitted it. A new executor, in a restarted
runner, finds it by that name and polls the same job. Once a poll has seen
the job end, the dataset is removed. If the scheduler itself went away, the
job is LOST (or, on a shared filesystem, read from its exit-status file).

Polling is batched. A future's status is client-side state, which the
scheduler pushes to the client as it changes: reading it asks the cluster
nothing. The first poll of a round (a job or call already answered is
polled again) makes one pass over all this executor's futures and settles
every one that has ended, with one :meth:`distributed.Client.gather` for
the results of those finished and one ``unpublish_dataset`` for all of
them (futures still pending whose job dir says the job has ended are
unpublished with them, and cancelled by one message that waits for no
answer); the round's polls then answer from that pass. A round
where nothing ended asks the scheduler nothing. A job the executor does not
know yet (a restarted runner) costs one ``get_dataset``, once;
:meth:`DaskExecutor.poll_many` looks up all of its unknown jobs in one.
With a ``distributed`` older than 2026.6, which gets and unpublishes one
dataset per request, those two cost one request per dataset. ``passes``
counts the passes made.

Resources are not translated: Dask runs one job per worker thread. Start
workers with as many threads as jobs they should run at once.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
import os
import re
import signal
import subprocess
import tarfile
import tempfile
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from mc.errors import ExecutorError, JobOwnershipError
from mc.jobs.constants import (
    ALREADY_RUNNING_EXIT_STATUS,
    ENTRYPOINT_FILE,
    JOB_COMPLETED,
    JOB_FAILED,
    JOB_LOST,
    JOB_RUNNING,
)
from mc.jobs.executors.base import JobExecutor, absolute_job_dir, owned_job_dir, record_submission
from mc.jobs.job_dir import (
    NOT_STARTED,
    RUN_OVER,
    RUN_UNDER_WAY,
    outcome_of_exit_status,
    read_exit_status,
    run_state,
)

__all__ = ["DaskExecutor", "pack_dir", "unpack_dir"]

_CANCELLED_FILE = "cancelled"
_JOB_KEY_RE = re.compile(r"mc-job-[0-9a-f]{32}")
_CALL_KEY_RE = re.compile(r"mc-call-[0-9a-f]{32}")

# Jobs running in this worker process, by key, so that cancel can stop them.
_running_here: dict[str, subprocess.Popen[bytes]] = {}
_running_lock = threading.Lock()


class DaskExecutor(JobExecutor):
    """Runs job dirs and calls on a Dask cluster.

    ``address``: a scheduler address such as ``'tcp://10.0.0.5:8786'``;
    without one, Dask's ``scheduler-address`` config; without that, a
    ``LocalCluster`` of ``n_workers`` worker processes with
    ``threads_per_worker`` threads each starts on first use.
    ``shared_filesystem``: whether workers see the job dirs at the same
    paths. ``connect_timeout_s``: how long to try to reach a scheduler at
    ``address`` before the submit or poll raises ExecutorError. ``config``
    and ``environ`` fulfil config specs.
    """

    def __init__(
        self,
        address: str | None = None,
        shared_filesystem: bool = True,
        n_workers: int = 1,
        threads_per_worker: int = 2,
        config: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        connect_timeout_s: float = 30.0,
    ) -> None:
        super().__init__(config, environ)
        self.address = address
        self.connect_timeout_s = connect_timeout_s
        self.shared_filesystem = shared_filesystem
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker
        self._cluster: Any = None
        self._client: Any = None
        self._futures: dict[str, Any] = {}
        # The outcomes of futures the last pass saw ended, until polled.
        self._outcomes: dict[str, tuple[str, dict[str, Any]]] = {}
        # Futures of jobs whose job dir says they ended: cancelled and
        # unpublished by the next pass, all in one request each.
        self._to_drop: dict[str, Any] = {}
        # Keys answered since the last pass: polling one again means a new
        # round of polls has begun, and makes the next pass.
        self._answered: set[str] = set()
        self.passes = 0

    @property
    def client(self) -> Any:
        """The :class:`distributed.Client`, connected (and the cluster started) on first use."""
        if self._client is None:
            try:
                from distributed import Client, LocalCluster
            except ImportError as error:
                raise ExecutorError(
                    "the dask executor needs dask.distributed: pip install 'missioncontrol[dask]'"
                ) from error
            import dask.config

            address = self.address or dask.config.get("scheduler-address", None)
            if address is None:
                # distributed's constructors are not annotated.
                self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=self.n_workers,
                    threads_per_worker=self.threads_per_worker,
                    host="127.0.0.1",
                    dashboard_address=":0",  # no fixed port: several clusters may share a host
                    processes=True,
                )
                self._client = Client(self._cluster)  # type: ignore[no-untyped-call]
            else:
                try:
                    self._client = Client(  # type: ignore[no-untyped-call]
                        address, timeout=self.connect_timeout_s
                    )
                except OSError as error:
                    # A poll that raises ExecutorError leaves its task RUNNING:
                    # the scheduler may be back at the next tick.
                    raise ExecutorError(
                        f"cannot reach the Dask scheduler at {address}: {error}"
                    ) from error
        return self._client

    # -- jobs -----------------------------------------------------------------

    def submit(
        self, job_dir: str | os.PathLike[str], resources: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Send the job dir to the cluster and return its handle."""
        self.prepare(job_dir, resources)
        path = absolute_job_dir(job_dir)
        (Path(path) / _CANCELLED_FILE).unlink(missing_ok=True)
        token = record_submission(path, "dask")
        key = f"mc-job-{uuid.uuid4().hex}"
        if self.shared_filesystem:
            future = self.client.submit(_run_job_dir, path, key, key=key, pure=False)
        else:
            future = self.client.submit(
                _run_packed_job_dir, pack_dir(path), key, key=key, pure=False
            )
        self._publish(key, future)
        return {
            "key": key,
            "job_dir": path,
            "shared_filesystem": self.shared_filesystem,
            "token": token,
        }

    def poll(self, handle: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Return the job's status and outputs (``exit_status``, ``error``).

        The first poll of a round settles every future of this executor that
        has ended (see the module docstring); the others read what that pass
        found. On a shared filesystem the job dir has the last word: its
        exit status ends the job even if its future is stuck (a worker that
        died without a nanny), and a run still holding its lock is RUNNING
        even if its future is gone. A job that started and ended without an
        exit status, or whose future is gone without a trace, is LOST with
        ``resubmit: False``: it may have run, so only the task's retries may
        run it again.
        """
        key, job_dir = _job_key(handle), owned_job_dir(handle, "dask")
        self._begin_round_if_new(key)
        self._answered.add(key)
        return self._poll_job(key, job_dir, handle)

    def poll_many(self, handles: Sequence[Mapping[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
        """Poll several jobs after one pass over the futures; return their answers in order.

        Jobs this executor does not know yet (a restarted runner's) are
        looked up on the scheduler in one request.
        """
        checked = [(_job_key(handle), owned_job_dir(handle, "dask")) for handle in handles]
        keys = [key for key, _ in checked]
        self._begin_round()
        self._answered.update(keys)
        self._look_up([key for key in keys if key not in self._known()])
        return [
            self._poll_job(key, job_dir, handle)
            for (key, job_dir), handle in zip(checked, handles, strict=True)
        ]

    def _poll_job(
        self, key: str, job_dir: str, handle: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        if (Path(job_dir) / _CANCELLED_FILE).exists():
            self._outcomes.pop(key, None)
            return JOB_FAILED, {"error": "cancelled"}
        shared = handle.get("shared_filesystem", True)
        state = run_state(job_dir) if shared else None
        exit_status = read_exit_status(job_dir) if shared else None
        if exit_status is not None and state != RUN_UNDER_WAY:
            self._outcomes.pop(key, None)
            self._drop_later(key)  # a future still pending must not run the job again
            return outcome_of_exit_status(exit_status)
        ended = self._outcome(key)
        if ended is None and key in self._futures:
            if state == RUN_OVER:
                # It ran, and its worker died before it wrote an exit status.
                self._drop_later(key)
                return JOB_LOST, {
                    "resubmit": False,
                    "error": f"job {key} started on a Dask worker that died; "
                    "it left no exit status",
                }
            return JOB_RUNNING, {}
        if ended is not None and ended[0] == JOB_COMPLETED:
            result = ended[1]["result"]
            if not shared:
                unpack_dir(result, job_dir)
                exit_status = read_exit_status(job_dir)
                if exit_status is None:
                    return JOB_FAILED, {"error": "the job ended without writing an exit status"}
                return outcome_of_exit_status(exit_status)
            state, exit_status = run_state(job_dir), read_exit_status(job_dir)
            if (
                exit_status is None
                and state != RUN_UNDER_WAY
                and result != ALREADY_RUNNING_EXIT_STATUS
            ):
                return JOB_FAILED, {
                    "error": f"the job's entrypoint exited {result} without writing an exit status"
                }
        elif ended is not None and not shared:
            error = str(ended[1].get("error", ""))
            last_line = error.strip().splitlines()[-1] if error.strip() else "lost"
            return JOB_LOST, {"resubmit": False, "error": f"job {key}: {last_line}"}
        # The future is gone (or refused to run the job again): the job dir tells.
        if exit_status is not None and state != RUN_UNDER_WAY:
            return outcome_of_exit_status(exit_status)
        if state == RUN_UNDER_WAY:
            return JOB_RUNNING, {}
        if state == NOT_STARTED and ended is None:
            return JOB_LOST, {
                "error": f"the Dask cluster no longer knows job {key}, and it never started"
            }
        return JOB_LOST, {
            "resubmit": False,
            "error": f"job {key} was lost by the Dask cluster and left no exit status",
        }

    def cancel(self, handle: Mapping[str, Any]) -> None:
        """Stop the job wherever it runs; its next poll reports FAILED.

        Raises :class:`~mc.errors.JobOwnershipError`, touching nothing, for
        a handle whose token is not its job dir's.
        """
        key, job_dir = _job_key(handle), owned_job_dir(handle, "dask")
        (Path(job_dir) / _CANCELLED_FILE).write_text("cancelled\n", encoding="utf-8")
        # At once, not at the next pass: a queued future must not start the job.
        self._drop_now(key)
        self.client.run(_stop_job, key)

    # -- calls ----------------------------------------------------------------

    def submit_call(
        self, fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Run ``fn(*args, **kwargs)`` on the cluster; return its handle."""
        key = f"mc-call-{uuid.uuid4().hex}"
        future = self.client.submit(_call, fn, list(args), dict(kwargs), key=key, pure=False)
        self._publish(key, future)
        return {"key": key}

    def poll_call(self, handle: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Return RUNNING, the call's outcome, or LOST if the cluster no longer knows it.

        Batched as job polls are (see the module docstring).
        """
        key = _call_key(handle)
        self._begin_round_if_new(key)
        self._answered.add(key)
        ended = self._outcome(key)
        if ended is not None:
            return ended
        if key in self._futures:
            return JOB_RUNNING, {}
        return JOB_LOST, {"error": f"the Dask cluster no longer knows call {key}"}

    def cancel_call(self, handle: Mapping[str, Any]) -> None:
        """Cancel the call's future (a call already running runs to its end)."""
        self._drop_now(_call_key(handle))

    # -- bookkeeping ----------------------------------------------------------

    def _publish(self, key: str, future: Any) -> None:
        self._futures[key] = future
        self.client.publish_dataset(future, name=key)

    def _known(self) -> set[str]:
        return self._futures.keys() | self._outcomes.keys()

    def _begin_round_if_new(self, key: str) -> None:
        if key in self._answered or not self._answered:
            self._begin_round()

    def _begin_round(self) -> None:
        """One pass over the futures: settle those that ended, drop those no longer wanted."""
        self.passes += 1
        self._answered.clear()
        self._settle([key for key, future in self._futures.items() if future.status != "pending"])
        self._flush_drops()

    def _flush_drops(self) -> None:
        """Cancel (one message) and unpublish (one request) the futures of jobs that ended."""
        if not self._to_drop:
            return
        dropping, self._to_drop = self._to_drop, {}
        pending = [future for future in dropping.values() if future.status == "pending"]
        with _scheduler_errors("when asked to drop the futures of ended jobs"):
            if pending:
                self.client.cancel(pending)
            self._unpublish(list(dropping))

    def _outcome(self, key: str) -> tuple[str, dict[str, Any]] | None:
        """Pop the outcome of the ended future ``key``.

        A key this executor does not know is looked up first. None while it
        is pending, or if the cluster knows no such key.
        """
        if key not in self._known():
            self._look_up([key])
        future = self._futures.get(key)
        if future is not None and future.status != "pending":
            self._settle([key])  # found ended by a look-up
        return self._outcomes.pop(key, None)

    def _look_up(self, keys: list[str]) -> None:
        """Fetch the published futures of ``keys``, unknown to this executor, in one request."""
        if not keys:
            return
        with _scheduler_errors(f"about {', '.join(keys)}"):
            if _batched_datasets():
                found = self.client.get_dataset(keys, default=None)
            else:
                found = [self.client.get_dataset(key, default=None) for key in keys]
        for key, future in zip(keys, found, strict=True):
            if future is not None:
                self._futures[key] = future

    def _settle(self, keys: list[str]) -> None:
        """Record the outcomes of the ended futures ``keys``, and forget them.

        One gather for the results, one unpublish for all.
        """
        if not keys:
            return
        futures = {key: self._futures.pop(key) for key in keys}
        finished = {key: future for key, future in futures.items() if future.status == "finished"}
        with _scheduler_errors("for the results of ended futures"):
            results = self.client.gather(finished, errors="skip") if finished else {}
            self._unpublish(keys)
        for key, future in futures.items():
            if key in results:
                self._outcomes[key] = JOB_COMPLETED, {"result": results[key]}
            elif future.status == "error":
                error = future.exception()  # sent with the status: no request
                self._outcomes[key] = (
                    JOB_FAILED,
                    {"error": "".join(traceback.format_exception(error))},
                )
            else:
                self._outcomes[key] = JOB_FAILED, {"error": f"the Dask future is {future.status}"}

    def _drop_later(self, key: str) -> None:
        future = self._futures.pop(key, None)
        if future is not None:
            self._to_drop[key] = future

    def _drop_now(self, key: str) -> None:
        self._outcomes.pop(key, None)
        future = self._futures.pop(key, None) or self._to_drop.pop(key, None)
        if future is not None:
            future.cancel()
            self._unpublish([key])

    def _unpublish(self, keys: list[str]) -> None:
        if _batched_datasets():
            self.client.unpublish_dataset(keys)
            return
        for key in keys:
            with contextlib.suppress(KeyError):
                self.client.unpublish_dataset(key)

    def close(self) -> None:
        """Close the client, and the LocalCluster if this executor started one.

        Futures of ended jobs still to be dropped are dropped first.
        """
        if self._client is not None:
            with contextlib.suppress(ExecutorError):
                self._flush_drops()
        self._futures.clear()
        self._outcomes.clear()
        self._to_drop.clear()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


@contextlib.contextmanager
def _scheduler_errors(what: str) -> Iterator[None]:
    """Turn a lost connection to the scheduler into ExecutorError: the next round may retry."""
    try:
        yield
    except OSError as error:
        raise ExecutorError(f"the Dask scheduler did not answer {what}: {error}") from error


@functools.cache
def _batched_datasets() -> bool:
    """Whether ``distributed`` gets and unpublishes several datasets in one request (2026.6+)."""
    from distributed.publish import PublishExtension

    return "names" in inspect.signature(PublishExtension.get).parameters


def _run_job_dir(job_dir: str, key: str, fresh: bool = False) -> int:
    """Run ``bash entrypoint.sh`` of ``job_dir`` (on a worker); return its exit status.

    A job dir that has been started before is not started again: Dask runs
    a task again when its worker dies, but the job's process, in a session
    of its own, may still run (or may have ended). Returns 75
    (:data:`~mc.jobs.constants.ALREADY_RUNNING_EXIT_STATUS`) then, and the
    executor reads the job dir instead. ``fresh`` is for a job dir just
    unpacked into a scratch directory. A job cancelled before it started
    (its future may be wanted by another client still) never starts.
    """
    if not fresh and (
        run_state(job_dir) != NOT_STARTED or (Path(job_dir) / _CANCELLED_FILE).exists()
    ):
        return ALREADY_RUNNING_EXIT_STATUS
    process = subprocess.Popen(
        ["bash", str(Path(job_dir) / ENTRYPOINT_FILE)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    with _running_lock:
        _running_here[key] = process
    try:
        return process.wait()
    finally:
        with _running_lock:
            _running_here.pop(key, None)


def _run_packed_job_dir(packed: bytes, key: str) -> bytes:
    """Unpack a job dir into a temporary directory (on a worker), run it, return it packed."""
    with tempfile.TemporaryDirectory(prefix="mc-job-") as scratch:
        unpack_dir(packed, scratch)
        _run_job_dir(scratch, key, fresh=True)
        return pack_dir(scratch)


def _stop_job(key: str) -> bool:
    """Stop the job ``key`` if it runs in this worker process; return True if it did."""
    with _running_lock:
        process = _running_here.get(key)
    if process is None or process.poll() is not None:
        return False
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True


def _job_key(handle: Any) -> str:
    return _key(handle, _JOB_KEY_RE, "job")


def _call_key(handle: Any) -> str:
    return _key(handle, _CALL_KEY_RE, "call")


def _key(handle: Any, pattern: re.Pattern[str], kind: str) -> str:
    """The handle's key, if it has the form of the keys this executor makes for a ``kind``."""
    key = handle.get("key") if isinstance(handle, Mapping) else None
    if not isinstance(key, str) or not pattern.fullmatch(key):
        raise JobOwnershipError(
            f"dask executor: {key!r} is not a {kind} key this executor makes; nothing was done"
        )
    return key


def pack_dir(directory: str | os.PathLike[str]) -> bytes:
    """Return the files under ``directory`` as a gzipped tar archive."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(str(directory), arcname=".")
    return buffer.getvalue()


def unpack_dir(packed: bytes, directory: str | os.PathLike[str]) -> None:
    """Unpack an archive made by :func:`pack_dir` into ``directory``, refusing unsafe paths."""
    with tarfile.open(fileobj=io.BytesIO(packed), mode="r:gz") as archive:
        archive.extractall(str(directory), filter="data")


def _call(fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
    return fn(*args, **kwargs)
