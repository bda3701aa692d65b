"""What a tick does: starting ready tasks, ticking running ones, ending flows."""

from __future__ import annotations

import pytest

from mc.flows import (
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    BaseTaskHandler,
    FlowEngine,
    FlowError,
    flow_spec_to_flow,
    get_default_engine,
    run_flow,
)


def chain_spec(n: int, task_type: str = "noop") -> dict:
    return {"key": "chain", "tasks": [{"key": f"t{i}", "task_type": task_type} for i in range(n)]}


class PollThreeTimes(BaseTaskHandler):
    """Stays RUNNING for three ticks, as if polling outside work."""

    def initial_tick(self):
        self.task["data"]["polls"] = 0

    def intermediate_tick(self):
        self.task["data"]["polls"] += 1
        if self.task["data"]["polls"] == 3:
            self.task["status"] = COMPLETED


def test_first_tick_makes_flow_running(engine):
    flow = engine.flow_spec_to_flow(chain_spec(2))
    assert flow.status == PENDING
    engine.tick_flow(flow)
    assert flow.status == RUNNING


def test_chain_of_n_single_tick_tasks_takes_n_ticks(engine):
    flow = engine.flow_spec_to_flow(chain_spec(7))
    engine.run_flow(flow)
    assert flow.status == COMPLETED
    assert flow.num_ticks == 7


def test_flow_without_tasks_completes_on_first_tick(engine):
    flow = engine.flow_spec_to_flow({"tasks": []})
    engine.tick_flow(flow)
    assert flow.status == COMPLETED


def test_join_waits_for_all_precursors(engine):
    engine.register_task_type("poll", PollThreeTimes)
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {"key": "fast", "task_type": "noop", "precursors": ["ROOT"]},
                {"key": "slow", "task_type": "poll", "precursors": ["ROOT"]},
                {"key": "join", "task_type": "noop", "precursors": ["fast", "slow"]},
            ]
        }
    )
    engine.tick_flow(flow)
    assert flow.tasks["fast"]["status"] == COMPLETED
    assert flow.tasks["slow"]["status"] == RUNNING
    for _ in range(3):
        engine.tick_flow(flow)
        assert flow.tasks["join"]["status"] == PENDING
    engine.tick_flow(flow)
    assert flow.tasks["join"]["status"] == COMPLETED
    assert flow.status == COMPLETED


def test_task_stays_running_until_handler_sets_status(engine):
    seen = []

    def never_done(task_ctx):
        seen.append(task_ctx["task"]["status"])

    engine.register_task_type("never_done", never_done)
    flow = engine.flow_spec_to_flow({"tasks": [{"key": "a", "task_type": "never_done"}]})
    for _ in range(5):
        engine.tick_flow(flow)
    assert seen == [RUNNING] * 5
    assert flow.status == RUNNING


def test_run_flow_max_ticks_names_running_tasks(engine):
    engine.register_task_type("never_done", lambda ctx: None)
    flow = engine.flow_spec_to_flow({"tasks": [{"key": "stuck", "task_type": "never_done"}]})
    with pytest.raises(FlowError, match="within 10 ticks; still RUNNING: stuck") as info:
        engine.run_flow(flow, max_ticks=10)
    assert info.value.flow is flow
    assert flow.num_ticks == 10


def test_independent_roots_start_on_the_same_tick(engine):
    flow = engine.flow_spec_to_flow(
        {"tasks": [{"key": k, "task_type": "noop", "precursors": ["ROOT"]} for k in "abc"]}
    )
    engine.tick_flow(flow)
    assert flow.status == COMPLETED
    assert flow.num_ticks == 1


def test_ready_tasks_start_in_flow_order(engine):
    order = []

    def record(task_ctx):
        order.append(task_ctx["task"]["key"])
        task_ctx["task"]["status"] = COMPLETED

    engine.register_task_type("record", record)
    keys = ["z", "a", "m", "b"]
    flow = engine.flow_spec_to_flow(
        {"tasks": [{"key": k, "task_type": "record", "precursors": ["ROOT"]} for k in keys]}
    )
    engine.tick_flow(flow)
    assert order == keys


def test_task_ctx_reaches_handler_merged_with_task_flow_and_engine(engine):
    seen = {}

    def capture(task_ctx):
        seen.update(task_ctx)
        task_ctx["task"]["status"] = COMPLETED

    engine.register_task_type("capture", capture)
    flow = engine.flow_spec_to_flow({"tasks": [{"key": "a", "task_type": "capture"}]})
    user_ctx = {"lab": "B12", "task": "ignored"}
    engine.tick_flow(flow, task_ctx=user_ctx)
    assert seen["lab"] == "B12"
    assert seen["task"] is flow.tasks["a"]
    assert seen["flow"] is flow
    assert seen["flow_engine"] is engine
    assert user_ctx == {"lab": "B12", "task": "ignored"}


def test_started_and_finished_times_come_from_the_clock(engine, clock):
    engine.register_task_type("poll", PollThreeTimes)
    flow = engine.flow_spec_to_flow({"tasks": [{"key": "a", "task_type": "poll"}]})
    start = clock.now
    engine.tick_flow(flow)
    for _ in range(3):
        clock.advance(10)
        engine.tick_flow(flow)
    assert flow.tasks["a"]["started_at"] == start
    assert flow.tasks["a"]["finished_at"] == start + 30


def test_ticking_a_finished_flow_changes_nothing(engine):
    flow = engine.flow_spec_to_flow(chain_spec(1))
    engine.run_flow(flow)
    before = flow.to_flow_dict()
    engine.tick_flow(flow)
    assert flow.to_flow_dict() == before


def test_tick_until_has_no_pending_stops_when_only_polling_remains(engine):
    engine.register_task_type("poll", PollThreeTimes)
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {"key": "a", "task_type": "noop"},
                {"key": "b", "task_type": "noop"},
                {"key": "wait", "task_type": "poll"},
                {"key": "after", "task_type": "noop"},
            ]
        }
    )
    ticks = engine.tick_flow_until_has_no_pending(flow)
    assert ticks == 3
    assert flow.tasks["wait"]["status"] == RUNNING
    assert flow.tasks["after"]["status"] == PENDING
    assert engine.tick_flow_until_has_no_pending(flow) == 1
    assert engine.tick_flow_until_has_no_pending(flow) == 1
    assert engine.tick_flow_until_has_no_pending(flow) == 2
    assert flow.status == COMPLETED


def test_tick_until_has_no_pending_runs_a_quick_flow_to_its_end(engine):
    flow = engine.flow_spec_to_flow(chain_spec(5))
    assert engine.tick_flow_until_has_no_pending(flow) == 5
    assert flow.status == COMPLETED


def test_run_flow_returns_the_completed_flow(engine):
    flow = engine.flow_spec_to_flow(chain_spec(3))
    assert engine.run_flow(flow) is flow
    assert flow.status == COMPLETED


def test_module_level_functions_use_the_default_engine(capsys):
    flow = flow_spec_to_flow({"tasks": [{"task_type": "print", "task_params": {"msg": "hi"}}]})
    run_flow(flow)
    assert capsys.readouterr().out == "hi\n"
    assert get_default_engine() is get_default_engine()


def test_handler_adding_a_task_during_a_tick_schedules_it(engine, capsys):
    def message_stats(task_ctx):
        task, flow = task_ctx["task"], task_ctx["flow"]
        msg = task["task_params"]["msg"]
        flow.add_task(
            {
                "task_type": "print",
                "task_params": {"msg": f"{msg} ({len(msg)} chars)"},
                "precursors": [task["key"]],
            }
        )
        task["status"] = COMPLETED

    engine.register_task_type("message_stats", message_stats)
    flow = engine.flow_spec_to_flow(
        {"tasks": [{"task_type": "message_stats", "task_params": {"msg": "I am short msg"}}]}
    )
    engine.run_flow(flow)
    assert capsys.readouterr().out == "I am short msg (14 chars)\n"
    assert len(flow.tasks) == 2
    assert flow.status == COMPLETED


def test_added_task_with_successors_delays_them(engine):
    def insert_step(task_ctx):
        task_ctx["flow"].add_task(
            {
                "key": "inserted",
                "task_type": "noop",
                "precursors": ["first"],
                "successors": ["last"],
            }
        )
        task_ctx["task"]["status"] = COMPLETED

    engine.register_task_type("insert_step", insert_step)
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {"key": "first", "task_type": "insert_step"},
                {"key": "last", "task_type": "noop"},
            ]
        }
    )
    engine.tick_flow(flow)
    engine.tick_flow(flow)
    assert flow.tasks["inserted"]["status"] == COMPLETED
    assert flow.tasks["last"]["status"] == PENDING
    engine.tick_flow(flow)
    assert flow.status == COMPLETED
    assert flow.get_precursors("last") == ["first", "inserted"]


def test_engines_have_separate_registries():
    first, second = FlowEngine(), FlowEngine()
    first.register_task_type("only_here", lambda ctx: None)
    assert "only_here" in first.task_type_registry
    assert "only_here" not in second.task_type_registry


def test_handler_setting_an_unknown_status_fails_its_task(engine):
    def bad_status(task_ctx):
        task_ctx["task"]["status"] = "DONE"

    engine.register_task_type("bad_status", bad_status)
    flow = engine.flow_spec_to_flow({"tasks": [{"key": "a", "task_type": "bad_status"}]})
    engine.tick_flow(flow)
    assert flow.tasks["a"]["status"] == FAILED
    assert "set status 'DONE'" in flow.tasks["a"]["error"]


def test_run_flow_max_ticks_counts_ticks_of_this_call(engine):
    flow = engine.flow_spec_to_flow(chain_spec(6))
    engine.tick_flow(flow)
    engine.tick_flow(flow)
    engine.run_flow(flow, max_ticks=4)
    assert flow.status == COMPLETED


def test_run_flow_max_ticks_with_only_pending_tasks_says_so(engine):
    flow = engine.flow_spec_to_flow(chain_spec(3))
    with pytest.raises(FlowError, match="did not end within 1 tick; 2 tasks still PENDING"):
        engine.run_flow(flow, max_ticks=1)


def test_tick_flow_until_idle_stops_when_only_running_tasks_are_left(engine):
    engine.register_task_type("poll", lambda task_ctx: None)
    flow = engine.flow_spec_to_flow(
        {"tasks": [{"key": "wait", "task_type": "poll"}, {"key": "after", "task_type": "noop"}]}
    )
    assert engine.tick_flow_until_idle(flow) == 1
    assert flow.tasks["wait"]["status"] == RUNNING
    assert flow.tasks["after"]["status"] == PENDING


def test_the_deprecated_tick_name_ticks_as_tick_flow_until_idle(engine):
    flow = engine.flow_spec_to_flow(chain_spec(4))
    assert engine.tick_flow_until_has_no_pending(flow, max_ticks=2) == 2
    assert engine.tick_flow_until_idle(flow) == 2
    assert flow.status == COMPLETED


def test_a_subclass_overriding_the_deprecated_tick_name_is_called_by_the_new_one():
    from mc.flows import FlowEngine

    calls = []

    class OldStyleEngine(FlowEngine):
        def tick_flow_until_has_no_pending(self, flow, task_ctx=None, max_ticks=None):
            calls.append(flow.key)
            return super().tick_flow_until_has_no_pending(flow, task_ctx, max_ticks)

    engine = OldStyleEngine()
    flow = engine.flow_spec_to_flow({**chain_spec(2), "key": "old"})
    assert engine.tick_flow_until_idle(flow) == 2
    assert calls == ["old"]
