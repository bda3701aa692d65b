"""A ``call`` task's function run as a job: the job module and the program the job runs.

When a ``call`` task names an executor that runs job dirs but not Python
callables (``slurm``, ``local`` or a profile), its function runs as a job.
:class:`CallJob` builds the job dir: the work dir gets ``call.json``
(``{"function": "module:qualname", "args": [...], "kwargs": {...}}``), and
the entrypoint runs ``python -m mc.jobs.call_job`` with the runner's own
Python (so the cluster's nodes must see the same installation, as they see
the job dirs). That program imports the function by its path, calls it,
and writes ``{"result": ...}`` to ``result.json``; an exception fails the
job, its traceback on stderr. Arguments and results are JSON, never
pickles.

The function was resolved by the engine from the callable registry (a
registered name, an entry point of ``mc.callables``, or an import path
under ``allow_imports``), and only its import path, written by the engine,
reaches the job dir: a spec never names what the job imports.
"""

from __future__ import annotations

import importlib
import json
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mc.errors import JobError

__all__ = ["CALL_FILE", "RESULT_FILE", "import_path", "load_function", "CallJob", "main"]


CALL_FILE = "call.json"
RESULT_FILE = "result.json"


def import_path(fn: Callable[..., Any], key: str) -> str:
    """Return ``'module:qualname'`` of ``fn``.

    Raises JobError if importing that would not give ``fn``.
    """
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise JobError(
            f"task {key!r}: the function cannot run as a job: it has no import path "
            "(a lambda, a local function, or one defined in __main__)"
        )
    if load_function(f"{module}:{qualname}") is not fn:
        raise JobError(
            f"task {key!r}: {module}:{qualname} does not import as the function registered"
        )
    return f"{module}:{qualname}"


def load_function(path: str) -> Any:
    """Import ``'module:qualname'`` and return the object it names."""
    module_name, _, qualname = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


class CallJob:
    """The job module of a call run as a job (see the module docstring)."""

    @staticmethod
    def build_work_dir(params: dict[str, Any], output_dir: str) -> dict[str, Any]:
        """Write ``call.json``; return the entrypoint that runs it."""
        text = json.dumps(
            {"function": params["function"], "args": params["args"], "kwargs": params["kwargs"]},
            allow_nan=False,
        )
        (Path(output_dir) / CALL_FILE).write_text(text, encoding="utf-8")
        return {"entrypoint": f"{shlex.quote(sys.executable)} -m mc.jobs.call_job"}

    @staticmethod
    def parse_work_dir(work_dir: str) -> dict[str, Any]:
        """Return ``{'result': ...}`` from ``result.json``."""
        try:
            data = json.loads((Path(work_dir) / RESULT_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise JobError(f"the call's job left no readable {RESULT_FILE}: {error}") from None
        return {"result": data.get("result") if isinstance(data, dict) else None}


def main() -> int:
    """Run the call of ``call.json`` in the working directory; write ``result.json``."""
    call = json.loads(Path(CALL_FILE).read_text(encoding="utf-8"))
    fn = load_function(call["function"])
    result = fn(*call["args"], **call["kwargs"])
    text = json.dumps({"result": result}, allow_nan=False)
    Path(RESULT_FILE + ".tmp").write_text(text, encoding="utf-8")
    os.replace(RESULT_FILE + ".tmp", RESULT_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
