"""``mc graph FILE|KEY``: draw a flow's DAG as Mermaid, DOT, SVG or PNG.

The flow is a spec file (drawn as it would start: every task PENDING, a
``flow`` task's subflow from its spec, a ``spread`` as one box since its
items are known only when it runs) or a stored flow, named by its key or a
unique prefix of it (drawn as it is now, coloured by status). A path that
exists as a file, or ends in ``.json``, ``.yaml`` or ``.yml``, is read as a
spec; anything else is looked up in the store.

The text is written by :mod:`mc.flows.graph`; SVG and PNG need Graphviz's
``dot`` program. Text formats go to standard output unless ``-o FILE`` is
given; PNG needs ``-o`` or a standard output that is not a terminal.
Without ``--format`` the format follows the suffix of ``-o``
(``.mmd``/``.mermaid``, ``.dot``/``.gv``, ``.svg``, ``.png``), else DOT.

Exit codes: 0 drawn; 2 bad input (an unreadable or invalid spec, an unknown
or ambiguous key, no Graphviz for SVG or PNG, a file that cannot be written).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from mc.cli.exit_codes import EXIT_BAD_INPUT, EXIT_OK
from mc.cli.terminal import printable
from mc.errors import FlowLoadError, FlowSpecError, GraphvizError, StoreError

__all__ = ["add_graph_command"]


_GRAPH_FORMATS = ("mermaid", "dot", "svg", "png")
# A FLOW argument with one of these suffixes is a spec file, even if missing.
_SPEC_SUFFIXES = (".json", ".yaml", ".yml")
_SUFFIX_FORMATS = {
    ".mmd": "mermaid",
    ".mermaid": "mermaid",
    ".dot": "dot",
    ".gv": "dot",
    ".svg": "svg",
    ".png": "png",
}


def add_graph_command(commands: Any) -> None:
    """Add ``graph`` to ``commands`` (what ``ArgumentParser.add_subparsers`` returned)."""
    graph = commands.add_parser(
        "graph", help="draw a flow's DAG (spec file or stored flow) as Mermaid, DOT, SVG or PNG"
    )
    graph.add_argument(
        "flow",
        metavar="FILE|KEY",
        help="a flow spec file, or a stored flow's key (or a unique prefix)",
    )
    graph.add_argument(
        "--format",
        "-f",
        choices=_GRAPH_FORMATS,
        default=None,
        help="what to write (default: from the suffix of -o, else dot); svg and png need Graphviz",
    )
    graph.add_argument(
        "--output", "-o", default=None, metavar="FILE", help="write here, not to stdout"
    )
    graph.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="database URL for a KEY (default: $MC_DB_URL, else sqlite:///mc.db)",
    )
    graph.set_defaults(command=_graph_command)


def _graph_command(args: argparse.Namespace) -> int:
    from mc.flows.graph import flow_to_dot, flow_to_mermaid, render_graphviz

    output_format = args.format or _SUFFIX_FORMATS.get(
        Path(args.output).suffix.lower() if args.output else "", "dot"
    )
    if output_format == "png" and args.output is None and sys.stdout.isatty():
        return _fail("PNG is binary: give -o FILE.png, or redirect standard output")
    try:
        flow_dict = _load_flow_dict(args)
    except (StoreError, FlowLoadError, FlowSpecError) as error:
        return _fail(str(error))
    if output_format == "mermaid":
        content: bytes = flow_to_mermaid(flow_dict).encode("utf-8")
    else:
        dot_text = flow_to_dot(flow_dict)
        if output_format == "dot":
            content = dot_text.encode("utf-8")
        else:
            try:
                content = render_graphviz(dot_text, output_format)
            except GraphvizError as error:
                return _fail(f"{error}; or use --format dot or --format mermaid")
    if args.output is not None:
        try:
            Path(args.output).write_bytes(content)
        except OSError as error:
            return _fail(f"cannot write {args.output}: {error.strerror or error}")
    elif output_format == "png":
        sys.stdout.flush()
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
    else:
        # Text, written as text: standard output may be a text-only stream.
        sys.stdout.write(content.decode("utf-8"))
    return EXIT_OK


def _load_flow_dict(args: argparse.Namespace) -> dict[str, Any]:
    """The flow to draw: a spec file's PENDING flow, or a stored flow as it is now."""
    if os.path.isfile(args.flow) or Path(args.flow).suffix.lower() in _SPEC_SUFFIXES:
        from mc.cli.spec_files import load_flow_spec_file
        from mc.flows.flow import Flow

        return Flow.from_flow_spec(load_flow_spec_file(args.flow)).to_flow_dict()
    from mc.cli.store_commands import resolve_flow_key
    from mc.store import FlowStore, default_db_url

    with FlowStore(args.db or default_db_url()) as store:
        return store.get_flow(resolve_flow_key(store, args.flow)).to_flow_dict()


def _fail(message: str) -> int:
    print(f"mc graph: {printable(message, keep_newlines=True)}", file=sys.stderr)
    return EXIT_BAD_INPUT
