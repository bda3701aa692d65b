"""FlowStore on real databases: a SQLite file and a PostgreSQL schema."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from mc.errors import (
    FlowExistsError,
    FlowNotFoundError,
    FlowSpecError,
    StaleFlowError,
    StoreError,
)
from mc.flows import Flow, FlowEngine
from mc.store import FlowStore, default_db_url
from mc.store.tables import flows_table


def spec(label: str = "demo", n: int = 2, **extra) -> dict:
    tasks = [{"key": f"t{i}", "task_type": "noop"} for i in range(n)]
    return {"label": label, "tasks": tasks, **extra}


def raw_update(store: FlowStore, key: str, **values) -> None:
    """Change a row behind the store's back, as another program might."""
    with store._engine.begin() as connection:
        connection.execute(sa.update(flows_table).where(flows_table.c.key == key).values(values))


# -- create, get, save ---------------------------------------------------------


def test_create_flow_from_spec_returns_key_that_get_flow_loads(flow_store):
    key = flow_store.create_flow(spec(key="my_flow"))
    assert key == "my_flow"
    flow = flow_store.get_flow(key)
    assert (flow.key, flow.label, flow.status, list(flow.tasks)) == (
        "my_flow",
        "demo",
        "PENDING",
        ["t0", "t1"],
    )


def test_create_flow_from_flow_object_stores_parent_key_and_depth(flow_store):
    flow = Flow.from_flow_spec(spec())
    flow.parent_key, flow.depth = "the_parent", 2
    flow_store.create_flow(flow)
    record = flow_store.get_record(flow.key)
    assert (record.parent_key, record.depth, record.num_tasks) == ("the_parent", 2, 2)


def test_create_flow_with_bad_spec_raises_with_path_and_stores_nothing(flow_store):
    with pytest.raises(FlowSpecError, match=r"tasks\[0\]"):
        flow_store.create_flow({"tasks": [{"key": "a"}]})
    assert flow_store.query() == []


def test_create_flow_with_taken_key_raises_flow_exists(flow_store):
    flow_store.create_flow(spec(key="same"))
    with pytest.raises(FlowExistsError, match="'same'"):
        flow_store.create_flow(spec(key="same", label="other"))
    assert flow_store.get_flow("same").label == "demo"


def test_get_flow_of_unknown_key_raises_not_found(flow_store):
    with pytest.raises(FlowNotFoundError, match="'nope'"):
        flow_store.get_flow("nope")


def test_saved_flow_is_loaded_where_it_stopped(flow_store, engine):
    key = flow_store.create_flow(spec(n=3))
    flow = flow_store.get_flow(key)
    engine.tick_flow(flow)
    flow_store.save_flow(flow)
    loaded = flow_store.get_flow(key)
    assert loaded.to_flow_dict() == flow.to_flow_dict()
    record = flow_store.get_record(key)
    assert (record.status, record.num_ticks) == ("RUNNING", 1)


def test_saved_record_columns_follow_the_flow(flow_store, engine, clock):
    key = flow_store.create_flow(spec())
    created = flow_store.get_record(key).created_at
    flow = flow_store.get_flow(key)
    clock.advance(5)
    engine.run_flow(flow)
    flow_store.save_flow(flow)
    record = flow_store.get_record(key)
    assert (record.status, record.created_at, record.updated_at) == (
        "COMPLETED",
        created,
        created + 5,
    )


def test_saving_a_stale_copy_raises_and_overwrites_nothing(flow_store, engine):
    key = flow_store.create_flow(spec())
    first, second = flow_store.get_flow(key), flow_store.get_flow(key)
    engine.run_flow(first)
    flow_store.save_flow(first)
    second.data["note"] = "stale"
    with pytest.raises(StaleFlowError, match="version"):
        flow_store.save_flow(second)
    stored = flow_store.get_flow(key)
    assert (stored.status, "note" in stored.data) == ("COMPLETED", False)


def test_a_flow_can_be_saved_again_after_each_save(flow_store, engine):
    key = flow_store.create_flow(spec(n=3))
    flow = flow_store.get_flow(key)
    while not flow.finished:
        engine.tick_flow(flow)
        flow_store.save_flow(flow)
    assert flow_store.get_record(key).status == "COMPLETED"


def test_saving_a_flow_not_loaded_from_the_store_raises(flow_store):
    key = flow_store.create_flow(spec(key="k"))
    outsider = Flow.from_flow_spec(spec(key=key))
    with pytest.raises(StaleFlowError, match="get_flow"):
        flow_store.save_flow(outsider)


def test_saving_a_deleted_flow_raises_not_found(flow_store):
    key = flow_store.create_flow(spec())
    flow = flow_store.get_flow(key)
    flow_store.delete_flow(key)
    with pytest.raises(FlowNotFoundError):
        flow_store.save_flow(flow)


# -- query, count, delete ------------------------------------------------------------


def test_query_filters_by_status_label_and_parent_key(flow_store, engine):
    done = flow_store.create_flow(spec(label="a"))
    flow = flow_store.get_flow(done)
    engine.run_flow(flow)
    flow_store.save_flow(flow)
    flow_store.create_flow(spec(label="a"))
    child = Flow.from_flow_spec(spec(label="b"))
    child.parent_key = done
    flow_store.create_flow(child)
    assert [r.key for r in flow_store.query(status="COMPLETED")] == [done]
    assert len(flow_store.query(label="a")) == 2
    assert [r.key for r in flow_store.query(parent_key=done)] == [child.key]
    assert [r.key for r in flow_store.query(status="PENDING", label="b")] == [child.key]


def test_query_pages_through_flows_in_creation_order(flow_store, clock):
    keys = []
    for i in range(5):
        keys.append(flow_store.create_flow(spec(key=f"f{i}")))
        clock.advance(1)
    assert [r.key for r in flow_store.query(limit=2)] == keys[:2]
    assert [r.key for r in flow_store.query(limit=2, offset=2)] == keys[2:4]
    assert [r.key for r in flow_store.query(limit=None, offset=1)] == keys[1:]


def test_query_with_unknown_status_raises_naming_the_statuses(flow_store):
    with pytest.raises(StoreError, match="'DONE' is not a flow status.*COMPLETED"):
        flow_store.query(status="DONE")


def test_count_by_status_counts_each_status(flow_store, engine):
    for _ in range(3):
        flow_store.create_flow(spec())
    flow = flow_store.get_flow(flow_store.create_flow(spec()))
    engine.run_flow(flow)
    flow_store.save_flow(flow)
    assert flow_store.count_by_status() == {"PENDING": 3, "COMPLETED": 1}


def test_delete_flow_removes_only_that_flow(flow_store):
    keep, gone = flow_store.create_flow(spec()), flow_store.create_flow(spec())
    flow_store.delete_flow(gone)
    assert [r.key for r in flow_store.query()] == [keep]
    with pytest.raises(FlowNotFoundError):
        flow_store.delete_flow(gone)


# -- leases ---------------------------------------------------------------------------


def test_claim_hands_out_at_most_n_flows_and_leases_them(flow_store, clock):
    for i in range(5):
        flow_store.create_flow(spec(key=f"f{i}"))
    claimed = flow_store.claim(3, lease_s=30, runner_id="r1")
    assert len(claimed) == 3
    for flow in claimed:
        record = flow_store.get_record(flow.key)
        assert (record.lease_owner, record.lease_expires_at) == ("r1", clock.now + 30)


def test_claim_skips_flows_leased_by_another_runner(flow_store):
    for i in range(4):
        flow_store.create_flow(spec(key=f"f{i}"))
    first = {f.key for f in flow_store.claim(2, lease_s=30, runner_id="r1")}
    second = {f.key for f in flow_store.claim(10, lease_s=30, runner_id="r2")}
    assert len(first) == 2 and len(second) == 2 and not first & second
    assert flow_store.claim(10, lease_s=30, runner_id="r3") == []


def test_claim_takes_over_a_flow_whose_lease_expired(flow_store, clock):
    key = flow_store.create_flow(spec())
    flow_store.claim(1, lease_s=10, runner_id="crashed")
    clock.advance(9)
    assert flow_store.claim(1, lease_s=10, runner_id="r2") == []
    clock.advance(1)
    assert [f.key for f in flow_store.claim(1, lease_s=10, runner_id="r2")] == [key]
    assert flow_store.get_record(key).lease_owner == "r2"


def test_save_by_a_runner_whose_lease_was_taken_over_is_refused(flow_store, engine, clock):
    key = flow_store.create_flow(spec())
    (slow,) = flow_store.claim(1, lease_s=10, runner_id="slow")
    clock.advance(11)
    (fast,) = flow_store.claim(1, lease_s=10, runner_id="fast")
    engine.run_flow(slow)
    with pytest.raises(StaleFlowError):
        flow_store.save_flow(slow)
    engine.tick_flow(fast)
    flow_store.save_flow(fast)
    assert flow_store.get_record(key).num_ticks == 1


def test_claim_never_hands_out_finished_flows(flow_store, engine):
    flow = flow_store.get_flow(flow_store.create_flow(spec()))
    engine.run_flow(flow)
    flow_store.save_flow(flow)
    assert flow_store.claim(5, lease_s=30, runner_id="r1") == []


def test_claim_waits_for_tick_after(flow_store, engine, clock):
    key = flow_store.create_flow(spec())
    (flow,) = flow_store.claim(1, lease_s=30, runner_id="r1")
    flow_store.save_flow(flow, tick_after=clock.now + 5)
    assert flow_store.claim(1, lease_s=30, runner_id="r1") == []
    clock.advance(5)
    assert [f.key for f in flow_store.claim(1, lease_s=30, runner_id="r1")] == [key]


def test_claim_hands_out_least_recently_saved_flows_first(flow_store, clock):
    for i in range(3):
        flow_store.create_flow(spec(key=f"f{i}"))
        clock.advance(1)
    (oldest,) = flow_store.claim(1, lease_s=30, runner_id="r1")
    assert oldest.key == "f0"
    flow_store.save_flow(oldest)
    assert [f.key for f in flow_store.claim(3, lease_s=30, runner_id="r1")] == ["f1", "f2", "f0"]


def test_saving_releases_the_lease(flow_store):
    flow_store.create_flow(spec())
    (flow,) = flow_store.claim(1, lease_s=30, runner_id="r1")
    flow_store.save_flow(flow)
    record = flow_store.get_record(flow.key)
    assert (record.lease_owner, record.lease_expires_at) == (None, None)
    assert len(flow_store.claim(1, lease_s=30, runner_id="r2")) == 1


def test_release_gives_up_only_the_runners_own_leases(flow_store):
    flow_store.create_flow(spec(key="a"))
    flow_store.create_flow(spec(key="b"))
    flow_store.claim(1, lease_s=30, runner_id="r1")
    flow_store.claim(1, lease_s=30, runner_id="r2")
    assert flow_store.release(["a", "b"], "r1") == 1
    owners = {r.key: r.lease_owner for r in flow_store.query()}
    assert sorted(owners.values(), key=str) == [None, "r2"]


def test_claim_marks_a_row_with_broken_json_failed_and_keeps_its_text(flow_store):
    bad = flow_store.create_flow(spec(key="bad"))
    good = flow_store.create_flow(spec(key="good"))
    raw_update(flow_store, bad, flow_json='{"not": "closed"')
    claimed = flow_store.claim(5, lease_s=30, runner_id="r1")
    assert [f.key for f in claimed] == [good]
    record = flow_store.get_record(bad)
    assert record.status == "FAILED"
    assert "stored flow 'bad': its JSON does not parse" in record.error
    assert record.lease_owner is None
    with flow_store._engine.connect() as connection:
        text = connection.execute(
            sa.select(flows_table.c.flow_json).where(flows_table.c.key == bad)
        ).scalar_one()
    assert text == '{"not": "closed"'


def test_claim_marks_a_row_that_is_not_a_flow_dict_failed(flow_store):
    key = flow_store.create_flow(spec(key="odd"))
    raw_update(flow_store, key, flow_json='{"format_version": 99}')
    assert flow_store.claim(5, lease_s=30, runner_id="r1") == []
    assert "format_version 99 is not supported" in flow_store.get_record(key).error


def test_fail_flow_with_an_old_version_changes_nothing(flow_store, engine):
    key = flow_store.create_flow(spec())
    old = flow_store.get_flow(key)
    newer = flow_store.get_flow(key)
    engine.tick_flow(newer)
    flow_store.save_flow(newer)
    assert flow_store.fail_flow(old, "too late") is False
    assert flow_store.get_record(key).status == "RUNNING"


def test_concurrent_claims_from_four_threads_never_share_a_flow(db_url):
    with FlowStore(db_url) as store:
        for i in range(40):
            store.create_flow(spec(key=f"f{i:02}", n=1))
    claimed: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def claim_all(runner_id: str) -> None:
        try:
            engine = FlowEngine()
            with FlowStore(db_url) as store:
                mine = claimed.setdefault(runner_id, [])
                while batch := store.claim(3, lease_s=60, runner_id=runner_id):
                    for flow in batch:
                        mine.append(flow.key)
                        engine.run_flow(flow)
                        store.save_flow(flow)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=claim_all, args=(f"r{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    every_claim = [key for keys in claimed.values() for key in keys]
    assert sorted(every_claim) == [f"f{i:02}" for i in range(40)]
    with FlowStore(db_url) as store:
        assert store.count_by_status() == {"COMPLETED": 40}


# -- opening a store --------------------------------------------------------------------


def test_default_url_is_mc_db_url_else_mc_db_in_working_directory(monkeypatch):
    monkeypatch.delenv("MC_DB_URL", raising=False)
    assert default_db_url() == "sqlite:///mc.db"
    monkeypatch.setenv("MC_DB_URL", "sqlite:////tmp/other.db")
    assert default_db_url() == "sqlite:////tmp/other.db"


def test_store_without_url_opens_mc_db_in_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("MC_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    with FlowStore() as store:
        store.create_flow(spec())
    assert (tmp_path / "mc.db").is_file()


def test_store_with_malformed_url_raises_store_error_with_an_example():
    with pytest.raises(StoreError, match="expected e.g. sqlite:///mc.db"):
        FlowStore("not a url")


def test_store_with_unknown_driver_raises_store_error():
    with pytest.raises(StoreError, match="driver is not available"):
        FlowStore("postgresql+pg8000://someone@localhost/flows")


def test_store_in_a_missing_directory_raises_store_error_naming_the_directory(tmp_path):
    missing = tmp_path / "no" / "such"
    with pytest.raises(
        StoreError, match=f"the directory '{missing}' of the SQLite file does not exist"
    ):
        FlowStore(f"sqlite:///{missing}/mc.db")
    assert not (tmp_path / "no").exists()


def test_store_on_a_database_other_than_sqlite_or_postgresql_raises_store_error():
    with pytest.raises(StoreError, match="runs on SQLite or PostgreSQL, not 'mysql'"):
        FlowStore("mysql://someone@localhost/flows")


def test_store_on_unreachable_server_raises_store_error_hiding_the_password():
    with pytest.raises(StoreError, match="cannot open the flow store") as caught:
        FlowStore("postgresql://someone:secret@127.0.0.1:1/nothing")
    assert "secret" not in str(caught.value)


def test_store_on_a_file_that_is_not_a_database_raises_store_error_naming_it(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n")
    with pytest.raises(
        StoreError, match=f"cannot open the flow store at sqlite:///{path}: file is not a database"
    ):
        FlowStore(f"sqlite:///{path}")
    assert path.read_text() == "these are my notes, not a database\n"


def test_sqlite_store_runs_in_wal_mode(sqlite_url):
    with FlowStore(sqlite_url) as store, store._engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_two_stores_on_one_database_see_each_others_flows(db_url):
    with FlowStore(db_url) as first, FlowStore(db_url) as second:
        key = first.create_flow(spec())
        flow = second.get_flow(key)
        FlowEngine().run_flow(flow)
        second.save_flow(flow)
        assert first.get_record(key).status == "COMPLETED"


def test_stored_json_is_exactly_the_flow_dict(flow_store, engine):
    flow = flow_store.get_flow(flow_store.create_flow(spec(n=3)))
    engine.tick_flow(flow)
    flow.data["numbers"] = {1: "one"}
    flow_store.save_flow(flow)
    assert flow_store.get_flow(flow.key).to_flow_dict() == flow.to_flow_dict()


def test_a_flow_holding_data_that_is_not_json_is_not_saved(flow_store):
    from mc.errors import FlowError

    key = flow_store.create_flow(spec())
    flow = flow_store.get_flow(key)
    flow.data["bad"] = float("nan")
    with pytest.raises(FlowError, match="not JSON"):
        flow_store.save_flow(flow)
    assert "bad" not in flow_store.get_flow(key).data


def test_a_key_longer_than_the_column_is_refused_before_writing(flow_store):
    with pytest.raises(StoreError, match="300 characters; a stored flow's key has at most 255"):
        flow_store.create_flow(spec(key="k" * 300))
    assert flow_store.query() == []


def test_long_labels_and_runner_ids_are_stored_whole(flow_store):
    key = flow_store.create_flow(spec(label="l" * 1000))
    flow_store.claim(1, lease_s=30, runner_id="r" * 1000)
    record = flow_store.get_record(key)
    assert (len(record.label), len(record.lease_owner)) == (1000, 1000)


def test_claim_flow_leases_one_flow_whatever_its_status(flow_store, engine, clock):
    key = flow_store.create_flow(spec())
    flow = flow_store.get_flow(key)
    engine.run_flow(flow)
    flow_store.save_flow(flow)
    claimed = flow_store.claim_flow(key, lease_s=30, runner_id="mc cancel")
    assert claimed.status == "COMPLETED"
    record = flow_store.get_record(key)
    assert (record.lease_owner, record.lease_expires_at) == ("mc cancel", clock.now + 30)


def test_claim_flow_of_a_flow_another_runner_holds_returns_none_and_changes_nothing(flow_store):
    key = flow_store.create_flow(spec())
    flow_store.claim(1, lease_s=30, runner_id="runner")
    before = flow_store.get_record(key)
    assert flow_store.claim_flow(key, lease_s=30, runner_id="mc cancel") is None
    assert flow_store.get_record(key) == before


def test_a_flow_held_by_claim_flow_is_not_claimed_by_runners(flow_store):
    key = flow_store.create_flow(spec())
    flow_store.claim_flow(key, lease_s=30, runner_id="mc cancel")
    assert flow_store.claim(5, lease_s=30, runner_id="runner") == []


def test_claim_flow_of_an_unknown_key_raises_not_found(flow_store):
    with pytest.raises(FlowNotFoundError, match="'nope'"):
        flow_store.claim_flow("nope", lease_s=30, runner_id="mc cancel")


def test_claim_flow_of_a_flow_that_does_not_load_raises_and_releases_it(flow_store):
    from mc.errors import FlowLoadError

    key = flow_store.create_flow(spec(key="bad"))
    raw_update(flow_store, key, flow_json="[")
    with pytest.raises(FlowLoadError, match="stored flow 'bad'"):
        flow_store.claim_flow(key, lease_s=30, runner_id="mc retry")
    assert flow_store.get_record(key).lease_owner is None


def test_a_runner_claims_its_own_unexpired_leases_again(flow_store):
    key = flow_store.create_flow(spec())
    flow_store.claim(1, lease_s=300, runner_id="restarted")
    assert flow_store.claim(1, lease_s=300, runner_id="other") == []
    assert [f.key for f in flow_store.claim(1, lease_s=300, runner_id="restarted")] == [key]
