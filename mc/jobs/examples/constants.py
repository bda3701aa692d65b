"""Settings shared by the builder and the parser of :mod:`mc.jobs.examples.polynomial`."""

__all__ = ["INPUT_FILE", "SCRIPT_FILE", "OUTPUT_FILE", "PYTHON_SETTING", "PYTHON_ENV_VAR"]

INPUT_FILE = "params.json"
SCRIPT_FILE = "compute.py"
OUTPUT_FILE = "result.json"
# The config-spec setting naming the Python that runs the job, and its
# environment variable: each executor may point it at another interpreter.
PYTHON_SETTING = "python_executable"
PYTHON_ENV_VAR = "MC_EXAMPLE_PYTHON"
