"""The SVG allowlist: what reaches the page from Graphviz is drawing, never script."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from mc.flows import Flow
from mc.flows.graph import flow_to_dot, graphviz_dot_program, render_graphviz
from mc.ui.svg import SvgError, sanitize_svg

SVG_NS = 'xmlns="http://www.w3.org/2000/svg"'


def tags(svg: str) -> set[str]:
    return {element.tag.rsplit("}", 1)[-1] for element in ElementTree.fromstring(svg).iter()}


def test_scripts_and_foreign_content_are_dropped():
    svg = sanitize_svg(
        f"<svg {SVG_NS}><script>alert(1)</script><foreignObject><div>x</div></foreignObject>"
        '<g><text x="1">kept</text></g></svg>'
    )
    assert tags(svg) == {"svg", "g", "text"}
    assert "kept" in svg and "alert" not in svg


def test_event_handlers_links_and_urls_are_dropped():
    svg = sanitize_svg(
        f'<svg {SVG_NS} xmlns:xlink="http://www.w3.org/1999/xlink" onload="alert(1)">'
        '<a xlink:href="javascript:alert(2)" xlink:title="tip"><path d="M0,0" fill="url(http://x/y)" '
        'stroke="black" onclick="alert(3)"/></a></svg>'
    )
    assert "alert" not in svg and "href" not in svg and "url(" not in svg
    root = ElementTree.fromstring(svg)
    path = next(element for element in root.iter() if element.tag.endswith("path"))
    assert path.attrib == {"d": "M0,0", "stroke": "black"}
    assert [element.text for element in root.iter() if element.tag.endswith("title")] == ["tip"]


def test_text_stays_text():
    svg = sanitize_svg(f"<svg {SVG_NS}><text>&lt;script&gt;alert(1)&lt;/script&gt;</text></svg>")
    assert "<script" not in svg
    assert (
        ElementTree.fromstring(svg).find("{http://www.w3.org/2000/svg}text").text
        == "<script>alert(1)</script>"
    )


@pytest.mark.parametrize("text", ["not xml", "<html></html>", "<svg><g></svg>"])
def test_what_is_not_an_svg_document_is_refused(text):
    with pytest.raises(SvgError):
        sanitize_svg(text)


def test_graphviz_drawing_of_a_hostile_flow_keeps_its_shapes_and_colours():
    if graphviz_dot_program() is None:
        pytest.skip("Graphviz is not installed")
    label = '<script>alert(1)</script>" onload="alert(2)'
    flow = Flow.from_flow_spec({"label": label, "tasks": [{"key": "a", "task_type": "noop"}]})
    svg = sanitize_svg(render_graphviz(flow_to_dot(flow.to_flow_dict()), "svg").decode())
    assert tags(svg) <= {"svg", "g", "title", "path", "polygon", "text"}
    texts = [element.text for element in ElementTree.fromstring(svg).iter() if element.text]
    assert any(label in text for text in texts)
    assert 'fill="#e5e5e5"' in svg
