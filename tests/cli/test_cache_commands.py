"""The task cache from the ``mc`` command: ``mc run --cache-db/--no-cache``, ``mc runner``,
``mc cache ls|show|rm|clear`` and ``mc show --provenance``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mc.cli import main
from mc.store.cache import SqlTaskCache

SWEEP = {
    "label": "cached sweep",
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
                            "job_params": {"coefficients": [0, 0, 1]},
                        },
                        "cache": True,
                    },
                    "wirings": ["ctx.item.value => task_params.job_params.x"],
                },
            },
        },
        {
            "key": "minimum",
            "task_type": "call",
            "task_params": {
                "fn": "example_sweep_minimum",
                "args": ["$ctx.flow.tasks.sweep.data.results"],
            },
            "cache": True,
        },
    ],
}


@pytest.fixture
def mc(capsys):
    """Run ``mc ARGS`` in-process; return (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Job dirs, the user cache dir and $MC_DB_URL of each test are its own."""
    monkeypatch.setenv("MC_JOBS_ROOT", str(tmp_path / "jobs"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user_cache"))
    monkeypatch.delenv("MC_DB_URL", raising=False)


@pytest.fixture
def spec_file(tmp_path) -> str:
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(SWEEP))
    return str(path)


def jobs_run(tmp_path: Path) -> int:
    return sum(1 for _ in (tmp_path / "jobs").rglob("exit_status"))


def run_json(mc, *args):
    code, out, err = mc("run", "--json", *args)
    assert code == 0, err
    return json.loads(out)


def items(flow_dict):
    return list(flow_dict["tasks"]["sweep"]["proxied_task"]["data"]["flow"]["tasks"].values())


def test_mc_run_twice_runs_each_job_once_with_the_local_cache(mc, spec_file, tmp_path):
    run_json(mc, spec_file)
    assert jobs_run(tmp_path) == 3
    second = run_json(mc, spec_file)
    assert jobs_run(tmp_path) == 3
    assert all("cached_from" in task for task in items(second))
    assert "cached_from" in second["tasks"]["minimum"]
    assert (tmp_path / "user_cache" / "missioncontrol" / "cache.db").is_file()


def test_the_task_table_says_cached(mc, spec_file):
    mc("run", spec_file)
    code, out, _ = mc("run", spec_file)
    assert code == 0
    minimum_row = next(line for line in out.splitlines() if line.startswith("minimum"))
    assert minimum_row.split() == ["minimum", "call", "COMPLETED", "cached"]


def test_no_cache_reruns_everything(mc, spec_file, tmp_path):
    run_json(mc, spec_file)
    flow = run_json(mc, "--no-cache", spec_file)
    assert jobs_run(tmp_path) == 6
    assert not any("cached_from" in task for task in items(flow))


def test_cache_db_chooses_the_cache(mc, spec_file, tmp_path):
    url = f"sqlite:///{tmp_path / 'mine.db'}"
    run_json(mc, "--cache-db", url, spec_file)
    run_json(mc, spec_file)
    assert jobs_run(tmp_path) == 6
    run_json(mc, "--cache-db", url, spec_file)
    assert jobs_run(tmp_path) == 6


def test_a_flow_without_cached_tasks_never_opens_the_local_cache(mc, tmp_path):
    path = tmp_path / "hello.json"
    path.write_text(
        json.dumps({"tasks": [{"key": "a", "task_type": "print", "task_params": {"msg": "hi"}}]})
    )
    code, out, _ = mc("run", str(path))
    assert code == 0
    assert not (tmp_path / "user_cache").exists()


def test_cache_ls_show_rm_and_clear_work_on_the_local_cache(mc, spec_file, tmp_path):
    run_json(mc, spec_file)
    code, out, _ = mc("cache", "ls")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["KEY", "TYPE", "MADE", "BY"]
    assert sorted(line.split()[1] for line in lines[1:]) == ["call", "job", "job", "job"]
    code, out, _ = mc("cache", "ls", "--json")
    rows = json.loads(out)
    job_key = next(row["key"] for row in rows if row["task_type"] == "job")
    code, out, _ = mc("cache", "show", job_key[:10])
    assert code == 0
    shown = json.loads(out)
    assert shown["key"] == job_key
    assert shown["data"]["outputs"]["y"] in (0, 1, 4)
    assert shown["provenance"]["code"]["job_type"] == "example_polynomial"
    code, out, _ = mc("cache", "rm", job_key[:10])
    assert (code, out.strip()) == (0, f"deleted {job_key}")
    assert len(json.loads(mc("cache", "ls", "--json")[1])) == 3
    run_json(mc, spec_file)
    assert jobs_run(tmp_path) == 4  # only the deleted point ran again
    code, out, _ = mc("cache", "clear", "--older-than", "30d")
    assert "deleted 0 cache entries" in out
    code, out, _ = mc("cache", "clear")
    # The new point has a new job dir, so the minimum's input changed: 5 entries.
    assert "deleted 5 cache entries" in out
    assert json.loads(mc("cache", "ls", "--json")[1]) == []


def test_cache_clear_older_than_keeps_newer_entries(mc, tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    with SqlTaskCache(url) as cache:
        now = cache.clock()
        for key, age in (("a" * 64, 40 * 86400), ("b" * 64, 86400)):
            cache.store(key, {"created_at": now - age, "data": {}, "task_type": "noop"}, "o")
    code, out, _ = mc("cache", "clear", "--cache-db", url, "--older-than", "30d")
    assert code == 0 and "deleted 1 cache entries" in out
    rows = json.loads(mc("cache", "ls", "--cache-db", url, "--json")[1])
    assert [row["key"] for row in rows] == ["b" * 64]


def test_cache_show_of_an_unknown_key_exits_2(mc, tmp_path):
    code, _, err = mc("cache", "show", "--cache-db", f"sqlite:///{tmp_path / 'c.db'}", "abc")
    assert code == 2
    assert "no cache entry has a key starting with 'abc'" in err


def test_cache_commands_read_the_store_given_by_mc_db_url(mc, spec_file, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("MC_DB_URL", url)
    code, key, err = mc("submit", spec_file)
    assert code == 0, err
    assert mc("runner", "--until-done", "--interval", "0.05", "--poll", "0.05")[0] == 0
    rows = json.loads(mc("cache", "ls", "--json")[1])
    assert len(rows) == 4
    assert {row["flow_key"] for row in rows} == {key.strip(), f"{key.strip()}.sweep"}


def test_runners_share_the_stores_cache(mc, spec_file, tmp_path, db_url):
    first = mc("submit", spec_file, "--db", db_url)[1].strip()
    assert (
        mc("runner", "--db", db_url, "--until-done", "--interval", "0.05", "--poll", "0.05")[0] == 0
    )
    second = mc("submit", spec_file, "--db", db_url)[1].strip()
    assert (
        mc("runner", "--db", db_url, "--until-done", "--interval", "0.05", "--poll", "0.05")[0] == 0
    )
    assert jobs_run(tmp_path) == 3
    shown = json.loads(mc("show", second, "--db", db_url, "--json")[1])
    assert shown["status"] == "COMPLETED"
    assert shown["tasks"]["minimum"]["cached_from"]["flow"] == first


def test_runner_no_cache_runs_every_job(mc, spec_file, tmp_path, sqlite_url):
    for _ in range(2):
        mc("submit", spec_file, "--db", sqlite_url)
        assert (
            mc(
                "runner",
                "--db",
                sqlite_url,
                "--no-cache",
                "--until-done",
                "--interval",
                "0.05",
                "--poll",
                "0.05",
            )[0]
            == 0
        )
    assert jobs_run(tmp_path) == 6


CHAIN = {
    "key": "chain",
    "tasks": [
        {"key": "make_xs", "task_type": "noop", "data": {"xs": [1, 2]}},
        {"key": "unrelated", "task_type": "noop", "data": {"z": 1}},
        {
            "key": "publish_xs",
            "task_type": "wire",
            "task_params": {"wirings": ["ctx.flow.tasks.make_xs.data.xs => ctx.flow.data.xs"]},
        },
        {
            "key": "sweep",
            "task_type": "spread",
            "task_params": {
                "items": "$ctx.flow.data.xs",
                "mapping_params": {
                    "skeleton": {"key": "square", "task_type": "noop", "task_params": {"x": None}},
                    "wirings": ["ctx.item.value => task_params.x"],
                },
            },
        },
        {
            "key": "report",
            "task_type": "print",
            "task_params": {"msg": "$ctx.flow.tasks.sweep.data.results"},
        },
    ],
}


@pytest.fixture
def chain_flow(mc, tmp_path, sqlite_url):
    path = tmp_path / "chain.json"
    path.write_text(json.dumps(CHAIN))
    assert mc("submit", str(path), "--db", sqlite_url)[0] == 0
    assert mc("runner", "--db", sqlite_url, "--until-done", "--interval", "0.05")[0] == 0
    return sqlite_url


def test_show_provenance_prints_the_tasks_that_fed_a_result_through_a_wire_and_a_spread(
    mc, chain_flow
):
    code, out, err = mc("show", "--provenance", "chain", "report", "--db", chain_flow)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "provenance of report in flow chain:"
    named = [line.split()[1] for line in lines[1:] if line.lstrip().startswith("<-")]
    assert named == ["sweep", "publish_xs", "make_xs", "sweep/square_0", "sweep/square_1"]
    assert "unrelated" not in out
    assert "via $ctx.flow.tasks.sweep.data.results" in out
    assert "via wiring ctx.flow.tasks.make_xs.data.xs => ctx.flow.data.xs" in out


def test_show_provenance_of_a_spread_item_goes_through_its_spread(mc, chain_flow):
    code, out, _ = mc("show", "--provenance", "ch", "sweep/square_1", "--db", chain_flow, "--json")
    assert code == 0
    chain = json.loads(out)
    assert chain["path"] == "sweep/square_1"
    assert [feeder["path"] for feeder in chain["feeders"]] == ["sweep"]
    assert chain["feeders"][0]["via"] == ["spread item"]
    assert [f["path"] for f in chain["feeders"][0]["feeders"]] == ["publish_xs"]
    assert chain["provenance"]["params"] == {"x": 2}


def test_show_provenance_of_an_unknown_task_exits_2_naming_it(mc, chain_flow):
    code, _, err = mc("show", "--provenance", "chain", "nope", "--db", chain_flow)
    assert code == 2
    assert "has no task 'nope'" in err


def test_show_provenance_needs_a_task(mc, chain_flow):
    code, _, err = mc("show", "--provenance", "chain", "--db", chain_flow)
    assert code == 2
    assert "--provenance needs a TASK" in err


def test_show_says_which_tasks_came_from_the_cache(mc, spec_file, sqlite_url):
    for _ in range(2):
        key = mc("submit", spec_file, "--db", sqlite_url)[1].strip()
        assert (
            mc(
                "runner", "--db", sqlite_url, "--until-done", "--interval", "0.05", "--poll", "0.05"
            )[0]
            == 0
        )
    code, out, _ = mc("show", key, "--db", sqlite_url)
    assert code == 0
    assert out.count("cached from ") == 4


def test_cancel_gives_up_a_cancelled_tasks_claim_at_once(mc, tmp_path, sqlite_url):
    from mc.flows import Flow, FlowEngine
    from mc.store import FlowStore

    spec = {
        "tasks": [
            {
                "key": "wait",
                "task_type": "job",
                "cache": True,
                "task_params": {"job_type": "example_polynomial", "job_params": {"x": 2}},
            }
        ]
    }
    with FlowStore(sqlite_url) as store:
        key = store.create_flow(spec)
        engine = FlowEngine(cache=store.task_cache())
        with store.leased(key, "test") as flow:
            engine.tick_flow(flow, {"jobs_root": str(tmp_path / "jobs")})
            assert "cache_claim" in flow.tasks["wait"]
            store.save_flow(flow)
        code, _, err = mc("cancel", key, "--db", sqlite_url)
        assert code == 0, err
        other = Flow.from_flow_spec(spec)
        engine.tick_flow(other, {"jobs_root": str(tmp_path / "jobs")})
        assert "cache_waiting_for" not in other.tasks["wait"]
        assert "cache_claim" in other.tasks["wait"]
        engine.close()


def local_cache_file(tmp_path: Path) -> Path:
    return tmp_path / "user_cache" / "missioncontrol" / "cache.db"


def test_cache_ls_before_any_run_lists_nothing_and_makes_no_local_cache(mc, tmp_path):
    code, out, _ = mc("cache", "ls", "--json")
    assert (code, json.loads(out)) == (0, [])
    code, out, _ = mc("cache", "ls")
    assert code == 0 and out.startswith("KEY")
    code, out, _ = mc("cache", "clear")
    assert code == 0 and "deleted 0 cache entries" in out
    assert not local_cache_file(tmp_path).exists()
    assert not local_cache_file(tmp_path).parent.exists()


def test_cache_show_and_rm_before_any_run_exit_2_and_make_no_local_cache(mc, tmp_path):
    for action in ("show", "rm"):
        code, _, err = mc("cache", action, "abc")
        assert code == 2
        assert "no cache entry has a key starting with 'abc'" in err
        assert "no local cache yet" in err
    assert not local_cache_file(tmp_path).exists()
