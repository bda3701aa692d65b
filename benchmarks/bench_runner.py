"""Benchmark of flow runners on SQLite and PostgreSQL.

What is measured
----------------
``throughput``
    Flows completed per second by R runner processes working one database
    (R = 1 and 4 by default), on SQLite (a file in a temporary directory)
    and on PostgreSQL (a fresh schema in the test database). The store is
    first filled with ``--flows`` flows, each a chain of ``--tasks`` ``noop``
    tasks. Each runner is a separate process running
    :meth:`mc.runner.FlowRunner.run` with ``until_done=True`` (batch 10,
    interval 0.01 s). The processes start, import everything and open the
    store before the clock starts; the clock stops when the last one has
    returned. The script checks that every flow COMPLETED. Each setting runs
    ``--repeat`` times, on a new database each time, and the best run counts:
    other programs on the machine only ever slow a run down.
``big flow``
    One tick-and-save cycle of a flow of ``--big-tasks`` ``noop`` tasks
    (layers of 100; each task of a layer waits for two of the layer before),
    as a runner does it: ``claim`` (read the row, ``json.loads`` and
    :meth:`~mc.flows.Flow.from_flow_dict`), one
    :meth:`~mc.flows.FlowEngine.tick_flow` (100 tasks change), and
    ``save_flow`` (:meth:`~mc.flows.Flow.to_flow_dict`, ``json.dumps`` and
    the ``UPDATE``). Best of ``--repeat`` cycles, each step timed with
    :func:`time.perf_counter`.

Run it from the repository root, with the package installed and no tests
running (they compete for the 2 cores)::

    python benchmarks/bench_runner.py                      # the numbers in docs/benchmarks.rst
    python benchmarks/bench_runner.py --flows 20 --runners 1 2 --big-tasks 500 --repeat 1 --json

PostgreSQL is reached at ``$MC_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://mc:mc@127.0.0.1:5432/mc_test``, as set up by
``scripts/setup_postgres.sh``); ``--dbs sqlite`` leaves it out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

DEFAULT_POSTGRES_URL = "postgresql+psycopg://mc:mc@127.0.0.1:5432/mc_test"


def chain_spec(n_tasks: int) -> dict[str, Any]:
    """A chain of n noop tasks."""
    tasks = [{"key": "t0", "task_type": "noop"}]
    tasks += [
        {"key": f"t{i}", "task_type": "noop", "precursors": [f"t{i - 1}"]}
        for i in range(1, n_tasks)
    ]
    return {"label": "bench", "tasks": tasks}


def layered_spec(n_tasks: int, width: int = 100) -> dict[str, Any]:
    """Layers of ``width`` noop tasks; each task waits for two of the layer before."""
    tasks = []
    for i in range(n_tasks):
        layer, place = divmod(i, width)
        task: dict[str, Any] = {"key": f"t{i}", "task_type": "noop"}
        if layer:
            before = (layer - 1) * width
            task["precursors"] = sorted({f"t{before + place}", f"t{before + (place + 1) % width}"})
        tasks.append(task)
    return {"label": "big", "tasks": tasks}


@contextmanager
def database(kind: str, postgres_url: str) -> Iterator[str]:
    """Yield the URL of a new, empty database of ``kind``; remove it afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{directory}/bench.db"
        return
    schema = f"mc_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url)
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = sa.make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def worker(url: str) -> None:
    """One runner process: get ready, wait for 'go' on stdin, run until done, print stats."""
    from mc.runner import FlowRunner
    from mc.store import FlowStore

    with FlowStore(url) as store, FlowRunner(store, batch_size=10, poll_interval_s=0) as runner:
        print("ready", flush=True)
        sys.stdin.readline()
        stats = runner.run(interval_s=0.01, until_done=True)
    print(json.dumps(stats.to_dict()), flush=True)


def measure_throughput(url: str, n_flows: int, n_tasks: int, n_runners: int) -> dict[str, Any]:
    """Fill the store, run n_runners processes until done, return the rate."""
    from mc.store import FlowStore

    with FlowStore(url) as store:
        spec = chain_spec(n_tasks)
        for _ in range(n_flows):
            store.create_flow(spec)
    processes = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(n_runners)
    ]
    for process in processes:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    outputs = [process.communicate()[0] for process in processes]
    elapsed = time.perf_counter() - start
    if any(process.returncode for process in processes):
        raise SystemExit(f"a runner failed: {outputs}")
    completed = sum(json.loads(output)["completed"] for output in outputs)
    with FlowStore(url) as store:
        counts = store.count_by_status()
    if counts != {"COMPLETED": n_flows} or completed != n_flows:
        raise SystemExit(f"not every flow COMPLETED: {counts}, runners report {completed}")
    return {
        "runners": n_runners,
        "flows": n_flows,
        "tasks_per_flow": n_tasks,
        "seconds": elapsed,
        "flows_per_s": n_flows / elapsed,
    }


def measure_big_flow(url: str, n_tasks: int, repeat: int) -> dict[str, Any]:
    """Best times of claim, tick and save for one flow of n_tasks tasks."""
    from mc.flows import FlowEngine
    from mc.store import FlowStore

    best = {"claim": float("inf"), "tick": float("inf"), "save": float("inf")}
    with FlowStore(url) as store, FlowEngine() as engine:
        key = store.create_flow(layered_spec(n_tasks))
        for _ in range(repeat):
            start = time.perf_counter()
            (flow,) = store.claim(1, lease_s=60, runner_id="bench")
            claimed = time.perf_counter()
            engine.tick_flow(flow)
            ticked = time.perf_counter()
            store.save_flow(flow)
            saved = time.perf_counter()
            best["claim"] = min(best["claim"], claimed - start)
            best["tick"] = min(best["tick"], ticked - claimed)
            best["save"] = min(best["save"], saved - ticked)
            if flow.finished:
                raise SystemExit(
                    f"the {n_tasks}-task flow ended after {flow.num_ticks} ticks; use more tasks"
                )
        record = store.get_record(key)
    return {
        "tasks": n_tasks,
        "seconds": best,
        "cycle_s": sum(best.values()),
        "json_bytes": len(json.dumps(flow.to_flow_dict(), separators=(",", ":"))),
        "ticks": record.num_ticks,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table (or JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dbs", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"]
    )
    parser.add_argument("--flows", type=int, default=500, help="flows per throughput run (500)")
    parser.add_argument("--tasks", type=int, default=5, help="noop tasks per flow (5)")
    parser.add_argument(
        "--runners", type=int, nargs="+", default=[1, 4], help="runner processes (1 4)"
    )
    parser.add_argument(
        "--big-tasks", type=int, default=10_000, help="tasks of the big flow (10000)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each throughput setting, and tick-and-save cycles of the big flow (3)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--worker", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    postgres_url = os.environ.get("MC_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    results: dict[str, Any] = {"throughput": [], "big_flow": [], "cpus": os.cpu_count()}
    for kind in args.dbs:
        for n_runners in args.runners:
            runs = []
            for _ in range(args.repeat):
                with database(kind, postgres_url) as url:
                    runs.append(measure_throughput(url, args.flows, args.tasks, n_runners))
            best = max(runs, key=lambda row: row["flows_per_s"])
            results["throughput"].append({"db": kind, **best, "runs": len(runs)})
        with database(kind, postgres_url) as url:
            results["big_flow"].append(
                {"db": kind, **measure_big_flow(url, args.big_tasks, args.repeat)}
            )
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"throughput: {args.flows} flows of {args.tasks} noop tasks, best of {args.repeat} "
        f"({results['cpus']} CPUs)"
    )
    print(f"{'db':<10} {'runners':>7} {'seconds':>8} {'flows/s':>8}")
    for row in results["throughput"]:
        print(
            f"{row['db']:<10} {row['runners']:>7} {row['seconds']:>8.2f} {row['flows_per_s']:>8.0f}"
        )
    print(f"\none tick-and-save cycle of a {args.big_tasks}-task flow (best of {args.repeat}), ms")
    print(f"{'db':<10} {'claim':>7} {'tick':>7} {'save':>7} {'cycle':>7} {'JSON kB':>8}")
    for row in results["big_flow"]:
        s = row["seconds"]
        print(
            f"{row['db']:<10} {s['claim'] * 1e3:>7.1f} {s['tick'] * 1e3:>7.1f} "
            f"{s['save'] * 1e3:>7.1f} {row['cycle_s'] * 1e3:>7.1f} {row['json_bytes'] / 1e3:>8.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
