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


def test_engine_benchmark_end_to_end_mode_times_build_and_run_with_gc_on():
    result = subprocess.run(
        [sys.executable, str(BENCH), "--end-to-end", "--sizes", "300", "--repeat", "1", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["mode"] == "end-to-end"
    assert report["gc"].startswith("enabled")
    assert {row["shape"] for row in report["results"]} == {"chain", "fanout", "layered"}
    for row in report["results"]:
        seconds = row["seconds"]
        # The parts come from the same samples as the whole.
        assert seconds["build"] + seconds["run"] <= seconds["end_to_end"] * 1.0001
        assert row["ratio"] == seconds["end_to_end"] / seconds["graphlib"]
    assert {check["target"] for check in report["checks"]} == {
        f"{shape} 300: (build + run) / graphlib, gc on" for shape in ("chain", "fanout", "layered")
    }
    assert all(check["limit"] == 2.0 for check in report["checks"])


def test_engine_benchmark_end_to_end_refuses_gc_flag():
    result = subprocess.run(
        [sys.executable, str(BENCH), "--end-to-end", "--gc", "--sizes", "300"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "--end-to-end always keeps the garbage collector on" in result.stderr
