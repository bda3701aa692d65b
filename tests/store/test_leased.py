"""FlowStore.leased: a with-block that holds one flow's lease, on real databases."""

from __future__ import annotations

import pytest

from mc.errors import FlowLeasedError, FlowNotFoundError, StaleFlowError, StoreError
from mc.store import FlowStore
from tests.conftest import with_application_name


def spec(key: str) -> dict:
    return {"key": key, "tasks": [{"key": "t", "task_type": "noop"}]}


class FakeSleep:
    """Sleeps by moving the fake clock; runs ``then`` once the sleeps add up to ``after_s``."""

    def __init__(self, clock, after_s: float | None = None, then=None) -> None:
        self.clock = clock
        self.slept: list[float] = []
        self.after_s = after_s
        self.then = then

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(seconds)
        if self.then is not None and sum(self.slept) >= self.after_s:
            self.then()
            self.then = None


def test_leased_yields_the_flow_leased_to_the_holder(flow_store, clock):
    flow_store.create_flow(spec("f"))
    with flow_store.leased("f", "tool", lease_s=30) as flow:
        record = flow_store.get_record("f")
        assert flow.key == "f"
        assert (record.lease_owner, record.lease_expires_at) == ("tool", clock.now + 30)


def test_runners_do_not_claim_a_flow_while_it_is_leased(flow_store):
    flow_store.create_flow(spec("f"))
    with flow_store.leased("f", "tool"):
        assert flow_store.claim(5, lease_s=30, runner_id="runner") == []


def test_leased_releases_the_lease_when_the_block_ends(flow_store):
    flow_store.create_flow(spec("f"))
    with flow_store.leased("f", "tool"):
        pass
    record = flow_store.get_record("f")
    assert (record.lease_owner, record.lease_expires_at) == (None, None)


def test_leased_waits_for_another_holder_to_save_then_gets_the_flow(flow_store, clock):
    flow_store.create_flow(spec("f"))
    held = flow_store.claim_flow("f", lease_s=300, runner_id="runner")
    held.data["ticked by"] = "runner"
    sleep = FakeSleep(clock, after_s=3, then=lambda: flow_store.save_flow(held))
    with flow_store.leased("f", "tool", wait_s=10, poll_s=1, sleep=sleep, clock=clock) as flow:
        assert flow.data["ticked by"] == "runner"
        assert flow_store.get_record("f").lease_owner == "tool"
    assert sleep.slept == [1, 1, 1]


def test_leased_waits_for_another_holders_lease_to_expire_then_gets_the_flow(flow_store, clock):
    flow_store.create_flow(spec("f"))
    flow_store.claim_flow("f", lease_s=5, runner_id="crashed runner")
    sleep = FakeSleep(clock)
    with flow_store.leased("f", "tool", wait_s=10, poll_s=1, sleep=sleep, clock=clock):
        assert flow_store.get_record("f").lease_owner == "tool"
    assert sum(sleep.slept) == 5


def test_leased_gives_up_after_wait_s_naming_the_holder_and_changing_nothing(flow_store, clock):
    flow_store.create_flow(spec("f"))
    flow_store.claim_flow("f", lease_s=300, runner_id="busy runner")
    before = flow_store.get_record("f")
    sleep = FakeSleep(clock)
    expected = "flow 'f' is leased to busy runner until .*; waited 2 s for it, nothing was changed"
    with pytest.raises(FlowLeasedError, match=expected) as caught:
        with flow_store.leased("f", "tool", wait_s=2, poll_s=0.5, sleep=sleep, clock=clock):
            pytest.fail("the block ran without the lease")
    assert (caught.value.key, caught.value.lease_owner) == ("f", "busy runner")
    assert caught.value.lease_expires_at == before.lease_expires_at
    assert sleep.slept == [0.5, 0.5, 0.5, 0.5]
    assert flow_store.get_record("f") == before


def test_leased_without_wait_s_gives_up_at_once(flow_store, clock):
    flow_store.create_flow(spec("f"))
    flow_store.claim_flow("f", lease_s=300, runner_id="busy runner")
    sleep = FakeSleep(clock)
    with pytest.raises(FlowLeasedError):
        with flow_store.leased("f", "tool", sleep=sleep, clock=clock):
            pass
    assert sleep.slept == []


def test_leased_stops_waiting_once_its_sleeps_add_up_to_wait_s_whatever_the_clock(flow_store):
    flow_store.create_flow(spec("f"))
    flow_store.claim_flow("f", lease_s=300, runner_id="busy runner")
    slept = []
    with pytest.raises(FlowLeasedError):
        # A clock that never moves, and a sleep that does not wait.
        with flow_store.leased(
            "f", "tool", wait_s=1, poll_s=0.25, sleep=slept.append, clock=lambda: 0.0
        ):
            pass
    assert slept == [0.25, 0.25, 0.25, 0.25]


def test_leased_releases_the_lease_and_saves_nothing_when_the_block_raises(flow_store):
    flow_store.create_flow(spec("f"))
    with pytest.raises(RuntimeError, match="half done"):
        with flow_store.leased("f", "tool", save=True) as flow:
            flow.data["half"] = True
            raise RuntimeError("half done")
    assert flow_store.get_record("f").lease_owner is None
    assert "half" not in flow_store.get_flow("f").data


def test_leased_does_not_save_the_flow_unless_asked(flow_store):
    flow_store.create_flow(spec("f"))
    with flow_store.leased("f", "tool") as flow:
        flow.data["note"] = "not kept"
    assert "note" not in flow_store.get_flow("f").data


def test_leased_with_save_saves_the_flow_when_the_block_ends(flow_store):
    flow_store.create_flow(spec("f"))
    with flow_store.leased("f", "tool", save=True) as flow:
        flow.data["note"] = "kept"
    assert flow_store.get_flow("f").data["note"] == "kept"
    assert flow_store.get_record("f").lease_owner is None


def test_a_save_inside_the_block_ends_the_lease_and_is_not_repeated(flow_store):
    flow_store.create_flow(spec("f"))
    with flow_store.leased("f", "tool", save=True) as flow:
        flow.data["note"] = "kept"
        flow_store.save_flow(flow)
        saved = flow_store.get_record("f")
        assert saved.lease_owner is None
    assert flow_store.get_record("f") == saved


def test_a_save_on_leaving_after_the_lease_was_taken_over_is_refused(flow_store, clock):
    flow_store.create_flow(spec("f"))
    with pytest.raises(StaleFlowError):
        with flow_store.leased("f", "slow tool", lease_s=10, save=True) as flow:
            flow.data["note"] = "too late"
            clock.advance(11)
            flow_store.claim(1, lease_s=30, runner_id="runner")
    record = flow_store.get_record("f")
    assert record.lease_owner == "runner"
    assert "note" not in flow_store.get_flow("f").data


def test_leased_of_an_unknown_key_raises_flow_not_found(flow_store):
    with pytest.raises(FlowNotFoundError, match="no flow with key 'nothing'"):
        with flow_store.leased("nothing", "tool"):
            pass


@pytest.mark.parametrize("bad", [{"wait_s": -1}, {"poll_s": 0}, {"lease_s": 0}])
def test_leased_rejects_bad_times_naming_them(flow_store, bad):
    flow_store.create_flow(spec("f"))
    with pytest.raises(StoreError, match=next(iter(bad))):
        with flow_store.leased("f", "tool", **bad):
            pass
    assert flow_store.get_record("f").lease_owner is None


def test_an_error_in_the_block_wins_over_a_failed_release(
    postgres_url, terminate_postgres_sessions, caplog
):
    with FlowStore(with_application_name(postgres_url, "mc_leased_outage")) as store:
        store.create_flow(spec("f"))
        with pytest.raises(RuntimeError, match="the block's own error"):
            with store.leased("f", "tool", lease_s=30):
                terminate_postgres_sessions("mc_leased_outage")
                raise RuntimeError("the block's own error")
        assert "could not release tool's lease (it expires in 30s)" in caplog.text
        # The lease was not released; it expires as any lease does.
        assert store.get_record("f").lease_owner == "tool"
