"""A flow as a tree of tasks: what ``mc show`` prints, and what a web page can draw.

:func:`build_flow_tree` turns a flow dict (:meth:`Flow.to_flow_dict`, or a
stored flow's JSON) into plain objects, with no terminal or HTML in sight:

* a :class:`FlowTree`: the flow's key, label, status and errors, and its
  top tasks in the flow's order;
* one :class:`TaskNode` per task: status, attempts, start, end, duration,
  executor, job id, job dir, the last line of its error, its precursors;
  and its ``children``. Job fields come from ``task['job']``, which only
  the ``job`` handler writes (never a spec or a wiring): the job id is the
  executor's (a SLURM job id, a Dask key) or a local job's process id.

Children nest as the work does:

* a ``flow`` task (a subflow, its state in ``data['flow']``) has the
  subflow's tasks as children;
* a proxying task (``spread``, ``switch``) whose proxied task is a ``flow``
  task (a spread's items) has that flow's tasks as children directly: the
  proxied ``flow`` task itself adds nothing a reader needs;
* any other proxying task has its proxied task as its one child;
* a ``stored_flow`` task has its child flow's tasks as children, when the
  caller passes ``load_stored_flow`` to read the child from the store.

Each node has a ``path``: the task keys from the top flow down, joined with
``/`` (``sweep/evaluate_3``). That is how a task inside a spread or subflow
is named on the command line. Keys and labels are kept exactly as stored:
whoever shows them escapes them for their medium.

The module reads only the flow dict (and the stored children it is given);
it never touches job dirs or executors. Standard library only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from mc.errors import FlowLoadError, FlowSpecError, StoreError
from mc.flows.spec import ROOT_TASK_KEY
from mc.flows.statuses import FAILED, PENDING, RUNNING, SKIPPED

__all__ = ["stored_flow_loader", "PATH_SEPARATOR", "TaskNode", "FlowTree", "build_flow_tree"]

#: Separates the keys of a task path (``sweep/evaluate_3``).
PATH_SEPARATOR = "/"

# Subflows nest deeper than this only by accident (or malice): stop there.
_MAX_DEPTH = 64

_LoadStoredFlow = Callable[[str], "Mapping[str, Any] | None"]


@dataclasses.dataclass
class TaskNode:
    """One task of the tree, with its nested tasks in ``children``.

    ``kind`` is ``'task'`` for a task of a flow, ``'proxied'`` for the task
    a proxying task runs in its place. ``subflow_key``, ``subflow_label``
    and ``subflow_status`` describe the child flow whose tasks are the
    children (``subflow_stored`` when it is a separate stored flow).
    ``duration_s`` is set once the task has finished; ``attempts`` counts
    the attempts started (0 for a task that never started). ``error`` is the
    last line of the task's error or, for a task waiting to retry
    (``retry_at``), of its last failed attempt. ``cached_from`` names the
    flow and task (``FLOW/TASK``) whose cached result the task took, and
    ``cache_waiting_for`` the task computing its cache key while it waits.
    ``job_status`` is the job's status, an ``UNKNOWN`` one followed by the
    executor's name of the state (``UNKNOWN (TELEPORTING)``).
    """

    path: str
    key: str
    label: str | None
    task_type: str
    status: str
    kind: str = "task"
    attempts: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    duration_s: float | None = None
    retry_at: float | None = None
    executor: str | None = None
    job_id: str | None = None
    job_dir: str | None = None
    job_status: str | None = None
    error: str | None = None
    cached_from: str | None = None
    cache_waiting_for: str | None = None
    precursors: list[str] = dataclasses.field(default_factory=list)
    subflow_key: str | None = None
    subflow_label: str | None = None
    subflow_status: str | None = None
    subflow_stored: bool = False
    children: list[TaskNode] = dataclasses.field(default_factory=list)

    def walk(self) -> Iterator[TaskNode]:
        """Yield this node, then every node below it, depth first, in order."""
        yield self
        for child in self.children:
            yield from child.walk()

    def to_dict(self) -> dict[str, Any]:
        """Return the node and its children as plain JSON types."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class FlowTree:
    """A flow and its tasks as :class:`TaskNode` trees, in the flow's order."""

    key: str
    label: str | None
    status: str
    depth: int = 0
    parent_key: str | None = None
    num_ticks: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)
    cancelled: str | None = None
    tasks: list[TaskNode] = dataclasses.field(default_factory=list)

    def walk(self) -> Iterator[TaskNode]:
        """Yield every task node, depth first, in the flow's order."""
        for task in self.tasks:
            yield from task.walk()

    def find(self, path: str) -> TaskNode | None:
        """Return the node whose path is ``path``, or None."""
        for node in self.walk():
            if node.path == path:
                return node
        return None

    def to_dict(self) -> dict[str, Any]:
        """Return the tree as plain JSON types."""
        return dataclasses.asdict(self)


def build_flow_tree(
    flow_dict: Mapping[str, Any],
    load_stored_flow: _LoadStoredFlow | None = None,
    confirm_job_dir: Callable[[Any], str | None] | None = None,
) -> FlowTree:
    """Return the :class:`FlowTree` of a flow dict.

    ``flow_dict`` is what :meth:`~mc.flows.flow.Flow.to_flow_dict` returns.
    ``load_stored_flow(key)``, if given, returns the flow dict of a stored
    subflow (a ``stored_flow`` task's child), or None if it cannot; without
    it those tasks have no children. ``confirm_job_dir(handle)``, if given,
    returns the job dir a job's handle names once the job dir confirms it
    (``mc logs`` reads files there: see
    :func:`mc.jobs.executors.base.job_dir_of_handle`), else None; a node
    then has a ``job_dir`` only if it is confirmed. Nested data that does
    not have the expected shape is shown as far as it goes, never raised on.
    """
    data = _mapping(flow_dict.get("data"))
    cancelled = _mapping(data.get("cancelled"))
    errors = data.get("errors")
    tree = FlowTree(
        key=str(flow_dict.get("key")),
        label=_text_or_none(flow_dict.get("label")),
        status=str(flow_dict.get("status")),
        depth=_int(flow_dict.get("depth")),
        parent_key=_text_or_none(flow_dict.get("parent_key")),
        num_ticks=_int(flow_dict.get("num_ticks")),
        errors=[str(error) for error in errors] if isinstance(errors, list) else [],
        cancelled=_text_or_none(cancelled.get("reason")) if cancelled else None,
    )
    builder = _Builder(load_stored_flow, confirm_job_dir)
    tree.tasks = builder.flow_tasks(flow_dict, "", 0)
    return tree


def stored_flow_loader(store: Any) -> _LoadStoredFlow:
    """Return a ``load_stored_flow`` for :func:`build_flow_tree` that reads from ``store``.

    ``store`` is a :class:`~mc.store.FlowStore` (anything with its
    ``get_flow``). A stored subflow that cannot be read (gone, unloadable,
    a database error) shows no tasks rather than failing the whole tree.
    """

    def load(key: str) -> dict[str, Any] | None:
        try:
            return store.get_flow(key).to_flow_dict()  # type: ignore[no-any-return]
        except (StoreError, FlowLoadError):
            return None

    return load


class _Builder:
    def __init__(
        self,
        load_stored_flow: _LoadStoredFlow | None,
        confirm_job_dir: Callable[[Any], str | None] | None = None,
    ) -> None:
        self.load_stored_flow = load_stored_flow
        self.confirm_job_dir = confirm_job_dir
        self.loaded: set[str] = set()

    def flow_tasks(self, flow_dict: Mapping[str, Any], prefix: str, depth: int) -> list[TaskNode]:
        tasks = flow_dict.get("tasks")
        if not isinstance(tasks, Mapping) or depth > _MAX_DEPTH:
            return []
        flow_key = _text_or_none(flow_dict.get("key"))
        return [
            self.task_node(task, f"{prefix}{key}", "task", depth, flow_key)
            for key, task in tasks.items()
            if isinstance(task, Mapping)
        ]

    def task_node(
        self, task: Mapping[str, Any], path: str, kind: str, depth: int, flow_key: str | None = None
    ) -> TaskNode:
        data = _mapping(task.get("data"))
        params = _mapping(task.get("task_params"))
        # Job facts come from the handler's own field (task['job'], or
        # task['call']), which no spec or wiring writes; the copies in
        # ``data`` are data, and a spec could have put anything there.
        job = _mapping(task.get("job")) or _mapping(task.get("call"))
        handle = _mapping(job.get("handle"))
        started, finished = _time(task.get("started_at")), _time(task.get("finished_at"))
        node = TaskNode(
            path=path,
            key=str(task.get("key")),
            label=_text_or_none(task.get("label")),
            task_type=str(task.get("task_type")),
            status=str(task.get("status")),
            kind=kind,
            attempts=_count_attempts(task),
            started_at=started,
            finished_at=finished,
            duration_s=finished - started if started is not None and finished is not None else None,
            retry_at=_time(task.get("retry_at")),
            executor=_text_or_none(job.get("executor")) or _text_or_none(params.get("executor")),
            job_id=(
                _text_or_none(job.get("job_id"))
                or _text_or_none(handle.get("job_id"))
                or _text_or_none(handle.get("key"))
            ),
            job_dir=(
                self.confirm_job_dir(job.get("handle"))
                if self.confirm_job_dir is not None
                else _text_or_none(job.get("job_dir")) or _text_or_none(handle.get("job_dir"))
            ),
            job_status=_job_status(data) if job else None,
            error=_last_error_line(task),
            cached_from=_cached_from(task.get("cached_from")),
            cache_waiting_for=_text_or_none(task.get("cache_waiting_for")),
            precursors=[str(pre) for pre in task.get("precursors") or [] if pre != ROOT_TASK_KEY],
        )
        if depth >= _MAX_DEPTH:
            return node
        proxied = task.get("proxied_task")
        if isinstance(proxied, Mapping):
            if proxied.get("task_type") == "flow":
                self.attach_subflow(node, proxied, depth)
            else:
                key = str(proxied.get("key"))
                node.children.append(
                    self.task_node(
                        proxied, f"{path}{PATH_SEPARATOR}{key}", "proxied", depth + 1, flow_key
                    )
                )
        elif node.task_type == "flow":
            self.attach_subflow(node, task, depth)
        elif node.task_type == "stored_flow":
            self.attach_stored_flow(node, data, depth, flow_key)
        return node

    def attach_subflow(self, node: TaskNode, flow_task: Mapping[str, Any], depth: int) -> None:
        """Nest a ``flow`` task's child: the running child, else the one its spec builds."""
        child = _mapping(_mapping(flow_task.get("data")).get("flow"))
        if not child:
            spec = _mapping(_mapping(flow_task.get("task_params")).get("flow_spec"))
            child = _flow_dict_of_spec(spec) if spec else {}
            if not child:
                return
        node.subflow_key = _text_or_none(child.get("key"))
        node.subflow_label = _text_or_none(child.get("label"))
        node.subflow_status = _text_or_none(child.get("status"))
        node.children = self.flow_tasks(child, node.path + PATH_SEPARATOR, depth + 1)

    def attach_stored_flow(
        self, node: TaskNode, data: Mapping[str, Any], depth: int, parent_key: str | None
    ) -> None:
        """Nest a ``stored_flow`` task's child, if the store says it is this flow's child.

        ``data['child_key']`` is data a spec can write: a flow whose
        ``parent_key`` is not the key of the flow holding the task is not
        shown as its child (nor counted as loaded).
        """
        child_key = _text_or_none(data.get("child_key"))
        if child_key is None:
            return
        node.subflow_key = child_key
        node.subflow_stored = True
        if self.load_stored_flow is None or child_key in self.loaded:
            return
        self.loaded.add(child_key)
        child = self.load_stored_flow(child_key)
        if not isinstance(child, Mapping):
            return
        if child.get("parent_key") != parent_key:
            node.subflow_key, node.subflow_stored = None, False
            return
        node.subflow_label = _text_or_none(child.get("label"))
        node.subflow_status = _text_or_none(child.get("status"))
        node.children = self.flow_tasks(child, node.path + PATH_SEPARATOR, depth + 1)


def _flow_dict_of_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The PENDING flow dict a subflow's spec would build, or {} for a bad spec."""
    from mc.flows.flow import Flow  # flow imports the spec module; keep this one light

    try:
        return Flow.from_flow_spec(spec).to_flow_dict()
    except (FlowSpecError, ValueError, TypeError, RecursionError):
        return {}


def _count_attempts(task: Mapping[str, Any]) -> int:
    """How many times the task was started.

    ``task['attempts']`` lists the failed attempts of a task with retries
    (the engine records it; see FlowEngine._fail_task). A task that FAILED
    for good has its last attempt in that list already.
    """
    failed = task.get("attempts")
    count = len(failed) if isinstance(failed, list) else 0
    status = task.get("status")
    if status == RUNNING or (
        status not in (PENDING, SKIPPED, FAILED) and task.get("started_at") is not None
    ):
        return count + 1
    if status == FAILED:
        return max(count, 1)
    return count


def _last_error_line(task: Mapping[str, Any]) -> str | None:
    text = task.get("error_summary") or task.get("error")
    if not text and task.get("status") == PENDING:
        attempts = task.get("attempts")
        if isinstance(attempts, list) and attempts and isinstance(attempts[-1], Mapping):
            text = attempts[-1].get("error")
    if not text:
        return None
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[-1] if lines else None


def _job_status(data: Mapping[str, Any]) -> str | None:
    """The job's status; an UNKNOWN one with the executor's name of the state, if given."""
    status = _text_or_none(data.get("job_status"))
    state = _text_or_none(data.get("unknown_state"))
    # "UNKNOWN" is mc.jobs.constants.JOB_UNKNOWN (mc.flows imports nothing from mc.jobs).
    if status == "UNKNOWN" and state:
        return f"{status} ({state})"
    return status


def _cached_from(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return None
    return f"{value.get('flow')}/{value.get('task')}"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text_or_none(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    return str(value)


def _time(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
