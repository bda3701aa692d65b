"""The example job module: its builder, its parser, and a real run of its work dir."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mc.jobs.examples import constants, polynomial


def test_builder_writes_inputs_and_script_and_declares_its_python(tmp_path):
    built = polynomial.build_work_dir({"x": 2, "coefficients": [1, 1]}, str(tmp_path))
    assert json.loads((tmp_path / constants.INPUT_FILE).read_text()) == {
        "x": 2,
        "coefficients": [1, 1],
        "fail": False,
    }
    assert (tmp_path / constants.SCRIPT_FILE).exists()
    assert built["config_spec"][constants.PYTHON_SETTING]["env_var"] == constants.PYTHON_ENV_VAR
    assert built["entrypoint"] == f'"${constants.PYTHON_ENV_VAR}" {constants.SCRIPT_FILE}'


def test_script_evaluates_the_polynomial_and_the_parser_reads_it(tmp_path):
    polynomial.build_work_dir({"x": 3, "coefficients": [1, -2, 1]}, str(tmp_path))
    subprocess.run(
        [sys.executable, constants.SCRIPT_FILE], cwd=tmp_path, check=True, capture_output=True
    )
    assert polynomial.parse_work_dir(str(tmp_path)) == {"x": 3, "y": 4}


def test_fail_param_makes_the_script_exit_3_with_a_message(tmp_path):
    polynomial.build_work_dir({"x": 0, "fail": True}, str(tmp_path))
    result = subprocess.run(
        [sys.executable, constants.SCRIPT_FILE], cwd=tmp_path, capture_output=True, text=True
    )
    assert (result.returncode, result.stderr) == (3, "polynomial: asked to fail\n")


def test_x_must_be_a_number(tmp_path):
    with pytest.raises(ValueError, match="job_params.x must be a number, got 'two'"):
        polynomial.build_work_dir({"x": "two"}, str(tmp_path))


@pytest.mark.parametrize("coefficients", ["1, 2", [], [1, "2"], [True]])
def test_coefficients_must_be_a_list_of_numbers(tmp_path, coefficients):
    with pytest.raises(
        ValueError, match="job_params.coefficients must be a non-empty list of numbers"
    ):
        polynomial.build_work_dir({"x": 1, "coefficients": coefficients}, str(tmp_path))
