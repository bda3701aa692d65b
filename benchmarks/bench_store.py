"""Benchmark of durable state: incremental saves, runners that save every tick.

What is measured
----------------
``cycle``
    One claim + tick + save of a chain of ``--cycle-tasks`` ``noop`` tasks
    (10,000 by default) in which one task changes per tick, on SQLite (a
    file in a temporary directory) and PostgreSQL (a fresh schema of the
    test database), each step timed with :func:`time.perf_counter`, best of
    ``--repeat``. *cold*: the claim loads the flow from its rows (as a
    runner that has never seen it). *warm*: the claim is handed the flow
    the caller saved last (``claim(..., in_memory=...)``, as a
    :class:`~mc.runner.FlowRunner` keeps the flows of its last round), so
    it loads nothing. Target: warm cycle at most 20 ms on both databases.
``chain``
    A chain of ``--chain-tasks`` ``noop`` tasks (100,000 by default) run to
    the end by one ``mc runner --until-done`` process on SQLite, saving
    after every tick (the default): from starting the process (Python
    start-up and imports included) to its exit. The flow is created first,
    not timed. Target: at most 60 s.
``throughput``
    ``--tp-flows`` flows (1,000) of 3 chained ``noop`` tasks completed by
    one runner process on SQLite, saving after every tick: task completions
    per second, from 'go' (the process has started and opened the store)
    to its return. Target: at least 1,500 per second.
``scale``
    ``--scale-flows`` flows (200) of 5 chained tasks that each sleep
    ``--sleep-ms`` (20) ms (a custom task type standing for work that waits
    on I/O), completed by 1 and by 4 runner processes on PostgreSQL
    (batch 2, so that the flows spread over the runners). Reported: the
    seconds, the ratio, and how the claims were shared (contention). Target:
    4 runners at least 3 times as fast as one.
``memory``
    Peak memory (:mod:`tracemalloc`) while building and running a chain of
    ``--memory-tasks`` (100,000) ``noop`` tasks in memory
    (``flow_spec_to_flow`` + ``run_flow``), in bytes per task, beside
    :class:`graphlib.TopologicalSorter` doing the same bookkeeping (graph
    dict, ``prepare``, ``get_ready``/``done`` loop). Target: at most 1,200
    bytes per task (what the engine took before this work).

Run it from the repository root, with the package installed, PostgreSQL up
(``bash scripts/start_test_services.sh``, as root) and no tests running
(they compete for the CPUs)::

    python benchmarks/bench_store.py   # the numbers in docs/benchmarks.rst, a few minutes
    python benchmarks/bench_store.py --cycle-tasks 500 --chain-tasks 300 --tp-flows 20 \\
        --scale-flows 4 --memory-tasks 1000 --repeat 1 --json     # a smoke run

PostgreSQL is reached at ``$MC_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://mc:mc@127.0.0.1:5432/mc_test``); ``--dbs sqlite``
leaves it out (and the ``scale`` part with it).
"""

from __future__ import annotations

import argparse
import gc
import graphlib
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

DEFAULT_POSTGRES_URL = "postgresql+psycopg://mc:mc@127.0.0.1:5432/mc_test"


def chain_spec(n_tasks: int, task_type: str = "noop", key: str | None = None) -> dict[str, Any]:
    """A chain of n tasks of ``task_type``."""
    tasks = [{"key": "t0", "task_type": task_type}]
    tasks += [
        {"key": f"t{i}", "task_type": task_type, "precursors": [f"t{i - 1}"]}
        for i in range(1, n_tasks)
    ]
    spec: dict[str, Any] = {"label": "bench", "tasks": tasks}
    if key is not None:
        spec["key"] = key
    return spec


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


# -- cycle -----------------------------------------------------------------------


def measure_cycle(url: str, n_tasks: int, repeat: int) -> dict[str, Any]:
    """Best cold and warm claim + tick + save of a chain in which one task changes per tick."""
    from mc.flows import FlowEngine
    from mc.store import FlowStore

    engine = FlowEngine()
    best: dict[str, dict[str, float]] = {}
    with FlowStore(url) as store:
        key = store.create_flow(chain_spec(n_tasks, key="cycle"))
        flow = None
        for mode in ("cold", "warm"):
            steps = {
                "claim": float("inf"),
                "tick": float("inf"),
                "save": float("inf"),
                "cycle": float("inf"),
            }
            for _ in range(repeat):
                in_memory = {key: flow} if mode == "warm" and flow is not None else None
                start = time.perf_counter()
                (flow,) = store.claim(1, 30.0, "bench", in_memory=in_memory)
                claimed = time.perf_counter()
                engine.tick_flow(flow)
                ticked = time.perf_counter()
                changed = len(flow.changed_task_keys())
                store.save_flow(flow)
                saved = time.perf_counter()
                if changed != 1:
                    raise SystemExit(f"cycle: expected 1 changed task per tick, got {changed}")
                for name, seconds in (
                    ("claim", claimed - start),
                    ("tick", ticked - claimed),
                    ("save", saved - ticked),
                    ("cycle", saved - start),
                ):
                    steps[name] = min(steps[name], seconds)
            best[mode] = steps
    return {"tasks": n_tasks, "seconds": best}


# -- chain -----------------------------------------------------------------------


def measure_chain(url: str, n_tasks: int) -> dict[str, Any]:
    """Run a chain of n noop tasks with one `mc runner --until-done` process; time it."""
    from mc.store import FlowStore

    with FlowStore(url) as store:
        key = store.create_flow(chain_spec(n_tasks, key="chain"))
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mc",
            "runner",
            "--db",
            url,
            "--until-done",
            "--interval",
            "0.01",
            "--poll",
            "0",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(f"chain: mc runner failed: {result.stderr[-2000:]}")
    with FlowStore(url) as store:
        record = store.get_record(key)
    if record.status != "COMPLETED" or record.num_ticks != n_tasks:
        raise SystemExit(f"chain: the flow is {record.status} after {record.num_ticks} ticks")
    return {"tasks": n_tasks, "seconds": seconds, "ticks_per_s": n_tasks / seconds}


# -- runner processes ------------------------------------------------------------


def worker(url: str, sleep_ms: float, batch: int) -> None:
    """One runner process: get ready, wait for 'go' on stdin, run until done, print stats."""
    from mc.flows import FlowEngine
    from mc.runner import FlowRunner
    from mc.store import FlowStore

    def sleep_task(task_ctx: dict[str, Any]) -> None:
        time.sleep(sleep_ms / 1000)
        task_ctx["task"]["status"] = "COMPLETED"

    engine = FlowEngine(task_handlers={"sleep": sleep_task})
    with FlowStore(url) as store:
        runner = FlowRunner(store, engine, batch_size=batch, poll_interval_s=0)
        rounds = 0

        def count_round(_round: Any, _total: Any) -> None:
            nonlocal rounds
            rounds += 1

        print("ready", flush=True)
        sys.stdin.readline()
        stats = runner.run(interval_s=0.01, until_done=True, on_round=count_round)
    print(json.dumps({**stats.to_dict(), "rounds": rounds}), flush=True)


def run_runners(
    url: str, n_runners: int, sleep_ms: float, batch: int
) -> tuple[float, list[dict[str, Any]]]:
    """Start n runner processes, let them go at once, return the seconds and their stats."""
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                url,
                "--sleep-ms",
                str(sleep_ms),
                "--batch",
                str(batch),
            ],
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
    seconds = time.perf_counter() - start
    if any(process.returncode for process in processes):
        raise SystemExit(f"a runner failed: {outputs}")
    return seconds, [json.loads(output) for output in outputs]


def fill(url: str, n_flows: int, n_tasks: int, task_type: str) -> None:
    from mc.store import FlowStore

    with FlowStore(url) as store:
        spec = chain_spec(n_tasks, task_type)
        for _ in range(n_flows):
            store.create_flow(spec)


def check_all_completed(url: str, n_flows: int, what: str) -> None:
    from mc.store import FlowStore

    with FlowStore(url) as store:
        counts = store.count_by_status()
    if counts != {"COMPLETED": n_flows}:
        raise SystemExit(f"{what}: not every flow COMPLETED: {counts}")


def measure_throughput(url: str, n_flows: int) -> dict[str, Any]:
    """Task completions per second of one runner on flows of 3 noop tasks."""
    fill(url, n_flows, 3, "noop")
    seconds, stats = run_runners(url, 1, 0, 10)
    check_all_completed(url, n_flows, "throughput")
    return {
        "flows": n_flows,
        "tasks": 3 * n_flows,
        "seconds": seconds,
        "tasks_per_s": 3 * n_flows / seconds,
        "stats": stats,
    }


def measure_scale(postgres_url: str, n_flows: int, sleep_ms: float) -> dict[str, Any]:
    """1 and 4 runners on PostgreSQL on flows of 5 tasks that sleep; seconds and sharing."""
    rows = {}
    for n_runners in (1, 4):
        with database("postgres", postgres_url) as url:
            fill(url, n_flows, 5, "sleep")
            seconds, stats = run_runners(url, n_runners, sleep_ms, 2)
            check_all_completed(url, n_flows, f"scale with {n_runners} runners")
        rows[n_runners] = {
            "runners": n_runners,
            "seconds": seconds,
            "flows_claimed": [s["claimed"] for s in stats],
            "rounds": [s["rounds"] for s in stats],
            "stale": sum(s["stale"] for s in stats),
        }
    return {
        "flows": n_flows,
        "sleep_ms": sleep_ms,
        "rows": list(rows.values()),
        "speedup": rows[1]["seconds"] / rows[4]["seconds"],
    }


# -- memory ----------------------------------------------------------------------


def peak_bytes(step: Any) -> int:
    """Peak memory traced while ``step()`` runs (the result is dropped afterwards)."""
    gc.collect()
    tracemalloc.start()
    try:
        result = step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak


def measure_memory(n_tasks: int) -> dict[str, Any]:
    """Peak bytes per task of building and running a chain, beside graphlib."""
    from mc.flows import FlowEngine

    spec = chain_spec(n_tasks)
    graph = {task["key"]: task.get("precursors", []) for task in spec["tasks"]}

    def engine_run() -> Any:
        engine = FlowEngine()
        flow = engine.flow_spec_to_flow(spec)
        engine.run_flow(flow)
        return flow

    def graphlib_run() -> Any:
        sorter = graphlib.TopologicalSorter(graph)
        sorter.prepare()
        while sorter.is_active():
            sorter.done(*sorter.get_ready())
        return sorter

    engine_peak = peak_bytes(engine_run)
    graphlib_peak = peak_bytes(graphlib_run)
    return {
        "tasks": n_tasks,
        "engine_bytes_per_task": engine_peak / n_tasks,
        "graphlib_bytes_per_task": graphlib_peak / n_tasks,
    }


# -- report ----------------------------------------------------------------------


def check(
    checks: list[dict[str, Any]], target: str, value: float, limit: float, at_most: bool
) -> None:
    ok = value <= limit if at_most else value >= limit
    checks.append({"target": target, "value": value, "limit": limit, "at_most": at_most, "ok": ok})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--dbs", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"]
    )
    parser.add_argument("--cycle-tasks", type=int, default=10_000)
    parser.add_argument("--chain-tasks", type=int, default=100_000)
    parser.add_argument("--tp-flows", type=int, default=1_000)
    parser.add_argument("--scale-flows", type=int, default=200)
    parser.add_argument("--sleep-ms", type=float, default=20.0)
    parser.add_argument("--memory-tasks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--worker", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=10, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.sleep_ms, args.batch)
        return 0
    postgres_url = os.environ.get("MC_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    report: dict[str, Any] = {"cycle": [], "checks": []}
    checks = report["checks"]
    for db in args.dbs:
        with database(db, postgres_url) as url:
            row = {"db": db, **measure_cycle(url, args.cycle_tasks, args.repeat)}
        report["cycle"].append(row)
        check(
            checks,
            f"{db}: warm claim+tick+save of {args.cycle_tasks} tasks, ms",
            row["seconds"]["warm"]["cycle"] * 1e3,
            20.0,
            at_most=True,
        )
    with database("sqlite", postgres_url) as url:
        report["chain"] = measure_chain(url, args.chain_tasks)
    check(
        checks,
        f"sqlite: mc runner on a {args.chain_tasks}-task chain, s",
        report["chain"]["seconds"],
        60.0,
        at_most=True,
    )
    with database("sqlite", postgres_url) as url:
        report["throughput"] = measure_throughput(url, args.tp_flows)
    check(
        checks,
        "sqlite: one runner, task completions/s",
        report["throughput"]["tasks_per_s"],
        1500.0,
        at_most=False,
    )
    if "postgres" in args.dbs:
        report["scale"] = measure_scale(postgres_url, args.scale_flows, args.sleep_ms)
        check(
            checks,
            "postgres: 4 runners / 1 runner on tasks that wait",
            report["scale"]["speedup"],
            3.0,
            at_most=False,
        )
    report["memory"] = measure_memory(args.memory_tasks)
    check(
        checks,
        f"engine peak bytes per task, {args.memory_tasks}-task chain",
        report["memory"]["engine_bytes_per_task"],
        1200.0,
        at_most=True,
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


def print_report(report: dict[str, Any]) -> None:
    """Print the report as text tables."""
    tasks = report["cycle"][0]["tasks"] if report["cycle"] else 0
    print(f"one claim + tick + save of a {tasks}-task chain, one task changes (best), ms")
    print(f"{'db':<10} {'mode':<5} {'claim':>8} {'tick':>7} {'save':>7} {'cycle':>8}")
    for row in report["cycle"]:
        for mode in ("cold", "warm"):
            s = row["seconds"][mode]
            print(
                f"{row['db']:<10} {mode:<5} {s['claim'] * 1e3:8.2f} {s['tick'] * 1e3:7.2f} "
                f"{s['save'] * 1e3:7.2f} {s['cycle'] * 1e3:8.2f}"
            )
    chain = report["chain"]
    print(
        f"\nmc runner, {chain['tasks']}-task chain, save every tick (sqlite): "
        f"{chain['seconds']:.1f} s, {chain['ticks_per_s']:.0f} ticks/s"
    )
    tp = report["throughput"]
    print(
        f"one runner, {tp['flows']} flows x 3 noop tasks (sqlite): {tp['seconds']:.2f} s, "
        f"{tp['tasks_per_s']:.0f} task completions/s"
    )
    if "scale" in report:
        scale = report["scale"]
        print(f"\n{scale['flows']} flows x 5 tasks sleeping {scale['sleep_ms']:g} ms (postgres)")
        print(f"{'runners':>7} {'seconds':>8}  flows claimed by each runner (rounds)")
        for row in scale["rows"]:
            shares = ", ".join(f"{c} ({r})" for c, r in zip(row["flows_claimed"], row["rounds"]))
            print(f"{row['runners']:>7} {row['seconds']:8.2f}  {shares}; stale {row['stale']}")
        print(f"speed-up of 4 runners: {scale['speedup']:.2f}x")
    memory = report["memory"]
    print(
        f"\npeak memory, {memory['tasks']}-task chain built and run: engine "
        f"{memory['engine_bytes_per_task']:.0f} B/task, graphlib "
        f"{memory['graphlib_bytes_per_task']:.0f} B/task"
    )
    print("\ntargets")
    for item in report["checks"]:
        sign = "<=" if item["at_most"] else ">="
        verdict = "met" if item["ok"] else "MISSED"
        print(
            f"  {item['target']}: {item['value']:.2f} (target {sign} {item['limit']:g}) {verdict}"
        )


if __name__ == "__main__":
    sys.exit(main())
