"""The config spec: what a job needs from the place it runs, and how an executor provides it.

"One builder + config spec": a job module's builder does not hard-code paths
or settings that differ between a laptop and a cluster. It declares them::

    {'chem_lib_executable': {'required': True, 'env_var': 'CHEM_LIB_EXE'}}

and the executor fulfils each setting when it submits the job, from, in this
order: its own ``config`` mapping (by setting name), its process environment
(by ``env_var``), and the setting's ``default``. The values reach the job as
environment variables (``env_var``, by default the setting's name in upper
case), written to the job dir's ``config.env``, which ``entrypoint.sh``
sources. A required setting that nothing provides fails the job before it
runs, with a :class:`~mc.errors.JobConfigError` naming the setting.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mc.errors import JobConfigError, JobError
from mc.jobs.constants import CONFIG_ENV_FILE

__all__ = ["check_config_spec", "resolve_config", "write_config_env"]

_SETTING_FIELDS = {"required", "env_var", "default", "description"}
_ENV_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_config_spec(config_spec: Any, where: str = "config_spec") -> dict[str, dict[str, Any]]:
    """Return ``config_spec`` with each setting complete (``required``, ``env_var``).

    Raises :class:`~mc.errors.JobError` naming ``where`` and the setting if
    the spec is not a mapping of setting names to mappings of known fields.
    """
    if config_spec is None:
        return {}
    if not isinstance(config_spec, Mapping):
        raise JobError(
            f"{where}: expected a mapping of setting names, got {type(config_spec).__name__}"
        )
    checked: dict[str, dict[str, Any]] = {}
    for name, given in config_spec.items():
        if not isinstance(name, str) or not _ENV_VAR_RE.fullmatch(name):
            raise JobError(f"{where}: setting name {name!r} must be an identifier")
        setting = {} if given is None else given
        if not isinstance(setting, Mapping):
            raise JobError(f"{where}.{name}: expected a mapping, got {type(setting).__name__}")
        unknown = set(setting) - _SETTING_FIELDS
        if unknown:
            raise JobError(
                f"{where}.{name}: unknown fields {sorted(unknown)} "
                f"(expected some of {sorted(_SETTING_FIELDS)})"
            )
        env_var = setting.get("env_var", name.upper())
        if not isinstance(env_var, str) or not _ENV_VAR_RE.fullmatch(env_var):
            raise JobError(
                f"{where}.{name}.env_var: {env_var!r} is not an environment variable name"
            )
        checked[name] = {
            **setting,
            "required": bool(setting.get("required", False)),
            "env_var": env_var,
        }
    return checked


def resolve_config(
    config_spec: Mapping[str, Mapping[str, Any]],
    config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    job_key: str | None = None,
) -> dict[str, str]:
    """Return the environment variables that fulfil ``config_spec``.

    Each setting comes from ``config`` (an executor's settings, by name),
    else from ``environ`` (default :data:`os.environ`, by ``env_var``), else
    from its ``default``. A required setting with none of these raises
    :class:`~mc.errors.JobConfigError` naming the setting, for ``job_key``.
    Optional settings without a value are left out.
    """
    config = config or {}
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for name, setting in check_config_spec(config_spec).items():
        env_var = setting["env_var"]
        if name in config and config[name] is not None:
            value = config[name]
        elif env_var in environ:
            value = environ[env_var]
        elif setting.get("default") is not None:
            value = setting["default"]
        elif setting["required"]:
            job = f"job {job_key!r}" if job_key else "the job"
            raise JobConfigError(
                f"{job} needs the setting {name!r}, and its executor does not provide it: "
                f"give the executor config={{{name!r}: ...}} or set the environment "
                f"variable {env_var}",
                job_key=job_key,
            )
        else:
            continue
        values[env_var] = str(value)
    return values


def write_config_env(job_dir: str | os.PathLike[str], values: Mapping[str, str]) -> Path:
    """Write ``values`` as ``export`` lines to the job dir's ``config.env``; return its path.

    With no values there is nothing to export: no file is written, and one
    left by an earlier submission is removed.
    """
    path = Path(job_dir) / CONFIG_ENV_FILE
    if not values:
        path.unlink(missing_ok=True)
        return path
    lines = ["# Settings from the job's config spec, written by its executor at submit."]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in sorted(values.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
