"""Executor profiles: the operator's ``mc.toml``, naming configured executors.

A *profile* is a named, configured executor. The operator writes profiles
in a TOML file, one table per profile under ``executors``, with ``type``
naming the executor kind::

    [executors.gpu_queue]
    type = "slurm"
    partition = "gpu"
    account = "lab"
    time_min = 60
    max_jobs = 100
    allowed_directives = ["--gres", "--constraint"]

A spec names a profile (``executor: gpu_queue``), never raw cluster
options: a profile in the operator's file is a capability the operator
opened, so specs may name it. The file is found, first match wins, at:

#. the path given (``mc run --config FILE``; a missing file is an error);
#. ``mc.toml`` in the working directory;
#. ``$MC_CONFIG``;
#. ``mc.toml`` in the user's config directory (``$XDG_CONFIG_HOME/mc``,
   else ``~/.config/mc``).

Settings, by ``type`` (every one optional but ``type``):

``slurm``
    ``partition``, ``account``, ``qos`` (names), ``time_min``, ``mem_mb``
    or ``mem_gb``, ``cores`` (defaults for every job, which a job's
    resources override), ``max_jobs``, ``allowed_directives`` (the
    ``sbatch`` options specs' ``extra_directives`` may use),
    ``extra_directives`` (the operator's, added to every job, checked as
    a spec's are by :func:`~mc.jobs.job_dir.check_directive`: a long
    option, alone or with a plain ``=value``, never one of
    :data:`~mc.jobs.job_dir.NEVER_FROM_A_JOB` nor an abbreviation that
    ``sbatch`` would read as one, such as ``--export-fi``),
    ``min_poll_interval_s``, ``squeue_json``, ``unknown_state_timeout_s``,
    ``array_jobs`` (default true: jobs submitted together go as one array
    job), ``max_array_size`` (the most jobs in one array; by default the
    cluster's ``MaxArraySize``, read once from ``scontrol show config``),
    ``jobs_root``.
``local``
    ``max_jobs``, ``jobs_root``.
``dask``
    ``scheduler_address``, ``shared_filesystem``, ``jobs_root``.

``jobs_root`` is where the job dirs of the profile's jobs go (a SLURM
profile's must be on a filesystem the compute nodes share). Anything else
is refused with the file, the table and the settings expected. The file is
read with :mod:`tomllib` (the ``tomli`` backport on Python 3.10).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mc.errors import ConfigError, ExecutorError, JobError, MCError
from mc.jobs.job_dir import NAME_VALUE_RE, RESOURCE_LIMITS, check_directive

__all__ = [
    "CONFIG_FILE_NAME",
    "CONFIG_ENV_VAR",
    "ConfigError",
    "ExecutorProfile",
    "McConfig",
    "user_config_dir",
    "find_config_file",
    "load_config",
    "parse_config",
    "check_profile",
]


CONFIG_FILE_NAME = "mc.toml"
CONFIG_ENV_VAR = "MC_CONFIG"

_COMMON = {"type", "jobs_root"}
_SETTINGS = {
    "slurm": _COMMON
    | {
        "partition",
        "account",
        "qos",
        "time_min",
        "mem_mb",
        "mem_gb",
        "cores",
        "max_jobs",
        "allowed_directives",
        "extra_directives",
        "min_poll_interval_s",
        "squeue_json",
        "unknown_state_timeout_s",
        "array_jobs",
        "max_array_size",
    },
    "local": _COMMON | {"max_jobs"},
    "dask": _COMMON | {"scheduler_address", "shared_filesystem"},
}
_PROFILE_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@dataclass(frozen=True)
class ExecutorProfile:
    """One ``[executors.NAME]`` table, checked: its ``name``, ``type`` and ``settings``."""

    name: str
    type: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def jobs_root(self) -> str | None:
        """Where the job dirs of this profile's jobs go, if the profile says."""
        root = self.settings.get("jobs_root")
        return None if root is None else str(root)

    def make_executor(self) -> Any:
        """Return a new executor configured as this profile says."""
        settings = self.settings
        if self.type == "local":
            from mc.jobs.executors.local import LocalExecutor

            return LocalExecutor(max_jobs=settings.get("max_jobs"))
        if self.type == "dask":
            from mc.jobs.executors.dask import DaskExecutor

            options: dict[str, Any] = {}
            if "scheduler_address" in settings:
                options["address"] = settings["scheduler_address"]
            if "shared_filesystem" in settings:
                options["shared_filesystem"] = settings["shared_filesystem"]
            return DaskExecutor(**options)
        from mc.jobs.executors.slurm import SlurmExecutor

        resources: dict[str, Any] = {}
        if "time_min" in settings:
            resources["walltime_s"] = settings["time_min"] * 60
        if "mem_mb" in settings:
            resources["memory_mb"] = settings["mem_mb"]
        if "mem_gb" in settings:
            resources["memory_mb"] = settings["mem_gb"] * 1024
        if "cores" in settings:
            resources["cores"] = settings["cores"]
        options = {
            name: settings[name]
            for name in (
                "partition",
                "account",
                "qos",
                "max_jobs",
                "allowed_directives",
                "extra_directives",
                "min_poll_interval_s",
                "squeue_json",
                "unknown_state_timeout_s",
                "max_array_size",
            )
            if name in settings
        }
        return SlurmExecutor(
            default_resources=resources, array_jobs=settings.get("array_jobs", True), **options
        )


@dataclass(frozen=True)
class McConfig:
    """The operator's configuration: where it came from, and its executor profiles by name."""

    path: str | None = None
    executors: Mapping[str, ExecutorProfile] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as plain data, secrets redacted (for ``mc config show``)."""
        from mc.store.redaction import redact_db_url

        executors = {}
        for name, profile in sorted(self.executors.items()):
            shown = {
                "type": profile.type,
                **{key: value for key, value in profile.settings.items() if key != "type"},
            }
            if "scheduler_address" in shown and "@" in str(shown["scheduler_address"]):
                shown["scheduler_address"] = redact_db_url(shown["scheduler_address"])
            executors[name] = shown
        return {"config_file": self.path, "executors": executors}


def user_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The user's MissionControl config directory.

    ``$XDG_CONFIG_HOME/mc``, else ``~/.config/mc``.
    """
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME") or str(
        Path(environ.get("HOME") or Path.home()) / ".config"
    )
    return Path(base) / "mc"


def find_config_file(
    explicit: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path | None:
    """Return the config file to read (see the module docstring), or None if there is none.

    Raises :class:`ConfigError` if ``explicit`` or ``$MC_CONFIG`` names a
    file that does not exist.
    """
    environ = os.environ if environ is None else environ
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist")
        return path
    here = Path(cwd if cwd is not None else os.getcwd()) / CONFIG_FILE_NAME
    if here.is_file():
        return here
    named = environ.get(CONFIG_ENV_VAR)
    if named:
        if not Path(named).is_file():
            raise ConfigError(f"${CONFIG_ENV_VAR} names {named!r}, which does not exist")
        return Path(named)
    user = user_config_dir(environ) / CONFIG_FILE_NAME
    return user if user.is_file() else None


def load_config(
    explicit: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> McConfig:
    """Find and read the operator's config file; an empty :class:`McConfig` if there is none."""
    path = find_config_file(explicit, cwd, environ)
    if path is None:
        return McConfig()
    try:
        text = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    return parse_config(text, str(path))


def parse_config(text: bytes | str, where: str = "mc.toml") -> McConfig:
    """Parse and check the TOML ``text`` of a config file named ``where``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ConfigError(f"{where}: not UTF-8 text: {error}") from None
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{where}: not valid TOML: {error}") from None
    unknown = set(data) - {"executors"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown tables or keys {sorted(unknown)} (expected: executors)"
        )
    tables = data.get("executors", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{where}: executors must be a table of [executors.NAME] tables")
    profiles = {}
    for name, table in tables.items():
        profiles[name] = check_profile(name, table, where)
    return McConfig(path=where, executors=profiles)


def check_profile(name: str, table: Any, where: str = "mc.toml") -> ExecutorProfile:
    """Return the ``[executors.NAME]`` table checked as an :class:`ExecutorProfile`.

    Raises ConfigError naming the setting that is wrong.
    """
    at = f"{where}: [executors.{name}]"
    if not name or not set(name) <= _PROFILE_NAME_CHARS or len(name) > 64:
        raise ConfigError(f"{at}: a profile's name is letters, digits, '_' and '-' (up to 64)")
    if not isinstance(table, dict):
        raise ConfigError(f"{at}: expected a table of settings")
    kind = table.get("type")
    if kind not in _SETTINGS:
        raise ConfigError(f"{at}: type must be one of {', '.join(sorted(_SETTINGS))}, got {kind!r}")
    unknown = set(table) - _SETTINGS[kind]
    if unknown:
        raise ConfigError(
            f"{at}: unknown settings {sorted(unknown)} for a {kind} profile "
            f"(expected some of {sorted(_SETTINGS[kind])})"
        )
    for key, value in table.items():
        _check_setting(at, key, value)
    if "mem_mb" in table and "mem_gb" in table:
        raise ConfigError(f"{at}: give mem_mb or mem_gb, not both")
    profile = ExecutorProfile(name=name, type=kind, settings=dict(table))
    try:
        if kind == "slurm":
            profile.make_executor()  # the executor checks the rest (directive names, ...)
    except (ExecutorError, MCError) as error:
        raise ConfigError(f"{at}: {error}") from None
    return profile


_NUMBERS = {
    "time_min": RESOURCE_LIMITS["walltime_s"] / 60,
    "mem_mb": RESOURCE_LIMITS["memory_mb"],
    "mem_gb": RESOURCE_LIMITS["memory_mb"] / 1024,
    "cores": RESOURCE_LIMITS["cores"],
    "min_poll_interval_s": 86400,
    "unknown_state_timeout_s": 10 * 86400,
}


def _check_setting(at: str, key: str, value: Any) -> None:
    if key in ("partition", "account", "qos"):
        if not isinstance(value, str) or not NAME_VALUE_RE.fullmatch(value):
            raise ConfigError(
                f"{at}.{key}: expected a name of letters, digits, '_', '.' or '-', got {value!r}"
            )
    elif key in ("max_jobs", "max_array_size"):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000:
            raise ConfigError(
                f"{at}.{key}: expected a whole number from 1 to 1000000, got {value!r}"
            )
    elif key in _NUMBERS:
        limit = _NUMBERS[key]
        low_ok = key == "min_poll_interval_s"
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value > limit
            or value < 0
            or (value == 0 and not low_ok)
        ):
            raise ConfigError(
                f"{at}.{key}: expected a positive number up to {limit:g}, got {value!r}"
            )
    elif key in ("allowed_directives", "extra_directives"):
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise ConfigError(f"{at}.{key}: expected a list of strings, got {value!r}")
        if key == "extra_directives":
            # The file in the working directory is read first, so whoever may
            # write there writes these: checked as a spec's directives are,
            # abbreviations of the reserved options included (one rule,
            # mc.jobs.job_dir.never_from_a_job_read_as, for all of them).
            for i, item in enumerate(value):
                try:
                    check_directive(item, f"{at}.{key}[{i}]")
                except JobError as error:
                    raise ConfigError(str(error)) from None
    elif key in ("squeue_json", "shared_filesystem", "array_jobs"):
        if not isinstance(value, bool):
            raise ConfigError(f"{at}.{key}: expected true or false, got {value!r}")
    elif key in ("jobs_root", "scheduler_address") and (
        not isinstance(value, str) or not value or "\0" in value
    ):
        raise ConfigError(f"{at}.{key}: expected a non-empty string, got {value!r}")
