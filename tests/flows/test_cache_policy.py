"""The task-level ``cache`` policy: how the validator and the JSON Schema read it."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from mc.errors import FlowLoadError, FlowSpecError
from mc.flows import Flow
from mc.flows.spec import flow_spec_json_schema, normalize_cache_policy

SCHEMA_VALIDATOR = Draft202012Validator(flow_spec_json_schema())


def spec_with(cache):
    return {"tasks": [{"key": "a", "task_type": "noop", "cache": cache}]}


def schema_accepts(spec) -> bool:
    return SCHEMA_VALIDATOR.is_valid(spec)


def validator_accepts(spec) -> bool:
    try:
        Flow.from_flow_spec(spec)
    except FlowSpecError:
        return False
    return True


def test_true_means_an_auto_key():
    assert Flow.from_flow_spec(spec_with(True)).tasks["a"]["cache"] == {"key": "auto"}


@pytest.mark.parametrize("off", [False, None])
def test_false_and_null_leave_caching_off(off):
    assert "cache" not in Flow.from_flow_spec(spec_with(off)).tasks["a"]


def test_a_full_policy_is_kept_normalized():
    policy = {
        "key": ["task_params.job_params.x"],
        "expire_s": 3600,
        "cache_version": 2.0,
        "copy_job_dir": True,
    }
    assert Flow.from_flow_spec(spec_with(policy)).tasks["a"]["cache"] == {
        "key": ["task_params.job_params.x"],
        "expire_s": 3600,
        "cache_version": 2,
        "copy_job_dir": True,
    }


def test_a_cache_policy_survives_a_round_trip_and_a_reset():
    flow = Flow.from_flow_spec(spec_with({"expire_s": 10}))
    loaded = Flow.from_flow_dict(flow.to_flow_dict())
    assert loaded.tasks["a"]["cache"] == {"key": "auto", "expire_s": 10}
    loaded.start_ready(now=1.0)
    loaded.complete("a", now=2.0)
    loaded.reset(["a"])
    assert loaded.tasks["a"]["cache"] == {"key": "auto", "expire_s": 10}


@pytest.mark.parametrize(
    ("cache", "path", "expected"),
    [
        ("yes", "tasks[0].cache", "expected a dict"),
        ({"kee": "auto"}, "tasks[0].cache.kee", "did you mean 'key'?"),
        ({"key": "manual"}, "tasks[0].cache.key", "expected 'auto' or a list of dot paths"),
        ({"key": []}, "tasks[0].cache.key", "non-empty list"),
        (
            {"key": ["ctx.flow.data.x"]},
            "tasks[0].cache.key[0]",
            "a dot path into the task's params",
        ),
        ({"expire_s": 0}, "tasks[0].cache.expire_s", "seconds > 0"),
        ({"expire_s": True}, "tasks[0].cache.expire_s", "seconds > 0"),
        ({"cache_version": 1.5}, "tasks[0].cache.cache_version", "a string or a whole number"),
        ({"copy_job_dir": "yes"}, "tasks[0].cache.copy_job_dir", "true or false"),
    ],
)
def test_a_bad_cache_policy_is_refused_naming_where_and_what(cache, path, expected):
    with pytest.raises(FlowSpecError) as caught:
        Flow.from_flow_spec(spec_with(cache))
    assert caught.value.path == path
    assert expected in caught.value.problem


@pytest.mark.parametrize(
    "cache",
    [
        True,
        False,
        None,
        {},
        {"key": "auto"},
        {"key": None},
        {"key": ["task_params.x", "task_params.job_params.0"]},
        {"expire_s": 1.5, "cache_version": "v2", "copy_job_dir": False},
        {"cache_version": 3},
        "yes",
        1,
        {"kee": "auto"},
        {"key": "manual"},
        {"key": []},
        {"key": ["ctx.x"]},
        {"key": ["task_params..x"]},
        {"key": [3]},
        {"expire_s": 0},
        {"expire_s": -1},
        {"expire_s": "1h"},
        {"cache_version": 1.5},
        {"cache_version": [1]},
        {"copy_job_dir": 1},
    ],
)
def test_schema_and_validator_agree_on_cache_policies(cache):
    spec = spec_with(cache)
    assert schema_accepts(spec) == validator_accepts(spec)


def test_a_spread_skeleton_may_carry_a_cache_policy():
    skeleton = {"key": "item", "task_type": "noop", "cache": {"expire_s": 5}}
    spec = {
        "tasks": [
            {
                "key": "sweep",
                "task_type": "spread",
                "task_params": {"items": [1, 2], "mapping_params": {"skeleton": skeleton}},
            }
        ]
    }
    assert schema_accepts(spec)
    from mc.flows import FlowEngine

    flow = FlowEngine().run_flow(Flow.from_flow_spec(spec))
    child = flow.tasks["sweep"]["proxied_task"]["data"]["flow"]
    assert child["tasks"]["item_0"]["cache"] == {"key": "auto", "expire_s": 5}


def test_a_stored_task_with_a_bad_cache_policy_does_not_load():
    flow_dict = Flow.from_flow_spec(spec_with(True)).to_flow_dict()
    flow_dict["tasks"]["a"]["cache"] = {"key": "sometimes"}
    with pytest.raises(FlowLoadError, match=r"tasks\.a\.cache\.key"):
        Flow.from_flow_dict(flow_dict)


def test_normalize_cache_policy_reads_true_as_auto():
    assert normalize_cache_policy(True, "cache") == {"key": "auto"}
