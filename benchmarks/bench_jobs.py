"""Benchmark of many local jobs through one runner: executor calls and time per job.

What is measured
----------------
One flow, a ``spread`` of ``--jobs`` ``job`` tasks (default 1,000), each a
job dir whose entrypoint is ``true``, stored in a SQLite file and run by one
:class:`mc.runner.FlowRunner` (``run(until_done=True)``, ``poll_interval_s``
0, interval 0.01 s) with a :class:`~mc.jobs.executors.local.LocalExecutor`
of ``--max-jobs`` slots (default 16). The clock starts when the runner
starts and stops when it returns, the flow COMPLETED (checked). Reported:

* wall time, job completions per second and milliseconds per job;
* the executor's calls, counted by a subclass: ``submit`` and ``poll``
  calls (the ``job`` task submits once, then polls once per engine tick
  until its job has ended; a poll of a queued job is answered from memory,
  a poll of a started one reads its own job dir), and the passes over the
  running jobs' processes (``passes``, the one poll call per round that
  looks at more than one job), beside the engine ticks the runner made;
* passes per tick: the target is at most 1;
* the machine's load average (1 minute) before and after the best run:
  the machine may be shared, and a loaded one is slower.

Each run uses a new temporary directory (under ``--root``, default the
system's temporary directory: its file system's cost of creating files is
part of what is measured); with ``--repeat`` the best run counts (other
programs only slow a run down). Run it from the repository root, with the
package installed and no tests running::

    python benchmarks/bench_jobs.py                 # the numbers in docs/benchmarks.rst
    python benchmarks/bench_jobs.py --root /dev/shm # job dirs in memory (tmpfs)
    python benchmarks/bench_jobs.py --jobs 100 --repeat 1   # a smoke run, a second
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from mc.flows import COMPLETED, FlowEngine
from mc.jobs.executors.local import LocalExecutor
from mc.jobs.job_modules import JobTypeRegistry
from mc.runner import FlowRunner
from mc.store import FlowStore


class TrueJob:
    """A job module whose job runs ``true``."""

    @staticmethod
    def build_work_dir(params: dict[str, Any], output_dir: str) -> dict[str, Any]:
        return {"entrypoint": "true"}


class CountingLocalExecutor(LocalExecutor):
    """A local executor that counts its submit and poll calls."""

    def __init__(self, max_jobs: int) -> None:
        super().__init__(max_jobs=max_jobs)
        self.calls: Counter[str] = Counter()

    def submit(self, job_dir: Any, resources: Mapping[str, Any] | None = None) -> dict[str, Any]:
        self.calls["submit"] += 1
        return super().submit(job_dir, resources)

    def poll(self, handle: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        self.calls["poll"] += 1
        return super().poll(handle)


def sweep_spec(n_jobs: int) -> dict[str, Any]:
    skeleton = {
        "key": "job",
        "task_type": "job",
        "task_params": {"job_type": "true_job", "executor": "bench_local"},
    }
    return {
        "label": f"bench_jobs_{n_jobs}",
        "data": {"items": list(range(n_jobs))},
        "tasks": [
            {
                "key": "sweep",
                "task_type": "spread",
                "task_params": {
                    "items": "$ctx.flow.data.items",
                    "mapping_params": {"skeleton": skeleton},
                },
            }
        ],
    }


def run_once(n_jobs: int, max_jobs: int, root: str | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mc-bench-jobs-", dir=root) as tmp:
        executor = CountingLocalExecutor(max_jobs)
        engine = FlowEngine(executors={"bench_local": executor})
        task_ctx = {
            "job_types": JobTypeRegistry({"true_job": TrueJob}),
            "jobs_root": os.path.join(tmp, "jobs"),
        }
        url = f"sqlite:///{tmp}/bench.db"
        with FlowStore(url) as store:
            key = store.create_flow(sweep_spec(n_jobs))
            with FlowRunner(store, engine, task_ctx, poll_interval_s=0, batch_size=1) as runner:
                load_before = os.getloadavg()[0]
                started = time.perf_counter()
                stats = runner.run(interval_s=0.01, until_done=True)
                seconds = time.perf_counter() - started
                load_after = os.getloadavg()[0]
            status = store.get_flow(key).status
    if status != COMPLETED:
        raise SystemExit(f"the benchmark flow ended {status}")
    return {
        "jobs": n_jobs,
        "max_jobs": max_jobs,
        "seconds": seconds,
        "jobs_per_s": n_jobs / seconds,
        "ms_per_job": 1000 * seconds / n_jobs,
        "ticks": stats.ticks,
        "submits": executor.calls["submit"],
        "polls": executor.calls["poll"],
        "passes": executor.passes,
        "passes_per_tick": executor.passes / max(stats.ticks, 1),
        "load_before": load_before,
        "load_after": load_after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--jobs", type=int, default=1000, help="job tasks in the spread (default 1000)"
    )
    parser.add_argument(
        "--max-jobs", type=int, default=16, help="the local executor's slots (default 16)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs; the fastest counts (default 3)"
    )
    parser.add_argument(
        "--root",
        default=None,
        help="where the run's directory (job dirs, SQLite file) goes (default: the temp dir)",
    )
    parser.add_argument("--json", action="store_true", help="print the best run as JSON")
    args = parser.parse_args()
    runs = [run_once(args.jobs, args.max_jobs, args.root) for _ in range(args.repeat)]
    best = min(runs, key=lambda run: run["seconds"])
    if args.json:
        print(json.dumps(best, indent=2))
        return
    print(
        f"{best['jobs']} local jobs of `true` through one runner, max_jobs {best['max_jobs']}, "
        f"best of {args.repeat} ({os.cpu_count()} CPUs), in {args.root or tempfile.gettempdir()}"
    )
    print(
        f"wall {best['seconds']:.2f} s   {best['jobs_per_s']:.0f} jobs/s   "
        f"{best['ms_per_job']:.2f} ms per job"
    )
    print(
        f"engine ticks {best['ticks']}   submit calls {best['submits']}   "
        f"poll calls {best['polls']}   "
        f"passes over pids {best['passes']}   passes per tick {best['passes_per_tick']:.2f}"
    )
    print(f"load average {best['load_before']:.2f} before, {best['load_after']:.2f} after")


if __name__ == "__main__":
    main()
