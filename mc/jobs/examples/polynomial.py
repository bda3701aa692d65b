"""A small job module: evaluate a polynomial at one point, in a job of its own.

``job_params``: ``x`` (a number) and ``coefficients`` (numbers, lowest power
first; default ``[0, 0, 1]``, that is x squared), and optionally ``fail``
(true makes the job exit with status 3 after writing to stderr, for trying
failures). The work dir holds ``params.json`` and a script ``compute.py``
that writes ``result.json``; the parser returns ``{'x': ..., 'y': ...}``.
The Python that runs the script is a config-spec setting,
``python_executable`` (environment variable ``MC_EXAMPLE_PYTHON``, default
``python3``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mc.jobs.examples import constants

_SCRIPT = """\
import json, sys

with open("{input_file}") as f:
    params = json.load(f)
if params.get("fail"):
    print("polynomial: asked to fail", file=sys.stderr)
    sys.exit(3)
x = params["x"]
y = sum(c * x ** i for i, c in enumerate(params["coefficients"]))
print(f"p({{x}}) = {{y}}")
with open("{output_file}", "w") as f:
    json.dump({{"x": x, "y": y}}, f)
"""


def build_work_dir(params: dict[str, Any], output_dir: str) -> dict[str, Any]:
    """Write the inputs and the script into ``output_dir``; say how to run it."""
    inputs = {
        "x": _number(params, "x"),
        "coefficients": _numbers(params, "coefficients", default=[0, 0, 1]),
        "fail": bool(params.get("fail", False)),
    }
    work_dir = Path(output_dir)
    (work_dir / constants.INPUT_FILE).write_text(json.dumps(inputs))
    (work_dir / constants.SCRIPT_FILE).write_text(
        _SCRIPT.format(input_file=constants.INPUT_FILE, output_file=constants.OUTPUT_FILE)
    )
    return {
        "entrypoint": f'"${constants.PYTHON_ENV_VAR}" {constants.SCRIPT_FILE}',
        "config_spec": {
            constants.PYTHON_SETTING: {
                "required": True,
                "env_var": constants.PYTHON_ENV_VAR,
                "default": "python3",
            }
        },
        "resources": {"cores": 1, "memory_mb": 100, "walltime_s": 60},
    }


def parse_work_dir(work_dir: str) -> dict[str, Any]:
    """Return the result the script wrote: ``{'x': ..., 'y': ...}``."""
    return json.loads((Path(work_dir) / constants.OUTPUT_FILE).read_text())


def _number(params: dict[str, Any], name: str) -> float:
    value = params.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"polynomial job: job_params.{name} must be a number, got {value!r}")
    return value


def _numbers(params: dict[str, Any], name: str, default: list[float]) -> list[float]:
    values = params.get(name, default)
    if (
        not isinstance(values, list)
        or not values
        or not all(
            isinstance(value, (int, float)) and not isinstance(value, bool) for value in values
        )
    ):
        raise ValueError(
            f"polynomial job: job_params.{name} must be a non-empty list of numbers, got {values!r}"
        )
    return values
