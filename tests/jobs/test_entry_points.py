"""Job types and callables that installed packages declare as entry points."""

from __future__ import annotations

import pytest

from mc.errors import ExecutorError, JobTypeError
from mc.flows.entry_points import entry_point_names, load_entry_point
from mc.jobs.job_modules import is_job_module


@pytest.fixture
def broken_package(tmp_path, monkeypatch):
    """An installed package (a dist-info on sys.path) whose callable entry point cannot load."""
    dist_info = tmp_path / "broken_mc_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: broken-mc-plugin\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[mc.callables]\nbroken = no_such_module_anywhere:fn\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))


def test_declared_name_loads_its_object():
    from mc.jobs.examples import polynomial

    assert (
        load_entry_point(
            "mc.job_types",
            "example_polynomial",
            is_job_module,
            "job type 'example_polynomial'",
            "a job module",
            JobTypeError,
        )
        is polynomial
    )


def test_undeclared_name_is_none():
    assert (
        load_entry_point(
            "mc.callables", "nothing_declares_this", callable, "fn", "callable", ExecutorError
        )
        is None
    )


def test_declared_object_that_fails_the_check_is_refused_naming_the_entry_point():
    with pytest.raises(
        JobTypeError,
        match="job type 'x': entry point 'mc.jobs.examples.sweep_analysis:find_minimum' "
        "is not a job module",
    ):
        load_entry_point(
            "mc.callables",
            "example_sweep_minimum",
            is_job_module,
            "job type 'x'",
            "a job module",
            JobTypeError,
        )


def test_entry_point_that_fails_to_load_is_an_error_saying_why(broken_package):
    with pytest.raises(
        ExecutorError,
        match="fn 'broken': entry point 'no_such_module_anywhere:fn' failed to load: "
        "ModuleNotFoundError",
    ):
        load_entry_point(
            "mc.callables", "broken", callable, "fn 'broken'", "callable", ExecutorError
        )


def test_names_lists_the_declared_names():
    assert "example_polynomial" in entry_point_names("mc.job_types")
