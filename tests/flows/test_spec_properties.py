"""Properties of flow-spec validation, for any spec.

Whatever a user passes, building a flow either succeeds with a sound flow or
raises FlowSpecError "<path>: <problem>"; never anything else. A valid spec
builds exactly the DAG it describes, under the documented rules for
generated keys and implicit edges.
"""

from __future__ import annotations

import copy
import graphlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mc.errors import FlowSpecError
from mc.flows import Flow, flow_spec_to_flow
from mc.flows import spec as spec_module
from mc.flows.compat import NO_INTERPOLATE_KEY
from mc.flows.spec import FLOW_SPEC_KEYS, TASK_SPEC_KEYS
from tests.flows import strategies

PROPERTIES = settings(max_examples=200, deadline=None)

KEY_POOL = ["a", "b", "c", "d", "e", "f", "task_1", "task_2", "task_3", "task_5"]

# -- values: JSON, and things that only look like it ------------------------------

json_scalars = strategies.json_scalars(text_size=5)
json_values = strategies.json_values(text_size=5)
hashable_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=3)
odd_scalars = (
    st.floats()
    | st.binary(max_size=3)
    | st.complex_numbers(allow_nan=False)
    | st.builds(object)
    | st.frozensets(hashable_scalars, max_size=2)
    | st.sampled_from(KEY_POOL)
)
# JSON-ish values with non-JSON ones mixed in: sets, tuples, bytes, objects,
# NaN, and dicts whose keys are not strings.
anything = st.recursive(
    json_scalars | odd_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.sets(hashable_scalars, max_size=2)
        | st.dictionaries(st.text(max_size=5) | hashable_scalars, inner, max_size=3)
        | st.dictionaries(st.sampled_from([*FLOW_SPEC_KEYS, *TASK_SPEC_KEYS]), inner, max_size=4)
    ),
    max_leaves=10,
)


def build(spec: Any) -> Flow | FlowSpecError:
    """The flow built from ``spec``, or the FlowSpecError it raised.

    Any other exception escapes and fails the test.
    """
    try:
        return flow_spec_to_flow(spec)
    except FlowSpecError as error:
        return error


def assert_well_formed(outcome: Flow | FlowSpecError) -> None:
    """A FlowSpecError reads "<path>: <problem>"; a flow is a sound DAG."""
    if isinstance(outcome, FlowSpecError):
        assert outcome.path and outcome.problem
        assert str(outcome) == f"{outcome.path}: {outcome.problem}"
        return
    graph = {key: set(t["precursors"]) - {"ROOT"} for key, t in outcome.tasks.items()}
    assert all(pre in outcome.tasks for pres in graph.values() for pre in pres)
    list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError
    assert Flow.from_flow_dict(outcome.to_flow_dict()).to_flow_dict() == outcome.to_flow_dict()


# -- valid specs, and the DAG each one describes ----------------------------------------

# Marks a field that the spec leaves out.
ABSENT = object()
no_edges = st.sampled_from([ABSENT, None, [], ["ROOT"]])
no_successors = st.sampled_from([ABSENT, None, []])
explicit_no_edges = st.sampled_from([[], ["ROOT"]])
edge_pairs = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=12)
edge_forms = st.lists(st.sampled_from(["precursor", "successor", "both"]), min_size=12, max_size=12)


def generated_keys(explicit: list[str | None]) -> list[str]:
    """Every task's key: the explicit ones, and task_<position> for the rest.

    A generated key skips keys already taken: the documented rule, written
    out here independently of mc.flows.spec.
    """
    taken = {key for key in explicit if key is not None}
    keys = []
    for position, key in enumerate(explicit, start=1):
        if key is None:
            n = position
            while f"task_{n}" in taken:
                n += 1
            key = f"task_{n}"
            taken.add(key)
        keys.append(key)
    return keys


@st.composite
def dag_specs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, set[str]]]:
    """A valid flow spec, and the precursors each of its tasks must get.

    Edges run from earlier to later nodes of a topological order. Each edge
    is written as a precursor, a successor, or both. Tasks are listed either
    in that order (then tasks without edges follow the one listed before
    them) or shuffled (then every task names its precursors explicitly).
    """
    n = draw(st.integers(0, 8))
    shuffled = draw(st.booleans())
    order = draw(st.permutations(range(n))) if shuffled else list(range(n))
    names = draw(st.lists(st.sampled_from(KEY_POOL), min_size=n, max_size=n, unique=True))
    explicit = [name if draw(st.booleans()) else None for name in names]
    listed_keys = generated_keys(explicit)
    key_of = {node: listed_keys[position] for position, node in enumerate(order)}

    pairs = draw(edge_pairs)
    edges = sorted({(min(a, b), max(a, b)) for a, b in pairs if a != b and max(a, b) < n})
    forms = draw(edge_forms)
    precursors: dict[int, list[str]] = {node: [] for node in range(n)}
    successors: dict[int, list[str]] = {node: [] for node in range(n)}
    named_as_successor = set()
    for (before, after), form in zip(edges, forms):
        if form in ("precursor", "both"):
            precursors[after].append(key_of[before])
        if form in ("successor", "both"):
            successors[before].append(key_of[after])
            named_as_successor.add(after)

    tasks = []
    expected: dict[str, set[str]] = {}
    previous = None
    for position, node in enumerate(order):
        task: dict[str, Any] = {"task_type": "noop"}
        if explicit[position] is not None:
            task["key"] = explicit[position]
        pres = precursors[node]
        if pres:
            task["precursors"] = pres + draw(st.sampled_from([[], ["ROOT"], pres[:1]]))
        elif shuffled:
            task["precursors"] = draw(explicit_no_edges)
        elif (value := draw(no_edges)) is not ABSENT:
            task["precursors"] = value
        if successors[node]:
            task["successors"] = successors[node]
        elif (value := draw(no_successors)) is not ABSENT:
            task["successors"] = value
        wanted = {key_of[before] for before, after in edges if after == node}
        implicit = (
            task.get("precursors") is None
            and task.get("successors") is None
            and node not in named_as_successor
        )
        if implicit and previous is not None:
            wanted = {previous}
        expected[key_of[node]] = wanted or {"ROOT"}
        previous = key_of[node]
        tasks.append(task)
    return {"tasks": tasks}, expected


@PROPERTIES
@given(dag_specs())
def test_valid_dag_spec_builds_the_precursors_it_specifies(spec_and_expected):
    spec, expected = spec_and_expected
    flow = flow_spec_to_flow(spec)
    assert list(flow.tasks) == list(expected)
    assert {key: set(t["precursors"]) for key, t in flow.tasks.items()} == expected
    for task in flow.tasks.values():
        assert len(task["precursors"]) == len(set(task["precursors"]))


# -- malformed specs ---------------------------------------------------------------


@PROPERTIES
@given(anything)
def test_any_value_as_a_spec_builds_a_flow_or_raises_flow_spec_error(value):
    assert_well_formed(build(value))


@st.composite
def specs_with_anything_somewhere(draw: st.DrawFn) -> dict[str, Any]:
    """A valid spec with a random value in one of its fields or its tasks."""
    spec, _ = draw(dag_specs())
    tasks = spec["tasks"]
    where = draw(st.sampled_from(["spec", "task", "task_field", "task_params"]))
    if where == "spec" or not tasks:
        spec[draw(st.sampled_from(FLOW_SPEC_KEYS))] = draw(anything)
    elif where == "task":
        tasks[draw(st.integers(0, len(tasks) - 1))] = draw(anything)
    elif where == "task_field":
        task = tasks[draw(st.integers(0, len(tasks) - 1))]
        task[draw(st.sampled_from(TASK_SPEC_KEYS))] = draw(anything)
    else:
        task = tasks[draw(st.integers(0, len(tasks) - 1))]
        task["task_params"] = {"p": draw(anything)}
    return spec


@PROPERTIES
@given(specs_with_anything_somewhere())
def test_any_value_anywhere_in_a_spec_builds_a_flow_or_raises_flow_spec_error(spec):
    assert_well_formed(build(spec))


MUTATIONS = [
    "drop_field",
    "rename_field",
    "wrong_type",
    "dangling_reference",
    "extra_precursor",
    "self_loop",
    "duplicate_key",
    "root_successor",
    "root_key",
]
mutations = st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3)
typo_characters = st.sampled_from(["s", "_", "x", ""])


@st.composite
def mutated_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid spec after one to three mutations that may break it."""
    spec, _ = draw(dag_specs())
    tasks = spec["tasks"]
    keys = [t.get("key", "task_1") for t in tasks] or ["a"]
    for mutation in draw(mutations):
        target: dict[str, Any] = (
            tasks[draw(st.integers(0, len(tasks) - 1))]
            if tasks and draw(st.integers(0, 3))
            else spec
        )
        task = tasks[draw(st.integers(0, len(tasks) - 1))] if tasks else {}
        if mutation == "drop_field" and target:
            del target[draw(st.sampled_from(sorted(target)))]
        elif mutation == "rename_field" and target:
            name = draw(st.sampled_from(sorted(target)))
            cut = draw(st.integers(0, len(name)))
            typo = name[:cut] + draw(typo_characters) + name[cut + 1 :]
            target[typo] = target.pop(name)
        elif mutation == "wrong_type":
            fields = TASK_SPEC_KEYS if target is not spec else FLOW_SPEC_KEYS
            target[draw(st.sampled_from(fields))] = draw(json_values)
        elif mutation == "dangling_reference":
            field = draw(st.sampled_from(["precursors", "successors"]))
            before = task.get(field)
            task[field] = [*(before if isinstance(before, list) else []), draw(st.text(max_size=4))]
        elif mutation == "extra_precursor":
            # May close a cycle, or add a harmless edge.
            before = task.get("precursors")
            task["precursors"] = [
                *(before if isinstance(before, list) else []),
                draw(st.sampled_from(keys)),
            ]
        elif mutation == "self_loop":
            task["precursors"] = [task.get("key", "task_1")]
        elif mutation == "duplicate_key":
            task["key"] = draw(st.sampled_from(keys))
        elif mutation == "root_successor":
            task["successors"] = ["ROOT"]
        elif mutation == "root_key":
            task["key"] = "ROOT"
    return spec


@PROPERTIES
@given(mutated_specs())
def test_mutated_spec_builds_a_flow_or_raises_flow_spec_error(spec):
    assert_well_formed(build(spec))


@PROPERTIES
@given(mutated_specs())
def test_building_never_changes_the_spec(spec):
    original = copy.deepcopy(spec)
    build(spec)
    assert spec == original


# -- cycles -------------------------------------------------------------------------

some_keys = st.lists(st.sampled_from(KEY_POOL[:6]), min_size=1, max_size=6, unique=True)


@st.composite
def explicit_graphs(draw: st.DrawFn) -> dict[str, list[str]]:
    """Task keys, each with explicit precursors among them: maybe cyclic."""
    keys = draw(some_keys)
    return {key: draw(st.lists(st.sampled_from(keys), max_size=3)) for key in keys}


@PROPERTIES
@given(explicit_graphs())
def test_spec_is_refused_exactly_when_it_has_a_cycle_and_the_named_cycle_is_real(graph):
    spec = {"tasks": [{"key": k, "task_type": "noop", "precursors": p} for k, p in graph.items()]}
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError:
        has_cycle = True
    else:
        has_cycle = False
    outcome = build(spec)
    assert isinstance(outcome, FlowSpecError) == has_cycle
    if has_cycle:
        assert outcome.path == "tasks"
        assert outcome.problem.startswith("dependency cycle: ")
        cycle = outcome.problem.removeprefix("dependency cycle: ").split(" -> ")
        assert cycle[0] == cycle[-1]
        assert len(set(cycle[:-1])) == len(cycle) - 1
        for before, after in zip(cycle, cycle[1:]):
            assert before in graph[after]


# -- the fast path and the full checker agree -------------------------------------------

# Task fields, set to a random value on top of a spec in the fast path's shape.
FAST_PATH_EXTRAS = [
    "label",
    "task_params",
    "data",
    "trigger_rule",
    "retries",
    "retry_delay_s",
    "timeout_s",
    "interpolate",
    "cache",
    "key",
    "task_type",
    "precursors",
    "successors",
    NO_INTERPOLATE_KEY,
]
extra_values = (
    anything
    | st.sampled_from(["all_done", "one_failed", "x\x00", "é", "\ud800", "ROOT", "a"])
    | st.sampled_from([0, 1, 2.0, 3.5, -1, True, False, None])
    | st.lists(st.sampled_from([*KEY_POOL, "ROOT", "zz"]), max_size=3)
)


@st.composite
def fast_path_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A spec as programs write them (every task keyed, precursors only), maybe broken.

    Made from a valid DAG; then precursors written in different forms (a
    tuple, repeated, with ROOT, left out), up to three fields set to
    random values, and maybe a task given another task's key.
    """
    spec, _ = draw(dag_specs())
    built = spec_module._full_flow_dict({**spec, "key": "flow"})
    tasks = []
    for key, task in built["tasks"].items():
        written: dict[str, Any] = {"key": key, "task_type": "noop"}
        precursors = list(task["precursors"])
        form = draw(st.sampled_from(["list", "tuple", "repeated", "root", "absent"]))
        if form == "tuple":
            written["precursors"] = tuple(precursors)
        elif form == "repeated":
            written["precursors"] = precursors + precursors[:1]
        elif form == "root":
            written["precursors"] = ["ROOT", *precursors]
        elif form == "list":
            written["precursors"] = precursors
        tasks.append(written)
    for _ in range(draw(st.integers(0, 3))):
        if not tasks:
            break
        task = tasks[draw(st.integers(0, len(tasks) - 1))]
        task[draw(st.sampled_from(FAST_PATH_EXTRAS))] = draw(extra_values)
    if len(tasks) > 1 and draw(st.integers(0, 4)) == 0:
        # A key given twice: the fast path finds it by counting the tasks.
        first, second = draw(st.lists(st.sampled_from(tasks), min_size=2, max_size=2))
        if first is not second:
            second["key"] = first["key"]
    return {"key": "flow", "tasks": tasks}


def normalized_or_error(normalize: Any, spec: Any) -> Any:
    """What ``normalize(spec)`` returns (as JSON text: key order counts), or its error's text."""
    try:
        return json.dumps(normalize(spec))
    except FlowSpecError as error:
        return f"FlowSpecError: {error}"


def flow_indexes(flow: Flow) -> tuple[Any, ...]:
    return (
        flow._position,
        flow._successors,
        flow._waiting,
        flow._rules,
        flow._bad_counts,
        flow._ready,
        flow._retrying,
        flow._running,
        +flow._status_counts,
        flow.changed_task_keys(),
    )


@PROPERTIES
@given(fast_path_specs() | mutated_specs() | specs_with_anything_somewhere())
def test_fast_path_gives_the_full_checkers_flow_dict_or_error(spec):
    if isinstance(spec, dict) and spec.get("key") is None:
        spec["key"] = "flow"  # not a generated one, which differs each time
    expected = normalized_or_error(spec_module._full_flow_dict, spec)
    assert normalized_or_error(spec_module.normalize_flow_spec, spec) == expected
    outcome = build(spec)
    if isinstance(outcome, FlowSpecError):
        assert f"FlowSpecError: {outcome}" == expected
        return
    assert json.dumps(outcome.to_flow_dict()) == expected
    reference = Flow.from_flow_dict(json.loads(expected))
    assert flow_indexes(outcome) == flow_indexes(reference)


@PROPERTIES
@given(fast_path_specs())
def test_fast_path_never_keeps_a_reference_into_the_spec(spec):
    original = copy.deepcopy(spec)
    outcome = build(spec)
    if isinstance(outcome, FlowSpecError):
        return
    for task in outcome.tasks.values():
        for value in task.values():
            if isinstance(value, (dict, list)):
                value.clear() if isinstance(value, dict) else value.append("changed")
    assert spec == original


class _EqualsTaskType:
    """A field name that is no string, yet hashes and compares as 'task_type'."""

    def __hash__(self) -> int:
        return hash("task_type")

    def __eq__(self, other: object) -> bool:
        return other == "task_type"


def test_a_field_name_that_only_compares_equal_to_a_string_is_refused_as_no_string():
    spec = {"key": "f", "tasks": [{"key": "a", _EqualsTaskType(): "noop"}]}
    assert spec_module.fast_flow_dict(spec) is None
    outcome = build(spec)
    assert isinstance(outcome, FlowSpecError)
    assert "keys must be strings" in str(outcome)
