"""The engine benchmark runs, checks its flows, and reports every target."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_engine.py"


def test_engine_benchmark_runs_small_sizes_and_reports_json():
    result = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "300", "--repeat", "1", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["results"], report
    shapes = {row["shape"] for row in report["results"]}
    assert shapes == {"chain", "fanout", "layered"}
    for row in report["results"]:
        assert row["us_per_task"]["engine"] > 0
        assert set(row["round_trip"]["seconds"]) == {
            "to_flow_dict",
            "json.dumps",
            "json.loads",
            "from_flow_dict",
        }
    assert {check["target"] for check in report["checks"]} >= {
        "chain 300: engine / graphlib",
        "fanout 300: engine / graphlib",
        "layered 300: engine / graphlib",
    }
