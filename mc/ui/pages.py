"""The status page's HTML, CSS and JavaScript, kept as package data in ``mc/ui/static``.

The two pages (``flows.html``, ``flow.html``) hold two markers that are
filled differently by the live app and by ``mc report``:

* ``<!--mc:head-->`` becomes the stylesheet: a link to ``/static/style.css``
  (live), or the CSS itself in a ``<style>`` element (report);
* ``<!--mc:scripts NAME.js-->`` becomes the scripts, ``common.js`` then
  ``NAME.js``: links (live), or their text inline (report).

Standard library only.
"""

from __future__ import annotations

import re
from importlib import resources

__all__ = ["HEAD_MARKER", "static_text", "static_dir", "page_scripts", "live_page"]


_SCRIPTS_MARKER = re.compile(r"<!--mc:scripts ([a-z]+\.js)-->")
HEAD_MARKER = "<!--mc:head-->"


def static_text(name: str) -> str:
    """Return the text of the file ``name`` of ``mc/ui/static``."""
    return resources.files("mc.ui").joinpath("static", name).read_text(encoding="utf-8")


def static_dir() -> str:
    """Return the path of ``mc/ui/static`` (an installed package is a directory)."""
    return str(resources.files("mc.ui").joinpath("static"))


def page_scripts(page_html: str) -> list[str]:
    """Return the names of the scripts a page loads, in order: ``common.js`` first."""
    match = _SCRIPTS_MARKER.search(page_html)
    return ["common.js", match.group(1)] if match else ["common.js"]


def live_page(name: str) -> str:
    """Return the page ``name`` (``flows.html``, ``flow.html``) as the live app serves it."""
    html = static_text(name)
    html = html.replace(HEAD_MARKER, '<link rel="stylesheet" href="/static/style.css">')
    tags = "\n".join(f'<script src="/static/{script}"></script>' for script in page_scripts(html))
    return _SCRIPTS_MARKER.sub(lambda _match: tags, html)
