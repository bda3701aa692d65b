"""Property: a flow run by a runner through the store ends as one run in memory."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mc.flows import FlowEngine
from mc.runner import FlowRunner
from mc.store import FlowStore
from tests.conftest import FakeClock
from tests.flows.test_flow_properties import dag_specs, run_to_end, work


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    """One SQLite store for every example (Hypothesis reruns the test body, not fixtures)."""
    clock = FakeClock()
    url = f"sqlite:///{tmp_path_factory.mktemp('props') / 'mc.db'}"
    with FlowStore(url, clock=clock) as store:
        yield store, clock


def outcome(flow):
    return flow.status, {key: task["status"] for key, task in flow.tasks.items()}


@settings(max_examples=40, deadline=None)
@given(dag_specs(max_tasks=12), st.integers(min_value=1, max_value=3), st.integers(1, 3))
def test_a_stored_flow_ticked_by_runners_ends_as_in_memory(
    shared_store, spec, max_ticks_per_claim, batch_size
):
    store, clock = shared_store
    spec = {**spec, "key": f"random_{uuid.uuid4().hex}"}
    key = store.create_flow(spec)
    engine = FlowEngine(task_handlers={"work": work}, clock=clock)
    runner = FlowRunner(
        store,
        engine,
        poll_interval_s=0,
        max_ticks_per_claim=max_ticks_per_claim,
        batch_size=batch_size,
    )
    rounds = 0
    while store.get_record(key).status not in ("COMPLETED", "FAILED"):
        runner.tick()
        clock.advance(1)
        rounds += 1
        assert rounds <= 200, "the stored flow did not end"
    assert outcome(store.get_flow(key)) == outcome(run_to_end(spec))
