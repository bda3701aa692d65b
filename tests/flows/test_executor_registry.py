"""The executor registry: registered executors, entry points made once per engine, clear errors."""

from __future__ import annotations

import sys
import textwrap

import pytest

from mc.errors import ExecutorError
from mc.flows import FlowEngine


class Recorder:
    """An executor-like object that records whether it was closed."""

    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_executors_argument_registers_executors():
    executor = Recorder()
    engine = FlowEngine(executors={"mine": executor})
    assert engine.get_executor("mine") is executor


def test_register_executor_refuses_a_taken_name_unless_replace():
    engine = FlowEngine()
    engine.register_executor("mine", Recorder())
    with pytest.raises(ExecutorError, match="'mine' is already registered; pass replace=True"):
        engine.register_executor("mine", Recorder())
    replacement = engine.register_executor("mine", Recorder(), replace=True)
    assert engine.get_executor("mine") is replacement


def test_unknown_executor_error_lists_known_names_and_suggests_one():
    engine = FlowEngine(executors={"mine": Recorder()})
    with pytest.raises(ExecutorError) as caught:
        engine.get_executor("lcoal")
    message = str(caught.value)
    assert message.startswith("unknown executor 'lcoal' (known: ")
    assert "local" in message and "mine" in message
    assert message.endswith("did you mean 'local'?")


def test_local_executor_is_there_with_no_configuration():
    from mc.jobs.executors.local import LocalExecutor

    assert isinstance(FlowEngine().get_executor("local"), LocalExecutor)


def test_entry_point_executor_is_made_once_per_engine():
    engine, other = FlowEngine(), FlowEngine()
    assert engine.get_executor("threads") is engine.get_executor("threads")
    assert engine.get_executor("threads") is not other.get_executor("threads")


def test_registered_executor_wins_over_an_entry_point():
    executor = Recorder()
    engine = FlowEngine(executors={"local": executor})
    assert engine.get_executor("local") is executor


@pytest.fixture
def plugin_with_executors(tmp_path, monkeypatch):
    """An installed distribution declaring ``mc.executors`` entry points, one broken."""
    package = tmp_path / "mc_test_executors"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            class Closable:
                closed = False

                def close(self):
                    self.closed = True
            """
        )
    )
    dist_info = tmp_path / "mc_test_executors-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: mc-test-executors\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[mc.executors]\nclosable = mc_test_executors:Closable\nbroken = mc_test_executors:Missing\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("mc_test_executors", None)


def test_close_closes_the_executors_made_from_entry_points_only(plugin_with_executors):
    registered = Recorder()
    engine = FlowEngine(executors={"mine": registered})
    made = engine.get_executor("closable")
    engine.executor_registry.close()
    assert made.closed is True
    assert registered.closed is False
    assert engine.get_executor("closable") is not made


def test_entry_point_that_fails_to_load_names_itself(plugin_with_executors):
    with pytest.raises(
        ExecutorError, match="entry point 'mc_test_executors:Missing' failed to load"
    ):
        FlowEngine().get_executor("broken")


def test_an_engine_used_as_a_context_manager_closes_what_it_made(plugin_with_executors):
    with FlowEngine() as engine:
        made = engine.get_executor("closable")
    assert made.closed is True
