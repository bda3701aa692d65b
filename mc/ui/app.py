"""The ``mc ui`` web app: a read-only status page over a :class:`~mc.store.FlowStore`.

Built on Starlette (``pip install 'missioncontrol[ui]'``). Routes, all
``GET`` (anything else is refused: the app never changes a flow):

``/``
    The flows list (``flows.html``).
``/flows/{key}``
    One flow's page (``flow.html``).
``/static/...``
    The pages' CSS and JavaScript.
``/api/flows``
    The flows list as JSON (:func:`mc.ui.views.flows_list`).
``/api/flows/{key}``
    One flow as JSON (as :func:`mc.ui.views.flow_view` gives it); ``?graph=0`` leaves
    out the SVG. It has an ``ETag`` made from the flow's key and version:
    a request with ``If-None-Match`` for an unchanged flow gets ``304 Not
    Modified`` without the flow being loaded, which keeps a polling page
    cheap.
``/api/flows/{key}/tasks/{task_path}/log``
    A page of a task's output (:func:`mc.ui.views.task_log_view`).

``{key}`` is a flow's key or a unique prefix of it, percent-encoded (a key
may hold ``/``: it is sent as ``%2F``); ``{task_path}`` is the task's keys
from the top flow joined by ``/``. Errors are JSON, ``{"error": "..."}``,
with status 400 (a bad parameter), 404 (no such flow or task), 409 (an
ambiguous key prefix, a flow that cannot be loaded) or 503 (the database
failed; the message does not name it, the server's log does).

Every response carries a strict Content-Security-Policy (scripts, styles
and requests only from this server, no inline script, no frames, no
plugins), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
no-referrer`` and ``X-Frame-Options: DENY``. Requests whose ``Host`` is not
one the server answers to are refused (``allowed_hosts``), which stops a
web site from reading a page on 127.0.0.1 through DNS rebinding.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mc.errors import StoreDatabaseError
from mc.ui.pages import live_page, static_dir
from mc.ui.views import (
    GraphCache,
    ViewError,
    flow_svg,
    flows_list,
    read_flow_view,
    resolve_key,
    task_log_view,
)

if TYPE_CHECKING:
    from mc.flows.tree import FlowTree
    from mc.store.flow_store import FlowStore

__all__ = ["CONTENT_SECURITY_POLICY", "LOOPBACK_HOSTS", "SecurityHeaders", "create_app"]


_logger = logging.getLogger(__name__)

#: The Content-Security-Policy of every response.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
#: The hosts a server bound to a loopback address answers to (as the
#: ``Host`` header names them: an IPv6 address in brackets).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class SecurityHeaders:
    """ASGI middleware that adds the security headers above to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in _SECURITY_HEADERS if name not in names
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    store: FlowStore,
    allowed_hosts: Sequence[str] = LOOPBACK_HOSTS,
    logs_root: str | None = None,
) -> Starlette:
    """Return the status page's ASGI app, reading from ``store``.

    ``allowed_hosts`` are the host names requests may name (``'*'``: any).
    ``logs_root`` is where the runners write task logs (default
    :func:`mc.flows.task_logs.default_logs_root`, as for ``mc logs``). The
    caller owns ``store`` and closes it.
    """
    # One request at a time reads the store: a status page has few readers,
    # and it keeps SQLite and the store's bookkeeping out of thread races.
    lock = threading.Lock()
    graph_cache = GraphCache()
    pages = {name: live_page(name) for name in ("flows.html", "flow.html")}

    async def read(function: Callable[..., Any], *args: Any) -> Any:
        def locked() -> Any:
            with lock:
                return function(*args)

        return await run_in_threadpool(locked)

    async def flows_page(request: Request) -> Response:
        return HTMLResponse(pages["flows.html"], headers={"Cache-Control": "no-cache"})

    async def flow_page(request: Request) -> Response:
        return HTMLResponse(pages["flow.html"], headers={"Cache-Control": "no-cache"})

    async def api_flows(request: Request) -> Response:
        params = dict(request.query_params)
        return await _answer(lambda: read(flows_list, store, params))

    async def api_flow(request: Request) -> Response:
        parts = _raw_path_parts(request, "/api/flows/")
        if len(parts) == 1 and parts[0]:
            return await _flow_json(request, parts[0])
        if len(parts) >= 4 and parts[1] == "tasks" and parts[-1] == "log" and all(parts[2:-1]):
            task_path = "/".join(parts[2:-1])
            params = dict(request.query_params)
            return await _answer(
                lambda: read(task_log_view, store, parts[0], task_path, params, logs_root)
            )
        return JSONResponse(
            {"error": "expected /api/flows/{key} or /api/flows/{key}/tasks/{task_path}/log"}, 404
        )

    async def _flow_json(request: Request, given: str) -> Response:
        params = dict(request.query_params)
        unknown = sorted(set(params) - {"graph"})
        if unknown or params.get("graph", "1") not in ("0", "1"):
            return JSONResponse({"error": "the only query parameter is graph=0 or graph=1"}, 400)
        with_graph = params.get("graph", "1") == "1"

        def etag() -> str:
            key = resolve_key(store, given)
            version = store.get_record(key).version
            digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
            return f'"{digest}-{version}-{int(with_graph)}"'

        try:
            tag = await read(etag)
        except ViewError as error:
            return JSONResponse({"error": error.message}, error.status_code)
        except StoreDatabaseError as error:
            return _store_failed(error)
        headers = {"ETag": tag, "Cache-Control": "no-cache"}
        if tag in _if_none_match(request):
            return Response(status_code=304, headers=headers)

        async def view() -> dict[str, Any]:
            answer: dict[str, Any]
            tree: FlowTree | None
            answer, tree = await read(read_flow_view, store, given)
            if with_graph:
                # Drawn outside the store's lock: Graphviz may take a while.
                answer["graph"] = await run_in_threadpool(flow_svg, tree, graph_cache)
            return answer

        response = await _answer(view)
        if response.status_code == 200:
            response.headers.update(headers)
        return response

    routes = [
        Route("/", flows_page),
        Route("/flows/{rest:path}", flow_page),
        Route("/api/flows", api_flows),
        Route("/api/flows/{rest:path}", api_flow),
        Mount("/static", StaticFiles(directory=static_dir()), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)),
    ]
    return Starlette(routes=routes, middleware=middleware)


async def _answer(compute: Callable[[], Any]) -> Response:
    """Run a view; its dict becomes JSON, its ViewError a JSON error."""
    try:
        return JSONResponse(await compute(), headers={"Cache-Control": "no-cache"})
    except ViewError as error:
        return JSONResponse({"error": error.message}, error.status_code)
    except StoreDatabaseError as error:
        return _store_failed(error)


def _store_failed(error: StoreDatabaseError) -> Response:
    # The message names the database (password hidden); the page gets none of it.
    _logger.warning("the status page cannot read the flow store: %s", error)
    return JSONResponse(
        {"error": "the flow store cannot be read right now; the server's log says why"}, 503
    )


def _raw_path_parts(request: Request, prefix: str) -> list[str]:
    """The percent-decoded segments of the path after ``prefix``, split before decoding.

    Splitting the raw path keeps a ``/`` inside a key (sent as ``%2F``) in its segment.
    """
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1").split("?", 1)[0] if raw else request.url.path
    rest = path[len(prefix) :] if path.startswith(prefix) else ""
    return [unquote(part) for part in rest.split("/")]


def _if_none_match(request: Request) -> set[str]:
    header = request.headers.get("if-none-match", "")
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
