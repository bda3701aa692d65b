"""Make Graphviz's SVG safe to put into a web page: an allowlist of elements and attributes.

Graphviz escapes the labels it writes (``<`` becomes ``&lt;``), and
:func:`mc.flows.graph.dot_string` escapes them on the way in; this module is
the second wall. :func:`sanitize_svg` parses the SVG and writes it out again
keeping only the drawing elements Graphviz uses (``svg``, ``g``, ``path``,
``polygon``, ``ellipse``, ``polyline``, ``text``, ``title``) and their
presentation attributes. Everything else goes: scripts, ``foreignObject``,
event handler attributes (``onload``), links (``href``), comments, the
DOCTYPE, and any attribute value that could fetch or run something
(``url(``, ``javascript:``). Text is written back escaped by the XML
serializer, so a label is only ever text.

Graphviz wraps a node with a tooltip in ``<a xlink:title="...">``; that
becomes a ``<g>`` whose ``<title>`` child is the tooltip (the task's path),
which browsers show on hover. The ``<title>`` elements Graphviz adds with
its own generated node ids (``t0``, ``t0->t1``) are dropped.

Standard library only.
"""

from __future__ import annotations

import re
from xml.etree import ElementTree

__all__ = ["SvgError", "sanitize_svg"]


_SVG_NS = "http://www.w3.org/2000/svg"
_XLINK_NS = "http://www.w3.org/1999/xlink"

_ALLOWED_ELEMENTS = frozenset(
    {"svg", "g", "path", "polygon", "polyline", "ellipse", "text", "title"}
)
_ALLOWED_ATTRIBUTES = frozenset(
    {
        "id",
        "class",
        "width",
        "height",
        "viewBox",
        "transform",
        "points",
        "d",
        "fill",
        "fill-opacity",
        "stroke",
        "stroke-width",
        "stroke-dasharray",
        "stroke-opacity",
        "cx",
        "cy",
        "rx",
        "ry",
        "x",
        "y",
        "text-anchor",
        "font-family",
        "font-size",
        "font-weight",
        "font-style",
        "preserveAspectRatio",
    }
)
# A value that is more than numbers, names, colours and path data.
_UNSAFE_VALUE = re.compile(r"url\s*\(|javascript:|data:|expression\s*\(|[<>\"'`\\]", re.IGNORECASE)
_GENERATED_TITLE = re.compile(r"(cluster_)?t\d+(->t\d+)?|flow")


class SvgError(ValueError):
    """The text given is not an SVG document that can be read."""


def sanitize_svg(svg_text: str) -> str:
    """Return ``svg_text`` with only the allowed elements and attributes (see the module).

    Raises :class:`SvgError` if the text is not well-formed XML with an
    ``<svg>`` root.
    """
    try:
        root = ElementTree.fromstring(svg_text)
    except ElementTree.ParseError as error:
        raise SvgError(f"the SVG cannot be read: {error}") from None
    if _local_name(root.tag) != "svg":
        raise SvgError(f"expected an <svg> document, got <{_local_name(root.tag)}>")
    clean = _clean_element(root)
    assert clean is not None
    clean.set("xmlns", _SVG_NS)
    return ElementTree.tostring(clean, encoding="unicode", short_empty_elements=True)


def _local_name(tag: object) -> str:
    if not isinstance(tag, str):  # a comment or processing instruction
        return ""
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag


def _clean_element(element: ElementTree.Element) -> ElementTree.Element | None:
    tag = _local_name(element.tag)
    if (
        isinstance(element.tag, str)
        and element.tag.startswith("{")
        and not element.tag.startswith(f"{{{_SVG_NS}}}")
    ):
        return None
    tooltip = None
    if tag == "a":
        tooltip = element.get(f"{{{_XLINK_NS}}}title")
        tag = "g"
    elif tag not in _ALLOWED_ELEMENTS:
        return None
    clean = ElementTree.Element(tag)
    for name, value in element.attrib.items():
        if name in _ALLOWED_ATTRIBUTES and not _UNSAFE_VALUE.search(value):
            clean.set(name, value)
    if tag in ("text", "title"):
        clean.text = element.text
        return clean
    if tooltip is not None:
        title = ElementTree.SubElement(clean, "title")
        title.text = tooltip
    for child in element:
        if _local_name(child.tag) == "title" and _GENERATED_TITLE.fullmatch(
            (child.text or "").strip()
        ):
            continue
        cleaned = _clean_element(child)
        if cleaned is not None:
            clean.append(cleaned)
    return clean
