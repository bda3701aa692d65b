"""Cached ``job`` and ``call`` tasks with real local jobs, and the provenance of job dirs."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from mc.errors import FlowError
from mc.flows import Flow, FlowEngine
from mc.flows.cache import MemoryTaskCache
from mc.jobs.job_dir import read_job_meta
from mc.store.cache import SqlTaskCache


def sweep_spec(xs, cache=True, job_type="example_polynomial", **job_params):
    return {
        "data": {"xs": xs},
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
                                "job_type": job_type,
                                "job_params": {"coefficients": [1, -2, 1], **job_params},
                            },
                            "cache": cache,
                        },
                        "wirings": ["ctx.item.value => task_params.job_params.x"],
                    },
                },
            }
        ],
    }


def jobs_run(root: Path) -> int:
    """How many jobs ran under ``root``: each that ended wrote its exit_status."""
    return sum(1 for _ in root.rglob("exit_status"))


def item_tasks(flow: Flow) -> list[dict]:
    child = flow.tasks["sweep"]["proxied_task"]["data"]["flow"]
    return list(child["tasks"].values())


@pytest.fixture
def cache_db(tmp_path):
    with SqlTaskCache(f"sqlite:///{tmp_path / 'cache.db'}") as cache:
        yield cache


def run(spec, root, cache, **engine_args):
    with FlowEngine(cache=cache, **engine_args) as engine:
        return engine.run_flow(
            Flow.from_flow_spec(spec), {"jobs_root": str(root)}, poll_interval_s=0.02
        )


def test_a_sweep_run_twice_computes_each_point_once(tmp_path, cache_db):
    first = run(sweep_spec([0, 1, 2]), tmp_path / "first", cache_db)
    second = run(sweep_spec([0, 1, 2]), tmp_path / "second", cache_db)
    assert jobs_run(tmp_path / "first") == 3
    assert jobs_run(tmp_path / "second") == 0
    assert not (tmp_path / "second").exists()
    assert all("cached_from" in task for task in item_tasks(second))
    assert second.tasks["sweep"]["data"]["results"] == first.tasks["sweep"]["data"]["results"]
    assert [r["outputs"]["y"] for r in second.tasks["sweep"]["data"]["results"]] == [1, 0, 1]


def test_changing_one_point_reruns_only_that_point(tmp_path, cache_db):
    run(sweep_spec([0, 1, 2]), tmp_path / "first", cache_db)
    second = run(sweep_spec([0, 1, 5]), tmp_path / "second", cache_db)
    assert jobs_run(tmp_path / "second") == 1
    assert ["cached_from" in task for task in item_tasks(second)] == [True, True, False]
    assert second.tasks["sweep"]["data"]["results"][2]["outputs"] == {"x": 5, "y": 16}


def test_a_hit_refers_to_the_original_job_dir(tmp_path, cache_db):
    first = run(sweep_spec([1]), tmp_path / "first", cache_db)
    second = run(sweep_spec([1]), tmp_path / "second", cache_db)
    original = item_tasks(first)[0]["data"]["job_dir"]
    assert item_tasks(second)[0]["data"]["job_dir"] == original
    assert item_tasks(second)[0]["cached_from"]["flow"] == f"{first.key}.sweep"


def test_a_hit_holds_no_handle_of_the_original_job(tmp_path, cache_db):
    first = run(sweep_spec([1]), tmp_path / "first", cache_db)
    second = run(sweep_spec([1]), tmp_path / "second", cache_db)
    assert "handle" not in item_tasks(second)[0]["data"]
    assert item_tasks(second)[0]["provenance"]["run"]["job_handle"] == {
        "job_dir": item_tasks(first)[0]["data"]["job_dir"]
    }


def test_a_hit_copies_the_job_dir_when_asked(tmp_path, cache_db):
    policy = {"copy_job_dir": True}
    first = run(sweep_spec([1], cache=policy), tmp_path / "first", cache_db)
    second = run(sweep_spec([1], cache=policy), tmp_path / "second", cache_db)
    data = item_tasks(second)[0]["data"]
    assert data["copied_from_job_dir"] == item_tasks(first)[0]["data"]["job_dir"]
    assert Path(data["job_dir"]).is_relative_to(tmp_path / "second")
    assert (Path(data["job_dir"]) / "work_dir" / "result.json").is_file()


def test_changing_where_a_job_runs_keeps_its_key(tmp_path, cache_db):
    spec = sweep_spec([1])
    run(spec, tmp_path / "first", cache_db)
    spec["tasks"][0]["task_params"]["mapping_params"]["skeleton"]["task_params"]["resources"] = {
        "cores": 2
    }
    run(spec, tmp_path / "second", cache_db)
    assert jobs_run(tmp_path / "second") == 0


def test_failed_jobs_are_not_cached(tmp_path, cache_db):
    with pytest.raises(FlowError):
        run(sweep_spec([1], fail=True), tmp_path / "first", cache_db)
    with pytest.raises(FlowError):
        run(sweep_spec([1], fail=True), tmp_path / "second", cache_db)
    assert jobs_run(tmp_path / "first") == 1
    assert jobs_run(tmp_path / "second") == 1
    assert cache_db.entries() == []


@pytest.fixture
def editable_job_module(tmp_path, monkeypatch):
    """A copy of the polynomial job module in a package of its own, importable as cachejobs.poly."""
    from mc.jobs.examples import polynomial

    package = tmp_path / "modules" / "cachejobs"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    module = package / "poly.py"
    shutil.copy(polynomial.__file__, module)
    monkeypatch.syspath_prepend(str(tmp_path / "modules"))
    yield module
    import sys

    for name in ("cachejobs.poly", "cachejobs"):
        sys.modules.pop(name, None)


def test_editing_the_job_modules_source_invalidates_the_cache(
    tmp_path, cache_db, editable_job_module
):
    spec = sweep_spec([1, 2], job_type="cachejobs.poly")
    run(spec, tmp_path / "first", cache_db, allow_imports=["cachejobs"])
    run(spec, tmp_path / "second", cache_db, allow_imports=["cachejobs"])
    assert jobs_run(tmp_path / "second") == 0
    with editable_job_module.open("a") as source:
        source.write("\n# a fix to the parser\n")
    run(spec, tmp_path / "third", cache_db, allow_imports=["cachejobs"])
    assert jobs_run(tmp_path / "third") == 2


def test_a_new_job_type_version_invalidates_the_cache(tmp_path, cache_db, editable_job_module):
    spec = sweep_spec([1], job_type="cachejobs.poly")
    first = run(spec, tmp_path / "first", cache_db, allow_imports=["cachejobs"])
    import cachejobs.poly

    cachejobs.poly.JOB_TYPE_VERSION = "2"
    second = run(spec, tmp_path / "second", cache_db, allow_imports=["cachejobs"])
    assert jobs_run(tmp_path / "second") == 1
    assert item_tasks(second)[0]["provenance"]["code"]["job_type_version"] == "2"
    assert item_tasks(first)[0]["provenance"]["code"]["job_type_version"] is None


def test_a_jobs_task_record_carries_its_provenance(tmp_path, cache_db):
    flow = run(sweep_spec([1]), tmp_path / "first", cache_db)
    provenance = item_tasks(flow)[0]["provenance"]
    assert provenance["code"]["job_type"] == "example_polynomial"
    assert provenance["code"]["module"] == "mc.jobs.examples.polynomial"
    assert len(provenance["code"]["module_source_sha256"]) == 64
    assert provenance["run"]["executor"] == "local"
    assert provenance["run"]["resources"] == {"cores": 1, "memory_mb": 100, "walltime_s": 60}
    assert provenance["params"]["job_params"] == {"coefficients": [1, -2, 1], "x": 1}
    assert set(provenance) >= {"mc_version", "python", "host", "user", "started_at", "finished_at"}


def test_every_job_dir_carries_its_provenance_in_job_json(tmp_path):
    flow = run(sweep_spec([1]), tmp_path / "first", None)
    job_dir = item_tasks(flow)[0]["data"]["job_dir"]
    provenance = read_job_meta(job_dir)["provenance"]
    assert provenance["job_type"] == "example_polynomial"
    assert provenance["executor"] == "local"
    assert provenance["params"] == {"coefficients": [1, -2, 1], "x": 1}
    assert provenance["job_status"] == "COMPLETED"
    assert provenance["exit_status"] == 0
    assert provenance["task_key"] == "evaluate_0"
    assert set(provenance) >= {
        "mc_version",
        "python",
        "host",
        "user",
        "module_source_sha256",
        "built_at",
        "submitted_at",
        "finished_at",
        "job_id",
        "job_handle",
        "job_type_version",
    }
    assert json.loads((Path(job_dir) / "job.json").read_text())["provenance"] == provenance


def test_a_cached_call_runs_once_and_its_key_names_the_function(tmp_path):
    cache = MemoryTaskCache()
    spec = {
        "tasks": [
            {
                "key": "minimum",
                "task_type": "call",
                "task_params": {
                    "fn": "example_sweep_minimum",
                    "args": [[{"outputs": {"x": 1, "y": 0}}]],
                },
                "cache": True,
            }
        ]
    }
    first = run(spec, tmp_path, cache)
    second = run(spec, tmp_path, cache)
    assert "cached_from" in second.tasks["minimum"]
    assert second.tasks["minimum"]["data"]["result"] == first.tasks["minimum"]["data"]["result"]
    code = first.tasks["minimum"]["provenance"]["code"]
    assert code["fn"] == "mc.jobs.examples.sweep_analysis:find_minimum"
    assert len(code["source_sha256"]) == 64


def test_concurrent_flows_on_postgresql_with_the_same_key_run_the_job_once(tmp_path, postgres_url):
    results: dict[str, Flow] = {}
    barrier = threading.Barrier(2)

    def run_one(name: str) -> None:
        # Each engine has its own cache object and connections, as two hosts would.
        with SqlTaskCache(postgres_url, claim_s=30) as cache:
            barrier.wait()
            results[name] = run(sweep_spec([0, 1, 2]), tmp_path / name, cache)

    threads = [threading.Thread(target=run_one, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert jobs_run(tmp_path / "a") + jobs_run(tmp_path / "b") == 3
    assert results["a"].status == results["b"].status == "COMPLETED"
    assert (
        results["a"].tasks["sweep"]["data"]["results"]
        == results["b"].tasks["sweep"]["data"]["results"]
    )
    hits = [task for flow in results.values() for task in item_tasks(flow) if "cached_from" in task]
    assert len(hits) == 3


def test_a_job_dir_that_cannot_be_written_loses_only_its_provenance_note(tmp_path, caplog):
    from mc.jobs.job_dir import record_job_provenance

    assert record_job_provenance(tmp_path / "gone", executor="local") is False
    assert "could not record its provenance" in caplog.text
