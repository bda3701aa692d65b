"""``mc graph``: a spec file or a stored flow, drawn as DOT, Mermaid, SVG or PNG."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET

import pytest

from mc.cli import main
from mc.flows.graph import STATUS_COLOURS
from mc.store import FlowStore

SPEC = {
    "label": "pipeline",
    "tasks": [
        {"key": "fetch", "task_type": "noop"},
        {"key": "fit", "task_type": "noop", "precursors": ["fetch"]},
        {
            "key": "sub",
            "task_type": "flow",
            "precursors": ["fit"],
            "task_params": {"flow_spec": {"tasks": [{"key": "inner", "task_type": "noop"}]}},
        },
    ],
}


@pytest.fixture
def mc(capsys):
    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps(SPEC))
    return str(path)


@pytest.fixture
def dot_program():
    path = shutil.which("dot")
    if path is None:
        message = (
            "Graphviz's dot is not installed; run `bash scripts/start_test_services.sh` (as root)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_graph_of_a_spec_file_prints_dot_with_every_task_pending(mc, spec_file):
    code, out, _ = mc("graph", spec_file)
    assert code == 0
    assert out.startswith("digraph flow {")
    assert '[label="fetch\\nnoop: PENDING"' in out
    assert "subgraph cluster_" in out and '"inner\\nnoop: PENDING"' in out
    assert out.count(" -> ") == 2


def test_graph_format_mermaid_prints_a_flowchart(mc, spec_file):
    code, out, _ = mc("graph", spec_file, "--format", "mermaid")
    assert code == 0
    assert out.startswith("flowchart TB\n")
    assert "subgraph " in out and "t0 --> t1" in out


def test_graph_of_a_stored_flow_by_prefix_is_coloured_by_status(mc, db_url):
    with FlowStore(db_url) as store:
        store.create_flow({**SPEC, "key": "graph-me-1"})
    mc("runner", "--db", db_url, "--until-done", "--interval", "0.01")
    code, out, _ = mc("graph", "graph-me", "--db", db_url)
    assert code == 0
    assert f'[label="fit\\nnoop: COMPLETED", fillcolor="{STATUS_COLOURS["COMPLETED"]}"' in out


def test_graph_writes_svg_through_graphviz_to_the_output_file(mc, spec_file, tmp_path, dot_program):
    target = tmp_path / "flow.svg"
    code, out, err = mc("graph", spec_file, "-o", str(target))
    assert (code, out) == (0, ""), err
    root = ET.fromstring(target.read_text())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "fetch" in target.read_text()


def test_graph_writes_png_when_asked(mc, spec_file, tmp_path, dot_program):
    target = tmp_path / "picture"
    code, _, err = mc("graph", spec_file, "--format", "png", "-o", str(target))
    assert code == 0, err
    assert target.read_bytes().startswith(b"\x89PNG")


def test_graph_output_suffix_picks_mermaid(mc, spec_file, tmp_path):
    target = tmp_path / "flow.mmd"
    assert mc("graph", spec_file, "-o", str(target))[0] == 0
    assert target.read_text().startswith("flowchart TB")


def test_graph_svg_without_graphviz_exits_2_saying_how_to_get_it(
    mc, spec_file, tmp_path, monkeypatch
):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    target = tmp_path / "flow.svg"
    code, out, err = mc("graph", spec_file, "-o", str(target))
    assert (code, out) == (2, "")
    assert "mc graph: drawing SVG needs Graphviz's `dot` program" in err
    assert "apt-get install graphviz" in err and "--format dot" in err
    assert not target.exists()


def test_graph_of_an_invalid_spec_exits_2_naming_the_problem(mc, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"tasks": [{"key": "a"}]}))
    code, _, err = mc("graph", str(path))
    assert code == 2
    assert "mc graph: tasks[0]" in err


def test_graph_of_a_missing_spec_file_says_so(mc, tmp_path):
    code, _, err = mc("graph", str(tmp_path / "typo.yaml"))
    assert code == 2
    assert "typo.yaml: cannot read the file: No such file or directory" in err


def test_graph_of_an_unknown_key_exits_2(mc, sqlite_url):
    code, _, err = mc("graph", "nothing-like-this", "--db", sqlite_url)
    assert code == 2
    assert "no flow with key 'nothing-like-this'" in err
