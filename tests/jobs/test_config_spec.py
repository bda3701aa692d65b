"""Config specs: settings come from the executor's config, the environment, or a default."""

from __future__ import annotations

import subprocess

import pytest

from mc.errors import JobConfigError, JobError
from mc.jobs.config_spec import check_config_spec, resolve_config, write_config_env

CHEM_SPEC = {"chem_lib_executable": {"required": True, "env_var": "CHEM_LIB_EXE"}}


def test_executor_config_provides_a_setting_by_name():
    values = resolve_config(CHEM_SPEC, {"chem_lib_executable": "/opt/chem"}, environ={})
    assert values == {"CHEM_LIB_EXE": "/opt/chem"}


def test_environment_provides_a_setting_by_env_var():
    assert resolve_config(CHEM_SPEC, {}, environ={"CHEM_LIB_EXE": "/usr/bin/chem"}) == {
        "CHEM_LIB_EXE": "/usr/bin/chem"
    }


def test_executor_config_wins_over_the_environment():
    values = resolve_config(
        CHEM_SPEC, {"chem_lib_executable": "/a"}, environ={"CHEM_LIB_EXE": "/b"}
    )
    assert values == {"CHEM_LIB_EXE": "/a"}


def test_default_applies_when_nothing_else_provides_a_setting():
    spec = {"threads": {"default": 4}}
    assert resolve_config(spec, {}, environ={}) == {"THREADS": "4"}


def test_missing_required_setting_names_the_setting_and_how_to_provide_it():
    with pytest.raises(JobConfigError) as caught:
        resolve_config(CHEM_SPEC, {}, environ={}, job_key="relax")
    message = str(caught.value)
    assert "job 'relax' needs the setting 'chem_lib_executable'" in message
    assert "config={'chem_lib_executable': ...}" in message
    assert "CHEM_LIB_EXE" in message
    assert caught.value.job_key == "relax"


def test_optional_setting_without_a_value_is_left_out():
    assert resolve_config({"scratch": {}}, {}, environ={}) == {}


@pytest.mark.parametrize(
    "spec, problem",
    [
        ([], "expected a mapping of setting names"),
        ({"bad name": {}}, "must be an identifier"),
        ({"x": {"requird": True}}, "unknown fields ['requird']"),
        ({"x": {"env_var": "1X"}}, "is not an environment variable name"),
        ({"x": 3}, "config_spec.x: expected a mapping"),
    ],
)
def test_malformed_config_spec_is_refused_saying_where(spec, problem):
    with pytest.raises(JobError) as caught:
        check_config_spec(spec)
    assert problem in str(caught.value)


def test_config_env_file_exports_values_safely_for_bash(tmp_path):
    write_config_env(tmp_path, {"ODD": "it's $HOME; `x`"})
    result = subprocess.run(
        ["bash", "-c", f'. {tmp_path}/config.env && printf %s "$ODD"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == "it's $HOME; `x`"


def test_no_values_write_no_config_env_and_remove_an_earlier_one(tmp_path):
    write_config_env(tmp_path, {"CHEM": "/opt/chem"})
    write_config_env(tmp_path, {})
    assert not (tmp_path / "config.env").exists()
