"""What the status page reads, without HTTP: drawings kept by their DOT text, big flows not drawn."""

from __future__ import annotations

import pytest

from mc.flows import FlowEngine
from mc.flows.graph import graphviz_dot_program
from mc.flows.tree import build_flow_tree
from mc.ui import views
from mc.ui.views import GraphCache, flow_svg


@pytest.fixture
def tree_of(clock):
    engine = FlowEngine(clock=clock)

    def make(n_ticks, n_tasks=2):
        flow = engine.flow_spec_to_flow(
            {
                "key": "f",
                "tasks": [
                    {"key": f"t{n}", "task_type": "noop", "precursors": [f"t{n - 1}"] if n else []}
                    for n in range(n_tasks)
                ],
            }
        )
        for _ in range(n_ticks):
            engine.tick_flow(flow)
        return build_flow_tree(flow.to_flow_dict())

    return make


def test_an_unchanged_picture_is_drawn_once(tree_of):
    if graphviz_dot_program() is None:
        pytest.skip("Graphviz is not installed")
    cache = GraphCache()
    first = flow_svg(tree_of(0), cache)
    assert first["svg"] and first["error"] is None
    assert flow_svg(tree_of(0), cache) is first
    changed = flow_svg(tree_of(1), cache)
    assert changed is not first and changed["svg"] != first["svg"]


def test_the_cache_forgets_the_least_recently_used():
    cache = GraphCache(size=2)
    cache.put("a", {"svg": "a", "error": None})
    cache.put("b", {"svg": "b", "error": None})
    cache.get("a")
    cache.put("c", {"svg": "c", "error": None})
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None


def test_a_flow_with_too_many_tasks_is_not_drawn_and_says_how_to(tree_of, monkeypatch):
    monkeypatch.setattr(views, "MAX_GRAPH_TASKS", 3)
    graph = flow_svg(tree_of(0, n_tasks=4))
    assert graph["svg"] is None
    assert (
        "4 tasks, more than the 3 drawn here" in graph["error"] and "mc graph KEY" in graph["error"]
    )
