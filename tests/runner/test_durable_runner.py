"""A runner saves after every tick, keeps its leases alive, and keeps flows in memory."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from mc.flows import FlowEngine
from mc.runner import FlowRunner
from mc.runner.flow_runner import DEFAULT_LEASE_S
from mc.store import FlowStore
from mc.store.tables import flows_table
from tests.runner.test_flow_runner import Waiting, chain_spec


def test_the_default_lease_is_short():
    assert DEFAULT_LEASE_S == 30.0


def test_a_flow_is_saved_after_every_tick_keeping_its_lease(flow_store, engine):
    seen = []

    def look(task_ctx):
        record = flow_store.get_record(task_ctx["flow"].key)
        seen.append((record.num_ticks, record.lease_owner))
        task_ctx["task"]["status"] = "COMPLETED"

    engine.register_task_type("look", look)
    key = flow_store.create_flow(chain_spec(3, task_type="look"))
    stats = FlowRunner(flow_store, engine, runner_id="r1").tick()
    assert seen == [(0, "r1"), (1, "r1"), (2, "r1")]
    assert (stats.ticked, stats.completed) == (1, 1)
    assert flow_store.get_record(key).lease_owner is None


def test_save_every_ticks_batches_the_saves(flow_store, engine):
    seen = []

    def look(task_ctx):
        seen.append(flow_store.get_record(task_ctx["flow"].key).num_ticks)
        task_ctx["task"]["status"] = "COMPLETED"

    engine.register_task_type("look", look)
    flow_store.create_flow(chain_spec(5, task_type="look"))
    FlowRunner(flow_store, engine, save_every_ticks=2).tick()
    assert seen == [0, 0, 2, 2, 4]


def test_another_runner_cannot_claim_a_flow_between_its_checkpoints(flow_store, engine):
    claims = []

    def look(task_ctx):
        claims.append(flow_store.claim(1, lease_s=30, runner_id="other"))
        task_ctx["task"]["status"] = "COMPLETED"

    engine.register_task_type("look", look)
    flow_store.create_flow(chain_spec(3, task_type="look"))
    FlowRunner(flow_store, engine).tick()
    assert claims == [[], [], []]


def test_a_flow_that_does_not_load_counts_as_failed(flow_store, engine):
    bad = flow_store.create_flow(chain_spec(1))
    with flow_store._engine.begin() as connection:
        connection.execute(
            sa.update(flows_table).where(flows_table.c.key == bad).values(flow_json="[1, 2")
        )
    stats = FlowRunner(flow_store, engine).tick()
    assert (stats.claimed, stats.failed) == (0, 1)
    assert flow_store.get_record(bad).status == "FAILED"


def test_a_waiting_flow_stays_in_memory_between_claims(flow_store, engine, clock):
    engine.register_task_type("wait", Waiting)
    Waiting.done = False
    flows_seen = []

    def look(task_ctx):
        flows_seen.append(task_ctx["flow"])
        Waiting.tick_task(task_ctx)

    engine.register_task_type("look", look)
    key = flow_store.create_flow(chain_spec(1, task_type="look"))
    runner = FlowRunner(flow_store, engine, poll_interval_s=1)
    runner.tick()
    clock.advance(1)
    Waiting.done = True
    assert runner.tick().completed == 1
    assert flows_seen[0] is flows_seen[1]
    assert flow_store.get_flow(key).tasks["t0"]["status"] == "COMPLETED"


def test_keep_in_memory_zero_loads_the_flow_on_every_claim(flow_store, engine, clock):
    Waiting.done = False
    flows_seen = []

    def look(task_ctx):
        flows_seen.append(task_ctx["flow"])
        Waiting.tick_task(task_ctx)

    engine.register_task_type("look", look)
    flow_store.create_flow(chain_spec(1, task_type="look"))
    runner = FlowRunner(flow_store, engine, poll_interval_s=1, keep_in_memory=0)
    runner.tick()
    clock.advance(1)
    runner.tick()
    assert flows_seen[0] is not flows_seen[1]


def test_a_flow_in_memory_is_loaded_again_once_someone_else_changed_it(flow_store, engine, clock):
    Waiting.done = False
    seen = []

    def look(task_ctx):
        seen.append(task_ctx["flow"].data.get("note"))
        Waiting.tick_task(task_ctx)

    engine.register_task_type("look", look)
    key = flow_store.create_flow(chain_spec(1, task_type="look"))
    runner = FlowRunner(flow_store, engine, poll_interval_s=1)
    runner.tick()
    with flow_store.leased(key, "a person", save=True) as flow:
        flow.data["note"] = "changed by hand"
    clock.advance(1)
    runner.tick()
    assert seen == [None, "changed by hand"]


def test_a_stop_request_saves_the_flow_after_the_tick_in_flight(flow_store, engine):
    runner = FlowRunner(flow_store, engine, runner_id="stopper")

    def stop_now(task_ctx):
        runner.request_stop()
        task_ctx["task"]["status"] = "COMPLETED"

    engine.register_task_type("stop_now", stop_now)
    key = flow_store.create_flow(chain_spec(3, task_type="stop_now"))
    stats = runner.tick()
    record = flow_store.get_record(key)
    assert (stats.ticks, record.num_ticks, record.status, record.lease_owner) == (
        1,
        1,
        "RUNNING",
        None,
    )


@pytest.fixture
def real_clock_store(db_url):
    with FlowStore(db_url) as store:
        yield store


def test_a_lease_is_renewed_during_a_tick_longer_than_the_lease(real_clock_store):
    store = real_clock_store
    lease_s = 0.6
    claims = []

    def long_tick(task_ctx):
        ends = time.monotonic() + 3 * lease_s
        while time.monotonic() < ends:
            claims.extend(store.claim(1, lease_s=lease_s, runner_id="other"))
            time.sleep(0.05)
        task_ctx["task"]["status"] = "COMPLETED"

    engine = FlowEngine(task_handlers={"long_tick": long_tick})
    key = store.create_flow(chain_spec(1, task_type="long_tick"))
    stats = FlowRunner(store, engine, lease_s=lease_s).tick()
    assert claims == []
    assert (stats.completed, stats.stale) == (1, 0)
    assert store.get_record(key).status == "COMPLETED"


def test_a_long_tick_does_not_hold_the_other_flows_of_its_round(real_clock_store):
    store = real_clock_store
    lease_s = 0.6
    taken = []

    def long_tick(task_ctx):
        ends = time.monotonic() + 3 * lease_s
        while time.monotonic() < ends and not taken:
            taken.extend(store.claim(1, lease_s=30, runner_id="other"))
            time.sleep(0.05)
        task_ctx["task"]["status"] = "COMPLETED"

    engine = FlowEngine(task_handlers={"long_tick": long_tick})
    first = store.create_flow(chain_spec(1, task_type="long_tick"))
    time.sleep(0.01)  # claimed after the first: saved later
    waiting = store.create_flow(chain_spec(1))
    stats = FlowRunner(store, engine, lease_s=lease_s, runner_id="busy").tick()
    assert [flow.key for flow in taken] == [waiting]
    assert (stats.claimed, stats.completed, stats.stale) == (2, 1, 1)
    assert store.get_record(first).status == "COMPLETED"
    assert store.get_record(waiting).lease_owner == "other"


def test_a_runner_refuses_a_save_every_ticks_below_one(flow_store):
    with pytest.raises(ValueError, match="save_every_ticks=0"):
        FlowRunner(flow_store, save_every_ticks=0)
