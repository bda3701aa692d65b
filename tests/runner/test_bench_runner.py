"""The runner benchmark runs at a tiny size and reports every measurement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_runner.py"


def test_runner_benchmark_runs_small_sizes_on_both_databases_and_reports_json(postgres_server_url):
    result = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--flows",
            "6",
            "--runners",
            "1",
            "2",
            "--big-tasks",
            "300",
            "--repeat",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MC_TEST_POSTGRES_URL": postgres_server_url},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {(row["db"], row["runners"]) for row in report["throughput"]} == {
        ("sqlite", 1),
        ("sqlite", 2),
        ("postgres", 1),
        ("postgres", 2),
    }
    assert all(row["flows_per_s"] > 0 for row in report["throughput"])
    assert {row["db"] for row in report["big_flow"]} == {"sqlite", "postgres"}
    for row in report["big_flow"]:
        assert set(row["seconds"]) == {"claim", "tick", "save"}
        assert row["ticks"] == 1
