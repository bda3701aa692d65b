"""DAG pictures (mc.flows.graph): DOT and Mermaid text, and SVG through the real Graphviz."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET

import pytest

from mc.errors import GraphvizNotFoundError
from mc.flows.graph import (
    CLUSTER_COLOURS,
    STATUS_COLOURS,
    dot_string,
    flow_to_dot,
    flow_to_mermaid,
    mermaid_text,
    render_graphviz,
)

SVG = "{http://www.w3.org/2000/svg}"


SPEC = {
    "key": "top",
    "label": "graph test",
    "data": {"xs": [1, 2]},
    "tasks": [
        {"key": "prepare", "task_type": "noop"},
        {
            "key": "sweep",
            "task_type": "spread",
            "precursors": ["prepare"],
            "task_params": {
                "items": "$ctx.flow.data.xs",
                "mapping_params": {
                    "skeleton": {"key": "evaluate", "task_type": "noop"},
                    "wirings": [],
                },
            },
        },
        {
            "key": "sub",
            "task_type": "flow",
            "precursors": ["prepare"],
            "task_params": {
                "flow_spec": {
                    "tasks": [
                        {"key": "a", "task_type": "noop"},
                        {"key": "b", "task_type": "broken", "precursors": ["a"]},
                    ]
                }
            },
        },
        {
            "key": "report",
            "task_type": "noop",
            "precursors": ["sweep", "sub"],
            "trigger_rule": "all_done",
        },
    ],
}


@pytest.fixture
def finished_flow(engine):
    flow = engine.flow_spec_to_flow(SPEC)
    for _ in range(20):
        if flow.finished:
            break
        engine.tick_flow(flow)
    return flow.to_flow_dict()


def dot_nodes(dot: str) -> dict[str, str]:
    """Node id -> its line, for the node statements of a DOT text."""
    return {m.group(1): m.group(0) for m in re.finditer(r"^\s*(t\d+) \[label=.*$", dot, re.M)}


def dot_id_of(dot: str, key: str, task_type: str) -> str:
    label = dot_string(f"{key}\n{task_type}: ")[:-1]  # without the closing quote
    (ident,) = [ident for ident, line in dot_nodes(dot).items() if f"[label={label}" in line]
    return ident


# -- DOT --------------------------------------------------------------------


def test_dot_has_a_node_per_leaf_task_filled_with_its_status_colour(finished_flow):
    dot = flow_to_dot(finished_flow)
    assert dot.startswith("digraph flow {") and dot.rstrip().endswith("}")
    nodes = dot_nodes(dot)
    assert len(nodes) == 6  # prepare, evaluate_0, evaluate_1, a, b, report
    assert f'fillcolor="{STATUS_COLOURS["COMPLETED"]}"' in nodes[dot_id_of(dot, "prepare", "noop")]
    assert f'fillcolor="{STATUS_COLOURS["FAILED"]}"' in nodes[dot_id_of(dot, "b", "broken")]


def test_dot_draws_spread_items_and_subflows_as_clusters(finished_flow):
    dot = flow_to_dot(finished_flow)
    clusters = re.findall(
        r"subgraph (cluster_t\d+) \{\n\s*graph \[label=\"([^\"]*)\".*fillcolor=\"([^\"]*)\"", dot
    )
    labels = {label: colour for _, label, colour in clusters}
    assert labels == {
        "sweep\\nspread: COMPLETED": CLUSTER_COLOURS["COMPLETED"],
        "sub\\nflow: FAILED": CLUSTER_COLOURS["FAILED"],
    }
    sweep_body = dot.split("subgraph cluster_", 2)[1]
    assert "evaluate_0" in sweep_body and "evaluate_1" in sweep_body


def test_dot_edges_follow_precursors_and_end_at_cluster_borders(finished_flow):
    dot = flow_to_dot(finished_flow)
    ids = {
        key: dot_id_of(dot, key, t)
        for key, t in [
            ("prepare", "noop"),
            ("a", "noop"),
            ("b", "broken"),
            ("evaluate_0", "noop"),
            ("report", "noop"),
        ]
    }
    edges = re.findall(r"^\s*(t\d+) -> (t\d+)(?: \[(.*)\])?;$", dot, re.M)
    sweep_cluster, sub_cluster = re.findall(r"subgraph (cluster_t\d+)", dot)
    assert (ids["a"], ids["b"], "") in edges
    assert (ids["prepare"], ids["evaluate_0"], f"lhead={sweep_cluster}") in edges
    assert (ids["prepare"], ids["a"], f"lhead={sub_cluster}") in edges
    assert (ids["evaluate_0"], ids["report"], f"ltail={sweep_cluster}") in edges
    assert (ids["a"], ids["report"], f"ltail={sub_cluster}") in edges
    assert len(edges) == 5


@pytest.mark.parametrize(
    "text",
    [
        'say "hi"',
        "back\\slash\\n",
        "}; evil -> x; {",
        "<script>alert(1)</script>",
        "two\nlines",
        "bell\x07 esc\x1b[31m",
        "&amp; &lt;",
    ],
)
def test_dot_strings_cannot_break_out(text):
    quoted = dot_string(text)
    inner = quoted[1:-1]
    # Every quote inside is escaped, and no raw newline or control character is left.
    assert not re.search(r'(?<!\\)(?:\\\\)*"', inner)
    assert "\n" not in quoted and "\x1b" not in quoted and "\x07" not in quoted


def test_hostile_labels_render_as_text_in_graphviz(dot_program):
    hostile = [
        'x"]; evil [label="pwned',
        "a\\nb\\",
        "<script>alert(1)</script>",
        "{}[]|<>",
        "&lt;b&gt;",
    ]
    flow_dict = {
        "key": "k",
        "label": None,
        "status": "PENDING",
        "data": {},
        "tasks": {
            key: {
                "key": key,
                "task_type": "noop",
                "status": "PENDING",
                "precursors": ["ROOT"],
                "task_params": {},
                "data": {},
            }
            for key in hostile
        },
    }
    svg = render_graphviz(flow_to_dot(flow_dict), "svg").decode()
    root = ET.fromstring(svg)
    nodes = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]
    texts = [[t.text for t in node.iter(f"{SVG}text")] for node in nodes]
    assert sorted(lines[0] for lines in texts) == sorted(hostile)
    assert all(lines[1] == "noop: PENDING" for lines in texts)
    assert "<script>" not in svg


def test_dot_renders_to_svg_with_the_status_colours(dot_program, finished_flow):
    svg = render_graphviz(flow_to_dot(finished_flow), "svg").decode()
    root = ET.fromstring(svg)
    titles = {
        g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g") if g.get("class") == "cluster"
    }
    assert len(titles) == 2
    fills = {p.get("fill") for p in root.iter(f"{SVG}path")} | {
        p.get("fill") for p in root.iter(f"{SVG}polygon")
    }
    assert STATUS_COLOURS["COMPLETED"] in fills and STATUS_COLOURS["FAILED"] in fills


def test_graphviz_draws_spread_items_left_to_right_in_the_flows_order(dot_program, engine):
    spec = {
        "tasks": [
            {"key": "before", "task_type": "noop"},
            {
                "key": "sweep",
                "task_type": "spread",
                "precursors": ["before"],
                "task_params": {
                    "items": [1, 2, 3, 4, 5],
                    "mapping_params": {"skeleton": {"key": "item", "task_type": "noop"}},
                },
            },
            {"key": "after", "task_type": "noop", "precursors": ["sweep"]},
        ]
    }
    flow = engine.flow_spec_to_flow(spec)
    for _ in range(10):
        if flow.finished:
            break
        engine.tick_flow(flow)
    dot = flow_to_dot(flow.to_flow_dict())
    ids = [dot_id_of(dot, f"item_{n}", "noop") for n in range(5)]
    root = ET.fromstring(render_graphviz(dot, "svg").decode())
    x_of = {
        g.find(f"{SVG}title").text: float(next(g.iter(f"{SVG}text")).get("x"))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "node"
    }
    xs = [x_of[ident] for ident in ids]
    assert xs == sorted(xs) and len(set(xs)) == 5


def test_dot_renders_to_png(dot_program, finished_flow):
    assert render_graphviz(flow_to_dot(finished_flow), "png").startswith(b"\x89PNG\r\n\x1a\n")


def test_without_graphviz_rendering_says_how_to_install_it(monkeypatch, finished_flow):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        render_graphviz(flow_to_dot(finished_flow), "svg")


# -- Mermaid ------------------------------------------------------------------


def test_mermaid_has_nodes_subgraphs_edges_and_status_classes(finished_flow):
    text = flow_to_mermaid(finished_flow)
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "flowchart TB"
    subgraphs = dict(re.findall(r'^\s*subgraph (t\d+) \["(.*)"\]$', text, re.M))
    assert sorted(subgraphs.values()) == ["sub<br>flow: FAILED", "sweep<br>spread: COMPLETED"]
    nodes = dict(re.findall(r'^\s*(t\d+)\["(.*)"\]$', text, re.M))
    by_label = {label.split("<br>")[0]: ident for ident, label in nodes.items()}
    assert set(by_label) == {"prepare", "evaluate_0", "evaluate_1", "a", "b", "report"}
    sweep_id = {v: k for k, v in subgraphs.items()}["sweep<br>spread: COMPLETED"]
    assert f"{by_label['prepare']} --> {sweep_id}" in lines
    assert f"{by_label['a']} --> {by_label['b']}" in lines
    assert text.count(" end\n") == 2
    classes = dict(
        (status, idents.split(","))
        for idents, status in re.findall(r"^\s*class (\S+) (\w+)$", text, re.M)
    )
    assert by_label["b"] in classes["failed"] and by_label["report"] in classes["completed"]
    assert f"classDef failed fill:{STATUS_COLOURS['FAILED']}" in text
    assert f"style {sweep_id} fill:{CLUSTER_COLOURS['COMPLETED']}" in text


@pytest.mark.parametrize(
    "text",
    [
        'say "hi"',
        "]; evil --> x; [",
        "<script>alert(1)</script>",
        "two\nlines",
        "`md` #35; %% c",
        "end",
        "esc\x1b[31m",
        "é ü 漢",
    ],
)
def test_mermaid_labels_keep_only_safe_characters_and_decode_back(text):
    coded = mermaid_text(text)
    assert re.fullmatch(r"[A-Za-z0-9 _.,:/=+\-#;]*", coded)
    decoded = re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), coded)
    expected = "".join(" " if c == "\n" else "\ufffd" if c in "\x1b" else c for c in text)
    assert decoded == expected


def test_hostile_keys_stay_inside_mermaid_labels():
    key = '"]; click t0 call alert(1); x["'
    flow_dict = {
        "key": "k",
        "label": None,
        "status": "PENDING",
        "data": {},
        "tasks": {
            key: {
                "key": key,
                "task_type": "noop",
                "status": "PENDING",
                "precursors": ["ROOT"],
                "task_params": {},
                "data": {},
            }
        },
    }
    text = flow_to_mermaid(flow_dict)
    (line,) = [line for line in text.splitlines() if line.strip().startswith("t0[")]
    assert (
        line.strip().count('"') == 2 and "click" in html.unescape(line) and "alert(1)" not in line
    )


def test_the_tree_and_graph_modules_import_only_the_standard_library():
    import subprocess
    import sys

    code = (
        "import sys; before = set(sys.modules); import mc.flows.tree, mc.flows.graph; "
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    imported = {name.split(".")[0] for name in result.stdout.split()}
    outside = {
        name
        for name in imported
        if name != "mc" and name not in sys.stdlib_module_names and not name.startswith("_")
    }
    assert outside == set()
