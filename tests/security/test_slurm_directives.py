"""Item 1: a spec's sbatch directives cannot run a shell or name a file (the real SLURM cluster)."""

from __future__ import annotations

import subprocess

import pytest

from mc.errors import ExecutorError, JobError
from mc.flows import FAILED, FlowEngine
from mc.jobs.executors.slurm import SlurmExecutor
from tests.jobs.conftest import poll_until_finished
from tests.security.conftest import hostile_spec


def slurm_jobs_named(name: str) -> list[str]:
    """Ids of the SLURM jobs (any state the controller remembers) named ``name``."""
    result = subprocess.run(
        ["squeue", "--noheader", "--states=all", f"--name={name}", "--format=%i"],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


def run_on_slurm(spec, task_ctx, executor):
    engine = FlowEngine(executors={"slurm": executor})
    flow = engine.flow_spec_to_flow(spec)
    for _ in range(3):
        engine.tick_flow(flow, task_ctx)
    return flow


def test_export_directive_from_a_spec_runs_no_shell_and_submits_nothing(
    tmp_path, task_ctx, slurm_cluster
):
    spec = hostile_spec("slurm_export_bash_env.yaml", target=tmp_path)
    before = slurm_jobs_named("mc-innocent")
    flow = run_on_slurm(
        spec, task_ctx, SlurmExecutor(partition=slurm_cluster, min_poll_interval_s=0.1)
    )
    task = flow.tasks["innocent"]
    assert task["status"] == FAILED
    assert "--export is never taken from a job; nothing was submitted" in task["error"]
    assert not (tmp_path / "pwned").exists()
    assert slurm_jobs_named("mc-innocent") == before


def test_output_directive_from_a_spec_truncates_no_file(tmp_path, task_ctx, slurm_cluster):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    spec = hostile_spec("slurm_output_truncates.yaml", target=tmp_path)
    # Even an operator who allows --output cannot hand it to specs.
    with pytest.raises(ExecutorError, match="--output can never come from a job"):
        SlurmExecutor(allowed_directives=("--output",))
    flow = run_on_slurm(
        spec, task_ctx, SlurmExecutor(partition=slurm_cluster, min_poll_interval_s=0.1)
    )
    assert flow.tasks["innocent"]["status"] == FAILED
    assert "--output is never taken from a job" in flow.tasks["innocent"]["error"]
    assert victim.read_text() == "precious\n"


def test_directive_not_in_allowed_directives_is_refused_by_name(build, slurm_cluster):
    from mc.errors import JobError

    executor = SlurmExecutor(partition=slurm_cluster, allowed_directives=("--gres",))
    before = slurm_jobs_named("mc-job0")
    with pytest.raises(
        JobError,
        match=r"--qos is not allowed by this slurm executor \(allowed_directives: --gres\)",
    ):
        executor.submit(build("true"), {"extra_directives": ["--qos=normal"]})
    assert slurm_jobs_named("mc-job0") == before


def test_allowed_option_with_shell_in_its_value_is_refused(
    tmp_path, jobs_root, task_ctx, slurm_cluster
):
    spec = hostile_spec("slurm_allowed_option_shell_value.json")
    executor = SlurmExecutor(partition=slurm_cluster, allowed_directives=("--qos",))
    flow = run_on_slurm(spec, task_ctx, executor)
    assert flow.tasks["innocent"]["status"] == FAILED
    assert "the value of --qos" in flow.tasks["innocent"]["error"]
    assert "may hold only letters, digits" in flow.tasks["innocent"]["error"]
    assert not list(jobs_root.rglob("pwned"))


def test_allowed_directive_with_a_plain_value_reaches_sbatch(build, slurm_cluster):
    executor = SlurmExecutor(
        partition=slurm_cluster, min_poll_interval_s=0.1, allowed_directives=("nice",)
    )
    handle = executor.submit(build("true"), {"extra_directives": ["--nice=7"]})
    result = subprocess.run(
        ["scontrol", "show", "job", "-o", handle["job_id"]], capture_output=True, text=True
    )
    assert " Nice=7 " in result.stdout
    assert poll_until_finished(executor, handle)[0] == "COMPLETED"


def test_the_wrapped_batch_script_quotes_the_job_dir(tmp_path, job_types, slurm_cluster):
    from mc.jobs.job_dir import build_job_dir

    job = {"key": "quoted", "job_type": "shell", "job_params": {"command": "echo ok > out.txt"}}
    job_dir = build_job_dir(job, tmp_path / "it's$(here)", job_types)
    executor = SlurmExecutor(partition=slurm_cluster, min_poll_interval_s=0.1)
    handle = executor.submit(job_dir)
    assert poll_until_finished(executor, handle)[0] == "COMPLETED"
    assert (tmp_path / "it's$(here)" / "work_dir" / "out.txt").read_text() == "ok\n"
    assert not (tmp_path / "here").exists()


@pytest.mark.parametrize(
    ("allowed", "read_as"), [("--out", "--output"), ("--exp", "--export"), ("--ch", "--chdir")]
)
def test_an_abbreviation_of_a_never_allowed_option_cannot_be_allowed(allowed, read_as):
    # sbatch takes '--out=/any/file' as '--output=/any/file'.
    with pytest.raises(
        ExecutorError,
        match=f"{allowed} can never come from a job .sbatch would read it as .*{read_as}",
    ):
        SlurmExecutor(allowed_directives=(allowed,))


@pytest.mark.parametrize(
    ("directive", "read_as"),
    [
        ("--export-fi=evil.env", "--export-file"),
        ("--chd=/tmp", "--chdir"),
        ("--outp=/tmp/x", "--output"),
        ("--comm=mc-0", "--comment"),
        ("--wra=id", "--wrap"),
        ("--job-nam=x", "--job-name"),
        ("--array=0-9", "--array"),
    ],
)
def test_an_executors_own_extra_directive_may_not_set_or_abbreviate_a_reserved_option(
    directive, read_as
):
    # The executor's own --chdir, --output, --comment, ... come first on
    # sbatch's command line: a later one, even abbreviated, would win.
    option = directive.partition("=")[0]
    read_as_text = "" if option == read_as else rf" \(sbatch would read it as {read_as}\)"
    with pytest.raises(
        ExecutorError,
        match=rf"SlurmExecutor: extra_directives\[0\]: {option} is never taken from a job"
        + read_as_text,
    ):
        SlurmExecutor(extra_directives=[directive])


def test_an_executors_own_extra_directive_must_be_a_long_option():
    # '-D /tmp' is --chdir: short options are refused, as their long forms are checked.
    with pytest.raises(ExecutorError, match=r"'-D/tmp' is not a directive such as '--qos=long'"):
        SlurmExecutor(extra_directives=["-D/tmp"])


def test_an_executors_own_extra_directive_keeps_a_value_a_spec_could_not_give():
    # A program's own options reach sbatch as one argument each, never through a shell.
    executor = SlurmExecutor(extra_directives=["--exclude=node[01-04]"])
    assert executor.defaults["extra_directives"] == ["--exclude=node[01-04]"]


@pytest.mark.parametrize("directive", ["--export-fi=ALL", "--chd=x", "--o=x", "--exp=NONE"])
def test_a_specs_directive_may_not_abbreviate_a_never_allowed_option(directive, build):
    executor = SlurmExecutor(allowed_directives=("--gres",))
    with pytest.raises(JobError, match=rf"{directive.partition('=')[0]} is never taken from a job"):
        executor.submit(build("true"), {"extra_directives": [directive]})


def test_an_option_that_needs_a_value_may_not_stand_alone_to_swallow_the_next_argument(
    build, slurm_cluster
):
    # Alone, --mail-user would take sbatch's next argument (--wrap=...) as its
    # value, and sbatch would read a batch script from the runner's stdin.
    executor = SlurmExecutor(partition=slurm_cluster, allowed_directives=("--mail-user",))
    before = slurm_jobs_named("mc-job0")
    with pytest.raises(JobError, match=r"--mail-user needs its value written as --mail-user="):
        executor.submit(build("true"), {"extra_directives": ["--mail-user"]})
    assert slurm_jobs_named("mc-job0") == before
    with pytest.raises(ExecutorError, match=r"--mail-user needs its value written as"):
        SlurmExecutor(partition=slurm_cluster, extra_directives=("--mail-user",))


def test_a_flag_option_may_stand_alone(build, slurm_cluster):
    executor = SlurmExecutor(
        partition=slurm_cluster, min_poll_interval_s=0.1, allowed_directives=("--requeue",)
    )
    handle = executor.submit(build("true"), {"extra_directives": ["--requeue"]})
    assert poll_until_finished(executor, handle)[0] == "COMPLETED"


@pytest.mark.parametrize("directive", ["--wait", "--hold", "--clusters=other", "--bbf=spec"])
def test_options_that_would_break_the_executors_bookkeeping_are_never_taken(directive):
    from mc.jobs.job_dir import check_directive

    option = directive.partition("=")[0]
    with pytest.raises(JobError, match=f"{option} is never taken from a job"):
        check_directive(directive, "spec")
    with pytest.raises(ExecutorError, match=f"{option} can never come from a job"):
        SlurmExecutor(allowed_directives=(option,))
