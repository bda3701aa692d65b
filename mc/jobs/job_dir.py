"""Job dirs: a job, built by its job module into a directory that runs anywhere.

:func:`build_job_dir` turns a job ``{'key', 'job_type', 'job_params'}`` into
a self-contained directory (layout in :mod:`mc.jobs.constants`). Its
``entrypoint.sh`` sources ``config.env`` if an executor wrote one, runs the
job module's entrypoint command inside ``work_dir/`` with stdout and stderr
going to files of the job dir, and records the exit status last, so that the
presence of ``exit_status`` means the job has ended. ``bash entrypoint.sh``
runs a job dir by hand, and every executor runs it just so.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mc.errors import JobError, JobTypeError
from mc.flows.cache import RUNTIME, import_path, module_source_sha256
from mc.jobs.config_spec import check_config_spec
from mc.jobs.constants import (
    ALREADY_RUNNING_EXIT_STATUS,
    CONFIG_ENV_FILE,
    ENTRYPOINT_FILE,
    EXIT_STATUS_FILE,
    JOB_COMPLETED,
    JOB_FAILED,
    JOB_META_FILE,
    LOCK_ATTEMPTS,
    LOCK_FILE,
    RESOURCE_NAMES,
    STDERR_FILE,
    STDERR_TAIL_LINES,
    STDOUT_FILE,
    WORK_DIR_NAME,
)
from mc.jobs.job_modules import JobTypeRegistry, default_job_types

__all__ = [
    "NAME_VALUE_RE",
    "RESOURCE_LIMITS",
    "NEVER_FROM_A_JOB",
    "BARE_OPTIONS",
    "never_from_a_job_read_as",
    "check_directive",
    "check_resources",
    "build_job_dir",
    "read_job_meta",
    "read_exit_status",
    "outcome_of_exit_status",
    "stderr_tail",
    "NOT_STARTED",
    "RUN_UNDER_WAY",
    "RUN_OVER",
    "run_state",
    "job_module_identity",
    "record_job_provenance",
]

_logger = logging.getLogger(__name__)

_JOB_FIELDS = {"key", "job_type", "job_params"}

_ENTRYPOINT_TEMPLATE = """\
#!/usr/bin/env bash
# Job {key} ({job_type}), built by MissionControl.
# Run it by hand with: bash entrypoint.sh
# (Shell built-ins only, up to the lock: every process started costs time.)
case "${{BASH_SOURCE[0]}}" in
    */*) CDPATH='' cd -- "${{BASH_SOURCE[0]%/*}}/" || exit 1 ;;
esac
job_dir="$PWD"
# At most one run of this job dir at a time: a run holds an exclusive flock on
# {lock} (fd 9, inherited by the job's processes) until it ends. Another start
# meanwhile exits {already_running} at once and leaves the job dir untouched.
exec 9>>"$job_dir/{lock}" || exit {already_running}
if command -v flock >/dev/null 2>&1; then
    lock_ex() {{ flock -n -x 9; }}; lock_sh() {{ flock -n -s 9; }}; unlock() {{ flock -u 9; }}
else
    flock_fd9() {{
        python3 -c 'import fcntl, sys; fcntl.flock(9, int(sys.argv[1]))' "$1" 2>/dev/null
    }}
    lock_ex() {{ flock_fd9 6; }}; lock_sh() {{ flock_fd9 5; }}; unlock() {{ flock_fd9 8; }}
fi
# A poll may hold a shared lock for an instant: then wait and try again. A
# run holds it exclusively: then this start gives up at once.
attempt=0
until lock_ex; do
    attempt=$((attempt + 1))
    if [ "$attempt" -ge {lock_attempts} ] || ! lock_sh; then
        echo "MissionControl: not started: another run of $job_dir holds {lock}" >&2
        exit {already_running}
    fi
    unlock
    sleep 0.05
done
# EPOCHSECONDS is bash 5's clock; an older bash asks date(1).
echo "run started ${{EPOCHSECONDS:-$(date +%s)}} on ${{HOSTNAME:-?}} by pid $$" >&9
if [ -e "$job_dir/{exit_status}" ] || [ -L "$job_dir/{exit_status}" ]; then
    rm -f "$job_dir/{exit_status}"
fi
if [ -f "$job_dir/{config_env}" ]; then
    . "$job_dir/{config_env}"
fi
cd "$job_dir/{work_dir}" || exit 1
(
{entrypoint}
) >"$job_dir/{stdout}" 2>"$job_dir/{stderr}"
status=$?
# Written last, and renamed into place: its presence means the job ended.
echo "$status" >"$job_dir/{exit_status}.tmp" \
    && mv "$job_dir/{exit_status}.tmp" "$job_dir/{exit_status}"
exit "$status"
"""


def _check_job(job: Any) -> dict[str, Any]:
    """Return ``job`` as a complete job dict, or raise JobError saying what is wrong."""
    if not isinstance(job, Mapping):
        raise JobError(
            f"job: expected a mapping with key, job_type, job_params, got {type(job).__name__}"
        )
    unknown = set(job) - _JOB_FIELDS
    if unknown:
        raise JobError(f"job: unknown fields {sorted(unknown)} (expected {sorted(_JOB_FIELDS)})")
    key = job.get("key")
    if not isinstance(key, str) or not key:
        raise JobError(f"job.key: expected a non-empty string, got {key!r}")
    job_type = job.get("job_type")
    if not isinstance(job_type, str) or not job_type:
        raise JobError(f"job {key!r}: job_type: expected a non-empty string, got {job_type!r}", key)
    params = job.get("job_params", {})
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise JobError(
            f"job {key!r}: job_params: expected a mapping, got {type(params).__name__}", key
        )
    return {"key": key, "job_type": job_type, "job_params": dict(params)}


# The largest resources a job may ask for: far above any real machine, low
# enough that no arithmetic on them overflows (NaN and inf are refused too).
RESOURCE_LIMITS = {"cores": 1_000_000, "memory_mb": 1e12, "walltime_s": 10 * 365 * 86400}

# A resource name (a partition, an account) and a directive's value: no shell
# metacharacter, no '$', no backquote, no whitespace, no '/' (never a path).
NAME_VALUE_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_OPTION_RE = re.compile(r"--[a-z][a-z0-9-]{0,63}")
_DIRECTIVE_VALUE_RE = re.compile(r"[A-Za-z0-9_.:,+=@-]{1,256}")

# sbatch options a job (a spec) may never set, whatever an executor allows:
# they choose files, the environment, the script, the array, or the identity
# (job name, comment) by which the executor knows its jobs.
NEVER_FROM_A_JOB = frozenset(
    {
        "--array",
        "--output",
        "--error",
        "--input",
        "--chdir",
        "--export",
        "--export-file",
        "--wrap",
        "--uid",
        "--gid",
        "--get-user-env",
        "--open-mode",
        "--job-name",
        "--comment",
        "--parsable",
        "--test-only",
        "--propagate",
        # The executor's bookkeeping: it holds and releases jobs itself
        # (max_jobs), must not wait in sbatch, and finds its jobs with
        # squeue on its own cluster.
        "--hold",
        "--wait",
        "--clusters",
        # Reads a file of the submitting host.
        "--bbf",
    }
)

#: The ``sbatch`` options that may stand alone, with no ``=value``: they take
#: no argument, or an optional one that only ``=`` attaches. Any other option
#: alone would take the next argument of the command line as its value.
BARE_OPTIONS = frozenset(
    {
        "--contiguous",
        "--exclusive",
        "--ignore-pbs",
        "--no-kill",
        "--no-requeue",
        "--oversubscribe",
        "--overcommit",
        "--quiet",
        "--reboot",
        "--requeue",
        "--spread-job",
        "--use-min-nodes",
        "--verbose",
    }
)


def never_from_a_job_read_as(option: str) -> list[str]:
    """Return the options of :data:`NEVER_FROM_A_JOB` that ``sbatch`` may read ``option`` as.

    ``sbatch`` takes any unambiguous prefix of a long option for the option
    (``--export-fi`` is ``--export-file``, ``--chd`` is ``--chdir``), so an
    option is refused if it is one of those options or a prefix of one; a
    prefix of several (``--exp``) is refused too, as ``sbatch`` would refuse
    it anyway. Empty when ``option`` is none of them. The one rule for
    specs', profiles' and executors' directives, and for
    ``allowed_directives``.
    """
    if option in NEVER_FROM_A_JOB:
        return [option]  # an exact name is that option, even when it begins a longer one
    return sorted(name for name in NEVER_FROM_A_JOB if name.startswith(option))


def check_directive(
    directive: Any, where: str, check_value: bool = True, name_only: bool = False
) -> tuple[str, str | None]:
    """Return ``(option, value)`` of a directive such as ``'--qos=long'``, or raise JobError.

    A directive is a long option with ``=value``, or alone if it is one of
    :data:`BARE_OPTIONS`; the option is
    neither one of :data:`NEVER_FROM_A_JOB` nor an abbreviation ``sbatch``
    would read as one (see :func:`never_from_a_job_read_as`); the value has
    no ``$``, backquote, newline, ``;``, quote, space or ``/`` (unless
    ``check_value`` is False: the directives a program gives its own
    executor, each of which reaches ``sbatch`` as one argument).
    ``name_only``: ``directive`` names an option (``allowed_directives``),
    so it may stand alone whatever the option.
    """
    option, sep, value = directive.partition("=") if isinstance(directive, str) else ("", "", "")
    if not _OPTION_RE.fullmatch(option):
        raise JobError(
            f"{where}: {_short(directive)} is not a directive such as '--qos=long' (a long option)"
        )
    never = never_from_a_job_read_as(option)
    if never:
        read_as = "" if never == [option] else f" (sbatch would read it as {' or '.join(never)})"
        raise JobError(
            f"{where}: {option} is never taken from a job{read_as}; nothing was submitted"
        )
    if not sep and not name_only and option not in BARE_OPTIONS:
        raise JobError(
            f"{where}: {option} needs its value written as {option}=VALUE (alone, sbatch would "
            f"take the next argument as its value); only {', '.join(sorted(BARE_OPTIONS))} "
            "stand alone"
        )
    if check_value and sep and not _DIRECTIVE_VALUE_RE.fullmatch(value):
        raise JobError(
            f"{where}: the value of {option}, {_short(value)}, may hold only letters, digits "
            "and _ . : , + = @ - (no shell metacharacter, quote, space or '/')"
        )
    return option, value if sep else None


def check_resources(resources: Any, where: str) -> dict[str, Any]:
    """Return ``resources`` checked: known names, numbers where numbers belong."""
    if resources is None:
        return {}
    if not isinstance(resources, Mapping):
        raise JobError(f"{where}: expected a mapping, got {type(resources).__name__}")
    unknown = set(resources) - set(RESOURCE_NAMES)
    if unknown:
        raise JobError(
            f"{where}: unknown resources {sorted(unknown)} "
            f"(expected some of {list(RESOURCE_NAMES)})"
        )
    for name, limit in RESOURCE_LIMITS.items():
        value = resources.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= limit
        ):
            raise JobError(
                f"{where}.{name}: expected a positive number up to {limit:g}, got {_short(value)}"
            )
    for name in ("partition", "account"):
        value = resources.get(name)
        if value is not None and (not isinstance(value, str) or not NAME_VALUE_RE.fullmatch(value)):
            raise JobError(
                f"{where}.{name}: expected a name of letters, digits, '_', '.' or '-', "
                f"got {value!r}"
            )
    extra = resources.get("extra_directives")
    if extra is not None and (
        not isinstance(extra, list) or not all(isinstance(item, str) for item in extra)
    ):
        raise JobError(f"{where}.extra_directives: expected a list of strings, got {extra!r}")
    for i, item in enumerate(extra or []):
        check_directive(item, f"{where}.extra_directives[{i}]")
    return dict(resources)


def build_job_dir(
    job: Mapping[str, Any],
    output_dir: str | os.PathLike[str],
    job_types: JobTypeRegistry | None = None,
    allow_imports: Iterable[str] = (),
    provenance: Mapping[str, Any] | None = None,
) -> str:
    """Build the job dir of ``job`` at ``output_dir`` and return its absolute path.

    ``output_dir`` must not exist or be empty. The job's ``job_type``
    resolves through ``job_types`` (default
    :data:`~mc.jobs.job_modules.default_job_types`) and ``allow_imports``.
    ``provenance`` adds fields to the ``provenance`` of its ``job.json``
    (the ``job`` task's executor, flow and task).
    Raises :class:`~mc.errors.JobError` (or JobTypeError) naming the job.
    """
    job = _check_job(job)
    registry = job_types if job_types is not None else default_job_types
    module = registry.resolve(job["job_type"], allow_imports)
    job_dir = Path(output_dir).absolute()
    if job_dir.exists() and (not job_dir.is_dir() or any(job_dir.iterdir())):
        raise JobError(
            f"job {job['key']!r}: job dir {str(job_dir)!r} exists and is not empty", job["key"]
        )
    work_dir = job_dir / WORK_DIR_NAME
    job_dir.parent.mkdir(parents=True, exist_ok=True)
    job_dir.mkdir(exist_ok=True)
    work_dir.mkdir()
    built = module.build_work_dir(job["job_params"], str(work_dir))
    where = f"job {job['key']!r}: {job['job_type']}.build_work_dir()"
    if not isinstance(built, Mapping):
        raise JobTypeError(
            f"{where} returned {type(built).__name__}; expected a dict with 'entrypoint'",
            job["key"],
        )
    entrypoint = built.get("entrypoint")
    if not isinstance(entrypoint, str) or not entrypoint.strip():
        raise JobTypeError(
            f"{where}: 'entrypoint' must be a non-empty shell command, got {entrypoint!r}",
            job["key"],
        )
    meta = {
        **job,
        "entrypoint": entrypoint,
        "config_spec": check_config_spec(built.get("config_spec"), f"{where}: config_spec"),
        "resources": check_resources(built.get("resources"), f"{where}: resources"),
        "provenance": {
            **RUNTIME,
            **job_module_identity(job["job_type"], module),
            "built_at": time.time(),
            "params": job["job_params"],
            **(provenance or {}),
        },
    }
    # A new file in a new dir: no reader can see it half written, as no
    # handle names this job dir yet.
    _write_new_file(job_dir / JOB_META_FILE, json.dumps(meta, indent=2) + "\n")
    _write_new_file(
        job_dir / ENTRYPOINT_FILE,
        _ENTRYPOINT_TEMPLATE.format(
            key=_one_line(job["key"]),
            job_type=_one_line(job["job_type"]),
            entrypoint=entrypoint,
            config_env=CONFIG_ENV_FILE,
            work_dir=WORK_DIR_NAME,
            stdout=STDOUT_FILE,
            stderr=STDERR_FILE,
            exit_status=EXIT_STATUS_FILE,
            lock=LOCK_FILE,
            lock_attempts=LOCK_ATTEMPTS,
            already_running=ALREADY_RUNNING_EXIT_STATUS,
        ),
        executable=True,
    )
    # job.lock is made by the first run (its entrypoint opens it for
    # appending): until then, run_state() finds no run.
    return str(job_dir)


def job_module_identity(job_type: str, module: Any) -> dict[str, Any]:
    """Return what identifies a job type's code: its name, version and module source hash.

    The version is the module's ``JOB_TYPE_VERSION``, else its
    ``__version__``, else None; the hash is the SHA-256 of the source file
    of the module that defines the job module (see
    :func:`mc.flows.cache.module_source_sha256`). A cached ``job`` task's
    key includes all of these.
    """
    version = getattr(module, "JOB_TYPE_VERSION", None)
    if version is None:
        version = getattr(module, "__version__", None)
    return {
        "job_type": job_type,
        "job_type_version": version if isinstance(version, (str, int)) else None,
        "module": import_path(module),
        "module_source_sha256": module_source_sha256(module),
    }


def record_job_provenance(job_dir: str | os.PathLike[str], **fields: Any) -> bool:
    """Add ``fields`` to the ``provenance`` of the job dir's ``job.json`` (atomically).

    A record is a note, not the work: when the job dir cannot be read or
    written (it was moved away), this logs a warning and returns False.
    """
    try:
        meta = read_job_meta(job_dir)
        provenance = meta.get("provenance")
        meta["provenance"] = {**(provenance if isinstance(provenance, dict) else {}), **fields}
        _write_meta(Path(job_dir), meta)
    except (JobError, OSError, TypeError, ValueError) as error:
        _logger.warning("job dir %s: could not record its provenance: %s", job_dir, error)
        return False
    return True


def _write_new_file(path: Path, text: str, executable: bool = False) -> None:
    """Create ``path`` holding ``text``: it must not exist, and no symlink is followed.

    Mode 0666 less the umask, as :meth:`pathlib.Path.write_text` makes it;
    0755 if ``executable``.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        if executable:
            os.fchmod(fd, 0o755)
        file.write(text)


def _write_meta(job_dir: Path, meta: Mapping[str, Any]) -> None:
    # Renamed into place, so that a reader never sees half a file.
    temporary = job_dir / f".{JOB_META_FILE}.tmp"
    temporary.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, job_dir / JOB_META_FILE)


def read_job_meta(job_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the job dir's ``job.json``: the job, its entrypoint, config spec and resources."""
    path = Path(job_dir) / JOB_META_FILE
    try:
        meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise JobError(f"job dir {str(job_dir)!r}: cannot read {JOB_META_FILE}: {error}") from error
    return meta


def read_exit_status(job_dir: str | os.PathLike[str]) -> int | None:
    """Return the job's exit status, or None if the job has not ended."""
    try:
        text = (Path(job_dir) / EXIT_STATUS_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    try:
        return int(text)
    except ValueError:
        raise JobError(
            f"job dir {str(job_dir)!r}: {EXIT_STATUS_FILE} holds {text!r}, not a number"
        ) from None


def outcome_of_exit_status(exit_status: int) -> tuple[str, dict[str, Any]]:
    """Return what an executor's poll reports for a job that ended with ``exit_status``.

    The one rule every executor follows: exit status 0 is
    :data:`~mc.jobs.constants.JOB_COMPLETED`, anything else
    :data:`~mc.jobs.constants.JOB_FAILED`; the outputs hold the status.
    """
    state = JOB_COMPLETED if exit_status == 0 else JOB_FAILED
    return state, {"exit_status": exit_status}


def stderr_tail(job_dir: str | os.PathLike[str], lines: int = STDERR_TAIL_LINES) -> str:
    """Return the last ``lines`` lines of the job's stderr ('' if there is none)."""
    try:
        text = (Path(job_dir) / STDERR_FILE).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def _short(value: Any) -> str:
    """``repr(value)``, cut short: a huge number or string in an error helps no one."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        return f"a {type(value).__name__} too large to print"
    return text if len(text) <= 80 else text[:77] + "..."


def _one_line(text: str) -> str:
    """Return ``text`` fit for a comment line of a shell script: printable ASCII only."""
    return re.sub(r"[^\x20-\x7e]", "?", text)


# What :func:`run_state` finds in a job dir.
NOT_STARTED = "not_started"
RUN_UNDER_WAY = "running"
RUN_OVER = "run_over"


def run_state(job_dir: str | os.PathLike[str]) -> str:
    """Return whether a run of the job dir is under way, over, or never started.

    A run holds an exclusive lock on ``job.lock`` while it lasts and writes a
    line into it when it starts (see the entrypoint). The probe takes a
    shared lock for an instant, which a starting run waits out. A run that is
    over wrote ``exit_status`` before it let the lock go, unless it died.
    """
    path = Path(job_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return NOT_STARTED
    except OSError as error:
        raise JobError(f"job dir {str(job_dir)!r}: cannot open {LOCK_FILE}: {error}") from error
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return RUN_UNDER_WAY
        fcntl.flock(fd, fcntl.LOCK_UN)
        return RUN_OVER if os.fstat(fd).st_size > 0 else NOT_STARTED
    finally:
        os.close(fd)
