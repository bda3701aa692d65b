"""The ``dask`` executor: job dirs and calls on a :mod:`dask.distributed` cluster.

For users who outgrow one machine. Give it a scheduler's ``address`` (or set
Dask's ``scheduler-address`` config, e.g. the environment variable
``DASK_SCHEDULER_ADDRESS``), or none and it starts a ``LocalCluster`` on
127.0.0.1 on first use (and closes it in :meth:`DaskExecutor.close`). Dask is imported only then; install it
with ``pip install 'missioncontrol[dask]'``.

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

Resources are not translated: Dask runs one job per worker thread. Start
workers with as many threads as jobs they should run at once.
"""

from __future__ import annotations

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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mc.errors import ExecutorError, JobOwnershipError
from mc.jobs.constants import (
    ALREADY_RUNNING_EXIT_STATUS,
    COMPLETED,
    ENTRYPOINT_FILE,
    FAILED,
    LOST,
    RUNNING,
)
from mc.jobs.executors.base import JobExecutor, absolute_job_dir, owned_job_dir, record_submission
from mc.jobs.job_dir import NOT_STARTED, RUN_OVER, RUN_UNDER_WAY, read_exit_status, run_state

CANCELLED_FILE = "cancelled"
_JOB_KEY_RE = re.compile(r"mc-job-[0-9a-f]{32}")
_CALL_KEY_RE = re.compile(r"mc-call-[0-9a-f]{32}")

# Jobs running in this worker process, by key, so that cancel can stop them.
_running_here: dict[str, subprocess.Popen[bytes]] = {}
_running_lock = threading.Lock()


class DaskExecutor(JobExecutor):
    """Runs job dirs and calls on a Dask cluster.

    ``address``: a scheduler address such as ``'tcp://10.0.0.5:8786'``;
    without one, Dask's ``scheduler-address`` config; without that, a ``LocalCluster`` of ``n_workers`` worker processes with
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
                self._cluster = LocalCluster(
                    n_workers=self.n_workers,
                    threads_per_worker=self.threads_per_worker,
                    host="127.0.0.1",
                    dashboard_address=":0",  # no fixed port: several clusters may share a host
                    processes=True,
                )
                self._client = Client(self._cluster)
            else:
                try:
                    self._client = Client(address, timeout=self.connect_timeout_s)
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
        (Path(path) / CANCELLED_FILE).unlink(missing_ok=True)
        token = record_submission(path, "dask")
        key = f"mc-job-{uuid.uuid4().hex}"
        if self.shared_filesystem:
            future = self.client.submit(run_job_dir, path, key, key=key, pure=False)
        else:
            future = self.client.submit(
                run_packed_job_dir, pack_dir(path), key, key=key, pure=False
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

        On a shared filesystem the job dir has the last word: its exit
        status ends the job even if its future is stuck (a worker that died
        without a nanny), and a run still holding its lock is RUNNING even
        if its future is gone. A job that started and ended without an exit
        status, or whose future is gone without a trace, is LOST with
        ``resubmit: False``: it may have run, so only the task's retries may
        run it again.
        """
        key, job_dir = _job_key(handle), owned_job_dir(handle, "dask")
        if (Path(job_dir) / CANCELLED_FILE).exists():
            return FAILED, {"error": "cancelled"}
        shared = handle.get("shared_filesystem", True)
        state = run_state(job_dir) if shared else None
        exit_status = read_exit_status(job_dir) if shared else None
        if exit_status is not None and state != RUN_UNDER_WAY:
            self._drop(key)  # a future still pending must not run the job again
            return (COMPLETED if exit_status == 0 else FAILED), {"exit_status": exit_status}
        future = self._future(key)
        if future is not None and future.status == "pending":
            if state == RUN_OVER:
                # It ran, and its worker died before it wrote an exit status.
                self._drop(key)
                return LOST, {
                    "resubmit": False,
                    "error": f"job {key} started on a Dask worker that died; it left no exit status",
                }
            return RUNNING, {}
        if future is not None and future.status == "finished":
            result = self._take(key, future)[1]["result"]
            if not shared:
                unpack_dir(result, job_dir)
                exit_status = read_exit_status(job_dir)
                if exit_status is None:
                    return FAILED, {"error": "the job ended without writing an exit status"}
                return (COMPLETED if exit_status == 0 else FAILED), {"exit_status": exit_status}
            state, exit_status = run_state(job_dir), read_exit_status(job_dir)
            if (
                exit_status is None
                and state != RUN_UNDER_WAY
                and result != ALREADY_RUNNING_EXIT_STATUS
            ):
                return FAILED, {
                    "error": f"the job's entrypoint exited {result} without writing an exit status"
                }
        elif future is not None:
            error = self._take(key, future)[1].get("error", "")
            if not shared:
                last_line = error.strip().splitlines()[-1] if error.strip() else "lost"
                return LOST, {"resubmit": False, "error": f"job {key}: {last_line}"}
        # The future is gone (or refused to run the job again): the job dir tells.
        if exit_status is not None and state != RUN_UNDER_WAY:
            return (COMPLETED if exit_status == 0 else FAILED), {"exit_status": exit_status}
        if state == RUN_UNDER_WAY:
            return RUNNING, {}
        if state == NOT_STARTED and future is None:
            return LOST, {
                "error": f"the Dask cluster no longer knows job {key}, and it never started"
            }
        return LOST, {
            "resubmit": False,
            "error": f"job {key} was lost by the Dask cluster and left no exit status",
        }

    def cancel(self, handle: Mapping[str, Any]) -> None:
        """Stop the job wherever it runs; its next poll reports FAILED.

        Raises :class:`~mc.errors.JobOwnershipError`, touching nothing, for
        a handle whose token is not its job dir's.
        """
        key, job_dir = _job_key(handle), owned_job_dir(handle, "dask")
        (Path(job_dir) / CANCELLED_FILE).write_text("cancelled\n", encoding="utf-8")
        self._drop(key)
        self.client.run(stop_job, key)

    def _drop(self, key: str) -> None:
        future = self._future(key)
        if future is not None:
            future.cancel()
            self._forget(key)

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
        """Return RUNNING, the call's outcome, or LOST if the cluster no longer knows it."""
        key = _call_key(handle)
        future = self._future(key)
        if future is None:
            return LOST, {"error": f"the Dask cluster no longer knows call {key}"}
        if future.status == "pending":
            return RUNNING, {}
        return self._take(key, future)

    def cancel_call(self, handle: Mapping[str, Any]) -> None:
        """Cancel the call's future (a call already running runs to its end)."""
        key = _call_key(handle)
        future = self._future(key)
        if future is not None:
            future.cancel()
            self._forget(key)

    # -- bookkeeping ----------------------------------------------------------

    def _publish(self, key: str, future: Any) -> None:
        self._futures[key] = future
        self.client.publish_dataset(future, name=key)

    def _future(self, key: str) -> Any:
        future = self._futures.get(key)
        if future is None:
            try:
                future = self.client.get_dataset(key)
            except KeyError:
                return None
            except OSError as error:
                raise ExecutorError(
                    f"the Dask scheduler did not answer about {key}: {error}"
                ) from error
            self._futures[key] = future
        return future

    def _take(self, key: str, future: Any) -> tuple[str, dict[str, Any]]:
        """Return the outcome of a future that has ended, and forget it."""
        try:
            if future.status == "finished":
                return COMPLETED, {"result": future.result()}
            if future.status == "error":
                error = future.exception()
                return FAILED, {"error": "".join(traceback.format_exception(error))}
            return FAILED, {"error": f"the Dask future is {future.status}"}
        finally:
            self._forget(key)

    def _forget(self, key: str) -> None:
        self._futures.pop(key, None)
        try:
            self.client.unpublish_dataset(key)
        except KeyError:
            pass

    def close(self) -> None:
        """Close the client, and the LocalCluster if this executor started one."""
        self._futures.clear()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def run_job_dir(job_dir: str, key: str, fresh: bool = False) -> int:
    """Run ``bash entrypoint.sh`` of ``job_dir`` (on a worker); return its exit status.

    A job dir that has been started before is not started again: Dask runs
    a task again when its worker dies, but the job's process, in a session
    of its own, may still run (or may have ended). Returns 75
    (:data:`~mc.jobs.constants.ALREADY_RUNNING_EXIT_STATUS`) then, and the
    executor reads the job dir instead. ``fresh`` is for a job dir just
    unpacked into a scratch directory.
    """
    if not fresh and run_state(job_dir) != NOT_STARTED:
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


def run_packed_job_dir(packed: bytes, key: str) -> bytes:
    """Unpack a job dir into a temporary directory (on a worker), run it, return it packed."""
    with tempfile.TemporaryDirectory(prefix="mc-job-") as scratch:
        unpack_dir(packed, scratch)
        run_job_dir(scratch, key, fresh=True)
        return pack_dir(scratch)


def stop_job(key: str) -> bool:
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
