"""The task-type registry: registered names, entry points, allowed imports only."""

from __future__ import annotations

import sys
import textwrap

import pytest

from mc.errors import TaskTypeError
from mc.flows import COMPLETED, FAILED, FlowEngine, register_task_type
from mc.flows.flow_engine import get_default_engine
from tests.flows import importable


@pytest.fixture(autouse=True)
def clear_imported():
    importable.IMPORTED.clear()
    yield
    importable.IMPORTED.clear()


def run_one(engine, task_type, msg="Hi"):
    flow = engine.flow_spec_to_flow(
        {"tasks": [{"key": "t", "task_type": task_type, "task_params": {"msg": msg}}]}
    )
    engine.tick_flow(flow)
    return flow.tasks["t"]


def complete(task_ctx):
    task_ctx["task"]["status"] = COMPLETED


def test_registering_a_name_twice_is_an_error(engine):
    engine.register_task_type("step", complete)
    with pytest.raises(TaskTypeError, match="'step' is already registered; pass replace=True"):
        engine.register_task_type("step", complete)


def test_replace_true_replaces_a_handler(engine):
    engine.register_task_type("print", importable.shout, replace=True)
    assert run_one(engine, "print")["status"] == COMPLETED
    assert importable.IMPORTED == ["HI"]


def test_register_task_type_works_as_a_decorator(engine):
    @engine.register_task_type("decorated")
    def decorated(task_ctx):
        task_ctx["task"]["status"] = COMPLETED

    assert engine.task_type_registry.resolve("decorated") is decorated


def test_module_level_register_task_type_registers_on_the_default_engine():
    name = "test_registry_default_engine_type"

    @register_task_type(name)
    def handler(task_ctx):
        task_ctx["task"]["status"] = COMPLETED

    assert get_default_engine().task_type_registry.resolve(name) is handler
    assert name not in FlowEngine().task_type_registry


def test_task_handlers_argument_adds_to_the_builtins():
    engine = FlowEngine(task_handlers={"step": complete})
    assert {"print", "log", "noop", "step"} <= set(engine.task_type_registry.names())


def test_register_refuses_what_cannot_tick(engine):
    with pytest.raises(TaskTypeError, match="is not a handler"):
        engine.register_task_type("number", 42)


@pytest.mark.parametrize("task_type", ["os:system", "os.system", "subprocess:run"])
def test_dotted_task_type_is_refused_without_allow_imports(engine, task_type):
    task = run_one(engine, task_type, msg="echo pwned")
    assert task["status"] == FAILED
    assert "names code to import" in task["error"]
    assert "allow_imports" in task["error"]


def test_allowed_prefix_imports_a_function_handler():
    engine = FlowEngine(allow_imports=["tests.flows.importable"])
    task = run_one(engine, "tests.flows.importable:shout")
    assert task["status"] == COMPLETED
    assert importable.IMPORTED == ["HI"]


def test_allowed_prefix_imports_a_class_handler_by_dotted_name():
    engine = FlowEngine(allow_imports=["tests.flows"])
    task = run_one(engine, "tests.flows.importable.Whisper")
    assert task["status"] == COMPLETED
    assert importable.IMPORTED == ["hi"]


def test_prefix_matches_whole_module_names_only():
    engine = FlowEngine(allow_imports=["tests.flows.import"])
    task = run_one(engine, "tests.flows.importable:shout")
    assert task["status"] == FAILED
    assert importable.IMPORTED == []


def test_private_names_are_never_imported():
    engine = FlowEngine(allow_imports=["tests.flows.importable"])
    task = run_one(engine, "tests.flows.importable:_hidden")
    assert task["status"] == FAILED
    assert "no part may start with '_'" in task["error"]
    assert importable.IMPORTED == []


def test_imported_object_must_be_a_handler():
    engine = FlowEngine(allow_imports=["tests.flows.importable"])
    task = run_one(engine, "tests.flows.importable:NOT_A_HANDLER")
    assert "is not a handler" in task["error"]


def test_missing_module_under_allowed_prefix_fails_the_task_clearly():
    engine = FlowEngine(allow_imports=["tests.flows"])
    task = run_one(engine, "tests.flows.no_such_module:handler")
    assert "could not be imported" in task["error"]


def test_allow_imports_must_be_module_prefixes():
    with pytest.raises(TaskTypeError, match="is not a module prefix"):
        FlowEngine(allow_imports=["os:system"])


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A real installed distribution declaring an ``mc.task_types`` entry point."""
    package = tmp_path / "mc_test_plugin"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            CALLS = []

            def titrate(task_ctx):
                CALLS.append(task_ctx["task"]["task_params"]["msg"])
                task_ctx["task"]["status"] = "COMPLETED"
            """
        )
    )
    dist_info = tmp_path / "mc_test_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: mc-test-plugin\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[mc.task_types]\ntitrate = mc_test_plugin:titrate\nbroken = mc_test_plugin:missing\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "mc_test_plugin"
    sys.modules.pop("mc_test_plugin", None)


def test_entry_point_task_type_is_found_by_name(engine, installed_plugin):
    task = run_one(engine, "titrate", msg="5 ml")
    assert task["status"] == COMPLETED
    assert sys.modules[installed_plugin].CALLS == ["5 ml"]


def test_entry_point_names_are_listed_as_known(engine, installed_plugin):
    assert "titrate" in engine.task_type_registry.names()
    task = run_one(engine, "titrat")
    assert "did you mean 'titrate'?" in task["error"]


def test_entry_point_that_fails_to_load_fails_the_task_clearly(engine, installed_plugin):
    task = run_one(engine, "broken")
    assert task["status"] == FAILED
    assert "entry point 'mc_test_plugin:missing' failed to load" in task["error"]


def test_attribute_walk_never_enters_a_module_the_allowed_one_imported():
    engine = FlowEngine(allow_imports=["tests.flows.importable"])
    task = run_one(engine, "tests.flows.importable:os.system", msg="echo pwned")
    assert task["status"] == FAILED
    assert "'os' is a module; name a handler instead" in task["error"]


def test_callable_defined_outside_the_allowed_prefixes_is_refused():
    engine = FlowEngine(allow_imports=["tests.flows.importable"])
    task = run_one(engine, "tests.flows.importable:dumps")
    assert task["status"] == FAILED
    assert "is defined in module 'json', which allow_imports does not allow" in task["error"]


def test_private_module_is_never_imported():
    engine = FlowEngine(allow_imports=["tests.flows.importable"])
    task = run_one(engine, "tests.flows.importable._private:go")
    assert task["status"] == FAILED
    assert "no part may start with '_'" in task["error"]
    assert "tests.flows.importable._private" not in sys.modules


# -- one set of rules for every registry ----------------------------------------


def every_registry():
    """One registry of each kind, with the error it raises."""
    from mc.errors import ExecutorError, JobTypeError
    from mc.flows.executor_registry import ExecutorRegistry
    from mc.flows.registry import TaskTypeRegistry
    from mc.jobs.job_modules import JobTypeRegistry
    from mc.jobs.task_types import CallableRegistry
    from tests.jobs.conftest import ShellJob

    return [
        pytest.param(TaskTypeRegistry(), complete, TaskTypeError, id="task types"),
        pytest.param(ExecutorRegistry(), object(), ExecutorError, id="executors"),
        pytest.param(JobTypeRegistry(), ShellJob, JobTypeError, id="job types"),
        pytest.param(CallableRegistry(), abs, ExecutorError, id="callables"),
    ]


@pytest.mark.parametrize(("registry", "plugin", "error"), every_registry())
@pytest.mark.parametrize("name", ["", "pkg:name", 3])
def test_every_registry_refuses_the_same_bad_names(registry, plugin, error, name):
    with pytest.raises(error, match="expected a non-empty string without ':'"):
        registry.register(name, plugin)
    assert name not in registry


@pytest.mark.parametrize(("registry", "plugin", "error"), every_registry())
def test_every_registry_refuses_a_taken_name_unless_replace(registry, plugin, error):
    registry.register("mine", plugin)
    with pytest.raises(error, match="'mine' is already registered; pass replace=True"):
        registry.register("mine", plugin)
    assert registry.register("mine", plugin, replace=True) is plugin


@pytest.mark.parametrize(("registry", "plugin", "error"), every_registry())
def test_every_registry_suggests_a_close_name_for_an_unknown_one(registry, plugin, error):
    registry.register("gather_results", plugin)
    with pytest.raises(error, match=r"did you mean 'gather_results'\?$"):
        registry.resolve("gather_result")


@pytest.mark.parametrize(("registry", "plugin", "error"), every_registry())
def test_pop_unregisters_a_name(registry, plugin, error):
    registry.register("mine", plugin)
    assert registry.pop("mine") is plugin
    assert "mine" not in registry
    with pytest.raises(error, match="unknown"):
        registry.resolve("mine")


def test_executor_names_with_a_colon_are_refused_like_the_others():
    from mc.errors import ExecutorError

    with pytest.raises(ExecutorError, match="executor name 'dask:big'"):
        FlowEngine(executors={"dask:big": object()})


def test_allow_imports_is_checked_the_same_way_on_every_registry():
    from mc.errors import JobTypeError
    from mc.jobs.job_modules import JobTypeRegistry

    with pytest.raises(JobTypeError, match="'os:system' is not a module prefix"):
        JobTypeRegistry(allow_imports=["os:system"])


def test_allow_imports_given_to_a_lookup_does_not_open_the_name_to_later_ones():
    from mc.errors import JobTypeError
    from mc.jobs.job_modules import JobTypeRegistry

    registry = JobTypeRegistry()
    assert registry.resolve("mc.jobs.examples.polynomial", ["mc.jobs.examples"]) is not None
    with pytest.raises(JobTypeError, match="names code to import"):
        registry.resolve("mc.jobs.examples.polynomial")
