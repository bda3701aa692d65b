"""Executor profiles from the operator's mc.toml (mc.jobs.profiles)."""

from __future__ import annotations

import pytest

from mc.jobs.executors.local import LocalExecutor
from mc.jobs.executors.slurm import SlurmExecutor
from mc.jobs.profiles import ConfigError, find_config_file, load_config, parse_config

GPU_QUEUE = b"""
[executors.gpu_queue]
type = "slurm"
partition = "gpu"
account = "lab"
time_min = 60
max_jobs = 100
allowed_directives = ["--gres", "--constraint"]
"""


@pytest.fixture
def places(tmp_path):
    """A working dir, a $MC_CONFIG file and a user config dir, each with an mc.toml."""
    for name in ("cwd", "named", "xdg/mc"):
        (tmp_path / name).mkdir(parents=True)
        (tmp_path / name / "mc.toml").write_text(
            f'[executors.{name.replace("/", "_")}]\ntype = "local"\n'
        )
    environ = {
        "MC_CONFIG": str(tmp_path / "named" / "mc.toml"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
    }
    return tmp_path, environ


def test_the_working_directory_file_comes_first(places):
    root, environ = places
    assert find_config_file(cwd=root / "cwd", environ=environ) == root / "cwd" / "mc.toml"


def test_mc_config_comes_before_the_user_config_dir(places):
    root, environ = places
    assert find_config_file(cwd=root, environ=environ) == root / "named" / "mc.toml"


def test_the_user_config_dir_comes_last(places):
    root, environ = places
    del environ["MC_CONFIG"]
    assert list(load_config(cwd=root, environ=environ).executors) == ["xdg_mc"]


def test_no_config_file_means_no_profiles(tmp_path):
    assert load_config(cwd=tmp_path, environ={"HOME": str(tmp_path)}).executors == {}


def test_a_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="config file '.*nope.toml' does not exist"):
        load_config(tmp_path / "nope.toml")


def test_a_slurm_profile_makes_a_configured_executor():
    profile = parse_config(GPU_QUEUE).executors["gpu_queue"]
    executor = profile.make_executor()
    assert isinstance(executor, SlurmExecutor)
    assert (executor.defaults["partition"], executor.defaults["account"], executor.max_jobs) == (
        "gpu",
        "lab",
        100,
    )
    assert executor.default_resources == {"walltime_s": 3600}
    assert executor.allowed_directives == ("--gres", "--constraint")


def test_a_local_profile_sets_max_jobs():
    executor = (
        parse_config(b'[executors.few]\ntype = "local"\nmax_jobs = 2\n')
        .executors["few"]
        .make_executor()
    )
    assert isinstance(executor, LocalExecutor) and executor.max_jobs == 2


def test_an_unknown_setting_is_refused_naming_the_table():
    with pytest.raises(
        ConfigError,
        match=r"mc.toml: \[executors.q\]: unknown settings \['partitoin'\] for a slurm profile",
    ):
        parse_config(b'[executors.q]\ntype = "slurm"\npartitoin = "gpu"\n')


def test_an_unknown_type_is_refused():
    with pytest.raises(ConfigError, match="type must be one of dask, local, slurm, got 'pbs'"):
        parse_config(b'[executors.q]\ntype = "pbs"\n')


def test_a_partition_with_a_shell_character_is_refused():
    with pytest.raises(ConfigError, match=r"\[executors.q\].partition: expected a name"):
        parse_config(b'[executors.q]\ntype = "slurm"\npartition = "gpu;rm"\n')


def test_a_directive_that_can_never_come_from_a_job_cannot_be_allowed():
    with pytest.raises(ConfigError, match="--output can never come from a job"):
        parse_config(b'[executors.q]\ntype = "slurm"\nallowed_directives = ["--output"]\n')


def test_invalid_toml_says_where(tmp_path):
    path = tmp_path / "mc.toml"
    path.write_text("[executors.q\n")
    with pytest.raises(ConfigError, match=f"{path}: not valid TOML"):
        load_config(path)


def test_a_negative_time_is_refused():
    with pytest.raises(ConfigError, match=r"time_min: expected a positive number"):
        parse_config(b'[executors.q]\ntype = "slurm"\ntime_min = -5\n')


@pytest.mark.parametrize(
    ("directive", "message"),
    [
        ('"--gres=gpu:1;touch /tmp/x"', r"the value of --gres, .* may hold only"),
        ('"--constraint=$(id)"', r"the value of --constraint, .* may hold only"),
        ('"--output=/tmp/elsewhere"', r"--output is never taken from a job"),
        ('"--export=ALL,LD_PRELOAD=x"', r"--export is never taken from a job"),
        ('"-p debug"', r".* is not a directive such as '--qos=long'"),
        ('"--qos long"', r".* is not a directive such as '--qos=long'"),
    ],
)
def test_a_profiles_extra_directive_is_checked_as_a_specs_is(tmp_path, directive, message):
    # The mc.toml of the working directory is read first: whoever may write
    # there must not reach sbatch with more than a spec could.
    (tmp_path / "mc.toml").write_text(
        f'[executors.gpu]\ntype = "slurm"\nextra_directives = ["--exclusive", {directive}]\n'
    )
    where = rf"{tmp_path}/mc.toml: \[executors.gpu\].extra_directives\[1\]: "
    with pytest.raises(ConfigError, match=where + message):
        load_config(cwd=tmp_path, environ={})


ABBREVIATIONS = [
    ("--export-fi=evil.env", "--export-file"),
    ("--chd=..", "--chdir"),
    ("--outp=x", "--output"),
    ("--comm=mc-0", "--comment"),
    ("--wra=id", "--wrap"),
    ("--job-nam=x", "--job-name"),
    ("--arr=0-3", "--array"),
]


@pytest.mark.parametrize(("directive", "read_as"), ABBREVIATIONS)
def test_a_profiles_extra_directive_may_not_abbreviate_a_reserved_option(
    tmp_path, directive, read_as
):
    # sbatch reads an unambiguous prefix of a long option as the option, and
    # a profile's options come after the executor's own: '--chd=..' would
    # move the job out of its job dir.
    (tmp_path / "mc.toml").write_text(
        f'[executors.lab]\ntype = "slurm"\nextra_directives = ["--exclusive", "{directive}"]\n'
    )
    option = directive.partition("=")[0]
    where = rf"{tmp_path}/mc.toml: \[executors.lab\].extra_directives\[1\]: "
    with pytest.raises(
        ConfigError,
        match=where + rf"{option} is never taken from a job \(sbatch would read it as {read_as}\)",
    ):
        load_config(cwd=tmp_path, environ={})


def test_a_profiles_plain_extra_directives_reach_its_executor():
    config = parse_config(
        b'[executors.gpu]\ntype = "slurm"\nextra_directives = ["--gres=gpu:1", "--exclusive"]\n'
    )
    executor = config.executors["gpu"].make_executor()
    assert executor.defaults["extra_directives"] == ["--gres=gpu:1", "--exclusive"]


def test_a_profiles_max_array_size_reaches_its_executor():
    config = parse_config(b'[executors.q]\ntype = "slurm"\nmax_array_size = 500\n')
    executor = config.executors["q"].make_executor()
    assert executor.array_size_limit() == 500  # given: scontrol is not asked


def test_a_profiles_max_array_size_must_be_a_positive_whole_number():
    with pytest.raises(
        ConfigError,
        match=r"\[executors.q\].max_array_size: expected a whole number from 1 to 1000000, got 0",
    ):
        parse_config(b'[executors.q]\ntype = "slurm"\nmax_array_size = 0\n')
