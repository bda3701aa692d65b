"""Pictures of a flow's DAG: Graphviz DOT and Mermaid text, and SVG or PNG through Graphviz.

:func:`flow_to_dot` and :func:`flow_to_mermaid` draw a flow (a flow dict,
or a :class:`~mc.flows.tree.FlowTree`) from the same tree that ``mc show``
prints:

* every task is a box, filled with the colour of its status
  (:data:`STATUS_COLOURS`), labelled with its key, type and status;
* a task with nested tasks (a subflow, a spread's items, a proxied task)
  is a cluster (DOT ``subgraph cluster_...``, Mermaid ``subgraph``) holding
  them, tinted with its own status's colour;
* an edge runs from each precursor to its task, between tasks of one flow;
  an edge to or from a cluster ends at the cluster's border;
* in DOT, sibling tasks that wait for none of each other (a spread's
  items) are drawn in one row, in the flow's order from left to right.

Node ids are generated (``t0``, ``t1``, ...); every key, label and type is
data and goes into quoted labels only, escaped for the format (quotes,
backslashes, newlines and control characters in DOT; everything but plain
letters, digits and a few punctuation marks as ``#NN;`` entity codes in
Mermaid), so no label can end its string or add statements.

:func:`render_graphviz` runs Graphviz's ``dot`` program (found on ``PATH``,
run without a shell) to turn DOT text into SVG or PNG. Standard library
only; the ``dot`` program is needed for SVG and PNG alone.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from mc.errors import GraphvizError, GraphvizNotFoundError
from mc.flows.tree import FlowTree, TaskNode, build_flow_tree

__all__ = [
    "STATUS_COLOURS",
    "CLUSTER_COLOURS",
    "dot_string",
    "flow_to_dot",
    "mermaid_text",
    "flow_to_mermaid",
    "graphviz_dot_program",
    "render_graphviz",
]

#: The fill colour of a task of each status (clusters get :data:`CLUSTER_COLOURS`).
STATUS_COLOURS = {
    "PENDING": "#e5e5e5",
    "RUNNING": "#9ecae1",
    "COMPLETED": "#a1d99b",
    "FAILED": "#fc9272",
    "SKIPPED": "#fdd49e",
}
#: The lighter fill of a cluster, by the status of the task it stands for.
CLUSTER_COLOURS = {
    "PENDING": "#f5f5f5",
    "RUNNING": "#deebf7",
    "COMPLETED": "#e5f5e0",
    "FAILED": "#fee0d2",
    "SKIPPED": "#fff3e0",
}
_UNKNOWN_COLOUR = "#ffffff"

#: The formats :func:`render_graphviz` makes.
_GRAPHVIZ_FORMATS = ("svg", "png")

#: What to tell a user who has no Graphviz.
_GRAPHVIZ_INSTALL_HINT = (
    "install Graphviz (Debian or Ubuntu: apt-get install graphviz; Fedora: dnf install "
    "graphviz; macOS: brew install graphviz; conda: conda install -c conda-forge graphviz)"
)


def _as_tree(flow: Mapping[str, Any] | FlowTree) -> FlowTree:
    return flow if isinstance(flow, FlowTree) else build_flow_tree(flow)


class _Ids:
    """Generated node ids, so that no key ever reaches the graph's syntax."""

    def __init__(self) -> None:
        self.ids: dict[int, str] = {}

    def __call__(self, node: TaskNode) -> str:
        return self.ids.setdefault(id(node), f"t{len(self.ids)}")


def _flow_edges(nodes: Sequence[TaskNode]) -> list[tuple[TaskNode, TaskNode]]:
    """The (precursor, task) pairs among sibling tasks, in the flow's order."""
    by_key = {node.key: node for node in nodes}
    return [(by_key[pre], node) for node in nodes for pre in node.precursors if pre in by_key]


def _label_lines(node: TaskNode) -> list[str]:
    return [node.key, f"{node.task_type}: {node.status}"]


def _title(tree: FlowTree) -> list[str]:
    return [f"{tree.label or 'flow'} ({tree.key})", tree.status]


# -- DOT -----------------------------------------------------------------


def dot_string(text: str) -> str:
    """Return ``text`` as a quoted DOT string that shows exactly ``text``.

    Backslashes and quotes are escaped; a newline becomes a line break;
    other control and format characters become U+FFFD; ``&`` becomes
    ``&amp;`` (Graphviz reads entities in labels).
    """
    out = ['"']
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "&":
            out.append("&amp;")
        elif char == "\n":
            out.append("\\n")
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            out.append("\ufffd")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _dot_lines(lines: Sequence[str]) -> str:
    # Each line escaped on its own, so that the line breaks we add stay breaks.
    return dot_string("\n".join(lines))


def flow_to_dot(flow: Mapping[str, Any] | FlowTree) -> str:
    """Return a Graphviz DOT ``digraph`` of the flow (see the module docstring)."""
    tree = _as_tree(flow)
    node_id = _Ids()
    out = [
        "digraph flow {",
        f'  graph [compound=true, rankdir=TB, fontname="Helvetica", labelloc=t, '
        f"label={_dot_lines(_title(tree))}];",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
        '  edge [color="#555555"];',
    ]

    def anchor(node: TaskNode) -> str:
        # An edge to a cluster is drawn to a node inside it, clipped at the border.
        return anchor(node.children[0]) if node.children else node_id(node)

    def draw(nodes: Sequence[TaskNode], indent: str) -> None:
        for node in nodes:
            if node.children:
                out.append(f"{indent}subgraph cluster_{node_id(node)} {{")
                out.append(
                    f"{indent}  graph [label={_dot_lines(_label_lines(node))}, "
                    f'style="rounded,filled", '
                    f'fillcolor="{CLUSTER_COLOURS.get(node.status, _UNKNOWN_COLOUR)}", '
                    f'color="{STATUS_COLOURS.get(node.status, "#999999")}", '
                    f"tooltip={dot_string(node.path)}];"
                )
                draw(node.children, indent + "  ")
                out.append(f"{indent}}}")
            else:
                colour = STATUS_COLOURS.get(node.status, _UNKNOWN_COLOUR)
                out.append(
                    f"{indent}{node_id(node)} [label={_dot_lines(_label_lines(node))}, "
                    f'fillcolor="{colour}", tooltip={dot_string(node.path)}];'
                )
        edges = _flow_edges(nodes)
        if not edges and len(nodes) > 1 and not any(node.children for node in nodes):
            # Tasks that wait for none of each other (a spread's items): one
            # row, in the flow's order from left to right, which Graphviz
            # does not keep by itself.
            chain = " -> ".join(node_id(node) for node in nodes)
            out.append(f"{indent}{{ rank=same; {chain} [style=invis]; }}")
        for pre, task in edges:
            attributes = []
            if pre.children:
                attributes.append(f"ltail=cluster_{node_id(pre)}")
            if task.children:
                attributes.append(f"lhead=cluster_{node_id(task)}")
            suffix = f" [{', '.join(attributes)}]" if attributes else ""
            out.append(f"{indent}{anchor(pre)} -> {anchor(task)}{suffix};")

    draw(tree.tasks, "  ")
    out.append("}")
    return "\n".join(out) + "\n"


# -- Mermaid ---------------------------------------------------------------

# Characters that stand for themselves in a quoted Mermaid label; any other
# is written as an entity code (#NN;), which Mermaid decodes for display.
_MERMAID_PLAIN = re.compile(r"[A-Za-z0-9 _.,:/=+\-]")


def mermaid_text(text: str) -> str:
    """Return ``text`` for a quoted Mermaid label: unsafe characters as ``#NN;`` codes.

    Control and format characters become U+FFFD first; a newline becomes a
    space.
    """
    out = []
    for given in text:
        char = given
        if char == "\n":
            char = " "
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            char = "\ufffd"
        out.append(char if _MERMAID_PLAIN.fullmatch(char) else f"#{ord(char)};")
    return "".join(out)


def _mermaid_label(lines: Sequence[str]) -> str:
    return '"' + "<br>".join(mermaid_text(line) for line in lines) + '"'


def flow_to_mermaid(flow: Mapping[str, Any] | FlowTree) -> str:
    """Return a Mermaid ``flowchart`` of the flow (see the module docstring)."""
    tree = _as_tree(flow)
    node_id = _Ids()
    out = ["flowchart TB"]
    styles: list[str] = []
    classes: dict[str, list[str]] = {}

    def draw(nodes: Sequence[TaskNode], indent: str) -> None:
        for node in nodes:
            ident = node_id(node)
            label = _mermaid_label(_label_lines(node))
            if node.children:
                out.append(f"{indent}subgraph {ident} [{label}]")
                draw(node.children, indent + "  ")
                out.append(f"{indent}end")
                fill = CLUSTER_COLOURS.get(node.status, _UNKNOWN_COLOUR)
                stroke = STATUS_COLOURS.get(node.status, "#999999")
                styles.append(f"  style {ident} fill:{fill},stroke:{stroke}")
            else:
                out.append(f"{indent}{ident}[{label}]")
                status = node.status if node.status in STATUS_COLOURS else "unknown"
                classes.setdefault(status, []).append(ident)
        for pre, task in _flow_edges(nodes):
            out.append(f"{indent}{node_id(pre)} --> {node_id(task)}")

    draw(tree.tasks, "  ")
    for status, colour in STATUS_COLOURS.items():
        out.append(f"  classDef {status.lower()} fill:{colour},stroke:#555555")
    out.append(f"  classDef unknown fill:{_UNKNOWN_COLOUR},stroke:#555555")
    for status, idents in classes.items():
        out.append(f"  class {','.join(idents)} {status.lower()}")
    out.extend(styles)
    return "\n".join(out) + "\n"


# -- Graphviz ----------------------------------------------------------------


def graphviz_dot_program() -> str | None:
    """Return the path of Graphviz's ``dot`` program, or None if it is not on ``PATH``."""
    return shutil.which("dot")


def render_graphviz(dot_text: str, output_format: str, timeout_s: float = 120.0) -> bytes:
    """Return ``dot_text`` drawn by Graphviz's ``dot`` as ``'svg'`` or ``'png'``.

    Raises :class:`~mc.errors.GraphvizNotFoundError`, saying how to install
    Graphviz, when ``dot`` is not on ``PATH``, and
    :class:`~mc.errors.GraphvizError` with its message when it fails.
    """
    if output_format not in _GRAPHVIZ_FORMATS:
        raise ValueError(
            f"output_format {output_format!r}: expected one of {', '.join(_GRAPHVIZ_FORMATS)}"
        )
    program = graphviz_dot_program()
    if program is None:
        raise GraphvizNotFoundError(
            f"drawing {output_format.upper()} needs Graphviz's `dot` program, which is not on "
            f"PATH: {_GRAPHVIZ_INSTALL_HINT}"
        )
    try:
        result = subprocess.run(
            [program, f"-T{output_format}"],
            input=dot_text.encode("utf-8"),
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GraphvizError(f"Graphviz's dot did not finish within {timeout_s:g} s") from None
    except OSError as error:
        raise GraphvizError(f"cannot run Graphviz's dot ({program}): {error}") from None
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip() or "no message"
        raise GraphvizError(f"Graphviz's dot failed (exit status {result.returncode}): {message}")
    return result.stdout
