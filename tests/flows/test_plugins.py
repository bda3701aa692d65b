"""The plug-in protocols: the built-in plug-ins meet them."""

from __future__ import annotations

import pytest

from mc.flows.plugins import (
    CallExecutor,
    Executor,
    TaskHandlerClass,
    TaskHandlerFunction,
    can_run_calls,
    can_run_jobs,
)
from mc.flows.task_types import BUILTIN_TASK_TYPES, SwitchTaskHandler, noop_task


@pytest.mark.parametrize(
    "path",
    [
        "mc.jobs.executors.local:LocalExecutor",
        "mc.jobs.executors.prebaked:PrebakedExecutor",
        "mc.jobs.executors.slurm:SlurmExecutor",
        "mc.jobs.executors.dask:DaskExecutor",
    ],
)
def test_built_in_job_executors_meet_the_executor_protocol(path):
    cls = _load(path)
    assert issubclass(cls, Executor)
    assert can_run_jobs(cls)


@pytest.mark.parametrize(
    "path",
    [
        "mc.jobs.executors.calls:InlineExecutor",
        "mc.jobs.executors.calls:ThreadsExecutor",
        "mc.jobs.executors.calls:ProcessesExecutor",
        "mc.jobs.executors.dask:DaskExecutor",
    ],
)
def test_built_in_call_executors_meet_the_call_executor_protocol(path):
    cls = _load(path)
    assert issubclass(cls, CallExecutor)
    assert can_run_calls(cls)


def test_a_call_executor_is_not_taken_for_a_job_executor():
    cls = _load("mc.jobs.executors.calls:ThreadsExecutor")
    assert not issubclass(cls, Executor)
    assert not can_run_jobs(cls)


def test_built_in_task_types_are_handlers_of_one_form_or_the_other():
    for handler in BUILTIN_TASK_TYPES.values():
        assert isinstance(handler, (TaskHandlerFunction, TaskHandlerClass))
    assert isinstance(SwitchTaskHandler, TaskHandlerClass)
    assert isinstance(noop_task, TaskHandlerFunction)


def test_example_job_module_meets_the_job_module_protocols():
    from mc.jobs.examples import polynomial
    from mc.jobs.job_modules import JobModule, ParsingJobModule

    assert isinstance(polynomial, JobModule)
    assert isinstance(polynomial, ParsingJobModule)
    assert not isinstance(object(), JobModule)


def _load(path: str) -> type:
    import importlib

    module_name, _, name = path.partition(":")
    cls: type = getattr(importlib.import_module(module_name), name)
    return cls
