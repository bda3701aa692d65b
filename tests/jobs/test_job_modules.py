"""Job-type resolution: registered names, entry points, allowed imports, nothing else."""

from __future__ import annotations

import sys

import pytest

from mc.errors import JobTypeError
from mc.jobs.job_modules import JobTypeRegistry, default_job_types, register_job_type
from tests.jobs.conftest import POLYNOMIAL, ShellJob


def test_registered_name_resolves_to_its_module():
    registry = JobTypeRegistry({"shell": ShellJob})
    assert registry.resolve("shell") is ShellJob


def test_registering_a_name_twice_is_an_error():
    registry = JobTypeRegistry({"shell": ShellJob})
    with pytest.raises(JobTypeError, match="'shell' is already registered"):
        registry.register("shell", ShellJob)


def test_register_refuses_an_object_without_build_work_dir():
    with pytest.raises(JobTypeError, match="is not a job module"):
        JobTypeRegistry().register("nothing", object())


def test_module_path_under_allow_imports_resolves_to_the_module():
    from mc.jobs.examples import polynomial

    assert JobTypeRegistry().resolve(POLYNOMIAL, ["mc.jobs.examples"]) is polynomial


def test_module_path_is_refused_without_allow_imports():
    with pytest.raises(
        JobTypeError, match="job_type 'mc.jobs.examples.polynomial' names code to import"
    ):
        JobTypeRegistry().resolve(POLYNOMIAL)


def test_module_path_outside_allow_imports_is_never_imported():
    with pytest.raises(JobTypeError, match="names code to import"):
        JobTypeRegistry().resolve("tests.jobs.never_imported", ["mc.jobs"])
    assert "tests.jobs.never_imported" not in sys.modules


def test_private_parts_are_refused():
    with pytest.raises(JobTypeError, match="no part may start with '_'"):
        JobTypeRegistry().resolve("mc.jobs.examples._hidden", ["mc.jobs.examples"])


def test_a_module_without_build_work_dir_is_not_a_job_module():
    with pytest.raises(JobTypeError, match="is not a job module"):
        JobTypeRegistry().resolve("mc.jobs.examples.constants", ["mc.jobs.examples"])


def test_unknown_name_lists_the_known_ones_and_suggests():
    registry = JobTypeRegistry({"shell": ShellJob})
    with pytest.raises(JobTypeError) as caught:
        registry.resolve("shel")
    assert "unknown job_type 'shel' (known: example_polynomial, shell;" in str(caught.value)
    assert str(caught.value).endswith("did you mean 'shell'?")


def test_register_job_type_registers_on_the_default_registry():
    name = "test_job_modules_default_shell"
    register_job_type(name)(ShellJob)
    try:
        assert default_job_types.resolve(name) is ShellJob
    finally:
        default_job_types.pop(name)
