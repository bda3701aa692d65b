"""Packaging promises: a small public surface, and a standard-library core."""

from __future__ import annotations

import subprocess
import sys

import mc.flows


def test_public_api_names_are_importable():
    from mc.flows import (  # noqa: F401
        BaseTaskHandler,
        Flow,
        FlowEngine,
        FlowError,
        FlowSpecError,
        flow_spec_to_flow,
        register_task_type,
        run_flow,
        tick_flow,
    )

    assert issubclass(FlowSpecError, ValueError)
    assert set(mc.flows.__all__) <= set(dir(mc.flows))


def test_mc_flows_imports_only_the_standard_library():
    code = (
        "import sys; before = set(sys.modules); import mc.flows; "
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    imported = {name.split(".")[0] for name in result.stdout.split()}
    outside = {
        name
        for name in imported
        if name != "mc" and name not in sys.stdlib_module_names and not name.startswith("_")
    }
    assert outside == set()


def test_every_public_name_has_a_docstring():
    missing = [
        name
        for name in mc.flows.__all__
        if not isinstance(getattr(mc.flows, name), str) and not getattr(mc.flows, name).__doc__
    ]
    assert missing == []


def test_package_ships_py_typed_and_the_schema():
    from importlib import resources

    assert resources.files("mc").joinpath("py.typed").is_file()
    assert resources.files("mc.flows").joinpath("flow_spec.schema.json").is_file()
