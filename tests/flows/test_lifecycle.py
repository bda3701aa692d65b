"""The seed's lifecycle: spec, flow, ticks until the end."""

from mc.flows import flow_spec_to_flow, tick_flow

SEED_SPEC = {
    "label": "example_flow",
    "tasks": [
        {"key": "task_1", "task_type": "print", "task_params": {"msg": "I am task_1."}},
        {"key": "task_2", "task_type": "print", "task_params": {"msg": "I am task_2."}},
    ],
}


def test_seed_lifecycle_prints_in_order_and_completes(capsys):
    flow = flow_spec_to_flow(SEED_SPEC)
    while flow.status not in {"FAILED", "COMPLETED"}:
        tick_flow(flow)
    assert capsys.readouterr().out == "I am task_1.\nI am task_2.\n"
    assert flow.status == "COMPLETED"
    assert [t["status"] for t in flow.tasks.values()] == ["COMPLETED", "COMPLETED"]
