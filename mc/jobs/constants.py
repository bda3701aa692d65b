"""Names and settings shared by job modules, job dirs, executors and task types.

A job dir looks like this (the names are the constants below)::

    <job dir>/
        job.json          the job spec and what its module's builder returned
        entrypoint.sh     runs the work dir; `bash entrypoint.sh` works by hand
        config.env        settings from the config spec (written at submit, if any)
        work_dir/         what the job module's build_work_dir wrote
        stdout.txt        the entrypoint command's standard output
        stderr.txt        its standard error
        exit_status       its exit status, written when it ends
        job.lock          held (flock) while a run of the job dir is under way;
                          one line per run that took it (made by the first run)
        submission.json   the executor and token of the submission that owns it
"""

from __future__ import annotations

__all__ = [
    "RESOURCES_FILE",
    "JOB_META_FILE",
    "ENTRYPOINT_FILE",
    "CONFIG_ENV_FILE",
    "WORK_DIR_NAME",
    "STDOUT_FILE",
    "STDERR_FILE",
    "EXIT_STATUS_FILE",
    "LOCK_FILE",
    "SUBMISSION_FILE",
    "ALREADY_RUNNING_EXIT_STATUS",
    "LOCK_ATTEMPTS",
    "JOB_QUEUED",
    "JOB_RUNNING",
    "JOB_COMPLETED",
    "JOB_FAILED",
    "JOB_LOST",
    "JOB_UNKNOWN",
    "JOB_STATUSES",
    "JOB_UNFINISHED",
    "RESOURCE_NAMES",
    "DEFAULT_JOB_EXECUTOR",
    "DEFAULT_CALL_EXECUTOR",
    "JOBS_ROOT_ENV_VAR",
    "DEFAULT_JOBS_ROOT",
    "STDERR_TAIL_LINES",
    "MAX_SUBMISSIONS",
    "MAX_POLL_ERRORS",
]

JOB_META_FILE = "job.json"
ENTRYPOINT_FILE = "entrypoint.sh"
CONFIG_ENV_FILE = "config.env"
WORK_DIR_NAME = "work_dir"
STDOUT_FILE = "stdout.txt"
STDERR_FILE = "stderr.txt"
EXIT_STATUS_FILE = "exit_status"
LOCK_FILE = "job.lock"
SUBMISSION_FILE = "submission.json"

# What entrypoint.sh exits with, without touching the job dir, when another
# run of the same job dir holds its lock (EX_TEMPFAIL). The job's own
# command may exit 75 too; only a refused start leaves no exit_status file.
ALREADY_RUNNING_EXIT_STATUS = 75
# How many times (0.05 s apart) a starting run tries for the lock while only
# a poll's shared lock is in the way; a run's exclusive lock stops it at once.
LOCK_ATTEMPTS = 40

# What an executor's poll() reports: a job's state, named JOB_* so that it
# is never mistaken for a task's status (mc.flows.statuses), even where the
# two share a string.
JOB_QUEUED = "QUEUED"
JOB_RUNNING = "RUNNING"
JOB_COMPLETED = "COMPLETED"
JOB_FAILED = "FAILED"
# The executor knows nothing of the handle, and the work never started (or
# its result is gone): submitting it again is safe.
JOB_LOST = "LOST"
# The executor sees the job in a state it does not know (a newer SLURM's, or
# a site's): neither queued nor running nor ended, as far as it can tell. The
# job task keeps polling it (such states can pass); the executor fails it
# once it has lasted its bound (the SLURM executor's unknown_state_timeout_s).
# The executor's own name of the state is in the poll's outputs['unknown_state'].
JOB_UNKNOWN = "UNKNOWN"
JOB_STATUSES = (JOB_QUEUED, JOB_RUNNING, JOB_COMPLETED, JOB_FAILED, JOB_LOST, JOB_UNKNOWN)
# The statuses of a job that has not ended: its task polls it again.
JOB_UNFINISHED = (JOB_QUEUED, JOB_RUNNING, JOB_UNKNOWN)

# Resources a job module (or a job task) may ask for; executors translate them.
# The resources a submission asked for, written by its executor.
RESOURCES_FILE = "resources.json"

RESOURCE_NAMES = ("cores", "memory_mb", "walltime_s", "partition", "account", "extra_directives")

# The executor a `job` task uses when neither its task_params nor the task
# context name one, and the one a `call` task uses.
DEFAULT_JOB_EXECUTOR = "local"
DEFAULT_CALL_EXECUTOR = "inline"

# Where job dirs go when a task names none: <jobs root>/<flow key>/<task key>.
JOBS_ROOT_ENV_VAR = "MC_JOBS_ROOT"
DEFAULT_JOBS_ROOT = "mc_jobs"

# How many lines of stderr a failed job's task error quotes.
STDERR_TAIL_LINES = 20
# How many times a job (or a call) is submitted in all, when its executor
# reports it LOST.
MAX_SUBMISSIONS = 3
# How many polls in a row may fail (an unreachable cluster controller, say)
# before a job task fails.
MAX_POLL_ERRORS = 5
