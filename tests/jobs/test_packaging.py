"""Packaging promises of mc.jobs: standard library only (Dask on first use), docstrings everywhere."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

STDLIB_ONLY_MODULES = [
    "mc.jobs",
    "mc.jobs.executors.local",
    "mc.jobs.executors.prebaked",
    "mc.jobs.executors.slurm",
    "mc.jobs.executors.calls",
    "mc.jobs.executors.dask",
    "mc.flows.executor_registry",
]
PUBLIC_MODULES = [
    *STDLIB_ONLY_MODULES,
    "mc.jobs.job_modules",
    "mc.jobs.job_dir",
    "mc.jobs.config_spec",
    "mc.jobs.task_types",
    "mc.jobs.executors.base",
    "mc.jobs.testing",
    "mc.jobs.examples.polynomial",
    "mc.jobs.examples.sweep_analysis",
]


@pytest.mark.parametrize("module", STDLIB_ONLY_MODULES)
def test_module_imports_only_the_standard_library(module):
    code = (
        "import sys; before = set(sys.modules); "
        f"import {module}; "
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    imported = {name.split(".")[0] for name in result.stdout.split()}
    assert {
        name
        for name in imported
        if name != "mc" and name not in sys.stdlib_module_names and not name.startswith("_")
    } == set()


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_function_and_class_has_a_docstring(module_name):
    module = importlib.import_module(module_name)
    assert module.__doc__
    missing = [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", None) == module_name
        and not obj.__doc__
    ]
    assert missing == []
