"""Benchmark of the flow engine against :class:`graphlib.TopologicalSorter`.

What is measured
----------------
Three shapes of flows of ``noop`` tasks, at each requested size:

``chain``
    task ``i`` waits for task ``i - 1``: N tasks take N ticks, one task
    changing per tick. A tick that cost O(tasks in the flow) instead of
    O(tasks that change) would make this shape grow quadratically.
``fanout``
    one root task, N - 2 middle tasks that each wait for the root, and one
    join task that waits for all the middle ones: three ticks, the second of
    which starts and finishes N - 2 tasks.
``layered``
    layers of 100 tasks; task ``p`` of layer ``k > 0`` waits for tasks ``p``
    and ``(p + 1) % 100`` of layer ``k - 1``: N / 100 ticks of 100 tasks.

For every shape and size, a *run* does, in this order:

``build``
    :meth:`mc.flows.FlowEngine.flow_spec_to_flow` on a ready-made spec
    (validation, copying and the flow's indexes). Making the spec is not
    timed.
``engine``
    :meth:`mc.flows.FlowEngine.run_flow` from PENDING to COMPLETED.
``graphlib``
    the same dependency bookkeeping with the standard library:
    ``TopologicalSorter(graph)``, ``prepare()``, then ``get_ready()`` and
    ``done()`` until ``is_active()`` is false. ``graph`` maps each task key
    to its precursors, made before the clock starts. ``graphlib loop`` is
    the same without ``TopologicalSorter(graph)``, the stricter reference,
    since the engine's own indexes are built in ``build``.

After its runs, each shape and size times the round trip of its finished
flow through storage: :meth:`~mc.flows.Flow.to_flow_dict`,
:func:`json.dumps`, :func:`json.loads` and
:meth:`~mc.flows.Flow.from_flow_dict` (with ``copy=False``, as storage
loads a dict fresh from JSON), each step on its own.

``--repeat`` times, every shape and size gets one run and one round trip,
so that the repeats are interleaved and a burst of load on the machine falls
on all of them alike. Every size gets the same number of runs, because the
best of many runs is lower than the best of few, which would bias the growth
factor. Each number is the best over all runs, timed with
:func:`time.perf_counter`. Garbage collection is run before, and disabled
during, every timed step, as :mod:`timeit` does, so that a collection
triggered by earlier allocations does not land on one step at random; pass
``--gc`` to keep the collector on.

End to end
----------
``--end-to-end`` measures what a user pays instead: for every shape and
size, :meth:`~mc.flows.FlowEngine.flow_spec_to_flow` and
:meth:`~mc.flows.FlowEngine.run_flow` timed together as one step, with the
garbage collector **on**, against graphlib doing the same bookkeeping
(``TopologicalSorter(graph)``, ``prepare()``, the ``get_ready()``/``done()``
loop), also with the collector on, in the same process. ``graph`` is made
from the spec's edges before the clock starts, as above (making it would
only add to graphlib's time). Each sample makes its shape's spec and graph
afresh and frees them afterwards, so that the collector, which walks every
live container on a full collection, sees one spec and one graph at a time,
for the engine and for graphlib alike. ``gc.collect()`` runs before each
timed step (not during it). The build and the run are also reported apart,
timed in the same sample with the clock read between them.

The targets
-----------
* ``engine`` costs at most 5 times ``graphlib``, per shape and size;
* growth is linear: between two sizes, the ``engine`` time grows at most
  1.2 times the size ratio (100k tasks cost at most 12 times 10k).

With ``--end-to-end`` the one target is:

* ``flow_spec_to_flow`` + ``run_flow`` cost at most 2 times ``graphlib``,
  per shape and size, garbage collector on.

The growth table also shows how graphlib's time grows, and how much faster
the engine's grows than graphlib's (``engine/graphlib``, the change of the
ratio between the sizes). Touching more memory costs more per task in any
Python code once the data outgrow the CPU caches; graphlib shows what this
machine charges for that, and ``engine/graphlib`` near 1 says that the
engine adds no growth of its own.

Usage::

    python benchmarks/bench_engine.py [--sizes 10000 100000] [--repeat 3]
        [--shapes chain fanout layered] [--json] [--gc] [--check]
    python benchmarks/bench_engine.py --end-to-end [--sizes 100000] [--repeat 5]
        [--shapes chain fanout layered] [--json] [--check]

It prints a table (or, with ``--json``, a JSON document) and whether each
target is met. The exit status is 0; 1 if ``--check`` is given and a target
is not met; 2 for bad arguments, or if a flow does not end COMPLETED after
the ticks its shape needs.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import graphlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import mc
from mc.flows import COMPLETED, Flow, FlowEngine

SHAPES = ("chain", "fanout", "layered")
LAYER_WIDTH = 100
DEFAULT_SIZES = (10_000, 100_000)
DEFAULT_REPEAT = 3
MAX_RATIO_TO_GRAPHLIB = 5.0
# flow_spec_to_flow + run_flow, garbage collector on (--end-to-end).
MAX_END_TO_END_RATIO = 2.0
DEFAULT_END_TO_END_SIZES = (100_000,)
# Smaller sizes run more often per repeat, up to this many times.
ROUND_TRIP_STEPS = ("to_flow_dict", "json.dumps", "json.loads", "from_flow_dict")
# Linear growth with 20% slack: 10 times the tasks may cost 12 times the time.
GROWTH_SLACK = 1.2

Edges = list[tuple[str, list[str]]]


# -- the shapes -------------------------------------------------------------


def task_key(index: int) -> str:
    """Return the key of the task at ``index`` in a benchmark flow."""
    return f"t{index}"


def chain_edges(num_tasks: int) -> Edges:
    """Return ``(key, precursors)`` pairs of a chain of ``num_tasks`` tasks."""
    return [(task_key(i), [task_key(i - 1)] if i else []) for i in range(num_tasks)]


def fanout_edges(num_tasks: int) -> Edges:
    """Return the pairs of one root, ``num_tasks - 2`` middle tasks and one join."""
    if num_tasks < 3:
        raise ValueError(f"a fan-out needs at least 3 tasks, got {num_tasks}")
    middle = [task_key(i) for i in range(1, num_tasks - 1)]
    edges: Edges = [(task_key(0), [])]
    edges.extend((key, [task_key(0)]) for key in middle)
    edges.append((task_key(num_tasks - 1), middle))
    return edges


def layered_edges(num_tasks: int, width: int = LAYER_WIDTH) -> Edges:
    """Return the pairs of layers of ``width`` tasks, two precursors each.

    Task ``p`` of layer ``k > 0`` waits for tasks ``p`` and ``(p + 1) % width``
    of layer ``k - 1``; a last, partial layer is allowed.
    """
    edges: Edges = []
    for i in range(num_tasks):
        layer, position = divmod(i, width)
        if layer == 0:
            precursors = []
        else:
            below = (layer - 1) * width
            precursors = [task_key(below + position), task_key(below + (position + 1) % width)]
        edges.append((task_key(i), precursors))
    return edges


SHAPE_EDGES: dict[str, Callable[[int], Edges]] = {
    "chain": chain_edges,
    "fanout": fanout_edges,
    "layered": layered_edges,
}


def expected_ticks(shape: str, num_tasks: int) -> int:
    """Return the ticks a flow of one-tick tasks of ``shape`` must take."""
    if shape == "chain":
        return num_tasks
    if shape == "fanout":
        return 3
    return -(-num_tasks // LAYER_WIDTH)


def flow_spec_from_edges(edges: Edges, label: str) -> dict[str, Any]:
    """Return a flow spec of ``noop`` tasks with explicit precursors.

    An empty ``precursors`` list starts a task at once (its precursor is ROOT).
    """
    return {
        "label": label,
        "tasks": [
            {"key": key, "task_type": "noop", "precursors": precursors} for key, precursors in edges
        ],
    }


# -- timing -----------------------------------------------------------------


@contextlib.contextmanager
def quiet_gc(keep_gc: bool) -> Iterator[None]:
    """Collect garbage, then keep the collector off inside the block.

    With ``keep_gc`` the collector stays on (and nothing is collected first).
    """
    if keep_gc:
        yield
        return
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def timed(step: Callable[[], Any], keep_gc: bool) -> tuple[float, Any]:
    """Run ``step()`` once; return its wall time in seconds and its result."""
    with quiet_gc(keep_gc):
        start = time.perf_counter()
        result = step()
        seconds = time.perf_counter() - start
    return seconds, result


def run_graphlib(graph: dict[str, list[str]]) -> tuple[float, float, int]:
    """Do the engine's dependency bookkeeping with graphlib, timing it.

    Returns the seconds of the whole (``TopologicalSorter(graph)``,
    ``prepare()`` and the ``get_ready()``/``done()`` loop), the seconds of
    ``prepare()`` and the loop alone, and the number of nodes done.
    """
    start = time.perf_counter()
    sorter = graphlib.TopologicalSorter(graph)
    built = time.perf_counter()
    sorter.prepare()
    done = 0
    while sorter.is_active():
        ready = sorter.get_ready()
        sorter.done(*ready)
        done += len(ready)
    end = time.perf_counter()
    return end - start, end - built, done


class ShapeBench:
    """The timings of one shape at one size, kept as the best seen so far.

    Holds the spec and the graph (made once, not timed) and, after
    :meth:`sample`, the finished flow of the last run.
    """

    def __init__(self, shape: str, num_tasks: int, keep_gc: bool) -> None:
        """Make the spec and the graph of ``shape`` with ``num_tasks`` tasks."""
        edges = SHAPE_EDGES[shape](num_tasks)
        self.shape = shape
        self.num_tasks = num_tasks
        self.keep_gc = keep_gc
        self.spec = flow_spec_from_edges(edges, f"bench_{shape}_{num_tasks}")
        self.graph = {key: precursors for key, precursors in edges}
        self.engine = FlowEngine()
        self.flow: Flow | None = None
        self.ticks = 0
        self.runs = 0
        self.best = dict.fromkeys(("build", "engine", "graphlib", "graphlib_loop"), float("inf"))
        self.round_trip = dict.fromkeys(ROUND_TRIP_STEPS, float("inf"))
        self.json_bytes = 0

    @staticmethod
    def _keep_best(best: dict[str, float], name: str, seconds: float) -> None:
        """Record ``seconds`` for ``name`` in ``best`` if it beats the best so far."""
        best[name] = min(best[name], seconds)

    def sample(self) -> None:
        """Time one build, one engine run and one graphlib run.

        Raises RuntimeError if the flow does not COMPLETE every task in the
        expected number of ticks, or graphlib does not finish every task.
        """
        self.flow = None  # free the last flow before building the next
        seconds, flow = timed(lambda: self.engine.flow_spec_to_flow(self.spec), self.keep_gc)
        self._keep_best(self.best, "build", seconds)
        seconds, _ = timed(lambda: self.engine.run_flow(flow), self.keep_gc)
        self._keep_best(self.best, "engine", seconds)
        check_finished(flow, self.shape, self.num_tasks)
        self.flow = flow
        self.ticks = flow.num_ticks
        _, (total, loop, done) = timed(lambda: run_graphlib(self.graph), self.keep_gc)
        self._keep_best(self.best, "graphlib", total)
        self._keep_best(self.best, "graphlib_loop", loop)
        if done != self.num_tasks:
            raise RuntimeError(f"{self.shape} {self.num_tasks}: graphlib finished {done} tasks")
        self.runs += 1

    def sample_round_trip(self) -> None:
        """Time each step of the round trip of the last finished flow.

        Raises RuntimeError if the loaded flow differs from the stored one.
        Frees the flow afterwards, so that finished flows of other shapes and
        sizes do not fill the memory while those are timed.
        """
        flow = self.flow
        assert flow is not None, "sample() first"
        seconds, flow_dict = timed(flow.to_flow_dict, self.keep_gc)
        self._keep_best(self.round_trip, "to_flow_dict", seconds)
        seconds, text = timed(lambda: json.dumps(flow_dict), self.keep_gc)
        self._keep_best(self.round_trip, "json.dumps", seconds)
        seconds, stored = timed(lambda: json.loads(text), self.keep_gc)
        self._keep_best(self.round_trip, "json.loads", seconds)
        # The dict is fresh from json.loads, as in storage: no copy needed.
        seconds, loaded = timed(lambda: Flow.from_flow_dict(stored, copy=False), self.keep_gc)
        self._keep_best(self.round_trip, "from_flow_dict", seconds)
        if loaded.to_flow_dict() != flow_dict:
            raise RuntimeError(f"{self.shape} {self.num_tasks}: the round trip changed the flow")
        self.json_bytes = len(text.encode("utf-8"))
        self.flow = None

    def result(self) -> dict[str, Any]:
        """Return the best timings as a plain dict (see :func:`run_benchmarks`)."""
        assert self.runs, "sample() first"
        n = self.num_tasks
        return {
            "shape": self.shape,
            "tasks": n,
            "ticks": self.ticks,
            "runs": self.runs,
            "seconds": dict(self.best),
            "us_per_task": {name: s / n * 1e6 for name, s in self.best.items()},
            "ratio": self.best["engine"] / self.best["graphlib"],
            "ratio_to_loop": self.best["engine"] / self.best["graphlib_loop"],
            "round_trip": {
                "seconds": dict(self.round_trip),
                "total": sum(self.round_trip.values()),
                "json_bytes": self.json_bytes,
            },
        }


class EndToEndBench:
    """End-to-end timings of one shape at one size, garbage collector on.

    Keeps the best seen so far of ``flow_spec_to_flow`` + ``run_flow``
    (``end_to_end``, and its parts ``build`` and ``run`` from the same
    samples) and of graphlib. The spec and the graph are made afresh for
    every sample (not timed) and freed afterwards.
    """

    def __init__(self, shape: str, num_tasks: int) -> None:
        """Prepare to time ``shape`` with ``num_tasks`` tasks."""
        self.shape = shape
        self.num_tasks = num_tasks
        self.engine = FlowEngine()
        self.runs = 0
        self.best = dict.fromkeys(("end_to_end", "build", "run", "graphlib"), float("inf"))

    def sample(self) -> None:
        """Time one build and run of the flow, then graphlib, each with the collector on.

        Raises RuntimeError if the flow does not COMPLETE every task in the
        expected number of ticks, or graphlib does not finish every task.
        """
        edges = SHAPE_EDGES[self.shape](self.num_tasks)
        spec = flow_spec_from_edges(edges, f"bench_{self.shape}_{self.num_tasks}")
        del edges
        engine = self.engine
        gc.collect()
        start = time.perf_counter()
        flow = engine.flow_spec_to_flow(spec)
        built = time.perf_counter()
        engine.run_flow(flow)
        end = time.perf_counter()
        check_finished(flow, self.shape, self.num_tasks)
        best = self.best
        best["end_to_end"] = min(best["end_to_end"], end - start)
        best["build"] = min(best["build"], built - start)
        best["run"] = min(best["run"], end - built)
        del flow, spec
        graph = dict(SHAPE_EDGES[self.shape](self.num_tasks))
        gc.collect()
        seconds, done = run_graphlib(graph)[0::2]
        best["graphlib"] = min(best["graphlib"], seconds)
        if done != self.num_tasks:
            raise RuntimeError(f"{self.shape} {self.num_tasks}: graphlib finished {done} tasks")
        self.runs += 1

    def result(self) -> dict[str, Any]:
        """Return the best timings as a plain dict (see :func:`run_end_to_end`)."""
        assert self.runs, "sample() first"
        n = self.num_tasks
        return {
            "shape": self.shape,
            "tasks": n,
            "runs": self.runs,
            "seconds": dict(self.best),
            "us_per_task": {name: s / n * 1e6 for name, s in self.best.items()},
            "ratio": self.best["end_to_end"] / self.best["graphlib"],
        }


def run_end_to_end(
    sizes: Sequence[int], repeat: int = DEFAULT_REPEAT, shapes: Sequence[str] = SHAPES
) -> dict[str, Any]:
    """Time ``flow_spec_to_flow`` + ``run_flow`` against graphlib, collector on.

    Repeats are interleaved, as in :func:`run_benchmarks`. Returns the
    report as a dict; raises RuntimeError if a flow does not end as it must.
    """
    sizes = sorted(sizes)
    load_before = load_average()
    was_enabled = gc.isenabled()
    gc.enable()
    try:
        benches = [
            EndToEndBench(shape, size) for size in sizes for shape in SHAPES if shape in shapes
        ]
        for _ in range(repeat):
            for bench in benches:
                bench.sample()
    finally:
        if not was_enabled:
            gc.disable()
    results = [bench.result() for bench in benches]
    checks = [
        {
            "target": f"{r['shape']} {r['tasks']}: (build + run) / graphlib, gc on",
            "measured": r["ratio"],
            "limit": MAX_END_TO_END_RATIO,
            "met": r["ratio"] <= MAX_END_TO_END_RATIO,
        }
        for r in results
    ]
    return {
        "mode": "end-to-end",
        "machine": machine_description(),
        "source": source_revision(),
        "python": platform.python_version(),
        "sizes": sizes,
        "repeat": repeat,
        "gc": "enabled (collected before each timed step)",
        "gc_thresholds": list(gc.get_threshold()),
        "load_average": [load_before, load_average()],
        "results": results,
        "checks": checks,
        "all_targets_met": all(c["met"] for c in checks),
    }


def format_end_to_end_report(report: dict[str, Any]) -> str:
    """Return the end-to-end report as a plain-text table and the target verdicts."""
    load = ", ".join("?" if x is None else f"{x:.2f}" for x in report["load_average"])
    lines = [
        f"machine: {report['machine']}",
        f"source:  {report['source']}",
        f"repeats: {report['repeat']}; each time is the best of the runs below; "
        f"gc {report['gc']}, thresholds {tuple(report['gc_thresholds'])}; "
        f"load average before, after: {load}",
        "",
        "flow_spec_to_flow + run_flow against graphlib, garbage collector on, µs per task",
    ]
    lines += format_table(
        ["shape", "tasks", "runs", "build", "run", "build+run", "graphlib", "ratio"],
        [
            [
                r["shape"],
                f"{r['tasks']:,}",
                r["runs"],
                f"{r['us_per_task']['build']:.2f}",
                f"{r['us_per_task']['run']:.2f}",
                f"{r['us_per_task']['end_to_end']:.2f}",
                f"{r['us_per_task']['graphlib']:.2f}",
                f"{r['ratio']:.2f}x",
            ]
            for r in report["results"]
        ],
    )
    lines += ["", "targets"]
    lines += format_checks(report)
    return "\n".join(lines)


def check_finished(flow: Flow, shape: str, num_tasks: int) -> None:
    """Raise RuntimeError unless ``flow`` COMPLETED every task in the expected ticks."""
    ticks = expected_ticks(shape, num_tasks)
    if flow.status != COMPLETED or flow.count_tasks(COMPLETED) != num_tasks:
        raise RuntimeError(
            f"{shape} {num_tasks}: flow ended {flow.status} with "
            f"{flow.count_tasks(COMPLETED)} of {num_tasks} tasks COMPLETED"
        )
    if flow.num_ticks != ticks:
        raise RuntimeError(f"{shape} {num_tasks}: took {flow.num_ticks} ticks, expected {ticks}")


# -- targets and report -----------------------------------------------------


def growth(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return, per shape, how engine and graphlib time grow between sizes.

    Compares each size with the next larger one; the limit is
    ``GROWTH_SLACK`` times the size ratio. ``engine_vs_graphlib`` is how
    much faster the engine's time grows than graphlib's.
    """
    rows = []
    for shape in SHAPES:
        runs = sorted((r for r in results if r["shape"] == shape), key=lambda r: r["tasks"])
        for small, large in zip(runs, runs[1:]):
            size_ratio = large["tasks"] / small["tasks"]
            rows.append(
                {
                    "shape": shape,
                    "from_tasks": small["tasks"],
                    "to_tasks": large["tasks"],
                    "engine": large["seconds"]["engine"] / small["seconds"]["engine"],
                    "graphlib": large["seconds"]["graphlib"] / small["seconds"]["graphlib"],
                    "limit": GROWTH_SLACK * size_ratio,
                    # Above 1 only if the engine grows faster than graphlib:
                    # what the engine's own algorithm adds to the machine's
                    # cost of touching more memory.
                    "engine_vs_graphlib": large["ratio"] / small["ratio"],
                }
            )
    return rows


def check_targets(
    results: Sequence[dict[str, Any]], growth_rows: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Return one line per target check: what, measured, limit and whether met."""
    checks = []
    for r in results:
        checks.append(
            {
                "target": f"{r['shape']} {r['tasks']}: engine / graphlib",
                "measured": r["ratio"],
                "limit": MAX_RATIO_TO_GRAPHLIB,
                "met": r["ratio"] <= MAX_RATIO_TO_GRAPHLIB,
            }
        )
    for g in growth_rows:
        checks.append(
            {
                "target": f"{g['shape']} {g['to_tasks']} / {g['from_tasks']}: engine growth",
                "measured": g["engine"],
                "limit": g["limit"],
                "met": g["engine"] <= g["limit"],
            }
        )
    return checks


def run_benchmarks(
    sizes: Sequence[int],
    repeat: int = DEFAULT_REPEAT,
    keep_gc: bool = False,
    shapes: Sequence[str] = SHAPES,
) -> dict[str, Any]:
    """Run each of ``shapes`` at every size and return the whole report as a dict.

    Repeats are interleaved: each repeat samples every shape and size once,
    and one round trip of each, so that load on the machine falls on all of
    them alike.
    Raises RuntimeError if a flow does not end as it must.
    """
    sizes = sorted(sizes)
    load_before = load_average()
    benches = [
        ShapeBench(shape, size, keep_gc) for size in sizes for shape in SHAPES if shape in shapes
    ]
    for _ in range(repeat):
        for bench in benches:
            bench.sample()
            bench.sample_round_trip()
    results = [bench.result() for bench in benches]
    growth_rows = growth(results)
    checks = check_targets(results, growth_rows)
    return {
        "machine": machine_description(),
        "source": source_revision(),
        "python": platform.python_version(),
        "sizes": sizes,
        "repeat": repeat,
        "gc": "enabled" if keep_gc else "collected before, disabled during each step",
        "load_average": [load_before, load_average()],
        "results": results,
        "growth": growth_rows,
        "checks": checks,
        "all_targets_met": all(c["met"] for c in checks),
    }


def load_average() -> float | None:
    """Return the one-minute load average of the machine, or None if unknown."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def machine_description() -> str:
    """Return a one-line description of the machine and the interpreter."""
    cpus = os.cpu_count()
    return (
        f"{platform.system()} {platform.release()}, {platform.machine()}, "
        f"{cpus} CPUs, {platform.python_implementation()} {platform.python_version()}"
    )


def source_revision() -> str:
    """Return where the measured ``mc`` came from: its git commit and directory.

    The commit is marked when ``mc/`` has uncommitted changes; it is
    'unknown' when ``mc`` is not in a git checkout or git is missing.
    """
    package_dir = Path(mc.__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=package_dir,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "status", "--porcelain", "--", "."],
            cwd=package_dir,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit, changes = "unknown", ""
    if changes:
        commit += " with uncommitted changes"
    return f"{commit} (mc in {package_dir})"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Return the lines of a plain-text table: first column left, others right."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [
            str(cell).ljust(width) if i == 0 else str(cell).rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def format_report(report: dict[str, Any]) -> str:
    """Return the report as plain-text tables, ending with the target verdicts."""
    results = report["results"]
    load = ", ".join("?" if x is None else f"{x:.2f}" for x in report["load_average"])
    lines = [
        f"machine: {report['machine']}",
        f"source:  {report['source']}",
        f"repeats: {report['repeat']}; each time is the best of the runs below; "
        f"gc {report['gc']}; load average before, after: {load}",
        "",
        "µs per task; the ratios compare the engine with graphlib, and with its loop alone",
    ]
    lines += format_table(
        [
            "shape",
            "tasks",
            "ticks",
            "runs",
            "build",
            "engine",
            "graphlib",
            "engine/graphlib",
            "graphlib loop",
            "engine/loop",
        ],
        [
            [
                r["shape"],
                f"{r['tasks']:,}",
                f"{r['ticks']:,}",
                r["runs"],
                f"{r['us_per_task']['build']:.2f}",
                f"{r['us_per_task']['engine']:.2f}",
                f"{r['us_per_task']['graphlib']:.2f}",
                f"{r['ratio']:.2f}x",
                f"{r['us_per_task']['graphlib_loop']:.2f}",
                f"{r['ratio_to_loop']:.2f}x",
            ]
            for r in results
        ],
    )
    if report["growth"]:
        lines += ["", "growth of the time between sizes"]
        lines += format_table(
            ["shape", "tasks", "engine", "limit", "graphlib", "engine/graphlib"],
            [
                [
                    g["shape"],
                    f"{g['from_tasks']:,} -> {g['to_tasks']:,}",
                    f"{g['engine']:.2f}x",
                    f"{g['limit']:.1f}x",
                    f"{g['graphlib']:.2f}x",
                    f"{g['engine_vs_graphlib']:.2f}",
                ]
                for g in report["growth"]
            ],
        )
    lines += ["", "round trip of the finished flow, ms"]
    lines += format_table(
        ["shape", "tasks", *ROUND_TRIP_STEPS, "total", "JSON MB"],
        [
            [
                r["shape"],
                f"{r['tasks']:,}",
                *(f"{r['round_trip']['seconds'][step] * 1e3:.1f}" for step in ROUND_TRIP_STEPS),
                f"{r['round_trip']['total'] * 1e3:.1f}",
                f"{r['round_trip']['json_bytes'] / 1e6:.1f}",
            ]
            for r in results
        ],
    )
    lines += ["", "targets"]
    lines += format_checks(report)
    return "\n".join(lines)


def format_checks(report: dict[str, Any]) -> list[str]:
    """Return the lines of the targets table and the overall verdict."""
    lines = format_table(
        ["check", "measured", "limit", ""],
        [
            [
                c["target"],
                f"{c['measured']:.2f}x",
                f"{c['limit']:.1f}x",
                "met" if c["met"] else "NOT MET",
            ]
            for c in report["checks"]
        ],
    )
    lines.append("all targets met" if report["all_targets_met"] else "some targets NOT met")
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description="Time the flow engine against graphlib.TopologicalSorter."
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=None,
        metavar="N",
        help=(
            f"numbers of tasks per flow (default: {' '.join(map(str, DEFAULT_SIZES))}; "
            f"with --end-to-end {' '.join(map(str, DEFAULT_END_TO_END_SIZES))})"
        ),
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=DEFAULT_REPEAT,
        metavar="N",
        help="runs per measurement; the best counts (default: %(default)s)",
    )
    parser.add_argument(
        "--shapes",
        nargs="+",
        choices=SHAPES,
        default=list(SHAPES),
        help="shapes of flow to run (default: all)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--gc", action="store_true", help="keep the garbage collector on while timing"
    )
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 if a target is not met"
    )
    parser.add_argument(
        "--end-to-end",
        action="store_true",
        help="time flow_spec_to_flow + run_flow together, garbage collector on",
    )
    args = parser.parse_args(argv)
    if args.end_to_end and args.gc:
        parser.error("--end-to-end always keeps the garbage collector on; drop --gc")
    if args.sizes is None:
        args.sizes = list(DEFAULT_END_TO_END_SIZES if args.end_to_end else DEFAULT_SIZES)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if any(size < 3 for size in args.sizes):
        parser.error("--sizes must be at least 3 (a fan-out needs a root, a middle and a join)")
    args.sizes = sorted(set(args.sizes))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; return the exit status."""
    args = parse_args(argv)
    try:
        if args.end_to_end:
            report = run_end_to_end(args.sizes, args.repeat, args.shapes)
        else:
            report = run_benchmarks(args.sizes, args.repeat, args.gc, args.shapes)
    except RuntimeError as error:
        print(f"bench_engine: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2))
    elif args.end_to_end:
        print(format_end_to_end_report(report))
    else:
        print(format_report(report))
    if args.check and not report["all_targets_met"]:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
