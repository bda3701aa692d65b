"""Dot paths: looking values up, and setting them, in dicts, lists and flows; nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mc.errors import DotPathError, MCError
from mc.flows.dotpath import get_path, set_path, split_path

DATA = {"sample": {"name": "Cu-2", "runs": [{"t": 1.5}, {"t": 2.5}, {"t": 3.5}]}, "empty": {}}


def test_get_path_reads_nested_dict_keys():
    assert get_path(DATA, "sample.name") == "Cu-2"


def test_get_path_reads_list_indexes():
    assert get_path(DATA, "sample.runs.1.t") == 2.5


def test_get_path_reads_negative_list_indexes_from_the_end():
    assert get_path(DATA, "sample.runs.-1.t") == 3.5


def test_get_path_reads_tuples_like_lists():
    assert get_path({"pair": ("a", "b")}, "pair.1") == "b"


def test_get_path_returns_the_value_itself_not_a_copy():
    assert get_path(DATA, "sample.runs") is DATA["sample"]["runs"]


def test_get_path_reads_flow_fields(engine):
    flow = engine.flow_spec_to_flow(
        {"key": "f1", "data": {"x": [10, 20]}, "tasks": [{"key": "a", "task_type": "noop"}]}
    )
    root = {"ctx": {"flow": flow}}
    assert get_path(root, "ctx.flow.key") == "f1"
    assert get_path(root, "ctx.flow.data.x.1") == 20
    assert get_path(root, "ctx.flow.tasks.a.task_type") == "noop"
    assert get_path(root, "ctx.flow.depth") == 0


def test_missing_dict_key_names_the_path_the_part_and_the_keys_there():
    with pytest.raises(DotPathError) as raised:
        get_path(DATA, "sample.nmae")
    message = str(raised.value)
    assert "path 'sample.nmae' does not resolve at 'nmae'" in message
    assert "sample has no key 'nmae' (it has: name, runs)" in message


def test_missing_key_at_the_root_says_so():
    with pytest.raises(DotPathError, match="the root has no key 'nope'"):
        get_path(DATA, "nope")


def test_list_index_out_of_range_names_the_list_length():
    with pytest.raises(DotPathError, match="sample.runs is a list of 3, which has no index '3'"):
        get_path(DATA, "sample.runs.3.t")


def test_negative_index_beyond_the_start_does_not_resolve():
    with pytest.raises(DotPathError, match="has no index '-4'"):
        get_path(DATA, "sample.runs.-4")


def test_non_number_list_index_does_not_resolve():
    with pytest.raises(DotPathError, match="has no index 'first'"):
        get_path(DATA, "sample.runs.first")


def test_non_ascii_digit_list_index_is_a_dot_path_error():
    # '²'.isdigit() is True, but it is no index.
    with pytest.raises(DotPathError, match="has no index '²'"):
        get_path(DATA, "sample.runs.²")


def test_path_into_a_string_says_it_cannot_be_entered():
    with pytest.raises(DotPathError, match="sample.name is a str, which a path cannot enter"):
        get_path(DATA, "sample.name.upper")


def test_unknown_flow_field_lists_the_fields_a_path_may_reach(engine):
    flow = engine.flow_spec_to_flow({"tasks": []})
    with pytest.raises(DotPathError, match=r"ctx.flow has no field 'nope' \(it has: key, label"):
        get_path({"ctx": {"flow": flow}}, "ctx.flow.nope")


@pytest.mark.parametrize(
    "path",
    [
        "ctx.flow.__class__",
        "ctx.flow.__dict__",
        "ctx.flow._tasks",
        "ctx.flow._task_list",
        "ctx.flow.to_flow_dict",
        "ctx.flow.add_task",
    ],
)
def test_flow_attributes_outside_dotpath_fields_are_refused(engine, path):
    flow = engine.flow_spec_to_flow({"tasks": [{"key": "a", "task_type": "noop"}]})
    with pytest.raises(DotPathError, match=f"does not resolve at '{path.split('.')[-1]}'"):
        get_path({"ctx": {"flow": flow}}, path)


@pytest.mark.parametrize(
    "path",
    ["ctx.flow_engine.clock", "ctx.flow_engine.task_type_registry", "ctx.flow_engine.__class__"],
)
def test_objects_without_dotpath_fields_cannot_be_entered(engine, path):
    with pytest.raises(
        DotPathError, match="ctx.flow_engine is a FlowEngine, which a path cannot enter"
    ):
        get_path({"ctx": {"flow_engine": engine}}, path)


def test_dict_methods_and_dunders_are_not_reachable():
    with pytest.raises(DotPathError, match="has no key '__class__'"):
        get_path(DATA, "sample.__class__")
    with pytest.raises(DotPathError, match="has no key 'keys'"):
        get_path(DATA, "sample.keys")


@pytest.mark.parametrize("path", ["", "a..b", ".a", "a.", None, 5])
def test_malformed_paths_are_refused(path):
    with pytest.raises(DotPathError):
        split_path(path)


def test_dot_path_error_is_an_mc_error_and_a_lookup_error():
    with pytest.raises(MCError):
        get_path({}, "x")
    with pytest.raises(LookupError):
        get_path({}, "x")


def test_set_path_sets_a_nested_dict_key():
    root = {"a": {"b": 1}}
    set_path(root, "a.b", 2)
    assert root == {"a": {"b": 2}}


def test_set_path_creates_missing_dicts_on_the_way():
    root: dict = {}
    set_path(root, "a.b.c", 3)
    assert root == {"a": {"b": {"c": 3}}}


def test_set_path_replaces_a_null_on_the_way_by_a_dict():
    root = {"a": None}
    set_path(root, "a.b", 1)
    assert root == {"a": {"b": 1}}


def test_set_path_sets_list_items_by_index():
    root = {"xs": [1, 2, 3]}
    set_path(root, "xs.0", "first")
    set_path(root, "xs.-1", "last")
    assert root == {"xs": ["first", 2, "last"]}


def test_set_path_goes_through_list_items():
    root = {"xs": [{"v": 1}]}
    set_path(root, "xs.0.v", 2)
    assert root == {"xs": [{"v": 2}]}


def test_set_path_refuses_a_list_index_out_of_range():
    root = {"xs": [1]}
    with pytest.raises(DotPathError, match="xs is a list of 1, which has no index '1'"):
        set_path(root, "xs.1", 2)
    assert root == {"xs": [1]}


def test_set_path_refuses_to_enter_a_string():
    root = {"name": "Cu"}
    with pytest.raises(DotPathError, match="name is a str"):
        set_path(root, "name.first", "C")
    assert root == {"name": "Cu"}


def test_set_path_through_a_null_list_item_says_it_is_null():
    root = {"xs": [None]}
    with pytest.raises(DotPathError, match="xs.0 is null"):
        set_path(root, "xs.0.v", 1)


def test_set_path_writes_into_flow_data_through_the_flow(engine):
    flow = engine.flow_spec_to_flow({"tasks": []})
    set_path({"ctx": {"flow": flow}}, "ctx.flow.data.results.best", 7)
    assert flow.data == {"results": {"best": 7}}


def test_set_path_cannot_replace_a_flow_field(engine):
    flow = engine.flow_spec_to_flow({"key": "f", "tasks": []})
    with pytest.raises(DotPathError, match="ctx.flow is a Flow, not a dict or list"):
        set_path({"ctx": {"flow": flow}}, "ctx.flow.status", "COMPLETED")
    assert flow.status == "PENDING"


def test_set_path_cannot_create_an_attribute_on_an_object(engine):
    with pytest.raises(DotPathError, match="cannot enter"):
        set_path({"ctx": {"flow_engine": engine}}, "ctx.flow_engine.clock.x", 1)


def test_missing_key_message_says_when_it_lists_only_some_keys():
    many = {f"k{i:02d}": i for i in range(12)}
    with pytest.raises(DotPathError, match=r"\(it has: k00, k01, .*k09, \.\.\. \(12 in all\)\)"):
        get_path(many, "nope")


_names = st.text(alphabet="abcxyz_", min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(st.lists(_names, min_size=1, max_size=5), st.integers() | st.text(max_size=5))
def test_set_path_then_get_path_gives_the_value_back(parts, value):
    root: dict = {}
    path = ".".join(parts)
    set_path(root, path, value)
    assert get_path(root, path) == value
