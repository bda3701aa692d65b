"""The task cache in a SQL database (SQLite file and PostgreSQL): entries, claims, upkeep."""

from __future__ import annotations

import threading

import pytest

from mc.errors import CacheKeyNotFoundError, StoreDatabaseError
from mc.flows.cache import LazyTaskCache, TaskCache
from mc.store import FlowStore
from mc.store.cache import SqlTaskCache, default_cache_db_url

KEY = "ab" * 32
OTHER_KEY = "ac" * 32


def entry(created_at=100.0, expires_at=None, data=None):
    return {
        "key": KEY,
        "task_type": "job",
        "flow_key": "f",
        "task_key": "t",
        "created_at": created_at,
        "expires_at": expires_at,
        "data": data if data is not None else {"outputs": {"y": 1}},
        "provenance": {"host": "h"},
    }


@pytest.fixture
def task_cache(db_url, clock):
    with SqlTaskCache(db_url, claim_s=60, clock=clock) as cache:
        yield cache


def test_it_meets_the_task_cache_contract(task_cache):
    assert isinstance(task_cache, TaskCache)


def test_a_stored_entry_is_found_with_its_data_and_provenance(task_cache):
    task_cache.store(KEY, entry(), "owner")
    found = task_cache.lookup(KEY, now=101.0)
    assert found == entry()


def test_an_unknown_key_is_a_miss(task_cache):
    assert task_cache.lookup(KEY, now=1.0) is None


def test_an_expired_entry_is_a_miss(task_cache):
    task_cache.store(KEY, entry(expires_at=150.0), "owner")
    assert task_cache.lookup(KEY, now=149.0) is not None
    assert task_cache.lookup(KEY, now=150.0) is None


def test_the_first_claim_holds_and_the_second_is_told_whom_to_wait_for(task_cache):
    assert task_cache.claim(KEY, "first", now=1.0) is None
    assert task_cache.claim(KEY, "second", now=2.0) == "first"


def test_the_holder_renews_its_claim(task_cache):
    task_cache.claim(KEY, "first", now=1.0)
    assert task_cache.claim(KEY, "first", now=50.0) is None
    assert task_cache.claim(KEY, "second", now=100.0) == "first"


def test_an_expired_claim_goes_to_the_next_claimant(task_cache):
    task_cache.claim(KEY, "first", now=1.0)
    assert task_cache.claim(KEY, "second", now=62.0) is None
    assert task_cache.claim(KEY, "first", now=63.0) == "second"


def test_a_claim_on_a_stored_key_says_look_it_up(task_cache):
    task_cache.store(KEY, entry(), "first")
    assert task_cache.claim(KEY, "second", now=101.0) == ""


def test_a_claim_on_an_expired_entry_holds(task_cache):
    task_cache.store(KEY, entry(expires_at=150.0), "first")
    assert task_cache.claim(KEY, "second", now=151.0) is None


def test_storing_ends_the_claim(task_cache):
    task_cache.claim(KEY, "first", now=1.0)
    task_cache.store(KEY, entry(), "first")
    assert task_cache.get(KEY)["claim_owner"] is None


def test_release_ends_the_claim_and_drops_a_row_without_entry(task_cache):
    task_cache.claim(KEY, "first", now=1.0)
    task_cache.release(KEY, "first")
    assert task_cache.get(KEY) is None
    assert task_cache.claim(KEY, "second", now=2.0) is None


def test_release_by_another_owner_changes_nothing(task_cache):
    task_cache.claim(KEY, "first", now=1.0)
    task_cache.release(KEY, "second")
    assert task_cache.claim(KEY, "third", now=2.0) == "first"


def test_a_new_entry_replaces_an_older_one(task_cache):
    task_cache.store(KEY, entry(data={"v": 1}), "a")
    task_cache.store(KEY, entry(created_at=200.0, data={"v": 2}), "b")
    assert task_cache.lookup(KEY, now=201.0)["data"] == {"v": 2}


def test_entries_list_newest_first_with_claims(task_cache):
    task_cache.store(KEY, entry(created_at=100.0), "a")
    task_cache.claim(OTHER_KEY, "b", now=1.0)
    rows = task_cache.entries()
    assert [row["key"] for row in rows] == [OTHER_KEY, KEY]
    assert rows[0]["claim_owner"] == "b"
    assert rows[1]["task_key"] == "t"


def test_a_unique_prefix_names_a_key(task_cache):
    task_cache.store(KEY, entry(), "a")
    task_cache.claim(OTHER_KEY, "b", now=1.0)
    assert task_cache.resolve_key("abab") == KEY
    with pytest.raises(CacheKeyNotFoundError, match="ambiguous"):
        task_cache.resolve_key("a")
    with pytest.raises(CacheKeyNotFoundError, match="no cache entry"):
        task_cache.resolve_key("ff")


def test_a_prefix_with_like_wildcards_matches_only_itself(task_cache):
    task_cache.store(KEY, entry(), "a")
    with pytest.raises(CacheKeyNotFoundError):
        task_cache.resolve_key("a%")


def test_delete_removes_one_key(task_cache):
    task_cache.store(KEY, entry(), "a")
    assert task_cache.delete(KEY) is True
    assert task_cache.delete(KEY) is False
    assert task_cache.lookup(KEY, now=101.0) is None


def test_clear_removes_entries_older_than_a_duration(task_cache, clock):
    clock.now = 1000.0
    task_cache.store(KEY, entry(created_at=100.0), "a")
    task_cache.store(OTHER_KEY, {**entry(created_at=900.0), "key": OTHER_KEY}, "b")
    assert task_cache.clear(older_than_s=500) == 1
    assert [row["key"] for row in task_cache.entries()] == [OTHER_KEY]
    assert task_cache.clear() == 1
    assert task_cache.entries() == []


def test_clear_keeps_a_live_claim(task_cache, clock):
    task_cache.claim(KEY, "a", now=clock())
    task_cache.clear()
    assert task_cache.claim(KEY, "b", now=clock()) == "a"


def test_the_store_shares_its_database_with_its_cache(db_url, clock):
    with FlowStore(db_url, clock=clock) as store:
        store.task_cache().store(KEY, entry(), "a")
    with SqlTaskCache(db_url) as cache:
        assert cache.lookup(KEY, now=101.0)["data"] == entry()["data"]


def test_claims_from_many_threads_at_once_have_one_winner(db_url):
    caches = [SqlTaskCache(db_url, claim_s=60) for _ in range(4)]
    barrier = threading.Barrier(len(caches))
    results: list[str | None] = [None] * len(caches)

    def claim(index: int) -> None:
        barrier.wait()
        results[index] = caches[index].claim(KEY, f"owner{index}", now=1.0)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(caches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for cache in caches:
        cache.close()
    winners = [i for i, result in enumerate(results) if result is None]
    assert len(winners) == 1
    assert all(result == f"owner{winners[0]}" for result in results if result is not None)


def test_a_local_cache_file_and_its_directory_are_made_in_the_user_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    with SqlTaskCache() as cache:
        cache.store(KEY, entry(), "a")
    assert (tmp_path / "xdg" / "missioncontrol" / "cache.db").is_file()
    assert default_cache_db_url() == f"sqlite:///{tmp_path / 'xdg' / 'missioncontrol' / 'cache.db'}"


def test_a_lazy_cache_opens_only_when_used(tmp_path):
    opened = []

    def opener():
        opened.append(True)
        return SqlTaskCache(f"sqlite:///{tmp_path / 'c.db'}")

    lazy = LazyTaskCache(opener)
    assert not lazy.opened and not (tmp_path / "c.db").exists()
    assert lazy.lookup(KEY, now=1.0) is None
    assert lazy.opened and opened == [True]
    lazy.close()


def test_a_database_failure_is_a_store_database_error(tmp_path):
    path = tmp_path / "c.db"
    cache = SqlTaskCache(f"sqlite:///{path}")
    try:
        import sqlite3

        with sqlite3.connect(path) as connection:
            connection.execute("DROP TABLE mc_cache")
        with pytest.raises(StoreDatabaseError, match="lookup"):
            cache.lookup(KEY, now=1.0)
    finally:
        cache.close()
