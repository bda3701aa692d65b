"""Saves write only what changed: the flow's row and the rows of its changed tasks."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from mc.errors import FlowLoadError, StaleFlowError
from mc.flows import Flow, FlowEngine
from mc.store.tables import flows_table, tasks_table


def chain(key: str, n: int) -> dict:
    tasks = [{"key": "t0", "task_type": "noop"}]
    tasks += [
        {"key": f"t{i}", "task_type": "noop", "precursors": [f"t{i - 1}"]} for i in range(1, n)
    ]
    return {"key": key, "tasks": tasks}


class TaskRowWrites:
    """Counts the mc_tasks rows that a block writes (parameter sets of INSERT/UPDATE)."""

    def __init__(self, store):
        self.engine = store._engine
        self.count = 0

    def _listen(self, _conn, _cursor, statement, parameters, _context, executemany):
        if statement.lstrip().upper().startswith(("INSERT INTO MC_TASKS", "UPDATE MC_TASKS")):
            self.count += len(parameters) if executemany else 1

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._listen)
        return self

    def __exit__(self, *exc_info):
        sa.event.remove(self.engine, "before_cursor_execute", self._listen)


def stored_tasks(store, key: str) -> list[tuple[int, str, dict]]:
    with store._engine.connect() as connection:
        rows = connection.execute(
            sa.select(tasks_table.c.position, tasks_table.c.task_key, tasks_table.c.task_json)
            .where(tasks_table.c.flow_key == key)
            .order_by(tasks_table.c.position)
        ).all()
    return [(row.position, row.task_key, json.loads(row.task_json)) for row in rows]


def raw_task_update(store, key: str, position: int, **values) -> None:
    with store._engine.begin() as connection:
        connection.execute(
            sa.update(tasks_table)
            .where(tasks_table.c.flow_key == key, tasks_table.c.position == position)
            .values(values)
        )


def test_each_task_is_a_row_in_flow_order(flow_store):
    flow_store.create_flow(chain("c", 3))
    assert [(position, key) for position, key, _ in stored_tasks(flow_store, "c")] == [
        (0, "t0"),
        (1, "t1"),
        (2, "t2"),
    ]


def test_a_save_writes_only_the_tasks_that_changed(flow_store, engine):
    flow_store.create_flow(chain("big", 200))
    flow = flow_store.get_flow("big")
    engine.tick_flow(flow)
    with TaskRowWrites(flow_store) as writes:
        flow_store.save_flow(flow)
    assert writes.count == 1
    engine.tick_flow(flow)
    engine.tick_flow(flow)
    with TaskRowWrites(flow_store) as writes:
        flow_store.save_flow(flow)
    assert writes.count == 2
    assert flow_store.get_flow("big").to_flow_dict() == flow.to_flow_dict()


def test_a_save_without_changed_tasks_writes_no_task_row(flow_store):
    flow_store.create_flow(chain("c", 3))
    flow = flow_store.get_flow("c")
    flow.data["note"] = "flow data only"
    with TaskRowWrites(flow_store) as writes:
        flow_store.save_flow(flow)
    assert writes.count == 0
    assert flow_store.get_flow("c").data == {"note": "flow data only"}


def test_tasks_added_during_a_tick_become_new_rows(flow_store, engine):
    @engine.register_task_type("grow")
    def grow(task_ctx):
        task_ctx["flow"].add_task({"key": "added", "task_type": "noop", "precursors": ["ROOT"]})
        task_ctx["task"]["status"] = "COMPLETED"

    flow_store.create_flow({"key": "g", "tasks": [{"key": "seed", "task_type": "grow"}]})
    flow = flow_store.get_flow("g")
    engine.tick_flow(flow)
    flow_store.save_flow(flow)
    assert [key for _, key, _ in stored_tasks(flow_store, "g")] == ["seed", "added"]
    loaded = flow_store.get_flow("g")
    engine.run_flow(loaded)
    flow_store.save_flow(loaded)
    assert flow_store.get_flow("g").status == "COMPLETED"


def test_a_refused_save_writes_no_task_row(flow_store, engine):
    flow_store.create_flow(chain("c", 3))
    mine, theirs = flow_store.get_flow("c"), flow_store.get_flow("c")
    flow_store.save_flow(theirs)
    engine.tick_flow(mine)
    with pytest.raises(StaleFlowError):
        flow_store.save_flow(mine)
    assert stored_tasks(flow_store, "c")[0][2]["status"] == "PENDING"


def test_a_flow_edited_by_hand_is_validated_and_then_rewritten_whole(flow_store, engine):
    flow_store.create_flow(chain("c", 3))
    (_, _, task) = stored_tasks(flow_store, "c")[1]
    task["task_params"] = {"edited": True}
    raw_task_update(flow_store, "c", 1, task_json=json.dumps(task))
    flow = flow_store.get_flow("c")
    assert flow.tasks["t1"]["task_params"] == {"edited": True}
    assert flow.changed_task_keys() == ["t0", "t1", "t2"]
    with TaskRowWrites(flow_store) as writes:
        flow_store.save_flow(flow)
    assert writes.count == 3
    assert flow_store.get_flow("c").changed_task_keys() == []


def test_a_task_row_edited_into_nonsense_does_not_load(flow_store):
    flow_store.create_flow(chain("c", 3))
    (_, _, task) = stored_tasks(flow_store, "c")[2]
    task["precursors"] = ["no_such_task"]
    raw_task_update(flow_store, "c", 2, task_json=json.dumps(task))
    with pytest.raises(FlowLoadError, match=r"stored flow 'c'.*tasks\.t2.*'no_such_task'"):
        flow_store.get_flow("c")


def test_a_flow_the_store_wrote_is_loaded_without_validation(flow_store, monkeypatch):
    flow_store.create_flow(chain("c", 3))
    validated = []
    original = Flow.from_flow_dict.__func__

    def spy(cls, flow_dict, copy=True, *, validate=True):
        validated.append(validate)
        return original(cls, flow_dict, copy, validate=validate)

    monkeypatch.setattr(Flow, "from_flow_dict", classmethod(spy))
    flow_store.get_flow("c")
    assert validated == [False]


def test_save_without_release_keeps_the_lease(flow_store, engine):
    flow_store.create_flow(chain("c", 3))
    (flow,) = flow_store.claim(1, lease_s=30, runner_id="r1")
    engine.tick_flow(flow)
    flow_store.save_flow(flow, release=False)
    record = flow_store.get_record("c")
    assert record.lease_owner == "r1"
    assert flow_store.claim(1, lease_s=30, runner_id="r2") == []
    engine.tick_flow(flow)
    flow_store.save_flow(flow)
    assert flow_store.get_record("c").lease_owner is None


def test_renew_leases_extends_only_the_runners_own_leases_without_a_new_version(flow_store, clock):
    flow_store.create_flow(chain("mine", 1))
    flow_store.create_flow(chain("theirs", 1))
    flow_store.claim_flow("mine", lease_s=30, runner_id="r1")
    flow_store.claim_flow("theirs", lease_s=30, runner_id="r2")
    version = flow_store.get_record("mine").version
    clock.advance(20)
    assert flow_store.renew_leases(["mine", "theirs"], 30, "r1") == ["mine"]
    record = flow_store.get_record("mine")
    assert (record.lease_expires_at, record.version) == (clock.now + 30, version)
    assert flow_store.get_record("theirs").lease_expires_at == clock.now - 20 + 30


def test_claim_returns_the_flow_held_in_memory_while_nobody_else_wrote_it(flow_store, engine):
    flow_store.create_flow(chain("c", 3))
    (flow,) = flow_store.claim(1, lease_s=30, runner_id="r1")
    engine.tick_flow(flow)
    flow_store.save_flow(flow)
    (again,) = flow_store.claim(1, lease_s=30, runner_id="r1", in_memory={"c": flow})
    assert again is flow
    engine.tick_flow(again)
    flow_store.save_flow(again)
    assert flow_store.get_flow("c").to_flow_dict() == flow.to_flow_dict()


def test_claim_loads_the_flow_again_once_another_program_wrote_it(flow_store, engine):
    flow_store.create_flow(chain("c", 3))
    (flow,) = flow_store.claim(1, lease_s=30, runner_id="r1")
    flow_store.save_flow(flow)
    other = flow_store.get_flow("c")
    other.data["by"] = "someone else"
    flow_store.save_flow(other)
    (again,) = flow_store.claim(1, lease_s=30, runner_id="r1", in_memory={"c": flow})
    assert again is not flow and again.data == {"by": "someone else"}


def test_delete_flow_deletes_its_task_rows(flow_store):
    flow_store.create_flow(chain("c", 3))
    flow_store.delete_flow("c")
    assert stored_tasks(flow_store, "c") == []
    flow_store.create_flow(chain("c", 2))
    assert len(flow_store.get_flow("c").tasks) == 2


def test_flow_fields_and_tasks_are_stored_apart(flow_store):
    flow_store.create_flow(chain("c", 2))
    with flow_store._engine.connect() as connection:
        fields = json.loads(
            connection.execute(
                sa.select(flows_table.c.flow_json).where(flows_table.c.key == "c")
            ).scalar_one()
        )
    assert "tasks" not in fields and fields["key"] == "c"


def test_a_stored_engine_run_equals_one_in_memory(flow_store):
    spec = chain("c", 4)
    flow_store.create_flow(spec)
    engine, memory = FlowEngine(clock=lambda: 5.0), Flow.from_flow_spec(spec)
    stored = flow_store.get_flow("c")
    while not memory.finished:
        engine.tick_flow(memory)
        engine.tick_flow(stored)
        flow_store.save_flow(stored)
        stored = flow_store.get_flow("c")
        assert stored.to_flow_dict() == memory.to_flow_dict()


def test_a_flow_whose_task_rows_were_renumbered_by_hand_is_saved_whole(flow_store, engine):
    flow_store.create_flow(chain("c", 3))
    with flow_store._engine.begin() as connection:
        connection.execute(
            sa.update(tasks_table)
            .where(tasks_table.c.flow_key == "c", tasks_table.c.position == 2)
            .values(position=7, checksum=None)
        )
    flow = flow_store.get_flow("c")
    flow.mark_saved()  # even so, rows from outside are all rewritten
    engine.tick_flow(flow)
    flow_store.save_flow(flow)
    assert [(position, key) for position, key, _ in stored_tasks(flow_store, "c")] == [
        (0, "t0"),
        (1, "t1"),
        (2, "t2"),
    ]
    assert flow_store.get_flow("c").to_flow_dict() == flow.to_flow_dict()


def test_a_broken_row_with_a_recomputed_checksum_still_fails_to_load_with_a_reason(flow_store):
    from mc.store.flow_store import checksum

    flow_store.create_flow(chain("c", 3))
    (_, _, task) = stored_tasks(flow_store, "c")[2]
    task["precursors"] = ["no_such_task"]
    text = json.dumps(task)
    raw_task_update(flow_store, "c", 2, task_json=text, checksum=checksum(text))
    with pytest.raises(FlowLoadError, match=r"tasks\.t2.*'no_such_task'"):
        flow_store.get_flow("c")


def test_claim_does_not_mistake_a_new_flow_under_the_same_key_for_the_one_in_memory(
    flow_store, engine, clock
):
    flow_store.create_flow(chain("c", 3))
    (flow,) = flow_store.claim(1, lease_s=30, runner_id="r1")
    flow_store.save_flow(flow)  # version 3
    flow_store.delete_flow("c")
    clock.advance(1)
    flow_store.create_flow({**chain("c", 2), "label": "new"})  # version 1
    flow_store.save_flow(flow_store.get_flow("c"))  # version 2
    flow_store.save_flow(flow_store.get_flow("c"))  # version 3, as the flow in memory
    (again,) = flow_store.claim(1, lease_s=30, runner_id="r1", in_memory={"c": flow})
    assert again is not flow and again.label == "new"
