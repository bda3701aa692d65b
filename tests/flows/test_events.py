"""Events: ``FlowEngine(on_event=...)`` tells every transition, with task paths from the top flow."""

from __future__ import annotations

import json

from mc.flows import COMPLETED, FAILED, FlowEngine
from mc.flows.events import FlowEvent, JsonLinesEventWriter


def flaky(task_ctx):
    """Fails on its first attempt, completes on the next."""
    task = task_ctx["task"]
    if not task["data"].get("attempts"):
        raise RuntimeError("first attempt fails")
    task["status"] = COMPLETED


def square(task_ctx):
    task = task_ctx["task"]
    x = task["task_params"]["x"]
    if x < 0:
        raise ValueError(f"negative item {x}")
    task["data"] = {"square": x * x}
    task["status"] = COMPLETED


def sweep_spec(items):
    """A flow with a retried task, a spread of squares, a subflow, and a task after the spread."""
    return {
        "key": "k1",
        "label": "sweep run",
        "cfg": {"fail_fast": False},
        "tasks": [
            {"key": "prepare", "task_type": "flaky", "retries": 1},
            {
                "key": "sweep",
                "task_type": "spread",
                "precursors": ["prepare"],
                "task_params": {
                    "items": items,
                    "fail_fast": False,
                    "mapping_params": {
                        "skeleton": {"key": "evaluate", "task_type": "square"},
                        "wirings": ["ctx.item.value => task_params.x"],
                    },
                },
            },
            {
                "key": "sub",
                "task_type": "flow",
                "precursors": ["prepare"],
                "task_params": {"flow_spec": {"tasks": [{"key": "inner", "task_type": "noop"}]}},
            },
            {"key": "report", "task_type": "noop", "precursors": ["sweep"]},
        ],
    }


def recording_engine(clock):
    seen: list[FlowEvent] = []
    engine = FlowEngine(clock=clock, on_event=seen.append)
    engine.register_task_type("flaky", flaky)
    engine.register_task_type("square", square)
    return engine, seen


def summary(events):
    return [(e.event, e.task_key, e.status) for e in events]


def test_events_of_a_run_come_in_order_with_paths_into_spreads_and_subflows(clock):
    engine, seen = recording_engine(clock)
    flow = engine.flow_spec_to_flow(sweep_spec([1, -2]))
    for _ in range(20):
        if flow.finished:
            break
        engine.tick_flow(flow)
    assert flow.status == FAILED
    assert summary(seen) == [
        ("flow_started", None, "RUNNING"),
        ("task_started", "prepare", "RUNNING"),
        ("task_retrying", "prepare", "PENDING"),
        ("task_started", "prepare", "RUNNING"),
        ("task_completed", "prepare", "COMPLETED"),
        ("task_started", "sweep", "RUNNING"),
        ("task_started", "sub", "RUNNING"),
        ("task_started", "sweep/evaluate_0", "RUNNING"),
        ("task_started", "sweep/evaluate_1", "RUNNING"),
        ("task_completed", "sweep/evaluate_0", "COMPLETED"),
        ("task_failed", "sweep/evaluate_1", "FAILED"),
        ("task_failed", "sweep", "FAILED"),
        ("task_skipped", "report", "SKIPPED"),
        ("task_started", "sub/inner", "RUNNING"),
        ("task_completed", "sub/inner", "COMPLETED"),
        ("task_completed", "sub", "COMPLETED"),
        ("flow_ended", None, "FAILED"),
    ]
    assert {(e.flow_key, e.flow_label) for e in seen} == {("k1", "sweep run")}


def test_retry_and_failure_events_carry_error_and_attempt(clock):
    engine, seen = recording_engine(clock)
    flow = engine.flow_spec_to_flow(sweep_spec([-1]))
    for _ in range(20):
        if flow.finished:
            break
        engine.tick_flow(flow)
    retrying = next(e for e in seen if e.event == "task_retrying")
    assert (retrying.attempt, retrying.error) == (1, "RuntimeError: first attempt fails")
    assert retrying.retry_at == clock.now
    failed = next(e for e in seen if e.event == "task_failed")
    assert failed.task_key == "sweep/evaluate_0"
    assert failed.error == "ValueError: negative item -1"


def test_fail_fast_ends_the_flow_with_one_flow_ended_event(clock):
    engine, seen = recording_engine(clock)
    spec = {
        "tasks": [
            {"key": "bad", "task_type": "square", "task_params": {"x": -1}},
            {"key": "after", "task_type": "noop", "precursors": ["bad"]},
        ]
    }
    flow = engine.flow_spec_to_flow(spec)
    engine.tick_flow(flow)
    assert summary(seen)[-3:] == [
        ("task_failed", "bad", "FAILED"),
        ("task_skipped", "after", "SKIPPED"),
        ("flow_ended", None, "FAILED"),
    ]


def test_cancel_flow_tells_failed_skipped_and_ended(clock):
    engine, seen = recording_engine(clock)
    engine.register_task_type("forever", lambda ctx: None)
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {"key": "wait", "task_type": "forever"},
                {"key": "next", "task_type": "noop", "precursors": ["wait"]},
            ]
        }
    )
    engine.tick_flow(flow)
    engine.cancel_flow(flow, "operator")
    assert summary(seen)[-3:] == [
        ("task_failed", "wait", "FAILED"),
        ("task_skipped", "next", "SKIPPED"),
        ("flow_ended", None, "FAILED"),
    ]
    assert seen[-1].error == "cancelled: operator"


def test_a_raising_callback_never_breaks_the_flow(clock, caplog):
    def broken(event):
        raise OSError("webhook down")

    engine = FlowEngine(clock=clock, on_event=broken)
    flow = engine.run_flow(engine.flow_spec_to_flow({"tasks": [{"key": "a", "task_type": "noop"}]}))
    assert flow.status == COMPLETED
    assert "on_event callback raised" in caplog.text


def test_event_json_has_iso_time_and_the_named_fields(tmp_path):
    path = tmp_path / "events.jsonl"
    with JsonLinesEventWriter(str(path)) as write:
        write(
            FlowEvent(
                time=0.25,
                event="task_retrying",
                flow_key="k",
                flow_label=None,
                task_key="s/e_1",
                status="PENDING",
                error="boom",
                attempt=1,
                retry_at=60.0,
            )
        )
    (line,) = path.read_text().splitlines()
    assert json.loads(line) == {
        "time": "1970-01-01T00:00:00.250+00:00",
        "event": "task_retrying",
        "flow_key": "k",
        "flow_label": None,
        "task_key": "s/e_1",
        "status": "PENDING",
        "error": "boom",
        "attempt": 1,
        "retry_at": "1970-01-01T00:01:00.000+00:00",
    }


def test_without_a_callback_a_run_ends_the_same(clock):
    engine, seen = recording_engine(clock)
    quiet = FlowEngine(clock=clock)
    quiet.register_task_type("flaky", flaky)
    quiet.register_task_type("square", square)
    told = engine.flow_spec_to_flow(sweep_spec([1, 2]))
    untold = quiet.flow_spec_to_flow(sweep_spec([1, 2]))
    while not (told.finished and untold.finished):
        engine.tick_flow(told)
        quiet.tick_flow(untold)
    assert told.to_flow_dict() == untold.to_flow_dict()


def test_threads_ticking_flows_on_one_engine_keep_their_own_paths():
    import threading

    seen: list[FlowEvent] = []
    lock = threading.Lock()

    def record(event):
        with lock:
            seen.append(event)

    engine = FlowEngine(on_event=record)
    engine.register_task_type("square", square)

    def run(key):
        spec = {
            "key": key,
            "tasks": [
                {
                    "key": f"spread_{key}",
                    "task_type": "spread",
                    "task_params": {
                        "items": list(range(20)),
                        "mapping_params": {
                            "skeleton": {"key": "sq", "task_type": "square"},
                            "wirings": ["ctx.item.value => task_params.x"],
                        },
                    },
                }
            ],
        }
        engine.run_flow(engine.flow_spec_to_flow(spec))

    threads = [threading.Thread(target=run, args=(key,)) for key in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    task_events = [e for e in seen if e.task_key is not None]
    assert len(task_events) == 3 * (2 + 2 * 20)
    assert all(e.task_key.split("/")[0] == f"spread_{e.flow_key}" for e in task_events)
