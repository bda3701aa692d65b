"""Flow-spec validation: a bad spec raises FlowSpecError naming where and what,
and a good one is normalized into the flow the user meant."""

from __future__ import annotations

import copy
import gc
import math
from typing import Any

import pytest

from mc.errors import FlowSpecError, MCError
from mc.flows import COMPLETED, PENDING, ROOT_TASK_KEY, Flow, flow_spec_to_flow
from mc.flows.spec import normalize_flow_spec


def task(key: str | None = None, **fields: Any) -> dict[str, Any]:
    """A noop task spec with ``key`` (omitted when None) and extra fields."""
    spec: dict[str, Any] = {"task_type": "noop", **fields}
    if key is not None:
        spec["key"] = key
    return spec


def spec_error(spec: Any) -> FlowSpecError:
    """The FlowSpecError that building a flow from ``spec`` raises."""
    with pytest.raises(FlowSpecError) as info:
        flow_spec_to_flow(spec)
    return info.value


def precursors_of(flow: Flow) -> dict[str, list[str]]:
    """Each task key of ``flow``, with its precursors as stored."""
    return {key: t["precursors"] for key, t in flow.tasks.items()}


def cycle_in(error: FlowSpecError) -> list[str]:
    """The tasks of the cycle named by ``error``, without the repeated end."""
    assert error.path == "tasks"
    prefix = "dependency cycle: "
    assert error.problem.startswith(prefix)
    names = error.problem[len(prefix) :].split(" -> ")
    assert names[0] == names[-1]
    return names[:-1]


def is_rotation(cycle: list[str], expected: list[str]) -> bool:
    """True if ``cycle`` is ``expected`` starting at another of its tasks."""
    return len(cycle) == len(expected) and any(
        cycle == expected[i:] + expected[:i] for i in range(len(expected))
    )


# -- the error itself ---------------------------------------------------------


def test_flow_spec_error_is_a_value_error_and_an_mc_error():
    error = spec_error({"tasks": 3})
    assert isinstance(error, ValueError)
    assert isinstance(error, MCError)


def test_flow_spec_error_reads_path_colon_problem():
    error = spec_error({"tasks": 3})
    assert error.path == "tasks"
    assert str(error) == f"tasks: {error.problem}"
    assert error.problem == "expected a list of task specs, got int 3"


# -- shapes: dicts and lists --------------------------------------------------


@pytest.mark.parametrize("spec", [None, [], "tasks", 3, ({"task_type": "noop"},)])
def test_spec_that_is_not_a_dict_is_refused(spec):
    error = spec_error(spec)
    assert error.path == "flow spec"
    assert error.problem.startswith("expected a dict, got ")


@pytest.mark.parametrize("bad_task", ["noop", None, 3, ["noop"]])
def test_task_that_is_not_a_dict_is_refused(bad_task):
    error = spec_error({"tasks": [task("a"), bad_task]})
    assert error.path == "tasks[1]"
    assert error.problem.startswith("expected a dict, got ")


@pytest.mark.parametrize("tasks", [{"a": task()}, "a", 3, True])
def test_tasks_that_is_not_a_list_is_refused(tasks):
    error = spec_error({"tasks": tasks})
    assert error.path == "tasks"
    assert error.problem.startswith("expected a list of task specs, got ")


@pytest.mark.parametrize("cfg", [[], "fail_fast", True])
def test_cfg_that_is_not_a_dict_is_refused(cfg):
    error = spec_error({"cfg": cfg})
    assert error.path == "cfg"
    assert error.problem.startswith("expected a dict, got ")


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"data": [1, 2]}, "data"),
        ({"data": "x"}, "data"),
        ({"tasks": [task(data=[1])]}, "tasks[0].data"),
        ({"tasks": [task(task_params="msg")]}, "tasks[0].task_params"),
        ({"tasks": [task(task_params={1, 2})]}, "tasks[0].task_params"),
    ],
)
def test_data_or_task_params_that_is_not_a_dict_is_refused(spec, path):
    error = spec_error(spec)
    assert error.path == path
    assert error.problem.startswith("expected a dict, got ")


# -- unknown keys ---------------------------------------------------------------


def test_unknown_top_level_key_suggests_the_close_match():
    error = spec_error({"taks": [task()]})
    assert str(error) == (
        "taks: unknown key (expected one of: label, key, cfg, data, tasks); did you mean 'tasks'?"
    )


def test_unknown_task_key_suggests_the_close_match():
    error = spec_error({"tasks": [task("a"), task("b", precursor=["a"])]})
    assert error.path == "tasks[1].precursor"
    assert error.problem.startswith("unknown key (expected one of: key, label, task_type,")
    assert error.problem.endswith("; did you mean 'precursors'?")


def test_unknown_key_unlike_any_known_key_gets_no_suggestion():
    error = spec_error({"colour": "blue"})
    assert error.path == "colour"
    assert "did you mean" not in error.problem


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"": 1}, "['']"),
        ({"cfg": {"fail fast": True}}, "cfg['fail fast']"),
        ({"tasks": [task("a", **{"task-type": "x"})]}, "tasks[0]['task-type']"),
    ],
)
def test_unknown_key_that_is_not_an_identifier_is_quoted_in_the_path(spec, path):
    assert spec_error(spec).path == path


def test_unknown_cfg_key_suggests_the_close_match():
    error = spec_error({"cfg": {"failfast": True}})
    assert str(error) == (
        "cfg.failfast: unknown key (expected one of: fail_fast); did you mean 'fail_fast'?"
    )


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({1: "x"}, "flow spec"),
        ({"cfg": {None: True}}, "cfg"),
        ({"tasks": [{"task_type": "noop", ("k",): 1}]}, "tasks[0]"),
    ],
)
def test_key_that_is_not_a_string_is_refused(spec, path):
    error = spec_error(spec)
    assert error.path == path
    assert error.problem.startswith("keys must be strings, got ")


# -- cfg ------------------------------------------------------------------------


@pytest.mark.parametrize("fail_fast", ["yes", 1, 0, [], {}])
def test_fail_fast_that_is_not_a_bool_is_refused(fail_fast):
    error = spec_error({"cfg": {"fail_fast": fail_fast}})
    assert error.path == "cfg.fail_fast"
    assert error.problem.startswith("expected true or false, got ")


def test_fail_fast_defaults_to_true():
    assert flow_spec_to_flow({}).cfg == {"fail_fast": True}


def test_fail_fast_false_is_kept():
    assert flow_spec_to_flow({"cfg": {"fail_fast": False}}).cfg == {"fail_fast": False}


# -- task_type, labels, flow key ---------------------------------------------------


def test_missing_task_type_is_refused():
    error = spec_error({"tasks": [task("a"), {"key": "b"}]})
    assert str(error) == "tasks[1]: missing required key 'task_type'"


@pytest.mark.parametrize("task_type", ["", 3, ["noop"], True])
def test_task_type_that_is_not_a_non_empty_string_is_refused(task_type):
    error = spec_error({"tasks": [{"task_type": task_type}]})
    assert error.path == "tasks[0].task_type"
    assert error.problem.startswith("expected a non-empty string, got ")


@pytest.mark.parametrize("key", ["", 3, True, ["k"]])
def test_flow_key_that_is_not_a_non_empty_string_is_refused(key):
    error = spec_error({"key": key})
    assert error.path == "key"
    assert error.problem.startswith("expected a non-empty string, got ")


@pytest.mark.parametrize(
    ("spec", "path"),
    [({"label": 3}, "label"), ({"tasks": [task(label=["x"])]}, "tasks[0].label")],
)
def test_label_that_is_not_a_string_is_refused(spec, path):
    error = spec_error(spec)
    assert error.path == path
    assert error.problem.startswith("expected a string, got ")


# -- task keys --------------------------------------------------------------------


def test_duplicate_task_key_names_both_places():
    error = spec_error({"tasks": [task("a"), task("b"), task("a")]})
    assert str(error) == "tasks[2].key: duplicate task key 'a' (first used at tasks[0])"


@pytest.mark.parametrize("key", ["1abc", "a-b", "a b", "a.b", "", "täsk", "a\n", "\na"])
def test_task_key_that_is_not_an_identifier_is_refused(key):
    error = spec_error({"tasks": [task(key)]})
    assert error.path == "tasks[0].key"
    assert error.problem.startswith(f"invalid task key {key!r}: expected an identifier")


@pytest.mark.parametrize("key", [3, True, ["a"]])
def test_task_key_that_is_not_a_string_is_refused(key):
    error = spec_error({"tasks": [task(key)]})
    assert error.path == "tasks[0].key"
    assert error.problem.startswith("expected a string, got ")


def test_root_is_not_a_task_key():
    error = spec_error({"tasks": [task("ROOT")]})
    assert str(error) == "tasks[0].key: 'ROOT' is reserved for the implicit root task"


# -- precursors and successors ------------------------------------------------------


@pytest.mark.parametrize("field", ["precursors", "successors"])
@pytest.mark.parametrize("value", ["a", {"a": True}, 3, True])
def test_edges_that_are_not_a_list_are_refused(field, value):
    error = spec_error({"tasks": [task("a"), task("b", **{field: value})]})
    assert error.path == f"tasks[1].{field}"
    assert error.problem.startswith("expected a list of task keys, got ")


@pytest.mark.parametrize("field", ["precursors", "successors"])
@pytest.mark.parametrize("item", [1, None, ["a"], {"key": "a"}])
def test_edge_that_is_not_a_string_is_refused(field, item):
    error = spec_error({"tasks": [task("a"), task("b", **{field: ["a", item]})]})
    assert error.path == f"tasks[1].{field}[1]"
    assert error.problem.startswith("expected a task key (a string), got ")


def test_unknown_precursor_names_the_known_keys_and_the_close_match():
    spec = {"tasks": [task("task_1"), task("task_2"), task(), task(precursors=["tsk_1"])]}
    error = spec_error(spec)
    assert str(error) == (
        "tasks[3].precursors[0]: unknown task key 'tsk_1' "
        "(known: task_1, task_2, task_3, task_4); did you mean 'task_1'?"
    )


def test_unknown_successor_is_refused():
    error = spec_error({"tasks": [task("a", successors=["a", "zzz"])]})
    assert str(error) == "tasks[0].successors[1]: unknown task key 'zzz' (known: a)"


def test_unknown_key_message_lists_only_the_first_of_many_known_keys():
    tasks = [task(f"t{i}") for i in range(50)] + [task("last", precursors=["nope"])]
    error = spec_error({"tasks": tasks})
    assert error.problem == (
        "unknown task key 'nope' (known: t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, ... (41 more))"
    )


def test_root_as_successor_is_refused():
    error = spec_error({"tasks": [task("a"), task("b", successors=["ROOT"])]})
    assert str(error) == "tasks[1].successors[0]: 'ROOT' cannot be a successor: it comes first"


# -- cycles -------------------------------------------------------------------------


def test_task_that_waits_for_itself_is_a_cycle():
    error = spec_error({"tasks": [task("a"), task("b", precursors=["b"])]})
    assert str(error) == "tasks: dependency cycle: b -> b"


def test_two_tasks_waiting_for_each_other_are_a_cycle():
    error = spec_error({"tasks": [task("a", precursors=["b"]), task("b", precursors=["a"])]})
    assert str(error) == "tasks: dependency cycle: b -> a -> b"


def test_cycle_behind_a_valid_prefix_names_only_the_cycle():
    spec = {
        "tasks": [
            task("p1"),
            task("p2"),
            task("x", precursors=["p2", "z"]),
            task("y", precursors=["x"]),
            task("z", precursors=["y"]),
            task("after", precursors=["z"]),
        ]
    }
    assert is_rotation(cycle_in(spec_error(spec)), ["x", "y", "z"])


def test_cycle_made_by_successors_is_found():
    spec = {
        "tasks": [
            task("a", successors=["b"]),
            task("b", successors=["c"]),
            task("c", successors=["a"]),
        ]
    }
    assert is_rotation(cycle_in(spec_error(spec)), ["a", "b", "c"])


def test_cycle_closed_by_a_successor_is_found():
    # a waits for c; d waits for a; c waits for d only through d's successors.
    spec = {
        "tasks": [
            task("a", precursors=["c"]),
            task("c", precursors=["ROOT"]),
            task("d", precursors=["a"], successors=["c"]),
        ]
    }
    assert is_rotation(cycle_in(spec_error(spec)), ["a", "d", "c"])


# -- values that are not JSON --------------------------------------------------------


class Unprintable:
    """A value whose repr raises, as a buggy user class might."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@pytest.mark.parametrize(
    "value",
    [{1, 2}, frozenset(), object(), b"bytes", 1j, Unprintable(), print],
    ids=["set", "frozenset", "object", "bytes", "complex", "unprintable", "function"],
)
def test_non_json_value_in_data_is_refused_with_its_path(value):
    error = spec_error({"data": {"a": {"b": [1, value]}}})
    assert error.path == "data.a.b[1]"
    assert error.problem.startswith("expected a JSON value ")


def test_data_key_that_is_not_an_identifier_is_quoted_in_the_path():
    error = spec_error({"data": {"my-files": {"": [object()]}}})
    assert error.path == "data['my-files'][''][0]"


def test_non_json_value_in_task_params_is_refused_with_its_path():
    error = spec_error({"tasks": [task("a"), task("b", task_params={"when": {3}})]})
    assert error.path == "tasks[1].task_params.when"
    assert error.problem.startswith("expected a JSON value ")


def test_non_json_value_in_task_data_is_refused_with_its_path():
    error = spec_error({"tasks": [task("a", data={"xs": [object()]})]})
    assert error.path == "tasks[0].data.xs[0]"


@pytest.mark.parametrize("key", [1, None, ("a",), True])
def test_dict_key_that_is_not_a_string_in_data_is_refused(key):
    error = spec_error({"data": {"a": {key: "x"}}})
    assert error.path == "data.a"
    assert error.problem.startswith("dict keys must be strings, got ")


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_number_that_json_cannot_store_is_refused(number):
    error = spec_error({"tasks": [task("a", task_params={"x": number})]})
    assert error.path == "tasks[0].task_params.x"
    assert error.problem.startswith("expected a finite number")


def test_data_that_contains_itself_is_refused():
    data: dict[str, Any] = {"a": []}
    data["a"].append(data)
    error = spec_error({"data": data})
    assert str(error) == "data.a[0]: contains itself; JSON values must be trees"


def test_value_shared_by_two_places_in_data_is_copied_twice():
    shared = {"x": 1}
    flow = flow_spec_to_flow({"data": {"a": shared, "b": shared}})
    assert flow.data == {"a": {"x": 1}, "b": {"x": 1}}
    assert flow.data["a"] is not flow.data["b"]


def test_data_nested_too_deeply_is_refused():
    deep: list[Any] = []
    for _ in range(20_000):
        deep = [deep]
    error = spec_error({"data": {"deep": deep}})
    assert str(error) == "data: nested too deeply to be stored as JSON"


# -- normalization: keys ---------------------------------------------------------------


def test_flow_key_is_generated_when_absent():
    flow = flow_spec_to_flow({"tasks": [task()]})
    assert isinstance(flow.key, str) and flow.key


def test_generated_flow_keys_are_unique_across_calls():
    spec = {"tasks": [task()]}
    keys = {flow_spec_to_flow(spec).key for _ in range(100)}
    assert len(keys) == 100


def test_explicit_flow_key_and_label_are_kept():
    flow = flow_spec_to_flow({"key": "nightly", "label": "Nightly run"})
    assert (flow.key, flow.label) == ("nightly", "Nightly run")


def test_task_keys_are_generated_from_list_position():
    flow = flow_spec_to_flow({"tasks": [task(), task(), task()]})
    assert list(flow.tasks) == ["task_1", "task_2", "task_3"]


def test_generated_task_keys_skip_keys_taken_explicitly():
    flow = flow_spec_to_flow({"tasks": [task(), task(), task("task_1")]})
    assert list(flow.tasks) == ["task_2", "task_3", "task_1"]


def test_generated_task_key_can_be_named_as_precursor():
    spec = {"tasks": [task(), task(precursors=["ROOT"]), task(precursors=["task_1"])]}
    flow = flow_spec_to_flow(spec)
    assert flow.tasks["task_3"]["precursors"] == ["task_1"]


# -- normalization: edges ----------------------------------------------------------------


def test_spec_without_edges_is_a_chain_in_list_order():
    flow = flow_spec_to_flow({"tasks": [task("a"), task("b"), task("c")]})
    assert precursors_of(flow) == {"a": [ROOT_TASK_KEY], "b": ["a"], "c": ["b"]}


@pytest.mark.parametrize("precursors", [["ROOT"], []])
def test_root_or_empty_precursors_start_a_task_at_once(precursors):
    flow = flow_spec_to_flow({"tasks": [task("a"), task("b", precursors=precursors)]})
    assert precursors_of(flow) == {"a": ["ROOT"], "b": ["ROOT"]}


def test_task_without_edges_follows_the_task_listed_before_it_even_if_that_one_has_edges():
    flow = flow_spec_to_flow({"tasks": [task("a"), task("b", precursors=["ROOT"]), task("c")]})
    assert flow.tasks["c"]["precursors"] == ["b"]


def test_successors_become_precursors_of_the_named_task():
    spec = {"tasks": [task("a"), task("b", precursors=["a"]), task("c", successors=["b"])]}
    flow = flow_spec_to_flow(spec)
    assert flow.tasks["b"]["precursors"] == ["a", "c"]


def test_task_named_as_a_successor_does_not_follow_the_task_before_it():
    flow = flow_spec_to_flow({"tasks": [task("a"), task("b"), task("c", successors=["b"])]})
    assert flow.tasks["b"]["precursors"] == ["c"]


def test_task_with_only_successors_starts_at_once():
    flow = flow_spec_to_flow({"tasks": [task("a"), task("b", successors=["c"]), task("c")]})
    assert precursors_of(flow) == {"a": ["ROOT"], "b": ["ROOT"], "c": ["b"]}


def test_precursor_named_twice_is_kept_once():
    spec = {
        "tasks": [task("a"), task("b", precursors=["a", "a"]), task("c", successors=["b", "b"])]
    }
    assert flow_spec_to_flow(spec).tasks["b"]["precursors"] == ["a", "c"]


def test_root_beside_other_precursors_is_dropped():
    flow = flow_spec_to_flow({"tasks": [task("a"), task("b", precursors=["ROOT", "a"])]})
    assert flow.tasks["b"]["precursors"] == ["a"]


def test_flow_from_spec_is_pending_with_task_defaults():
    flow = flow_spec_to_flow({"key": "f", "tasks": [task("a")]})
    assert flow.status == PENDING
    assert flow.tasks["a"] == {
        "key": "a",
        "label": None,
        "task_type": "noop",
        "task_params": {},
        "data": {},
        "precursors": ["ROOT"],
        "status": PENDING,
    }


# -- normalization: nulls, tuples, copies ----------------------------------------------------


def test_null_optional_fields_count_as_absent():
    with_nulls = {
        "key": "f",
        "label": None,
        "cfg": {"fail_fast": None},
        "data": None,
        "tasks": [
            task("a"),
            {
                "key": None,
                "label": None,
                "task_type": "noop",
                "task_params": None,
                "data": None,
                "precursors": None,
                "successors": None,
            },
        ],
    }
    without = {"key": "f", "tasks": [task("a"), task()]}
    assert normalize_flow_spec(with_nulls) == normalize_flow_spec(without)


@pytest.mark.parametrize("field", ["cfg", "tasks"])
def test_null_cfg_or_tasks_count_as_absent(field):
    assert normalize_flow_spec({"key": "f", field: None}) == normalize_flow_spec({"key": "f"})


def test_tuples_become_lists():
    spec = {
        "data": {"xs": (1, (2, 3))},
        "tasks": (task("a"), task("b", precursors=("a",), task_params={"p": ("x",)})),
    }
    flow = flow_spec_to_flow(spec)
    assert flow.data == {"xs": [1, [2, 3]]}
    assert flow.tasks["b"]["precursors"] == ["a"]
    assert flow.tasks["b"]["task_params"] == {"p": ["x"]}


def test_changing_the_spec_afterwards_does_not_change_the_flow():
    spec = {
        "data": {"d": [1]},
        "tasks": [
            task("a", task_params={"p": {"q": 1}}, data={"x": [1]}),
            task("b", precursors=["a"]),
        ],
    }
    flow = flow_spec_to_flow(spec)
    before = flow.to_flow_dict()
    spec["data"]["d"].append(2)
    spec["tasks"][0]["task_params"]["p"]["q"] = 2
    spec["tasks"][0]["data"]["x"].append(2)
    spec["tasks"][1]["precursors"].append("ROOT")
    spec["tasks"].append(task("c"))
    assert flow.to_flow_dict() == before


def test_changing_the_flow_does_not_change_the_spec():
    spec = {
        "data": {"d": [1]},
        "tasks": [task("a", task_params={"p": {"q": 1}}), task("b", precursors=["a"])],
    }
    original = copy.deepcopy(spec)
    flow = flow_spec_to_flow(spec)
    flow.data["d"].append(2)
    flow.tasks["a"]["task_params"]["p"]["q"] = 2
    flow.tasks["b"]["precursors"].append("x")
    assert spec == original


def test_valid_spec_is_left_unchanged():
    spec = {"tasks": [task(), task("b", successors=["c"]), task("c")]}
    original = copy.deepcopy(spec)
    flow_spec_to_flow(spec)
    assert spec == original


def test_bad_spec_is_left_unchanged_and_builds_no_flow():
    # The cycle is found last, after keys were generated and edges linked.
    spec = {"tasks": [task(), task("b", successors=["c"]), task("c", successors=["b"])]}
    original = copy.deepcopy(spec)
    gc.collect()
    flows_before = sum(isinstance(o, Flow) for o in gc.get_objects())
    spec_error(spec)
    gc.collect()
    assert sum(isinstance(o, Flow) for o in gc.get_objects()) == flows_before
    assert spec == original


# -- Flow.add_task ---------------------------------------------------------------------


@pytest.fixture
def flow() -> Flow:
    """A PENDING flow: a, then b."""
    return flow_spec_to_flow({"key": "f", "tasks": [task("a"), task("b")]})


def add_task_error(flow: Flow, task_spec: Any) -> FlowSpecError:
    """The FlowSpecError that adding ``task_spec`` to ``flow`` raises."""
    with pytest.raises(FlowSpecError) as info:
        flow.add_task(task_spec)
    return info.value


def test_add_task_refuses_a_duplicate_key(flow):
    error = add_task_error(flow, task("a"))
    assert str(error) == "task.key: duplicate task key 'a': the flow already has it"


def test_add_task_refuses_an_unknown_precursor(flow):
    error = add_task_error(flow, task("c", precursors=["b", "aa"]))
    assert error.path == "task.precursors[1]"
    assert error.problem.startswith("unknown task key 'aa'")


def test_add_task_refuses_an_unknown_successor(flow):
    error = add_task_error(flow, task("c", successors=["nope"]))
    assert error.path == "task.successors[0]"
    assert error.problem.startswith("unknown task key 'nope'")


def test_add_task_refuses_root_as_successor(flow):
    error = add_task_error(flow, task("c", successors=["ROOT"]))
    assert error.path == "task.successors[0]"
    assert "'ROOT' cannot be a successor" in error.problem


def test_add_task_refuses_a_successor_that_has_started(flow, engine):
    engine.tick_flow(flow)
    assert flow.tasks["a"]["status"] == COMPLETED
    error = add_task_error(flow, task("c", successors=["b", "a"]))
    assert error.path == "task.successors[1]"
    assert error.problem == "task 'a' is COMPLETED: only PENDING tasks can get a new precursor"


def test_add_task_refuses_a_cycle_made_through_successors(flow):
    error = add_task_error(flow, task("c", precursors=["b"], successors=["a"]))
    assert error.path == "task"
    assert error.problem == "adding 'c' would make a dependency cycle: c -> a -> b -> c"


def test_add_task_refuses_a_task_that_precedes_and_follows_the_same_task(flow):
    error = add_task_error(flow, task("c", precursors=["a"], successors=["a"]))
    assert error.path == "task"


@pytest.mark.parametrize(
    ("task_spec", "path"),
    [
        ("c", "task"),
        ({"key": "c"}, "task"),
        (task("c", colour="red"), "task.colour"),
        (task("ROOT"), "task.key"),
        (task("c", data={"x": {1}}), "task.data.x"),
    ],
)
def test_add_task_refuses_a_bad_task_spec(flow, task_spec, path):
    assert add_task_error(flow, task_spec).path == path


@pytest.mark.parametrize(
    "task_spec",
    [
        task("a"),
        task("c", precursors=["b", "aa"]),
        task("c", successors=["b", "nope"]),
        task("c", successors=["b", "ROOT"]),
        task("c", precursors=["b"], successors=["a"]),
        task("c", successors=["b"], data={"x": {1}}),
        {"key": "c", "successors": ["b"]},
    ],
    ids=[
        "duplicate",
        "unknown-precursor",
        "unknown-successor",
        "root-successor",
        "cycle",
        "not-json",
        "no-task-type",
    ],
)
def test_refused_add_task_leaves_the_flow_unchanged(flow, task_spec):
    before = flow.to_flow_dict()
    ready_before = flow.has_ready_tasks()
    successors_before = {key: flow.get_successors(key) for key in flow.tasks}
    add_task_error(flow, task_spec)
    assert flow.to_flow_dict() == before
    assert flow.has_ready_tasks() == ready_before
    assert {key: flow.get_successors(key) for key in flow.tasks} == successors_before


def test_refused_add_task_on_a_started_flow_leaves_it_unchanged(flow, engine):
    engine.tick_flow(flow)
    before = flow.to_flow_dict()
    add_task_error(flow, task("c", precursors=["b"], successors=["a"]))
    assert flow.to_flow_dict() == before
