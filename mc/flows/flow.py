"""The :class:`Flow`: a DAG of task dicts, and the bookkeeping to advance it.

A flow's source of truth is plain data: ``flow.tasks`` maps each task key to
a task dict (``key``, ``label``, ``task_type``, ``task_params``, ``data``,
``precursors``, ``status``, and once set ``error``, ``started_at``,
``finished_at``). :meth:`Flow.to_flow_dict` returns that data as JSON types,
and :meth:`Flow.from_flow_dict` loads it back.

Beside the dicts, a flow keeps derived indexes, rebuilt on every load and
never stored, in the manner of :class:`graphlib.TopologicalSorter`:

* ``_position``: each task's place in the flow, from its key. The other
  indexes name tasks by place, not key: lists indexed by place are compact,
  and integers sort fastest, which matters at 100,000 tasks;
* ``_task_list``: the task dicts, by place;
* ``_successors``: for each task, the places of the tasks that list it as a
  precursor, in flow order: a tuple, made in one pass when the flow is
  built or loaded, which becomes a list when the task gains a successor
  later (:meth:`Flow.add_task`, :meth:`Flow.add_edge`). Tuples of integers
  are no work for the garbage collector (it stops tracking them at once),
  where a list per task would be one more container to walk in every full
  collection: at 100,000 tasks, that cost up to a third of the build;
* ``_waiting``: for each PENDING task that is not ready, how many precursors
  have not yet finished; for the default rule ``all_success``, how many have
  not yet COMPLETED (0 for every other task);
* ``_rules`` and ``_bad_counts``: for PENDING tasks with another trigger rule
  only, the rule, and how many precursors FAILED, were SKIPPED, and in all;
* ``_ready``: PENDING tasks whose trigger rule is met;
* ``_retrying``: PENDING tasks waiting to retry, with the time they may;
* ``_running``: RUNNING tasks;
* ``_status_counts``: how many tasks have each status.

When a task finishes, its successors count it down and :func:`trigger_verdict`
decides, from the counts alone, whether each may start (it becomes ready),
must wait, or can never start (it becomes SKIPPED, and tells its own
successors so). Only the flow writes a task's ``status``: the engine moves a
task between statuses through the public methods of the state machine
(:meth:`Flow.start_ready`, :meth:`Flow.complete`, :meth:`Flow.fail`,
:meth:`Flow.retry_later`, :meth:`Flow.skip_pending`, :meth:`Flow.skip_stuck`,
:meth:`Flow.reset`; and :meth:`Flow.add_task` and :meth:`Flow.add_edge`,
which change the graph), which check their input, raise
:class:`~mc.errors.FlowError` on a task that is unknown or in the wrong
status, and update the indexes with work proportional to the tasks that
change.
Code that changes a task's ``status`` by hand, outside a tick, must reload
the flow (``Flow.from_flow_dict(flow.to_flow_dict())``) so the indexes
follow.

Dirty tracking: a flow knows which tasks changed since it was last saved
(:meth:`Flow.changed_task_keys`, cleared by :meth:`Flow.mark_saved`), so that
a store writes only those. A task counts as changed when the state machine
moved it (or :meth:`Flow.add_task` added it, or it or :meth:`Flow.add_edge`
gave it a new precursor), and when a tick found it RUNNING since the last
save: handlers change their own task's dict (``task['data']``) in place,
and so do the engine's own hooks (provenance, cache keys and cache hits,
proxied tasks, job handles), and only RUNNING tasks are ticked
(:meth:`Flow.start_ready` marks them, at the start of each tick).
Code that changes another task's dict by hand (as the ``wire`` task type
does) says so with :meth:`Flow.mark_changed`. This costs a set insert per
change, nothing per task of the flow.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mc.errors import FlowError, FlowLoadError, FlowSpecError
from mc.flows import spec as flow_spec
from mc.flows.spec import DEFAULT_TRIGGER_RULE, FORMAT_VERSION, ROOT_TASK_KEY, TASK_SPEC_FIELDS
from mc.flows.spec import fast_flow_dict as _fast_flow_dict
from mc.flows.spec import normalize_flow_spec as _normalize_flow_spec
from mc.flows.statuses import (
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    SKIPPED,
    FlowStatus,
    TaskStatus,
)

__all__ = ["CLEANUP_TRIGGER_RULES", "trigger_verdict", "Flow"]

# Rules that run after failures: cleanup tasks. fail_fast does not skip them.
CLEANUP_TRIGGER_RULES = frozenset({"all_done", "one_failed"})


def trigger_verdict(
    rule: str, total: int, unfinished: int, failed: int, skipped: int
) -> bool | None:
    """Decide whether a PENDING task may start, from how its precursors finished.

    ``total`` precursors, of which ``unfinished`` have not finished yet, and
    ``failed`` FAILED and ``skipped`` were SKIPPED (the rest COMPLETED).
    Returns True (it may start), False (it never can: it becomes SKIPPED) or
    None (wait). A task without precursors may always start.
    """
    if total == 0:
        return True
    completed = total - unfinished - failed - skipped
    if rule == "all_success":
        if failed or skipped:
            return False
        return True if not unfinished else None
    if rule == "all_done":
        return True if not unfinished else None
    if rule == "one_success":
        if completed:
            return True
        return False if not unfinished else None
    if rule == "one_failed":
        if failed:
            return True
        return False if not unfinished else None
    if rule == "none_failed":
        if failed:
            return False
        return True if not unfinished else None
    raise ValueError(f"unknown trigger rule {rule!r}")


# Marks an argument left out, where None is a (bad) spec to refuse.
_NO_SPEC: Any = object()

_FLOW_FIELDS = ("key", "label", "cfg", "data", "status", "depth", "parent_key", "num_ticks")


class Flow:
    """A directed acyclic graph of tasks, with its status and data.

    Build one from a flow spec with :meth:`from_flow_spec` (or
    :meth:`mc.flows.flow_engine.FlowEngine.flow_spec_to_flow`), or from a
    stored flow dict with :meth:`from_flow_dict`. Attributes:

    ``key``, ``label``
        identity of the flow;
    ``cfg``
        how the flow runs (``fail_fast``);
    ``data``
        the flow's data; errors of failed tasks are listed in
        ``data['errors']``;
    ``status``
        'PENDING', 'RUNNING', 'COMPLETED' or 'FAILED';
    ``depth``, ``parent_key``
        where the flow sits when it runs as a subflow (0 and None otherwise);
    ``num_ticks``
        how many ticks the flow has had;
    ``tasks``
        a dict from task key to task dict, in the order tasks were added.
    """

    ROOT_TASK_KEY = ROOT_TASK_KEY
    # What a dot path (``ctx.flow.data.x``, see mc.flows.dotpath) may reach.
    DOTPATH_FIELDS = (*_FLOW_FIELDS, "tasks")

    # The derived indexes (see the module docstring), built by _load.
    _position: dict[str, int]
    _task_list: list[dict[str, Any]]
    _successors: list[tuple[int, ...] | list[int]]
    _waiting: list[int]
    _rules: dict[int, str]
    _bad_counts: dict[int, list[int]]
    _ready: set[int]
    _retrying: dict[int, float]
    _running: set[int]
    _status_counts: Counter[str]

    def __init__(
        self,
        key: str | None = None,
        label: str | None = None,
        cfg: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        status: str = PENDING,
        depth: int = 0,
        parent_key: str | None = None,
        num_ticks: int = 0,
    ) -> None:
        flow_dict = flow_spec.normalize_flow_spec(
            {"key": key, "label": label, "cfg": cfg, "data": data}
        )
        flow_dict.update(status=status, depth=depth, parent_key=parent_key, num_ticks=num_ticks)
        _check_flow_dict(flow_dict)
        self._load(flow_dict)

    # -- building -----------------------------------------------------------

    @classmethod
    def from_flow_spec(
        cls,
        spec: Any = _NO_SPEC,
        *,
        flow_spec: Any = _NO_SPEC,
    ) -> Flow:
        """Validate a flow spec and build a PENDING flow from it.

        The spec is the first argument, or the keyword ``flow_spec`` (as
        MissionControl 0.x wrote it). Raises
        :class:`~mc.errors.FlowSpecError` on a bad spec; nothing is built
        then.
        """
        if (spec is _NO_SPEC) == (flow_spec is _NO_SPEC):
            raise TypeError("Flow.from_flow_spec() takes one spec: spec or flow_spec=")
        chosen = spec if flow_spec is _NO_SPEC else flow_spec
        # The fast path (see mc.flows.spec.fast_flow_dict): its edges are
        # checked while the indexes are built, which a new flow needs anyway.
        flow_dict = _fast_flow_dict(chosen)
        if flow_dict is not None:
            flow = cls.__new__(cls)
            if cls._load(flow, flow_dict, new=True):
                return flow
        # Anything else, or a problem: the full checker, which names it.
        return cls._from_trusted_dict(_normalize_flow_spec(chosen))

    @classmethod
    def from_flow_dict(
        cls, flow_dict: Mapping[str, Any], copy: bool = True, *, validate: bool = True
    ) -> Flow:
        """Load a flow from the dict that :meth:`to_flow_dict` returned.

        The flow resumes exactly where it stopped. A malformed dict raises
        :class:`~mc.errors.FlowLoadError` naming the problem.

        The dict is copied, so later changes to it do not reach the flow.
        With ``copy=False`` the flow takes the dict over instead, which
        saves a copy when the dict is fresh from :func:`json.loads`; the
        caller must not use the dict afterwards.

        ``validate=False`` skips the checks, for a dict that this program
        wrote itself and can prove unchanged (a store that verified its
        checksum, see :doc:`/storing`); anything from outside must be
        validated. The flow counts all its tasks as changed (see
        :meth:`changed_task_keys`) until :meth:`mark_saved` is called.
        """
        if not validate:
            if isinstance(flow_dict, dict) and not copy:
                return cls._from_trusted_dict(flow_dict)
            return cls._from_trusted_dict(json.loads(json.dumps(flow_dict)))
        _check_flow_dict(flow_dict)
        if not copy and isinstance(flow_dict, dict):
            return cls._from_trusted_dict(flow_dict)
        try:
            # A JSON round trip copies plain data faster than copy.deepcopy.
            owned = json.loads(json.dumps(flow_dict, allow_nan=False))
        except (TypeError, ValueError, RecursionError) as error:
            raise FlowLoadError(f"flow dict: not plain JSON data: {error}") from error
        return cls._from_trusted_dict(owned)

    @classmethod
    def _from_trusted_dict(cls, flow_dict: dict[str, Any]) -> Flow:
        flow = cls.__new__(cls)
        # Through the class: __init__ would normalize the dict again.
        cls._load(flow, flow_dict)
        return flow

    def _load(self, flow_dict: dict[str, Any], new: bool = False) -> bool:
        """Take over a checked flow dict and build the indexes from it.

        With ``new``, the dict is a new flow from :func:`~mc.flows.spec.fast_flow_dict`
        (every task PENDING) whose edges are not yet checked: returns False,
        with the flow half built, if a precursor is not a task of the flow
        or the tasks make a cycle. Otherwise returns True.
        """
        self.key: str = flow_dict["key"]
        self.label: str | None = flow_dict["label"]
        self.cfg: dict[str, Any] = flow_dict["cfg"]
        self.data: dict[str, Any] = flow_dict["data"]
        self.status: str = flow_dict["status"]
        self.depth: int = flow_dict["depth"]
        self.parent_key: str | None = flow_dict["parent_key"]
        self.num_ticks: int = flow_dict["num_ticks"]
        self.tasks: dict[str, dict[str, Any]] = flow_dict["tasks"]
        # The flow's JSON size as last measured, plus what tasks wrote since
        # (see mc.flows.size_budget); derived, never stored.
        self.json_size_estimate = 0
        if new:
            if not self._index_new_flow():
                return False
        else:
            self._rebuild_indexes()
        # Dirty tracking (see the module docstring): places of tasks changed
        # since the last save. A flow nobody saved yet has only new tasks.
        self._changed: set[int] = set(range(len(self._task_list)))
        # Callbacks that bring task dicts up to date before serialization
        # (see defer_serialization), by task key.
        self._deferred: dict[str, Callable[[], object]] = {}
        return True

    def _index_new_flow(self) -> bool:
        """Build the indexes of a new flow, checking its edges; False if they are unsound.

        The same indexes as :meth:`_rebuild_indexes` makes for a flow whose
        tasks are all PENDING, in one pass over the edges, with no status
        read: a task without precursors is ready, any other waits for all
        of them. When every task is listed after its precursors (as most
        specs list them), that order proves that there is no cycle;
        otherwise dependency counters (Kahn's algorithm, as
        :func:`~mc.flows.spec.check_acyclic`) prove it. Returns False if a
        precursor is unknown or the tasks make a cycle.
        """
        tasks = self.tasks
        task_list = self._task_list = list(tasks.values())
        num_tasks = len(task_list)
        # First the places of the tasks seen so far: a precursor not among
        # them is listed after its task (or nowhere).
        position: dict[str, int] = {}
        edges = _new_flow_edges(tasks, position)
        in_order = edges is not None
        if edges is None:
            position = {key: i for i, key in enumerate(tasks)}
            edges = _new_flow_edges(tasks, position)
            if edges is None:
                return False  # a precursor that is no task of the flow
        waiting, ready, others, edge_from, edge_to = edges
        successors = _successor_tuples(num_tasks, edge_from, edge_to)
        if not in_order:
            left = waiting.copy()
            stack = ready.copy()
            done = 0
            while stack:
                done += 1
                for succ in successors[stack.pop()]:
                    count = left[succ] - 1
                    left[succ] = count
                    if not count:
                        stack.append(succ)
            if done != num_tasks:
                return False
        self._position = position
        self._successors = successors
        self._waiting = waiting
        self._rules = {}
        self._bad_counts = {}
        self._ready = set(ready)
        self._retrying = {}
        self._running = set()
        self._status_counts = Counter({PENDING: num_tasks}) if num_tasks else Counter()
        for place in others:
            if task_list[place]["trigger_rule"] != DEFAULT_TRIGGER_RULE:
                self._judge_pending(place)
        return True

    def _rebuild_indexes(self) -> None:
        tasks = self.tasks
        position = self._position = {key: i for i, key in enumerate(tasks)}
        self._task_list = list(tasks.values())
        self._waiting = [0] * len(tasks)
        self._rules = {}
        self._bad_counts = {}
        self._ready = set()
        self._retrying = {}
        self._running = set()
        self._status_counts = Counter()
        edge_from: list[int] = []
        edge_to: list[int] = []
        for place, task in enumerate(self._task_list):
            self._status_counts[task["status"]] += 1
            for pre in task["precursors"]:
                if pre != ROOT_TASK_KEY:
                    edge_from.append(position[pre])
                    edge_to.append(place)
        self._successors = _successor_tuples(len(tasks), edge_from, edge_to)
        for place, task in enumerate(self._task_list):
            status = task["status"]
            if status == RUNNING:
                self._running.add(place)
            elif status == PENDING:
                if "retry_at" in task:
                    self._retrying[place] = task["retry_at"]
                elif self._judge_pending(place) is True:
                    self._ready.add(place)

    def _add_successor(self, place: int, succ: int) -> None:
        """Record that the task at ``succ`` now waits for the one at ``place`` too."""
        successors = self._successors[place]
        if isinstance(successors, tuple):
            successors = self._successors[place] = list(successors)
        successors.append(succ)

    def _judge_pending(self, place: int) -> bool | None:
        """Count a PENDING task's precursors afresh and return its verdict.

        Sets its ``_waiting`` count (and its rule's counts); does not move it.
        """
        task = self._task_list[place]
        tasks = self.tasks
        rule = task.get("trigger_rule") or DEFAULT_TRIGGER_RULE
        total = unfinished = failed = skipped = 0
        for pre in task["precursors"]:
            if pre == ROOT_TASK_KEY:
                continue
            total += 1
            status = tasks[pre]["status"]
            if status == FAILED:
                failed += 1
            elif status == SKIPPED:
                skipped += 1
            elif status != COMPLETED:
                unfinished += 1
        if rule == DEFAULT_TRIGGER_RULE:
            self._rules.pop(place, None)
            self._bad_counts.pop(place, None)
            # Any failure above dooms the task, so count what did not complete.
            self._waiting[place] = unfinished + failed + skipped
        else:
            self._rules[place] = rule
            self._bad_counts[place] = [failed, skipped, total]
            self._waiting[place] = unfinished
        verdict = trigger_verdict(rule, total, unfinished, failed, skipped)
        if verdict is not None:
            # Decided: later precursors must not count it down again.
            self._waiting[place] = 0
        return verdict

    def add_task(self, task: Mapping[str, Any]) -> dict[str, Any]:
        """Add a task to the flow and return the stored task dict.

        ``task`` is a task spec, as in a flow spec. It may name
        ``precursors`` (existing tasks, or ``'ROOT'``) and ``successors``
        (existing tasks that have not started yet). Without either it starts
        at once (its precursor is ``ROOT``). A handler may call this during a
        tick to grow its own flow; the new task is scheduled like the rest.
        Raises :class:`~mc.errors.FlowSpecError` on a bad task spec, and
        :class:`~mc.errors.FlowError` if the flow has ended; the flow is
        unchanged then.
        """
        if self.finished:
            raise FlowError(
                f"flow {self.key!r} is {self.status}: tasks can be added only to a "
                "PENDING or RUNNING flow",
                flow=self,
            )
        new = flow_spec.normalize_task_spec(task, "task")
        key = new["key"]
        if key is None:
            key = flow_spec.generate_task_key(self.tasks, len(self.tasks) + 1)
        elif key in self.tasks:
            raise FlowSpecError("task.key", f"duplicate task key {key!r}: the flow already has it")
        precursors = self._existing_keys(new["precursors"] or [], "task.precursors")
        successors = self._existing_keys(new["successors"] or [], "task.successors")
        self._check_no_path(successors, precursors, key)
        stored = flow_spec.new_task_dict(key, new, precursors or [ROOT_TASK_KEY])
        place = len(self._task_list)
        self.tasks[key] = stored
        self._position[key] = place
        self._task_list.append(stored)
        self._changed.add(place)
        self._successors.append(())
        self._waiting.append(0)
        self._status_counts[PENDING] += 1
        for pre in precursors:
            self._add_successor(self._position[pre], place)
        for succ in successors:
            succ_task = self.tasks[succ]
            self._changed.add(self._position[succ])
            succ_task["precursors"] = [p for p in succ_task["precursors"] if p != ROOT_TASK_KEY] + [
                key
            ]
            self._add_successor(place, self._position[succ])
        verdict = self._judge_pending(place)
        if verdict is False:
            self._skip(place)
        elif verdict:
            self._ready.add(place)
        for succ in successors:
            # A new, unfinished precursor: the successor waits again.
            succ_place = self._position[succ]
            self._ready.discard(succ_place)
            if succ_place not in self._retrying and self._judge_pending(succ_place):
                self._ready.add(succ_place)
        return stored

    def _existing_keys(self, keys: list[str], path: str) -> list[str]:
        found = []
        for i, key in enumerate(keys):
            if key == ROOT_TASK_KEY:
                if path.endswith("successors"):
                    raise FlowSpecError(f"{path}[{i}]", "'ROOT' cannot be a successor")
                continue
            if key not in self.tasks:
                raise FlowSpecError(
                    f"{path}[{i}]",
                    f"unknown task key {key!r} (known: {flow_spec.list_keys(self.tasks)})"
                    f"{flow_spec.suggest(key, self.tasks)}",
                )
            if path.endswith("successors") and self.tasks[key]["status"] != PENDING:
                raise FlowSpecError(
                    f"{path}[{i}]",
                    f"task {key!r} is {self.tasks[key]['status']}: "
                    "only PENDING tasks can get a new precursor",
                )
            if key not in found:
                found.append(key)
        return found

    def _check_no_path(self, sources: list[str], targets: list[str], new_key: str) -> None:
        """Refuse a new task whose successors already lead to its precursors."""
        if not sources or not targets:
            return
        wanted = set(targets)
        came_from: dict[str, str | None] = {key: None for key in sources}
        stack = list(sources)
        while stack:
            key = stack.pop()
            if key in wanted:
                path = [key]
                while came_from[path[-1]] is not None:
                    path.append(came_from[path[-1]])  # type: ignore[arg-type]
                cycle = [new_key, *reversed(path), new_key]
                raise FlowSpecError(
                    "task",
                    f"adding {new_key!r} would make a dependency cycle: " + " -> ".join(cycle),
                )
            for succ in self.get_successors(key):
                if succ not in came_from:
                    came_from[succ] = key
                    stack.append(succ)

    # -- queries ------------------------------------------------------------

    def get_precursors(self, key_or_task: str | Mapping[str, Any]) -> list[str]:
        """Return the keys of the tasks that a task waits for (never 'ROOT')."""
        task = self.tasks[self._task_key(key_or_task)]
        return [pre for pre in task["precursors"] if pre != ROOT_TASK_KEY]

    def get_successors(self, key_or_task: str | Mapping[str, Any]) -> list[str]:
        """Return the keys of the tasks that wait for a task."""
        task_list = self._task_list
        places = self._successors[self._position[self._task_key(key_or_task)]]
        return [task_list[place]["key"] for place in places]

    def _task_key(self, key_or_task: str | Mapping[str, Any]) -> str:
        key = key_or_task["key"] if isinstance(key_or_task, Mapping) else key_or_task
        if key not in self.tasks:
            raise KeyError(f"flow {self.key!r} has no task {key!r}")
        return key

    def count_tasks(self, status: str) -> int:
        """Return how many tasks have ``status``."""
        return self._status_counts[status]

    def get_tasks_by_status(self, status: str) -> list[dict[str, Any]]:
        """Return the dicts of the tasks with ``status``, in flow order."""
        if status == RUNNING:
            return self.running_tasks()
        if not self._status_counts[status]:
            return []
        return [task for task in self._task_list if task["status"] == status]

    def get_running_tasks(self) -> list[dict[str, Any]]:
        """Return the dicts of the RUNNING tasks, in flow order (as :meth:`running_tasks`)."""
        return self.running_tasks()

    def has_incomplete_tasks(self) -> bool:
        """Return True while some task has not finished (is PENDING or RUNNING)."""
        return bool(self._status_counts[PENDING] or self._status_counts[RUNNING])

    def get_tail_tasks(self) -> list[dict[str, Any]]:
        """Return the dicts of the tasks no other task waits for, in flow order.

        A flow without tasks has none (the root task ``ROOT`` is implicit,
        and never a tail).
        """
        successors = self._successors
        return [task for place, task in enumerate(self._task_list) if not successors[place]]

    def filter_tasks(
        self, filters: Iterable[Callable[[dict[str, Any]], Any]] = ()
    ) -> list[dict[str, Any]]:
        """Return the dicts of the tasks for which every function in ``filters`` is true.

        In flow order; with no filters, every task.
        """
        checks = list(filters)
        return [task for task in self._task_list if all(check(task) for check in checks)]

    def has_edge(self, src_key: str, dest_key: str) -> bool:
        """Return True if task ``dest_key`` waits for task ``src_key``.

        ``src_key`` may be ``'ROOT'``: every task waits for it, and those
        that wait for nothing else list it as their precursor, so this is
        True for them only. An unknown ``dest_key`` gives False.
        """
        task = self.tasks.get(dest_key)
        return task is not None and src_key in task["precursors"]

    def add_edge(
        self,
        edge: Mapping[str, str] | None = None,
        *,
        src_key: str | None = None,
        dest_key: str | None = None,
    ) -> None:
        """Make task ``dest_key`` wait for task ``src_key`` too.

        Give the keys, or MissionControl 0.x's ``edge={'src_key': ...,
        'dest_key': ...}``. Only a PENDING task that is not waiting to retry
        gets a new precursor: one that has started has already stopped
        waiting. The edge must keep the flow a DAG. An edge that is there
        already, or from ``'ROOT'`` (which every task descends from),
        changes nothing. If ``src_key`` has already finished, ``dest_key``
        applies its trigger rule at once (after a FAILED precursor, by
        default, it is SKIPPED). Raises :class:`~mc.errors.FlowError`,
        changing nothing, for an unknown key, a task in the wrong status,
        or a cycle.
        """
        if edge is not None:
            if src_key is not None or dest_key is not None:
                raise TypeError("add_edge() takes edge= or src_key= and dest_key=, not both")
            if not isinstance(edge, Mapping):
                raise FlowError(f"flow {self.key!r}: edge must be a dict with src_key and dest_key")
            src_key, dest_key = edge.get("src_key"), edge.get("dest_key")
        if not isinstance(src_key, str) or not isinstance(dest_key, str):
            raise FlowError(
                f"flow {self.key!r}: an edge needs src_key and dest_key, task keys (strings)",
                flow=self,
            )
        dest_place = self._place(dest_key)
        if src_key == ROOT_TASK_KEY or self.has_edge(src_key, dest_key):
            return
        src_place = self._place(src_key)
        dest = self._task_list[dest_place]
        if dest["status"] != PENDING or dest_place in self._retrying:
            state = "waiting to retry" if dest["status"] == PENDING else dest["status"]
            raise FlowError(
                f"flow {self.key!r}: cannot add edge {src_key!r} -> {dest_key!r}: task "
                f"{dest_key!r} is {state}; only a PENDING task that has not started can "
                "get a new precursor",
                flow=self,
            )
        if src_key == dest_key:
            raise FlowError(
                f"flow {self.key!r}: a task cannot wait for itself ({src_key!r})", flow=self
            )
        path = self._path_between(dest_key, src_key)
        if path is not None:
            raise FlowError(
                f"flow {self.key!r}: edge {src_key!r} -> {dest_key!r} would make a dependency "
                "cycle: " + " -> ".join([*path, dest_key]),
                flow=self,
            )
        dest["precursors"] = [p for p in dest["precursors"] if p != ROOT_TASK_KEY] + [src_key]
        self._changed.add(dest_place)
        self._add_successor(src_place, dest_place)
        # Judged afresh, with its new precursor counted.
        self._ready.discard(dest_place)
        verdict = self._judge_pending(dest_place)
        if verdict is False:
            self._skip(dest_place)
        elif verdict:
            self._ready.add(dest_place)

    def _path_between(self, start: str, goal: str) -> list[str] | None:
        """Return the keys on a path of successors from ``start`` to ``goal``, or None."""
        came_from: dict[str, str | None] = {start: None}
        stack = [start]
        while stack:
            key = stack.pop()
            if key == goal:
                path = [key]
                while came_from[path[-1]] is not None:
                    path.append(came_from[path[-1]])  # type: ignore[arg-type]
                return list(reversed(path))
            for succ in self.get_successors(key):
                if succ not in came_from:
                    came_from[succ] = key
                    stack.append(succ)
        return None

    def has_ready_tasks(self) -> bool:
        """Return True if some PENDING task can start on the next tick.

        Tasks waiting to retry do not count (see :meth:`next_retry_at`).
        """
        return bool(self._ready)

    def next_retry_at(self) -> float | None:
        """Return the earliest time a task waiting to retry may start, or None."""
        return min(self._retrying.values()) if self._retrying else None

    def task_position(self, key: str) -> int:
        """Return the place of task ``key`` in the flow: 0 for the first task added.

        Places never change: tasks are only ever added, at the end. Raises
        :class:`~mc.errors.FlowError` for an unknown key.
        """
        return self._place(key)

    # -- dirty tracking: what a store must write ----------------------------

    def changed_task_keys(self) -> list[str]:
        """Return the keys of the tasks changed since :meth:`mark_saved`, in flow order.

        That is every task the state machine moved or :meth:`add_task`
        added, every task that was RUNNING when a tick started
        (:meth:`start_ready`: its handler may have changed its dict in
        place), and every task marked with :meth:`mark_changed`. A flow that
        was never saved returns all its tasks. Costs O(changed tasks), never
        O(flow).
        """
        task_list = self._task_list
        return [task_list[place]["key"] for place in sorted(self._changed)]

    def mark_changed(self, key: str) -> None:
        """Record that task ``key``'s dict was changed outside the state machine.

        For code that edits a task that is not RUNNING (its ``task_params``
        or ``data``), so that the next save writes it. Raises
        :class:`~mc.errors.FlowError` for an unknown key.
        """
        self._changed.add(self._place(key))

    def mark_all_changed(self) -> None:
        """Record that every task may have changed: the next save writes them all."""
        self._changed = set(range(len(self._task_list)))

    def mark_saved(self) -> None:
        """Record that the flow as it is now has been saved: nothing has changed since."""
        self._changed = set()

    @property
    def finished(self) -> bool:
        """True once the flow is COMPLETED or FAILED."""
        return self.status in FlowStatus.FINISHED

    # -- serialization ------------------------------------------------------

    def to_flow_dict(self) -> dict[str, Any]:
        """Return the flow as a dict of plain JSON types.

        ``json.dumps`` works on the result, and :meth:`from_flow_dict` loads
        it back to a flow that continues exactly where this one is. The
        result is a deep copy: changing it does not change the flow.
        """
        # A JSON round trip is the fastest deep copy of plain data, and it
        # proves on the spot that handlers left only JSON values behind (with
        # one JSON rule to know: non-string dict keys come back as strings).
        flow_dict: dict[str, Any] = json.loads(self.to_json())
        return flow_dict

    def defer_serialization(self, key: str, write: Callable[[], object]) -> None:
        """Let task ``key`` keep state outside its dict until the flow is serialized.

        ``write()`` must bring the task's dict up to date (a ``flow`` task
        writes its live child flow into ``task['data']['flow']``). It is
        called once, by :meth:`flush`, before the flow is next serialized;
        a task that goes on keeping state outside its dict defers again.
        The task counts as changed. Raises :class:`~mc.errors.FlowError`
        for an unknown key.
        """
        self._changed.add(self._place(key))
        self._deferred[key] = write

    def flush(self) -> None:
        """Run the writes deferred by :meth:`defer_serialization`: task dicts up to date.

        :meth:`to_flow_dict` and :meth:`to_json` call it; a store calls it
        before it serializes the changed tasks.
        """
        while self._deferred:
            _key, write = self._deferred.popitem()
            write()

    def fields_dict(self) -> dict[str, Any]:
        """Return the flow's own fields: :meth:`to_flow_dict` without ``tasks``, not copied.

        With ``format_version``. For a store that keeps the tasks apart
        (see :doc:`/storing`); the values are the flow's own, so serialize
        them at once rather than keep or change them.
        """
        fields: dict[str, Any] = {"format_version": FORMAT_VERSION}
        for name in _FLOW_FIELDS:
            fields[name] = getattr(self, name)
        return fields

    def to_json(self) -> str:
        """Return the flow as JSON text: :meth:`to_flow_dict`, without its copy.

        For storing a flow, this costs about a third less than
        ``json.dumps(flow.to_flow_dict())``. Raises
        :class:`~mc.errors.FlowError` if a handler left data that is not
        JSON (NaN and infinity included).
        """
        self.flush()
        flow_dict: dict[str, Any] = {"format_version": FORMAT_VERSION}
        for name in _FLOW_FIELDS:
            flow_dict[name] = getattr(self, name)
        flow_dict["tasks"] = self.tasks
        try:
            text = json.dumps(flow_dict, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError, RecursionError) as error:
            raise FlowError(
                f"flow {self.key!r} holds data that is not JSON: {error}", flow=self
            ) from error
        self.json_size_estimate = len(text)
        return text

    def __repr__(self) -> str:
        return (
            f"<Flow key={self.key!r} label={self.label!r} status={self.status} "
            f"tasks={len(self.tasks)}>"
        )

    # -- the state machine: what the engine asks and tells -----------------
    #
    # Only these methods (and add_task) change a task's status. Each checks
    # that the task exists and is in the status the change starts from, and
    # then updates the indexes with work proportional to the tasks that
    # change. A handler may have written its own verdict into its task dict
    # (``task['status'] = 'COMPLETED'``); the indexes, not the dict, say
    # what a RUNNING task was, so the check still holds.

    def start_ready(self, now: float) -> list[dict[str, Any]]:
        """Make every ready task, and every retry due by ``now``, RUNNING at ``now``.

        Returns the tasks started, in flow order.
        """
        if self._retrying:
            for place, retry_at in list(self._retrying.items()):
                if retry_at <= now:
                    del self._retrying[place]
                    del self._task_list[place]["retry_at"]
                    self._ready.add(place)
        task_list = self._task_list
        started = self._ready
        started_tasks = [task_list[place] for place in sorted(started)]
        for task in started_tasks:
            task["status"] = RUNNING
            task["started_at"] = now
        self._status_counts[PENDING] -= len(started)
        self._status_counts[RUNNING] += len(started)
        self._running |= started
        self._ready = set()
        # The engine ticks every RUNNING task next, and a handler changes its
        # task's dict in place: count them all as changed.
        self._changed |= self._running
        return started_tasks

    def running_tasks(self) -> list[dict[str, Any]]:
        """Return the dicts of the RUNNING tasks, in flow order."""
        task_list = self._task_list
        return [task_list[place] for place in sorted(self._running)]

    def is_waiting(self) -> bool:
        """Return True while some task is RUNNING, ready, or waiting to retry.

        When it returns False, no task can ever change again by ticking:
        the flow can end.
        """
        return bool(self._running or self._ready or self._retrying)

    def complete(self, key: str, now: float) -> list[dict[str, Any]]:
        """Record that the RUNNING task ``key`` COMPLETED at ``now``; start or skip its successors.

        Returns the tasks that became SKIPPED because of it. Raises
        :class:`~mc.errors.FlowError` if the flow has no such task or it is
        not RUNNING.
        """
        # The engine's hot path: the check of _running_place, inline.
        place = self._position.get(key) if type(key) is str else None
        if place is None or place not in self._running:
            place = self._running_place(key, "complete")  # raises why not
        task = self._task_list[place]
        task["status"] = COMPLETED
        task["finished_at"] = now
        if self._rules:
            return self._finish(place, COMPLETED)
        # _finish and _tell_successors, inline, for a flow whose tasks all
        # have the default trigger rule (which a COMPLETED precursor only
        # counts down: none can be skipped).
        self._changed.add(place)
        self._running.discard(place)
        counts = self._status_counts
        counts[RUNNING] -= 1
        counts[COMPLETED] += 1
        waiting = self._waiting
        for succ in self._successors[place]:
            left = waiting[succ]
            if left:
                waiting[succ] = left - 1
                if left == 1:
                    self._ready.add(succ)
        return []

    def fail(
        self, key: str, error: str, now: float, attempts: list[Any] | None = None
    ) -> list[dict[str, Any]]:
        """Record that the RUNNING task ``key`` FAILED at ``now`` with ``error``.

        ``attempts``, if given, is kept in the task (``attempts``) and a copy
        in its data (``data['attempts']``). Its successors then apply their
        trigger rules; returns the tasks that became SKIPPED. Raises
        :class:`~mc.errors.FlowError` if the flow has no such task or it is
        not RUNNING.
        """
        place = self._running_place(key, "fail")
        task = self._task_list[place]
        task["status"] = FAILED
        task["error"] = error
        task["finished_at"] = now
        if attempts is not None:
            task["attempts"] = attempts
            if isinstance(task.get("data"), dict):
                task["data"]["attempts"] = json.loads(json.dumps(attempts))
        return self._finish(place, FAILED)

    def retry_later(self, key: str, at: float, attempts: list[Any]) -> None:
        """Put the RUNNING task ``key`` back to PENDING, to start afresh at ``at``.

        The task keeps its spec fields; its data becomes its initial data
        plus ``attempts`` (the failed attempts so far); everything else of
        the failed attempt goes. Raises :class:`~mc.errors.FlowError` if the
        flow has no such task or it is not RUNNING.
        """
        place = self._running_place(key, "be retried")
        task = self._task_list[place]
        _reset_task_dict(task)
        task["attempts"] = attempts
        task["data"]["attempts"] = json.loads(json.dumps(attempts))
        task["retry_at"] = at
        self._changed.add(place)
        self._running.discard(place)
        self._status_counts[RUNNING] -= 1
        self._status_counts[PENDING] += 1
        self._retrying[place] = at

    def skip_pending(self, keep_rules: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Skip every PENDING task, except those whose trigger rule is in ``keep_rules``.

        Skipped tasks tell their successors, so a kept task whose rule is now
        met becomes ready. Returns the tasks skipped.
        """
        keep = frozenset(keep_rules)
        skipped: list[dict[str, Any]] = []
        for place, task in enumerate(self._task_list):
            if task["status"] != PENDING:
                continue
            if (task.get("trigger_rule") or DEFAULT_TRIGGER_RULE) in keep:
                continue
            skipped.extend(self._skip(place))
        return skipped

    def skip_stuck(self, reason: str) -> list[str]:
        """Skip the PENDING tasks of a flow that waits on nothing; return their keys.

        Such tasks can never start (only a flow whose statuses were edited by
        hand has them); each gets ``reason`` as its ``error``. Raises
        :class:`~mc.errors.FlowError` while the flow still waits on a task
        (see :meth:`is_waiting`).
        """
        if self.is_waiting():
            raise FlowError(
                f"flow {self.key!r}: tasks are stuck only when none is RUNNING, "
                "ready or waiting to retry",
                flow=self,
            )
        if not self._status_counts[PENDING]:
            return []
        stuck = [place for place, task in enumerate(self._task_list) if task["status"] == PENDING]
        for place in stuck:
            self._task_list[place]["error"] = reason
            self._mark_skipped(place)
        return [self._task_list[place]["key"] for place in stuck]

    def reset(self, keys: Iterable[str]) -> None:
        """Put finished tasks back to PENDING, as their spec built them.

        Each task gets its initial data again, and its retries are counted
        anew. Raises :class:`~mc.errors.FlowError`, changing nothing, if a
        key is not a task of the flow or its task has not finished.
        """
        keys = list(keys)
        for key in keys:
            place = self._place(key)
            status = self._task_list[place]["status"]
            if status not in TaskStatus.FINISHED:
                raise FlowError(
                    f"flow {self.key!r}: task {key!r} is {status}: only a finished "
                    "task can be reset",
                    flow=self,
                )
        for key in keys:
            _reset_task_dict(self.tasks[key])
            self._changed.add(self._position[key])
        self._rebuild_indexes()

    def _place(self, key: str) -> int:
        place = self._position.get(key) if isinstance(key, str) else None
        if place is None:
            raise FlowError(
                f"flow {self.key!r} has no task {key!r}{flow_spec.suggest(str(key), self.tasks)}",
                flow=self,
            )
        return place

    def _running_place(self, key: str, action: str) -> int:
        """Return the place of the RUNNING task ``key``, or raise FlowError."""
        place = self._place(key)
        if place not in self._running:
            status = self._task_list[place]["status"]
            raise FlowError(
                f"flow {self.key!r}: task {key!r} is {status}, not RUNNING: "
                f"only a RUNNING task can {action}",
                flow=self,
            )
        return place

    def _finish(self, place: int, outcome: str) -> list[dict[str, Any]]:
        """Move a RUNNING task's counts to ``outcome``, tell its successors; return the skipped."""
        self._changed.add(place)
        self._running.discard(place)
        self._status_counts[RUNNING] -= 1
        self._status_counts[outcome] += 1
        return self._tell_successors(place, outcome) or []

    def _tell_successors(self, place: int, outcome: str) -> list[dict[str, Any]] | None:
        """Count a finished task down in its successors; start or skip them.

        A skipped successor tells its own successors in turn, so this walks
        exactly the tasks whose verdict changes. Returns the tasks skipped,
        or None if none were.
        """
        waiting = self._waiting
        rules = self._rules
        if outcome == COMPLETED and not rules:
            # The common case: every successor has the default rule, which
            # a COMPLETED precursor only counts down; none can be skipped.
            ready = self._ready
            for succ in self._successors[place]:
                left = waiting[succ]
                if left:
                    waiting[succ] = left - 1
                    if left == 1:
                        ready.add(succ)
            return None
        skipped: list[dict[str, Any]] | None = None
        stack = [(place, outcome)]
        while stack:
            place, outcome = stack.pop()
            for succ in self._successors[place]:
                left = waiting[succ]
                # 0 means ready, started, finished or retrying: nothing to count.
                if not left:
                    continue
                left -= 1
                waiting[succ] = left
                rule = rules.get(succ)
                if rule is None:
                    if outcome == COMPLETED:
                        if not left:
                            self._ready.add(succ)
                        continue
                    verdict: bool | None = False
                else:
                    bad = self._bad_counts[succ]
                    if outcome == FAILED:
                        bad[0] += 1
                    elif outcome == SKIPPED:
                        bad[1] += 1
                    verdict = trigger_verdict(rule, bad[2], left, bad[0], bad[1])
                if verdict:
                    waiting[succ] = 0
                    self._ready.add(succ)
                elif verdict is False:
                    self._mark_skipped(succ)
                    stack.append((succ, SKIPPED))
                    if skipped is None:
                        skipped = []
                    skipped.append(self._task_list[succ])
        return skipped

    def _mark_skipped(self, place: int) -> None:
        task = self._task_list[place]
        self._changed.add(place)
        self._status_counts[task["status"]] -= 1
        self._status_counts[SKIPPED] += 1
        task["status"] = SKIPPED
        self._waiting[place] = 0
        self._ready.discard(place)
        self._rules.pop(place, None)
        self._bad_counts.pop(place, None)
        if self._retrying.pop(place, None) is not None:
            del task["retry_at"]

    def _skip(self, place: int) -> list[dict[str, Any]]:
        """Mark a PENDING task SKIPPED and tell its successors; return the tasks skipped."""
        self._mark_skipped(place)
        return [self._task_list[place], *(self._tell_successors(place, SKIPPED) or ())]


def _new_flow_edges(
    tasks: dict[str, dict[str, Any]], position: dict[str, int]
) -> tuple[list[int], list[int], list[int], list[int], list[int]] | None:
    """The edges of a new flow's tasks, by place; None if a precursor has no place.

    Returns how many precursors each task waits for, the places of the
    tasks ready at once and of those with a trigger rule, and the edges as
    two aligned lists of places (see :func:`_successor_tuples`). With an
    empty ``position``, each task gets its place after its precursors are
    looked up, so that a precursor listed after its task gives None too.
    """
    fill = not position
    waiting = [0] * len(tasks)
    ready: list[int] = []
    others: list[int] = []
    edge_from: list[int] = []
    edge_to: list[int] = []
    add_from, add_to = edge_from.append, edge_to.append
    for place, (key, task) in enumerate(tasks.items()):
        precursors = task["precursors"]
        if precursors[0] == ROOT_TASK_KEY:
            # Precursors are normalized: ROOT only ever stands alone.
            ready.append(place)
        else:
            try:
                for pre in precursors:
                    add_from(position[pre])
                    add_to(place)
            except KeyError:
                return None
            waiting[place] = len(precursors)
        if "trigger_rule" in task:
            others.append(place)
        if fill:
            position[key] = place
    return waiting, ready, others, edge_from, edge_to


def _successor_tuples(
    num_tasks: int, edge_from: list[int], edge_to: list[int]
) -> list[tuple[int, ...] | list[int]]:
    """Each task's successors, by place: a tuple of places, in flow order.

    The edges are given as ``edge_from[i] -> edge_to[i]``, listed in the
    order of their ``edge_to``. A stable sort by ``edge_from`` groups them
    by task and keeps each group in flow order; then one slice per task
    with successors. No list is made per task (see the module docstring).
    """
    successors: list[tuple[int, ...] | list[int]] = [()] * num_tasks
    order = sorted(range(len(edge_from)), key=edge_from.__getitem__)
    grouped = [edge_to[i] for i in order]
    counts = Counter(edge_from)
    # Tasks side by side with the same lone successor (a fan-out's, a
    # spread's) share its tuple: tuples are immutable.
    lone: tuple[int, ...] = (-1,)
    start = 0
    for place in sorted(counts):
        count = counts[place]
        if count == 1:
            if grouped[start] != lone[0]:
                lone = (grouped[start],)
            successors[place] = lone
        else:
            successors[place] = tuple(grouped[start : start + count])
        start += count
    return successors


def _reset_task_dict(task: dict[str, Any]) -> None:
    """Turn a task dict, in place, back into the PENDING task its spec made."""
    kept = {name: task[name] for name in TASK_SPEC_FIELDS if name in task}
    task.clear()
    task.update(kept)
    task["status"] = PENDING
    task["data"] = json.loads(json.dumps(kept.get("initial_data", {})))


def _check_flow_dict(flow_dict: Any) -> None:
    """Raise FlowLoadError unless ``flow_dict`` has the shape of a flow dict."""
    if not isinstance(flow_dict, Mapping):
        raise FlowLoadError(f"flow dict: expected a dict, got {type(flow_dict).__name__}")
    version = flow_dict.get("format_version")
    if version is None and "graph" in flow_dict:
        raise FlowLoadError(
            "flow dict: this is a MissionControl 0.x flow dict (tasks and edges under "
            "'graph'), which cannot be loaded: build the flow again from its spec "
            "(see the docs' 'Coming from MissionControl 0.x')"
        )
    if version != FORMAT_VERSION:
        raise FlowLoadError(
            f"flow dict: format_version {version!r} is not supported (expected {FORMAT_VERSION})"
        )
    missing = [name for name in (*_FLOW_FIELDS, "tasks") if name not in flow_dict]
    if missing:
        raise FlowLoadError(f"flow dict: missing {', '.join(missing)}")
    _check_flow_fields(flow_dict)
    tasks = flow_dict["tasks"]
    if not isinstance(tasks, Mapping):
        raise FlowLoadError("flow dict: tasks: expected a dict from task key to task dict")
    for key, task in tasks.items():
        _check_task_dict(key, task, tasks)
    try:
        flow_spec.check_acyclic(list(tasks.values()))
    except FlowSpecError as error:
        raise FlowLoadError(f"flow dict: {error}") from None


def _check_flow_fields(flow_dict: Mapping[str, Any]) -> None:
    status = flow_dict["status"]
    if not isinstance(status, str) or status not in FlowStatus.ALL:
        raise FlowLoadError(f"flow dict: status {status!r} is not a flow status")
    expected_types = {
        "key": (str,),
        "label": (str, type(None)),
        "data": (dict,),
        "depth": (int,),
        "parent_key": (str, type(None)),
        "num_ticks": (int,),
    }
    for name, types_ in expected_types.items():
        value = flow_dict[name]
        if not isinstance(value, types_) or isinstance(value, bool):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in types_)
            raise FlowLoadError(f"flow dict: {name} must be {names}, got {value!r:.40}")
        # These reach database columns and terminals as they are.
        problem = flow_spec.text_problem(value) if isinstance(value, str) else None
        if problem is not None:
            raise FlowLoadError(f"flow dict: {name} {problem}")
    try:
        cfg = flow_spec.normalize_cfg(flow_dict["cfg"])
    except FlowSpecError as error:
        raise FlowLoadError(f"flow dict: {error}") from None
    if cfg != flow_dict["cfg"]:
        raise FlowLoadError(f"flow dict: cfg must be complete, as in {cfg!r}")


def _check_task_dict(key: Any, task: Any, tasks: Mapping[str, Any]) -> None:
    where = f"flow dict: tasks.{key}"
    try:
        flow_spec.check_task_key(key, where)
    except FlowSpecError as error:
        raise FlowLoadError(str(error)) from None
    if not isinstance(task, Mapping):
        raise FlowLoadError(f"{where}: expected a task dict")
    if task.get("key") != key:
        raise FlowLoadError(f"{where}: its 'key' is {task.get('key')!r}")
    status = task.get("status")
    if not isinstance(status, str) or status not in TaskStatus.ALL:
        raise FlowLoadError(f"{where}: status {status!r} is not a task status")
    if not isinstance(task.get("task_type"), str):
        raise FlowLoadError(f"{where}: task_type must be a string")
    precursors = task.get("precursors")
    if not isinstance(precursors, list) or not precursors:
        raise FlowLoadError(f"{where}: precursors must be a non-empty list")
    for pre in precursors:
        if not isinstance(pre, str) or (pre != ROOT_TASK_KEY and pre not in tasks):
            raise FlowLoadError(f"{where}: precursor {pre!r} is not a task of the flow")
    for name in ("task_params", "data"):
        if not isinstance(task.get(name), Mapping):
            raise FlowLoadError(f"{where}: {name} must be a dict")
    try:
        flow_spec.normalize_task_policies(task, where)
    except FlowSpecError as error:
        raise FlowLoadError(str(error)) from None
    if "retry_at" in task and (status != PENDING or type(task["retry_at"]) not in (int, float)):
        raise FlowLoadError(f"{where}: retry_at must be a time, on a PENDING task")
