"""The store benchmark runs at tiny sizes and reports every measurement and target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_store.py"


def test_store_benchmark_runs_small_sizes_and_reports_json(postgres_server_url):
    result = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--cycle-tasks",
            "200",
            "--chain-tasks",
            "50",
            "--tp-flows",
            "5",
            "--scale-flows",
            "2",
            "--memory-tasks",
            "500",
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
    assert {row["db"] for row in report["cycle"]} == {"sqlite", "postgres"}
    for row in report["cycle"]:
        assert set(row["seconds"]) == {"cold", "warm"}
    assert report["chain"]["tasks"] == 50 and report["chain"]["seconds"] > 0
    assert report["throughput"]["tasks"] == 15
    assert [row["runners"] for row in report["scale"]["rows"]] == [1, 4]
    assert report["memory"]["engine_bytes_per_task"] > 0
    assert len(report["checks"]) == 6
