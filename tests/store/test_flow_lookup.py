"""Finding stored flows: key prefixes (resolve_key) and the filters and order of query.

Every test runs on a SQLite file and on the PostgreSQL server.
"""

from __future__ import annotations

import pytest

from mc.errors import AmbiguousFlowKeyError, FlowNotFoundError


def store_flow(store, key, label=None):
    spec = {"key": key, "tasks": [{"key": "a", "task_type": "noop"}]}
    if label is not None:
        spec["label"] = label
    return store.create_flow(spec)


# -- resolve_key -------------------------------------------------------------


def test_a_unique_prefix_resolves_to_the_whole_key(flow_store):
    store_flow(flow_store, "236f41ea-aaaa")
    store_flow(flow_store, "9c0ffee0-bbbb")
    assert flow_store.resolve_key("236f") == "236f41ea-aaaa"


def test_a_whole_key_resolves_to_itself_even_when_it_prefixes_others(flow_store):
    store_flow(flow_store, "run")
    store_flow(flow_store, "run-2")
    assert flow_store.resolve_key("run") == "run"


def test_an_ambiguous_prefix_is_an_error_listing_the_candidates(flow_store):
    store_flow(flow_store, "abc-1", label="first")
    store_flow(flow_store, "abc-2", label="second")
    store_flow(flow_store, "xyz")
    with pytest.raises(AmbiguousFlowKeyError) as caught:
        flow_store.resolve_key("abc")
    assert caught.value.count == 2
    assert sorted(line.split()[0] for line in caught.value.candidates) == ["abc-1", "abc-2"]
    assert "abc-1  first  PENDING" in str(caught.value)
    assert "give more of the key" in str(caught.value)


def test_an_ambiguous_prefix_with_many_matches_lists_some_and_counts_all(flow_store):
    for number in range(12):
        store_flow(flow_store, f"k{number:02d}")
    with pytest.raises(AmbiguousFlowKeyError) as caught:
        flow_store.resolve_key("k")
    assert (caught.value.count, len(caught.value.candidates)) == (12, 10)
    assert "... and 2 more" in str(caught.value)


def test_a_prefix_that_matches_nothing_is_not_found(flow_store):
    store_flow(flow_store, "abc")
    with pytest.raises(FlowNotFoundError):
        flow_store.resolve_key("abd")


def test_an_empty_prefix_matches_nothing(flow_store):
    store_flow(flow_store, "abc")
    with pytest.raises(FlowNotFoundError):
        flow_store.resolve_key("")


@pytest.mark.parametrize("prefix", ["%", "_", "a%", "a_", "\\", "a\\"])
def test_like_wildcards_in_a_prefix_are_plain_characters(flow_store, prefix):
    store_flow(flow_store, "abc")
    with pytest.raises(FlowNotFoundError):
        flow_store.resolve_key(prefix)


def test_a_prefix_with_wildcard_characters_finds_the_key_that_has_them(flow_store):
    store_flow(flow_store, "50%_off\\sale")
    store_flow(flow_store, "50xyoff-sale")
    assert flow_store.resolve_key("50%_") == "50%_off\\sale"
    assert flow_store.resolve_key("50%_off\\") == "50%_off\\sale"


def test_prefixes_are_case_sensitive(flow_store):
    store_flow(flow_store, "ABC-1")
    with pytest.raises(FlowNotFoundError):
        flow_store.resolve_key("abc")
    assert flow_store.resolve_key("AB") == "ABC-1"


# -- query: order, since, label globs ------------------------------------------


def test_query_lists_newest_first_when_asked(flow_store, clock):
    for key in ("old", "middle", "new"):
        store_flow(flow_store, key)
        clock.advance(10)
    assert [r.key for r in flow_store.query(newest_first=True)] == ["new", "middle", "old"]
    assert [r.key for r in flow_store.query()] == ["old", "middle", "new"]
    assert [r.key for r in flow_store.query(newest_first=True, limit=2)] == ["new", "middle"]


def test_query_since_keeps_flows_created_at_or_after_the_time(flow_store, clock):
    store_flow(flow_store, "old")
    clock.advance(3600)
    store_flow(flow_store, "new")
    assert [r.key for r in flow_store.query(created_since=clock.now - 60)] == ["new"]
    assert [r.key for r in flow_store.query(created_since=clock.now - 3600)] == ["old", "new"]


LABELS = ["sweep-1", "sweep-2", "Sweep-3", "fit", "sweep_x", "50%", "a*b", "[x]", None]


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("sweep-*", ["sweep-1", "sweep-2"]),
        ("sweep-?", ["sweep-1", "sweep-2"]),
        ("*weep*", ["sweep-1", "sweep-2", "Sweep-3", "sweep_x"]),
        ("fit", ["fit"]),
        ("sweep_*", ["sweep_x"]),
        ("50%", ["50%"]),
        ("5_%", []),
        ("a*b", ["a*b"]),
        ("[x]", ["[x]"]),
        ("*", ["sweep-1", "sweep-2", "Sweep-3", "fit", "sweep_x", "50%", "a*b", "[x]"]),
    ],
)
def test_query_label_glob_matches_like_a_shell_pattern(flow_store, pattern, expected):
    for number, label in enumerate(LABELS):
        store_flow(flow_store, f"f{number}", label=label)
    found = [r.label for r in flow_store.query(label_glob=pattern, limit=None)]
    assert sorted(found) == sorted(expected)
