"""A Sphinx directive that draws a flow spec with ``mc graph``'s library, at build time.

::

    .. flow-graph:: ../examples/dataflow.yaml
       :ticks: 2
       :alt: what the picture shows

builds the flow from the spec file (relative to the document), ticks it
``:ticks:`` times with a fresh engine (default 0; what its tasks print is
discarded), writes it as DOT with :func:`mc.flows.graph.flow_to_dot`, and
has Graphviz's ``dot`` draw it as SVG, inlined into the HTML page. Other
builders (doctest) build the picture too, so that a missing Graphviz fails
every docs build with the same clear message, and show nothing.
"""

from __future__ import annotations

import contextlib
import io
import re

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective


class FlowGraphDirective(SphinxDirective):
    """``.. flow-graph:: SPEC_FILE``: the flow's DAG as an inline SVG picture."""

    required_arguments = 1
    option_spec = {"ticks": directives.nonnegative_int, "alt": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        from mc.cli.spec_files import load_flow_spec_file
        from mc.errors import GraphvizError, MCError
        from mc.flows import FlowEngine
        from mc.flows.graph import flow_to_dot, render_graphviz

        relative, path = self.env.relfn2path(self.arguments[0])
        self.env.note_dependency(relative)
        try:
            with FlowEngine() as engine:
                flow = engine.flow_spec_to_flow(load_flow_spec_file(path))
                with contextlib.redirect_stdout(io.StringIO()):
                    for _ in range(self.options.get("ticks", 0)):
                        engine.tick_flow(flow)
            svg = render_graphviz(flow_to_dot(flow.to_flow_dict()), "svg").decode("utf-8")
        except GraphvizError as error:
            raise self.error(
                f"flow-graph: {error}. The docs draw a flow with Graphviz: install it "
                "(`bash scripts/start_test_services.sh` as root does) and build again"
            ) from None
        except MCError as error:
            raise self.error(f"flow-graph: {self.arguments[0]}: {error}") from None
        # Inline the <svg> element itself, without the XML prolog and doctype.
        svg = svg[svg.index("<svg") :]
        alt = self.options.get("alt", f"the DAG of {self.arguments[0]}")
        svg = re.sub(r"<svg ", f'<svg role="img" aria-label="{_attribute(alt)}" ', svg, count=1)
        return [nodes.raw("", f'<div class="flow-graph">{svg}</div>', format="html")]


def _attribute(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )


def setup(app):  # type: ignore[no-untyped-def]
    """Register the ``flow-graph`` directive."""
    app.add_directive("flow-graph", FlowGraphDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
