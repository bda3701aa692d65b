"""FlowRunner in one process, on real databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mc.flows import FlowEngine
from mc.runner import FlowRunner, RunnerStats
from mc.store.tables import flows_table


def chain_spec(n: int = 5, task_type: str = "noop", **extra) -> dict:
    tasks = [
        {"key": f"t{i}", "task_type": task_type, **({"precursors": [f"t{i - 1}"]} if i else {})}
        for i in range(n)
    ]
    return {"tasks": tasks, **extra}


class Waiting:
    """A task that stays RUNNING until its test lets it finish."""

    done = False

    @classmethod
    def tick_task(cls, task_ctx):
        if cls.done:
            task_ctx["task"]["status"] = "COMPLETED"


@pytest.fixture
def runner(flow_store, engine) -> FlowRunner:
    return FlowRunner(flow_store, engine, runner_id="test-runner", lease_s=60, poll_interval_s=10)


def test_tick_ticks_each_claimed_flow_until_it_makes_no_more_progress(flow_store, runner):
    keys = [flow_store.create_flow(chain_spec(5)) for _ in range(3)]
    stats = runner.tick()
    assert stats == RunnerStats(claimed=3, ticked=3, ticks=15, completed=3, failed=0)
    assert {flow_store.get_record(key).status for key in keys} == {"COMPLETED"}


def test_tick_counts_flows_that_end_failed(flow_store, runner):
    flow_store.create_flow(chain_spec(2, task_type="no_such_type"))
    stats = runner.tick()
    assert (stats.completed, stats.failed) == (0, 1)


def test_tick_claims_at_most_batch_size_flows(flow_store, engine):
    for _ in range(5):
        flow_store.create_flow(chain_spec(1))
    runner = FlowRunner(flow_store, engine, batch_size=2)
    assert runner.tick().claimed == 2
    assert flow_store.count_by_status() == {"COMPLETED": 2, "PENDING": 3}


def test_max_ticks_per_claim_bounds_the_ticks_of_one_claim(flow_store, engine):
    key = flow_store.create_flow(chain_spec(5))
    runner = FlowRunner(flow_store, engine, max_ticks_per_claim=2)
    runner.tick()
    record = flow_store.get_record(key)
    assert (record.status, record.num_ticks, record.tick_after) == ("RUNNING", 2, None)
    runner.tick()
    assert flow_store.get_record(key).num_ticks == 4


def test_run_until_done_returns_once_no_flow_is_pending_or_running(flow_store, runner):
    for n in (1, 3, 5):
        flow_store.create_flow(chain_spec(n))
    total = runner.run(interval_s=0, until_done=True)
    assert total.completed == 3
    assert flow_store.count_by_status() == {"COMPLETED": 3}


def test_a_waiting_flow_is_not_claimed_again_before_the_poll_interval(flow_store, engine, clock):
    engine.register_task_type("wait", Waiting)
    Waiting.done = False
    key = flow_store.create_flow(chain_spec(1, task_type="wait"))
    runner = FlowRunner(flow_store, engine, poll_interval_s=10)
    assert runner.tick().ticked == 1
    assert flow_store.get_record(key).tick_after == clock.now + 10
    clock.advance(9)
    assert runner.tick().claimed == 0
    clock.advance(1)
    Waiting.done = True
    assert runner.tick().completed == 1


def test_a_row_whose_json_does_not_load_is_failed_and_the_others_run(flow_store, runner):
    bad = flow_store.create_flow(chain_spec(1))
    good = flow_store.create_flow(chain_spec(1))
    with flow_store._engine.begin() as connection:
        connection.execute(
            sa.update(flows_table).where(flows_table.c.key == bad).values(flow_json="[1, 2")
        )
    runner.run(interval_s=0, until_done=True)
    assert flow_store.get_record(good).status == "COMPLETED"
    record = flow_store.get_record(bad)
    assert record.status == "FAILED" and "JSON does not parse" in record.error


class ExplodingEngine(FlowEngine):
    """An engine with a bug: ticking flows labelled 'explode' raises."""

    def tick_flow_until_has_no_pending(self, flow, task_ctx=None, max_ticks=None):
        if flow.label == "explode":
            raise RuntimeError("engine bug")
        return super().tick_flow_until_has_no_pending(flow, task_ctx, max_ticks)


def test_a_flow_whose_ticking_raises_is_failed_with_the_reason(flow_store):
    bad = flow_store.create_flow(chain_spec(1, label="explode"))
    good = flow_store.create_flow(chain_spec(1))
    stats = FlowRunner(flow_store, ExplodingEngine()).run(interval_s=0, until_done=True)
    assert (stats.completed, stats.failed) == (1, 1)
    record = flow_store.get_record(bad)
    assert (record.status, record.error) == (
        "FAILED",
        "ticking the flow raised: RuntimeError: engine bug",
    )
    assert flow_store.get_record(good).status == "COMPLETED"


def test_a_flow_whose_data_is_not_json_is_failed_and_keeps_its_last_saved_state(flow_store, engine):
    def leave_a_set(task_ctx):
        task_ctx["task"]["data"]["oops"] = {1, 2}
        task_ctx["task"]["status"] = "COMPLETED"

    engine.register_task_type("leave_a_set", leave_a_set)
    key = flow_store.create_flow(chain_spec(1, task_type="leave_a_set"))
    FlowRunner(flow_store, engine).run(interval_s=0, until_done=True)
    record = flow_store.get_record(key)
    assert record.status == "FAILED"
    assert "saving the flow failed" in record.error and "not JSON" in record.error
    assert flow_store.get_flow(key).tasks["t0"]["status"] == "PENDING"


def test_handlers_get_the_runner_task_ctx_with_store_and_runner(flow_store, engine):
    seen = {}

    def look(task_ctx):
        seen.update(task_ctx)
        task_ctx["task"]["status"] = "COMPLETED"

    engine.register_task_type("look", look)
    flow_store.create_flow(chain_spec(1, task_type="look"))
    runner = FlowRunner(flow_store, engine, task_ctx={"site": "lab"})
    runner.tick()
    assert seen["site"] == "lab"
    assert seen["flow_store"] is flow_store and seen["flow_runner"] is runner


def test_a_stop_request_releases_the_claimed_flows_not_yet_ticked(flow_store, engine, clock):
    runner = FlowRunner(flow_store, engine, runner_id="stopper")

    def stop_now(task_ctx):
        runner.request_stop()
        task_ctx["task"]["status"] = "COMPLETED"

    engine.register_task_type("stop_now", stop_now)
    first = flow_store.create_flow(chain_spec(1, task_type="stop_now"))
    clock.advance(1)  # claimed first: least recently saved
    for _ in range(3):
        flow_store.create_flow(chain_spec(1))
    stats = runner.run(interval_s=0)
    assert (stats.claimed, stats.ticked) == (4, 1)
    assert flow_store.get_record(first).status == "COMPLETED"
    others = [r for r in flow_store.query() if r.key != first]
    assert {(r.status, r.lease_owner) for r in others} == {("PENDING", None)}


def test_a_runner_that_lost_its_lease_counts_the_flow_stale_and_goes_on(flow_store, engine, clock):
    key = flow_store.create_flow(chain_spec(1, task_type="slow"))

    def slow(task_ctx):
        # While this runner ticks, its lease expires and another runner takes over.
        clock.advance(10)
        (taken,) = flow_store.claim(1, lease_s=5, runner_id="other")
        flow_store.save_flow(taken)
        task_ctx["task"]["status"] = "COMPLETED"

    engine.register_task_type("slow", slow)
    stats = FlowRunner(flow_store, engine, lease_s=5).tick()
    assert (stats.ticked, stats.stale) == (0, 1)
    assert flow_store.get_record(key).status == "PENDING"


def test_flows_whose_lease_expired_while_others_were_ticked_are_released_untouched(
    flow_store, engine, clock
):
    def slow(task_ctx):
        clock.advance(6)
        task_ctx["task"]["status"] = "COMPLETED"

    engine.register_task_type("slow", slow)
    first = flow_store.create_flow(chain_spec(1, task_type="slow"))
    clock.advance(1)  # claimed first: least recently saved
    late = flow_store.create_flow(chain_spec(1, task_type="slow"))
    stats = FlowRunner(flow_store, engine, runner_id="r1", lease_s=5).tick()
    assert (stats.claimed, stats.ticked, stats.stale) == (2, 1, 1)
    assert flow_store.get_record(first).status == "COMPLETED"
    record = flow_store.get_record(late)
    assert (record.status, record.num_ticks, record.lease_owner) == ("PENDING", 0, None)


def test_runner_refuses_a_non_positive_lease(flow_store):
    with pytest.raises(ValueError, match="lease_s=0"):
        FlowRunner(flow_store, lease_s=0)


def test_runner_ids_differ_between_runners(flow_store):
    assert FlowRunner(flow_store).runner_id != FlowRunner(flow_store).runner_id


class FailsOnce:
    """Fails its first attempt, completes the next."""

    attempts = 0

    @classmethod
    def tick_task(cls, task_ctx):
        cls.attempts += 1
        task_ctx["task"]["status"] = "FAILED" if cls.attempts == 1 else "COMPLETED"


def test_a_flow_waiting_for_a_retry_delay_is_claimed_again_when_the_retry_is_due(
    flow_store, engine, clock
):
    engine.register_task_type("fails_once", FailsOnce)
    FailsOnce.attempts = 0
    key = flow_store.create_flow(
        {"tasks": [{"key": "t", "task_type": "fails_once", "retries": 1, "retry_delay_s": 30}]}
    )
    runner = FlowRunner(flow_store, engine, poll_interval_s=1)
    runner.tick()
    record = flow_store.get_record(key)
    assert (record.status, record.tick_after) == ("RUNNING", clock.now + 30)
    clock.advance(29)
    assert runner.tick().claimed == 0
    clock.advance(1)
    assert runner.tick().completed == 1
    assert FailsOnce.attempts == 2


def test_a_flow_with_a_running_task_and_a_later_retry_is_polled(flow_store, engine, clock):
    engine.register_task_type("fails_once", FailsOnce)
    engine.register_task_type("wait", Waiting)
    FailsOnce.attempts = 0
    Waiting.done = False
    key = flow_store.create_flow(
        {
            "tasks": [
                {"key": "w", "task_type": "wait"},
                {
                    "key": "t",
                    "task_type": "fails_once",
                    "retries": 1,
                    "retry_delay_s": 30,
                    "precursors": ["ROOT"],
                },
            ]
        }
    )
    FlowRunner(flow_store, engine, poll_interval_s=2).tick()
    assert flow_store.get_record(key).tick_after == clock.now + 2


def test_a_runner_survives_losing_its_database_connections(postgres_url):
    import sqlalchemy as sa

    from mc.store import FlowStore

    url = sa.make_url(postgres_url).update_query_dict({"application_name": "mc_outage_test"})
    url_text = url.render_as_string(hide_password=False)
    with FlowStore(url_text) as store:
        runner = FlowRunner(store, FlowEngine())
        assert runner.tick().claimed == 0  # connected
        key = store.create_flow(chain_spec(3))
        admin = sa.create_engine(postgres_url)
        try:
            with admin.begin() as connection:
                killed = connection.execute(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = 'mc_outage_test'"
                    )
                ).scalar_one()
        finally:
            admin.dispose()
        assert killed >= 1
        stats = runner.run(interval_s=0, until_done=True, max_rounds=5)
        assert stats.database_errors == 1
        assert store.get_record(key).status == "COMPLETED"


def test_a_runner_waits_out_a_server_it_cannot_reach_and_goes_on(postgres_proxy_url):
    from mc.store import FlowStore

    url, proxy = postgres_proxy_url
    with FlowStore(url) as store:
        key = store.create_flow(chain_spec(3))
        proxy.stop()

        def on_round(stats: RunnerStats, total: RunnerStats) -> None:
            if stats.database_errors:
                proxy.start()  # the server is back

        runner = FlowRunner(store, FlowEngine())
        stats = runner.run(interval_s=0, until_done=True, max_rounds=5, on_round=on_round)
        assert stats.database_errors >= 1
        assert store.get_record(key).status == "COMPLETED"


def test_a_runner_waits_out_a_sqlite_file_it_cannot_open_and_goes_on(tmp_path):
    from mc.store import FlowStore

    (tmp_path / "flows").mkdir()
    with FlowStore(f"sqlite:///{tmp_path / 'flows' / 'mc.db'}") as store:
        key = store.create_flow(chain_spec(3))
        store.close()  # the next round connects again, and finds no file
        (tmp_path / "flows").rename(tmp_path / "away")

        def on_round(stats: RunnerStats, total: RunnerStats) -> None:
            if stats.database_errors and not (tmp_path / "flows").exists():
                (tmp_path / "away").rename(tmp_path / "flows")

        runner = FlowRunner(store, FlowEngine())
        stats = runner.run(interval_s=0, until_done=True, max_rounds=5, on_round=on_round)
        assert stats.database_errors == 1
        assert store.get_record(key).status == "COMPLETED"


def test_closing_a_runner_closes_only_an_engine_it_made(flow_store):
    closed = []

    class Engine(FlowEngine):
        def close(self):
            closed.append(self)

    given = Engine()
    with FlowRunner(flow_store, given):
        pass
    assert closed == []
    with FlowRunner(flow_store) as runner:
        runner.engine.close = lambda: closed.append(runner.engine)
    assert closed == [runner.engine]


def test_run_calls_on_start_once_with_signals_handled(flow_store):
    import signal

    seen = []
    runner = FlowRunner(flow_store)
    runner.run(
        interval_s=0,
        until_done=True,
        on_start=lambda: seen.append(signal.getsignal(signal.SIGTERM)),
    )
    assert len(seen) == 1 and callable(seen[0]) and seen[0] is not signal.SIG_DFL
    assert signal.getsignal(signal.SIGTERM) is not seen[0]


def test_the_log_of_a_flow_whose_ticking_raises_holds_the_traceback(flow_store, caplog):
    flow_store.create_flow(chain_spec(1, label="explode"))
    with caplog.at_level("ERROR", logger="mc.runner.flow_runner"):
        FlowRunner(flow_store, ExplodingEngine()).run(interval_s=0, until_done=True)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Traceback (most recent call last)" in logged
    assert 'raise RuntimeError("engine bug")' in logged


def test_a_flow_store_meets_the_runner_store_protocol(flow_store):
    from mc.runner.store_contract import RunnerStore

    assert isinstance(flow_store, RunnerStore)


def test_on_event_tells_each_flows_changes_under_its_stored_key(flow_store, engine):
    seen = []
    keys = [flow_store.create_flow(chain_spec(2)) for _ in range(2)]
    FlowRunner(flow_store, engine, on_event=seen.append).run(interval_s=0, until_done=True)
    for key in keys:
        mine = [(e.event, e.task_key) for e in seen if e.flow_key == key]
        assert mine == [
            ("flow_started", None),
            ("task_started", "t0"),
            ("task_completed", "t0"),
            ("task_started", "t1"),
            ("task_completed", "t1"),
            ("flow_ended", None),
        ]


def test_a_flow_the_runner_fails_is_told_as_flow_ended_with_the_reason(flow_store, engine):
    def leave_a_set(task_ctx):
        task_ctx["task"]["data"]["oops"] = {1, 2}
        task_ctx["task"]["status"] = "COMPLETED"

    def broken_callback(event):
        seen.append(event)
        raise RuntimeError("a watcher's bug")

    seen = []
    engine.register_task_type("leave_a_set", leave_a_set)
    key = flow_store.create_flow(chain_spec(1, task_type="leave_a_set"))
    FlowRunner(flow_store, engine, on_event=broken_callback).run(interval_s=0, until_done=True)
    last = seen[-1]
    assert (last.event, last.flow_key, last.status) == ("flow_ended", key, "FAILED")
    assert last.error.startswith("saving the flow failed")
