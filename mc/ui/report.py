"""``mc report KEY -o flow.html``: one flow's page as a single self-contained HTML file.

The report is the live flow page (``flow.html``, drawn by the same
``flow.js``) with everything inlined: the CSS in a ``<style>`` element, the
scripts in ``<script>`` elements, and the data (:func:`mc.ui.views.flow_view`
with its SVG, and the tail of each task's output) as JSON in a
``<script type="application/json">`` element, which browsers never run. It
needs no server and no network, and does not update: it is the flow as it
was when the report was made, for a lab notebook or an email.

Safety: the data is JSON with ``<``, ``>``, ``&`` and the JavaScript line
separators escaped as ``\\uXXXX``, so no string in it can end its element;
the page draws it with ``textContent`` as the live page does. A
Content-Security-Policy ``<meta>`` element lets only the page's own inline
script and style run (by their SHA-256 hashes) and allows no requests at
all.

Standard library only (with :mod:`mc.store` to read the flow).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from typing import TYPE_CHECKING, Any

from mc.ui.pages import HEAD_MARKER, page_scripts, static_text
from mc.ui.views import flow_view, task_output_pages

if TYPE_CHECKING:
    from mc.store.flow_store import FlowStore

__all__ = [
    "REPORT_LOG_BYTES",
    "REPORT_MAX_LOG_BYTES",
    "report_data",
    "script_json",
    "render_report",
    "flow_report",
]


#: How much of each output file of a task a report holds (its tail).
REPORT_LOG_BYTES = 32 * 1024
#: How much output a report holds in all; tasks past it are left out.
REPORT_MAX_LOG_BYTES = 8 * 1024 * 1024


def report_data(store: FlowStore, given: str, logs_root: str | None = None) -> dict[str, Any]:
    """Return what a report of flow ``given`` (a key or unique prefix) shows, as JSON types.

    ``{'flow': flow_view(...), 'logs': {task path: task_log_view(...)},
    'generated_at': epoch seconds}``; tasks with no output are not in
    ``logs``. Raises :class:`~mc.ui.views.ViewError` for an unknown key.
    """
    from mc.ui.views import output_tasks

    view = flow_view(store, given)
    logs: dict[str, Any] = {}
    budget = REPORT_MAX_LOG_BYTES
    # The flow as loaded once more: where each task's output is.
    tasks = output_tasks(store, store.get_flow(view["key"]).to_flow_dict()) if view["tree"] else []
    for task in tasks:
        if budget <= 0:
            break
        answer = task_output_pages(
            view["key"], task, max_bytes=REPORT_LOG_BYTES, logs_root=logs_root
        )
        if any(source["text"] for source in answer["sources"]):
            logs[task.path] = answer
            budget -= sum(len(source["text"]) for source in answer["sources"])
    return {"flow": view, "logs": logs, "generated_at": store.clock()}


def script_json(data: Any) -> str:
    """Return ``data`` as JSON that is safe inside a ``<script>`` element (see the module)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


def _sha256(text: str) -> str:
    return (
        "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"
    )


def render_report(data: dict[str, Any]) -> str:
    """Return the report page of ``data`` (what :func:`report_data` returns) as HTML text."""
    page = static_text("flow.html")
    style = static_text("style.css")
    scripts = [static_text(name) for name in page_scripts(page)]
    for text in (style, *scripts):
        if "</script" in text.lower() or "</style" in text.lower():
            raise ValueError("a static file of the page would end its own element")
    policy = (
        "default-src 'none'; "
        f"script-src {' '.join(_sha256(text) for text in scripts)}; "
        f"style-src {_sha256(style)}; img-src data:; base-uri 'none'; form-action 'none'"
    )
    # The policy holds single quotes, which a double-quoted attribute keeps as they are.
    attribute = html.escape(policy, quote=False).replace('"', "&quot;")
    head = (
        f'<meta http-equiv="Content-Security-Policy" content="{attribute}">\n<style>{style}</style>'
    )
    body_scripts = (
        f'<script type="application/json" id="mc-report">{script_json(data)}</script>\n'
        + "\n".join(f"<script>{text}</script>" for text in scripts)
    )
    page = page.replace(HEAD_MARKER, head)
    start = page.index("<!--mc:scripts ")
    end = page.index("-->", start) + 3
    return page[:start] + body_scripts + page[end:]


def flow_report(store: FlowStore, given: str, logs_root: str | None = None) -> str:
    """Return the report page of flow ``given`` (a key or unique prefix) as HTML text."""
    return render_report(report_data(store, given, logs_root))
