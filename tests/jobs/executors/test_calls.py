"""Call executors: inline, threads and processes."""

from __future__ import annotations

import operator
import time

import pytest

from mc.jobs.executors.calls import InlineExecutor, ProcessesExecutor, ThreadsExecutor


@pytest.fixture(params=["threads", "processes"])
def pool_executor(request):
    """A threads or a processes executor, closed after the test."""
    executor = {"threads": ThreadsExecutor, "processes": ProcessesExecutor}[request.param](
        max_workers=1
    )
    yield executor
    executor.close()


def poll_until_finished(executor, handle):
    for _ in range(600):
        status, outputs = executor.poll_call(handle)
        if status != "RUNNING":
            return status, outputs
        time.sleep(0.02)
    raise AssertionError("call still running")


def test_inline_runs_the_call_at_submit_and_keeps_the_outcome_in_the_handle():
    executor = InlineExecutor()
    handle = executor.submit_call(operator.add, [2, 3], {})
    assert handle == {"status": "COMPLETED", "result": 5}
    assert InlineExecutor().poll_call(handle) == ("COMPLETED", {"result": 5})


def test_inline_failure_carries_the_traceback():
    status, outputs = InlineExecutor().poll_call(InlineExecutor().submit_call(int, ["x"], {}))
    assert status == "FAILED"
    assert "ValueError: invalid literal for int()" in outputs["error"]


def test_pool_executor_runs_the_call(pool_executor):
    handle = pool_executor.submit_call(pow, [2, 10], {})
    assert poll_until_finished(pool_executor, handle) == ("COMPLETED", {"result": 1024})


def test_pool_executor_passes_keyword_arguments(pool_executor):
    handle = pool_executor.submit_call(int, ["ff"], {"base": 16})
    assert poll_until_finished(pool_executor, handle) == ("COMPLETED", {"result": 255})


def test_pool_executor_failure_carries_the_traceback(pool_executor):
    status, outputs = poll_until_finished(pool_executor, pool_executor.submit_call(int, ["x"], {}))
    assert status == "FAILED"
    assert "ValueError" in outputs["error"]


def test_a_handle_from_another_executor_is_lost(pool_executor):
    other = ThreadsExecutor()
    try:
        handle = other.submit_call(abs, [-1], {})
        assert pool_executor.poll_call(handle)[0] == "LOST"
    finally:
        other.close()
