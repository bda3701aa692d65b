"""What MissionControl 0.x handlers relied on: the validation hooks of
BaseTaskHandler, on_flow_finished of the flow task handler, the per-task
interpolation opt-out, and the log task's 0.x params."""

from __future__ import annotations

import json
import logging

import pytest

from mc.errors import FlowError, FlowSpecError
from mc.flows import COMPLETED, FAILED, BaseTaskHandler, Flow
from mc.flows.task_types import FlowTaskHandler

# -- validate_task_ctx / validate_task_params ----------------------------------------


class NeedsThreshold(BaseTaskHandler):
    ticks = []

    def validate_task_ctx(self):
        if "lab" not in self.task_ctx:
            raise KeyError("lab")

    def validate_task_params(self):
        threshold = self.task["task_params"].get("threshold")
        if not isinstance(threshold, (int, float)):
            raise ValueError(f"threshold must be a number, got {threshold!r}")

    def initial_tick(self):
        NeedsThreshold.ticks.append(self.task["key"])
        self.task["status"] = COMPLETED


@pytest.fixture
def hook_engine(engine):
    NeedsThreshold.ticks = []
    engine.register_task_type("needs_threshold", NeedsThreshold)
    return engine


def run_one(engine, params, task_ctx=None):
    flow = engine.flow_spec_to_flow(
        {"tasks": [{"key": "t", "task_type": "needs_threshold", "task_params": params}]}
    )
    try:
        engine.run_flow(flow, task_ctx)
    except FlowError:
        pass
    return flow


def test_valid_params_and_context_pass_the_hooks(hook_engine):
    flow = run_one(hook_engine, {"threshold": 0.5}, {"lab": "B12"})
    assert flow.status == COMPLETED
    assert NeedsThreshold.ticks == ["t"]


def test_validate_task_params_error_fails_the_task_with_its_message(hook_engine):
    flow = run_one(hook_engine, {"threshold": "high"}, {"lab": "B12"})
    assert flow.tasks["t"]["status"] == FAILED
    assert flow.tasks["t"]["error"] == (
        "task 't': validate_task_params failed: ValueError: threshold must be a number, got 'high'"
    )
    assert NeedsThreshold.ticks == []


def test_validate_task_ctx_runs_first_and_fails_the_task(hook_engine):
    flow = run_one(hook_engine, {"threshold": "high"})
    assert flow.tasks["t"]["error"] == "task 't': validate_task_ctx failed: KeyError: 'lab'"
    assert NeedsThreshold.ticks == []


def test_validate_hooks_see_interpolated_params(hook_engine):
    flow = hook_engine.flow_spec_to_flow(
        {
            "data": {"t": 3},
            "tasks": [
                {
                    "key": "t",
                    "task_type": "needs_threshold",
                    "task_params": {"threshold": "$ctx.flow.data.t"},
                }
            ],
        }
    )
    hook_engine.run_flow(flow, {"lab": "B12"})
    assert flow.status == COMPLETED


def test_an_assert_without_message_still_names_the_hook(engine):
    class Strict(BaseTaskHandler):
        def validate_task_params(self):
            assert self.task["task_params"].get("flow_spec")

        def initial_tick(self):
            self.task["status"] = COMPLETED

    engine.register_task_type("strict", Strict)
    flow = engine.flow_spec_to_flow({"tasks": [{"key": "s", "task_type": "strict"}]})
    with pytest.raises(FlowError, match="validate_task_params failed: AssertionError"):
        engine.run_flow(flow)


def test_validation_hooks_run_only_before_the_first_tick(engine):
    calls = []

    class Slow(BaseTaskHandler):
        def validate_task_params(self):
            calls.append("validate")

        def initial_tick(self):
            calls.append("initial")

        def intermediate_tick(self):
            calls.append("intermediate")
            self.task["status"] = COMPLETED

    engine.register_task_type("slow", Slow)
    engine.run_flow(engine.flow_spec_to_flow({"tasks": [{"task_type": "slow"}]}))
    assert calls == ["validate", "initial", "intermediate"]


# -- on_flow_finished ---------------------------------------------------------------


class RecordingFlowTask(FlowTaskHandler):
    finished = []

    def on_flow_finished(self, flow=None):
        RecordingFlowTask.finished.append(
            (self.task["key"], flow.key, flow.status, self.task["status"])
        )
        self.task["data"]["summary"] = f"{len(flow.tasks)} tasks"


@pytest.mark.parametrize(("child_type", "status"), [("noop", COMPLETED), ("boom", FAILED)])
def test_on_flow_finished_is_called_once_with_the_ended_child(engine, child_type, status):
    RecordingFlowTask.finished = []
    engine.register_task_type("recording_flow", RecordingFlowTask)
    engine.register_task_type("boom", lambda ctx: 1 / 0)
    flow = engine.flow_spec_to_flow(
        {
            "key": "parent",
            "tasks": [
                {
                    "key": "sub",
                    "task_type": "recording_flow",
                    "task_params": {
                        "flow_spec": {"tasks": [{"task_type": "noop"}, {"task_type": child_type}]}
                    },
                }
            ],
        }
    )
    try:
        engine.run_flow(flow)
    except FlowError:
        pass
    assert RecordingFlowTask.finished == [("sub", "parent.sub", status, status)]
    assert flow.tasks["sub"]["data"]["summary"] == "2 tasks"


def test_an_error_in_on_flow_finished_fails_the_task(engine):
    class Picky(FlowTaskHandler):
        def on_flow_finished(self, flow):
            raise RuntimeError("results look wrong")

    engine.register_task_type("picky", Picky)
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {
                    "key": "p",
                    "task_type": "picky",
                    "task_params": {"flow_spec": {"tasks": [{"task_type": "noop"}]}},
                }
            ]
        }
    )
    with pytest.raises(FlowError, match="results look wrong"):
        engine.run_flow(flow)


# -- the interpolation opt-out --------------------------------------------------------


def seen_params(engine, task_extra):
    seen = []

    def keep(task_ctx):
        seen.append(task_ctx["task"]["task_params"])
        task_ctx["task"]["status"] = COMPLETED

    engine.register_task_type("keep", keep, replace=True)
    flow = engine.flow_spec_to_flow(
        {
            "data": {"x": 1},
            "tasks": [
                {
                    "key": "k",
                    "task_type": "keep",
                    "task_params": {"a": "$ctx.flow.data.x", "b": "\\$5"},
                    **task_extra,
                }
            ],
        }
    )
    engine.run_flow(flow)
    return seen[0], flow


@pytest.mark.parametrize("opt_out", [{"interpolate": False}, {"_mc_no_interpolate": True}])
def test_a_task_can_turn_interpolation_off(engine, opt_out):
    params, flow = seen_params(engine, opt_out)
    assert params == {"a": "$ctx.flow.data.x", "b": "\\$5"}
    assert flow.tasks["k"]["interpolate"] is False
    assert "_mc_no_interpolate" not in flow.tasks["k"]


@pytest.mark.parametrize("default", [{}, {"interpolate": True}, {"interpolate": None}])
def test_interpolation_is_on_by_default(engine, default):
    params, flow = seen_params(engine, default)
    assert params == {"a": 1, "b": "$5"}
    assert "interpolate" not in flow.tasks["k"]


@pytest.mark.parametrize(
    ("task_extra", "message"),
    [
        ({"_mc_no_interpolate": False}, "tasks[0]._mc_no_interpolate: expected true, got False"),
        ({"_mc_no_interpolate": None}, "tasks[0]._mc_no_interpolate: expected true, got None"),
        ({"_mc_no_interpolate": True, "interpolate": False}, "give one of 'interpolate'"),
        ({"interpolate": "no"}, "tasks[0].interpolate: expected true or false, got str"),
    ],
)
def test_an_ambiguous_interpolation_setting_is_refused(task_extra, message):
    with pytest.raises(FlowSpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Flow.from_flow_spec({"tasks": [{"task_type": "noop", **task_extra}]})


def test_the_opt_out_survives_a_retry_and_a_round_trip(engine):
    attempts = []

    def flaky(task_ctx):
        attempts.append(task_ctx["task"]["task_params"]["a"])
        if len(attempts) == 1:
            raise RuntimeError("again")
        task_ctx["task"]["status"] = COMPLETED

    engine.register_task_type("flaky", flaky)
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {
                    "task_type": "flaky",
                    "retries": 1,
                    "interpolate": False,
                    "task_params": {"a": "$ctx.flow.key"},
                }
            ]
        }
    )
    while not flow.finished:
        engine.tick_flow(flow)
        flow = Flow.from_flow_dict(flow.to_flow_dict())
    assert attempts == ["$ctx.flow.key", "$ctx.flow.key"]


# -- the log task's 0.x params ----------------------------------------------------------


def run_log(engine, params):
    flow = engine.flow_spec_to_flow(
        {"key": "logflow", "tasks": [{"key": "l", "task_type": "log", "task_params": params}]}
    )
    engine.run_flow(flow)
    return flow


def test_log_task_accepts_log_level_and_logger_name(engine, caplog):
    with caplog.at_level(logging.DEBUG):
        run_log(engine, {"msg": "hello", "log_level": "WARNING", "logger_name": "lab.notes"})
    assert [
        (r.name, r.levelname, r.getMessage()) for r in caplog.records if r.name == "lab.notes"
    ] == [("lab.notes", "WARNING", "hello")]


@pytest.mark.parametrize(("old", "new"), [("log_level", "level"), ("logger_name", "logger")])
def test_log_task_refuses_both_spellings_of_a_param(engine, old, new):
    value = "INFO" if new == "level" else "x"
    with pytest.raises(FlowError, match=f"has both '{new}' and '{old}'"):
        run_log(engine, {"msg": "m", old: value, new: value})


def test_log_task_dump_task_logs_the_task_as_json(engine, caplog):
    with caplog.at_level(logging.INFO, logger="mc.flows.log_task"):
        run_log(engine, {"dump_task": True})
    (record,) = [r for r in caplog.records if r.name == "mc.flows.log_task"]
    label, _, body = record.getMessage().partition("\n")
    assert label == "TASK:"
    assert json.loads(body)["key"] == "l"


def test_log_task_dump_flow_logs_the_flow_dict(engine, caplog):
    with caplog.at_level(logging.INFO, logger="mc.flows.log_task"):
        run_log(engine, {"msg": "state", "dump_flow": {"pprint_kwargs": {"width": 40}}})
    messages = [r.getMessage() for r in caplog.records if r.name == "mc.flows.log_task"]
    assert messages[0] == "state"
    label, _, body = messages[1].partition("\n")
    assert label == "FLOW:"
    assert json.loads(body)["key"] == "logflow"


def test_log_task_use_print_prints(engine, capsys):
    run_log(engine, {"msg": "to stdout", "use_print": True})
    assert capsys.readouterr().out == "to stdout\n"


def test_log_task_refuses_dump_task_ctx(engine):
    with pytest.raises(FlowError, match="dump_task_ctx is not supported"):
        run_log(engine, {"msg": "m", "dump_task_ctx": True})


def test_log_task_still_needs_a_msg_without_a_dump(engine):
    with pytest.raises(FlowError, match="missing task_params.msg"):
        run_log(engine, {"log_level": "INFO"})


# -- 0.x names of the built-in task types ----------------------------------------------


def test_0x_names_of_builtin_task_types_run_the_builtins(engine, capsys):
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {"task_type": "mc.tasks.print", "task_params": {"msg": "hello"}},
                {"task_type": "mc.tasks.noop"},
            ]
        }
    )
    engine.run_flow(flow)
    assert capsys.readouterr().out == "hello\n"


def test_a_registered_0x_name_wins_over_the_alias(engine):
    engine.register_task_type("mc.tasks.print", lambda ctx: ctx["task"].update(status=COMPLETED))
    assert engine.task_type_registry.resolve("mc.tasks.print") is not None
    tick, _ = engine.task_type_registry.resolve_tick("mc.tasks.print")
    assert tick.__name__ == "<lambda>"


def test_other_mc_dotted_names_still_import_nothing(engine):
    from mc.errors import TaskTypeError

    with pytest.raises(TaskTypeError, match="names code to import"):
        engine.task_type_registry.resolve("mc.tasks.shell")
