"""Property: a flow saved incrementally after every tick loads as the flow run in memory."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from mc.flows import FlowEngine
from mc.store import FlowStore
from tests.conftest import FakeClock
from tests.flows.test_flow_properties import dag_specs, work


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shared_store(request, tmp_path_factory):
    """One store per database for every example (Hypothesis reruns the test body, not fixtures)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('incremental') / 'mc.db'}"
        with FlowStore(url) as store:
            yield store
        return
    server_url = request.getfixturevalue("postgres_server_url")
    schema = f"mc_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(server_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        with FlowStore(url.render_as_string(hide_password=False)) as store:
            yield store
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@st.composite
def specs_with_retries_and_subflows(draw):
    """Random DAGs of 'work' tasks, some with retries, some run as a child flow."""
    spec = draw(dag_specs(max_tasks=10))
    for task in spec["tasks"]:
        if draw(st.booleans()):
            task["retries"] = draw(st.integers(min_value=1, max_value=2))
            task["retry_delay_s"] = draw(st.sampled_from([0, 1, 2]))
        if draw(st.integers(min_value=0, max_value=4)) == 0:
            child = draw(dag_specs(max_tasks=4))
            child.pop("key")
            task["task_params"] = {"flow_spec": child}
            task["task_type"] = "flow"
    return spec


@settings(max_examples=40, deadline=None)
@given(specs_with_retries_and_subflows(), st.lists(st.booleans(), max_size=40))
def test_a_flow_saved_after_every_tick_loads_as_the_flow_in_memory(
    shared_store, spec, reload_after
):
    store = shared_store
    spec = {**spec, "key": f"prop_{uuid.uuid4().hex}"}
    clock = FakeClock()
    engine = FlowEngine(task_handlers={"work": work}, clock=clock)
    in_memory = engine.flow_spec_to_flow(spec)
    store.create_flow(spec)
    stored = store.get_flow(spec["key"])
    ticks = 0
    while not in_memory.finished:
        engine.tick_flow(in_memory)
        engine.tick_flow(stored)
        store.save_flow(stored)
        loaded = store.get_flow(spec["key"])
        assert loaded.to_flow_dict() == in_memory.to_flow_dict()
        # Go on with the loaded copy, or keep saving the same object incrementally.
        if ticks < len(reload_after) and reload_after[ticks]:
            stored = loaded
        clock.advance(1)
        ticks += 1
        assert ticks <= 300, "the flow did not end"
    assert store.get_flow(spec["key"]).status == in_memory.status
