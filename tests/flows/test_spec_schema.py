"""The JSON Schema shipped with mc.flows says what the validator says.

The schema cannot check that precursors and successors name tasks of the
flow, that task keys are unique, or that there is no cycle; everything else
it states exactly. So for any spec: a spec the schema rejects, the validator
rejects; and for specs whose references are sound, the two agree exactly.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from mc.errors import FlowSpecError
from mc.flows import flow_spec_to_flow
from mc.flows.spec import (
    FLOW_CFG_KEYS,
    FLOW_SPEC_KEYS,
    TASK_KEY_PATTERN,
    TASK_SPEC_KEYS,
    flow_spec_json_schema,
    normalize_flow_spec,
)
from tests.flows import strategies

SCHEMA = flow_spec_json_schema()
SCHEMA_VALIDATOR = Draft202012Validator(SCHEMA)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_FILES = sorted([*EXAMPLES.glob("**/*.yaml"), *EXAMPLES.glob("**/*.json")])

PROPERTIES = settings(max_examples=200, deadline=None)


def schema_accepts(spec: Any) -> bool:
    """True if the shipped JSON Schema accepts ``spec``."""
    return SCHEMA_VALIDATOR.is_valid(spec)


def validator_accepts(spec: Any) -> bool:
    """True if mc.flows accepts ``spec``; False if it raises FlowSpecError."""
    try:
        normalize_flow_spec(spec)
    except FlowSpecError:
        return False
    return True


# -- the schema itself ------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)


def test_schema_properties_are_the_flow_spec_keys():
    assert set(SCHEMA["properties"]) == set(FLOW_SPEC_KEYS)


def test_schema_cfg_properties_are_the_flow_cfg_keys():
    assert set(SCHEMA["properties"]["cfg"]["properties"]) == set(FLOW_CFG_KEYS)


def test_schema_task_properties_are_the_task_spec_keys():
    assert set(SCHEMA["$defs"]["task_spec"]["properties"]) == set(TASK_SPEC_KEYS)


def test_schema_task_key_pattern_is_the_validators():
    assert SCHEMA["$defs"]["task_key"]["pattern"] == TASK_KEY_PATTERN


@pytest.mark.parametrize(
    "where",
    [SCHEMA, SCHEMA["properties"]["cfg"], SCHEMA["$defs"]["task_spec"]],
    ids=["flow spec", "cfg", "task spec"],
)
def test_schema_refuses_unknown_keys_like_the_validator(where):
    assert where["additionalProperties"] is False


def test_schema_refuses_root_as_successor_like_the_validator():
    spec = {"tasks": [{"key": "a", "task_type": "noop", "successors": ["ROOT"]}]}
    assert not schema_accepts(spec)
    assert not validator_accepts(spec)


# -- the example specs -------------------------------------------------------------


def load_example(path: Path) -> Any:
    """The spec in an example file, YAML or JSON."""
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def test_there_are_example_specs():
    assert EXAMPLE_FILES


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_spec_is_valid_for_schema_and_validator(path):
    spec = load_example(path)
    SCHEMA_VALIDATOR.validate(spec)
    flow_spec_to_flow(spec)


# -- generated specs ------------------------------------------------------------------

KEY_POOL = ["a", "b", "c", "d", "e", "task_1", "task_2", "task_3", "_x", "Z9"]
# Keys both the schema and the validator refuse.
SCHEMA_BAD_KEYS = ["", "1a", "a-b", "a b", "ROOT", "é", "a.b", 3, True, ["a"], {"k": "a"}]
# Keys the validator refuses but Python's `re` lets through the schema's '$'.
NEWLINE_KEYS = ["a\n", "task_1\n"]

json_scalars = strategies.json_scalars(text_size=6)
json_values = strategies.json_values(text_size=6)
# Small, so that generating many specs stays fast; mutations bring the rest.
json_objects = st.dictionaries(st.sampled_from(["x", "y", "msg"]), json_scalars, max_size=2)


# Marks a field that the spec leaves out.
ABSENT = object()


def optional(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's value: ABSENT, null, or drawn from ``value``."""
    return st.just(ABSENT) | st.none() | value


def put(spec: dict[str, Any], field: str, value: Any) -> None:
    """Set ``spec[field]`` unless ``value`` is ABSENT."""
    if value is not ABSENT:
        spec[field] = value


def pick(choices: list[str], picks: Any) -> Any:
    """The ``choices`` that a list of ints points at; ABSENT or None as is."""
    if picks is ABSENT or picks is None:
        return picks
    return [choices[p % len(choices)] for p in picks]


# Strategies built once: building them inside valid_specs made it slow.
optional_labels = optional(strategies.spec_text(6))
optional_json_objects = optional(json_objects)
optional_picks = optional(st.lists(st.integers(0, 9), max_size=3))
optional_task_keys = st.just(ABSENT) | st.none()
task_types = st.sampled_from(["noop", "print", "pkg.Mod"])
optional_flow_keys = optional(st.text(strategies.SPEC_CHARACTERS, min_size=1, max_size=8))
optional_cfgs = optional(
    st.fixed_dictionaries({}, optional={"fail_fast": st.none() | st.booleans()})
)
optional_empty_tasks = st.just(ABSENT) | st.none() | st.just([])


@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, Any]:
    """Valid flow specs: edges go only to explicit keys, forward in list order.

    Forward edges keep the spec acyclic whatever later mutations do to the
    fields around them (nulls, dropped edges, the implicit chain).
    """
    keys = draw(st.lists(st.sampled_from(KEY_POOL), max_size=5, unique=True))
    explicit = [draw(st.booleans()) for _ in keys]
    tasks: list[dict[str, Any]] = []
    for i, key in enumerate(keys):
        task: dict[str, Any] = {"task_type": draw(task_types)}
        put(task, "key", key if explicit[i] else draw(optional_task_keys))
        put(task, "label", draw(optional_labels))
        put(task, "task_params", draw(optional_json_objects))
        put(task, "data", draw(optional_json_objects))
        earlier = ["ROOT", *(k for k, e in zip(keys[:i], explicit[:i]) if e)]
        precursors = draw(optional_picks)
        put(task, "precursors", pick(earlier, precursors))
        later = [k for k, e in zip(keys[i + 1 :], explicit[i + 1 :]) if e]
        if later:
            successors = draw(optional_picks)
            put(task, "successors", pick(later, successors))
        tasks.append(task)
    spec: dict[str, Any] = {}
    put(spec, "key", draw(optional_flow_keys))
    put(spec, "label", draw(optional_labels))
    put(spec, "cfg", draw(optional_cfgs))
    put(spec, "data", draw(optional_json_objects))
    put(spec, "tasks", tasks if tasks else draw(optional_empty_tasks))
    return spec


def unknown_names(known: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Field names that are not in ``known``."""
    return st.text(max_size=8).filter(lambda name: name not in known)


unknown_spec_names = unknown_names(FLOW_SPEC_KEYS)
unknown_cfg_names = unknown_names(FLOW_CFG_KEYS)
unknown_task_names = unknown_names(TASK_SPEC_KEYS)
indexes = st.integers(0, 99)
not_a_task = json_values.filter(lambda v: not isinstance(v, dict)) | st.just({})
not_a_key_list = json_values.filter(lambda v: v is not None and not isinstance(v, list)) | st.lists(
    json_values, min_size=1, max_size=3
).filter(lambda items: any(not isinstance(item, str) for item in items))
SPEC_CHANGES = ["spec_value", "spec_field", "spec_unknown_key", "cfg_field", "cfg_unknown_key"]
TASK_CHANGES = [
    "task_value",
    "task_field",
    "drop_task_type",
    "task_unknown_key",
    "bad_task_key",
    "edges_field",
    "successor_root",
    "null_task_field",
]
spec_changes = st.sampled_from(SPEC_CHANGES)
spec_or_task_changes = st.sampled_from(SPEC_CHANGES + TASK_CHANGES)


@st.composite
def structurally_broken_specs(draw: st.DrawFn) -> Any:
    """Valid specs with one to three structural changes that keep references sound.

    Every change is one a JSON Schema can see (a wrong type, an unknown key,
    a bad key, a missing task_type) or a null, so schema and validator must
    agree on the result.
    """
    spec = draw(valid_specs())
    for _ in range(draw(st.integers(1, 3))):
        if not isinstance(spec, dict):
            break
        spec = draw(structural_change(spec))
    return spec


@st.composite
def structural_change(draw: st.DrawFn, spec: dict[str, Any]) -> Any:
    """One structural change to the dict ``spec``; returns the changed spec."""
    spec = copy.deepcopy(spec)
    tasks = spec.get("tasks")
    dict_tasks = [t for t in tasks if isinstance(t, dict)] if isinstance(tasks, list) else []
    kind = draw(spec_or_task_changes if dict_tasks else spec_changes)
    if kind == "spec_value":
        return draw(json_values)
    if kind == "spec_field":
        spec[draw(st.sampled_from(FLOW_SPEC_KEYS))] = draw(json_values)
    elif kind == "spec_unknown_key":
        spec[draw(unknown_spec_names)] = draw(json_values)
    elif kind == "cfg_field":
        spec["cfg"] = {"fail_fast": draw(json_values)}
    elif kind == "cfg_unknown_key":
        spec["cfg"] = {draw(unknown_cfg_names): draw(json_values)}
    else:
        task = dict_tasks[draw(indexes) % len(dict_tasks)]
        if kind == "task_value":
            # A task replaced by a non-dict, or by a dict without task_type.
            tasks[tasks.index(task)] = draw(not_a_task)
        elif kind == "task_field":
            field = draw(st.sampled_from(["label", "task_type", "task_params", "data"]))
            task[field] = draw(json_values)
        elif kind == "drop_task_type":
            task.pop("task_type", None)
        elif kind == "task_unknown_key":
            task[draw(unknown_task_names)] = draw(json_values)
        elif kind == "bad_task_key":
            task["key"] = draw(st.sampled_from(SCHEMA_BAD_KEYS))
        elif kind == "edges_field":
            task[draw(st.sampled_from(["precursors", "successors"]))] = draw(not_a_key_list)
        elif kind == "successor_root":
            # An earlier mutation may have made successors a non-list.
            successors = task.get("successors")
            task["successors"] = [*(successors if isinstance(successors, list) else []), "ROOT"]
        else:
            fields = ["label", "task_params", "data", "precursors", "successors"]
            task[draw(st.sampled_from(fields))] = None
    return spec


reference_names = st.lists(st.text(max_size=6) | st.sampled_from(KEY_POOL), max_size=3)


@st.composite
def any_broken_specs(draw: st.DrawFn) -> Any:
    """Structurally broken specs, plus broken references, duplicates and cycles."""
    spec = draw(structurally_broken_specs() | valid_specs())
    tasks = spec.get("tasks") if isinstance(spec, dict) else None
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, dict) for t in tasks):
        return spec
    task = tasks[draw(indexes) % len(tasks)]
    kind = draw(st.sampled_from(["reference", "key", "duplicate", "back_edge"]))
    if kind == "reference":
        task[draw(st.sampled_from(["precursors", "successors"]))] = draw(reference_names)
    elif kind == "key":
        task["key"] = draw(st.sampled_from([None, *NEWLINE_KEYS, *KEY_POOL]))
    elif kind == "duplicate":
        task["key"] = tasks[draw(indexes) % len(tasks)].get("key") or "a"
    else:
        task["precursors"] = [draw(st.sampled_from(KEY_POOL))]
    return spec


@PROPERTIES
@given(valid_specs())
def test_generated_valid_spec_passes_schema_and_validator(spec):
    assert schema_accepts(spec)
    assert validator_accepts(spec)


@PROPERTIES
@given(structurally_broken_specs())
def test_schema_and_validator_agree_on_specs_with_sound_references(spec):
    assert schema_accepts(spec) == validator_accepts(spec)


@PROPERTIES
@given(any_broken_specs())
def test_spec_the_schema_rejects_the_validator_rejects(spec):
    if not schema_accepts(spec):
        assert not validator_accepts(spec)
