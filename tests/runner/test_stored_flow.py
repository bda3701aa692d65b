"""The stored_flow task type: subflows as their own records in the store."""

from __future__ import annotations

import pytest

from mc.flows import FlowEngine
from mc.runner import FlowRunner, add_stored_flow_task_type, child_flow_key


def parent_spec(child_tasks: list[dict], **child_extra) -> dict:
    child = {"label": "child", "tasks": child_tasks, **child_extra}
    return {
        "label": "parent",
        "tasks": [
            {"key": "sub", "task_type": "stored_flow", "task_params": {"flow_spec": child}},
            {"key": "after", "task_type": "noop", "precursors": ["sub"]},
        ],
    }


NOOP = [{"key": "a", "task_type": "noop"}]


def run_all(store, engine=None) -> None:
    FlowRunner(store, engine or FlowEngine(), poll_interval_s=0).run(interval_s=0, until_done=True)


def test_a_runner_registers_stored_flow_on_its_engine(flow_store):
    engine = FlowEngine()
    assert "stored_flow" not in engine.task_type_registry
    FlowRunner(flow_store, engine)
    assert "stored_flow" in engine.task_type_registry


def test_a_runner_keeps_an_engines_own_stored_flow_type(flow_store):
    engine = FlowEngine()

    def mine(task_ctx):
        task_ctx["task"]["status"] = "COMPLETED"

    engine.register_task_type("stored_flow", mine)
    FlowRunner(flow_store, engine)
    assert engine.task_type_registry.resolve("stored_flow") is mine


def test_the_child_is_its_own_record_with_parent_key_and_depth(flow_store):
    parent = flow_store.create_flow(parent_spec(NOOP))
    FlowRunner(flow_store).tick()
    (child,) = flow_store.query(parent_key=parent)
    assert (child.label, child.depth, child.status) == ("child", 1, "PENDING")
    task = flow_store.get_flow(parent).tasks["sub"]
    assert task["status"] == "RUNNING"
    assert task["data"]["child_key"] == child.key
    assert "tasks" not in task["data"]


def test_the_parent_completes_with_the_childs_data_once_the_child_completes(flow_store):
    parent = flow_store.create_flow(parent_spec(NOOP, data={"result": 42}))
    run_all(flow_store)
    flow = flow_store.get_flow(parent)
    assert flow.status == "COMPLETED"
    assert flow.tasks["sub"]["data"]["flow_data"] == {"result": 42}


def test_the_parent_task_fails_with_the_childs_errors_when_the_child_fails(flow_store):
    parent = flow_store.create_flow(parent_spec([{"key": "bad", "task_type": "no_such_type"}]))
    run_all(flow_store)
    flow = flow_store.get_flow(parent)
    assert flow.status == "FAILED"
    error = flow.tasks["sub"]["error"]
    assert "FAILED" in error and "task 'bad' (no_such_type): unknown task_type" in error
    assert flow.tasks["after"]["status"] == "SKIPPED"


def test_children_nest_and_each_level_is_its_own_record(flow_store):
    grandchild = {"label": "grandchild", "tasks": NOOP, "data": {"deep": True}}
    middle = [
        {"key": "inner", "task_type": "stored_flow", "task_params": {"flow_spec": grandchild}}
    ]
    parent = flow_store.create_flow(parent_spec(middle))
    run_all(flow_store)
    depths = sorted((r.depth, r.label, r.status) for r in flow_store.query())
    assert depths == [
        (0, "parent", "COMPLETED"),
        (1, "child", "COMPLETED"),
        (2, "grandchild", "COMPLETED"),
    ]
    inner_data = flow_store.get_flow(parent).tasks["sub"]["data"]["flow_data"]
    assert inner_data == {}


def test_a_parent_ticked_again_after_a_crash_adopts_the_child_it_created(flow_store):
    parent = flow_store.create_flow(parent_spec(NOOP))
    engine = FlowEngine()
    add_stored_flow_task_type(engine)
    ctx = {"flow_store": flow_store}
    crashed = flow_store.get_flow(parent)
    engine.tick_flow(crashed, ctx)  # creates the child; the parent is never saved
    again = flow_store.get_flow(parent)
    engine.tick_flow(again, ctx)
    assert again.tasks["sub"]["data"]["child_key"] == crashed.tasks["sub"]["data"]["child_key"]
    assert len(flow_store.query(parent_key=parent)) == 1


def test_the_child_key_is_derived_from_parent_task_and_attempt():
    assert child_flow_key("p", "t", 1) == child_flow_key("p", "t", 1)
    assert (
        len({child_flow_key("p", "t", 1), child_flow_key("p", "t", 2), child_flow_key("q", "t", 1)})
        == 3
    )


def test_a_stored_flow_task_outside_a_runner_fails_saying_what_it_needs():
    engine = FlowEngine()
    add_stored_flow_task_type(engine)
    flow = engine.flow_spec_to_flow(parent_spec(NOOP))
    engine.tick_flow(flow)
    assert "needs a flow store" in flow.tasks["sub"]["error"]
    assert "FlowRunner" in flow.tasks["sub"]["error"]


def test_a_stored_flow_task_without_flow_spec_fails_naming_the_parameter(flow_store):
    key = flow_store.create_flow({"tasks": [{"key": "sub", "task_type": "stored_flow"}]})
    run_all(flow_store)
    assert "missing task_params.flow_spec" in flow_store.get_flow(key).tasks["sub"]["error"]


def test_a_deleted_child_fails_its_parent_task(flow_store):
    parent = flow_store.create_flow(parent_spec(NOOP))
    FlowRunner(flow_store, poll_interval_s=0).tick()
    (child,) = flow_store.query(parent_key=parent)
    flow_store.delete_flow(child.key)
    run_all(flow_store)
    assert "no longer in the store" in flow_store.get_flow(parent).tasks["sub"]["error"]


@pytest.mark.parametrize("bad_child", [{"tasks": "nope"}, {"tasks": [{"key": "x"}]}])
def test_a_bad_child_spec_fails_the_task_with_the_spec_path(flow_store, bad_child):
    key = flow_store.create_flow(
        {
            "tasks": [
                {"key": "sub", "task_type": "stored_flow", "task_params": {"flow_spec": bad_child}}
            ]
        }
    )
    run_all(flow_store)
    assert "tasks" in flow_store.get_flow(key).tasks["sub"]["error"]
    assert flow_store.query(parent_key=key) == []


class Flaky:
    """A task that fails while ``Flaky.fail`` is true."""

    fail = True

    @classmethod
    def tick_task(cls, task_ctx):
        task_ctx["task"]["status"] = "FAILED" if cls.fail else "COMPLETED"


class Waiting:
    """A task that stays RUNNING."""

    @staticmethod
    def tick_task(task_ctx):
        pass


def test_a_retried_task_runs_a_new_child(flow_store):
    engine = FlowEngine()
    engine.register_task_type("flaky", Flaky)
    Flaky.fail = True
    parent = flow_store.create_flow(parent_spec([{"key": "a", "task_type": "flaky"}]))
    run_all(flow_store, engine)
    flow = flow_store.get_flow(parent)
    assert flow.status == "FAILED"
    assert engine.retry_flow(flow) == ["sub", "after"]
    flow_store.save_flow(flow)
    Flaky.fail = False
    run_all(flow_store, engine)
    flow = flow_store.get_flow(parent)
    assert flow.status == "COMPLETED"
    children = {r.key: r.status for r in flow_store.query(parent_key=parent)}
    assert children == {
        child_flow_key(parent, "sub", 1): "FAILED",
        child_flow_key(parent, "sub", 2): "COMPLETED",
    }
    assert flow.tasks["sub"]["data"]["attempt"] == 2


def test_a_task_retried_by_its_retries_policy_runs_a_new_child(flow_store):
    first_child = child_flow_key("p", "sub", 1)

    def fails_in_the_first_child(task_ctx):
        failing = task_ctx["flow"].key == first_child
        task_ctx["task"]["status"] = "FAILED" if failing else "COMPLETED"

    engine = FlowEngine()
    engine.register_task_type("fails_in_the_first_child", fails_in_the_first_child)
    spec = parent_spec([{"key": "a", "task_type": "fails_in_the_first_child"}])
    spec["key"] = "p"
    spec["tasks"][0]["retries"] = 1
    flow_store.create_flow(spec)
    run_all(flow_store, engine)
    flow = flow_store.get_flow("p")
    assert (flow.status, flow.tasks["sub"]["data"]["attempt"]) == ("COMPLETED", 2)
    children = {r.key: r.status for r in flow_store.query(parent_key="p")}
    assert children == {first_child: "FAILED", child_flow_key("p", "sub", 2): "COMPLETED"}


def test_cancelling_the_parent_cancels_its_running_child(flow_store):
    engine = FlowEngine()
    engine.register_task_type("wait", Waiting)
    parent = flow_store.create_flow(parent_spec([{"key": "w", "task_type": "wait"}]))
    runner = FlowRunner(flow_store, engine, poll_interval_s=0)
    runner.tick()
    runner.tick()
    (child,) = flow_store.query(parent_key=parent)
    assert child.status == "RUNNING"
    flow = flow_store.get_flow(parent)
    engine.cancel_flow(flow, "no longer needed", task_ctx={"flow_store": flow_store})
    flow_store.save_flow(flow)
    cancelled_child = flow_store.get_flow(child.key)
    assert cancelled_child.status == "FAILED"
    assert cancelled_child.data["cancelled"]["reason"] == f"parent flow {parent} was cancelled"
    assert cancelled_child.tasks["w"]["error"].startswith("cancelled:")


def test_cancelling_the_parent_leaves_a_child_a_runner_keeps_leased_and_says_why(
    flow_store, monkeypatch
):
    from mc.runner import stored_flow

    monkeypatch.setattr(stored_flow, "_CHILD_LEASE_WAIT_S", 0.2)
    engine = FlowEngine()
    engine.register_task_type("wait", Waiting)
    parent = flow_store.create_flow(parent_spec([{"key": "w", "task_type": "wait"}]))
    runner = FlowRunner(flow_store, engine, poll_interval_s=0)
    runner.tick()
    runner.tick()
    (child,) = flow_store.query(parent_key=parent)
    flow_store.claim_flow(child.key, lease_s=300, runner_id="busy-runner")
    before = flow_store.get_record(child.key)
    flow = flow_store.get_flow(parent)
    engine.cancel_flow(flow, "no longer needed", task_ctx={"flow_store": flow_store})
    assert "runner busy-runner kept it leased" in flow.tasks["sub"]["data"]["cancel_error"]
    assert flow_store.get_record(child.key) == before


def test_cancelling_the_parent_waits_for_a_leased_child_by_the_engines_sleep_and_clock(
    flow_store, clock
):
    slept = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    engine = FlowEngine(clock=clock, sleep=sleep)
    engine.register_task_type("wait", Waiting)
    parent = flow_store.create_flow(parent_spec([{"key": "w", "task_type": "wait"}]))
    runner = FlowRunner(flow_store, engine, poll_interval_s=0)
    runner.tick()
    runner.tick()
    (child,) = flow_store.query(parent_key=parent)
    flow_store.claim_flow(child.key, lease_s=300, runner_id="busy-runner")
    flow = flow_store.get_flow(parent)
    engine.cancel_flow(flow, "no longer needed", task_ctx={"flow_store": flow_store})
    assert "kept it leased for 10 s" in flow.tasks["sub"]["data"]["cancel_error"]
    assert sum(slept) == pytest.approx(10)


def test_a_child_key_naming_a_flow_that_is_not_its_child_is_left_alone(flow_store):
    # A task's data is not trusted: a child_key pointing at another flow is
    # neither read nor, on cancel, cancelled.
    parent = flow_store.create_flow(parent_spec(NOOP))
    engine = FlowEngine()
    FlowRunner(flow_store, engine).tick()
    other = flow_store.create_flow(
        {"label": "other", "tasks": [{"key": "wait", "task_type": "noop"}]}
    )
    flow = flow_store.claim_flow(parent, 60, "test")
    flow.tasks["sub"]["data"]["child_key"] = other
    engine.cancel_flow(flow, "test", {"flow_store": flow_store})
    assert "is not a subflow of" in flow.tasks["sub"]["data"]["cancel_error"]
    assert flow_store.get_record(other).status == "PENDING"
