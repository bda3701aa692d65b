"""The Dask executor polls in batches: requests to the scheduler, counted on a real LocalCluster."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from mc.jobs.executors.dask import DaskExecutor

# The client refreshes what it knows of the scheduler (``identity``) on a
# timer of its own, whatever the executor does: not a poll's request.
_CLIENT_TIMER_OPS = {"identity"}


class SchedulerRequests:
    """Stands in for a client's connection to the scheduler, counting each request by its op."""

    def __init__(self, rpc: Any) -> None:
        self._rpc = rpc
        self.counts: Counter[str] = Counter()

    def __getattr__(self, op: str) -> Any:
        send = getattr(self._rpc, op)
        if op.startswith("_") or not callable(send):
            return send

        async def counted(**kwargs: Any) -> Any:
            if op not in _CLIENT_TIMER_OPS:
                self.counts[op] += 1
            return await send(**kwargs)

        return counted


def count_requests(executor: DaskExecutor) -> Counter[str]:
    """Count, from now on, the requests the executor's client sends to the scheduler."""
    requests = SchedulerRequests(executor.client.scheduler)
    executor.client.scheduler = requests
    return requests.counts


def wait_until_ended(executor: DaskExecutor, handles: list[dict[str, Any]]) -> None:
    """Wait (before counting) until the jobs' futures have ended, through a look-up of our own."""
    from distributed import wait

    wait([executor.client.get_dataset(handle["key"]) for handle in handles], timeout=60)


@pytest.fixture
def executors(dask_address):
    """Make Dask executors on the session's LocalCluster; close them after the test."""
    made: list[DaskExecutor] = []

    def make(**options: Any) -> DaskExecutor:
        made.append(DaskExecutor(address=dask_address, **options))
        return made[-1]

    yield make
    for executor in made:
        executor.close()


@pytest.mark.parametrize("shared_filesystem", [True, False])
def test_a_round_that_finds_six_jobs_ended_makes_one_gather_and_one_unpublish(
    executors, build, shared_filesystem
):
    executor = executors(shared_filesystem=shared_filesystem)
    handles = [executor.submit(build(f"echo {i} > out.txt")) for i in range(6)]
    wait_until_ended(executor, handles)
    requests = count_requests(executor)
    answers = [executor.poll(handle) for handle in handles]
    assert answers == [("COMPLETED", {"exit_status": 0})] * 6
    assert requests["publish_delete"] == 1
    # The results come in one request: the scheduler gathers them, or says who has them.
    assert requests["gather"] + requests["who_has"] == 1
    assert sum(requests.values()) == 2, requests


def test_polls_of_running_jobs_ask_the_scheduler_nothing(executors, build):
    executor = executors()
    handles = [executor.submit(build("sleep 30")) for _ in range(5)]
    requests = count_requests(executor)
    for _ in range(3):
        assert {executor.poll(handle)[0] for handle in handles} == {"RUNNING"}
    assert sum(requests.values()) == 0, requests
    assert executor.passes == 3
    for handle in handles:
        executor.cancel(handle)


def test_a_round_after_the_jobs_were_answered_asks_nothing_more(executors, build):
    executor = executors()
    handles = [executor.submit(build("true")) for _ in range(3)]
    wait_until_ended(executor, handles)
    assert {executor.poll(handle)[0] for handle in handles} == {"COMPLETED"}
    requests = count_requests(executor)
    assert {executor.poll(handle)[0] for handle in handles} == {"COMPLETED"}
    assert sum(requests.values()) == 0, requests


def test_poll_many_looks_up_a_restarted_runners_jobs_in_one_request(executors, build):
    first = executors()
    handles = [first.submit(build("sleep 30")) for _ in range(4)]
    restarted = executors()
    requests = count_requests(restarted)
    assert [status for status, _ in restarted.poll_many(handles)] == ["RUNNING"] * 4
    assert requests == {"publish_get": 1}
    for handle in handles:
        restarted.cancel(handle)


def test_calls_that_ended_are_settled_in_one_pass(executors):
    executor = executors()
    handles = [executor.submit_call(pow, [2, power], {}) for power in range(5)]
    wait_until_ended(executor, handles)
    requests = count_requests(executor)
    answers = [executor.poll_call(handle) for handle in handles]
    assert answers == [("COMPLETED", {"result": 2**power}) for power in range(5)]
    assert requests["publish_delete"] == 1
    assert requests["gather"] + requests["who_has"] == 1


def test_a_job_whose_call_raised_reports_the_error_without_asking_for_it(executors):
    executor = executors()
    handle = executor.submit_call(divmod, [1, 0], {})
    wait_until_ended(executor, [handle])
    requests = count_requests(executor)
    status, outputs = executor.poll_call(handle)
    assert status == "FAILED"
    assert "ZeroDivisionError" in outputs["error"]
    assert requests == {"publish_delete": 1}
