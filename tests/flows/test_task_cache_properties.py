"""Any interleaving of flows that share a cache key runs the key's work once."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mc.flows import Flow, FlowEngine
from mc.flows.cache import MemoryTaskCache


class SlowDouble:
    """Completes after ``ticks`` ticks with {'y': 2 * x}; counts its first ticks."""

    def __init__(self, ticks: int) -> None:
        self.ticks = ticks
        self.runs = 0

    def __call__(self, task_ctx):
        task = task_ctx["task"]
        done = task["data"].get("ticks", 0) + 1
        task["data"]["ticks"] = done
        if done == 1:
            self.runs += 1
        if done >= self.ticks:
            task["data"]["y"] = 2 * task["task_params"]["x"]
            task["status"] = "COMPLETED"


@settings(max_examples=60, deadline=None)
@given(
    n_flows=st.integers(2, 4),
    ticks=st.integers(1, 4),
    schedule=st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=1, max_size=40),
)
def test_flows_sharing_a_key_run_its_work_once_whatever_the_order_of_ticks(
    n_flows, ticks, schedule
):
    handler = SlowDouble(ticks)
    engine = FlowEngine({"double": handler}, clock=lambda: 1000.0, cache=MemoryTaskCache())
    flows = [
        Flow.from_flow_spec(
            {
                "key": f"f{i}",
                "tasks": [
                    {"key": "d", "task_type": "double", "task_params": {"x": 21}, "cache": True}
                ],
            }
        )
        for i in range(n_flows)
    ]
    # Tick in the drawn order, sometimes through a JSON round trip.
    for index, round_trip in schedule:
        index %= n_flows
        if round_trip:
            flows[index] = Flow.from_flow_dict(flows[index].to_flow_dict())
        engine.tick_flow(flows[index])
    # A waiter waits for the holder, so tick them all, round robin.
    for _ in range(10 * n_flows * ticks):
        for flow in flows:
            engine.tick_flow(flow)
    assert all(flow.status == "COMPLETED" for flow in flows)
    assert handler.runs == 1
    assert {flow.tasks["d"]["data"]["y"] for flow in flows} == {42}
    assert sum("cached_from" not in flow.tasks["d"] for flow in flows) == 1
