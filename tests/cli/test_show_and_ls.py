"""``mc show`` as a tree, ``mc ls`` order and filters, and key prefixes in every command."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mc.cli import main
from mc.store import FlowStore

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def mc(capsys):
    """Run ``mc ARGS`` in-process; return (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def noop_spec(key=None, label=None):
    spec = {"tasks": [{"key": "a", "task_type": "noop"}]}
    if key is not None:
        spec["key"] = key
    if label is not None:
        spec["label"] = label
    return spec


def keys_listed(out: str) -> list[str]:
    return [line.split()[0] for line in out.splitlines()[1:]]


# -- mc ls ---------------------------------------------------------------------


class StepClock:
    """Creation times one minute apart, ending now (so --since sees them as recent)."""

    def __init__(self, count: int) -> None:
        self.now = time.time() - 60 * count

    def __call__(self) -> float:
        self.now += 60
        return self.now


def test_ls_lists_the_newest_first_and_twenty_by_default(mc, db_url):
    with FlowStore(db_url, clock=StepClock(25)) as store:
        for number in range(25):
            store.create_flow(noop_spec(key=f"flow-{number:02d}"))
    code, out, _ = mc("ls", "--db", db_url)
    assert code == 0
    assert keys_listed(out) == [f"flow-{number:02d}" for number in range(24, 4, -1)]


def test_ls_limit_shows_the_flows_just_submitted(mc, db_url):
    with FlowStore(db_url, clock=StepClock(5)) as store:
        for number in range(5):
            store.create_flow(noop_spec(key=f"flow-{number}"))
    _, out, _ = mc("ls", "--db", db_url, "--limit", "3")
    assert keys_listed(out) == ["flow-4", "flow-3", "flow-2"]
    _, out, _ = mc("ls", "--db", db_url, "--limit", "2", "--oldest-first")
    assert keys_listed(out) == ["flow-0", "flow-1"]


def test_ls_all_lists_every_flow(mc, sqlite_url):
    with FlowStore(sqlite_url, clock=StepClock(30)) as store:
        for number in range(30):
            store.create_flow(noop_spec(key=f"flow-{number:02d}"))
    _, out, _ = mc("ls", "--db", sqlite_url, "--all")
    assert len(keys_listed(out)) == 30


def test_ls_all_and_limit_together_are_refused(mc, sqlite_url, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["ls", "--db", sqlite_url, "--all", "--limit", "3"])
    assert caught.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_ls_since_keeps_the_flows_created_within_the_duration(mc, db_url):
    now = time.time()
    for key, created in (("three-hours-ago", now - 3 * 3600), ("ten-minutes-ago", now - 600)):
        with FlowStore(db_url, clock=lambda created=created: created) as store:
            store.create_flow(noop_spec(key=key))
    _, out, _ = mc("ls", "--db", db_url, "--since", "2h")
    assert keys_listed(out) == ["ten-minutes-ago"]
    _, out, _ = mc("ls", "--db", db_url, "--since", "1d")
    assert keys_listed(out) == ["ten-minutes-ago", "three-hours-ago"]


def test_ls_label_takes_a_glob(mc, db_url):
    with FlowStore(db_url, clock=StepClock(3)) as store:
        for key, label in (("k1", "sweep-a"), ("k2", "sweep-b"), ("k3", "fit")):
            store.create_flow(noop_spec(key=key, label=label))
    _, out, _ = mc("ls", "--db", db_url, "--label", "sweep-*")
    assert keys_listed(out) == ["k2", "k1"]
    _, out, _ = mc("ls", "--db", db_url, "--label", "fit")
    assert keys_listed(out) == ["k3"]


def test_ls_escapes_control_characters_in_labels(mc, sqlite_url):
    with FlowStore(sqlite_url) as store:
        store.create_flow(noop_spec(key="k", label="evil\x1b[2J\rlabel"))
    _, out, _ = mc("ls", "--db", sqlite_url)
    assert "\x1b" not in out and "\r" not in out
    assert "evil\\x1b[2J\\x0dlabel" in out


# -- key prefixes ----------------------------------------------------------------


@pytest.fixture
def two_flows(db_url):
    with FlowStore(db_url) as store:
        store.create_flow(noop_spec(key="236f41ea-1111", label="first"))
        store.create_flow(noop_spec(key="236f9999-2222", label="second"))
    return db_url


@pytest.mark.parametrize("command", [["show"], ["show", "--json"], ["cancel"], ["graph"]])
def test_a_unique_prefix_names_the_flow_in_every_command(mc, two_flows, command):
    name, *options = command
    code, out, err = mc(name, "236f4", "--db", two_flows, *options)
    assert code == 0, err
    assert "236f41ea-1111" in out


def test_retry_takes_a_prefix(mc, two_flows):
    mc("cancel", "236f4", "--db", two_flows)
    code, out, err = mc("retry", "236f4", "--db", two_flows)
    assert code == 0, err
    assert out.startswith("flow 236f41ea-1111: 1 tasks back to PENDING")


def test_ls_parent_takes_a_prefix(mc, sqlite_url):
    with FlowStore(sqlite_url) as store:
        store.create_flow(noop_spec(key="parent-flow"))
    code, _, err = mc("ls", "--db", sqlite_url, "--parent", "parent-f")
    assert code == 0, err


@pytest.mark.parametrize("command", ["show", "cancel", "retry", "graph"])
def test_an_ambiguous_prefix_exits_2_listing_the_candidates(mc, two_flows, command):
    code, out, err = mc(command, "236f", "--db", two_flows)
    assert (code, out) == (2, "")
    assert f"mc {command}: key prefix '236f' is ambiguous: 2 flows match" in err
    assert "236f41ea-1111  first  PENDING" in err and "236f9999-2222  second  PENDING" in err


@pytest.mark.parametrize("command", ["show", "cancel", "retry", "graph"])
def test_a_prefix_that_matches_nothing_exits_2(mc, two_flows, command):
    code, _, err = mc(command, "777", "--db", two_flows)
    assert code == 2
    assert "no flow with key '777'" in err


# -- mc show: a tree with spread jobs, a subflow and a retry --------------------

JOBS_SPEC = {
    "key": "sweep-flow",
    "label": "sweep",
    "data": {"xs": [0, 1, 2]},
    "tasks": [
        {
            "key": "sweep",
            "task_type": "spread",
            "task_params": {
                "items": "$ctx.flow.data.xs",
                "mapping_params": {
                    "skeleton": {
                        "key": "evaluate",
                        "task_type": "job",
                        "task_params": {
                            "job_type": "example_polynomial",
                            "executor": "local",
                            "job_params": {"coefficients": [1, 1]},
                        },
                    },
                    "wirings": ["ctx.item.value => task_params.job_params.x"],
                },
            },
        },
        {
            "key": "analysis",
            "task_type": "flow",
            "precursors": ["sweep"],
            "task_params": {
                "flow_spec": {
                    "label": "analysis",
                    "tasks": [
                        {"key": "gather", "task_type": "noop"},
                        {"key": "plot", "task_type": "noop", "precursors": ["gather"]},
                    ],
                }
            },
        },
        {
            "key": "flaky_job",
            "task_type": "job",
            "retries": 1,
            "task_params": {
                "job_type": "example_polynomial",
                "executor": "local",
                "job_params": {"x": 1, "fail": True},
            },
        },
    ],
}


@pytest.fixture
def jobs_flow(mc, tmp_path, monkeypatch):
    """JOBS_SPEC run to its end by `mc runner` with the real local executor."""
    monkeypatch.setenv("MC_JOBS_ROOT", str(tmp_path / "jobs"))
    monkeypatch.setenv("MC_EXAMPLE_PYTHON", sys.executable)
    url = f"sqlite:///{tmp_path / 'mc.db'}"
    spec_path = tmp_path / "flow.json"
    spec_path.write_text(json.dumps(JOBS_SPEC))
    assert mc("submit", str(spec_path), "--db", url)[0] == 0
    code, _, err = mc("runner", "--db", url, "--until-done", "--interval", "0.05", "--poll", "0.05")
    assert code == 0, err
    return url, tmp_path / "jobs"


def summary_line(out: str, path: str) -> str:
    (line,) = [line for line in out.splitlines() if line.lstrip("│├└─ ").startswith(path + "  ")]
    return line


def details_of(out: str, path: str) -> str:
    """The detail lines printed under a task's summary line, up to the next task."""
    lines = out.splitlines()
    start = lines.index(summary_line(out, path)) + 1
    details = []
    for line in lines[start:]:
        if "── " in line:
            break
        details.append(line)
    return "\n".join(details)


def test_show_nests_spread_jobs_under_the_spread_with_their_job_dirs(mc, jobs_flow):
    url, jobs_root = jobs_flow
    code, out, _ = mc("show", "sweep-fl", "--db", url)
    assert code == 0
    assert out.splitlines()[0] == "flow sweep-flow (sweep): FAILED"
    assert summary_line(out, "sweep").startswith("├── sweep  COMPLETED  spread  1 attempt")
    for index in range(3):
        path = f"sweep/evaluate_{index}"
        line = summary_line(out, path)
        assert line.startswith(("│   ├── ", "│   └── ")) and "COMPLETED  job  1 attempt" in line
        job_dir = jobs_root / "sweep-flow.sweep" / f"evaluate_{index}"
        assert f"executor local, job status COMPLETED, job dir {job_dir}" in details_of(out, path)
        assert "started " in details_of(out, path)


def test_show_nests_a_subflows_tasks_with_their_paths(mc, jobs_flow):
    url, _ = jobs_flow
    _, out, _ = mc("show", "sweep-flow", "--db", url)
    assert "subflow sweep-flow.analysis (analysis): COMPLETED" in details_of(out, "analysis")
    assert summary_line(out, "analysis/gather").startswith(
        "│   ├── analysis/gather  COMPLETED  noop"
    )
    assert summary_line(out, "analysis/plot").startswith("│   └── analysis/plot  COMPLETED  noop")


def test_show_counts_a_retried_jobs_attempts_and_prints_its_last_error_line(mc, jobs_flow):
    url, jobs_root = jobs_flow
    _, out, _ = mc("show", "sweep-flow", "--db", url)
    assert summary_line(out, "flaky_job").startswith("└── flaky_job  FAILED  job  2 attempts")
    details = details_of(out, "flaky_job")
    assert (
        "error: job 'flaky_job' failed on executor 'local'; exit status 3; stderr: polynomial: asked to fail"
        in details
    )
    assert f"job dir {jobs_root / 'sweep-flow' / 'flaky_job'}.2" in details


def test_show_json_keeps_the_flow_dict(mc, jobs_flow):
    url, _ = jobs_flow
    _, out, _ = mc("show", "sweep-flow", "--db", url, "--json")
    flow_dict = json.loads(out)
    assert [item["outputs"]["y"] for item in flow_dict["tasks"]["sweep"]["data"]["results"]] == [
        1,
        2,
        3,
    ]


def test_show_escapes_control_characters_from_the_flow(mc, sqlite_url):
    with FlowStore(sqlite_url) as store:
        store.create_flow(
            {
                "key": "k\x1b]0;title\x07",
                "label": "l\x1b[31m",
                "tasks": [{"key": "a", "task_type": "noop"}],
            }
        )
    code, out, _ = mc("show", "k", "--db", sqlite_url)
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out
    assert out.splitlines()[0] == "flow k\\x1b]0;title\\x07 (l\\x1b[31m): PENDING"


def run_on_a_terminal(
    args: list[str], python_args: tuple[str, ...] = ("-m", "mc"), exit_code: int = 0
) -> str:
    """Run ``python -m mc ARGS`` with its stdout on a pseudo-terminal; return what it printed."""
    leader, follower = pty.openpty()
    try:
        process = subprocess.run(
            [sys.executable, *python_args, *args],
            cwd=REPO_ROOT,
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
            env={**os.environ, "COLUMNS": "200", "TERM": "xterm-256color"},
        )
        os.close(follower)
        follower = -1
        output = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal is closed and drained
                break
            if not chunk:
                break
            output += chunk
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    assert process.returncode == exit_code, process.stderr
    return output.decode() + process.stderr.decode()


def test_show_on_a_terminal_draws_a_coloured_tree(mc, tmp_path):
    url = f"sqlite:///{tmp_path / 'mc.db'}"
    with FlowStore(url) as store:
        store.create_flow(
            {
                "key": "tty-flow",
                "label": "bad\x1b[2Jlabel",
                "tasks": [
                    {"key": "a", "task_type": "noop"},
                    {"key": "b", "task_type": "noop", "precursors": ["a"]},
                ],
            }
        )
    mc("runner", "--db", url, "--until-done", "--interval", "0.01")
    text = run_on_a_terminal(["show", "tty", "--db", url])
    assert "\x1b[2J" not in text
    assert "bad\\x1b[2Jlabel" in text
    assert "\x1b[32mCOMPLETED" in text  # rich's green
    assert "├── " in text and "└── " in text


WITHOUT_RICH = (
    "-c",
    "import sys; sys.modules['rich'] = None; from mc.cli import main; sys.exit(main(sys.argv[1:]))",
)


def test_show_on_a_terminal_without_rich_prints_the_plain_tree(mc, tmp_path):
    url = f"sqlite:///{tmp_path / 'mc.db'}"
    with FlowStore(url) as store:
        store.create_flow({"key": "plain-flow", "tasks": [{"key": "a", "task_type": "noop"}]})
    text = run_on_a_terminal(["show", "plain", "--db", url], python_args=WITHOUT_RICH)
    assert "flow plain-flow (no label): PENDING" in text
    assert "└── a  PENDING  noop" in text
    assert "\x1b[" not in text


def test_graph_refuses_to_write_png_to_a_terminal(spec_path_for_png):
    text = run_on_a_terminal(["graph", spec_path_for_png, "--format", "png"], exit_code=2)
    assert "mc graph: PNG is binary: give -o FILE.png" in text


@pytest.fixture
def spec_path_for_png(tmp_path):
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(noop_spec()))
    return str(path)
