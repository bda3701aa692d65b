"""What the status page shows, as plain JSON-ready dicts, read from a :class:`~mc.store.FlowStore`.

The web app (:mod:`mc.ui.app`) serves these dicts as its JSON API, and
``mc report`` (:mod:`mc.ui.report`) embeds them in a static page; the
browser code draws both the same way. Nothing here writes to the store.

* :func:`flows_list`: the records of the flows matching some filters,
  newest first, with the store's counts by status.
* :func:`flow_view`: one flow: its record, its task tree
  (:func:`mc.flows.tree.build_flow_tree`, with stored subflows read from the
  store), the tasks counted by status, and its DAG as sanitized SVG
  (:func:`flow_svg`).
* :func:`task_log_view`: the tail, or an earlier page, of each output file
  of one task (:mod:`mc.ui.task_output`).

Errors a user can cause (an unknown key, a bad filter) raise
:class:`ViewError` with an HTTP status and a message that names what was
wrong and never the database URL.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mc.errors import (
    AmbiguousFlowKeyError,
    FlowLoadError,
    FlowNotFoundError,
    GraphvizError,
    GraphvizNotFoundError,
)
from mc.flows.statuses import FlowStatus
from mc.flows.task_logs import SCHEDULER_LOG, TASK_LOG, LogTask, log_tasks
from mc.flows.tree import FlowTree, build_flow_tree, stored_flow_loader
from mc.ui.svg import SvgError, sanitize_svg

if TYPE_CHECKING:
    from mc.store.flow_store import FlowStore

__all__ = [
    "LIST_DEFAULT_LIMIT",
    "LIST_MAX_LIMIT",
    "MAX_GRAPH_TASKS",
    "GRAPH_TIMEOUT_S",
    "ViewError",
    "flows_list",
    "resolve_key",
    "flow_view",
    "read_flow_view",
    "flow_svg",
    "GraphCache",
    "task_log_view",
    "output_tasks",
    "task_output_pages",
]


_logger = logging.getLogger(__name__)

#: How many flows :func:`flows_list` returns when no limit is asked for, and at most.
LIST_DEFAULT_LIMIT = 50
LIST_MAX_LIMIT = 500
#: A flow with more tasks than this (spread items included) is not drawn:
#: Graphviz would take long and the picture would be unreadable.
MAX_GRAPH_TASKS = 1500
#: How long Graphviz may take to draw one flow.
GRAPH_TIMEOUT_S = 30.0


class ViewError(Exception):
    """A request the store cannot answer: ``status_code`` (HTTP) and a message for the user."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def _parse_int(name: str, text: str | None, default: int, low: int, high: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ViewError(400, f"{name}: expected a whole number, got {text!r}") from None
    if not low <= value <= high:
        raise ViewError(400, f"{name}: expected a number from {low} to {high}, got {value}")
    return value


def flows_list(store: FlowStore, params: Mapping[str, str]) -> dict[str, Any]:
    """Return the flows matching the filters in ``params`` (query parameters), newest first.

    ``params`` may hold ``status`` (a flow status), ``label`` (a shell
    pattern: ``*`` any characters, ``?`` one; case-sensitive), ``parent`` (a
    flow key or unique prefix: its stored subflows), ``limit`` (1 to
    :data:`LIST_MAX_LIMIT`, default :data:`LIST_DEFAULT_LIMIT`) and
    ``offset``. The answer has ``flows`` (records), ``counts`` (every
    stored flow by status, not only the matching ones), ``filters`` (as
    understood), ``limit``, ``offset``, ``more`` (true when there may be
    more flows past this page) and ``now`` (the store's clock).
    """
    unknown = sorted(set(params) - {"status", "label", "parent", "limit", "offset"})
    if unknown:
        raise ViewError(
            400,
            f"unknown query parameter {unknown[0]!r} "
            "(expected status, label, parent, limit, offset)",
        )
    status = params.get("status") or None
    if status is not None and status not in FlowStatus.ALL:
        raise ViewError(
            400, f"status: expected one of {', '.join(sorted(FlowStatus.ALL))}, got {status!r}"
        )
    label = params.get("label") or None
    parent = resolve_key(store, params["parent"]) if params.get("parent") else None
    limit = _parse_int("limit", params.get("limit"), LIST_DEFAULT_LIMIT, 1, LIST_MAX_LIMIT)
    offset = _parse_int("offset", params.get("offset"), 0, 0, 10**9)
    stored_counts = store.count_by_status()
    records = store.query(
        status=status,
        label_glob=label,
        parent_key=parent,
        limit=limit + 1,
        offset=offset,
        newest_first=True,
    )
    return {
        "flows": [record.to_dict() for record in records[:limit]],
        "counts": {name: stored_counts.get(name, 0) for name in _STATUS_ORDER},
        "filters": {"status": status, "label": label, "parent": parent},
        "limit": limit,
        "offset": offset,
        "more": len(records) > limit,
        "now": store.clock(),
    }


_STATUS_ORDER = ("PENDING", "RUNNING", "COMPLETED", "FAILED")
# The output files of a task, by name (see mc.flows.task_logs.task_output_files),
# and the label the page shows for each (the name, where none is given).
_SOURCES = (TASK_LOG, "stdout", "stderr", SCHEDULER_LOG)
_SOURCE_LABELS = {TASK_LOG: "task log", SCHEDULER_LOG: "scheduler log"}


def resolve_key(store: FlowStore, given: str) -> str:
    """Return the key of the flow that ``given`` (a key or unique prefix) names.

    Raises :class:`ViewError`: 404 when none does, 409 (listing candidates)
    when several do.
    """
    try:
        return store.resolve_key(given)
    except FlowNotFoundError:
        raise ViewError(404, f"no flow with key or key prefix {given!r}") from None
    except AmbiguousFlowKeyError as error:
        raise ViewError(409, str(error)) from None


def flow_view(
    store: FlowStore, given: str, with_graph: bool = True, graph_cache: GraphCache | None = None
) -> dict[str, Any]:
    """Return one flow as the flow page shows it (``given``: a key or unique prefix).

    The answer has ``key``, ``label``, ``status``, ``record`` (what
    ``mc ls --json`` shows), ``load_error`` (why the stored flow cannot be
    loaded, else None), ``tree`` (:meth:`FlowTree.to_dict`),
    ``task_counts`` (every task of the tree by status),
    ``stored_subflows`` (stored subflows of the flow not in the tree),
    ``graph`` (``{'svg': ..., 'error': ...}``, if ``with_graph``) and
    ``now`` (the store's clock). ``graph_cache`` keeps drawings (see
    :func:`flow_svg`).
    """
    view, tree = read_flow_view(store, given)
    if with_graph:
        view["graph"] = flow_svg(tree, graph_cache)
    return view


def read_flow_view(store: FlowStore, given: str) -> tuple[dict[str, Any], FlowTree | None]:
    """Return :func:`flow_view`'s answer without ``graph``, and the tree to draw it from.

    The tree is None when the stored flow cannot be loaded.

    Only this part reads the store; drawing needs none of it.
    """
    key = resolve_key(store, given)
    record = store.get_record(key)
    view: dict[str, Any] = {
        "key": record.key,
        "label": record.label,
        "status": record.status,
        "record": record.to_dict(),
        "load_error": None,
        "tree": None,
        "task_counts": {},
        "stored_subflows": [],
        "now": store.clock(),
    }
    try:
        flow = store.get_flow(key)
    except FlowNotFoundError:
        raise ViewError(404, f"flow {key!r} was deleted") from None
    except FlowLoadError as error:
        view["load_error"] = str(error)
        return view, None
    tree = build_flow_tree(flow.to_flow_dict(), stored_flow_loader(store))
    view["tree"] = tree.to_dict()
    counts: dict[str, int] = {}
    for node in tree.walk():
        counts[node.status] = counts.get(node.status, 0) + 1
    view["task_counts"] = counts
    shown = {node.subflow_key for node in tree.walk() if node.subflow_stored}
    view["stored_subflows"] = [
        {"key": child.key, "label": child.label, "status": child.status}
        for child in store.query(parent_key=key, limit=None)
        if child.key not in shown
    ]
    return view, tree


def flow_svg(tree: FlowTree | None, cache: GraphCache | None = None) -> dict[str, str | None]:
    """Return ``{'svg': ..., 'error': None}``: the flow's DAG, drawn as by ``mc graph``, sanitized.

    When it cannot be drawn (no tree: the stored flow cannot be loaded; no
    Graphviz; too many tasks; Graphviz failed)
    ``svg`` is None and ``error`` says why. ``cache`` keeps drawings by
    their DOT text: a runner saves a running flow on every claim, but
    Graphviz runs again only when the picture changed (a status, a new
    spread item).
    """
    from mc.flows.graph import flow_to_dot, render_graphviz

    if tree is None:
        return {"svg": None, "error": "the stored flow cannot be loaded"}
    count = sum(1 for _ in tree.walk())
    if count > MAX_GRAPH_TASKS:
        return {
            "svg": None,
            "error": f"the flow has {count} tasks, more than the {MAX_GRAPH_TASKS} drawn here; "
            "mc graph KEY -o flow.svg draws it",
        }
    dot_text = flow_to_dot(tree)
    cache_key = hashlib.sha256(dot_text.encode("utf-8", "surrogatepass")).hexdigest()
    cached = cache.get(cache_key) if cache is not None else None
    if cached is not None:
        return cached
    try:
        svg = render_graphviz(dot_text, "svg", timeout_s=GRAPH_TIMEOUT_S)
        graph: dict[str, str | None] = {
            "svg": sanitize_svg(svg.decode("utf-8", "replace")),
            "error": None,
        }
    except GraphvizNotFoundError as error:
        return {"svg": None, "error": str(error)}
    except (GraphvizError, SvgError) as error:
        _logger.warning("cannot draw flow %s: %s", tree.key, error)
        return {"svg": None, "error": f"the DAG cannot be drawn: {error}"}
    if cache is not None:
        cache.put(cache_key, graph)
    return graph


class GraphCache:
    """The last ``size`` drawings, by a digest of their DOT text: a picture is drawn once."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: dict[str, dict[str, str | None]] = {}

    def get(self, key: str) -> dict[str, str | None] | None:
        """Return the drawing stored under ``key``, or None."""
        with self._lock:
            item = self._items.pop(key, None)
            if item is not None:
                self._items[key] = item  # the most recently used last
            return item

    def put(self, key: str, item: dict[str, str | None]) -> None:
        """Keep ``item`` under ``key``, forgetting the least recently used past ``size``."""
        with self._lock:
            self._items[key] = item
            while len(self._items) > self.size:
                del self._items[next(iter(self._items))]


def task_log_view(
    store: FlowStore,
    given: str,
    task_path: str,
    params: Mapping[str, str],
    logs_root: str | None = None,
) -> dict[str, Any]:
    """Return a page of each output file of the task at ``task_path`` of flow ``given``.

    The files are those ``mc logs`` shows
    (:func:`mc.flows.task_logs.task_output_files`): the task's log under
    ``logs_root`` (default :func:`~mc.flows.task_logs.default_logs_root`),
    a job's stdout and stderr and, where its job dir holds one, its SLURM
    log (``scheduler``, see :func:`mc.flows.task_logs.scheduler_log_file`).
    ``params`` (query parameters) may hold ``source`` (one file by name:
    ``log``, ``stdout``, ``stderr`` or ``scheduler``; a name the task has
    no file for gives no sources),
    ``end`` (the byte offset the page ends at; default the file's end, the
    tail) and ``max_bytes`` (the page's size,
    default :data:`~mc.ui.task_output.DEFAULT_PAGE_BYTES`, at most
    :data:`~mc.ui.task_output.MAX_PAGE_BYTES`). The answer has
    ``flow_key``, ``task_path``, ``task_status``, ``available`` (the names
    of the task's files) and ``sources``: for each file ``name``, ``label``,
    ``path``, ``exists``, and the page's ``size``,
    ``start``, ``end`` and ``text`` (all 0 and empty for a file that does
    not exist yet; see
    :func:`~mc.ui.task_output.read_log_page`).
    """
    from mc.ui.task_output import DEFAULT_PAGE_BYTES, MAX_PAGE_BYTES

    unknown = sorted(set(params) - {"source", "end", "max_bytes"})
    if unknown:
        raise ViewError(
            400, f"unknown query parameter {unknown[0]!r} (expected source, end, max_bytes)"
        )
    source = params.get("source") or None
    if source is not None and source not in _SOURCES:
        raise ViewError(400, f"source: expected one of {', '.join(_SOURCES)}, got {source!r}")
    max_bytes = _parse_int(
        "max_bytes", params.get("max_bytes"), DEFAULT_PAGE_BYTES, 1, MAX_PAGE_BYTES
    )
    end = _parse_int("end", params.get("end"), -1, 0, 2**62) if params.get("end") else None
    key = resolve_key(store, given)
    try:
        flow_dict = store.get_flow(key).to_flow_dict()
    except FlowNotFoundError:
        raise ViewError(404, f"flow {key!r} was deleted") from None
    except FlowLoadError:
        raise ViewError(409, f"the stored flow {key!r} cannot be loaded") from None
    found = [task for task in output_tasks(store, flow_dict) if task.path == task_path]
    if not found:
        raise ViewError(404, f"flow {key!r} has no task {task_path!r}")
    return task_output_pages(key, found[0], source, end, max_bytes, logs_root)


def output_tasks(store: FlowStore, flow_dict: Mapping[str, Any]) -> list[LogTask]:
    """Return the tasks of a flow as ``mc logs`` reads their output (see :func:`log_tasks`).

    Job dirs are taken only from the engine's handles, once the job dir
    confirms them, as for ``mc logs``.
    """
    from mc.jobs.executors.base import job_dir_of_handle

    tree = build_flow_tree(flow_dict, stored_flow_loader(store), confirm_job_dir=job_dir_of_handle)
    return log_tasks(tree)


def task_output_pages(
    flow_key: str,
    task: LogTask,
    source: str | None = None,
    end: int | None = None,
    max_bytes: int | None = None,
    logs_root: str | None = None,
) -> dict[str, Any]:
    """Return :func:`task_log_view`'s answer for a task in hand (``mc report`` reads many)."""
    from mc.flows.task_logs import default_logs_root, task_output_files
    from mc.ui.task_output import DEFAULT_PAGE_BYTES, read_log_page

    root = logs_root if logs_root is not None else default_logs_root()
    task_path, status = task.path, task.node.status
    files = task_output_files(root, task)
    sources = []
    for name, path in files:
        if source is not None and name != source:
            continue
        page = read_log_page(path, end, max_bytes or DEFAULT_PAGE_BYTES)
        label = _SOURCE_LABELS.get(name, name)
        missing = {"size": 0, "start": 0, "end": 0, "text": ""}
        sources.append(
            {
                "name": name,
                "label": label,
                "path": str(path),
                "exists": page is not None,
                **(page or missing),
            }
        )
    return {
        "flow_key": flow_key,
        "task_path": task_path,
        "task_status": status,
        "available": [name for name, _ in files],
        "sources": sources,
    }
