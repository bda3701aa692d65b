"""The engine's task cache: hits, misses, waits, expiry, failures and provenance."""

from __future__ import annotations

import copy

import pytest

from mc.flows import Flow, FlowEngine
from mc.flows.cache import (
    RUNTIME,
    RUNTIME_RECORD,
    MemoryTaskCache,
    cache_key,
    canonical_json,
    is_runtime_record,
    provenance_record,
    task_provenance,
)
from mc.flows.provenance import provenance_chain


class Counter:
    """A task type that counts its runs: it completes with data {'y': 2 * x}."""

    def __init__(self, ticks_to_finish: int = 1) -> None:
        self.runs: list[object] = []
        self.ticks_to_finish = ticks_to_finish

    def __call__(self, task_ctx):
        task = task_ctx["task"]
        ticks = task["data"].get("ticks", 0) + 1
        task["data"]["ticks"] = ticks
        if ticks == 1:
            self.runs.append(task["task_params"].get("x"))
        if task["task_params"].get("fail"):
            task["status"] = "FAILED"
            task["error"] = "asked to fail"
            return
        if ticks >= self.ticks_to_finish:
            task["data"]["y"] = 2 * task["task_params"]["x"]
            task["status"] = "COMPLETED"


@pytest.fixture
def counter():
    return Counter()


@pytest.fixture
def task_cache():
    return MemoryTaskCache(claim_s=60)


@pytest.fixture
def caching_engine(clock, counter, task_cache):
    return FlowEngine({"double": counter}, clock=clock, cache=task_cache)


def double_flow(x=3, cache=True, key=None, **params):
    return Flow.from_flow_spec(
        {
            "key": key,
            "tasks": [
                {
                    "key": "d",
                    "task_type": "double",
                    "task_params": {"x": x, **params},
                    "cache": cache,
                }
            ],
        }
    )


def test_a_second_flow_with_the_same_inputs_completes_from_the_cache(caching_engine, counter):
    first = caching_engine.run_flow(double_flow(key="first"))
    second = caching_engine.run_flow(double_flow(key="second"))
    assert counter.runs == [3]
    assert second.tasks["d"]["data"]["y"] == 6
    assert second.tasks["d"]["cached_from"] == {
        "flow": "first",
        "task": "d",
        "at": first.tasks["d"]["finished_at"],
    }
    assert second.tasks["d"]["cache_key"] == first.tasks["d"]["cache_key"]


def test_a_hit_is_told_as_a_completion_naming_the_task_that_made_the_result(
    clock, counter, task_cache
):
    seen = []
    engine = FlowEngine({"double": counter}, clock=clock, cache=task_cache, on_event=seen.append)
    engine.run_flow(double_flow(key="first"))
    engine.run_flow(double_flow(key="second"))
    completions = [(e.flow_key, e.cached_from) for e in seen if e.event == "task_completed"]
    assert completions == [("first", None), ("second", "first/d")]
    (hit,) = [e for e in seen if e.event == "task_completed" and e.cached_from]
    assert hit.to_json_dict()["cached_from"] == "first/d"


def test_other_params_make_another_key_and_run(caching_engine, counter):
    caching_engine.run_flow(double_flow(3))
    caching_engine.run_flow(double_flow(4))
    assert counter.runs == [3, 4]


def test_interpolated_params_count_as_resolved(caching_engine, counter):
    def flow_reading(x):
        return Flow.from_flow_spec(
            {
                "data": {"x": x},
                "tasks": [
                    {
                        "key": "d",
                        "task_type": "double",
                        "task_params": {"x": "$ctx.flow.data.x"},
                        "cache": True,
                    }
                ],
            }
        )

    caching_engine.run_flow(flow_reading(5))
    caching_engine.run_flow(flow_reading(5))
    caching_engine.run_flow(flow_reading(6))
    assert counter.runs == [5, 6]


def test_a_task_without_a_cache_policy_always_runs(caching_engine, counter):
    caching_engine.run_flow(double_flow(cache=None))
    caching_engine.run_flow(double_flow(cache=None))
    assert counter.runs == [3, 3]


def test_an_engine_without_a_cache_runs_every_task(clock, counter):
    engine = FlowEngine({"double": counter}, clock=clock)
    engine.run_flow(double_flow())
    flow = engine.run_flow(double_flow())
    assert counter.runs == [3, 3]
    assert "cache_key" not in flow.tasks["d"]


def test_failed_results_are_not_cached(caching_engine, counter, task_cache):
    with pytest.raises(Exception):
        caching_engine.run_flow(double_flow(fail=True))
    with pytest.raises(Exception):
        caching_engine.run_flow(double_flow(fail=True))
    assert counter.runs == [3, 3]
    assert task_cache.entries() == []


def test_an_expired_entry_reruns(caching_engine, counter, clock):
    caching_engine.run_flow(double_flow(cache={"expire_s": 100}))
    clock.advance(99)
    caching_engine.run_flow(double_flow(cache={"expire_s": 100}))
    assert counter.runs == [3]
    clock.advance(2)
    flow = caching_engine.run_flow(double_flow(cache={"expire_s": 100}))
    assert counter.runs == [3, 3]
    assert "cached_from" not in flow.tasks["d"]


def test_a_shorter_expiry_of_the_reader_reruns_an_older_entry(caching_engine, counter, clock):
    caching_engine.run_flow(double_flow())
    clock.advance(50)
    caching_engine.run_flow(double_flow(cache={"expire_s": 10}))
    assert counter.runs == [3, 3]


def test_a_new_cache_version_reruns(caching_engine, counter):
    caching_engine.run_flow(double_flow(cache={"cache_version": 1}))
    caching_engine.run_flow(double_flow(cache={"cache_version": 1}))
    caching_engine.run_flow(double_flow(cache={"cache_version": 2}))
    assert counter.runs == [3, 3]


def test_key_paths_pick_the_params_that_count(caching_engine, counter):
    policy = {"key": ["task_params.x"]}
    caching_engine.run_flow(double_flow(3, cache=policy, note="first"))
    flow = caching_engine.run_flow(double_flow(3, cache=policy, note="second"))
    assert counter.runs == [3]
    assert "cached_from" in flow.tasks["d"]


def test_a_key_path_that_does_not_resolve_fails_the_task(caching_engine, counter):
    with pytest.raises(Exception):
        caching_engine.run_flow(double_flow(cache={"key": ["task_params.nothing"]}))
    flow = caching_engine.run_flow(double_flow(cache={"key": ["task_params.x"]}))
    assert flow.status == "COMPLETED"


def test_a_key_path_error_names_the_policy(caching_engine):
    flow = double_flow(cache={"key": ["task_params.nothing"]})
    caching_engine.tick_flow(flow)
    assert flow.tasks["d"]["status"] == "FAILED"
    assert flow.tasks["d"]["error"].startswith("cache.key: ")


def test_a_flow_with_the_same_key_running_waits_and_then_takes_the_result(clock, task_cache):
    slow = Counter(ticks_to_finish=3)
    engine = FlowEngine({"double": slow}, clock=clock, cache=task_cache)
    first, second = double_flow(key="first"), double_flow(key="second")
    engine.tick_flow(first)
    engine.tick_flow(second)
    assert second.tasks["d"]["status"] == "RUNNING"
    assert second.tasks["d"]["cache_waiting_for"].startswith("first/d#")
    engine.tick_flow(second)
    engine.run_flow(first)
    engine.run_flow(second)
    assert slow.runs == [3]
    assert second.tasks["d"]["cached_from"]["flow"] == "first"
    assert "cache_waiting_for" not in second.tasks["d"]


def test_a_waiter_runs_the_key_itself_once_the_holders_claim_expires(clock, task_cache):
    slow = Counter(ticks_to_finish=3)
    engine = FlowEngine({"double": slow}, clock=clock, cache=task_cache)
    abandoned, second = double_flow(key="abandoned"), double_flow(key="second")
    engine.tick_flow(abandoned)  # then its runner dies: nobody ticks it again
    engine.tick_flow(second)
    assert "cache_waiting_for" in second.tasks["d"]
    clock.advance(61)
    engine.run_flow(second)
    assert slow.runs == [3, 3]
    assert "cached_from" not in second.tasks["d"]


def test_a_holder_renews_its_claim_while_it_runs(clock, task_cache):
    slow = Counter(ticks_to_finish=5)
    engine = FlowEngine({"double": slow}, clock=clock, cache=task_cache)
    first, second = double_flow(key="first"), double_flow(key="second")
    for _ in range(3):
        engine.tick_flow(first)
        clock.advance(40)
    engine.tick_flow(second)
    assert "cache_waiting_for" in second.tasks["d"]


def test_a_failed_holder_releases_its_claim_so_a_waiter_runs_at_once(clock, task_cache):
    slow = Counter(ticks_to_finish=2)
    engine = FlowEngine({"double": slow}, clock=clock, cache=task_cache)
    failing = Flow.from_flow_spec(
        {
            "key": "failing",
            "tasks": [
                {
                    "key": "d",
                    "task_type": "double",
                    "task_params": {"x": 3},
                    "cache": {"key": ["task_params.x"]},
                    "timeout_s": 5,
                }
            ],
        }
    )
    waiting = double_flow(key="waiting", cache={"key": ["task_params.x"]})
    engine.tick_flow(failing)
    engine.tick_flow(waiting)
    clock.advance(10)
    engine.tick_flow(failing)  # timed out: FAILED, claim released
    assert failing.tasks["d"]["status"] == "FAILED"
    engine.tick_flow(waiting)
    assert "cache_waiting_for" not in waiting.tasks["d"]
    engine.run_flow(waiting)
    assert slow.runs == [3, 3]


def test_every_completed_task_records_its_provenance(engine, clock):
    flow = engine.run_flow(
        Flow.from_flow_spec(
            {
                "data": {"who": "lab"},
                "tasks": [
                    {"key": "p", "task_type": "noop", "task_params": {"msg": "$ctx.flow.data.who"}}
                ],
            }
        )
    )
    provenance = flow.tasks["p"]["provenance"]
    assert provenance["params"] == {"msg": "lab"}
    assert provenance["task_type"] == "noop"
    assert provenance["started_at"] == flow.tasks["p"]["started_at"]
    assert provenance["finished_at"] == flow.tasks["p"]["finished_at"]
    assert set(provenance) >= {"mc_version", "python", "host", "user"}


def test_a_task_without_params_records_only_where_it_ran_and_readers_show_it_whole(engine):
    flow = engine.run_flow(
        Flow.from_flow_spec(
            {"tasks": [{"key": "p", "task_type": "noop"}, {"key": "q", "task_type": "noop"}]}
        )
    )
    task = flow.tasks["p"]
    provenance = task["provenance"]
    # The one shared record of this process: the runtime fields alone, no
    # record of its own per task.
    assert provenance is RUNTIME_RECORD is flow.tasks["q"]["provenance"]
    assert dict(provenance) == RUNTIME
    assert is_runtime_record(provenance)
    whole = {
        **RUNTIME,
        "task_type": "noop",
        "started_at": task["started_at"],
        "finished_at": task["finished_at"],
        "params": {},
    }
    assert task_provenance(task) == whole
    # Stored and loaded again, it is a plain dict that readers read the same way.
    stored = flow.to_flow_dict()
    assert stored["tasks"]["p"]["provenance"] == RUNTIME
    assert is_runtime_record(stored["tasks"]["p"]["provenance"])
    assert task_provenance(stored["tasks"]["p"]) == whole
    assert provenance_chain(stored, "p").to_dict()["provenance"] == whole


def test_the_shared_runtime_record_is_read_only_and_copies_to_a_plain_dict():
    for write in (
        lambda r: r.__setitem__("host", "elsewhere"),
        lambda r: r.update(host="elsewhere"),
        lambda r: r.pop("host"),
        lambda r: r.setdefault("x", 1),
        lambda r: r.clear(),
        lambda r: r.popitem(),
        lambda r: r.__delitem__("host"),
    ):
        with pytest.raises(TypeError, match="read-only"):
            write(RUNTIME_RECORD)
    assert dict(RUNTIME_RECORD) == RUNTIME
    for copied in (RUNTIME_RECORD.copy(), copy.deepcopy(RUNTIME_RECORD), copy.copy(RUNTIME_RECORD)):
        assert type(copied) is dict and copied == RUNTIME
        copied["host"] = "elsewhere"
    assert RUNTIME_RECORD["host"] == RUNTIME["host"]


def test_a_failed_task_without_params_keeps_the_shared_record_and_its_own_times(clock):
    def fail(task_ctx):
        task_ctx["task"]["status"] = "FAILED"
        clock.advance(3)

    engine = FlowEngine({"fail": fail}, clock=clock)
    flow = Flow.from_flow_spec({"tasks": [{"key": "f", "task_type": "fail"}]})
    engine.tick_flow(flow)
    task = flow.tasks["f"]
    assert task["status"] == "FAILED"
    assert task["provenance"] is RUNTIME_RECORD
    assert task_provenance(task)["finished_at"] == task["finished_at"] is not None


def test_a_run_record_makes_the_runtime_record_whole_keeping_where_the_attempt_started(clock):
    def two_ticks(task_ctx):
        task = task_ctx["task"]
        task["data"]["ticks"] = task["data"].get("ticks", 0) + 1
        if task["data"]["ticks"] == 2:
            task["status"] = "COMPLETED"

    two_ticks.run_record = lambda task_ctx: {"executor": "elsewhere", "job_id": "42"}
    engine = FlowEngine({"two_ticks": two_ticks}, clock=clock)
    flow = Flow.from_flow_spec({"tasks": [{"key": "t", "task_type": "two_ticks"}]})
    engine.tick_flow(flow)
    # Stored after its first tick; another host, as another user, completes it.
    stored = flow.to_flow_dict()
    assert stored["tasks"]["t"]["provenance"] == RUNTIME
    stored["tasks"]["t"]["provenance"].update(host="host-a", user="alice")
    flow = Flow.from_flow_dict(stored)
    clock.advance(5)
    engine.tick_flow(flow)
    task = flow.tasks["t"]
    assert task["status"] == "COMPLETED"
    assert task["provenance"] == {
        **RUNTIME,
        "host": "host-a",
        "user": "alice",
        "task_type": "two_ticks",
        "started_at": task["started_at"],
        "finished_at": task["finished_at"],
        "run": {"executor": "elsewhere", "job_id": "42"},
    }
    assert RUNTIME_RECORD["host"] == RUNTIME["host"]


def test_a_cancelled_task_records_when_it_ended_in_either_kind_of_record(clock):
    engine = FlowEngine({"wait": lambda task_ctx: None}, clock=clock)
    flow = Flow.from_flow_spec(
        {
            "tasks": [
                {"key": "bare", "task_type": "wait", "precursors": []},
                {
                    "key": "with_params",
                    "task_type": "wait",
                    "task_params": {"x": 1},
                    "precursors": [],
                },
            ]
        }
    )
    engine.tick_flow(flow)
    clock.advance(7)
    engine.cancel_flow(flow, "enough")
    for key in ("bare", "with_params"):
        task = flow.tasks[key]
        assert task["status"] == "FAILED"
        assert task_provenance(task)["finished_at"] == task["finished_at"] == clock()
    assert flow.tasks["bare"]["provenance"] is RUNTIME_RECORD


def test_task_provenance_is_a_copy_that_changes_nothing_in_the_task(engine):
    flow = engine.run_flow(
        Flow.from_flow_spec(
            {
                "tasks": [
                    {"key": "p", "task_type": "noop", "task_params": {"x": 1}},
                    {"key": "q", "task_type": "noop"},
                ]
            }
        )
    )
    for key in ("p", "q"):
        whole = task_provenance(flow.tasks[key])
        assert whole is not flow.tasks[key]["provenance"]
        whole["host"] = "elsewhere"
        assert flow.tasks[key]["provenance"]["host"] == RUNTIME["host"]
    assert task_provenance({"key": "never_started"}) is None


def test_a_cache_entry_of_a_task_without_params_records_them_empty(clock, task_cache):
    engine = FlowEngine(clock=clock, cache=task_cache)
    engine.run_flow(
        Flow.from_flow_spec({"tasks": [{"key": "p", "task_type": "noop", "cache": True}]})
    )
    [entry] = task_cache.entries()
    assert entry["provenance"]["params"] == {}


def test_a_hit_carries_the_provenance_of_the_task_that_made_the_result(caching_engine, clock):
    first = caching_engine.run_flow(double_flow(key="first"))
    clock.advance(10)
    second = caching_engine.run_flow(double_flow(key="second"))
    assert second.tasks["d"]["provenance"] == first.tasks["d"]["provenance"]


def test_provenance_never_records_the_environment(engine, monkeypatch):
    monkeypatch.setenv("MC_TEST_SECRET", "hunter2")
    flow = engine.run_flow(Flow.from_flow_spec({"tasks": [{"key": "p", "task_type": "noop"}]}))
    assert "hunter2" not in canonical_json(flow.tasks["p"]["provenance"])


def test_a_cached_flow_survives_a_json_round_trip_between_ticks(clock, task_cache):
    slow = Counter(ticks_to_finish=3)
    engine = FlowEngine({"double": slow}, clock=clock, cache=task_cache)
    flow = double_flow(key="first")
    while not flow.finished:
        engine.tick_flow(flow)
        flow = Flow.from_flow_dict(flow.to_flow_dict())
    second = engine.run_flow(double_flow(key="second"))
    assert slow.runs == [3]
    assert second.tasks["d"]["data"]["y"] == 6


def test_cache_key_is_the_sha256_of_the_canonical_document():
    import hashlib

    document = (
        '{"cache_version":null,"code":{"fn":"m:f"},"format":1,"params":{"x":1},"task_type":"call"}'
    )
    assert (
        cache_key("call", {"x": 1}, {"fn": "m:f"}) == hashlib.sha256(document.encode()).hexdigest()
    )


def test_cache_key_does_not_depend_on_dict_order():
    assert cache_key("t", {"a": 1, "b": [1, {"c": 2, "d": 3}]}) == cache_key(
        "t", {"b": [1, {"d": 3, "c": 2}], "a": 1}
    )


def test_provenance_record_keeps_code_and_run():
    record = provenance_record(
        {"task_type": "job", "started_at": 1.0},
        {"x": 1},
        2.0,
        {"job_type": "j"},
        {"executor": "local"},
    )
    assert record["code"] == {"job_type": "j"}
    assert record["run"] == {"executor": "local"}


def test_the_flow_tree_names_a_waiting_task_and_a_cached_one(clock, task_cache):
    from mc.flows.tree import build_flow_tree

    slow = Counter(ticks_to_finish=3)
    engine = FlowEngine({"double": slow}, clock=clock, cache=task_cache)
    first, second = double_flow(key="first"), double_flow(key="second")
    engine.tick_flow(first)
    engine.tick_flow(second)
    waiting = build_flow_tree(second.to_flow_dict()).tasks[0]
    assert waiting.cache_waiting_for.startswith("first/d#")
    engine.run_flow(first)
    engine.run_flow(second)
    assert build_flow_tree(second.to_flow_dict()).tasks[0].cached_from == "first/d"


def test_a_failed_task_keeps_the_provenance_of_its_last_attempt(caching_engine):
    flow = double_flow(fail=True)
    with pytest.raises(Exception):
        caching_engine.run_flow(flow)
    provenance = flow.tasks["d"]["provenance"]
    assert provenance["finished_at"] == flow.tasks["d"]["finished_at"]
    assert provenance["params"] == {"x": 3, "fail": True}


def test_params_that_are_not_json_fail_a_cached_task_not_the_tick(caching_engine):
    flow = Flow.from_flow_spec(
        {
            "tasks": [
                {"key": "odd", "task_type": "noop"},
                {
                    "key": "d",
                    "task_type": "double",
                    "task_params": {"x": "$ctx.flow.tasks.odd.data.values"},
                    "cache": True,
                },
            ]
        }
    )
    caching_engine.tick_flow(flow)
    flow.tasks["odd"]["data"]["values"] = {1, 2}  # as a careless handler might leave
    caching_engine.tick_flow(flow)
    caching_engine.tick_flow(flow)
    assert flow.tasks["d"]["status"] == "FAILED"
    assert "not JSON" in flow.tasks["d"]["error"]
